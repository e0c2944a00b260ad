// The desktop app's entry point and its Gtk::Application.
#include "gui/application.hpp"

#include <clocale>
#include <csignal>
#include <cstdio>
#include <string_view>

#include "gui/c_signal.hpp"
#include "gui/dialogs.hpp"
#include "gui/main_window.hpp"
#include "gui/view_text.hpp"
#include "util/log.hpp"

namespace chinwag::gui {

namespace {

constexpr std::string_view kLog = "gui";

// Bubbles, badges and banners; colours come from libadwaita's named colours, so the dark style
// (and high contrast) need nothing extra.
constexpr const char* kCss = R"css(
.bubble { border-radius: 14px; padding: 6px 12px; }
.bubble.incoming { background-color: alpha(currentColor, 0.08); }
.bubble.outgoing { background-color: @accent_bg_color; color: @accent_fg_color; }
.bubble.failed { background-color: @error_bg_color; color: @error_fg_color; }
.bubble .meta { font-size: smaller; opacity: 0.75; }
.message-row.highlight .bubble { box-shadow: 0 0 0 3px @accent_color; }
.day-separator { font-size: smaller; font-weight: bold; opacity: 0.6; margin: 12px 0 4px 0; }
.unread-badge { background-color: @accent_bg_color; color: @accent_fg_color; border-radius: 999px;
                padding: 0 7px; font-weight: bold; font-size: smaller; min-width: 10px; }
.trust-badge { border-radius: 6px; padding: 0 5px; font-size: smaller; }
.trust-badge.success { color: @success_color; }
.trust-badge.warning { color: @warning_color; }
.trust-badge.error { background-color: @error_bg_color; color: @error_fg_color; font-weight: bold; }
.trust-banner { padding: 8px 12px; }
.trust-banner.dim-label { opacity: 1; background-color: alpha(currentColor, 0.05); }
.trust-banner.warning { background-color: alpha(@warning_bg_color, 0.25); }
.trust-banner.error { background-color: @error_bg_color; color: @error_fg_color; font-weight: bold; }
.self-box { padding: 6px 12px; }
.typing { font-size: smaller; font-style: italic; opacity: 0.7; padding: 0 12px; }
.composer { padding: 6px; }
.composer textview { border-radius: 8px; padding: 6px; }
.safety-number { font-family: monospace; font-size: x-large; font-weight: bold; }
.fingerprint { font-family: monospace; }
)css";

}  // namespace

Glib::RefPtr<Application> Application::create()
{
    return Glib::make_refptr_for_instance<Application>(new Application());
}

Application::Application() : Gtk::Application(CHINWAG_APP_ID, Gio::Application::Flags::DEFAULT_FLAGS)
{
    Glib::set_application_name(_("Chinwag"));
    for (const auto& o : command_line_options())
        add_main_option_entry(o.type, o.name, '\0', o.description, o.arg_description);
    signal_handle_local_options().connect(sigc::mem_fun(*this, &Application::on_handle_local_options), false);
}

std::vector<Application::CommandLineOption> Application::command_line_options()
{
    using Type = Gio::Application::OptionType;
    return {
        {Type::FILENAME, "profile", _("Use the profile in DIR instead of the default one"), _("DIR")},
        {Type::STRING, "instance", _("Name to publish on the network (default: login@host)"), _("NAME")},
        {Type::BOOL, "version", _("Show the version and exit"), ""},
    };
}

std::string Application::help_text()
{
    // The same options GApplication parses, described by GOptionContext as it would: only the
    // help text is produced here, nothing is parsed.
    auto options = command_line_options();
    std::vector<GOptionEntry> entries;
    for (const auto& o : options) {
        GOptionEntry e{};
        e.long_name = o.name;
        e.arg = o.type == Gio::Application::OptionType::BOOL       ? G_OPTION_ARG_NONE
                : o.type == Gio::Application::OptionType::FILENAME ? G_OPTION_ARG_FILENAME
                                                                   : G_OPTION_ARG_STRING;
        e.description = o.description.c_str();
        e.arg_description = o.arg_description.empty() ? nullptr : o.arg_description.c_str();
        entries.push_back(e);
    }
    entries.push_back(GOptionEntry{});
    GOptionContext* context = g_option_context_new(nullptr);
    g_option_context_set_summary(context, _("Chat with people on your network, no server needed."));
    g_option_context_add_main_entries(context, entries.data(), nullptr);
    gchar* text = g_option_context_get_help(context, TRUE, nullptr);
    std::string help = text ? text : "";
    g_free(text);
    g_option_context_free(context);
    return help;
}

Application::~Application()
{
    // The windows hold a reference to the Messenger: they go first.
    delete main_window_;
    main_window_ = nullptr;
    messenger_.reset();
}

