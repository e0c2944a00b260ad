#include "gui/dialogs.hpp"

#include "crypto/fingerprint.hpp"
#include "gui/c_signal.hpp"
#include "gui/view_text.hpp"

namespace chinwag::gui {

namespace {

// A window without the default title bar, with a header bar of its own.
Gtk::Window* new_window(const Glib::ustring& title, Gtk::HeaderBar*& header)
{
    auto* w = new Gtk::Window();
    // Closing (Escape, the title bar's X) must hide, not destroy: gtk_window_destroy() does not
    // emit "hide", so the handlers that delete the wrapper and disconnect from the core would
    // never run, and a later peer change would reach a disposed dialog.
    w->set_hide_on_close(true);
    w->set_title(title);
    header = Gtk::make_managed<Gtk::HeaderBar>();
    w->set_titlebar(*header);
    return w;
}

// A dialog closes on Escape, as GNOME's dialogs do (HIG); plain Gtk::Window has no such binding.
void close_on_escape(Gtk::Window& w)
{
    auto keys = Gtk::ShortcutController::create();
    keys->add_shortcut(Gtk::Shortcut::create(Gtk::KeyvalTrigger::create(GDK_KEY_Escape),
                                             Gtk::NamedAction::create("window.close")));
    w.add_controller(keys);
}

Gtk::Label* label(const Glib::ustring& text, const char* css = nullptr)
{
    auto* l = Gtk::make_managed<Gtk::Label>(text);
    l->set_wrap(true);
    l->set_justify(Gtk::Justification::CENTER);
    if (css)
        l->add_css_class(css);
    return l;
}

// libadwaita 1.2 leaves the apply button of an AdwEntryRow without an accessible name: name it.
void name_apply_button(GtkWidget* widget)
{
    for (GtkWidget* c = gtk_widget_get_first_child(widget); c; c = gtk_widget_get_next_sibling(c)) {
        if (GTK_IS_BUTTON(c))
            set_accessible_label(*Glib::wrap(c), _("Apply"));
        else
            name_apply_button(c);
    }
}

// AdwPreferencesWindow keeps its (here disabled) search entry in the tree, unnamed.
void name_search_entries(GtkWidget* widget)
{
    for (GtkWidget* c = gtk_widget_get_first_child(widget); c; c = gtk_widget_get_next_sibling(c)) {
        if (GTK_IS_SEARCH_ENTRY(c))
            set_accessible_label(*Glib::wrap(c), _("Search preferences"));
        else
            name_search_entries(c);
    }
}

// The title of the AdwWindowTitle in a header bar of `page`, or empty.
std::string page_title(GtkWidget* page)
{
    for (GtkWidget* c = gtk_widget_get_first_child(page); c; c = gtk_widget_get_next_sibling(c)) {
        if (ADW_IS_WINDOW_TITLE(c))
            if (const char* t = adw_window_title_get_title(ADW_WINDOW_TITLE(c)); t && *t)
                return t;
        if (GTK_IS_SCROLLED_WINDOW(c))
            continue;  // the page's content, not its header
        if (auto t = page_title(c); !t.empty())
            return t;
    }
    return {};
}

// libadwaita 1.2's AdwAboutWindow builds controls GTK 4.8 cannot name well for screen readers:
// mnemonic buttons named twice with the marker ("_Copy Text Copy Text"), icon-only Back buttons
// (a tooltip is not a name), the version button (a label child, no label property: "GtkButton")
// and the text views of its subpages. Names them here; `page` is the subpage being walked.
void name_about_controls(GtkWidget* widget, const std::string& page)
{
    for (GtkWidget* c = gtk_widget_get_first_child(widget); c; c = gtk_widget_get_next_sibling(c)) {
        std::string here = page;
        if (GTK_IS_BOX(c) && (ADW_IS_LEAFLET(widget) || GTK_IS_STACK(widget)))
            here = page_title(c);
        if (GTK_IS_BUTTON(c) && !GTK_IS_TOGGLE_BUTTON(c)) {
            const char* text = gtk_button_get_label(GTK_BUTTON(c));
            const char* action = gtk_actionable_get_action_name(GTK_ACTIONABLE(c));
            std::string act = action ? action : "";
            if (text && gtk_button_get_use_underline(GTK_BUTTON(c))) {
                // As mnemonic_button(): the label widget alone names it, mnemonic resolved.
                gtk_accessible_reset_property(GTK_ACCESSIBLE(c), GTK_ACCESSIBLE_PROPERTY_LABEL);
            } else if (act == "about.back") {
                set_accessible_label(*Glib::wrap(c), _("Back"));
            } else if (!text && act == "about.copy-property") {
                set_accessible_label(*Glib::wrap(c), Glib::ustring::compose(_("Version %1"), PACKAGE_VERSION));
            }
        } else if (GTK_IS_TEXT_VIEW(c) && !here.empty()) {
            set_accessible_label(*Glib::wrap(c), here);
        }
        name_about_controls(c, here);
    }
}

}  // namespace

Gtk::Window* welcome_window(Gtk::Application& app, const std::string& default_nick,
                            std::function<void(const std::string&, Gtk::Window*)> done)
{
    Gtk::HeaderBar* header = nullptr;
    auto* w = new_window(_("Welcome to Chinwag"), header);
    gtk_window_set_application(w->gobj(), app.gobj());
    w->set_default_size(520, 560);
    header->add_css_class("flat");
    header->set_title_widget(*Gtk::make_managed<Gtk::Label>(""));

    GtkWidget* page = adw_status_page_new();
    adw_status_page_set_icon_name(ADW_STATUS_PAGE(page), CHINWAG_APP_ID);
    adw_status_page_set_title(ADW_STATUS_PAGE(page), _("Welcome to Chinwag"));
    adw_status_page_set_description(ADW_STATUS_PAGE(page),
                                    _("Chat with the people on this network: no server, no account. "
                                      "Choose the name others will see; you can change it later."));
    auto* box = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::VERTICAL, 18);
    box->set_halign(Gtk::Align::CENTER);
    auto* list = Gtk::make_managed<Gtk::ListBox>();
    list->add_css_class("boxed-list");
    list->set_selection_mode(Gtk::SelectionMode::NONE);
    GtkWidget* row = adw_entry_row_new();
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), _("Your name"));
    gtk_editable_set_text(GTK_EDITABLE(row), default_nick.c_str());
    list->append(*managed(row));
    list->set_size_request(340, -1);
    box->append(*list);
    auto* start = mnemonic_button(_("_Start Chatting"));
    start->add_css_class("suggested-action");
    start->add_css_class("pill");
    start->set_halign(Gtk::Align::CENTER);
    box->append(*start);
    auto* hint = label(_("Your messages are encrypted with a key made on this computer."), "dim-label");
    hint->add_css_class("caption");
    box->append(*hint);
    adw_status_page_set_child(ADW_STATUS_PAGE(page), GTK_WIDGET(box->gobj()));
    w->set_child(*managed(page));

    auto confirm = [w, row, done] {
        Glib::ustring nick = gtk_editable_get_text(GTK_EDITABLE(row));
        auto first = nick.find_first_not_of(" \t");
        if (first == Glib::ustring::npos) {
            gtk_widget_add_css_class(row, "error");
            return;
        }
        auto last = nick.find_last_not_of(" \t");
        done(nick.substr(first, last - first + 1), w);
    };
    start->signal_clicked().connect(confirm);
    on_signal(row, "entry-activated", confirm);
    on_signal(row, "changed", [row] { gtk_widget_remove_css_class(row, "error"); });
    return w;
}

