// libFuzzer target: the JSON-RPC line reader of `chinwag-cli jsonrpc` (LineSplitter and
// parse_line, src/cli/json_rpc.hpp).
//
// Input: [max line][split][bytes...]. The bytes go through a LineSplitter with a small line
// limit, fed whole and fed in two pieces cut at the chosen point: both must give the same
// lines, and without a too-long line the lines joined by '\n' give back the input. Every line
// (and the whole input as one line) goes through parse_line: any reply must be a JSON-RPC 2.0
// error object json-glib reads back, and a parsed request's result response must carry its id.
#include "cli/json_rpc.hpp"
#include "fuzz/fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

using namespace chinwag::cli::rpc;

namespace {

struct Unref {
    void operator()(gpointer p) const { g_object_unref(p); }
};

// The reply line read back: an object with "jsonrpc":"2.0", and "id"; returns that object's
// JSON text of "id" ("" when the line is not such an object).
std::string check_reply(const std::string& line, bool error)
{
    FUZZ_CHECK(line.find('\n') == std::string::npos);
    std::unique_ptr<JsonParser, Unref> parser(json_parser_new());
    if (!json_parser_load_from_data(parser.get(), line.data(), static_cast<gssize>(line.size()), nullptr)) {
        std::fprintf(stderr, "reply is not JSON: %s\n", line.c_str());
        FUZZ_CHECK(false);
    }
    JsonNode* root = json_parser_get_root(parser.get());
    FUZZ_CHECK(root && JSON_NODE_HOLDS_OBJECT(root));
    JsonObject* o = json_node_get_object(root);
    FUZZ_CHECK(std::string_view(json_object_get_string_member_with_default(o, "jsonrpc", "")) == "2.0");
    FUZZ_CHECK(json_object_has_member(o, "id"));
    if (error) {
        JsonNode* err = json_object_get_member(o, "error");
        FUZZ_CHECK(err && JSON_NODE_HOLDS_OBJECT(err));
        const gint64 code = json_object_get_int_member_with_default(json_node_get_object(err), "code", 0);
        FUZZ_CHECK(code == kParseError || code == kInvalidRequest || code == kMethodNotFound ||
                   code == kInvalidParams);
    } else {
        FUZZ_CHECK(json_object_has_member(o, "result"));
    }
    std::unique_ptr<JsonGenerator, Unref> gen(json_generator_new());
    json_generator_set_root(gen.get(), json_object_get_member(o, "id"));
    gchar* text = json_generator_to_data(gen.get(), nullptr);
    std::string id(text);
    g_free(text);
    return id;
}

void check_line(std::string_view line)
{
    ParsedLine parsed = parse_line(line);
    if (parsed.request) {
        FUZZ_CHECK(parsed.reply.empty());
        const Request& r = *parsed.request;
        FUZZ_CHECK(r.notification == !r.id);
        if (!r.notification) {
            const std::string reply = result_response(r.id.get(), empty_object());
            check_reply(reply, false);
        }
        if (auto* h = std::get_if<call::GetHistory>(&r.call))
            FUZZ_CHECK(h->limit >= 1 && h->limit <= 100000);
        if (auto* q = std::get_if<call::Search>(&r.call))
            FUZZ_CHECK(q->limit >= 1 && q->limit <= 100000);
    } else if (!parsed.reply.empty()) {
        check_reply(parsed.reply, true);
    }
}

std::vector<LineSplitter::Line> split(std::size_t max, std::string_view a, std::string_view b)
{
    LineSplitter s(max);
    auto lines = s.feed(a);
    for (auto& l : s.feed(b))
        lines.push_back(std::move(l));
    if (auto last = s.finish())
        lines.push_back(std::move(*last));
    return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 2)
        return 0;
    const std::size_t max = 1 + data[0] * 4;
    const std::string_view bytes(reinterpret_cast<const char*>(data + 2), size - 2);
    const std::size_t cut = bytes.empty() ? 0 : data[1] % (bytes.size() + 1);

    const auto whole = split(max, bytes, {});
    const auto pieces = split(max, bytes.substr(0, cut), bytes.substr(cut));
    FUZZ_CHECK(whole.size() == pieces.size());
    bool any_too_long = false;
    std::string joined;
    for (std::size_t i = 0; i < whole.size(); ++i) {
        FUZZ_CHECK(whole[i].too_long == pieces[i].too_long && whole[i].text == pieces[i].text);
        FUZZ_CHECK(whole[i].text.size() <= max && whole[i].text.find('\n') == std::string::npos);
        FUZZ_CHECK(!whole[i].too_long || whole[i].text.empty());
        any_too_long |= whole[i].too_long;
        if (i)
            joined += '\n';
        joined += whole[i].text;
        if (!whole[i].too_long && !is_blank(whole[i].text))
            check_line(whole[i].text);
    }
    if (!any_too_long) {
        // The input, less one final '\n' (finish() reports no empty last line).
        std::string_view expect = bytes;
        if (!expect.empty() && expect.back() == '\n')
            expect.remove_suffix(1);
        FUZZ_CHECK(joined == expect);
    }
    check_line(bytes);
    return 0;
}
