// Console: owns the interactive session's terminal side: the readline callback state (or a plain
// line reader when stdin is not a terminal), the stdin watch, the history file, and the view state
// needed to print presence changes once.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <glibmm/main.h>
#include <sigc++/sigc++.h>

#include "cli/console_text.hpp"
#include "cli/json_rpc.hpp"
#include "core/messenger.hpp"

namespace chinwag::cli {

class Console : public sigc::trackable {
public:
    // use_readline: stdin is a terminal (line editing, prompt, history file at history_path).
    Console(core::Messenger& messenger, Glib::RefPtr<Glib::MainLoop> loop, bool use_readline,
            std::string history_path);
    ~Console();
    Console(const Console&) = delete;
    Console& operator=(const Console&) = delete;

    // Connects to the Messenger's signals, prints a greeting and starts reading commands.
    void start();
    // Leaves the terminal as it was and saves the history. Also done by the destructor.
    void stop();

    // For the readline C callbacks.
    void on_readline_line(char* line);
    std::vector<std::string> peer_names() const;

private:
    bool on_input(Glib::IOCondition condition);
    void execute(const std::string& line);
    void show(const std::string& text);
    void show_warning(const std::string& text);
    void show_error(const Error& error);

    void on_message(const model::Message& message);
    void on_message_state(const model::Message& message);
    void on_peer_changed(const core::PeerView& peer);
    void on_peer_gone(const std::string& id);

    void do_who();
    void do_verify(const std::string& peer);
    void do_messages(const std::vector<model::Message>& messages);

    // What was last printed about a peer's presence, so only changes are printed.
    struct Seen {
        std::string instance;
        bool online = false;
        model::Status status = model::Status::Available;
        std::string message;
    };

    core::Messenger& messenger_;
    Glib::RefPtr<Glib::MainLoop> loop_;
    bool readline_;
    bool color_;
    std::string history_path_;
    sigc::connection input_;
    std::vector<sigc::connection> connections_;
    rpc::LineSplitter splitter_;
    std::map<std::string, Seen> seen_;
    std::map<std::string, std::string> typing_;  // contact id → name, while composing to us
    void update_prompt();
    unsigned sigwinch_source_ = 0;
    bool in_line_handler_ = false;
    bool running_ = false;
};

}  // namespace chinwag::cli