Gtk::Window* error_window(Gtk::Application& app, const Glib::ustring& title, const Glib::ustring& text,
                          std::function<void()> retry)
{
    Gtk::HeaderBar* header = nullptr;
    auto* w = new_window(_("Chinwag"), header);
    gtk_window_set_application(w->gobj(), app.gobj());
    w->set_default_size(480, 420);
    header->add_css_class("flat");
    GtkWidget* page = adw_status_page_new();
    adw_status_page_set_icon_name(ADW_STATUS_PAGE(page), "dialog-warning-symbolic");
    adw_status_page_set_title(ADW_STATUS_PAGE(page), title.c_str());
    adw_status_page_set_description(ADW_STATUS_PAGE(page), text.c_str());
    auto* buttons = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::HORIZONTAL, 12);
    buttons->set_halign(Gtk::Align::CENTER);
    if (retry) {
        auto* again = mnemonic_button(_("_Try Again"));
        again->add_css_class("suggested-action");
        again->add_css_class("pill");
        again->signal_clicked().connect(retry);
        buttons->append(*again);
    }
    auto* quit = mnemonic_button(_("_Quit"));
    quit->add_css_class("pill");
    quit->signal_clicked().connect([w] { w->hide(); });
    buttons->append(*quit);
    adw_status_page_set_child(ADW_STATUS_PAGE(page), GTK_WIDGET(buttons->gobj()));
    w->set_child(*managed(page));
    return w;
}

