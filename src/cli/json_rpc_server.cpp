#include "cli/json_rpc_server.hpp"

#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "crypto/fingerprint.hpp"
#include "util/log.hpp"

namespace chinwag::cli {

namespace {

constexpr std::string_view kComponent = "jsonrpc";

template <class... F>
struct Overloaded : F... {
    using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;


}  // namespace

JsonRpcServer::JsonRpcServer(core::Messenger& messenger, Glib::RefPtr<Glib::MainLoop> loop, int in_fd, FILE* out)
    : messenger_(messenger), loop_(std::move(loop)), in_fd_(in_fd), out_(out)
{
}

JsonRpcServer::~JsonRpcServer()
{
    input_.disconnect();
    for (auto& c : connections_)
        c.disconnect();
}

void JsonRpcServer::start()
{
    connections_.push_back(messenger_.signal_peer_changed().connect(
        [this](const core::PeerView& p) { notify(rpc::peer_changed_notification(p)); }));
    connections_.push_back(messenger_.signal_peer_gone().connect(
        [this](const std::string& id) { notify(rpc::peer_gone_notification(id)); }));
    connections_.push_back(messenger_.signal_message().connect([this](const model::Message& m) {
        auto peer = messenger_.peer(m.contact_id);
        notify(rpc::message_notification(m, peer ? &*peer : nullptr));
    }));
    connections_.push_back(messenger_.signal_message_state().connect(
        [this](const model::Message& m) { notify(rpc::message_state_notification(m)); }));
    connections_.push_back(messenger_.signal_warning().connect([this](const core::Warning& w) { notify(rpc::warning_notification(w)); }));
    connections_.push_back(messenger_.signal_notice().connect([this](const core::Notice& n) { notify(rpc::notice_notification(n)); }));

    input_ = Glib::signal_io().connect(sigc::mem_fun(*this, &JsonRpcServer::on_input), in_fd_,
                                       Glib::IOCondition::IO_IN | Glib::IOCondition::IO_HUP |
                                           Glib::IOCondition::IO_ERR);
}

bool JsonRpcServer::on_input(Glib::IOCondition)
{
    // One read per wakeup: poll said the fd is readable (or hung up), so this does not block,
    // and stdin keeps its blocking mode (it may be shared with the parent process).
    char buf[64 * 1024];
    ssize_t n = ::read(in_fd_, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0) {
        if (n < 0)
            log::warning(kComponent, std::string("cannot read standard input: ") + std::strerror(errno));
        if (auto last = splitter_.finish())
            handle_line(*last);
        stop();
        return false;
    }
    for (const auto& line : splitter_.feed(std::string_view(buf, static_cast<std::size_t>(n)))) {
        if (stopped_)
            break;
        handle_line(line);
    }
    return !stopped_;
}

void JsonRpcServer::handle_line(const rpc::LineSplitter::Line& line)
{
    if (stopped_)
        return;
    if (line.too_long) {
        write_line(rpc::oversized_line_reply());
        return;
    }
    if (rpc::is_blank(line.text))
        return;
    auto parsed = rpc::parse_line(line.text);
    if (!parsed.request) {
        if (!parsed.reply.empty())
            write_line(parsed.reply);
        return;
    }
    const rpc::Request& req = *parsed.request;
    in_call_ = true;
    Outcome outcome = run(req.call);
    in_call_ = false;
    if (!req.notification) {
        if (auto* result = std::get_if<rpc::NodePtr>(&outcome))
            write_line(rpc::result_response(req.id.get(), std::move(*result)));
        else
            write_line(rpc::error_response(req.id.get(), std::get<rpc::RpcError>(outcome)));
    }
    auto pending = std::move(pending_);
    pending_.clear();
    for (const auto& n : pending)
        write_line(n);
    if (std::holds_alternative<rpc::call::Quit>(req.call))
        stop();
}

JsonRpcServer::Outcome JsonRpcServer::run(const rpc::Call& call)
{
    auto done = [](const Result<void>& r) -> Outcome {
        if (!r)
            return rpc::core_error(r.error());
        return rpc::empty_object();
    };
    return std::visit(
        Overloaded{
            [&](const rpc::call::GetSelf&) -> Outcome { return rpc::self_json(messenger_.self()); },
            [&](const rpc::call::ListPeers&) -> Outcome { return rpc::peers_json(messenger_.peers()); },
            [&](const rpc::call::Send& c) -> Outcome {
                auto r = messenger_.send(c.to, c.body);
                if (!r)
                    return rpc::core_error(r.error());
                return rpc::sent_json(*r);
            },
            [&](const rpc::call::SetStatus& c) -> Outcome { return done(messenger_.set_status(c.status, c.message)); },
            [&](const rpc::call::GetSafetyNumber& c) -> Outcome {
                auto number = messenger_.safety_number(c.peer);
                if (!number)
                    return rpc::core_error(number.error());
                auto peer = messenger_.peer(c.peer);
                if (!peer)
                    return rpc::core_error(peer.error());
                return rpc::safety_number_json(*number, crypto::format_fingerprint(messenger_.self().fingerprint),
                                               crypto::format_fingerprint(peer->fingerprint));
            },
            [&](const rpc::call::MarkVerified& c) -> Outcome { return done(messenger_.mark_verified(c.peer)); },
            [&](const rpc::call::GetHistory& c) -> Outcome {
                auto r = messenger_.history(c.peer, c.limit);
                if (!r)
                    return rpc::core_error(r.error());
                return rpc::messages_json(*r);
            },
            [&](const rpc::call::Search& c) -> Outcome {
                auto r = messenger_.search(c.query, c.limit);
                if (!r)
                    return rpc::core_error(r.error());
                return rpc::messages_json(*r);
            },
            [&](const rpc::call::MarkRead& c) -> Outcome { return done(messenger_.mark_read(c.peer)); },
            [&](const rpc::call::SendChatState& c) -> Outcome {
                return done(messenger_.send_chat_state(c.to, c.state));
            },
            [&](const rpc::call::Quit&) -> Outcome { return rpc::empty_object(); },
        },
        call);
}

void JsonRpcServer::notify(std::string line)
{
    if (stopped_)
        return;
    if (in_call_)
        pending_.push_back(std::move(line));
    else
        write_line(line);
}

void JsonRpcServer::write_line(const std::string& line)
{
    if (stopped_)
        return;
    // stdout carries only JSON lines; flushed per line so a client reading line by line never waits.
    if (std::fwrite(line.data(), 1, line.size(), out_) != line.size() || std::fputc('\n', out_) == EOF ||
        std::fflush(out_) != 0) {
        log::warning(kComponent, "standard output closed; stopping");
        stop();
    }
}

void JsonRpcServer::stop()
{
    if (stopped_)
        return;
    stopped_ = true;
    input_.disconnect();
    loop_->quit();
}

}  // namespace chinwag::cli
