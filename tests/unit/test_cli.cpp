// Unit tests of chinwag-cli's pure parts: the JSON-RPC codec and line framing, the option parser,
// and the console's command parser and terminal text.
#include <cstdlib>
#include <string>

#include <json-glib/json-glib.h>

#include "cli/console_text.hpp"
#include "cli/json_rpc.hpp"
#include "cli/options.hpp"

// After glibmm/sigc++ headers: check.h defines macros that clash with them.
#include <check.h>

using namespace chinwag;
using namespace chinwag::cli;

// Compares as std::string: Check's ck_assert_str_eq keeps a pointer past the temporaries' lifetime.
#define ck_assert_std_eq(X, Y)                                                                         \
    do {                                                                                               \
        std::string ck_x_ = (X), ck_y_ = (Y);                                                          \
        ck_assert_msg(ck_x_ == ck_y_, "%s == %s failed: \"%s\" vs \"%s\"", #X, #Y, ck_x_.c_str(), ck_y_.c_str()); \
    } while (0)

namespace {

// A parsed JSON line; owns the parser that owns the nodes.
struct Parsed {
    explicit Parsed(const std::string& line)
    {
        ck_assert_msg(line.find('\n') == std::string::npos, "raw newline in output line: %s", line.c_str());
        ck_assert_msg(g_utf8_validate(line.data(), static_cast<gssize>(line.size()), nullptr), "output not UTF-8");
        parser = json_parser_new();
        GError* err = nullptr;
        ck_assert_msg(json_parser_load_from_data(parser, line.data(), static_cast<gssize>(line.size()), &err),
                      "output is not JSON: %s", line.c_str());
        root = json_parser_get_root(parser);
        ck_assert(JSON_NODE_HOLDS_OBJECT(root));
        obj = json_node_get_object(root);
    }
    ~Parsed() { g_object_unref(parser); }
    JsonParser* parser;
    JsonNode* root;
    JsonObject* obj;
};

JsonObject* member_object(JsonObject* o, const char* name)
{
    ck_assert_msg(json_object_has_member(o, name), "no member %s", name);
    JsonNode* n = json_object_get_member(o, name);
    ck_assert_msg(JSON_NODE_HOLDS_OBJECT(n), "member %s is not an object", name);
    return json_node_get_object(n);
}

std::string str(JsonObject* o, const char* name)
{
    ck_assert_msg(json_object_has_member(o, name), "no member %s", name);
    JsonNode* n = json_object_get_member(o, name);
    ck_assert_msg(JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING, "%s not a string",
                  name);
    return json_node_get_string(n);
}

gint64 integer(JsonObject* o, const char* name)
{
    JsonNode* n = json_object_get_member(o, name);
    ck_assert_msg(n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64, "%s not an int",
                  name);
    return json_node_get_int(n);
}

bool boolean(JsonObject* o, const char* name)
{
    JsonNode* n = json_object_get_member(o, name);
    ck_assert_msg(n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_BOOLEAN, "%s not a bool",
                  name);
    return json_node_get_boolean(n);
}

int member_count(JsonObject* o) { return static_cast<int>(json_object_get_size(o)); }

// The error code of an error reply line; checks its envelope.
int error_code_of(const std::string& reply)
{
    ck_assert_msg(!reply.empty(), "expected an error reply");
    Parsed p(reply);
    ck_assert_std_eq(str(p.obj, "jsonrpc").c_str(), "2.0");
    ck_assert(json_object_has_member(p.obj, "id"));
    ck_assert(!json_object_has_member(p.obj, "result"));
    JsonObject* e = member_object(p.obj, "error");
    ck_assert(!str(e, "message").empty());
    return static_cast<int>(integer(e, "code"));
}

bool id_is_null(const std::string& reply)
{
    Parsed p(reply);
    return JSON_NODE_HOLDS_NULL(json_object_get_member(p.obj, "id"));
}

// A line that must be rejected with `code` and no request.
void expect_error(const std::string& line, int code)
{
    auto r = rpc::parse_line(line);
    ck_assert_msg(!r.request, "accepted: %.200s", line.c_str());
    int got = error_code_of(r.reply);
    ck_assert_msg(got == code, "line %.200s: code %d, expected %d", line.c_str(), got, code);
}

rpc::Request expect_request(const std::string& line)
{
    auto r = rpc::parse_line(line);
    ck_assert_msg(r.request.has_value(), "rejected %s: %s", line.c_str(), r.reply.c_str());
    ck_assert(r.reply.empty());
    return std::move(*r.request);
}

model::Message sample_message()
{
    model::Message m;
    m.seq = 7;
    m.id = "m-1";
    m.contact_id = std::string(64, 'a');
    m.direction = model::Direction::Incoming;
    m.body = "hello";
    m.timestamp_ms = 1714560000123;
    m.state = model::MessageState::Delivered;
    m.secure = true;
    m.verified = false;
    return m;
}

core::PeerView sample_peer()
{
    core::PeerView p;
    p.id = std::string(64, 'b');
    p.instance = "bob@lab";
    p.nick = "Bob";
    p.status = model::Status::Away;
    p.message = "lunch";
    p.fingerprint = std::string(64, 'b');
    p.trust = model::Trust::Verified;
    p.online = true;
    p.secure = true;
    p.unread = 3;
    p.chat_state = "composing";
    p.first_name = "Bob";
    p.email = "bob@example.org";
    return p;
}

}  // namespace

// ---- JSON-RPC: errors -------------------------------------------------------------------------

START_TEST(test_parse_errors)
{
    expect_error("{", rpc::kParseError);
    expect_error("not json", rpc::kParseError);
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"getSelf\",\"id\":1", rpc::kParseError);
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"getSelf\",\"id\":1,}", rpc::kParseError);
    // Trailing values, single quotes, JavaScript assignments: json-glib accepts them, JSON does not.
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"getSelf\",\"id\":1} {}", rpc::kParseError);
    expect_error("{'jsonrpc':'2.0','method':'getSelf','id':1}", rpc::kParseError);
    expect_error("var x = {\"jsonrpc\":\"2.0\",\"method\":\"getSelf\",\"id\":1}", rpc::kParseError);
    // An id json-glib would wrap to -1.
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"getSelf\",\"id\":99999999999999999999}", rpc::kParseError);
    // Invalid UTF-8: a lone continuation byte, an overlong '/', a truncated sequence, a NUL byte.
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"send\",\"id\":1,\"params\":{\"to\":\"\x80\"}}", rpc::kParseError);
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"getSelf\",\"id\":\"\xC0\xAF\"}", rpc::kParseError);
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"getSelf\",\"id\":\"\xE2\x82\"}", rpc::kParseError);
    expect_error(std::string("{\"jsonrpc\":\"2.0\",\"method\":\"getSelf\",\"id\":\"a\0b\"}", 44), rpc::kParseError);
    // Parse errors carry id null (JSON-RPC 2.0 §5).
    ck_assert(id_is_null(rpc::parse_line("{").reply));
}
END_TEST