Gtk::Window* verification_dialog(Gtk::Window& parent, core::Messenger& messenger, const std::string& peer_id,
                                 std::function<void(const Glib::ustring&)> error)
{
    auto peer = messenger.peer(peer_id);
    const std::string name = peer ? display_name(*peer) : peer_id;
    Gtk::HeaderBar* header = nullptr;
    auto* w = new_window(Glib::ustring::compose(_("Verify %1"), name), header);
    w->set_transient_for(parent);
    w->set_modal(true);
    w->set_destroy_with_parent(true);
    w->set_default_size(480, -1);
    close_on_escape(*w);
    w->signal_hide().connect([w] { Glib::signal_idle().connect_once([w] { delete w; }); });

    auto* box = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::VERTICAL, 12);
    box->set_margin_top(18);
    box->set_margin_bottom(18);
    box->set_margin_start(24);
    box->set_margin_end(24);
    w->set_child(*box);

    if (!peer || peer->fingerprint.empty()) {
        box->append(*label(Glib::ustring::compose(
            _("%1 uses a messenger without encryption keys, so there is nothing to compare: this "
              "conversation cannot be verified."),
            name)));
        return w;
    }
    auto number = messenger.safety_number(peer_id);
    if (!number) {
        box->append(*label(error_text(number.error())));
        return w;
    }
    box->append(*label(Glib::ustring::compose(
        _("Compare this safety number with %1, in person or over the phone. If both of you see the same "
          "digits, nobody is in between."),
        name)));
    auto* digits = label(safety_number_lines(*number), "safety-number");
    digits->set_selectable(true);
    set_accessible_label(*digits, Glib::ustring::compose(_("Safety number %1"), *number));
    box->append(*digits);

    auto fingerprint_block = [&](const Glib::ustring& title, const std::string& hex) {
        auto* t = label(title, "heading");
        t->set_margin_top(6);
        box->append(*t);
        auto* fp = label(fingerprint_lines(hex), "fingerprint");
        fp->set_selectable(true);
        box->append(*fp);
    };
    fingerprint_block(_("Your fingerprint"), messenger.self().fingerprint);
    fingerprint_block(Glib::ustring::compose(_("Fingerprint of %1"), name), peer->fingerprint);

    auto* state = label("");
    box->append(*state);
    auto* mark = mnemonic_button(_("_Mark as Verified"));
    mark->add_css_class("suggested-action");
    mark->add_css_class("pill");
    mark->set_halign(Gtk::Align::CENTER);
    mark->set_margin_top(6);
    mark->set_receives_default(true);
    box->append(*mark);
    auto refresh = [state, mark](model::Trust trust, const std::string& who) {
        if (trust == model::Trust::Verified) {
            state->set_label(Glib::ustring::compose(_("You have verified %1."), who));
            mark->set_visible(false);
        } else if (trust == model::Trust::Impostor) {
            state->set_label(trust_banner(trust, who));
            state->add_css_class("error");
            mark->set_visible(false);
        } else {
            state->set_label("");
        }
    };
    refresh(peer->trust, name);
    mark->signal_clicked().connect([w, &messenger, peer_id, error] {
        if (auto r = messenger.mark_verified(peer_id); !r) {
            error(error_text(r.error()));
            return;
        }
        w->hide();
    });
    // The badge changes everywhere at once: this dialog follows peer_changed like the rest.
    auto connection = messenger.signal_peer_changed().connect([refresh, peer_id](const core::PeerView& p) {
        if (p.id == peer_id)
            refresh(p.trust, display_name(p));
    });
    w->signal_hide().connect([connection]() mutable { connection.disconnect(); });
    return w;
}

