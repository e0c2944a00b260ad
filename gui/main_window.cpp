#include "gui/main_window.hpp"

#include "gui/c_signal.hpp"
#include "gui/dialogs.hpp"
#include "gui/view_text.hpp"

namespace chinwag::gui {

// ContactRow: owns the widgets of one contact in the sidebar and the last PeerView shown.
class ContactRow : public Gtk::ListBoxRow {
public:
    ContactRow()
    {
        box_.set_margin_top(6);
        box_.set_margin_bottom(6);
        box_.set_margin_start(6);
        box_.set_margin_end(6);
        avatar_ = adw_avatar_new(36, "", TRUE);
        box_.append(*managed(avatar_));
        name_.set_xalign(0);
        name_.set_ellipsize(Pango::EllipsizeMode::END);
        name_.add_css_class("heading");
        subtitle_.set_xalign(0);
        subtitle_.set_ellipsize(Pango::EllipsizeMode::END);
        subtitle_.add_css_class("dim-label");
        subtitle_.add_css_class("caption");
        auto* top = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::HORIZONTAL, 6);
        top->append(presence_);
        top->append(name_);
        texts_.append(*top);
        texts_.append(subtitle_);
        texts_.set_hexpand(true);
        texts_.set_valign(Gtk::Align::CENTER);
        box_.append(texts_);
        badge_.add_css_class("trust-badge");
        badge_.set_valign(Gtk::Align::CENTER);
        badge_.append(badge_icon_);
        badge_.append(badge_label_);
        box_.append(badge_);
        unread_.add_css_class("unread-badge");
        unread_.set_valign(Gtk::Align::CENTER);
        box_.append(unread_);
        set_child(box_);
    }

    void show(const core::PeerView& p)
    {
        view = p;
        const std::string name = display_name(p);
        adw_avatar_set_text(ADW_AVATAR(avatar_), name.c_str());
        name_.set_label(name);
        std::string sub = p.online ? status_label(p.status) : std::string(_("Offline"));
        if (!p.message.empty())
            sub += " — " + p.message;
        if (!p.chat_state.empty() && p.chat_state == "composing")
            sub = typing_text(name, p.chat_state);
        subtitle_.set_label(sub);
        const char* icon = "user-offline-symbolic";
        if (p.online)
            icon = p.status == model::Status::Available ? "user-available-symbolic"
                   : p.status == model::Status::Away   ? "user-away-symbolic"
                                                       : "user-busy-symbolic";
        presence_.set_from_icon_name(icon);
        for (const char* c : {"dim-label", "warning", "error", "success"})
            badge_.remove_css_class(c);
        badge_.add_css_class(trust_css(p.trust));
        badge_icon_.set_from_icon_name(trust_icon(p.trust));
        badge_label_.set_label(trust_label(p.trust));
        badge_.set_tooltip_text(trust_label(p.trust));
        const std::string who = published_identity(p);
        // Only a peer that publishes a name or e-mail gets a tooltip (an empty one would still show).
        gtk_widget_set_tooltip_text(GTK_WIDGET(name_.gobj()), who.empty() ? nullptr : who.c_str());
        unread_.set_label(std::to_string(p.unread));
        unread_.set_visible(p.unread > 0);
        set_accessible_label(*this, contact_summary(p));
        changed();
    }

    core::PeerView view;

private:
    Gtk::Box box_{Gtk::Orientation::HORIZONTAL, 10};
    GtkWidget* avatar_ = nullptr;
    Gtk::Box texts_{Gtk::Orientation::VERTICAL, 2};
    Gtk::Image presence_;
    Gtk::Label name_;
    Gtk::Label subtitle_;
    Gtk::Box badge_{Gtk::Orientation::HORIZONTAL, 3};
    Gtk::Image badge_icon_;
    Gtk::Label badge_label_;
    Gtk::Label unread_;
};

