#include "cli/options.hpp"

#include <charconv>
#include <map>

#include <glib/gi18n.h>

#include "cli/console_text.hpp"

namespace chinwag::cli {

namespace {

Error usage(std::string why) { return make_error("usage", std::move(why)); }

const std::map<std::string, Command>& command_names()
{
    static const std::map<std::string, Command> names = {
        {"init", Command::Init},         {"whoami", Command::Whoami},   {"contacts", Command::Contacts},
        {"history", Command::History},   {"jsonrpc", Command::JsonRpc},
    };
    return names;
}

}  // namespace

Result<Options> parse_options(const std::vector<std::string>& args)
{
    Options o;
    bool have_command = false;
    std::vector<std::string> positional;
    std::optional<std::string> nick, limit;

    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        // "--name value" and "--name=value" are both accepted.
        auto value_of = [&](const std::string& name, std::optional<std::string>& into) -> Result<bool> {
            if (a == name) {
                if (i + 1 >= args.size())
                    return usage(fill(_("%s needs a value"), {name}));
                into = args[++i];
            } else if (a.rfind(name + "=", 0) == 0) {
                into = a.substr(name.size() + 1);
            } else {
                return false;
            }
            if (into->empty())
                return usage(fill(_("%s needs a non-empty value"), {name}));
            return true;
        };
        if (a == "--help" || a == "-h") {
            o.command = Command::Help;
            return o;
        }
        if (a == "--version") {
            o.command = Command::Version;
            return o;
        }
        bool matched = false;
        for (auto [name, slot] : {std::pair{"--profile", &o.profile_dir}, std::pair{"--instance", &o.instance},
                                  std::pair{"--nick", &nick}, std::pair{"--limit", &limit}}) {
            auto r = value_of(name, *slot);
            if (!r)
                return r.error();
            if (*r) {
                matched = true;
                break;
            }
        }
        if (matched)
            continue;
        if (a.size() > 1 && a[0] == '-')
            return usage(fill(_("unknown option %s"), {a}));
        if (!have_command) {
            auto it = command_names().find(a);
            if (it == command_names().end())
                return usage(fill(_("unknown command %s"), {a}));
            o.command = it->second;
            have_command = true;
        } else {
            positional.push_back(a);
        }
    }

    if (nick && o.command != Command::Init)
        return usage(_("--nick is only for init"));
    if (limit && o.command != Command::History)
        return usage(_("--limit is only for history"));

    switch (o.command) {
    case Command::Init:
        if (!nick)
            return usage(_("init needs --nick NAME"));
        o.nick = *nick;
        break;
    case Command::History:
        if (positional.empty())
            return usage(_("history needs a PEER"));
        o.peer = positional[0];
        positional.erase(positional.begin());
        if (limit) {
            int n = 0;
            auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), n);
            if (ec != std::errc() || end != limit->data() + limit->size() || n < 1)
                return usage(_("--limit needs a positive whole number"));
            o.limit = n;
        }
        break;
    default: break;
    }
    if (!positional.empty())
        return usage(fill(_("unexpected argument %s"), {positional[0]}));
    return o;
}

std::string usage_text()
{
    return _("Usage: chinwag-cli [--profile DIR] [--instance NAME] [COMMAND]\n"
             "\n"
             "A LAN messenger for terminals and scripts.\n"
             "\n"
             "Options:\n"
             "  --profile DIR     keep identity, settings and history in DIR\n"
             "                    (default: $XDG_DATA_HOME/chinwag and $XDG_CONFIG_HOME/chinwag)\n"
             "  --instance NAME   publish as NAME on the LAN (saved in the settings)\n"
             "  --help            show this help\n"
             "  --version         show the version\n"
             "\n"
             "Commands (without one: interactive on a terminal, commands line by line otherwise):\n"
             "  init --nick NAME          create the identity and settings; print the fingerprint\n"
             "  whoami                    show nickname, instance name and fingerprint\n"
             "  contacts                  list known contacts, one per line, fields split by tabs:\n"
             "                            id, nick, instance, trust, fingerprint or \"legacy\"\n"
             "  history PEER [--limit N]  show the last N messages with PEER (default 50)\n"
             "  jsonrpc                   JSON-RPC 2.0 on stdin/stdout, one object per line\n"
             "\n"
             "PEER is an instance name (alice@lab), a contact id or a fingerprint.\n"
             "Exit status: 0 ok, 1 runtime error, 2 usage error.\n");
}

}  // namespace chinwag::cli
