// JsonRpcServer: owns the stdin reader, line framing and output of `chinwag-cli jsonrpc`, and maps
// each call to one Messenger call and each Messenger signal to one notification line.
#pragma once

#include <cstdio>
#include <string>
#include <variant>
#include <vector>

#include <glibmm/main.h>
#include <sigc++/sigc++.h>

#include "cli/json_rpc.hpp"
#include "core/messenger.hpp"

namespace chinwag::cli {

class JsonRpcServer : public sigc::trackable {
public:
    // Reads requests from `in_fd`, writes one JSON text per line to `out`; quits `loop` on EOF,
    // on "quit", or when `out` is closed.
    JsonRpcServer(core::Messenger& messenger, Glib::RefPtr<Glib::MainLoop> loop, int in_fd = 0, FILE* out = stdout);
    ~JsonRpcServer();
    JsonRpcServer(const JsonRpcServer&) = delete;
    JsonRpcServer& operator=(const JsonRpcServer&) = delete;

    // Connects to the Messenger's signals and starts reading.
    void start();

private:
    using Outcome = std::variant<rpc::NodePtr, rpc::RpcError>;

    bool on_input(Glib::IOCondition condition);
    void handle_line(const rpc::LineSplitter::Line& line);
    Outcome run(const rpc::Call& call);
    void notify(std::string line);
    void write_line(const std::string& line);
    void stop();

    core::Messenger& messenger_;
    Glib::RefPtr<Glib::MainLoop> loop_;
    int in_fd_;
    FILE* out_;
    rpc::LineSplitter splitter_;
    sigc::connection input_;
    std::vector<sigc::connection> connections_;
    bool stopped_ = false;
    // Notifications raised while a call runs are written after its response, so a client sees
    // e.g. the id returned by "send" before the "messageState" about that id.
    bool in_call_ = false;
    std::vector<std::string> pending_;
};

}  // namespace chinwag::cli