GtkWidget* preferences_window(Gtk::Window* parent, core::Messenger& messenger, Gio::ActionMap& app_actions,
                              const Glib::ustring& color_scheme, std::function<void()> changed,
                              std::function<void(const Glib::ustring&)> error)
{
    GtkWidget* win = adw_preferences_window_new();
    if (parent)
        gtk_window_set_transient_for(GTK_WINDOW(win), parent->gobj());
    gtk_window_set_modal(GTK_WINDOW(win), TRUE);
    adw_preferences_window_set_search_enabled(ADW_PREFERENCES_WINDOW(win), FALSE);

    GtkWidget* page = adw_preferences_page_new();
    adw_preferences_page_set_title(ADW_PREFERENCES_PAGE(page), _("General"));
    adw_preferences_page_set_icon_name(ADW_PREFERENCES_PAGE(page), "preferences-system-symbolic");
    adw_preferences_window_add(ADW_PREFERENCES_WINDOW(win), ADW_PREFERENCES_PAGE(page));

    // Each change is one Messenger::update_settings call with the current settings plus that change.
    auto update = [&messenger, changed, error](const std::function<void(core::Settings&)>& edit) {
        core::Settings s = messenger.settings();
        edit(s);
        if (auto r = messenger.update_settings(s); !r) {
            error(error_text(r.error()));
            return;
        }
        changed();
    };

    const core::Settings& now = messenger.settings();
    GtkWidget* identity = adw_preferences_group_new();
    adw_preferences_group_set_title(ADW_PREFERENCES_GROUP(identity), _("You"));
    adw_preferences_group_set_description(ADW_PREFERENCES_GROUP(identity),
                                          _("Your name is always shown to people on the network. The other "
                                            "fields are only published if you switch them on."));
    adw_preferences_page_add(ADW_PREFERENCES_PAGE(page), ADW_PREFERENCES_GROUP(identity));

    auto entry_row = [&](const char* title, const std::string& value,
                         std::function<void(core::Settings&, const std::string&)> set) {
        GtkWidget* row = adw_entry_row_new();
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
        gtk_editable_set_text(GTK_EDITABLE(row), value.c_str());
        adw_entry_row_set_show_apply_button(ADW_ENTRY_ROW(row), TRUE);
        name_apply_button(row);
        on_signal(row, "apply", [row, set, update] {
            std::string text = gtk_editable_get_text(GTK_EDITABLE(row));
            update([&](core::Settings& s) { set(s, text); });
        });
        adw_preferences_group_add(ADW_PREFERENCES_GROUP(identity), row);
    };
    entry_row(_("Nickname"), now.nick, [](core::Settings& s, const std::string& v) {
        if (!v.empty())
            s.nick = v;
    });
    entry_row(_("First name"), now.first_name, [](core::Settings& s, const std::string& v) { s.first_name = v; });
    entry_row(_("Last name"), now.last_name, [](core::Settings& s, const std::string& v) { s.last_name = v; });
    entry_row(_("E-mail"), now.email, [](core::Settings& s, const std::string& v) { s.email = v; });

    auto switch_row = [&](GtkWidget* group, const char* title, const char* subtitle, bool value,
                          std::function<void(core::Settings&, bool)> set) {
        GtkWidget* row = adw_action_row_new();
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
        if (subtitle)
            adw_action_row_set_subtitle(ADW_ACTION_ROW(row), subtitle);
        auto* sw = Gtk::make_managed<Gtk::Switch>();
        sw->set_active(value);
        sw->set_valign(Gtk::Align::CENTER);
        // No accessible label of its own: the row's title labels the switch (labelled-by), and
        // GTK 4.8 would say both ("Notifications Notifications").
        adw_action_row_add_suffix(ADW_ACTION_ROW(row), GTK_WIDGET(sw->gobj()));
        adw_action_row_set_activatable_widget(ADW_ACTION_ROW(row), GTK_WIDGET(sw->gobj()));
        sw->property_active().signal_changed().connect([sw, set, update] {
            bool on = sw->get_active();
            update([&](core::Settings& s) { set(s, on); });
        });
        adw_preferences_group_add(ADW_PREFERENCES_GROUP(group), row);
    };
    switch_row(identity, _("Publish first and last name"), _("Off: only your nickname is visible"),
               now.publish_name, [](core::Settings& s, bool on) { s.publish_name = on; });
    switch_row(identity, _("Publish e-mail address"), nullptr, now.publish_email,
               [](core::Settings& s, bool on) { s.publish_email = on; });

    GtkWidget* behaviour = adw_preferences_group_new();
    adw_preferences_group_set_title(ADW_PREFERENCES_GROUP(behaviour), _("Chatting"));
    adw_preferences_page_add(ADW_PREFERENCES_PAGE(page), ADW_PREFERENCES_GROUP(behaviour));
    switch_row(behaviour, _("Show unencrypted contacts"),
               _("People using Pidgin or other Bonjour messengers, without encryption"), now.show_legacy,
               [](core::Settings& s, bool on) { s.show_legacy = on; });
    switch_row(behaviour, _("Notifications"), _("Tell me about new messages when the conversation is not in view"),
               now.notifications, [](core::Settings& s, bool on) { s.notifications = on; });

    GtkWidget* appearance = adw_preferences_group_new();
    adw_preferences_group_set_title(ADW_PREFERENCES_GROUP(appearance), _("Appearance"));
    adw_preferences_page_add(ADW_PREFERENCES_PAGE(page), ADW_PREFERENCES_GROUP(appearance));
    GtkWidget* style = adw_combo_row_new();
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(style), _("Style"));
    auto styles = Gtk::StringList::create({_("Follow System"), _("Light"), _("Dark")});
    adw_combo_row_set_model(ADW_COMBO_ROW(style), G_LIST_MODEL(styles->gobj()));
    static const char* const kSchemes[] = {"default", "light", "dark"};
    for (guint i = 0; i < 3; ++i)
        if (color_scheme == kSchemes[i])
            adw_combo_row_set_selected(ADW_COMBO_ROW(style), i);
    on_notify(style, "selected", [style, &app_actions] {
        guint i = adw_combo_row_get_selected(ADW_COMBO_ROW(style));
        if (i < 3)
            if (auto action = app_actions.lookup_action("color-scheme"))
                action->activate(Glib::Variant<Glib::ustring>::create(kSchemes[i]));
    });
    adw_preferences_group_add(ADW_PREFERENCES_GROUP(appearance), style);
    name_search_entries(win);
    return win;
}