namespace {

// A search hit in the sidebar.
class ResultRow : public Gtk::ListBoxRow {
public:
    ResultRow(const model::Message& m, const std::string& name) : message(m)
    {
        auto* box = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::VERTICAL, 2);
        box->set_margin_top(6);
        box->set_margin_bottom(6);
        box->set_margin_start(12);
        box->set_margin_end(12);
        auto* head = Gtk::make_managed<Gtk::Label>(name + " · " + day_label(m.timestamp_ms, now()) + " " +
                                                  time_label(m.timestamp_ms));
        head->set_xalign(0);
        head->add_css_class("caption-heading");
        auto* body = Gtk::make_managed<Gtk::Label>(wrappable(m.body));
        body->set_xalign(0);
        body->set_ellipsize(Pango::EllipsizeMode::END);
        body->set_lines(2);
        box->append(*head);
        box->append(*body);
        set_child(*box);
    }
    model::Message message;

private:
    static std::int64_t now() { return g_get_real_time() / 1000; }
};

int sort_rows(Gtk::ListBoxRow* a, Gtk::ListBoxRow* b)
{
    auto* ra = dynamic_cast<ContactRow*>(a);
    auto* rb = dynamic_cast<ContactRow*>(b);
    if (!ra || !rb)
        return 0;
    if (ra->view.online != rb->view.online)
        return ra->view.online ? -1 : 1;
    auto na = Glib::ustring(display_name(ra->view)).casefold();
    auto nb = Glib::ustring(display_name(rb->view)).casefold();
    if (na != nb)
        return na < nb ? -1 : 1;
    return ra->view.id < rb->view.id ? -1 : 1;
}

}  // namespace

MainWindow::MainWindow(Gtk::Application& app, core::Messenger& messenger, Glib::RefPtr<Gio::Settings> view_settings)
    : app_(app), messenger_(messenger), view_settings_(std::move(view_settings)), conversation_(messenger)
{
    gtk_window_set_application(GTK_WINDOW(gobj()), app.gobj());
    set_title(_("Chinwag"));
    set_icon_name(CHINWAG_APP_ID);
    // No window title bar: each pane has its own header bar (as AdwApplicationWindow does).
    auto* no_titlebar = Gtk::make_managed<Gtk::Box>();
    no_titlebar->set_visible(false);
    set_titlebar(*no_titlebar);
    int width = 960, height = 640;
    if (view_settings_) {
        width = view_settings_->get_int("window-width");
        height = view_settings_->get_int("window-height");
        if (view_settings_->get_boolean("window-maximized"))
            maximize();
    }
    set_default_size(width, height);
    set_size_request(360, 360);

    leaflet_ = adw_leaflet_new();
    adw_leaflet_set_can_navigate_back(ADW_LEAFLET(leaflet_), TRUE);
    adw_leaflet_set_transition_type(ADW_LEAFLET(leaflet_), ADW_LEAFLET_TRANSITION_TYPE_UNDER);
    adw_leaflet_append(ADW_LEAFLET(leaflet_), build_sidebar().gobj());
    AdwLeafletPage* sep = adw_leaflet_append(ADW_LEAFLET(leaflet_), gtk_separator_new(GTK_ORIENTATION_VERTICAL));
    adw_leaflet_page_set_navigatable(sep, FALSE);
    adw_leaflet_append(ADW_LEAFLET(leaflet_), build_content().gobj());
    on_notify(leaflet_, "folded", [this] { update_title_buttons(); });
    // Folded, the conversation comes into view when the leaflet shows it (Back and forth, swipes).
    on_notify(leaflet_, "visible-child", [this] {
        if (!conversation_.peer_id().empty() && conversation_in_view(conversation_.peer_id()))
            read_conversation(conversation_.peer_id());
    });
    sidebar_header_.set_show_title_buttons(false);
    // GTK 4.8: after the window was hidden and shown again, the title buttons stay insensitive
    // (their window.* actions are not found again), so the window could not be closed twice.
    // Building them anew on each show fixes that.
    signal_show().connect([this] {
        content_header_.set_show_title_buttons(false);
        sidebar_header_.set_show_title_buttons(false);
        update_title_buttons();
    });

    notice_label_.set_wrap(true);
    notice_label_.set_xalign(0);
    notice_label_.set_hexpand(true);
    notice_.add_child(notice_label_);
    // Our own close button: GtkInfoBar's built-in one has no accessible name in GTK 4.8.
    auto* dismiss = Gtk::make_managed<Gtk::Button>();
    dismiss->set_icon_name("window-close-symbolic");
    dismiss->add_css_class("flat");
    dismiss->set_tooltip_text(_("Dismiss"));
    set_accessible_label(*dismiss, _("Dismiss"));
    notice_.add_action_widget(*dismiss, Gtk::ResponseType::CLOSE);
    notice_.set_revealed(false);
    notice_.signal_response().connect([this](int) { hide_notice(); });

    auto* outer = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::VERTICAL);
    outer->append(notice_);
    Gtk::Widget* leaflet = managed(leaflet_);
    leaflet->set_vexpand(true);
    outer->append(*leaflet);
    toasts_ = adw_toast_overlay_new();
    adw_toast_overlay_set_child(ADW_TOAST_OVERLAY(toasts_), GTK_WIDGET(outer->gobj()));
    set_child(*managed(toasts_));

    add_actions();
    signal_close_request().connect(sigc::mem_fun(*this, &MainWindow::on_close), false);
    property_is_active().signal_changed().connect([this] {
        if (is_active() && !conversation_.peer_id().empty())
            read_conversation(conversation_.peer_id());
    });
}

