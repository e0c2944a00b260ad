// libFuzzer target: chinwag::xmpp::StreamParser and the stanza readers.
//
// Input: [split lo][split hi][mode][stream bytes...]. The stream bytes are fed once whole
// and once in two pieces cut at the chosen point: both must give the same stanzas (chunking
// changes only timing). mode bit 0 selects small limits so that the size and depth checks
// run on short inputs. Every stanza then goes through every reader, and through serialize() -> a fresh parser, which must give back an equal element.
// Finally the stream bytes are used as a message body: chat_message -> serialize -> parse
// -> read_message must give the same body back whenever the body is XML text.
#include "fuzz/fuzz_check.hpp"
#include "xmpp/stanzas.hpp"
#include "xmpp/stream_parser.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

using namespace chinwag::xmpp;

namespace {

const std::string header =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' from='a@h' to='b@h' version='1.0'>";

// The events that are not faults.
std::vector<Event> without_faults(const std::vector<Event>& events)
{
    std::vector<Event> out;
    for (const auto& e : events)
        if (!std::holds_alternative<StreamFault>(e))
            out.push_back(e);
    return out;
}

// Two readings of the same bytes agree: the same opens, stanzas and close up to where the
// first of them stopped at a fault.
bool agree(const std::vector<Event>& a, const std::vector<Event>& b)
{
    const auto x = without_faults(a), y = without_faults(b);
    const std::size_t n = std::min(x.size(), y.size());
    return std::equal(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n), y.begin());
}

// The only element a fresh stream yields for header + xml, or nullopt.
std::optional<Element> reparse(const std::string& xml)
{
    StreamParser p;
    auto events = p.feed(header + xml);
    if (events.size() != 2 || !std::holds_alternative<StreamOpen>(events[0]))
        return std::nullopt;
    if (auto* e = std::get_if<Element>(&events[1]))
        return *e;
    return std::nullopt;
}

void exercise_readers(const Element& e)
{
    (void)is_features(e);
    (void)offers_starttls(e);
    (void)is_starttls(e);
    (void)is_proceed(e);
    (void)is_tls_failure(e);
    (void)is_ping(e);
    (void)is_iq_result_for(e, e.attr("id"));
    if (auto err = stream_error_of(e))
        FUZZ_CHECK(!err->first.empty());
    if (auto m = read_message(e)) {
        if (m->body)
            FUZZ_CHECK(is_xml_text(*m->body));
    }
    if (is_iq_request(e)) {
        // What the session answers must itself be a well-formed stanza.
        FUZZ_CHECK(reparse(iq_result(e).serialize(ns_client)).has_value());
        FUZZ_CHECK(reparse(iq_error(e, "service-unavailable").serialize(ns_client)).has_value());
    }
    // serialize -> parse gives the same element back.
    const std::string xml = e.serialize(ns_client);
    auto again = reparse(xml);
    if (!again) {
        std::fprintf(stderr, "does not reparse: %s\n", xml.c_str());
        FUZZ_CHECK(again.has_value());
    }
    if (!(*again == e)) {
        std::fprintf(stderr, "reparsed differently: %s\n        -> %s\n", xml.c_str(),
                     again->serialize(ns_client).c_str());
        FUZZ_CHECK(*again == e);
    }
}

void body_round_trip(std::string_view body)
{
    const Element m = chat_message("m-1", "alice@lab", "bob@lab", body);
    auto again = reparse(m.serialize(ns_client));
    FUZZ_CHECK(again.has_value());
    auto read = read_message(*again);
    FUZZ_CHECK(read.has_value() && read->body.has_value());
    FUZZ_CHECK(read->receipt_requested && read->chat_state == "active");
    if (is_xml_text(body))
        FUZZ_CHECK(*read->body == body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 3)
        return 0;
    const std::size_t split_choice = data[0] | (data[1] << 8);
    const std::uint8_t mode = data[2];
    const std::string_view bytes(reinterpret_cast<const char*>(data + 3), size - 3);
    const std::size_t split = bytes.empty() ? 0 : split_choice % (bytes.size() + 1);

    StreamParser::Limits limits;
    if (mode & 1) {
        limits.max_stanza_bytes = 32 + (mode >> 1) * 8;
        limits.max_depth = 1 + (mode >> 4);
    }

    // Where the stream is cut changes when events come out, not which: bytes inside an
    // unfinished tag wait for a '>' before expat sees them (a final ">" hands them over),
    // and whether a bad token is reported as bad or as too large, or (expat itself, at the
    // very start of a document) at once or a few bytes later, depends on the cut. So: the
    // same events up to a fault; with no fault, the same events and state.
    StreamParser whole(limits);
    auto events = whole.feed(bytes);
    for (auto& e : whole.feed(">"))
        events.push_back(std::move(e));

    StreamParser pieces(limits);
    auto split_events = pieces.feed(bytes.substr(0, split));
    for (auto part : {bytes.substr(split), std::string_view(">")})
        for (auto& e : pieces.feed(part))
            split_events.push_back(std::move(e));
    FUZZ_CHECK(agree(events, split_events));
    if (!whole.failed() && !pieces.failed())
        FUZZ_CHECK(events == split_events && whole.closed() == pieces.closed());

    int faults = 0;
    for (const auto& ev : events) {
        if (auto* e = std::get_if<Element>(&ev))
            exercise_readers(*e);
        else if (std::holds_alternative<StreamFault>(ev))
            ++faults;
    }
    FUZZ_CHECK(faults <= 1);
    // After a fault or the end of the stream, nothing more comes out.
    if (whole.failed() || whole.closed())
        FUZZ_CHECK(whole.feed("<message/>").empty());

    // reset() gives a parser that reads a normal stream again.
    whole.reset();
    const auto fresh = whole.feed(header + "<message/>");
    FUZZ_CHECK(fresh.size() == 2 && std::holds_alternative<Element>(fresh[1]));

    body_round_trip(bytes);
    return 0;
}
