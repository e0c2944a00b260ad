#include "cli/console.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <vector>
#include <sys/stat.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <readline/history.h>
#include <readline/readline.h>

#include "crypto/fingerprint.hpp"

namespace chinwag::cli {

namespace {

constexpr int kHistoryLines = 1000;
constexpr int kConsoleHistoryLimit = 20;
constexpr int kSearchLimit = 50;

// readline's callback interface takes plain function pointers without user data, so the one
// Console that installed the handler is reached through this pointer (set in start(), cleared
// in stop()). It is not a singleton: nothing else reads it.
Console* g_console = nullptr;

void line_handler(char* line)
{
    if (g_console)
        g_console->on_readline_line(line);
    else
        std::free(line);
}

// Tab completion: commands in the first word, peer instance names where a PEER goes.
std::vector<std::string> g_matches;
std::size_t g_match_index = 0;

char* match_generator(const char*, int state)
{
    if (state == 0)
        g_match_index = 0;
    if (g_match_index < g_matches.size())
        return strdup(g_matches[g_match_index++].c_str());
    return nullptr;
}

char** complete(const char* text, int start, int)
{
    rl_attempted_completion_over = 1;   // never fall back to file names
    std::string before(rl_line_buffer, static_cast<std::size_t>(start));
    if (rl_completion_quote_character && !before.empty() && before.back() == rl_completion_quote_character)
        before.pop_back();  // the opening quote of the word being completed is not a word before it
    int word_index = 0;
    std::string first;
    bool in_word = false;
    for (char c : before) {
        if (c == ' ' || c == '\t') {
            in_word = false;
        } else if (!in_word) {
            in_word = true;
            ++word_index;
        }
        if (word_index == 1 && in_word)
            first += c;
    }
    std::vector<std::string> candidates;
    if (word_index == 0)
        candidates = console_command_names();
    else if (takes_peer_at(first, word_index) && g_console)
        candidates = g_console->peer_names();
    g_matches.clear();
    std::string_view prefix(text);
    for (auto& c : candidates) {
        if (c.compare(0, prefix.size(), prefix) != 0)
            continue;
        // A name with spaces must be quoted to stay one word (parse_console_command). After an
        // opening quote typed by the user readline adds the closing one itself; otherwise the
        // completion brings both.
        if (rl_completion_quote_character == 0 && c.find_first_of(" \t") != std::string::npos)
            g_matches.push_back("\"" + c + "\"");
        else
            g_matches.push_back(c);
    }
    if (g_matches.empty())
        return nullptr;
    return rl_completion_matches(text, match_generator);
}

gboolean on_sigwinch(gpointer)
{
    rl_resize_terminal();
    return G_SOURCE_CONTINUE;
}

std::string status_words(model::Status status, const std::string& message)
{
    std::string s(model::to_string(status));
    if (!message.empty())
        s += " \"" + printable(message) + "\"";
    return s;
}

std::string trust_words(model::Trust trust)
{
    switch (trust) {
    case model::Trust::Legacy: return _("legacy, unencrypted");
    case model::Trust::Impostor: return _("IMPOSTOR?");
    case model::Trust::Unknown: return _("not yet checked");  // key announced, not yet proven
    default: return std::string(model::to_string(trust));
    }
}

// "alice@lab (Alice)", or just the instance when the nickname adds nothing.
std::string display_name(const core::PeerView& p)
{
    std::string name = printable(p.instance.empty() ? p.id : p.instance);
    if (!p.nick.empty() && p.instance.rfind(p.nick + "@", 0) != 0 && p.nick != p.instance)
        name += " (" + printable(p.nick) + ")";
    return name;
}

}  // namespace

Console::Console(core::Messenger& messenger, Glib::RefPtr<Glib::MainLoop> loop, bool use_readline,
                 std::string history_path)
    : messenger_(messenger),
      loop_(std::move(loop)),
      readline_(use_readline),
      color_(isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr),
      history_path_(std::move(history_path))
{
}

Console::~Console()
{
    stop();
    for (auto& c : connections_)
        c.disconnect();
}

void Console::start()
{
    for (const auto& p : messenger_.peers())
        seen_[p.id] = Seen{p.instance, p.online, p.status, p.message};

    connections_.push_back(messenger_.signal_message().connect(sigc::mem_fun(*this, &Console::on_message)));
    connections_.push_back(
        messenger_.signal_message_state().connect(sigc::mem_fun(*this, &Console::on_message_state)));
    connections_.push_back(
        messenger_.signal_peer_changed().connect(sigc::mem_fun(*this, &Console::on_peer_changed)));
    connections_.push_back(messenger_.signal_peer_gone().connect(sigc::mem_fun(*this, &Console::on_peer_gone)));
    connections_.push_back(messenger_.signal_warning().connect([this](const core::Warning& w) {
        show_warning(warning_line(w.kind, w.peer, w.detail));
    }));
    connections_.push_back(messenger_.signal_notice().connect([this](const core::Notice& n) {
        show("* " + printable(n.detail) + " (" + printable(n.kind) + ")");
    }));

    auto self = messenger_.self();
    show(fill(readline_ ? _("Chinwag: you are %s as %s. Type /help for commands, Ctrl+D to quit.")
                        : _("Chinwag: you are %s as %s. Type /help for commands."),
              {printable(self.nick), printable(self.instance)}));

    running_ = true;
    if (readline_) {
        g_console = this;
        // GLib owns signals: readline must not install handlers of its own in callback mode.
        rl_catch_signals = 0;
        rl_catch_sigwinch = 0;
        rl_readline_name = "chinwag";
        rl_attempted_completion_function = complete;
        rl_completer_quote_characters = "\"";
        using_history();
        stifle_history(kHistoryLines);
        read_history(history_path_.c_str());   // absent on first run: not an error
        rl_callback_handler_install(console_prompt({}).c_str(), line_handler);
        sigwinch_source_ = g_unix_signal_add(SIGWINCH, on_sigwinch, nullptr);
    }
    input_ = Glib::signal_io().connect(sigc::mem_fun(*this, &Console::on_input), STDIN_FILENO,
                                       Glib::IOCondition::IO_IN | Glib::IOCondition::IO_HUP |
                                           Glib::IOCondition::IO_ERR);
}

void Console::stop()
{
    if (!running_)
        return;
    running_ = false;
    input_.disconnect();
    if (readline_) {
        rl_callback_handler_remove();
        if (sigwinch_source_)
            g_source_remove(sigwinch_source_);
        sigwinch_source_ = 0;
        if (write_history(history_path_.c_str()) == 0)
            chmod(history_path_.c_str(), 0600);   // typed messages are in it
        g_console = nullptr;
    }
    loop_->quit();
}

std::vector<std::string> Console::peer_names() const
{
    std::vector<std::string> names;
    for (const auto& p : messenger_.peers())
        if (!p.instance.empty())
            names.push_back(p.instance);
    return names;
}

bool Console::on_input(Glib::IOCondition condition)
{
    if (readline_) {
        if ((condition & Glib::IOCondition::IO_IN) == Glib::IOCondition::IO_IN) {
            rl_callback_read_char();
            return running_;
        }
        stop();   // the terminal went away
        return false;
    }
    char buf[16 * 1024];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    std::vector<rpc::LineSplitter::Line> lines;
    if (n > 0)
        lines = splitter_.feed(std::string_view(buf, static_cast<std::size_t>(n)));
    else if (auto last = splitter_.finish())
        lines.push_back(std::move(*last));
    for (const auto& line : lines) {
        if (!running_)
            break;
        if (line.too_long)
            show(_("error: line too long"));
        else
            execute(line.text);
    }
    if (n <= 0)
        stop();   // end of input: leave like /quit
    return running_;
}

void Console::on_readline_line(char* line)
{
    if (!line) {
        // Ctrl+D on an empty line.
        std::fputc('\n', stdout);
        stop();
        return;
    }
    std::string text(line);
    std::free(line);
    if (text.find_first_not_of(" \t") != std::string::npos)
        add_history(text.c_str());
    in_line_handler_ = true;
    execute(text);
    in_line_handler_ = false;
}

void Console::execute(const std::string& line)
{
    auto command = parse_console_command(line);
    if (auto* c = std::get_if<cmd::Bad>(&command)) {
        show(c->why);
    } else if (auto* c = std::get_if<cmd::Msg>(&command)) {
        auto sent = messenger_.send(c->peer, c->text);
        if (!sent)
            return show_error(sent.error());
        auto peer = messenger_.peer(sent->contact_id);
        show(message_line(*sent, peer ? peer->instance : c->peer, peer ? peer->trust : model::Trust::Unknown,
                          false));
    } else if (auto* c = std::get_if<cmd::SetStatus>(&command)) {
        auto r = messenger_.set_status(c->status, c->message);
        if (!r)
            return show_error(r.error());
        show(fill(_("* you are now %s"), {status_words(c->status, c->message)}));
    } else if (std::holds_alternative<cmd::Who>(command)) {
        do_who();
    } else if (auto* c = std::get_if<cmd::Verify>(&command)) {
        do_verify(c->peer);
    } else if (auto* c = std::get_if<cmd::Trust>(&command)) {
        auto r = messenger_.mark_verified(c->peer);
        if (!r)
            return show_error(r.error());
        show(fill(_("* %s is now marked verified."), {printable(c->peer)}));
    } else if (auto* c = std::get_if<cmd::History>(&command)) {
        auto r = messenger_.history(c->peer, kConsoleHistoryLimit);
        if (!r)
            return show_error(r.error());
        if (r->empty())
            show(fill(_("No messages with %s yet."), {printable(c->peer)}));
        do_messages(*r);
        if (auto read = messenger_.mark_read(c->peer); !read)   // the conversation was just shown
            show_error(read.error());
    } else if (auto* c = std::get_if<cmd::Search>(&command)) {
        auto r = messenger_.search(c->words, kSearchLimit);
        if (!r)
            return show_error(r.error());
        if (r->empty())
            show(_("No messages match."));
        do_messages(*r);
    } else if (std::holds_alternative<cmd::Help>(command)) {
        std::string help = console_help();
        help.pop_back();
        show(help);
    } else if (std::holds_alternative<cmd::Quit>(command)) {
        stop();
    }
}

void Console::show(const std::string& text)
{
    // Printing while a line is being typed: wipe the prompt and the partial line, print, then
    // let readline draw them again below, so the user's typing is neither lost nor interleaved.
    bool redraw = readline_ && running_ && !in_line_handler_;
    if (redraw)
        rl_clear_visible_line();
    std::fputs(text.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (redraw)
        rl_forced_update_display();
}

void Console::show_warning(const std::string& text)
{
    show(color_ ? "\033[1;31m" + text + "\033[0m" : text);
}

void Console::show_error(const Error& error) { show(fill(_("error: %s"), {printable(error.message)})); }

void Console::on_message(const model::Message& m)
{
    auto peer = messenger_.peer(m.contact_id);
    std::string who = peer ? peer->instance : m.contact_id;
    model::Trust trust = peer ? peer->trust : model::Trust::Unknown;
    std::string line = message_line(m, who, trust, false);
    if (trust == model::Trust::Impostor)
        show_warning(line);
    else
        show(line);
    if (auto read = messenger_.mark_read(m.contact_id); !read)   // it is on the screen now
        show_error(read.error());
}

void Console::on_message_state(const model::Message& m)
{
    if (m.state != model::MessageState::Failed)
        return;
    auto peer = messenger_.peer(m.contact_id);
    std::string who = peer ? peer->instance : m.contact_id;
    show_warning(m.failure_reason.empty()
                     ? fill(_("*** message to %s failed ***"), {printable(who)})
                     : fill(_("*** message to %s failed: %s ***"), {printable(who), printable(m.failure_reason)}));
}

void Console::on_peer_changed(const core::PeerView& p)
{
    auto it = seen_.find(p.id);
    bool known = it != seen_.end();
    Seen before = known ? it->second : Seen{};
    seen_[p.id] = Seen{p.instance, p.online, p.status, p.message};
    // XEP-0085: who is typing shows in the prompt, not as lines (one per keystroke burst).
    const bool composing = p.online && p.chat_state == "composing";
    if (composing != (typing_.count(p.id) > 0)) {
        if (composing)
            typing_[p.id] = p.instance.empty() ? p.id : p.instance;
        else
            typing_.erase(p.id);
        update_prompt();
    }
    // peer_changed also fires for unread counts and chat states: print presence changes only.
    if (p.online && (!known || !before.online || before.status != p.status || before.message != p.message)) {
        std::string line = fill(known && before.online ? _("* %s is now %s") : _("* %s is here: %s"),
                                {display_name(p), status_words(p.status, p.message)});
        if (p.trust == model::Trust::Legacy)
            line += _(" (unencrypted)");
        else if (p.trust == model::Trust::Impostor)
            line += _(" (IMPOSTOR?)");
        show(line);
    } else if (!p.online && known && before.online) {
        show(fill(_("* %s left"), {display_name(p)}));
    }
}

void Console::update_prompt()
{
    if (!readline_ || !running_)
        return;
    std::vector<std::string> names;
    for (const auto& [id, name] : typing_)
        names.push_back(name);
    const std::string prompt = console_prompt(names);
    if (in_line_handler_) {
        rl_set_prompt(prompt.c_str());  // drawn when the line handler returns
        return;
    }
    rl_clear_visible_line();  // the old prompt goes, the typed text is drawn again after the new one
    rl_set_prompt(prompt.c_str());
    rl_forced_update_display();
}

void Console::on_peer_gone(const std::string& id)
{
    if (typing_.erase(id))
        update_prompt();
    auto it = seen_.find(id);
    if (it == seen_.end() || !it->second.online)
        return;
    it->second.online = false;
    show(fill(_("* %s left"), {printable(it->second.instance.empty() ? id : it->second.instance)}));
}

void Console::do_who()
{
    auto peers = messenger_.peers();
    if (peers.empty())
        return show(_("Nobody yet: no contacts, and no one seen on the LAN so far."));
    std::string out;
    for (const auto& p : peers) {
        out += "  " + display_name(p) + "  ";
        // What the peer chose to publish (XEP-0174 1st/last/email), if anything.
        std::string real = p.first_name + (p.first_name.empty() || p.last_name.empty() ? "" : " ") + p.last_name;
        if (!p.email.empty())
            real += (real.empty() ? "<" : " <") + p.email + ">";
        if (!real.empty())
            out += "(" + printable(real) + ")  ";
        out += p.online ? status_words(p.status, p.message) : std::string(_("offline"));
        out += "  [" + trust_words(p.trust) + "]";
        if (p.unread > 0)
            out += "  " + fill(_("(%s unread)"), {std::to_string(p.unread)});
        out += '\n';
    }
    out.pop_back();
    show(out);
}

void Console::do_verify(const std::string& ref)
{
    auto peer = messenger_.peer(ref);
    if (!peer)
        return show_error(peer.error());
    if (peer->fingerprint.empty())
        return show(fill(_("%s is a legacy peer with no key: messages with it are unencrypted and it cannot be "
                           "verified."),
                         {display_name(*peer)}));
    auto number = messenger_.safety_number(ref);
    if (!number)
        return show_error(number.error());
    std::string instance = printable(peer->instance);
    std::string text =
        fill(peer->trust == model::Trust::Verified ? _("Verifying %s (already verified)") : _("Verifying %s"),
             {display_name(*peer)}) +
        "\n" +
        fill(_("  your fingerprint:   %s\n"
               "  their fingerprint:  %s\n"
               "  safety number:      %s\n"
               "Compare the safety number with them in person or on a call you trust: it must be the\n"
               "same on both screens (it is the same whoever computes it). If it matches, type\n"
               "  /trust %s\n"
               "If it does not match, someone else may be using this name: do not trust it."),
             {crypto::format_fingerprint(messenger_.self().fingerprint), crypto::format_fingerprint(peer->fingerprint),
              *number, instance.find(' ') != std::string::npos ? "\"" + instance + "\"" : instance});
    if (peer->trust == model::Trust::Impostor)
        return show_warning(text);
    show(text);
}

void Console::do_messages(const std::vector<model::Message>& messages)
{
    std::map<std::string, std::pair<std::string, model::Trust>> names;
    for (const auto& m : messages) {
        auto it = names.find(m.contact_id);
        if (it == names.end()) {
            auto peer = messenger_.peer(m.contact_id);
            it = names
                     .emplace(m.contact_id, peer ? std::pair{peer->instance, peer->trust}
                                                 : std::pair{m.contact_id, model::Trust::Unknown})
                     .first;
        }
        show(message_line(m, it->second.first, it->second.second, true));
    }
}

}  // namespace chinwag::cli
