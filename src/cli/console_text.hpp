// Text of the interactive console: parsing typed commands and formatting lines for a terminal.
// Pure functions, so what a person sees is unit-tested.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "model/types.hpp"

namespace chinwag::cli {

namespace cmd {
struct Empty {};
struct Msg { std::string peer, text; };
struct SetStatus { model::Status status = model::Status::Available; std::string message; };
struct Who {};
struct Verify { std::string peer; };
struct Trust { std::string peer; };
struct History { std::string peer; };
struct Search { std::string words; };
struct Help {};
struct Quit {};
struct Bad { std::string why; };   // a usage error to show
}  // namespace cmd

using ConsoleCommand = std::variant<cmd::Empty, cmd::Msg, cmd::SetStatus, cmd::Who, cmd::Verify, cmd::Trust,
                                    cmd::History, cmd::Search, cmd::Help, cmd::Quit, cmd::Bad>;

// One typed line. A PEER is one word, or a "double-quoted" string when it holds spaces.
ConsoleCommand parse_console_command(std::string_view line);

// The /help text.
std::string console_help();

// The command names, for Tab completion.
const std::vector<std::string>& console_command_names();
// True if the word at `word_index` (0 = the command) of a line starting with `command` is a PEER.
bool takes_peer_at(std::string_view command, int word_index);

// Text from peers made safe for a terminal: invalid UTF-8 and NUL become U+FFFD, and control
// characters (C0, DEL, C1: escape sequences could rewrite the screen) and bidi overrides (which
// could make one name look like another) become U+FFFD. In multi-line mode a newline is kept
// and followed by `indent` so continuation lines stand apart from new messages.
// A translated sentence (gettext, po/) with its %s filled in order, or %1$s... by number.
std::string fill(const char* text, std::initializer_list<std::string> args);

std::string printable(std::string_view text);
std::string printable_multiline(std::string_view text, std::string_view indent);

// Local time "HH:MM", and "YYYY-MM-DD HH:MM" when with_date.
std::string clock_time(std::int64_t ms, bool with_date);

// "[12:03] alice@lab: text", with "(unencrypted)" after the name when !secure, "(IMPOSTOR?)"
// when trust is Impostor, and for outgoing lines "me → who" plus the delivery state unless sent.
std::string message_line(const model::Message& message, std::string_view who, model::Trust trust, bool with_date);

// The interactive prompt: "chinwag> ", or with who is typing to us (XEP-0085 composing):
// "chinwag (bob@lab is typing…)> ", "chinwag (bob@lab and carol@lab are typing…)> ",
// "chinwag (3 people are typing…)> ". Names are made printable.
std::string console_prompt(const std::vector<std::string>& typing);

// A prominent warning line: "*** WARNING (kind) peer: detail ***".
std::string warning_line(std::string_view kind, std::string_view peer, std::string_view detail);

}  // namespace chinwag::cli
