// MainWindow: owns the two-pane layout (contacts | conversation), the contact rows, the search
// results, the notice banner and the message notifications of the conversations not in view.
#pragma once

#include <map>
#include <string>

#include "core/messenger.hpp"
#include "gui/conversation_view.hpp"

namespace chinwag::gui {

class ContactRow;

class MainWindow : public Gtk::ApplicationWindow {
public:
    MainWindow(Gtk::Application& app, core::Messenger& messenger, Glib::RefPtr<Gio::Settings> view_settings);
    ~MainWindow() override;

    // Connects to the Messenger's signals and fills the contact list; call before Messenger::start().
    void attach();
    // navigate: bring the conversation into view (on a folded window, instead of the contact list).
    void open_conversation(const std::string& contact_id, std::int64_t focus_seq = 0, bool navigate = true);
    void show_toast(const Glib::ustring& text);
    void show_notice(const Glib::ustring& text, bool error);
    void hide_notice();
    // Re-reads Settings-dependent view state (legacy filter) after the preferences changed.
    void settings_changed();
    // Writes the window size and maximized state to GSettings (on close and on quit).
    void save_state();

private:
    Gtk::Widget& build_sidebar();
    Gtk::Widget& build_content();
    void add_actions();
    void on_peer_changed(const core::PeerView& p);
    void on_message(const model::Message& m);
    void on_message_state(const model::Message& m);
    void on_warning(const core::Warning& w);
    void on_notice(const core::Notice& n);
    void on_row_activated(Gtk::ListBoxRow* row);
    void select_relative(int delta);
    // Shows or hides a contact row by the legacy-peers setting.
    void apply_filter(ContactRow& row);
    void run_search();
    void update_self();
    void update_header();
    void update_title_buttons();
    bool conversation_in_view(const std::string& contact_id) const;
    void read_conversation(const std::string& contact_id);
    void show_verification();
    bool on_close();

    // Not get_application(): a hidden window is no longer the application's, yet it still
    // raises and withdraws notifications.
    Gtk::Application& app_;
    core::Messenger& messenger_;
    Glib::RefPtr<Gio::Settings> view_settings_;
    std::map<std::string, ContactRow*> rows_;      // owned by contacts_
    std::map<std::string, int> notified_;          // contact id -> messages in its notification
    bool updating_self_ = false;
    // What the banner shows: a Notice::kind, "warning", or empty (any other text, or hidden).
    std::string notice_kind_;

    GtkWidget* toasts_ = nullptr;     // AdwToastOverlay, child of this window
    GtkWidget* leaflet_ = nullptr;    // AdwLeaflet
    GtkWidget* title_ = nullptr;      // AdwWindowTitle of the conversation pane
    GtkWidget* self_avatar_ = nullptr;
    Gtk::InfoBar notice_;
    Gtk::Label notice_label_;
    Gtk::Box sidebar_{Gtk::Orientation::VERTICAL};
    Gtk::Box content_{Gtk::Orientation::VERTICAL};
    Gtk::HeaderBar sidebar_header_;
    Gtk::HeaderBar content_header_;
    Gtk::DropDown presence_;
    Gtk::EditableLabel status_message_;
    Gtk::Label self_name_;
    Gtk::ToggleButton search_button_;
    Gtk::MenuButton menu_button_;
    Gtk::Button back_button_;
    Gtk::Button verify_button_;
    Gtk::SearchBar search_bar_;
    Gtk::SearchEntry search_entry_;
    Gtk::Stack sidebar_stack_;
    Gtk::ScrolledWindow contacts_scroller_;
    Gtk::ListBox contacts_;
    Gtk::ScrolledWindow results_scroller_;
    Gtk::ListBox results_;
    Gtk::Stack content_stack_;
    ConversationView conversation_;
};

}  // namespace chinwag::gui