START_TEST(test_invalid_requests)
{
    expect_error("[]", rpc::kInvalidRequest);
    expect_error("[{\"jsonrpc\":\"2.0\",\"method\":\"getSelf\",\"id\":1}]", rpc::kInvalidRequest);   // batch
    expect_error("42", rpc::kInvalidRequest);
    expect_error("\"getSelf\"", rpc::kInvalidRequest);
    expect_error("null", rpc::kInvalidRequest);
    expect_error("{}", rpc::kInvalidRequest);
    expect_error("{\"method\":\"getSelf\",\"id\":1}", rpc::kInvalidRequest);                  // no jsonrpc
    expect_error("{\"jsonrpc\":\"1.0\",\"method\":\"getSelf\",\"id\":1}", rpc::kInvalidRequest);
    expect_error("{\"jsonrpc\":2.0,\"method\":\"getSelf\",\"id\":1}", rpc::kInvalidRequest);
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1}", rpc::kInvalidRequest);                      // no method
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":7,\"id\":1}", rpc::kInvalidRequest);
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":null,\"id\":1}", rpc::kInvalidRequest);
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"getSelf\",\"id\":{}}", rpc::kInvalidRequest);
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"getSelf\",\"id\":[1]}", rpc::kInvalidRequest);
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"getSelf\",\"id\":true}", rpc::kInvalidRequest);
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"getSelf\",\"id\":1,\"params\":\"x\"}", rpc::kInvalidRequest);
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"getSelf\",\"id\":1,\"params\":3}", rpc::kInvalidRequest);

    // Well-formed id survives into the error reply even when the rest is wrong.
    auto r = rpc::parse_line("{\"jsonrpc\":\"1.0\",\"method\":\"getSelf\",\"id\":\"abc\"}");
    Parsed p(r.reply);
    ck_assert_std_eq(str(p.obj, "id").c_str(), "abc");
    // An invalid request without an id is still answered, with id null (JSON-RPC 2.0 §7 example).
    auto n = rpc::parse_line("{\"jsonrpc\":\"2.0\",\"method\":1,\"params\":\"bar\"}");
    ck_assert_int_eq(error_code_of(n.reply), rpc::kInvalidRequest);
    ck_assert(id_is_null(n.reply));
}
END_TEST

START_TEST(test_nested_junk)
{
    // A million '[' would overflow json-glib's recursive parser; it must be refused without parsing.
    expect_error(std::string(1000000, '['), rpc::kInvalidRequest);
    std::string deep_objects;
    for (int i = 0; i < 100000; ++i)
        deep_objects += "{\"a\":";
    expect_error(deep_objects, rpc::kInvalidRequest);
    // Deep nesting inside params of a real call, and brackets inside strings that do not count.
    std::string params = "{\"jsonrpc\":\"2.0\",\"method\":\"send\",\"id\":1,\"params\":{\"to\":\"x\",\"body\":\"x\","
                         "\"junk\":" + std::string(200, '[') + std::string(200, ']') + "}}";
    expect_error(params, rpc::kInvalidRequest);
    auto ok = expect_request("{\"jsonrpc\":\"2.0\",\"method\":\"send\",\"id\":1,\"params\":{\"to\":\"[[[[\","
                             "\"body\":\"" + std::string(100, '{') + "\\\"\\\\\"}}");
    auto& s = std::get<rpc::call::Send>(ok.call);
    ck_assert_std_eq(s.to.c_str(), "[[[[");
    ck_assert_std_eq(s.body.c_str(), (std::string(100, '{') + "\"\\").c_str());
    // Junk of each JSON type where an object is wanted.
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"send\",\"id\":1,\"params\":{\"to\":{\"x\":[1,{}]},\"body\":\"b\"}}",
                 rpc::kInvalidParams);
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"send\",\"id\":1,\"params\":{\"to\":[\"a\"],\"body\":\"b\"}}",
                 rpc::kInvalidParams);
    expect_error("\x01\x02\x03", rpc::kParseError);
    expect_error("}}}]]]", rpc::kParseError);
}
END_TEST

