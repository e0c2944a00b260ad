#include "cli/json_rpc.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

namespace chinwag::cli::rpc {

namespace {

struct ObjectUnref {
    void operator()(JsonObject* o) const { json_object_unref(o); }
};
using ObjectPtr = std::unique_ptr<JsonObject, ObjectUnref>;

struct GObjectUnref {
    void operator()(gpointer p) const { g_object_unref(p); }
};

// Text that came from the network or disk may hold invalid UTF-8 or NUL bytes; JSON text must
// be UTF-8 (RFC 8259 §8.1) and json-glib takes C strings, so both become U+FFFD.
std::string valid_utf8(std::string_view s)
{
    if (g_utf8_validate(s.data(), static_cast<gssize>(s.size()), nullptr))
        return std::string(s);
    gchar* fixed = g_utf8_make_valid(s.data(), static_cast<gssize>(s.size()));
    std::string out(fixed);
    g_free(fixed);
    return out;
}

void set_string(JsonObject* o, const char* name, std::string_view value)
{
    json_object_set_string_member(o, name, valid_utf8(value).c_str());
}

void set_string_or_null(JsonObject* o, const char* name, std::string_view value)
{
    if (value.empty())
        json_object_set_null_member(o, name);
    else
        set_string(o, name, value);
}

NodePtr wrap(ObjectPtr o)
{
    NodePtr n(json_node_alloc());
    json_node_init_object(n.get(), o.get());
    return n;
}

ObjectPtr new_object() { return ObjectPtr(json_object_new()); }

std::string to_line(JsonNode* root)
{
    std::unique_ptr<JsonGenerator, GObjectUnref> gen(json_generator_new());
    json_generator_set_pretty(gen.get(), FALSE);
    json_generator_set_root(gen.get(), root);
    gsize len = 0;
    gchar* data = json_generator_to_data(gen.get(), &len);
    std::string out(data, len);
    g_free(data);
    return out;
}

NodePtr id_copy(const JsonNode* id)
{
    if (!id)
        return NodePtr(json_node_init_null(json_node_alloc()));
    return NodePtr(json_node_copy(const_cast<JsonNode*>(id)));
}

std::string error_reply(const JsonNode* id, int code, std::string message)
{
    return error_response(id, RpcError{code, std::move(message), {}});
}

// What json-glib 1.6 gets wrong, checked before it sees the text: its parser recurses once per
// nesting level (a line of a million '[' overflows the stack), accepts single-quoted strings and
// trailing values ("{} {}"), and wraps integers wider than 64 bits to -1. Returns the error to
// send, if any. Only text outside strings is looked at.
std::optional<RpcError> precheck(std::string_view text)
{
    auto start = text.find_first_not_of(" \t\r\n");
    bool structured = start != std::string_view::npos && (text[start] == '{' || text[start] == '[');
    if (start != std::string_view::npos && !structured) {
        // One scalar, then only whitespace: json-glib would go on parsing ("0{} {}") and leaks
        // every value it parsed before the last one (found by fuzz/fuzz_json_rpc).
        std::size_t end = text.size();
        if (text[start] == '"') {
            for (std::size_t i = start + 1; i < text.size(); ++i) {
                if (text[i] == '\\')
                    ++i;
                else if (text[i] == '"') {
                    end = i + 1;
                    break;
                }
            }
        } else {
            end = std::min(text.size(), text.find_first_of(" \t\r\n{}[]\",:", start));
        }
        if (text.find_first_not_of(" \t\r\n", end) != std::string_view::npos)
            return RpcError{kParseError, "Parse error: text after the end of the JSON value", {}};
    }
    int depth = 0, digits = 0;
    bool in_string = false, escaped = false, closed = false;
    char prev = 0;
    for (std::size_t i = start == std::string_view::npos ? text.size() : start; i < text.size(); ++i) {
        char c = text[i];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (closed && c != ' ' && c != '\t' && c != '\r' && c != '\n')
            return RpcError{kParseError, "Parse error: text after the end of the JSON value", {}};
        if (c >= '0' && c <= '9') {
            if (digits == 0 && prev == '.')
                digits = -1000;   // a fraction may be long
            if (++digits > 18)
                return RpcError{kParseError, "Parse error: number too large", {}};
        } else {
            digits = 0;
        }
        prev = c;
        switch (c) {
        case '"': in_string = true; break;
        case '\'':
            return RpcError{kParseError, "Parse error: single-quoted strings are not JSON", {}};
        case '[':
        case '{':
            if (++depth > kMaxDepth)
                return RpcError{kInvalidRequest, "Invalid Request: nesting too deep", {}};
            break;
        case ']':
        case '}':
            if (depth > 0 && --depth == 0 && structured)
                closed = true;
            break;
        default: break;
        }
    }
    return std::nullopt;
}

// Typed access to a request's named params; each failure is an invalid-params error.
class Params {
public:
    explicit Params(JsonObject* o) : o_(o) {}

