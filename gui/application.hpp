// Application: owns the profile, the Messenger and the windows of one desktop session, and the
// app-wide actions (quit, about, preferences, shortcuts, open-conversation, color-scheme).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/messenger.hpp"
#include "core/profile.hpp"

namespace chinwag::gui {

class MainWindow;

class Application : public Gtk::Application {
public:
    static Glib::RefPtr<Application> create();
    ~Application() override;

    // The command line options, registered with GApplication and described by help_text().
    struct CommandLineOption {
        Gio::Application::OptionType type;
        const char* name;
        Glib::ustring description;
        Glib::ustring arg_description;
    };
    static std::vector<CommandLineOption> command_line_options();
    // What --help prints; needs no display, so main() answers --help before GTK starts.
    static std::string help_text();

    // GSettings for window state; null when the schema is not installed (running uninstalled).
    Glib::RefPtr<Gio::Settings> view_settings() const { return settings_; }

protected:
    Application();
    void on_startup() override;
    void on_activate() override;

private:
    int on_handle_local_options(const Glib::RefPtr<Glib::VariantDict>& options);
    void open_profile();
    void show_welcome();
    void finish_welcome(const std::string& nick, Gtk::Window* welcome);
    void start_messenger();
    void show_error(const Glib::ustring& title, const Glib::ustring& text, bool can_retry);
    void on_open_conversation(const Glib::VariantBase& parameter);
    void on_color_scheme(const Glib::ustring& scheme);
    void apply_color_scheme(const Glib::ustring& scheme);
    void show_about();
    void show_preferences();
    void show_shortcuts();
    // Shows the main window again after it was closed to the background.
    void show_main_window();
    void quit_app();
    void install_css();
    // Adds a window to the application and deletes it when it is hidden.
    template <class W>
    W* own_window(W* window);

    std::optional<std::string> profile_dir_;
    std::optional<std::string> instance_;
    std::unique_ptr<core::Profile> profile_;
    std::unique_ptr<core::Messenger> messenger_;
    // Lives as long as the Messenger: closing it only hides it, and the application is held
    // so messages still arrive and raise notifications (issue 3, "unobtrusive when idle").
    MainWindow* main_window_ = nullptr;
    bool held_ = false;
    Gtk::Window* pending_window_ = nullptr;  // welcome or error window while no main window
    Glib::RefPtr<Gio::Settings> settings_;
    Glib::RefPtr<Gio::SimpleAction> color_scheme_action_;
    std::string pending_conversation_;     // asked for before the main window existed
};

}  // namespace chinwag::gui