GtkWidget* about_window(Gtk::Window* parent)
{
    GtkWidget* w = adw_about_window_new();
    AdwAboutWindow* about = ADW_ABOUT_WINDOW(w);
    if (parent)
        gtk_window_set_transient_for(GTK_WINDOW(w), parent->gobj());
    adw_about_window_set_application_name(about, _("Chinwag"));
    adw_about_window_set_application_icon(about, CHINWAG_APP_ID);
    adw_about_window_set_version(about, PACKAGE_VERSION);
    adw_about_window_set_developer_name(about, _("The Chinwag authors"));
    adw_about_window_set_comments(about, _("Chat with people on your network, no server needed."));
    adw_about_window_set_website(about, PACKAGE_URL);
    adw_about_window_set_issue_url(about, PACKAGE_BUGREPORT);
    adw_about_window_set_license_type(about, GTK_LICENSE_GPL_3_0);
    adw_about_window_set_copyright(about, _("© The Chinwag authors"));
    static const char* const developers[] = {"The Chinwag authors", nullptr};
    adw_about_window_set_developers(about, const_cast<const char**>(developers));
    // Translators: put your names here, one per line.
    adw_about_window_set_translator_credits(about, _("translator-credits"));
    static const char* const built_on[] = {"GTK https://gtk.org", "libadwaita https://gnome.pages.gitlab.gnome.org/libadwaita/",
                                           "Avahi https://avahi.org", "GnuTLS https://gnutls.org",
                                           "SQLite https://sqlite.org", nullptr};
    adw_about_window_add_acknowledgement_section(about, _("Built on"), const_cast<const char**>(built_on));
    // No debug info: its Troubleshooting page (text view, "Copy Text", "Save as…") stays
    // unreachable; it is in the widget tree all the same, so it is named too.
    name_about_controls(w, "");
    return w;
}

