#include "gui/conversation_view.hpp"

#include "gui/c_signal.hpp"
#include "gui/view_text.hpp"
#include "util/clock.hpp"

namespace chinwag::gui {

namespace {

constexpr int kPage = 200;            // messages loaded at once; older ones when scrolled to the top
constexpr int kPausedAfterMs = 5000;  // XEP-0085 §5.2: "paused" after a few seconds without typing

// The widgets of one row, created once per visible row and rebound as the list scrolls.
class MessageRow : public Gtk::Box {
public:
    MessageRow() : Gtk::Box(Gtk::Orientation::VERTICAL)
    {
        add_css_class("message-row");
        separator.add_css_class("day-separator");
        separator.set_halign(Gtk::Align::CENTER);
        append(separator);
        bubble.add_css_class("bubble");
        bubble.set_margin_start(12);
        bubble.set_margin_end(12);
        bubble.set_margin_top(3);
        bubble.set_margin_bottom(3);
        body.set_wrap(true);
        body.set_wrap_mode(Pango::WrapMode::WORD_CHAR);
        body.set_xalign(0);
        body.set_selectable(true);
        body.set_max_width_chars(60);
        meta.add_css_class("meta");
        meta.set_xalign(1);
        // A failure reason can be long (the peer's own words): wrap it, or its one-line width
        // becomes the pane's minimum and the window folds to one pane.
        meta.set_wrap(true);
        meta.set_wrap_mode(Pango::WrapMode::WORD_CHAR);
        meta.set_max_width_chars(60);
        bubble.append(body);
        bubble.append(meta);
        append(bubble);
    }
    Gtk::Label separator;
    Gtk::Box bubble{Gtk::Orientation::VERTICAL, 2};
    Gtk::Label body;
    Gtk::Label meta;
};

}  // namespace

MessageItem::MessageItem() : Glib::ObjectBase(typeid(MessageItem)) {}

Glib::RefPtr<MessageItem> MessageItem::message(const model::Message& m)
{
    auto item = Glib::make_refptr_for_instance<MessageItem>(new MessageItem());
    item->msg = m;
    return item;
}

Glib::RefPtr<MessageItem> MessageItem::separator(std::int64_t day_ms)
{
    auto item = Glib::make_refptr_for_instance<MessageItem>(new MessageItem());
    item->is_separator = true;
    item->msg.timestamp_ms = day_ms;
    return item;
}

ConversationView::ConversationView(core::Messenger& messenger)
    : Gtk::Box(Gtk::Orientation::VERTICAL), messenger_(messenger), store_(Gio::ListStore<MessageItem>::create())
{
    banner_icon_.set_valign(Gtk::Align::START);
    banner_label_.set_wrap(true);
    banner_label_.set_xalign(0);
    banner_label_.set_hexpand(true);
    banner_button_.set_label(_("Verify…"));
    banner_button_.set_valign(Gtk::Align::CENTER);
    banner_button_.signal_clicked().connect([this] { verify_.emit(); });
    banner_box_.add_css_class("trust-banner");
    banner_box_.append(banner_icon_);
    banner_box_.append(banner_label_);
    banner_box_.append(banner_button_);
    banner_revealer_.set_child(banner_box_);
    append(banner_revealer_);

    auto factory = Gtk::SignalListItemFactory::create();
    factory->signal_setup().connect(sigc::mem_fun(*this, &ConversationView::setup_row));
    factory->signal_bind().connect(sigc::mem_fun(*this, &ConversationView::bind_row));
    list_.set_factory(factory);
    list_.set_model(Gtk::NoSelection::create(store_));
    list_.add_css_class("conversation");
    scroller_.set_child(list_);
    scroller_.set_vexpand(true);
    scroller_.set_policy(Gtk::PolicyType::NEVER, Gtk::PolicyType::AUTOMATIC);
    set_accessible_label(list_, _("Messages"));
    auto adj = scroller_.get_vadjustment();
    adj->signal_value_changed().connect([this, adj] {
        stick_to_bottom_ = adj->get_value() + adj->get_page_size() >= adj->get_upper() - 4;
        if (adj->get_value() <= 0 && adj->get_upper() > adj->get_page_size())
            load_older();
    });
    // New rows change the range; keep the newest message in view while the user is at the bottom.
    adj->signal_changed().connect([this] {
        if (stick_to_bottom_)
            scroll_to_bottom();
    });
    append(scroller_);

    typing_.add_css_class("typing");
    typing_.set_xalign(0);
    append(typing_);

    text_.set_wrap_mode(Gtk::WrapMode::WORD_CHAR);
    text_.set_accepts_tab(false);
    text_.set_top_margin(6);
    text_.set_bottom_margin(6);
    text_.set_left_margin(8);
    text_.set_right_margin(8);
    set_accessible_label(text_, _("Message"));
    text_scroller_.set_child(text_);
    text_scroller_.set_hexpand(true);
    text_scroller_.set_propagate_natural_height(true);
    text_scroller_.set_max_content_height(160);
    text_scroller_.set_policy(Gtk::PolicyType::NEVER, Gtk::PolicyType::AUTOMATIC);
    text_scroller_.add_css_class("card");
    auto keys = Gtk::EventControllerKey::create();
    keys->set_propagation_phase(Gtk::PropagationPhase::CAPTURE);
    keys->signal_key_pressed().connect(sigc::mem_fun(*this, &ConversationView::on_key), false);
    text_.add_controller(keys);
    text_.get_buffer()->signal_changed().connect(sigc::mem_fun(*this, &ConversationView::on_buffer_changed));

    send_button_.set_icon_name("mail-send-symbolic");
    send_button_.add_css_class("circular");
    send_button_.add_css_class("suggested-action");
    send_button_.set_valign(Gtk::Align::END);
    send_button_.set_tooltip_text(_("Send message"));
    set_accessible_label(send_button_, _("Send message"));
    send_button_.signal_clicked().connect(sigc::mem_fun(*this, &ConversationView::send_current));
    composer_.add_css_class("composer");
    composer_.append(text_scroller_);
    composer_.append(send_button_);
    append(composer_);
}

ConversationView::~ConversationView()
{
    pause_timer_.disconnect();
}

void ConversationView::setup_row(const Glib::RefPtr<Gtk::ListItem>& item)
{
    item->set_child(*Gtk::make_managed<MessageRow>());
    item->set_activatable(false);
}

void ConversationView::bind_row(const Glib::RefPtr<Gtk::ListItem>& list_item)
{
    auto* row = dynamic_cast<MessageRow*>(list_item->get_child());
    auto item = std::dynamic_pointer_cast<MessageItem>(list_item->get_item());
    if (!row || !item)
        return;
    row->separator.set_visible(item->is_separator);
    row->bubble.set_visible(!item->is_separator);
    if (item->is_separator) {
        row->separator.set_label(day_label(item->msg.timestamp_ms, now_ms()));
        return;
    }
    const auto& m = item->msg;
    const bool out = m.direction == model::Direction::Outgoing;
    row->body.set_label(wrappable(m.body));
    std::string meta = time_label(m.timestamp_ms);
    if (out)
        meta += " · " + state_label(m.state, m.failure_reason);
    row->meta.set_label(meta);
    row->bubble.set_halign(out ? Gtk::Align::END : Gtk::Align::START);
    for (const char* c : {"incoming", "outgoing", "failed"})
        row->bubble.remove_css_class(c);
    row->bubble.add_css_class(out ? "outgoing" : "incoming");
    if (out && m.state == model::MessageState::Failed)
        row->bubble.add_css_class("failed");
    if (item->highlight)
        row->add_css_class("highlight");
    else
        row->remove_css_class("highlight");
}

void ConversationView::show_peer(const core::PeerView& peer, std::int64_t focus_seq)
{
    if (peer.id != peer_.id) {
        if (!sent_state_.empty() && sent_state_ != "active")
            set_chat_state("active");
        text_.get_buffer()->set_text("");
        sent_state_.clear();
    }
    peer_ = peer;
    store_->remove_all();
    by_id_.clear();
    oldest_seq_ = 0;
    history_exhausted_ = false;
    stick_to_bottom_ = true;
    auto history = messenger_.history(peer.id, kPage);
    if (!history) {
        error_.emit(history.error().message);
    } else {
        for (const auto& m : *history)
            append_message(m);
        if (!history->empty())
            oldest_seq_ = history->front().seq;
        history_exhausted_ = static_cast<int>(history->size()) < kPage;
    }
    // A search hit older than the first page: page back until it is loaded (bounded).
    for (int pages = 0; focus_seq > 0 && focus_seq < oldest_seq_ && !history_exhausted_ && pages < 50; ++pages)
        load_older();
    update_peer(peer);
    if (focus_seq > 0) {
        for (guint i = 0; i < store_->get_n_items(); ++i) {
            auto item = store_->get_item(i);
            if (!item->is_separator && item->msg.seq == focus_seq) {
                item->highlight = true;
                stick_to_bottom_ = false;
                scroll_to_position(i);
                break;
            }
        }
    }
    if (stick_to_bottom_)
        Glib::signal_idle().connect_once([this] { scroll_to_bottom(); });
}

void ConversationView::clear()
{
    peer_ = core::PeerView{};
    store_->remove_all();
    by_id_.clear();
    banner_revealer_.set_reveal_child(false);
    typing_.set_label("");
}

void ConversationView::append_message(const model::Message& m)
{
    guint n = store_->get_n_items();
    if (n == 0 || !same_day(store_->get_item(n - 1)->msg.timestamp_ms, m.timestamp_ms))
        store_->append(MessageItem::separator(m.timestamp_ms));
    auto item = MessageItem::message(m);
    by_id_[m.id] = item;
    store_->append(item);
}

void ConversationView::load_older()
{
    if (history_exhausted_ || peer_.id.empty() || oldest_seq_ <= 0)
        return;
    auto older = messenger_.history(peer_.id, kPage, oldest_seq_);
    if (!older || older->empty()) {
        history_exhausted_ = true;
        return;
    }
    history_exhausted_ = static_cast<int>(older->size()) < kPage;
    oldest_seq_ = older->front().seq;
    // The first item of the store is the separator of the old first day: rebuild the head.
    std::vector<Glib::RefPtr<MessageItem>> head;
    std::int64_t last_day = 0;
    bool have_day = false;
    for (const auto& m : *older) {
        if (!have_day || !same_day(last_day, m.timestamp_ms))
            head.push_back(MessageItem::separator(m.timestamp_ms));
        last_day = m.timestamp_ms;
        have_day = true;
        auto item = MessageItem::message(m);
        by_id_[m.id] = item;
        head.push_back(item);
    }
    guint remove = 0;
    if (store_->get_n_items() > 1 && store_->get_item(0)->is_separator &&
        same_day(store_->get_item(1)->msg.timestamp_ms, last_day))
        remove = 1;
    store_->splice(0, remove, head);
}

void ConversationView::add_or_update(const model::Message& m)
{
    if (m.contact_id != peer_.id)
        return;
    auto it = by_id_.find(m.id);
    if (it == by_id_.end()) {
        append_message(m);
        return;
    }
    auto item = it->second;
    item->msg.state = m.state;
    item->msg.failure_reason = m.failure_reason;
    if (m.seq)
        item->msg.seq = m.seq;
    // Replacing the item with itself makes the ListView rebind just that row.
    auto found = store_->find(item);
    if (found.first)
        store_->splice(found.second, 1, std::vector<Glib::RefPtr<MessageItem>>{item});
}

void ConversationView::update_peer(const core::PeerView& peer)
{
    if (peer.id != peer_.id)
        return;
    peer_ = peer;
    const std::string name = display_name(peer);
    std::string banner = trust_banner(peer.trust, name);
    for (const char* c : {"dim-label", "warning", "error", "success"})
        banner_box_.remove_css_class(c);
    if (!banner.empty()) {
        banner_box_.add_css_class(trust_css(peer.trust));
        banner_icon_.set_from_icon_name(trust_icon(peer.trust));
        banner_label_.set_label(banner);
        banner_button_.set_visible(peer.trust == model::Trust::Pinned || peer.trust == model::Trust::Unknown);
    }
    if (banner.empty())
        banner_label_.set_label("");  // a hidden banner keeps no stale words for screen readers
    banner_revealer_.set_reveal_child(!banner.empty());
    typing_.set_label(typing_text(name, peer.chat_state));
    const bool can_write = peer.trust != model::Trust::Impostor;
    text_.set_sensitive(can_write);
    send_button_.set_sensitive(can_write);
}

void ConversationView::focus_composer()
{
    text_.grab_focus();
}

bool ConversationView::on_key(guint keyval, guint, Gdk::ModifierType state)
{
    if (keyval != GDK_KEY_Return && keyval != GDK_KEY_KP_Enter)
        return false;
    // Shift+Enter (and Ctrl+Enter) make a new line; Enter alone sends.
    if ((state & (Gdk::ModifierType::SHIFT_MASK | Gdk::ModifierType::CONTROL_MASK)) != Gdk::ModifierType{})
        return false;
    send_current();
    return true;
}

void ConversationView::send_current()
{
    if (peer_.id.empty())
        return;
    auto buffer = text_.get_buffer();
    std::string body = buffer->get_text();
    if (Glib::ustring(body).find_first_not_of(" \t\n\r") == Glib::ustring::npos)
        return;
    auto sent = messenger_.send(peer_.id, body);
    if (!sent) {
        error_.emit(sent.error().message);
        return;
    }
    pause_timer_.disconnect();
    sent_state_ = "active";  // XEP-0085 §5.1: a message implies "active"
    buffer->set_text("");
    stick_to_bottom_ = true;
    add_or_update(*sent);
}

void ConversationView::on_buffer_changed()
{
    if (peer_.id.empty() || !peer_.online || peer_.trust == model::Trust::Impostor)
        return;
    const bool empty = text_.get_buffer()->size() == 0;
    pause_timer_.disconnect();
    if (empty) {
        if (sent_state_ == "composing" || sent_state_ == "paused")
            set_chat_state("active");
        return;
    }
    if (sent_state_ != "composing")
        set_chat_state("composing");
    pause_timer_ = Glib::signal_timeout().connect(
        [this] {
            set_chat_state("paused");
            return false;
        },
        kPausedAfterMs);
}

void ConversationView::set_chat_state(const char* state)
{
    if (peer_.id.empty())
        return;
    sent_state_ = state;
    // Best effort: a chat state to a peer that is not connected is simply not sent.
    (void)messenger_.send_chat_state(peer_.id, state);
}

void ConversationView::scroll_to_bottom()
{
    auto adj = scroller_.get_vadjustment();
    adj->set_value(adj->get_upper() - adj->get_page_size());
}

void ConversationView::scroll_to_position(guint position)
{
    // GTK 4.8's ListView has no scroll_to(): estimate from the position once rows are measured.
    Glib::signal_idle().connect_once([this, position] {
        auto adj = scroller_.get_vadjustment();
        guint n = store_->get_n_items();
        if (n == 0)
            return;
        double fraction = static_cast<double>(position) / n;
        adj->set_value(fraction * adj->get_upper() - adj->get_page_size() / 3);
    });
}

}  // namespace chinwag::gui