int Application::on_handle_local_options(const Glib::RefPtr<Glib::VariantDict>& options)
{
    bool version = false;
    if (options->lookup_value("version", version) && version) {
        std::printf("chinwag %s\n", PACKAGE_VERSION);
        return 0;
    }
    std::string dir;
    if (options->lookup_value("profile", dir) && !dir.empty())
        profile_dir_ = dir;
    Glib::ustring instance;
    if (options->lookup_value("instance", instance) && !instance.empty())
        instance_ = instance;
    return -1;  // go on: register (or hand over to the running instance) and activate
}

void Application::on_startup()
{
    Gtk::Application::on_startup();
    adw_init();
    install_css();

    auto source = Gio::SettingsSchemaSource::get_default();
    if (source && source->lookup(CHINWAG_APP_ID, true))
        settings_ = Gio::Settings::create(CHINWAG_APP_ID);
    else
        log::warning(kLog, "GSettings schema " CHINWAG_APP_ID " not installed; window state is not kept");

    add_action("quit", sigc::mem_fun(*this, &Application::quit_app));
    add_action("about", sigc::mem_fun(*this, &Application::show_about));
    add_action("preferences", sigc::mem_fun(*this, &Application::show_preferences));
    add_action("shortcuts", sigc::mem_fun(*this, &Application::show_shortcuts));
    add_action_with_parameter("open-conversation", Glib::VARIANT_TYPE_STRING,
                              sigc::mem_fun(*this, &Application::on_open_conversation));
    Glib::ustring scheme = settings_ ? settings_->get_string("color-scheme") : Glib::ustring("default");
    color_scheme_action_ = add_action_radio_string("color-scheme", sigc::mem_fun(*this, &Application::on_color_scheme), scheme);
    apply_color_scheme(scheme);

    set_accel_for_action("app.quit", "<Control>q");
    set_accel_for_action("app.preferences", "<Control>comma");
    set_accel_for_action("app.shortcuts", "<Control>question");
    set_accel_for_action("win.search", "<Control>f");
    set_accels_for_action("win.next-conversation", {"<Control>Page_Down", "<Alt>Down"});
    set_accels_for_action("win.previous-conversation", {"<Control>Page_Up", "<Alt>Up"});
    set_accel_for_action("win.verify", "<Control>i");
}