START_TEST(test_method_not_found_and_notifications)
{
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"fly\",\"id\":1}", rpc::kMethodNotFound);
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"GETSELF\",\"id\":1}", rpc::kMethodNotFound);
    // JSON-RPC 2.0 §4.1: notifications are never answered, not even with an error.
    auto r = rpc::parse_line("{\"jsonrpc\":\"2.0\",\"method\":\"fly\"}");
    ck_assert(!r.request);
    ck_assert(r.reply.empty());
    r = rpc::parse_line("{\"jsonrpc\":\"2.0\",\"method\":\"send\",\"params\":{\"to\":1}}");
    ck_assert(!r.request);
    ck_assert(r.reply.empty());
    auto q = expect_request("{\"jsonrpc\":\"2.0\",\"method\":\"quit\"}");
    ck_assert(q.notification);
    ck_assert(!q.id);
    ck_assert(std::holds_alternative<rpc::call::Quit>(q.call));
}
END_TEST

START_TEST(test_invalid_params)
{
    auto call = [](const char* method, const char* params) {
        return std::string("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"") + method + "\",\"params\":" + params + "}";
    };
    expect_error(call("send", "{}"), rpc::kInvalidParams);
    expect_error(call("send", "{\"to\":\"bob\"}"), rpc::kInvalidParams);
    expect_error(call("send", "{\"body\":\"hi\"}"), rpc::kInvalidParams);
    expect_error(call("send", "{\"to\":\"bob\",\"body\":42}"), rpc::kInvalidParams);
    expect_error(call("send", "{\"to\":null,\"body\":\"x\"}"), rpc::kInvalidParams);
    expect_error(call("send", "[\"bob\",\"hi\"]"), rpc::kInvalidParams);
    expect_error(call("setStatus", "{\"status\":\"sleeping\"}"), rpc::kInvalidParams);
    expect_error(call("setStatus", "{\"status\":\"Away\"}"), rpc::kInvalidParams);
    expect_error(call("setStatus", "{\"message\":\"x\"}"), rpc::kInvalidParams);
    expect_error(call("setStatus", "{\"status\":\"away\",\"message\":false}"), rpc::kInvalidParams);
    expect_error(call("getSafetyNumber", "{}"), rpc::kInvalidParams);
    expect_error(call("markVerified", "{\"peer\":1}"), rpc::kInvalidParams);
    expect_error(call("getHistory", "{\"peer\":\"bob\",\"limit\":\"5\"}"), rpc::kInvalidParams);
    expect_error(call("getHistory", "{\"peer\":\"bob\",\"limit\":0}"), rpc::kInvalidParams);
    expect_error(call("getHistory", "{\"peer\":\"bob\",\"limit\":-3}"), rpc::kInvalidParams);
    expect_error(call("getHistory", "{\"peer\":\"bob\",\"limit\":2.5}"), rpc::kInvalidParams);
    expect_error(call("getHistory", "{\"peer\":\"bob\",\"limit\":99999999999}"), rpc::kInvalidParams);
    expect_error(call("search", "{\"query\":[]}"), rpc::kInvalidParams);
    expect_error(call("markRead", "{}"), rpc::kInvalidParams);
    expect_error(call("sendChatState", "{\"to\":\"bob\"}"), rpc::kInvalidParams);
    // The reply of an invalid-params error keeps the id.
    Parsed p(rpc::parse_line(call("send", "{}")).reply);
    ck_assert_int_eq(integer(p.obj, "id"), 5);
}
END_TEST

// ---- JSON-RPC: valid calls --------------------------------------------------------------------

START_TEST(test_valid_calls)
{
    auto r = expect_request("{\"jsonrpc\":\"2.0\",\"method\":\"getSelf\",\"id\":1}");
    ck_assert(std::holds_alternative<rpc::call::GetSelf>(r.call));
    ck_assert(!r.notification);
    ck_assert_int_eq(json_node_get_int(r.id.get()), 1);

    r = expect_request(" {\"id\":\"x-1\",\"method\":\"listPeers\",\"jsonrpc\":\"2.0\",\"params\":[]}\r");
    ck_assert(std::holds_alternative<rpc::call::ListPeers>(r.call));
    ck_assert_std_eq(json_node_get_string(r.id.get()), "x-1");

    r = expect_request("{\"jsonrpc\":\"2.0\",\"method\":\"send\",\"id\":null,"
                       "\"params\":{\"to\":\"alice@lab\",\"body\":\"h\\u00e9llo\\nworld\",\"extra\":1}}");
    ck_assert(JSON_NODE_HOLDS_NULL(r.id.get()));
    ck_assert(!r.notification);
    auto& send = std::get<rpc::call::Send>(r.call);
    ck_assert_std_eq(send.to.c_str(), "alice@lab");
    ck_assert_std_eq(send.body.c_str(), "h\xC3\xA9llo\nworld");

    r = expect_request("{\"jsonrpc\":\"2.0\",\"method\":\"setStatus\",\"id\":2,\"params\":{\"status\":\"busy\","
                       "\"message\":\"in a meeting\"}}");
    auto& st = std::get<rpc::call::SetStatus>(r.call);
    ck_assert(st.status == model::Status::Busy);
    ck_assert_std_eq(st.message.c_str(), "in a meeting");
    r = expect_request("{\"jsonrpc\":\"2.0\",\"method\":\"setStatus\",\"id\":2,\"params\":{\"status\":\"away\"}}");
    ck_assert(std::get<rpc::call::SetStatus>(r.call).status == model::Status::Away);
    ck_assert(std::get<rpc::call::SetStatus>(r.call).message.empty());

    r = expect_request("{\"jsonrpc\":\"2.0\",\"method\":\"getSafetyNumber\",\"id\":3,\"params\":{\"peer\":\"p\"}}");
    ck_assert_std_eq(std::get<rpc::call::GetSafetyNumber>(r.call).peer.c_str(), "p");
    r = expect_request("{\"jsonrpc\":\"2.0\",\"method\":\"markVerified\",\"id\":3,\"params\":{\"peer\":\"p\"}}");
    ck_assert_std_eq(std::get<rpc::call::MarkVerified>(r.call).peer.c_str(), "p");
    r = expect_request("{\"jsonrpc\":\"2.0\",\"method\":\"getHistory\",\"id\":3,\"params\":{\"peer\":\"p\"}}");
    ck_assert_int_eq(std::get<rpc::call::GetHistory>(r.call).limit, 50);
    r = expect_request("{\"jsonrpc\":\"2.0\",\"method\":\"getHistory\",\"id\":3,\"params\":{\"peer\":\"p\",\"limit\":7}}");
    ck_assert_int_eq(std::get<rpc::call::GetHistory>(r.call).limit, 7);
    r = expect_request("{\"jsonrpc\":\"2.0\",\"method\":\"search\",\"id\":3,\"params\":{\"query\":\"lunch\"}}");
    ck_assert_std_eq(std::get<rpc::call::Search>(r.call).query.c_str(), "lunch");
    r = expect_request("{\"jsonrpc\":\"2.0\",\"method\":\"markRead\",\"id\":3,\"params\":{\"peer\":\"p\"}}");
    ck_assert_std_eq(std::get<rpc::call::MarkRead>(r.call).peer.c_str(), "p");
    r = expect_request("{\"jsonrpc\":\"2.0\",\"method\":\"sendChatState\",\"id\":3,"
                       "\"params\":{\"to\":\"p\",\"state\":\"composing\"}}");
    ck_assert_std_eq(std::get<rpc::call::SendChatState>(r.call).state.c_str(), "composing");
    r = expect_request("{\"jsonrpc\":\"2.0\",\"method\":\"quit\",\"id\":4.5}");
    ck_assert(std::holds_alternative<rpc::call::Quit>(r.call));

    ck_assert(rpc::is_blank(""));
    ck_assert(rpc::is_blank(" \t\r"));
    ck_assert(!rpc::is_blank(" x"));
}
END_TEST

START_TEST(test_responses)
{
    auto r = expect_request("{\"jsonrpc\":\"2.0\",\"method\":\"getSelf\",\"id\":\"q\"}");
    core::SelfInfo self{"Ann \"the\" \\ one", "ann@lab", std::string(64, 'c'), model::Status::Available, ""};
    Parsed p(rpc::result_response(r.id.get(), rpc::self_json(self)));
    ck_assert_std_eq(str(p.obj, "jsonrpc").c_str(), "2.0");
    ck_assert_std_eq(str(p.obj, "id").c_str(), "q");
    ck_assert(!json_object_has_member(p.obj, "error"));
    JsonObject* res = member_object(p.obj, "result");
    ck_assert_int_eq(member_count(res), 3);
    ck_assert_std_eq(str(res, "nick").c_str(), "Ann \"the\" \\ one");
    ck_assert_std_eq(str(res, "instance").c_str(), "ann@lab");
    ck_assert_std_eq(str(res, "fingerprint").c_str(), std::string(64, 'c').c_str());

    // Empty result {} and null id.
    Parsed e(rpc::result_response(nullptr, rpc::empty_object()));
    ck_assert_int_eq(member_count(member_object(e.obj, "result")), 0);
    ck_assert(JSON_NODE_HOLDS_NULL(json_object_get_member(e.obj, "id")));

    // A failed core call: -32000, Error.message as message, Error.code as data.code.
    Parsed c(rpc::error_response(r.id.get(), rpc::core_error(make_error("not-found", "no peer named zed"))));
    JsonObject* err = member_object(c.obj, "error");
    ck_assert_int_eq(integer(err, "code"), -32000);
    ck_assert_std_eq(str(err, "message").c_str(), "no peer named zed");
    ck_assert_std_eq(str(member_object(err, "data"), "code").c_str(), "not-found");
    // Other errors carry no data.
    Parsed d(rpc::error_response(nullptr, rpc::RpcError{rpc::kMethodNotFound, "Method not found", {}}));
    ck_assert(!json_object_has_member(member_object(d.obj, "error"), "data"));

    // Peer list and safety number.
    auto legacy = sample_peer();
    legacy.id = "legacy:finch@box";
    legacy.fingerprint.clear();
    legacy.trust = model::Trust::Legacy;
    legacy.secure = false;
    Parsed l(rpc::result_response(nullptr, rpc::peers_json({sample_peer(), legacy})));
    JsonArray* arr = json_node_get_array(json_object_get_member(l.obj, "result"));
    ck_assert_int_eq(json_array_get_length(arr), 2);
    JsonObject* second = json_array_get_object_element(arr, 1);
    ck_assert(JSON_NODE_HOLDS_NULL(json_object_get_member(second, "fingerprint")));
    ck_assert_std_eq(str(second, "trust").c_str(), "legacy");
    ck_assert(!boolean(second, "secure"));

    Parsed s(rpc::result_response(nullptr, rpc::safety_number_json("12345 67890", "aaaa bbbb", "cccc dddd")));
    JsonObject* sr = member_object(s.obj, "result");
    ck_assert_std_eq(str(sr, "safetyNumber").c_str(), "12345 67890");
    ck_assert_std_eq(str(sr, "own").c_str(), "aaaa bbbb");
    ck_assert_std_eq(str(sr, "peer").c_str(), "cccc dddd");

    Parsed sent(rpc::result_response(nullptr, rpc::sent_json(sample_message())));
    ck_assert_std_eq(str(member_object(sent.obj, "result"), "id").c_str(), "m-1");

    // History: message objects with exactly the documented fields.
    auto out = sample_message();
    out.direction = model::Direction::Outgoing;
    out.state = model::MessageState::Failed;
    out.failure_reason = "peer refused";
    Parsed h(rpc::result_response(nullptr, rpc::messages_json({sample_message(), out})));
    JsonArray* msgs = json_node_get_array(json_object_get_member(h.obj, "result"));
    JsonObject* m0 = json_array_get_object_element(msgs, 0);
    ck_assert_int_eq(member_count(m0), 8);
    ck_assert_std_eq(str(m0, "id").c_str(), "m-1");
    ck_assert_std_eq(str(m0, "peer").c_str(), std::string(64, 'a').c_str());
    ck_assert_std_eq(str(m0, "direction").c_str(), "in");
    ck_assert_std_eq(str(m0, "body").c_str(), "hello");
    ck_assert(integer(m0, "timestamp") == 1714560000123);
    ck_assert_std_eq(str(m0, "state").c_str(), "delivered");
    ck_assert(boolean(m0, "secure"));
    ck_assert(!boolean(m0, "verified"));
    ck_assert(!json_object_has_member(m0, "reason"));
    JsonObject* m1 = json_array_get_object_element(msgs, 1);
    ck_assert_int_eq(member_count(m1), 9);
    ck_assert_std_eq(str(m1, "direction").c_str(), "out");
    ck_assert_std_eq(str(m1, "state").c_str(), "failed");
    ck_assert_std_eq(str(m1, "reason").c_str(), "peer refused");
}
END_TEST

// ---- JSON-RPC: notifications ------------------------------------------------------------------

namespace {
JsonObject* notification_params(Parsed& p, const char* method)
{
    ck_assert_std_eq(str(p.obj, "jsonrpc").c_str(), "2.0");
    ck_assert_std_eq(str(p.obj, "method").c_str(), method);
    ck_assert_msg(!json_object_has_member(p.obj, "id"), "notification with an id");
    ck_assert_int_eq(member_count(p.obj), 3);
    return member_object(p.obj, "params");
}
}  // namespace

START_TEST(test_console_prompt)
{
    ck_assert_std_eq(console_prompt({}).c_str(), "chinwag> ");
    ck_assert_std_eq(console_prompt({"bob@lab"}).c_str(), "chinwag (bob@lab is typing\u2026)> ");
    ck_assert_std_eq(console_prompt({"bob@lab", "carol@lab"}).c_str(),
                     "chinwag (bob@lab and carol@lab are typing\u2026)> ");
    ck_assert_std_eq(console_prompt({"a@x", "b@x", "c@x"}).c_str(), "chinwag (3 people are typing\u2026)> ");
    // A name with an escape sequence cannot rewrite the terminal from the prompt.
    ck_assert(console_prompt({"evil\x1b[2J@x"}).find('\x1b') == std::string::npos);
}
END_TEST

START_TEST(test_notifications)
{
    {
        Parsed p(rpc::peer_changed_notification(sample_peer()));
        JsonObject* o = notification_params(p, "peerChanged");
        ck_assert_int_eq(member_count(o), 13);
        ck_assert_std_eq(str(o, "id").c_str(), std::string(64, 'b').c_str());
        ck_assert_std_eq(str(o, "instance").c_str(), "bob@lab");
        ck_assert_std_eq(str(o, "nick").c_str(), "Bob");
        ck_assert_std_eq(str(o, "status").c_str(), "away");
        ck_assert_std_eq(str(o, "message").c_str(), "lunch");
        ck_assert_std_eq(str(o, "fingerprint").c_str(), std::string(64, 'b').c_str());
        ck_assert_std_eq(str(o, "trust").c_str(), "verified");
        ck_assert(boolean(o, "online"));
        ck_assert(boolean(o, "secure"));
        ck_assert_int_eq(integer(o, "unread"), 3);
        ck_assert_std_eq(str(o, "firstName").c_str(), "Bob");
        ck_assert_std_eq(str(o, "lastName").c_str(), "");  // not published
        ck_assert_std_eq(str(o, "email").c_str(), "bob@example.org");
    }
    {
        Parsed p(rpc::peer_gone_notification("legacy:x@y"));
        JsonObject* o = notification_params(p, "peerGone");
        ck_assert_int_eq(member_count(o), 1);
        ck_assert_std_eq(str(o, "id").c_str(), "legacy:x@y");
    }
    {
        auto peer = sample_peer();
        peer.trust = model::Trust::Impostor;
        Parsed p(rpc::message_notification(sample_message(), &peer));
        JsonObject* o = notification_params(p, "message");
        ck_assert_int_eq(member_count(o), 8);
        ck_assert_std_eq(str(o, "id").c_str(), "m-1");
        ck_assert_std_eq(str(o, "from").c_str(), std::string(64, 'a').c_str());
        ck_assert_std_eq(str(o, "instance").c_str(), "bob@lab");
        ck_assert_std_eq(str(o, "body").c_str(), "hello");
        ck_assert(integer(o, "timestamp") == 1714560000123);
        ck_assert(boolean(o, "secure"));
        ck_assert_std_eq(str(o, "trust").c_str(), "impostor");
        ck_assert(!boolean(o, "verified"));
        Parsed unknown(rpc::message_notification(sample_message(), nullptr));
        ck_assert_std_eq(str(notification_params(unknown, "message"), "trust").c_str(), "unchecked");
    }
    {
        auto m = sample_message();
        m.direction = model::Direction::Outgoing;
        m.state = model::MessageState::Sent;
        Parsed p(rpc::message_state_notification(m));
        JsonObject* o = notification_params(p, "messageState");
        ck_assert_int_eq(member_count(o), 3);
        ck_assert_std_eq(str(o, "id").c_str(), "m-1");
        ck_assert_std_eq(str(o, "to").c_str(), std::string(64, 'a').c_str());
        ck_assert_std_eq(str(o, "state").c_str(), "sent");
        m.state = model::MessageState::Failed;
        m.failure_reason = "no route";
        Parsed f(rpc::message_state_notification(m));
        JsonObject* fo = notification_params(f, "messageState");
        ck_assert_std_eq(str(fo, "state").c_str(), "failed");
        ck_assert_std_eq(str(fo, "reason").c_str(), "no route");
    }
    {
        Parsed p(rpc::warning_notification({"impostor", "alice@lab", "claims Alice's name with another key"}));
        JsonObject* o = notification_params(p, "warning");
        ck_assert_int_eq(member_count(o), 3);
        ck_assert_std_eq(str(o, "kind").c_str(), "impostor");
        ck_assert_std_eq(str(o, "peer").c_str(), "alice@lab");
        ck_assert_std_eq(str(o, "detail").c_str(), "claims Alice's name with another key");
    }
    {
        Parsed p(rpc::notice_notification({"discovery", "avahi-daemon is not running", true}));
        JsonObject* o = notification_params(p, "notice");
        ck_assert_int_eq(member_count(o), 3);
        ck_assert(json_object_get_boolean_member(o, "problem"));
        ck_assert_std_eq(str(o, "kind").c_str(), "discovery");
        ck_assert_std_eq(str(o, "detail").c_str(), "avahi-daemon is not running");
    }
}
END_TEST

START_TEST(test_escaping_odd_strings)
{
    auto m = sample_message();
    // Quotes, backslashes, every C0 control, DEL, U+2028/2029, emoji, and a JSON-looking body.
    std::string odd = "\"\\/\b\f\n\r\t";
    for (char c = 1; c < 0x20; ++c)
        odd += c;
    odd += "\x7f \xE2\x80\xA8\xE2\x80\xA9 \xF0\x9F\x98\x80 {\"jsonrpc\":\"2.0\",\"id\":1}\n{\"x\":1}";
    m.body = odd;
    std::string line = rpc::message_notification(m, nullptr);
    Parsed p(line);   // checks: no raw newline, valid UTF-8, parses
    ck_assert_std_eq(str(notification_params(p, "message"), "body").c_str(), odd.c_str());

    // Bytes that are not UTF-8 (from a legacy peer, say) and a NUL become U+FFFD; the line stays JSON.
    m.body = std::string("a\xFF" "b\xC0\xAF" "c\0d", 8);
    Parsed q(rpc::message_notification(m, nullptr));
    ck_assert_std_eq(str(notification_params(q, "message"), "body").c_str(),
                     "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD" "c\xEF\xBF\xBD" "d");
    // Same for every string field, e.g. a peer's nick and an error message.
    auto peer = sample_peer();
    peer.nick = "\xFE\xFF";
    Parsed r(rpc::peer_changed_notification(peer));
    ck_assert_std_eq(str(notification_params(r, "peerChanged"), "nick").c_str(), "\xEF\xBF\xBD\xEF\xBF\xBD");
    Parsed e(rpc::error_response(nullptr, rpc::RpcError{rpc::kCoreError, "bad \xFF\n", "x"}));
    ck_assert_std_eq(str(member_object(e.obj, "error"), "message").c_str(), "bad \xEF\xBF\xBD\n");
    // A method name echoed in an error stays valid.
    auto nf = rpc::parse_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\\ud800x\"}");
    ck_assert(!nf.request);
    error_code_of(nf.reply);
}
END_TEST