MainWindow::~MainWindow() = default;

void MainWindow::update_title_buttons()
{
    bool folded = adw_leaflet_get_folded(ADW_LEAFLET(leaflet_));
    back_button_.set_visible(folded);
    content_header_.set_show_title_buttons(true);
    sidebar_header_.set_show_title_buttons(folded);
}

Gtk::Widget& MainWindow::build_sidebar()
{
    auto* title = Gtk::make_managed<Gtk::Label>(_("Chinwag"));
    title->add_css_class("title");
    // Folded, this header also holds the title buttons: the title gives way first, so that the
    // window fits a 360 px phone-sized width.
    title->set_ellipsize(Pango::EllipsizeMode::END);
    title->set_width_chars(3);
    sidebar_header_.set_title_widget(*title);

    // Own presence, editable in place.
    auto statuses = Gtk::StringList::create({status_label(model::Status::Available),
                                             status_label(model::Status::Away), status_label(model::Status::Busy)});
    presence_.set_model(statuses);
    presence_.set_tooltip_text(_("Your presence"));
    set_accessible_label(presence_, _("Your presence"));
    // The drop-down's button is what screen readers land on; GTK 4.8 leaves it unnamed.
    if (auto* button = presence_.get_first_child())
        set_accessible_label(*button, _("Your presence"));
    presence_.property_selected().signal_changed().connect([this] {
        if (updating_self_)
            return;
        auto status = static_cast<model::Status>(presence_.get_selected());
        if (auto r = messenger_.set_status(status, messenger_.self().message); !r)
            show_toast(error_text(r.error()));
    });
    sidebar_header_.pack_start(presence_);

    search_button_.set_icon_name("system-search-symbolic");
    search_button_.set_tooltip_text(_("Search messages"));
    set_accessible_label(search_button_, _("Search messages"));
    sidebar_header_.pack_end(menu_button_);
    sidebar_header_.pack_end(search_button_);

    auto menu = Gio::Menu::create();
    auto section = Gio::Menu::create();
    section->append(_("_Preferences"), "app.preferences");
    section->append(_("_Keyboard Shortcuts"), "app.shortcuts");
    section->append(_("_About Chinwag"), "app.about");
    menu->append_section(section);
    auto quit = Gio::Menu::create();
    quit->append(_("_Quit"), "app.quit");
    menu->append_section(quit);
    menu_button_.set_menu_model(menu);
    menu_button_.set_icon_name("open-menu-symbolic");
    menu_button_.set_tooltip_text(_("Main menu"));
    set_accessible_label(menu_button_, _("Main menu"));
    menu_button_.set_primary(true);

    sidebar_.append(sidebar_header_);

    auto* self_box = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::HORIZONTAL, 10);
    self_box->add_css_class("self-box");
    self_avatar_ = adw_avatar_new(32, "", TRUE);
    self_box->append(*managed(self_avatar_));
    auto* self_texts = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::VERTICAL);
    self_name_.set_xalign(0);
    self_name_.set_ellipsize(Pango::EllipsizeMode::END);
    self_name_.add_css_class("heading");
    status_message_.set_tooltip_text(_("Click to set a status message"));
    set_accessible_label(status_message_, _("Status message"));
    status_message_.property_editing().signal_changed().connect([this] {
        if (status_message_.get_editing() || updating_self_)
            return;
        std::string text = status_message_.get_text();
        if (text == _("Set a status message"))
            text.clear();
        if (text == messenger_.self().message)
            return;
        if (auto r = messenger_.set_status(messenger_.self().status, text); !r)
            show_toast(error_text(r.error()));
        update_self();
    });
    self_texts->append(self_name_);
    self_texts->append(status_message_);
    self_texts->set_hexpand(true);
    self_box->append(*self_texts);
    sidebar_.append(*self_box);

    g_object_set(search_entry_.gobj(), "placeholder-text", _("Search messages"), nullptr);
    set_accessible_label(search_entry_, _("Search messages"));
    search_entry_.set_hexpand(true);
    search_bar_.set_child(search_entry_);
    search_bar_.connect_entry(search_entry_);
    search_bar_.set_key_capture_widget(*this);
    search_bar_.property_search_mode_enabled().signal_changed().connect([this] {
        bool on = search_bar_.get_search_mode();
        search_button_.set_active(on);
        sidebar_stack_.set_visible_child(on && !search_entry_.get_text().empty() ? "results" : "contacts");
    });
    search_button_.property_active().signal_changed().connect(
        [this] { search_bar_.set_search_mode(search_button_.get_active()); });
    search_entry_.signal_search_changed().connect(sigc::mem_fun(*this, &MainWindow::run_search));
    search_entry_.signal_stop_search().connect([this] { search_bar_.set_search_mode(false); });
    sidebar_.append(search_bar_);

    contacts_.add_css_class("navigation-sidebar");
    contacts_.set_sort_func(&sort_rows);
    contacts_.set_header_func([](Gtk::ListBoxRow* row, Gtk::ListBoxRow* before) {
        auto* r = dynamic_cast<ContactRow*>(row);
        auto* b = dynamic_cast<ContactRow*>(before);
        if (!r)
            return;
        if (b && b->view.online == r->view.online) {
            row->unset_header();
            return;
        }
        auto* header = Gtk::make_managed<Gtk::Label>(r->view.online ? _("Nearby") : _("Offline"));
        header->set_xalign(0);
        header->add_css_class("heading");
        header->add_css_class("dim-label");
        header->set_margin_start(12);
        header->set_margin_top(12);
        header->set_margin_bottom(6);
        row->set_header(*header);
    });
    contacts_.signal_row_activated().connect(sigc::mem_fun(*this, &MainWindow::on_row_activated));
    set_accessible_label(contacts_, _("Contacts"));
    auto* empty = Gtk::make_managed<Gtk::Label>(_("Nobody else is on this network yet. People running Chinwag or "
                                                 "another Bonjour messenger appear here by themselves."));
    empty->set_wrap(true);
    empty->set_margin_top(24);
    empty->set_margin_start(18);
    empty->set_margin_end(18);
    empty->add_css_class("dim-label");
    contacts_.set_placeholder(*empty);
    contacts_scroller_.set_child(contacts_);
    contacts_scroller_.set_policy(Gtk::PolicyType::NEVER, Gtk::PolicyType::AUTOMATIC);

    results_.add_css_class("navigation-sidebar");
    set_accessible_label(results_, _("Search results"));
    auto* none = Gtk::make_managed<Gtk::Label>(_("No messages found"));
    none->set_margin_top(24);
    none->add_css_class("dim-label");
    results_.set_placeholder(*none);
    results_.signal_row_activated().connect([this](Gtk::ListBoxRow* row) {
        if (auto* r = dynamic_cast<ResultRow*>(row)) {
            auto message = r->message;
            search_bar_.set_search_mode(false);
            open_conversation(message.contact_id, message.seq);
        }
    });
    results_scroller_.set_child(results_);
    results_scroller_.set_policy(Gtk::PolicyType::NEVER, Gtk::PolicyType::AUTOMATIC);

    sidebar_stack_.add(contacts_scroller_, "contacts");
    sidebar_stack_.add(results_scroller_, "results");
    sidebar_stack_.set_vexpand(true);
    sidebar_.append(sidebar_stack_);
    sidebar_.set_size_request(300, -1);
    return sidebar_;
}

