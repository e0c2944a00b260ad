#include "cli/one_shot.hpp"

#include <ostream>

#include <glib/gi18n.h>

#include "cli/console_text.hpp"
#include "crypto/fingerprint.hpp"

namespace chinwag::cli {

namespace {

int fail(std::ostream& err, const Error& e)
{
    err << "chinwag-cli: " << printable(e.message) << '\n';
    return 1;
}

}  // namespace

// whoami, contacts and history print fixed formats for scripts (README): those words are not
// translated; error sentences are.
int run_one_shot(const Options& options, core::Messenger& messenger, std::ostream& out, std::ostream& err)
{
    switch (options.command) {
    case Command::Init:
        // The identity was created (or loaded) by Messenger::create; the nickname was saved before.
        out << crypto::format_fingerprint(messenger.self().fingerprint) << '\n';
        break;
    case Command::Whoami: {
        auto self = messenger.self();
        out << "nick: " << printable(self.nick) << '\n'
            << "instance: " << printable(self.instance) << '\n'
            << "fingerprint: " << crypto::format_fingerprint(self.fingerprint) << '\n';
        break;
    }
    case Command::Contacts:
        // Tab-separated so a formatted fingerprint (which has spaces) stays one field;
        // printable() turns tabs inside names into spaces.
        for (const auto& p : messenger.peers()) {
            out << printable(p.id) << '\t' << printable(p.nick) << '\t' << printable(p.instance) << '\t'
                << model::to_string(p.trust) << '\t'
                << (p.fingerprint.empty() ? std::string("legacy") : crypto::format_fingerprint(p.fingerprint))
                << '\n';
        }
        break;
    case Command::History: {
        auto peer = messenger.peer(options.peer);
        if (!peer)
            return fail(err, peer.error());
        auto messages = messenger.history(options.peer, options.limit);
        if (!messages)
            return fail(err, messages.error());
        for (const auto& m : *messages)
            out << message_line(m, peer->instance, peer->trust, true) << '\n';
        break;
    }
    default:
        err << "chinwag-cli: " << _("not a one-shot command") << '\n';
        return 1;
    }
    out.flush();
    if (!out) {
        err << "chinwag-cli: " << _("cannot write to standard output") << '\n';
        return 1;
    }
    return 0;
}

}  // namespace chinwag::cli