// ---- Line framing -----------------------------------------------------------------------------

START_TEST(test_line_splitter_every_split)
{
    const std::string input = "{\"a\":1}\n\n{\"b\":\"\xC3\xA9\"}\r\nlast";
    for (std::size_t cut = 0; cut <= input.size(); ++cut) {
        rpc::LineSplitter s(64);
        auto lines = s.feed(std::string_view(input).substr(0, cut));
        auto more = s.feed(std::string_view(input).substr(cut));
        lines.insert(lines.end(), more.begin(), more.end());
        auto tail = s.finish();
        ck_assert_int_eq(lines.size(), 3);
        ck_assert_std_eq(lines[0].text.c_str(), "{\"a\":1}");
        ck_assert_std_eq(lines[1].text.c_str(), "");
        ck_assert_std_eq(lines[2].text.c_str(), "{\"b\":\"\xC3\xA9\"}\r");
        ck_assert(tail.has_value());
        ck_assert_std_eq(tail->text.c_str(), "last");
        ck_assert(!s.finish().has_value());
    }
}
END_TEST

START_TEST(test_huge_line)
{
    // A 3 MiB line fed in 64 KiB chunks: reported once as too long, never buffered, and the
    // next line is intact. A line of exactly the limit is accepted.
    rpc::LineSplitter s;   // 1 MiB limit
    std::string chunk(64 * 1024, 'x');
    std::vector<rpc::LineSplitter::Line> lines;
    for (int i = 0; i < 48; ++i) {
        auto got = s.feed(chunk);
        ck_assert(got.empty());
    }
    auto got = s.feed("yyy\n{\"ok\":true}\n");
    ck_assert_int_eq(got.size(), 2);
    ck_assert(got[0].too_long);
    ck_assert(got[0].text.empty());
    ck_assert(!got[1].too_long);
    ck_assert_std_eq(got[1].text.c_str(), "{\"ok\":true}");

    std::string exact(rpc::kMaxLineBytes, 'z');
    got = s.feed(exact + "\n");
    ck_assert_int_eq(got.size(), 1);
    ck_assert(!got[0].too_long);
    ck_assert_int_eq(got[0].text.size(), rpc::kMaxLineBytes);
    got = s.feed(exact + "z\n");
    ck_assert(got.size() == 1 && got[0].too_long);
    // An unterminated huge tail at EOF is also reported.
    s.feed(exact);
    s.feed("zz");
    auto tail = s.finish();
    ck_assert(tail && tail->too_long);

    ck_assert_int_eq(error_code_of(rpc::oversized_line_reply()), rpc::kInvalidRequest);
    ck_assert(id_is_null(rpc::oversized_line_reply()));
    // parse_line defends itself too.
    expect_error(std::string(rpc::kMaxLineBytes + 1, ' '), rpc::kInvalidRequest);
}
END_TEST