    std::optional<RpcError> string(const char* name, std::string& out, bool required) const
    {
        JsonNode* n = o_ ? json_object_get_member(o_, name) : nullptr;
        if (!n || JSON_NODE_HOLDS_NULL(n)) {
            if (required)
                return invalid(std::string("missing string param \"") + name + "\"");
            return std::nullopt;
        }
        if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
            return invalid(std::string("param \"") + name + "\" must be a string");
        out = json_node_get_string(n);
        return std::nullopt;
    }

    std::optional<RpcError> integer(const char* name, int& out, int min, int max) const
    {
        JsonNode* n = o_ ? json_object_get_member(o_, name) : nullptr;
        if (!n || JSON_NODE_HOLDS_NULL(n))
            return std::nullopt;   // integers are optional; `out` keeps its default
        if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
            return invalid(std::string("param \"") + name + "\" must be an integer");
        gint64 v = json_node_get_int(n);
        if (v < min || v > max)
            return invalid(std::string("param \"") + name + "\" must be between " + std::to_string(min) +
                           " and " + std::to_string(max));
        out = static_cast<int>(v);
        return std::nullopt;
    }

    static RpcError invalid(std::string message) { return RpcError{kInvalidParams, std::move(message), {}}; }

private:
    JsonObject* o_;
};

using Builder = std::function<std::variant<Call, RpcError>(const Params&)>;

constexpr int kMaxLimit = 100000;

const std::map<std::string, Builder, std::less<>>& methods()
{
    using R = std::variant<Call, RpcError>;
    static const std::map<std::string, Builder, std::less<>> table = {
        {"getSelf", [](const Params&) -> R { return call::GetSelf{}; }},
        {"listPeers", [](const Params&) -> R { return call::ListPeers{}; }},
        {"send", [](const Params& p) -> R {
             call::Send c;
             if (auto e = p.string("to", c.to, true)) return *e;
             if (auto e = p.string("body", c.body, true)) return *e;
             return c;
         }},
        {"setStatus", [](const Params& p) -> R {
             call::SetStatus c;
             std::string status;
             if (auto e = p.string("status", status, true)) return *e;
             auto s = model::status_from_string(status);
             if (!s)
                 return Params::invalid("unknown status \"" + status + "\" (use available, away or busy)");
             c.status = *s;
             if (auto e = p.string("message", c.message, false)) return *e;
             return c;
         }},
        {"getSafetyNumber", [](const Params& p) -> R {
             call::GetSafetyNumber c;
             if (auto e = p.string("peer", c.peer, true)) return *e;
             return c;
         }},
        {"markVerified", [](const Params& p) -> R {
             call::MarkVerified c;
             if (auto e = p.string("peer", c.peer, true)) return *e;
             return c;
         }},
        {"getHistory", [](const Params& p) -> R {
             call::GetHistory c;
             if (auto e = p.string("peer", c.peer, true)) return *e;
             if (auto e = p.integer("limit", c.limit, 1, kMaxLimit)) return *e;
             return c;
         }},
        {"search", [](const Params& p) -> R {
             call::Search c;
             if (auto e = p.string("query", c.query, true)) return *e;
             if (auto e = p.integer("limit", c.limit, 1, kMaxLimit)) return *e;
             return c;
         }},
        {"markRead", [](const Params& p) -> R {
             call::MarkRead c;
             if (auto e = p.string("peer", c.peer, true)) return *e;
             return c;
         }},
        {"sendChatState", [](const Params& p) -> R {
             call::SendChatState c;
             if (auto e = p.string("to", c.to, true)) return *e;
             if (auto e = p.string("state", c.state, true)) return *e;
             return c;
         }},
        {"quit", [](const Params&) -> R { return call::Quit{}; }},
    };
    return table;
}

}  // namespace

RpcError core_error(const Error& error)
{
    return RpcError{kCoreError, error.message.empty() ? error.code : error.message, error.code};
}

bool is_blank(std::string_view line)
{
    return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

std::string oversized_line_reply()
{
    return error_reply(nullptr, kInvalidRequest,
                       "Invalid Request: line longer than " + std::to_string(kMaxLineBytes) + " bytes");
}

ParsedLine parse_line(std::string_view line)
{
    ParsedLine out;
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    if (line.size() > kMaxLineBytes) {
        out.reply = oversized_line_reply();
        return out;
    }
    // g_utf8_validate with a length also rejects NUL bytes, which JSON text cannot carry raw.
    if (!g_utf8_validate(line.data(), static_cast<gssize>(line.size()), nullptr)) {
        out.reply = error_reply(nullptr, kParseError, "Parse error: invalid UTF-8");
        return out;
    }
    if (auto e = precheck(line)) {
        out.reply = error_response(nullptr, *e);
        return out;
    }

    std::unique_ptr<JsonParser, GObjectUnref> parser(json_parser_new_immutable());
    GError* gerr = nullptr;
    if (!json_parser_load_from_data(parser.get(), line.data(), static_cast<gssize>(line.size()), &gerr)) {
        // json-glib says "<data>:1:7: Parse error: unexpected ..."; keep the part after the prefix.
        std::string why = gerr ? gerr->message : "invalid JSON";
        if (auto at = why.find("Parse error: "); at != std::string::npos)
            why.erase(0, at + 13);
        g_clear_error(&gerr);
        out.reply = error_reply(nullptr, kParseError, "Parse error: " + why);
        return out;
    }
    JsonNode* root = json_parser_get_root(parser.get());
    // json-glib also accepts JavaScript "var x = ..." assignments, which are not JSON.
    if (!root || json_parser_has_assignment(parser.get(), nullptr)) {
        out.reply = error_reply(nullptr, kParseError, "Parse error: not a JSON text");
        return out;
    }
    if (JSON_NODE_HOLDS_ARRAY(root)) {
        // JSON-RPC 2.0 §6 batches are not supported: one call per line keeps replies in order.
        out.reply = error_reply(nullptr, kInvalidRequest, "Invalid Request: batch requests are not supported");
        return out;
    }
    if (!JSON_NODE_HOLDS_OBJECT(root)) {
        out.reply = error_reply(nullptr, kInvalidRequest, "Invalid Request: not an object");
        return out;
    }
    JsonObject* obj = json_node_get_object(root);

    Request req;
    JsonNode* id = json_object_get_member(obj, "id");
    if (!id) {
        req.notification = true;
    } else {
        bool ok_id = JSON_NODE_HOLDS_NULL(id) ||
                     (JSON_NODE_HOLDS_VALUE(id) && (json_node_get_value_type(id) == G_TYPE_STRING ||
                                                    json_node_get_value_type(id) == G_TYPE_INT64 ||
                                                    (json_node_get_value_type(id) == G_TYPE_DOUBLE &&
                                                     std::isfinite(json_node_get_double(id)))));
        if (!ok_id) {
            out.reply = error_reply(nullptr, kInvalidRequest, "Invalid Request: id must be a string, number or null");
            return out;
        }
        req.id = NodePtr(json_node_copy(id));
    }
    const JsonNode* reply_id = req.id.get();

    JsonNode* version = json_object_get_member(obj, "jsonrpc");
    if (!version || !JSON_NODE_HOLDS_VALUE(version) || json_node_get_value_type(version) != G_TYPE_STRING ||
        std::string_view(json_node_get_string(version)) != "2.0") {
        out.reply = error_reply(reply_id, kInvalidRequest, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
        return out;
    }
    JsonNode* method = json_object_get_member(obj, "method");
    if (!method || !JSON_NODE_HOLDS_VALUE(method) || json_node_get_value_type(method) != G_TYPE_STRING) {
        out.reply = error_reply(reply_id, kInvalidRequest, "Invalid Request: \"method\" must be a string");
        return out;
    }
    req.method = json_node_get_string(method);

    JsonObject* params = nullptr;
    bool positional = false;
    if (JsonNode* p = json_object_get_member(obj, "params")) {
        if (JSON_NODE_HOLDS_OBJECT(p))
            params = json_node_get_object(p);
        else if (JSON_NODE_HOLDS_ARRAY(p))
            positional = json_array_get_length(json_node_get_array(p)) > 0;
        else {
            // JSON-RPC 2.0 §4.2: params, if present, MUST be a structured value.
            out.reply = error_reply(reply_id, kInvalidRequest, "Invalid Request: \"params\" must be an object");
            return out;
        }
    }

    // From here on the request is well formed: errors about it are not sent for notifications.
    auto fail = [&](int code, std::string message) {
        if (!req.notification)
            out.reply = error_reply(reply_id, code, std::move(message));
        return std::move(out);
    };
    auto it = methods().find(req.method);
    if (it == methods().end())
        return fail(kMethodNotFound, "Method not found: " + valid_utf8(req.method));
    if (positional)
        return fail(kInvalidParams, "params must be given by name, in an object");
    auto built = it->second(Params(params));
    if (auto* e = std::get_if<RpcError>(&built))
        return fail(e->code, e->message);
    req.call = std::move(std::get<Call>(built));
    out.request = std::move(req);
    return out;
}

std::string result_response(const JsonNode* id, NodePtr result)
{
    auto o = new_object();
    json_object_set_string_member(o.get(), "jsonrpc", "2.0");
    json_object_set_member(o.get(), "result", result ? result.release() : empty_object().release());
    json_object_set_member(o.get(), "id", id_copy(id).release());
    return to_line(wrap(std::move(o)).get());
}

std::string error_response(const JsonNode* id, const RpcError& error)
{
    auto err = new_object();
    json_object_set_int_member(err.get(), "code", error.code);
    set_string(err.get(), "message", error.message);
    if (!error.core_code.empty()) {
        auto data = new_object();
        set_string(data.get(), "code", error.core_code);
        json_object_set_member(err.get(), "data", wrap(std::move(data)).release());
    }
    auto o = new_object();
    json_object_set_string_member(o.get(), "jsonrpc", "2.0");
    json_object_set_member(o.get(), "error", wrap(std::move(err)).release());
    json_object_set_member(o.get(), "id", id_copy(id).release());
    return to_line(wrap(std::move(o)).get());
}

std::string notification(std::string_view method, NodePtr params)
{
    auto o = new_object();
    json_object_set_string_member(o.get(), "jsonrpc", "2.0");
    set_string(o.get(), "method", method);
    json_object_set_member(o.get(), "params", params ? params.release() : empty_object().release());
    return to_line(wrap(std::move(o)).get());
}

NodePtr empty_object() { return wrap(new_object()); }

NodePtr self_json(const core::SelfInfo& self)
{
    auto o = new_object();
    set_string(o.get(), "nick", self.nick);
    set_string(o.get(), "instance", self.instance);
    set_string(o.get(), "fingerprint", self.fingerprint);
    return wrap(std::move(o));
}

NodePtr peer_json(const core::PeerView& p)
{
    auto o = new_object();
    set_string(o.get(), "id", p.id);
    set_string(o.get(), "instance", p.instance);
    set_string(o.get(), "nick", p.nick);
    set_string(o.get(), "status", model::to_string(p.status));
    set_string(o.get(), "message", p.message);
    set_string_or_null(o.get(), "fingerprint", p.fingerprint);
    set_string(o.get(), "trust", model::to_string(p.trust));
    json_object_set_boolean_member(o.get(), "online", p.online);
    json_object_set_boolean_member(o.get(), "secure", p.secure);
    json_object_set_int_member(o.get(), "unread", p.unread);
    // Only what the peer publishes (XEP-0174 §3.5 1st, last, email); "" when it does not.
    set_string(o.get(), "firstName", p.first_name);
    set_string(o.get(), "lastName", p.last_name);
    set_string(o.get(), "email", p.email);
    return wrap(std::move(o));
}

NodePtr peers_json(const std::vector<core::PeerView>& peers)
{
    JsonArray* a = json_array_sized_new(static_cast<guint>(peers.size()));
    for (const auto& p : peers)
        json_array_add_element(a, peer_json(p).release());
    NodePtr n(json_node_init_array(json_node_alloc(), a));
    json_array_unref(a);
    return n;
}

NodePtr message_json(const model::Message& m)
{
    auto o = new_object();
    set_string(o.get(), "id", m.id);
    set_string(o.get(), "peer", m.contact_id);
    set_string(o.get(), "direction", model::to_string(m.direction));
    set_string(o.get(), "body", m.body);
    json_object_set_int_member(o.get(), "timestamp", m.timestamp_ms);
    set_string(o.get(), "state", model::to_string(m.state));
    if (m.state == model::MessageState::Failed || !m.failure_reason.empty())
        set_string(o.get(), "reason", m.failure_reason);
    json_object_set_boolean_member(o.get(), "secure", m.secure);
    json_object_set_boolean_member(o.get(), "verified", m.verified);
    return wrap(std::move(o));
}

NodePtr messages_json(const std::vector<model::Message>& messages)
{
    JsonArray* a = json_array_sized_new(static_cast<guint>(messages.size()));
    for (const auto& m : messages)
        json_array_add_element(a, message_json(m).release());
    NodePtr n(json_node_init_array(json_node_alloc(), a));
    json_array_unref(a);
    return n;
}

NodePtr sent_json(const model::Message& m)
{
    auto o = new_object();
    set_string(o.get(), "id", m.id);
    return wrap(std::move(o));
}

NodePtr safety_number_json(const std::string& safety_number, const std::string& own_formatted,
                           const std::string& peer_formatted)
{
    auto o = new_object();
    set_string(o.get(), "safetyNumber", safety_number);
    set_string(o.get(), "own", own_formatted);
    set_string(o.get(), "peer", peer_formatted);
    return wrap(std::move(o));
}

std::string peer_changed_notification(const core::PeerView& peer)
{
    return notification("peerChanged", peer_json(peer));
}

std::string peer_gone_notification(const std::string& contact_id)
{
    auto o = new_object();
    set_string(o.get(), "id", contact_id);
    return notification("peerGone", wrap(std::move(o)));
}

std::string message_notification(const model::Message& m, const core::PeerView* peer)
{
    auto o = new_object();
    set_string(o.get(), "id", m.id);
    set_string(o.get(), "from", m.contact_id);
    set_string(o.get(), "instance", peer ? peer->instance : std::string());
    set_string(o.get(), "body", m.body);
    json_object_set_int_member(o.get(), "timestamp", m.timestamp_ms);
    json_object_set_boolean_member(o.get(), "secure", m.secure);
    set_string(o.get(), "trust", model::to_string(peer ? peer->trust : model::Trust::Unknown));
    json_object_set_boolean_member(o.get(), "verified", m.verified);
    return notification("message", wrap(std::move(o)));
}

std::string message_state_notification(const model::Message& m)
{
    auto o = new_object();
    set_string(o.get(), "id", m.id);
    set_string(o.get(), "to", m.contact_id);
    set_string(o.get(), "state", model::to_string(m.state));
    if (m.state == model::MessageState::Failed || !m.failure_reason.empty())
        set_string(o.get(), "reason", m.failure_reason);
    return notification("messageState", wrap(std::move(o)));
}

std::string warning_notification(const core::Warning& w)
{
    auto o = new_object();
    set_string(o.get(), "kind", w.kind);
    set_string(o.get(), "peer", w.peer);
    set_string(o.get(), "detail", w.detail);
    return notification("warning", wrap(std::move(o)));
}

std::string notice_notification(const core::Notice& n)
{
    auto o = new_object();
    set_string(o.get(), "kind", n.kind);
    set_string(o.get(), "detail", n.detail);
    json_object_set_boolean_member(o.get(), "problem", n.problem);
    return notification("notice", wrap(std::move(o)));
}

std::vector<LineSplitter::Line> LineSplitter::feed(std::string_view bytes)
{
    std::vector<Line> lines;
    while (!bytes.empty()) {
        auto nl = bytes.find('\n');
        std::string_view chunk = bytes.substr(0, nl);
        if (!overflow_) {
            if (buf_.size() + chunk.size() > max_) {
                // Drop what we have and the rest of this line as it arrives.
                overflow_ = true;
                buf_.clear();
                buf_.shrink_to_fit();
            } else {
                buf_.append(chunk);
            }
        }
        if (nl == std::string_view::npos)
            break;
        lines.push_back(overflow_ ? Line{{}, true} : Line{std::move(buf_), false});
        buf_.clear();
        overflow_ = false;
        bytes.remove_prefix(nl + 1);
    }
    return lines;
}

std::optional<LineSplitter::Line> LineSplitter::finish()
{
    std::optional<Line> last;
    if (overflow_)
        last = Line{{}, true};
    else if (!buf_.empty())
        last = Line{std::move(buf_), false};
    buf_.clear();
    overflow_ = false;
    return last;
}

}  // namespace chinwag::cli::rpc