Gtk::Widget& MainWindow::build_content()
{
    title_ = adw_window_title_new(_("Chinwag"), "");
    content_header_.set_title_widget(*managed(title_));
    back_button_.set_icon_name("go-previous-symbolic");
    back_button_.set_tooltip_text(_("Back to contacts"));
    set_accessible_label(back_button_, _("Back"));
    back_button_.set_visible(false);
    back_button_.signal_clicked().connect(
        [this] { adw_leaflet_navigate(ADW_LEAFLET(leaflet_), ADW_NAVIGATION_DIRECTION_BACK); });
    content_header_.pack_start(back_button_);
    verify_button_.set_icon_name("security-high-symbolic");
    verify_button_.set_tooltip_text(_("Verify identity"));
    set_accessible_label(verify_button_, _("Verify identity"));
    verify_button_.set_action_name("win.verify");
    content_header_.pack_end(verify_button_);
    content_.append(content_header_);

    GtkWidget* empty = adw_status_page_new();
    adw_status_page_set_icon_name(ADW_STATUS_PAGE(empty), CHINWAG_APP_ID "-symbolic");
    adw_status_page_set_title(ADW_STATUS_PAGE(empty), _("No Conversation Selected"));
    adw_status_page_set_description(ADW_STATUS_PAGE(empty), _("Pick someone on the left to start chatting."));
    content_stack_.add(*managed(empty), "empty");
    content_stack_.add(conversation_, "chat");
    content_stack_.set_visible_child("empty");
    content_stack_.set_vexpand(true);
    content_.append(content_stack_);
    content_.set_hexpand(true);
    content_.set_size_request(360, -1);

    conversation_.signal_error().connect([this](const Glib::ustring& text) { show_toast(text); });
    conversation_.signal_verify().connect(sigc::mem_fun(*this, &MainWindow::show_verification));
    return content_;
}