// ---- Options ----------------------------------------------------------------------------------

namespace {
Result<Options> opts(std::vector<std::string> args) { return parse_options(args); }
void expect_usage(std::vector<std::string> args)
{
    auto r = opts(args);
    ck_assert_msg(!r.ok(), "accepted bad arguments");
    ck_assert_std_eq(r.error().code.c_str(), "usage");
}
}  // namespace

START_TEST(test_options)
{
    auto o = opts({});
    ck_assert(o && o->command == Command::Default && !o->profile_dir && !o->instance);
    o = opts({"--profile", "/tmp/p", "--instance=ann@x", "whoami"});
    ck_assert(o && o->command == Command::Whoami);
    ck_assert_std_eq(o->profile_dir->c_str(), "/tmp/p");
    ck_assert_std_eq(o->instance->c_str(), "ann@x");
    o = opts({"init", "--nick", "Ann Lee", "--profile=/p"});
    ck_assert(o && o->command == Command::Init);
    ck_assert_std_eq(o->nick.c_str(), "Ann Lee");
    ck_assert_std_eq(o->profile_dir->c_str(), "/p");
    o = opts({"history", "bob@lab", "--limit", "5"});
    ck_assert(o && o->command == Command::History && o->limit == 5);
    ck_assert_std_eq(o->peer.c_str(), "bob@lab");
    o = opts({"history", "bob@lab"});
    ck_assert(o && o->limit == 50);
    ck_assert(opts({"contacts"})->command == Command::Contacts);
    ck_assert(opts({"jsonrpc"})->command == Command::JsonRpc);
    ck_assert(opts({"--version"})->command == Command::Version);
    ck_assert(opts({"whoami", "--help"})->command == Command::Help);
    ck_assert(opts({"-h"})->command == Command::Help);

    expect_usage({"frobnicate"});
    expect_usage({"--bogus"});
    expect_usage({"--profile"});
    expect_usage({"--profile="});
    expect_usage({"init"});
    expect_usage({"init", "--nick", ""});
    expect_usage({"whoami", "--nick", "x"});
    expect_usage({"whoami", "extra"});
    expect_usage({"history"});
    expect_usage({"history", "bob", "carol"});
    expect_usage({"history", "bob", "--limit", "0"});
    expect_usage({"history", "bob", "--limit", "5x"});
    expect_usage({"history", "bob", "--limit", "-5"});
    expect_usage({"contacts", "--limit", "5"});
    ck_assert(usage_text().find("jsonrpc") != std::string::npos);
}
END_TEST

