// The secondary windows of the desktop app: welcome, error page, identity verification,
// preferences, about and keyboard shortcuts. Each function builds a window that GTK owns.
#pragma once

#include <functional>
#include <string>

#include "core/messenger.hpp"

namespace chinwag::gui {

// First run: proposes `default_nick`; `done(nick)` is called when the user confirms.
Gtk::Window* welcome_window(Gtk::Application& app, const std::string& default_nick,
                            std::function<void(const std::string&, Gtk::Window*)> done);

// A window that explains a failure in plain words; `retry` is offered when set.
Gtk::Window* error_window(Gtk::Application& app, const Glib::ustring& title, const Glib::ustring& text,
                          std::function<void()> retry);

// Both fingerprints and the safety number, with "Mark as Verified". Errors go to `error`.
Gtk::Window* verification_dialog(Gtk::Window& parent, core::Messenger& messenger, const std::string& peer_id,
                                 std::function<void(const Glib::ustring&)> error);

// Nickname, published fields, legacy peers, notifications (core Settings) and appearance.
// `changed` runs after each successful update.
GtkWidget* preferences_window(Gtk::Window* parent, core::Messenger& messenger, Gio::ActionMap& app_actions,
                              const Glib::ustring& color_scheme, std::function<void()> changed,
                              std::function<void(const Glib::ustring&)> error);

GtkWidget* about_window(Gtk::Window* parent);
Gtk::Window* shortcuts_window(Gtk::Window* parent);

}  // namespace chinwag::gui
