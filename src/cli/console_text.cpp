#include "cli/console_text.hpp"

#include <ctime>
#include <optional>

#include <glib.h>
#include <glib/gi18n.h>

namespace chinwag::cli {

namespace {

constexpr std::string_view kSpace = " \t\r\n";

std::string_view trim(std::string_view s)
{
    auto b = s.find_first_not_of(kSpace);
    if (b == std::string_view::npos)
        return {};
    auto e = s.find_last_not_of(kSpace);
    return s.substr(b, e - b + 1);
}

// Takes the next word (or "quoted string") off the front of `rest`. nullopt: nothing left;
// sets `bad` on an unterminated quote.
std::optional<std::string> next_word(std::string_view& rest, bool& bad)
{
    rest = trim(rest);
    if (rest.empty())
        return std::nullopt;
    if (rest.front() == '"') {
        auto close = rest.find('"', 1);
        if (close == std::string_view::npos) {
            bad = true;
            return std::nullopt;
        }
        std::string word(rest.substr(1, close - 1));
        rest.remove_prefix(close + 1);
        return word;
    }
    auto end = rest.find_first_of(kSpace);
    std::string word(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    return word;
}

bool must_replace(gunichar c)
{
    return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) ||
           (c >= 0x2066 && c <= 0x2069);
}

std::string clean(std::string_view text, bool multiline, std::string_view indent)
{
    gchar* valid = g_utf8_make_valid(text.data(), static_cast<gssize>(text.size()));
    std::string out;
    out.reserve(text.size());
    for (const gchar* p = valid; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (multiline && c == '\n') {
            out += '\n';
            out += indent;
        } else if (multiline && c == '\r') {
            // CR LF from some clients: the LF does the work.
        } else if (c == '\t') {
            out += ' ';
        } else if (must_replace(c)) {
            out += "\xEF\xBF\xBD";
        } else {
            out.append(p, static_cast<std::size_t>(g_utf8_next_char(p) - p));
        }
    }
    g_free(valid);
    return out;
}

}  // namespace

ConsoleCommand parse_console_command(std::string_view line)
{
    line = trim(line);
    if (line.empty())
        return cmd::Empty{};
    if (line.front() != '/')
        return cmd::Bad{_("commands start with / (try /help); to send a message: /msg PEER TEXT")};
    auto end = line.find_first_of(kSpace);
    std::string name(line.substr(0, end));
    std::string_view rest = end == std::string_view::npos ? std::string_view() : line.substr(end);

    bool bad = false;
    auto peer_only = [&](auto command) -> ConsoleCommand {
        auto peer = next_word(rest, bad);
        if (bad)
            return cmd::Bad{_("missing closing \" in PEER")};
        if (!peer || peer->empty())
            return cmd::Bad{fill(_("usage: %s PEER"), {name})};
        if (!trim(rest).empty())
            return cmd::Bad{fill(_("usage: %s PEER (quote a PEER that has spaces)"), {name})};
        command.peer = *peer;
        return command;
    };

    if (name == "/msg") {
        auto peer = next_word(rest, bad);
        if (bad)
            return cmd::Bad{_("missing closing \" in PEER")};
        std::string_view text = trim(rest);
        if (!peer || peer->empty() || text.empty())
            return cmd::Bad{_("usage: /msg PEER TEXT")};
        return cmd::Msg{*peer, std::string(text)};
    }
    if (name == "/status") {
        auto word = next_word(rest, bad);
        std::optional<model::Status> status;
        if (word && !bad)
            status = model::status_from_string(*word);
        if (!status)
            return cmd::Bad{_("usage: /status available|away|busy [MESSAGE]")};
        return cmd::SetStatus{*status, std::string(trim(rest))};
    }
    if (name == "/verify")
        return peer_only(cmd::Verify{});
    if (name == "/trust")
        return peer_only(cmd::Trust{});
    if (name == "/history")
        return peer_only(cmd::History{});
    if (name == "/search") {
        std::string_view words = trim(rest);
        if (words.empty())
            return cmd::Bad{_("usage: /search WORDS")};
        return cmd::Search{std::string(words)};
    }
    if (name == "/who")
        return cmd::Who{};
    if (name == "/help")
        return cmd::Help{};
    if (name == "/quit")
        return cmd::Quit{};
    return cmd::Bad{fill(_("unknown command %s (try /help)"), {printable(name)})};
}

std::string console_help()
{
    return _("Commands:\n"
             "  /msg PEER TEXT                      send TEXT to PEER (sent later if PEER is away)\n"
             "  /status available|away|busy [MSG]   set your status and status message\n"
             "  /who                                list contacts and peers on the LAN\n"
             "  /verify PEER                        show fingerprints and the safety number to compare\n"
             "  /trust PEER                         mark PEER verified, after comparing\n"
             "  /history PEER                       show recent messages with PEER\n"
             "  /search WORDS                       search all messages\n"
             "  /help                               this text\n"
             "  /quit                               leave (or Ctrl+D)\n"
             "PEER is an instance name (alice@lab), a contact id or a fingerprint;\n"
             "put it in \"double quotes\" if it has spaces. Tab completes commands and peers.\n");
}

const std::vector<std::string>& console_command_names()
{
    static const std::vector<std::string> names = {"/msg",     "/status", "/who",  "/verify", "/trust",
                                                   "/history", "/search", "/help", "/quit"};
    return names;
}

bool takes_peer_at(std::string_view command, int word_index)
{
    if (word_index != 1)
        return false;
    return command == "/msg" || command == "/verify" || command == "/trust" || command == "/history";
}

std::string printable(std::string_view text) { return clean(text, false, {}); }

std::string printable_multiline(std::string_view text, std::string_view indent)
{
    return clean(text, true, indent);
}

std::string clock_time(std::int64_t ms, bool with_date)
{
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, with_date ? "%Y-%m-%d %H:%M" : "%H:%M", &tm);
    return buf;
}