// ---- Console ----------------------------------------------------------------------------------

START_TEST(test_console_commands)
{
    auto c = parse_console_command("  /msg alice@lab  hello   there ");
    auto& m = std::get<cmd::Msg>(c);
    ck_assert_std_eq(m.peer.c_str(), "alice@lab");
    ck_assert_std_eq(m.text.c_str(), "hello   there");
    c = parse_console_command("/msg \"Alice Smith@lab\" hi");
    ck_assert_std_eq(std::get<cmd::Msg>(c).peer.c_str(), "Alice Smith@lab");
    ck_assert(std::holds_alternative<cmd::Bad>(parse_console_command("/msg alice")));
    ck_assert(std::holds_alternative<cmd::Bad>(parse_console_command("/msg")));
    ck_assert(std::holds_alternative<cmd::Bad>(parse_console_command("/msg \"alice hi")));

    c = parse_console_command("/status away back at 3");
    ck_assert(std::get<cmd::SetStatus>(c).status == model::Status::Away);
    ck_assert_std_eq(std::get<cmd::SetStatus>(c).message.c_str(), "back at 3");
    c = parse_console_command("/status available");
    ck_assert(std::get<cmd::SetStatus>(c).message.empty());
    ck_assert(std::holds_alternative<cmd::Bad>(parse_console_command("/status sleepy")));
    ck_assert(std::holds_alternative<cmd::Bad>(parse_console_command("/status")));

    ck_assert_std_eq(std::get<cmd::Verify>(parse_console_command("/verify bob")).peer.c_str(), "bob");
    ck_assert_std_eq(std::get<cmd::Trust>(parse_console_command("/trust \"0123 4567\"")).peer.c_str(), "0123 4567");
    ck_assert_std_eq(std::get<cmd::History>(parse_console_command("/history bob")).peer.c_str(), "bob");
    ck_assert(std::holds_alternative<cmd::Bad>(parse_console_command("/verify")));
    ck_assert(std::holds_alternative<cmd::Bad>(parse_console_command("/verify a b")));
    ck_assert_std_eq(std::get<cmd::Search>(parse_console_command("/search  lunch today ")).words.c_str(),
                     "lunch today");
    ck_assert(std::holds_alternative<cmd::Bad>(parse_console_command("/search")));
    ck_assert(std::holds_alternative<cmd::Who>(parse_console_command("/who")));
    ck_assert(std::holds_alternative<cmd::Help>(parse_console_command("/help")));
    ck_assert(std::holds_alternative<cmd::Quit>(parse_console_command("/quit")));
    ck_assert(std::holds_alternative<cmd::Empty>(parse_console_command("   ")));
    ck_assert(std::holds_alternative<cmd::Bad>(parse_console_command("hello")));
    auto bad = std::get<cmd::Bad>(parse_console_command("/x\x1b[2J"));
    ck_assert(bad.why.find('\x1b') == std::string::npos);

    ck_assert(takes_peer_at("/msg", 1));
    ck_assert(!takes_peer_at("/msg", 2));
    ck_assert(!takes_peer_at("/search", 1));
    ck_assert_int_eq(console_command_names().size(), 9);
}
END_TEST