void MainWindow::add_actions()
{
    add_action("search", [this] {
        search_bar_.set_search_mode(true);
        search_entry_.grab_focus();
    });
    add_action("next-conversation", [this] { select_relative(1); });
    add_action("previous-conversation", [this] { select_relative(-1); });
    add_action("verify", sigc::mem_fun(*this, &MainWindow::show_verification));
    if (auto a = std::dynamic_pointer_cast<Gio::SimpleAction>(lookup_action("verify")))
        a->set_enabled(false);
}

void MainWindow::attach()
{
    messenger_.signal_peer_changed().connect(sigc::mem_fun(*this, &MainWindow::on_peer_changed));
    messenger_.signal_peer_gone().connect([this](const std::string& id) {
        if (auto p = messenger_.peer(id))
            return on_peer_changed(*p);
        // Only ever announced, never a word exchanged: it left the contact list with the LAN.
        auto it = rows_.find(id);
        if (it == rows_.end() || id == conversation_.peer_id())
            return;
        contacts_.remove(*it->second);
        rows_.erase(it);
        contacts_.invalidate_headers();
    });
    messenger_.signal_message().connect(sigc::mem_fun(*this, &MainWindow::on_message));
    messenger_.signal_message_state().connect(sigc::mem_fun(*this, &MainWindow::on_message_state));
    messenger_.signal_warning().connect(sigc::mem_fun(*this, &MainWindow::on_warning));
    messenger_.signal_notice().connect(sigc::mem_fun(*this, &MainWindow::on_notice));
    for (const auto& p : messenger_.peers())
        on_peer_changed(p);
    update_self();
    if (view_settings_) {
        std::string last = view_settings_->get_string("last-conversation");
        // Restored without navigating: a narrow (folded) window starts on the contact list.
        if (!last.empty() && rows_.count(last))
            open_conversation(last, 0, false);
    }
}