// Not translated: `chinwag-cli history` prints these lines for scripts (README), so the markers
// "me ->", "(queued)", ... stay the same in every language.
std::string message_line(const model::Message& m, std::string_view who, model::Trust trust, bool with_date)
{
    std::string line = "[" + clock_time(m.timestamp_ms, with_date) + "] ";
    bool outgoing = m.direction == model::Direction::Outgoing;
    if (outgoing)
        line += "me -> ";
    line += printable(who);
    if (trust == model::Trust::Impostor)
        line += " (IMPOSTOR?)";
    // An outgoing message has no transport until it leaves the outbox.
    if (!m.secure && !(outgoing && m.state == model::MessageState::Queued))
        line += " (unencrypted)";
    if (outgoing) {
        switch (m.state) {
        case model::MessageState::Queued: line += " (queued)"; break;
        case model::MessageState::Failed:
            line += m.failure_reason.empty() ? " (failed)" : " (failed: " + printable(m.failure_reason) + ")";
            break;
        default: break;
        }
    }
    line += ": ";
    line += printable_multiline(m.body, "    ");
    return line;
}

std::string console_prompt(const std::vector<std::string>& typing)
{
    if (typing.empty())
        return "chinwag> ";
    std::string who;
    if (typing.size() == 1)
        who = fill(_("%s is typing…"), {printable(typing[0])});
    else if (typing.size() == 2)
        who = fill(_("%s and %s are typing…"), {printable(typing[0]), printable(typing[1])});
    else
        who = fill(_("%s people are typing…"), {std::to_string(typing.size())});
    return "chinwag (" + who + ")> ";
}

std::string warning_line(std::string_view kind, std::string_view peer, std::string_view detail)
{
    std::string line = fill(_("*** WARNING (%s)"), {printable(kind)});
    if (!peer.empty())
        line += " " + printable(peer);
    line += ": " + printable(detail) + " ***";
    return line;
}

// A translated sentence (gettext, po/) with its %s filled in order, or %1$s... by number.
std::string fill(const char* text, std::initializer_list<std::string> args)
{
    std::vector<std::string> a(args);
    std::string out;
    std::size_t next = 0;
    for (const char* p = text; *p; ++p) {
        if (p[0] == '%' && p[1] == 's') {
            out += next < a.size() ? a[next++] : std::string();
            ++p;
        } else if (p[0] == '%' && p[1] >= '1' && p[1] <= '9' && p[2] == '$' && p[3] == 's') {
            std::size_t i = static_cast<std::size_t>(p[1] - '1');
            out += i < a.size() ? a[i] : std::string();
            p += 3;
        } else {
            out += *p;
        }
    }
    return out;
}

}  // namespace chinwag::cli
