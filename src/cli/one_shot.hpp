// One-shot commands for scripts (init, whoami, contacts, history): one Messenger call each,
// printed to stdout; nothing on the network starts.
#pragma once

#include <iosfwd>

#include "cli/options.hpp"
#include "core/messenger.hpp"

namespace chinwag::cli {

// Runs options.command (Init, Whoami, Contacts or History). Returns the exit status
// (0 ok, 1 runtime error with a message on `err`).
int run_one_shot(const Options& options, core::Messenger& messenger, std::ostream& out, std::ostream& err);

}  // namespace chinwag::cli
