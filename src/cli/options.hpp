// Command-line options of chinwag-cli: a pure parse of argv into what to run, so usage errors
// (exit status 2) are decided and tested without touching a profile.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace chinwag::cli {

enum class Command {
    Default,    // interactive on a terminal, line commands otherwise
    Init,
    Whoami,
    Contacts,
    History,
    JsonRpc,
    Help,
    Version,
};

struct Options {
    std::optional<std::string> profile_dir;   // --profile DIR
    std::optional<std::string> instance;      // --instance NAME
    Command command = Command::Default;
    std::string nick;                         // init --nick NAME
    std::string peer;                         // history PEER
    int limit = 50;                           // history --limit N
};

// args: argv without the program name. Error code "usage" with a one-line reason.
Result<Options> parse_options(const std::vector<std::string>& args);

// The --help text.
std::string usage_text();

}  // namespace chinwag::cli