void MainWindow::update_self()
{
    updating_self_ = true;
    auto self = messenger_.self();
    self_name_.set_label(self.nick);
    adw_avatar_set_text(ADW_AVATAR(self_avatar_), self.nick.c_str());
    presence_.set_selected(static_cast<guint>(self.status));
    // An empty EditableLabel is invisible: show an invitation instead.
    status_message_.set_text(self.message.empty() ? std::string(_("Set a status message")) : self.message);
    if (self.message.empty())
        status_message_.add_css_class("dim-label");
    else
        status_message_.remove_css_class("dim-label");
    updating_self_ = false;
}

void MainWindow::on_peer_changed(const core::PeerView& p)
{
    auto it = rows_.find(p.id);
    ContactRow* row;
    if (it == rows_.end()) {
        row = Gtk::make_managed<ContactRow>();
        rows_[p.id] = row;
        row->show(p);
        contacts_.append(*row);
    } else {
        row = it->second;
        row->show(p);
    }
    apply_filter(*row);
    contacts_.invalidate_headers();
    if (p.id == conversation_.peer_id()) {
        conversation_.update_peer(p);
        update_header();
    }
}

void MainWindow::update_header()
{
    auto it = rows_.find(conversation_.peer_id());
    auto verify = std::dynamic_pointer_cast<Gio::SimpleAction>(lookup_action("verify"));
    if (it == rows_.end()) {
        adw_window_title_set_title(ADW_WINDOW_TITLE(title_), _("Chinwag"));
        adw_window_title_set_subtitle(ADW_WINDOW_TITLE(title_), "");
        if (verify)
            verify->set_enabled(false);
        return;
    }
    const auto& p = it->second->view;
    adw_window_title_set_title(ADW_WINDOW_TITLE(title_), display_name(p).c_str());
    std::string sub = p.online ? status_label(p.status) : std::string(_("Offline"));
    sub += " · " + trust_label(p.trust);
    if (std::string who = published_identity(p); !who.empty())
        sub = who + " · " + sub;
    adw_window_title_set_subtitle(ADW_WINDOW_TITLE(title_), sub.c_str());
    verify_button_.set_icon_name(trust_icon(p.trust));
    if (verify)
        verify->set_enabled(!p.fingerprint.empty());
}

void MainWindow::on_row_activated(Gtk::ListBoxRow* row)
{
    if (auto* r = dynamic_cast<ContactRow*>(row))
        open_conversation(r->view.id);
}