START_TEST(test_console_text)
{
    // Escape sequences, bidi overrides and invalid bytes never reach the terminal.
    ck_assert_std_eq(printable("a\x1b[31mb").c_str(), "a\xEF\xBF\xBD[31mb");
    ck_assert_std_eq(printable("x\xC2\x9By").c_str(), "x\xEF\xBF\xBDy");          // C1 CSI
    ck_assert_std_eq(printable("\xE2\x80\xAE" "evil").c_str(), "\xEF\xBF\xBD" "evil"); // U+202E
    ck_assert_std_eq(printable("a\xFFz\tq\nr").c_str(), "a\xEF\xBF\xBDz q\xEF\xBF\xBDr");
    ck_assert_std_eq(printable("caf\xC3\xA9 \xF0\x9F\x98\x80").c_str(), "caf\xC3\xA9 \xF0\x9F\x98\x80");
    ck_assert_std_eq(printable_multiline("one\r\ntwo\nthree", "  ").c_str(), "one\n  two\n  three");

    auto m = sample_message();
    m.body = "hi\nthere";
    std::string line = message_line(m, "alice@lab", model::Trust::Pinned, false);
    std::string expect_time = "[" + clock_time(m.timestamp_ms, false) + "] ";
    ck_assert_std_eq(line.c_str(), (expect_time + "alice@lab: hi\n    there").c_str());
    ck_assert_int_eq(clock_time(m.timestamp_ms, false).size(), 5);
    ck_assert_int_eq(clock_time(m.timestamp_ms, true).size(), 16);

    m.secure = false;
    m.body = "plain";
    line = message_line(m, "finch@box", model::Trust::Legacy, false);
    ck_assert_std_eq(line.c_str(), (expect_time + "finch@box (unencrypted): plain").c_str());
    m.secure = true;
    line = message_line(m, "alice@lab", model::Trust::Impostor, false);
    ck_assert_std_eq(line.c_str(), (expect_time + "alice@lab (IMPOSTOR?): plain").c_str());

    m.direction = model::Direction::Outgoing;
    m.secure = false;
    m.state = model::MessageState::Queued;
    line = message_line(m, "bob@lab", model::Trust::Pinned, false);
    ck_assert_std_eq(line.c_str(), (expect_time + "me -> bob@lab (queued): plain").c_str());
    m.state = model::MessageState::Failed;
    m.failure_reason = "refused";
    line = message_line(m, "bob@lab", model::Trust::Pinned, false);
    ck_assert_std_eq(line.c_str(), (expect_time + "me -> bob@lab (unencrypted) (failed: refused): plain").c_str());

    std::string w = warning_line("impostor", "alice@lab", "uses another key");
    ck_assert_std_eq(w.c_str(), "*** WARNING (impostor) alice@lab: uses another key ***");
    ck_assert(console_help().find("/verify") != std::string::npos);
}
END_TEST

static Suite* cli_suite()
{
    Suite* s = suite_create("cli");
    TCase* rpc_case = tcase_create("json-rpc");
    tcase_set_timeout(rpc_case, 30);
    tcase_add_test(rpc_case, test_parse_errors);
    tcase_add_test(rpc_case, test_invalid_requests);
    tcase_add_test(rpc_case, test_nested_junk);
    tcase_add_test(rpc_case, test_method_not_found_and_notifications);
    tcase_add_test(rpc_case, test_invalid_params);
    tcase_add_test(rpc_case, test_valid_calls);
    tcase_add_test(rpc_case, test_responses);
    tcase_add_test(rpc_case, test_notifications);
    tcase_add_test(rpc_case, test_escaping_odd_strings);
    tcase_add_test(rpc_case, test_line_splitter_every_split);
    tcase_add_test(rpc_case, test_huge_line);
    suite_add_tcase(s, rpc_case);
    TCase* front = tcase_create("front-end");
    tcase_add_test(front, test_options);
    tcase_add_test(front, test_console_commands);
    tcase_add_test(front, test_console_text);
    tcase_add_test(front, test_console_prompt);
    suite_add_tcase(s, front);
    return s;
}

int main()
{
    SRunner* runner = srunner_create(cli_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