Gtk::Window* shortcuts_window(Gtk::Window* parent)
{
    // GTK 4.8 builds a ShortcutsWindow only from UI XML; the titles come from gettext here.
    auto esc = [](const char* s) { return Glib::Markup::escape_text(s); };
    auto shortcut = [&](const char* accel, const char* title) {
        return Glib::ustring::compose(
            "<child><object class=\"GtkShortcutsShortcut\"><property name=\"accelerator\">%1</property>"
            "<property name=\"title\">%2</property></object></child>",
            esc(accel), esc(title));
    };
    auto group = [&](const char* title, const Glib::ustring& items) {
        return Glib::ustring::compose(
            "<child><object class=\"GtkShortcutsGroup\"><property name=\"title\">%1</property>%2</object></child>",
            esc(title), items);
    };
    Glib::ustring xml =
        "<interface><object class=\"GtkShortcutsWindow\" id=\"shortcuts\"><property name=\"modal\">1</property>"
        "<child><object class=\"GtkShortcutsSection\"><property name=\"section-name\">main</property>" +
        group(_("General"), shortcut("<Control>f", _("Search messages")) + shortcut("<Control>comma", _("Preferences")) +
                                shortcut("<Control>question", _("Keyboard shortcuts")) +
                                shortcut("<Control>q", _("Quit"))) +
        group(_("Conversations"), shortcut("<Control>Page_Down", _("Next conversation")) +
                                      shortcut("<Control>Page_Up", _("Previous conversation")) +
                                      shortcut("<Control>i", _("Verify identity"))) +
        group(_("Composer"), shortcut("Return", _("Send message")) + shortcut("<Shift>Return", _("New line"))) +
        "</object></child></object></interface>";
    auto builder = Gtk::Builder::create_from_string(xml);
    auto* w = builder->get_widget<Gtk::ShortcutsWindow>("shortcuts");
    if (parent)
        w->set_transient_for(*parent);
    w->set_hide_on_close(true);  // see new_window()
    w->signal_hide().connect([w] { Glib::signal_idle().connect_once([w] { delete w; }); });
    return w;
}

}  // namespace chinwag::gui