void MainWindow::open_conversation(const std::string& contact_id, std::int64_t focus_seq, bool navigate)
{
    auto it = rows_.find(contact_id);
    if (it == rows_.end()) {
        auto p = messenger_.peer(contact_id);
        if (!p) {
            show_toast(error_text(p.error()));
            return;
        }
        on_peer_changed(*p);
        it = rows_.find(contact_id);
    }
    contacts_.select_row(*it->second);
    conversation_.show_peer(it->second->view, focus_seq);
    content_stack_.set_visible_child("chat");
    if (navigate) {
        // Folded, the leaflet shows only the conversation now (with its Back button).
        adw_leaflet_set_visible_child(ADW_LEAFLET(leaflet_), GTK_WIDGET(content_.gobj()));
    }
    update_header();
    if (navigate || conversation_in_view(contact_id))
        read_conversation(contact_id);
    if (navigate)
        conversation_.focus_composer();
    if (view_settings_)
        view_settings_->set_string("last-conversation", contact_id);
}

void MainWindow::read_conversation(const std::string& contact_id)
{
    auto it = rows_.find(contact_id);
    if (it != rows_.end() && it->second->view.unread > 0) {
        if (auto r = messenger_.mark_read(contact_id); !r)
            show_toast(error_text(r.error()));
    }
    if (notified_.erase(contact_id))
        app_.withdraw_notification("message-" + contact_id);
}

bool MainWindow::conversation_in_view(const std::string& contact_id) const
{
    if (conversation_.peer_id() != contact_id || !is_visible() || !is_active())
        return false;
    GtkWidget* visible = adw_leaflet_get_visible_child(ADW_LEAFLET(leaflet_));
    return !adw_leaflet_get_folded(ADW_LEAFLET(leaflet_)) || visible == GTK_WIDGET(content_.gobj());
}

void MainWindow::on_message(const model::Message& m)
{
    // The core has no "storage fine again" notice: a message it stored and reports shows that
    // writing works again, so the disk-full banner goes.
    if (notice_kind_ == "storage")
        hide_notice();
    conversation_.add_or_update(m);
    if (conversation_in_view(m.contact_id)) {
        read_conversation(m.contact_id);
        return;
    }
    if (!messenger_.settings().notifications)
        return;
    auto peer = messenger_.peer(m.contact_id);
    std::string name = peer ? display_name(*peer) : m.contact_id;
    int count = ++notified_[m.contact_id];
    // One notification per conversation, replaced as messages arrive: a burst is one summary.
    auto n = Gio::Notification::create(name);
    n->set_body(notification_body(count, m.body));
    n->set_priority(Gio::Notification::Priority::HIGH);
    n->set_default_action_variant("app.open-conversation", Glib::Variant<Glib::ustring>::create(m.contact_id));
    n->add_button_variant(_("Open"), "app.open-conversation", Glib::Variant<Glib::ustring>::create(m.contact_id));
    app_.send_notification("message-" + m.contact_id, n);
}

void MainWindow::on_message_state(const model::Message& m)
{
    conversation_.add_or_update(m);
}

void MainWindow::on_warning(const core::Warning& w)
{
    if (w.kind == "impostor") {
        auto p = messenger_.peer(w.peer);
        std::string name = p ? display_name(*p) : w.peer;
        show_notice(Glib::ustring::compose(_("Someone is pretending to be %1. Their messages are not shown as %1's, "
                                             "and Chinwag will not send them anything. (%2)"),
                                           name, w.detail),
                    true);
        notice_kind_ = "warning";
        return;
    }
    show_notice(w.detail, true);
    notice_kind_ = "warning";
}

void MainWindow::on_notice(const core::Notice& n)
{
    std::string text = notice_text(n);
    if (n.kind == "renamed") {
        update_self();
        show_toast(text);
        return;
    }
    // Resolved: the banner goes if it was about this (a failed start is about discovery too);
    // another one, e.g. the disk being full or an impostor, stays.
    if (!n.problem && (n.kind == "storage" || n.kind == "discovery")) {
        if (notice_kind_ == n.kind || (n.kind == "discovery" && notice_kind_.empty()))
            hide_notice();
        return;
    }
    if (text.empty())
        return;
    show_notice(text, n.kind == "storage" || n.kind == "discovery");
    notice_kind_ = n.kind;
}

