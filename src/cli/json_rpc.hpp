// JSON-RPC 2.0 codec for `chinwag-cli jsonrpc`: pure functions from lines to typed calls and from
// core values to response / notification lines. No I/O, no Messenger, so every case is unit-tested.
//
// Framing: one JSON text per line (UTF-8, '\n'-terminated), like signal-cli's jsonRpc mode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <json-glib/json-glib.h>

#include "core/messenger.hpp"
#include "model/types.hpp"

namespace chinwag::cli::rpc {

// JSON-RPC 2.0 §5.1 error codes, plus -32000 (server error range) for a failed core call.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kCoreError = -32000;

// Longest accepted line, without its '\n'. Longer lines are answered with kInvalidRequest.
constexpr std::size_t kMaxLineBytes = 1024 * 1024;
// Deepest accepted nesting of arrays/objects. json-glib's parser recurses once per level, so a
// line of a million '[' would otherwise overflow the stack; no valid call needs more than 3.
constexpr int kMaxDepth = 32;

struct NodeUnref {
    void operator()(JsonNode* n) const { json_node_unref(n); }
};
using NodePtr = std::unique_ptr<JsonNode, NodeUnref>;

struct RpcError {
    int code = kInvalidRequest;
    std::string message;
    std::string core_code;   // for kCoreError: chinwag::Error::code, sent as error.data.code
};

RpcError core_error(const Error& error);

// The typed calls of the contract; params already checked.
namespace call {
struct GetSelf {};
struct ListPeers {};
struct Send { std::string to, body; };
struct SetStatus { model::Status status = model::Status::Available; std::string message; };
struct GetSafetyNumber { std::string peer; };
struct MarkVerified { std::string peer; };
struct GetHistory { std::string peer; int limit = 50; };
struct Search { std::string query; int limit = 50; };
struct MarkRead { std::string peer; };
struct SendChatState { std::string to, state; };
struct Quit {};
}  // namespace call

using Call = std::variant<call::GetSelf, call::ListPeers, call::Send, call::SetStatus, call::GetSafetyNumber,
                          call::MarkVerified, call::GetHistory, call::Search, call::MarkRead,
                          call::SendChatState, call::Quit>;

// A valid request. JSON-RPC 2.0 §4.1: a request without "id" is a notification and gets no reply.
struct Request {
    NodePtr id;                // copy of the request's id (string, number or null); null if notification
    bool notification = false;
    std::string method;
    Call call;
};

// Result of parsing one line: either a request to run, or the reply to write at once
// (empty when the invalid request was a notification, which JSON-RPC 2.0 §4.1 says never to answer).
struct ParsedLine {
    std::optional<Request> request;
    std::string reply;
};

// Parses one line (without its '\n'; a trailing '\r' is ignored). Invalid UTF-8 or JSON gives
// kParseError; a batch array, a non-object, a bad "jsonrpc"/"id"/"method"/"params" member gives
// kInvalidRequest; an unknown method kMethodNotFound; missing or mistyped params kInvalidParams.
ParsedLine parse_line(std::string_view line);

// The reply to a line longer than kMaxLineBytes (its id is unknown: it was not kept).
std::string oversized_line_reply();

// True for lines that carry nothing (empty or only whitespace): skipped without a reply.
bool is_blank(std::string_view line);

// Response lines (no trailing '\n'). `id` may be nullptr, meaning JSON null.
std::string result_response(const JsonNode* id, NodePtr result);
std::string error_response(const JsonNode* id, const RpcError& error);
// A server → client notification: {"jsonrpc":"2.0","method":...,"params":...}.
std::string notification(std::string_view method, NodePtr params);

// Values. Strings are made valid UTF-8 first (bytes from the network are not trusted).
NodePtr empty_object();
NodePtr self_json(const core::SelfInfo& self);                 // {nick, instance, fingerprint}
NodePtr peer_json(const core::PeerView& peer);                 // listPeers element / peerChanged
NodePtr peers_json(const std::vector<core::PeerView>& peers);
NodePtr message_json(const model::Message& message);           // history / search element
NodePtr messages_json(const std::vector<model::Message>& messages);
NodePtr sent_json(const model::Message& message);              // send result: {id}
NodePtr safety_number_json(const std::string& safety_number, const std::string& own_formatted,
                           const std::string& peer_formatted);

// Notification lines.
std::string peer_changed_notification(const core::PeerView& peer);
std::string peer_gone_notification(const std::string& contact_id);
// `peer`: the sender as the core knows it (for instance and trust); nullptr if it could not be found.
std::string message_notification(const model::Message& message, const core::PeerView* peer);
std::string message_state_notification(const model::Message& message);
std::string warning_notification(const core::Warning& warning);
std::string notice_notification(const core::Notice& notice);

// Splits a byte stream into lines without ever holding more than max_line bytes of one line:
// the rest of a longer line is dropped as it arrives and the line is reported as too long.
class LineSplitter {
public:
    struct Line {
        std::string text;      // without '\n'; empty if too_long
        bool too_long = false;
    };

    explicit LineSplitter(std::size_t max_line = kMaxLineBytes) : max_(max_line) {}

    std::vector<Line> feed(std::string_view bytes);
    // At end of input: the last line if it had no '\n'.
    std::optional<Line> finish();

private:
    std::size_t max_;
    std::string buf_;
    bool overflow_ = false;
};

}  // namespace chinwag::cli::rpc