void Application::install_css()
{
    auto css = Gtk::CssProvider::create();
    css->load_from_data(kCss);
    Gtk::StyleContext::add_provider_for_display(Gdk::Display::get_default(), css,
                                                GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
}

template <class W>
W* Application::own_window(W* window)
{
    add_window(*window);
    window->set_hide_on_close(true);  // destroying would skip "hide" and so the delete below
    window->signal_hide().connect([this, window] {
        if (pending_window_ == window)
            pending_window_ = nullptr;
        // Deleted from an idle: GTK is still inside the hide emission.
        Glib::signal_idle().connect_once([window] { delete window; });
    });
    return window;
}

void Application::on_activate()
{
    if (main_window_) {
        show_main_window();
        return;
    }
    if (pending_window_) {
        pending_window_->present();
        return;
    }
    open_profile();
}

void Application::open_profile()
{
    if (!profile_) {
        auto opened = core::Profile::open(profile_dir_);
        if (!opened) {
            if (opened.error().code == "locked")
                show_error(_("Chinwag is already open"), error_text(opened.error()), true);
            else
                show_error(_("Cannot open your profile"), error_text(opened.error()), true);
            return;
        }
        profile_ = std::move(*opened);
    }
    if (instance_ && profile_->settings().instance != *instance_) {
        core::Settings s = profile_->settings();
        s.instance = *instance_;
        if (auto saved = profile_->save(s); !saved) {
            show_error(_("Cannot save your settings"), error_text(saved.error()), true);
            return;
        }
    }
    if (!profile_->initialized()) {
        show_welcome();
        return;
    }
    start_messenger();
}

void Application::show_welcome()
{
    auto* w = own_window(welcome_window(*this, core::Profile::default_nick(),
                                        [this](const std::string& nick, Gtk::Window* win) { finish_welcome(nick, win); }));
    pending_window_ = w;
    w->present();
}

void Application::finish_welcome(const std::string& nick, Gtk::Window* welcome)
{
    core::Settings s = profile_->settings();
    s.nick = nick;
    if (auto saved = profile_->save(s); !saved) {
        show_error(_("Cannot save your settings"), error_text(saved.error()), true);
        return;
    }
    Gtk::Window* old = pending_window_;
    pending_window_ = nullptr;
    start_messenger();
    if (old)
        old->hide();
    (void)welcome;
}

void Application::start_messenger()
{
    if (!messenger_) {
        auto created = core::Messenger::create(std::move(profile_));
        if (!created) {
            profile_.reset();  // releases the lock: Retry opens it again
            show_error(_("Chinwag cannot start"), error_text(created.error()), true);
            return;
        }
        messenger_ = std::move(*created);
    }
    // Not own_window(): closing the main window hides it and the app stays in the background.
    // Not add_window() either: gtkmm's version drops a window from the application when it is
    // hidden. MainWindow joins the application through gtk_window_set_application() and stays in
    // it while hidden (on_close hides it), so its win.* actions and accelerators keep working.
    auto* w = new MainWindow(*this, *messenger_, settings_);
    main_window_ = w;
    if (!held_) {
        hold();
        held_ = true;
    }
    // Signals first, so nothing start() reports (e.g. no avahi-daemon) is missed.
    w->attach();
    if (auto started = messenger_->start(); !started)
        w->show_notice(error_text(started.error()), true);
    if (!pending_conversation_.empty()) {
        w->open_conversation(pending_conversation_);
        pending_conversation_.clear();
    }
    w->present();
}

void Application::show_error(const Glib::ustring& title, const Glib::ustring& text, bool can_retry)
{
    Gtk::Window* old = pending_window_;
    std::function<void()> retry;
    if (can_retry)
        retry = [this] {
            Gtk::Window* w = pending_window_;
            pending_window_ = nullptr;
            open_profile();
            if (w)
                w->hide();
        };
    auto* w = own_window(error_window(*this, title, text, retry));
    pending_window_ = w;
    w->present();
    if (old)
        old->hide();
}

void Application::on_open_conversation(const Glib::VariantBase& parameter)
{
    auto id = Glib::VariantBase::cast_dynamic<Glib::Variant<Glib::ustring>>(parameter).get();
    if (!main_window_) {
        pending_conversation_ = id;
        activate();
        return;
    }
    main_window_->open_conversation(id);
    show_main_window();
}

void Application::show_main_window()
{
    if (!main_window_->get_application())
        gtk_application_add_window(gobj(), GTK_WINDOW(main_window_->gobj()));
    main_window_->present();
}

void Application::quit_app()
{
    if (main_window_ && main_window_->get_visible())
        main_window_->save_state();
    if (held_) {
        release();
        held_ = false;
    }
    for (auto* w : get_windows())
        w->hide();
    g_settings_sync();  // the window state reaches the backend before the process ends
    quit();
}

void Application::on_color_scheme(const Glib::ustring& scheme)
{
    if (scheme != "default" && scheme != "light" && scheme != "dark")
        return;
    color_scheme_action_->change_state(scheme);
    if (settings_)
        settings_->set_string("color-scheme", scheme);
    apply_color_scheme(scheme);
}

void Application::apply_color_scheme(const Glib::ustring& scheme)
{
    AdwColorScheme s = ADW_COLOR_SCHEME_DEFAULT;
    if (scheme == "light")
        s = ADW_COLOR_SCHEME_FORCE_LIGHT;
    else if (scheme == "dark")
        s = ADW_COLOR_SCHEME_FORCE_DARK;
    adw_style_manager_set_color_scheme(adw_style_manager_get_default(), s);
}

void Application::show_about()
{
    gtk_window_present(GTK_WINDOW(about_window(get_active_window())));
}

void Application::show_preferences()
{
    if (!messenger_ || !main_window_)
        return;
    Glib::ustring scheme;
    color_scheme_action_->get_state(scheme);
    auto* window = main_window_;
    GtkWidget* w = preferences_window(
        main_window_, *messenger_, *this, scheme, [this] {
            if (main_window_)
                main_window_->settings_changed();
        },
        [window, this](const Glib::ustring& text) {
            if (main_window_ == window)
                window->show_toast(text);
        });
    gtk_window_present(GTK_WINDOW(w));
}

void Application::show_shortcuts()
{
    shortcuts_window(get_active_window())->present();
}

}  // namespace chinwag::gui

int main(int argc, char** argv)
{
    std::setlocale(LC_ALL, "");
    // CHINWAG_LOCALEDIR: the build's locale tree, for running uninstalled (run-chinwag, tests).
    const char* localedir = g_getenv("CHINWAG_LOCALEDIR");
    bindtextdomain(GETTEXT_PACKAGE, localedir && *localedir ? localedir : LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    textdomain(GETTEXT_PACKAGE);
    // gtkmm opens the display when the application is created: answer --version before, so it
    // works without one (scripts, packaging).
    // --help likewise: GApplication would only print it after the display is open.
    for (int i = 1; i < argc; ++i) {
        std::string_view arg(argv[i]);
        if (arg == "--version") {
            std::printf("chinwag %s\n", PACKAGE_VERSION);
            return 0;
        }
        if (arg == "--help" || arg == "-h" || arg == "-?" || arg == "--help-all") {
            g_set_prgname("chinwag");
            std::fputs(chinwag::gui::Application::help_text().c_str(), stdout);
            return 0;
        }
    }
    // A peer that goes away mid-write must not kill the app; writes report EPIPE instead.
    std::signal(SIGPIPE, SIG_IGN);
    auto app = chinwag::gui::Application::create();
    return app->run(argc, argv);
}
