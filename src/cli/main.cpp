// chinwag-cli: argument parsing and dispatch to the one-shot, interactive and JSON-RPC front ends.
#include "config.h"

#include <clocale>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <unistd.h>

#include <giomm/init.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <glibmm/main.h>

#include "cli/console.hpp"
#include "cli/json_rpc_server.hpp"
#include "cli/one_shot.hpp"
#include "cli/options.hpp"
#include "core/messenger.hpp"
#include "core/profile.hpp"
#include "util/log.hpp"

using namespace chinwag;
using namespace chinwag::cli;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

int runtime_error(const std::string& message)
{
    std::cerr << "chinwag-cli: " << message << '\n';
    return kExitRuntime;
}

gboolean quit_on_signal(gpointer loop)
{
    static_cast<Glib::MainLoop*>(loop)->quit();
    return G_SOURCE_CONTINUE;
}

// Runs the loop until a front end or SIGINT/SIGTERM/SIGHUP quits it, then removes the handlers.
void run_loop(const Glib::RefPtr<Glib::MainLoop>& loop)
{
    guint sources[] = {g_unix_signal_add(SIGINT, quit_on_signal, loop.get()),
                       g_unix_signal_add(SIGTERM, quit_on_signal, loop.get()),
                       g_unix_signal_add(SIGHUP, quit_on_signal, loop.get())};
    loop->run();
    for (guint s : sources)
        g_source_remove(s);
}

}  // namespace

int main(int argc, char** argv)
{
    std::setlocale(LC_ALL, "");
    // CHINWAG_LOCALEDIR: the build's locale tree, for running uninstalled (run-chinwag, tests).
    const char* localedir = g_getenv("CHINWAG_LOCALEDIR");
    bindtextdomain(GETTEXT_PACKAGE, localedir && *localedir ? localedir : LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    textdomain(GETTEXT_PACKAGE);
    auto parsed = parse_options(std::vector<std::string>(argv + 1, argv + argc));
    if (!parsed) {
        std::cerr << "chinwag-cli: " << parsed.error().message << '\n' << _("Try 'chinwag-cli --help'.") << '\n';
        return kExitUsage;
    }
    const Options& options = *parsed;
    if (options.command == Command::Help) {
        std::cout << usage_text();
        return kExitOk;
    }
    if (options.command == Command::Version) {
        std::cout << "chinwag-cli " PACKAGE_VERSION "\n";
        return kExitOk;
    }

    // A reader that goes away must not kill us mid-write; writes report EPIPE instead.
    std::signal(SIGPIPE, SIG_IGN);
    Gio::init();

    auto profile = core::Profile::open(options.profile_dir);
    if (!profile)
        return runtime_error(profile.error().message);

    const bool networked = options.command == Command::Default || options.command == Command::JsonRpc;
    if (!networked && options.command != Command::Init && !(*profile)->initialized())
        return runtime_error(_("this profile has no identity yet: run chinwag-cli init --nick NAME first"));

    core::Settings settings = (*profile)->settings();
    bool changed = false;
    if (options.command == Command::Init) {
        settings.nick = options.nick;
        changed = true;
    } else if (networked && !(*profile)->initialized()) {
        settings.nick = core::Profile::default_nick();
        changed = true;
    }
    if (options.instance && settings.instance != *options.instance) {
        settings.instance = *options.instance;
        changed = true;
    }
    if (changed) {
        if (auto saved = (*profile)->save(settings); !saved)
            return runtime_error(saved.error().message);
    }

    const std::string history_path = (*profile)->data_dir() + "/cli_history";
    auto messenger = core::Messenger::create(std::move(*profile));
    if (!messenger)
        return runtime_error(messenger.error().message);

    if (!networked)
        return run_one_shot(options, **messenger, std::cout, std::cerr);

    const bool terminal = options.command == Command::Default && isatty(STDIN_FILENO);
    // Info lines on stderr would land in the middle of the line being typed.
    if (terminal && !std::getenv("CHINWAG_LOG"))
        log::set_level(log::Level::Warning);

    // The front end connects to the Messenger's signals before start(), so nothing start()
    // reports (e.g. "avahi-daemon is not running") is missed.
    auto loop = Glib::MainLoop::create();
    auto run = [&](auto& front_end) {
        front_end.start();
        if (auto started = (*messenger)->start(); !started)
            return runtime_error(started.error().message);
        run_loop(loop);
        return kExitOk;
    };
    if (options.command == Command::JsonRpc) {
        JsonRpcServer server(**messenger, loop);
        return run(server);
    }
    Console console(**messenger, loop, terminal, history_path);
    return run(console);
}
