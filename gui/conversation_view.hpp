// ConversationView: owns the message model of the conversation in view (a Gio::ListStore shown
// by a Gtk::ListView, so only visible rows have widgets), the trust banner, the typing line and
// the composer. Every action is one Messenger call.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/messenger.hpp"

namespace chinwag::gui {

// One row of the conversation: a message, or a day separator before the first message of a day.
class MessageItem : public Glib::Object {
public:
    static Glib::RefPtr<MessageItem> message(const model::Message& m);
    static Glib::RefPtr<MessageItem> separator(std::int64_t day_ms);
    bool is_separator = false;
    model::Message msg;      // for separators only timestamp_ms is set
    bool highlight = false;  // a search result jumped to this message

protected:
    MessageItem();
};

class ConversationView : public Gtk::Box {
public:
    explicit ConversationView(core::Messenger& messenger);
    ~ConversationView() override;

    // Shows the conversation with a contact; focus_seq > 0 scrolls to and highlights that message.
    void show_peer(const core::PeerView& peer, std::int64_t focus_seq = 0);
    void clear();
    const std::string& peer_id() const { return peer_.id; }
    // A message of the conversation in view (incoming, or an outgoing state change).
    void add_or_update(const model::Message& m);
    void update_peer(const core::PeerView& peer);
    void focus_composer();
    // Plain-words errors for the window's toast overlay.
    sigc::signal<void(const Glib::ustring&)>& signal_error() { return error_; }
    // The user asked to verify the peer in view (banner button).
    sigc::signal<void()>& signal_verify() { return verify_; }

private:
    void setup_row(const Glib::RefPtr<Gtk::ListItem>& item);
    void bind_row(const Glib::RefPtr<Gtk::ListItem>& item);
    void load_older();
    void append_message(const model::Message& m);
    void send_current();
    void on_buffer_changed();
    bool on_key(guint keyval, guint keycode, Gdk::ModifierType state);
    void set_chat_state(const char* state);
    void scroll_to_bottom();
    void scroll_to_position(guint position);

    core::Messenger& messenger_;
    core::PeerView peer_;
    Glib::RefPtr<Gio::ListStore<MessageItem>> store_;
    std::map<std::string, Glib::RefPtr<MessageItem>> by_id_;
    std::int64_t oldest_seq_ = 0;
    bool history_exhausted_ = false;
    bool stick_to_bottom_ = true;
    std::string sent_state_;    // last XEP-0085 state we sent to this peer
    sigc::connection pause_timer_;

    Gtk::Revealer banner_revealer_;
    Gtk::Box banner_box_{Gtk::Orientation::HORIZONTAL, 12};
    Gtk::Image banner_icon_;
    Gtk::Label banner_label_;
    Gtk::Button banner_button_;
    Gtk::ScrolledWindow scroller_;
    Gtk::ListView list_;
    Gtk::Label typing_;
    Gtk::Box composer_{Gtk::Orientation::HORIZONTAL, 6};
    Gtk::ScrolledWindow text_scroller_;
    Gtk::TextView text_;
    Gtk::Button send_button_;
    sigc::signal<void(const Glib::ustring&)> error_;
    sigc::signal<void()> verify_;
};

}  // namespace chinwag::gui