void MainWindow::show_toast(const Glib::ustring& text)
{
    AdwToast* toast = adw_toast_new(text.c_str());
    adw_toast_set_timeout(toast, 6);
    adw_toast_overlay_add_toast(ADW_TOAST_OVERLAY(toasts_), toast);
}

void MainWindow::show_notice(const Glib::ustring& text, bool error)
{
    notice_kind_.clear();
    notice_label_.set_label(text);
    notice_.set_message_type(error ? Gtk::MessageType::ERROR : Gtk::MessageType::WARNING);
    notice_.set_revealed(true);
}

void MainWindow::hide_notice()
{
    notice_kind_.clear();
    notice_label_.set_label("");  // a hidden banner keeps no stale words for screen readers
    notice_.set_revealed(false);
}

void MainWindow::settings_changed()
{
    for (auto& [id, row] : rows_)
        apply_filter(*row);
    contacts_.invalidate_headers();
    update_self();
}

void MainWindow::apply_filter(ContactRow& row)
{
    // Hidden rather than filtered out: a hidden row also leaves the accessibility tree, so
    // screen readers (and the tests) see the same list as the eyes.
    row.set_visible(row.view.trust != model::Trust::Legacy || messenger_.settings().show_legacy);
}

void MainWindow::select_relative(int delta)
{
    std::vector<ContactRow*> visible;
    for (auto* child = contacts_.get_first_child(); child; child = child->get_next_sibling())
        if (auto* r = dynamic_cast<ContactRow*>(child); r && r->get_visible())
            visible.push_back(r);
    if (visible.empty())
        return;
    std::sort(visible.begin(), visible.end(), [](ContactRow* a, ContactRow* b) { return a->get_index() < b->get_index(); });
    int current = -1;
    for (std::size_t i = 0; i < visible.size(); ++i)
        if (visible[i]->view.id == conversation_.peer_id())
            current = static_cast<int>(i);
    int n = static_cast<int>(visible.size());
    int next = current < 0 ? (delta > 0 ? 0 : n - 1) : ((current + delta) % n + n) % n;
    open_conversation(visible[next]->view.id);
}

void MainWindow::run_search()
{
    while (auto* row = results_.get_row_at_index(0))
        results_.remove(*row);
    std::string query = search_entry_.get_text();
    if (query.empty()) {
        sidebar_stack_.set_visible_child("contacts");
        return;
    }
    sidebar_stack_.set_visible_child("results");
    auto hits = messenger_.search(query, 50);
    if (!hits) {
        // A half-typed query may not parse as full-text syntax: no hits rather than an error.
        return;
    }
    for (const auto& m : *hits) {
        auto p = messenger_.peer(m.contact_id);
        results_.append(*Gtk::make_managed<ResultRow>(m, p ? display_name(*p) : m.contact_id));
    }
}

void MainWindow::show_verification()
{
    if (conversation_.peer_id().empty())
        return;
    verification_dialog(*this, messenger_, conversation_.peer_id(),
                        [this](const Glib::ustring& text) { show_toast(text); })
        ->present();
}

bool MainWindow::on_close()
{
    save_state();
    hide();
    return true;  // handled: hidden, not destroyed; the application keeps running (Application holds it)
}

void MainWindow::save_state()
{
    if (view_settings_) {
        int w = 0, h = 0;
        get_default_size(w, h);
        if (!is_maximized() && w > 0 && h > 0) {
            view_settings_->set_int("window-width", w);
            view_settings_->set_int("window-height", h);
        }
        view_settings_->set_boolean("window-maximized", is_maximized());
    }
}

}  // namespace chinwag::gui
