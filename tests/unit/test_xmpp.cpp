// Unit tests for the XMPP wire layer: Element, StreamParser (recorded streams at every split
// point, every restricted construct, size and depth limits) and the stanza builders/readers.
#include "xmpp/element.hpp"
#include "xmpp/stanzas.hpp"
#include "xmpp/stream_parser.hpp"

#include <glib.h>
#include <malloc.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

// Last: check.h defines a fail() macro that breaks standard headers.
#include <check.h>

// ck_assert_str_eq keeps a pointer past the end of the full expression, which dangles
// for a .c_str() of a temporary; these copy both sides first.
#define EXPECT_STR(a, b)                                                                  \
    do {                                                                                   \
        const std::string ck_a_ = (a), ck_b_ = (b);                                        \
        ck_assert_msg(ck_a_ == ck_b_, "%s == %s: '%s' != '%s'", #a, #b, ck_a_.c_str(),      \
                      ck_b_.c_str());                                                      \
    } while (0)
#define EXPECT_STR_NE(a, b)                                                               \
    do {                                                                                   \
        const std::string ck_a_ = (a), ck_b_ = (b);                                        \
        ck_assert_msg(ck_a_ != ck_b_, "%s != %s: both '%s'", #a, #b, ck_a_.c_str());        \
    } while (0)

using namespace chinwag::xmpp;

namespace {

// What a Chinwag responder sends to the initiator before TLS (recorded from a session).
const std::string chinwag_pre_tls =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' from='bob@lab-4' to='alice@lab-3' "
    "version='1.0' id='s-7f3a'>"
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
    "</stream:features>"
    "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";

// ... and over TLS after the stream restart (RFC 6120 §5.4.3.3).
const std::string chinwag_post_tls =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' from='bob@lab-4' to='alice@lab-3' "
    "version='1.0' xml:lang='en'><stream:features/>\n"
    "<message type='chat' id='m-1' from='bob@lab-4' to='alice@lab-3'>"
    "<body>Hi Alice &amp; co &lt;3 \xe2\x80\x94 gr\xc3\xbc\xc3\x9f" "e \xe2\x9c\x93 \xf0\x9f\x98\x80\n"
    "second line</body><request xmlns='urn:xmpp:receipts'/>"
    "<active xmlns='http://jabber.org/protocol/chatstates'/></message>"
    "<message id='r-9' from='bob@lab-4' to='alice@lab-3'>"
    "<received xmlns='urn:xmpp:receipts' id='m-0'/></message> \n"
    "<message type='chat' from='bob@lab-4' to='alice@lab-3'>"
    "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>"
    "<iq type='get' id='p-1' from='bob@lab-4' to='alice@lab-3'><ping xmlns='urn:xmpp:ping'/></iq>"
    " "
    "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
    "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>replaced</text></stream:error>"
    "</stream:stream>";

// What finch (libpurple Bonjour) sends: double quotes, encoding in the declaration, no
// version, XHTML-IM alongside the plain body, jabber:x:event.
const std::string finch_stream =
    "<?xml version='1.0' encoding='UTF-8' ?><stream:stream xmlns=\"jabber:client\" "
    "xmlns:stream=\"http://etherx.jabber.org/streams\" from=\"bob@cw-c\" to=\"alice@cw-a\">"
    "<message to='alice@cw-a' from='bob@cw-c' type='chat'><body>hello from finch &amp; "
    "friends \xc3\xa9</body><html xmlns='http://jabber.org/protocol/xhtml-im'>"
    "<body xmlns='http://www.w3.org/1999/xhtml'><font face='Helvetica' ABSZ='12'>hello from "
    "<b>finch</b> &amp; friends \xc3\xa9</font></body></html>"
    "<x xmlns='jabber:x:event'><composing/></x></message>"
    "<message to='alice@cw-a' from='bob@cw-c' type='chat'><x xmlns='jabber:x:event'>"
    "<composing/></x></message>"
    "<message to='alice@cw-a' from='bob@cw-c' type='chat'><body>bye</body>"
    "<html xmlns='http://jabber.org/protocol/xhtml-im'><body "
    "xmlns='http://www.w3.org/1999/xhtml'>bye</body></html></message>"
    "</stream:stream>";

const std::string header =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' from='a' to='b' version='1.0'>";

std::vector<Event> parse_all(const std::string& bytes)
{
    StreamParser p;
    return p.feed(bytes);
}

std::vector<Event> concat(std::vector<Event> a, std::vector<Event> b)
{
    for (auto& e : b)
        a.push_back(std::move(e));
    return a;
}

std::string describe(const std::vector<Event>& events)
{
    std::string out;
    for (const auto& e : events) {
        if (auto* o = std::get_if<StreamOpen>(&e))
            out += "open(" + o->from + "," + o->to + "," + o->id + "," + o->version + "," + o->lang + ")";
        else if (auto* el = std::get_if<Element>(&e))
            out += el->serialize();
        else if (std::holds_alternative<StreamClose>(e))
            out += "close";
        else
            out += "fault(" + std::get<StreamFault>(e).condition + ": " + std::get<StreamFault>(e).detail + ")";
        out += "\n";
    }
    return out;
}

bool has_fault(const std::vector<Event>& events)
{
    for (const auto& e : events)
        if (std::holds_alternative<StreamFault>(e))
            return true;
    return false;
}

// Feeds the bytes in one go and returns the fault condition, or "" if none.
std::string fault_of(const std::string& bytes, StreamParser::Limits limits = {})
{
    StreamParser p(limits);
    auto events = p.feed(bytes);
    int faults = 0;
    std::string condition;
    for (const auto& e : events) {
        if (auto* f = std::get_if<StreamFault>(&e)) {
            ++faults;
            condition = f->condition;
        }
    }
    ck_assert_int_le(faults, 1);
    if (faults) {
        ck_assert(p.failed());
        ck_assert(std::holds_alternative<StreamFault>(events.back()));
        ck_assert(p.feed("<message/>").empty());  // reported once, then silence
    }
    return condition;
}

void check_splits(const std::string& bytes, std::size_t expected_events)
{
    const auto whole = parse_all(bytes);
    ck_assert_uint_eq(whole.size(), expected_events);
    ck_assert(!has_fault(whole));
    for (std::size_t i = 0; i <= bytes.size(); ++i) {
        StreamParser p;
        auto events = p.feed(std::string_view(bytes).substr(0, i));
        events = concat(std::move(events), p.feed(std::string_view(bytes).substr(i)));
        if (events != whole)
            ck_abort_msg("split at byte %zu gives different events:\n%s\nwhole:\n%s", i,
                         describe(events).c_str(), describe(whole).c_str());
    }
    StreamParser p;
    std::vector<Event> events;
    for (char c : bytes)
        events = concat(std::move(events), p.feed(std::string_view(&c, 1)));
    ck_assert(events == whole);
}

const Element& stanza(const std::vector<Event>& events, std::size_t i)
{
    ck_assert(i < events.size());
    ck_assert(std::holds_alternative<Element>(events[i]));
    return std::get<Element>(events[i]);
}

}  // namespace

// ---- Parser on recorded streams

START_TEST(chinwag_stream_events)
{
    StreamParser p;
    auto ev = p.feed(chinwag_pre_tls);
    ck_assert_uint_eq(ev.size(), 3);
    const auto& open = std::get<StreamOpen>(ev[0]);
    EXPECT_STR(open.from.c_str(), "bob@lab-4");
    EXPECT_STR(open.to.c_str(), "alice@lab-3");
    EXPECT_STR(open.version.c_str(), "1.0");
    EXPECT_STR(open.id.c_str(), "s-7f3a");
    ck_assert(is_features(stanza(ev, 1)));
    ck_assert(offers_starttls(stanza(ev, 1)));
    ck_assert(is_proceed(stanza(ev, 2)));

    // STARTTLS: both sides start over; the new header is a fresh document.
    p.reset();
    ev = p.feed(chinwag_post_tls);
    ck_assert_uint_eq(ev.size(), 8);
    EXPECT_STR(std::get<StreamOpen>(ev[0]).lang.c_str(), "en");
    ck_assert(is_features(stanza(ev, 1)));
    ck_assert(!offers_starttls(stanza(ev, 1)));

    auto m = read_message(stanza(ev, 2));
    ck_assert(m.has_value());
    EXPECT_STR(m->id.c_str(), "m-1");
    EXPECT_STR(m->type.c_str(), "chat");
    ck_assert(m->body.has_value());
    EXPECT_STR(m->body->c_str(), "Hi Alice & co <3 \xe2\x80\x94 gr\xc3\xbc\xc3\x9f" "e "
                                       "\xe2\x9c\x93 \xf0\x9f\x98\x80\nsecond line");
    ck_assert(m->receipt_requested);
    EXPECT_STR(m->chat_state.value().c_str(), "active");

    m = read_message(stanza(ev, 3));
    EXPECT_STR(m->received_id.value().c_str(), "m-0");
    EXPECT_STR(m->type.c_str(), "normal");
    ck_assert(!m->body);

    m = read_message(stanza(ev, 4));
    EXPECT_STR(m->chat_state.value().c_str(), "composing");
    ck_assert(!m->body && !m->receipt_requested);

    ck_assert(is_ping(stanza(ev, 5)));
    auto err = stream_error_of(stanza(ev, 6));
    ck_assert(err.has_value());
    EXPECT_STR(err->first.c_str(), "conflict");
    EXPECT_STR(err->second.c_str(), "replaced");
    ck_assert(std::holds_alternative<StreamClose>(ev[7]));
    ck_assert(p.closed());
    ck_assert(!p.failed());
    ck_assert(p.feed("<more/>").empty());
}
END_TEST

START_TEST(finch_stream_events)
{
    auto ev = parse_all(finch_stream);
    ck_assert_uint_eq(ev.size(), 5);
    const auto& open = std::get<StreamOpen>(ev[0]);
    EXPECT_STR(open.from.c_str(), "bob@cw-c");
    EXPECT_STR(open.to.c_str(), "alice@cw-a");
    ck_assert(open.version.empty());  // libpurple sends no version

    const Element& first = stanza(ev, 1);
    EXPECT_STR(first.ns().c_str(), "jabber:client");
    auto m = read_message(first);
    ck_assert(m.has_value());
    EXPECT_STR(m->body.value().c_str(), "hello from finch & friends \xc3\xa9");
    ck_assert(!m->receipt_requested);
    ck_assert(!m->chat_state);
    const Element* html = first.child("html", "http://jabber.org/protocol/xhtml-im");
    ck_assert_ptr_nonnull(html);
    const Element* xbody = html->child("body", "http://www.w3.org/1999/xhtml");
    ck_assert_ptr_nonnull(xbody);
    EXPECT_STR(xbody->child("font")->attr("face").c_str(), "Helvetica");
    EXPECT_STR(xbody->child("font")->child("b")->text().c_str(), "finch");
    EXPECT_STR(xbody->child("font")->text().c_str(), "hello from  & friends \xc3\xa9");

    m = read_message(stanza(ev, 2));
    ck_assert(m && !m->body);
    m = read_message(stanza(ev, 3));
    EXPECT_STR(m->body.value().c_str(), "bye");
    ck_assert(std::holds_alternative<StreamClose>(ev[4]));
}
END_TEST

START_TEST(every_split_point)
{
    check_splits(chinwag_pre_tls, 3);
    check_splits(chinwag_post_tls, 8);
    check_splits(finch_stream, 5);
}
END_TEST

START_TEST(events_arrive_promptly)
{
    // Each event must come out with the '>' that completes it: the peer may be waiting
    // for our answer to exactly that tag (expat's reparse deferral would hold it back).
    StreamParser p;
    const std::size_t header_end = chinwag_pre_tls.find("'s-7f3a'>") + 8;
    std::vector<std::size_t> arrivals;
    for (std::size_t i = 0; i < chinwag_pre_tls.size(); ++i)
        for (const auto& e : p.feed(std::string_view(chinwag_pre_tls).substr(i, 1)))
            if (!std::holds_alternative<StreamFault>(e))
                arrivals.push_back(i);
    ck_assert_uint_eq(arrivals.size(), 3);
    ck_assert_uint_eq(arrivals[0], header_end);
    ck_assert_uint_eq(arrivals[1], chinwag_pre_tls.find("</stream:features>") + 17);
    ck_assert_uint_eq(arrivals[2], chinwag_pre_tls.size() - 1);

    // A '>' inside an attribute value hands expat an unfinished tag; the short rest of it
    // must still complete the stanza at once.
    StreamParser q;
    ck_assert_uint_eq(q.feed(header).size(), 1);
    ck_assert(q.feed("<message to='a>b>c>d>e>f>g>h>i>j>k>l").empty());
    ck_assert_uint_eq(q.feed("'/>").size(), 1);
}
END_TEST

START_TEST(stanza_handed_over_at_its_closing_tag)
{
    // Whichever expat this build has (reparse deferral turned off, or an expat without it:
    // configure's HAVE_DECL_XML_SETREPARSEDEFERRALENABLED), the read that brings a stanza's
    // closing tag hands the stanza over with no further bytes: in an interactive exchange
    // the peer sends nothing more until we answer. The case expat's deferral holds back: one
    // read ends inside a long tag (after a whole stanza, or a '>' in an attribute value) and
    // the next, shorter read finishes it.
    const std::string ping = "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>";
    const std::vector<std::string> stanzas = {
        "<message from='alice@lab-3' to='bob@lab-4' type='chat' xml:lang='en' "
        "id='3f2c8a7e-6b1d-4e0f-9a5c-2d7b8e1f4a60'><body>hi</body>"
        "<request xmlns='urn:xmpp:receipts'/></message>",
        "<message to='bob@lab-4' id='m2' type='chat'><body>" + std::string(20000, 'x') +
            "</body></message>",
        "<message to='bob@lab-4' id='" + std::string(300, '>') + "'><body>b</body></message>",
        ping,
    };
    for (const std::string before : {"", ping.c_str()})
        for (const auto& s : stanzas)
            for (std::size_t cut = 1; cut < s.size();
                 cut += (cut < 400 || s.size() - cut < 64) ? 1 : 997) {
                StreamParser p;
                ck_assert_uint_eq(p.feed(header).size(), 1);
                const auto first = p.feed(before + s.substr(0, cut));
                ck_assert_msg(first.size() == (before.empty() ? 0 : 1),
                              "cut %zu: %zu events from the first read", cut, first.size());
                const auto ev = p.feed(std::string_view(s).substr(cut));
                ck_assert_msg(ev.size() == 1 && std::holds_alternative<Element>(ev[0]),
                              "stanza of %zu bytes cut at %zu%s: %zu events", s.size(), cut,
                              before.empty() ? "" : " after another", ev.size());
            }
}
END_TEST

START_TEST(trickled_bytes_stay_linear)
{
    // A peer sending a 60 KB attribute one byte per read must not cost a rescan per byte.
    StreamParser p;
    ck_assert_uint_eq(p.feed(header).size(), 1);
    const std::string s = "<message to='" + std::string(60000, 'a') + "'/>";
    std::size_t events = 0;
    for (char c : s)
        events += p.feed(std::string_view(&c, 1)).size();
    ck_assert_uint_eq(events, 1);
    ck_assert(!p.failed());
}
END_TEST

START_TEST(whitespace_keepalives_do_not_add_up)
{
    // A long-lived stream gets a single-space keepalive now and then (RFC 6120 §4.6.1);
    // the gap between stanzas must not count toward the stanza limit.
    StreamParser p({.max_stanza_bytes = 256, .max_depth = 24});
    ck_assert_uint_eq(p.feed(header).size(), 1);
    for (int i = 0; i < 2000; ++i)
        ck_assert(p.feed(" ").empty());
    ck_assert_uint_eq(p.feed("<message><body>x</body></message>").size(), 1);
    ck_assert(!p.failed());
}
END_TEST

// ---- Faults

START_TEST(restricted_xml)
{
    EXPECT_STR(fault_of("<?xml version='1.0'?><!DOCTYPE stream:stream>" + header).c_str(),
                     "restricted-xml");
    EXPECT_STR(fault_of("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY big 'boom'>]>"
                              "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"
                              "&big;</stream:stream>").c_str(),
                     "restricted-xml");
    EXPECT_STR(fault_of(header + "<message><body>&lol;</body></message>").c_str(),
                     "restricted-xml");
    EXPECT_STR(fault_of(header + "<?php echo 1; ?>").c_str(), "restricted-xml");
    EXPECT_STR(fault_of(header + "<message><?pi x?></message>").c_str(), "restricted-xml");
    EXPECT_STR(fault_of("<!-- hi -->" + header).c_str(), "restricted-xml");
    EXPECT_STR(fault_of(header + "<message><body>a<!-- c -->b</body></message>").c_str(),
                     "restricted-xml");
    // The five predefined entities and character references are fine.
    EXPECT_STR(fault_of(header + "<message><body>&amp;&lt;&gt;&apos;&quot;&#x263A;&#9731;"
                                       "</body></message>").c_str(), "");
}
END_TEST

START_TEST(encodings)
{
    // Truncated, bad continuation, overlong '/', UTF-16 surrogate, beyond U+10FFFF.
    for (std::string bad : {"\xc3\x28", "\xe2\x28\xa1", "\xc0\xaf", "\xed\xa0\x80",
                            "\xf4\x90\x80\x80", "\xff"}) {
        EXPECT_STR(fault_of(header + "<message><body>" + bad + "</body></message>").c_str(),
                         "not-well-formed");
        EXPECT_STR(fault_of(header + "<message to='" + bad + "'/>").c_str(),
                         "not-well-formed");
    }
    // Control characters are not XML 1.0 Chars, neither raw nor as references.
    EXPECT_STR(fault_of(header + "<message><body>\x01</body></message>").c_str(),
                     "not-well-formed");
    EXPECT_STR(fault_of(header + "<message><body>&#1;</body></message>").c_str(),
                     "not-well-formed");
    EXPECT_STR(fault_of("<?xml version='1.0' encoding='ISO-8859-1'?>"
                              "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>")
                         .c_str(),
                     "unsupported-encoding");
    EXPECT_STR(fault_of("<?xml version='1.0' encoding='utf-8'?>"
                              "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>")
                         .c_str(),
                     "");
}
END_TEST

START_TEST(wrong_root_and_namespaces)
{
    EXPECT_STR(fault_of("<html xmlns='http://www.w3.org/1999/xhtml'>").c_str(),
                     "invalid-namespace");
    EXPECT_STR(fault_of("<stream:stream xmlns='jabber:client' "
                              "xmlns:stream='http://etherx.jabber.org/wrong'>").c_str(),
                     "invalid-namespace");
    EXPECT_STR(fault_of("<stream:features xmlns:stream='http://etherx.jabber.org/streams'>")
                         .c_str(),
                     "bad-format");
    EXPECT_STR(fault_of("<stream:stream xmlns='jabber:server' "
                              "xmlns:stream='http://etherx.jabber.org/streams'>").c_str(),
                     "invalid-namespace");
    EXPECT_STR(fault_of("<stream:stream xmlns='jabber:client'>").c_str(),
                     "bad-namespace-prefix");
    EXPECT_STR(fault_of(header + "hello").c_str(), "bad-format");
    EXPECT_STR(fault_of(header + "<message></iq>").c_str(), "not-well-formed");
    EXPECT_STR(fault_of("GET / HTTP/1.1\r\n").c_str(), "not-well-formed");
}
END_TEST

START_TEST(depth_limit)
{
    auto nested = [](int levels) {
        std::string s = "<message>";
        for (int i = 0; i < levels - 1; ++i)
            s += "<a>";
        for (int i = 0; i < levels - 1; ++i)
            s += "</a>";
        return s + "</message>";
    };
    EXPECT_STR(fault_of(header + nested(24)).c_str(), "");
    EXPECT_STR(fault_of(header + nested(25)).c_str(), "policy-violation");
    EXPECT_STR(fault_of(header + nested(100000)).c_str(), "policy-violation");
}
END_TEST

START_TEST(size_limit)
{
    const std::string fits = "<message><body>" + std::string(60 * 1024, 'x') + "</body></message>";
    const std::string big = "<message><body>" + std::string(70 * 1024, 'x') + "</body></message>";
    EXPECT_STR(fault_of(header + fits + fits + fits).c_str(), "");
    EXPECT_STR(fault_of(header + fits + big).c_str(), "policy-violation");
    // Many small stanzas in one large feed are fine.
    std::string many = header;
    for (int i = 0; i < 5000; ++i)
        many += "<message id='" + std::to_string(i) + "'><body>hi</body></message>";
    StreamParser p;
    ck_assert_uint_eq(p.feed(many).size(), 5001);
    // A completed stanza over the limit is refused even when it arrives in one slice.
    EXPECT_STR(fault_of(header + "<message>" + std::string(200, 'y') + "</message>",
                              {.max_stanza_bytes = 100, .max_depth = 24}).c_str(),
                     "policy-violation");
    // So is an oversized stream header.
    EXPECT_STR(fault_of("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                              "from='" + std::string(100000, 'f') + "'>").c_str(),
                     "policy-violation");
}
END_TEST

START_TEST(endless_attribute_bounded_memory)
{
    StreamParser p;
    ck_assert_uint_eq(p.feed(header).size(), 1);
    ck_assert(p.feed("<message to='").empty());
    const std::string chunk(4096, 'a');
    const auto heap0 = mallinfo2().uordblks;
    std::size_t peak = heap0;
    std::size_t fed = 0;
    std::string condition;
    while (fed < 10u * 1024 * 1024) {
        auto ev = p.feed(chunk);
        fed += chunk.size();
        peak = std::max(peak, mallinfo2().uordblks);
        if (!ev.empty()) {
            ck_assert_uint_eq(ev.size(), 1);
            condition = std::get<StreamFault>(ev[0]).condition;
            break;
        }
    }
    EXPECT_STR(condition.c_str(), "policy-violation");
    ck_assert_uint_le(fed, 64 * 1024 + 2 * 4096);  // refused right after the limit
    ck_assert_uint_lt(peak - heap0, 1024 * 1024);  // expat held about one stanza, no more
    // The rest of the 10 MB goes nowhere.
    for (; fed < 10u * 1024 * 1024; fed += chunk.size())
        ck_assert(p.feed(chunk).empty());
    const auto heap1 = mallinfo2().uordblks;
    ck_assert_uint_lt(heap1 > heap0 ? heap1 - heap0 : 0, 1024 * 1024);

    // The same endless token arriving in one huge feed.
    const std::string huge = header + "<message to='" + std::string(10 * 1024 * 1024, 'b');
    EXPECT_STR(fault_of(huge).c_str(), "policy-violation");
}
END_TEST

START_TEST(reset_clears_fault)
{
    StreamParser p;
    auto ev = p.feed("<junk");
    ev = p.feed(">");
    ck_assert(p.failed());
    p.reset();
    ck_assert(!p.failed());
    ev = p.feed(header + "<message/>");
    ck_assert_uint_eq(ev.size(), 2);
}
END_TEST

// ---- Element

START_TEST(element_basics)
{
    Element m("message", "jabber:client");
    m.set_attr("to", "bob").set_attr("id", "1").set_attr("to", "carol");
    ck_assert_uint_eq(m.attrs().size(), 2);
    EXPECT_STR(m.attrs()[0].first.c_str(), "to");
    EXPECT_STR(m.attr("to").c_str(), "carol");
    ck_assert(m.has_attr("id"));
    ck_assert(!m.has_attr("type"));
    ck_assert(m.attr("type").empty());
    Element& body = m.add_child(Element("body"));
    body.add_text("a").add_text("b");
    EXPECT_STR(body.ns().c_str(), "jabber:client");  // inherited like unprefixed XML
    m.add_child(Element("request", "urn:xmpp:receipts"));
    m.add_text("tail");
    ck_assert_uint_eq(m.children().size(), 2);
    EXPECT_STR(m.text().c_str(), "tail");
    EXPECT_STR(m.child("body")->text().c_str(), "ab");
    ck_assert_ptr_null(m.child("body", "urn:xmpp:receipts"));
    ck_assert_ptr_nonnull(m.child("request", "urn:xmpp:receipts"));
    EXPECT_STR(m.serialize("jabber:client").c_str(),
                     "<message to='carol' id='1'><body>ab</body>"
                     "<request xmlns='urn:xmpp:receipts'/>tail</message>");
    EXPECT_STR(m.serialize().c_str(),
                     "<message xmlns='jabber:client' to='carol' id='1'><body>ab</body>"
                     "<request xmlns='urn:xmpp:receipts'/>tail</message>");
}
END_TEST

START_TEST(element_round_trip)
{
    Element m("message", "jabber:client");
    m.set_attr("from", "a'b\"c<d>&e\tf\ng\rh");
    m.set_attr("xml:lang", "de");
    const std::string text = "<script>alert('x' & \"y\")</script> ]]> \xc3\xa9\xe4\xb8\xad"
                             "\xf0\x9f\x92\xa9\r\n\tend";
    m.add_child(Element("body")).add_text(text);
    Element& html = m.add_child(Element("html", "http://jabber.org/protocol/xhtml-im"));
    html.add_child(Element("body", "http://www.w3.org/1999/xhtml"))
        .add_text("x ")
        .add_child(Element("em"))
        .add_text("y");
    m.add_child(Element("x", "jabber:x:event")).add_child(Element("composing"));

    const std::string wire = m.serialize("jabber:client");
    StreamParser p;
    auto ev = p.feed(header + wire);
    ck_assert_uint_eq(ev.size(), 2);
    const Element& back = stanza(ev, 1);
    ck_assert(back == m);
    EXPECT_STR(back.attr("from").c_str(), "a'b\"c<d>&e\tf\ng\rh");
    EXPECT_STR(back.attr("xml:lang").c_str(), "de");
    EXPECT_STR(back.child("body")->text().c_str(), text.c_str());
    EXPECT_STR(back.serialize("jabber:client").c_str(), wire.c_str());

    // Other namespaced attributes survive with a generated prefix.
    auto ev2 = parse_all(header + "<message xmlns:q='urn:q' q:flag='1'/>");
    const Element& nsattr = stanza(ev2, 1);
    EXPECT_STR(nsattr.attr("{urn:q}flag").c_str(), "1");
    auto ev3 = parse_all(header + nsattr.serialize("jabber:client"));
    ck_assert(stanza(ev3, 1) == nsattr);
}
END_TEST

START_TEST(escaping_never_breaks_xml)
{
    EXPECT_STR(escape_xml("a&b<c>d'e\"f").c_str(), "a&amp;b&lt;c&gt;d&apos;e&quot;f");
    EXPECT_STR(escape_xml("t\tn\n", true).c_str(), "t&#9;n&#10;");
    // Characters XML cannot carry and broken UTF-8 become U+FFFD.
    EXPECT_STR(escape_xml(std::string("a\x01" "b\x00" "c\xc3", 6)).c_str(),
                     "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd");
    ck_assert(is_xml_text("ok \xc3\xa9\t\n"));
    ck_assert(!is_xml_text("bell\x07"));
    ck_assert(!is_xml_text("\xef\xbf\xbe"));  // U+FFFE
    Element m("message", "jabber:client");
    m.add_child(Element("body")).add_text("ding\x07");
    ck_assert(!read_message(m));  // built in code with a bell: refused on read
    EXPECT_STR(fault_of(header + m.serialize("jabber:client")).c_str(), "");
}
END_TEST

// ---- Builders and readers

START_TEST(stream_builders)
{
    const std::string chinwag = stream_open("alice@lab-3", "bob@lab-4", true);
    EXPECT_STR(chinwag.c_str(),
                     "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                     "xmlns:stream='http://etherx.jabber.org/streams' from='alice@lab-3' "
                     "to='bob@lab-4' version='1.0'>");
    StreamParser p;
    auto ev = p.feed(stream_open("al'ice", "bob", false) + features_starttls_required() +
                     starttls() + proceed() + tls_failure() + features_empty() +
                     stream_error("policy-violation", "too big & bad") + "trailing junk");
    ck_assert_uint_eq(ev.size(), 8);
    EXPECT_STR(std::get<StreamOpen>(ev[0]).from.c_str(), "al'ice");
    ck_assert(std::get<StreamOpen>(ev[0]).version.empty());
    ck_assert(offers_starttls(stanza(ev, 1)));
    ck_assert_ptr_nonnull(stanza(ev, 1).child("starttls")->child("required", ns_tls));
    ck_assert(is_starttls(stanza(ev, 2)) && !is_proceed(stanza(ev, 2)));
    ck_assert(is_proceed(stanza(ev, 3)));
    ck_assert(is_tls_failure(stanza(ev, 4)));
    ck_assert(is_features(stanza(ev, 5)) && !offers_starttls(stanza(ev, 5)));
    auto err = stream_error_of(stanza(ev, 6));
    EXPECT_STR(err->first.c_str(), "policy-violation");
    EXPECT_STR(err->second.c_str(), "too big & bad");
    ck_assert(std::holds_alternative<StreamClose>(ev[7]));
    ck_assert(!stream_error_of(stanza(ev, 5)));
    EXPECT_STR(stream_error("conflict", "").c_str(),
                     "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                     "</stream:error></stream:stream>");
    EXPECT_STR(stream_close().c_str(), "</stream:stream>");
}
END_TEST

START_TEST(message_builders)
{
    Element m = chat_message("m-1", "alice@lab-3", "bob@lab-4", "hi <b>&");
    EXPECT_STR(m.serialize(ns_client).c_str(),
                     "<message type='chat' id='m-1' from='alice@lab-3' to='bob@lab-4'>"
                     "<body>hi &lt;b&gt;&amp;</body><request xmlns='urn:xmpp:receipts'/>"
                     "<active xmlns='http://jabber.org/protocol/chatstates'/></message>");
    auto in = read_message(stanza(parse_all(header + m.serialize(ns_client)), 1));
    ck_assert(in.has_value());
    EXPECT_STR(in->body->c_str(), "hi <b>&");
    EXPECT_STR(in->from.c_str(), "alice@lab-3");
    EXPECT_STR(in->to.c_str(), "bob@lab-4");
    ck_assert(in->receipt_requested);
    EXPECT_STR(in->chat_state->c_str(), "active");

    Element r = receipt("bob@lab-4", "alice@lab-3", "m-1");
    ck_assert(!r.attr("id").empty());
    EXPECT_STR_NE(r.attr("id").c_str(), receipt("a", "b", "m-1").attr("id").c_str());
    EXPECT_STR(r.child("received", ns_receipts)->attr("id").c_str(), "m-1");
    auto rin = read_message(r);
    EXPECT_STR(rin->received_id->c_str(), "m-1");
    ck_assert(!rin->receipt_requested && !rin->body);

    for (const char* s : {"active", "composing", "paused", "inactive", "gone"}) {
        auto cs = read_message(chat_state("a", "b", s));
        EXPECT_STR(cs->chat_state->c_str(), s);
        EXPECT_STR(cs->type.c_str(), "chat");
        ck_assert(!cs->body);
    }
    EXPECT_STR(read_message(chat_state("a", "b", "dancing"))->chat_state->c_str(), "active");

    // Old XEP-0184 receipts without id ack the receipt's own id.
    Element old("message", "jabber:client");
    old.set_attr("id", "m-7");
    old.add_child(Element("received", std::string(ns_receipts)));
    EXPECT_STR(read_message(old)->received_id->c_str(), "m-7");

    // xml:lang alternatives: the unlabelled body wins.
    auto multi = parse_all(header + "<message><body xml:lang='de'>Hallo</body><body>Hi</body>"
                                    "</message>");
    EXPECT_STR(read_message(stanza(multi, 1))->body->c_str(), "Hi");

    ck_assert(!read_message(Element("presence", "jabber:client")));
    ck_assert(!read_message(Element("message", "urn:other")));
}
END_TEST

// RFC 6120 §8.3: a bounced message carries the condition and maybe the peer's words; the
// user sees both in plain words, on one line, bounded.
START_TEST(message_errors)
{
    auto ev = parse_all(header +
                        "<message type='error' id='m-9' from='rex@cw-c'><body>hi</body>"
                        "<error type='cancel'><service-unavailable "
                        "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
                        "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>I only\n\ttalk to "
                        "friends</text><x xmlns='urn:app'/></error></message>");
    auto m = read_message(stanza(ev, 1));
    ck_assert(m.has_value() && m->error.has_value());
    EXPECT_STR(m->id.c_str(), "m-9");
    EXPECT_STR(m->error->type.c_str(), "cancel");
    EXPECT_STR(m->error->condition.c_str(), "service-unavailable");
    EXPECT_STR(describe(*m->error).c_str(),
               "the peer does not accept messages (service-unavailable): \u201cI only talk to friends\u201d");

    // No condition, no text: still a reason.
    auto bare = parse_all(header + "<message type='error' id='m-10'><error type='wait'/></message>");
    auto b = read_message(stanza(bare, 1));
    ck_assert(b->error.has_value());
    EXPECT_STR(describe(*b->error).c_str(), "the peer rejected it (undefined-condition)");
    // type='error' without <error>, and <error> on a chat message: no error read.
    ck_assert(!read_message(stanza(parse_all(header + "<message type='error' id='x'/>"), 1))->error);
    ck_assert(!read_message(stanza(parse_all(header + "<message type='chat'><error type='cancel'/>"
                                                      "</message>"), 1))->error);

    // A long text is cut on a character boundary, control characters go.
    StanzaError e;
    e.condition = "policy-violation";
    e.text = std::string(150, 'a') + "\x01\x7f" + std::string(100, 'b') + "\u00e9\u00e9\u00e9";
    std::string d = describe(e);
    ck_assert(d.rfind("the peer refused it (policy-violation): \u201c", 0) == 0);
    ck_assert_msg(d.find('\x01') == std::string::npos && d.find('\x7f') == std::string::npos, "%s", d.c_str());
    ck_assert_msg(d.find("\u2026\u201d") != std::string::npos, "cut with an ellipsis: %s", d.c_str());
    ck_assert(g_utf8_validate(d.c_str(), -1, nullptr));
    StanzaError accents;
    accents.condition = "x";
    accents.text = std::string(199, 'a') + "\u00e9\u00e9";
    std::string da = describe(accents);
    ck_assert_msg(g_utf8_validate(da.c_str(), -1, nullptr), "%s", da.c_str());
    ck_assert(da.find("a\u00e9\u2026") != std::string::npos);
}
END_TEST

START_TEST(iq_builders)
{
    Element pg = ping("p-1", "alice@lab-3", "bob@lab-4");
    EXPECT_STR(pg.serialize(ns_client).c_str(),
                     "<iq type='get' id='p-1' from='alice@lab-3' to='bob@lab-4'>"
                     "<ping xmlns='urn:xmpp:ping'/></iq>");
    ck_assert(is_ping(pg));
    ck_assert(is_iq_request(pg));
    Element res = iq_result(pg);
    EXPECT_STR(res.serialize(ns_client).c_str(),
                     "<iq type='result' id='p-1' from='bob@lab-4' to='alice@lab-3'/>");
    ck_assert(is_iq_result_for(res, "p-1"));
    ck_assert(!is_iq_result_for(res, "p-2"));
    ck_assert(!is_iq_result_for(pg, "p-1"));
    ck_assert(!is_ping(res) && !is_iq_request(res));

    auto ev = parse_all(header + "<iq type='set' id='q' from='x'><query xmlns='jabber:iq:roster'/></iq>");
    const Element& unknown = stanza(ev, 1);
    ck_assert(is_iq_request(unknown) && !is_ping(unknown));
    Element err = iq_error(unknown, "service-unavailable");
    EXPECT_STR(err.serialize(ns_client).c_str(),
                     "<iq type='error' id='q' to='x'><error type='cancel'>"
                     "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                     "</error></iq>");
    EXPECT_STR(iq_error(unknown, "bad-request").child("error")->attr("type").c_str(), "modify");
}
END_TEST

int main()
{
    Suite* s = suite_create("xmpp");
    TCase* parser = tcase_create("parser");
    tcase_set_timeout(parser, 30);
    tcase_add_test(parser, chinwag_stream_events);
    tcase_add_test(parser, finch_stream_events);
    tcase_add_test(parser, every_split_point);
    tcase_add_test(parser, events_arrive_promptly);
    tcase_add_test(parser, stanza_handed_over_at_its_closing_tag);
    tcase_add_test(parser, trickled_bytes_stay_linear);
    tcase_add_test(parser, whitespace_keepalives_do_not_add_up);
    tcase_add_test(parser, restricted_xml);
    tcase_add_test(parser, encodings);
    tcase_add_test(parser, wrong_root_and_namespaces);
    tcase_add_test(parser, depth_limit);
    tcase_add_test(parser, size_limit);
    tcase_add_test(parser, endless_attribute_bounded_memory);
    tcase_add_test(parser, reset_clears_fault);
    suite_add_tcase(s, parser);
    TCase* element = tcase_create("element");
    tcase_add_test(element, element_basics);
    tcase_add_test(element, element_round_trip);
    tcase_add_test(element, escaping_never_breaks_xml);
    suite_add_tcase(s, element);
    TCase* stanzas = tcase_create("stanzas");
    tcase_add_test(stanzas, stream_builders);
    tcase_add_test(stanzas, message_builders);
    tcase_add_test(stanzas, message_errors);
    tcase_add_test(stanzas, iq_builders);
    suite_add_tcase(s, stanzas);
    SRunner* runner = srunner_create(s);
    srunner_run_all(runner, CK_NORMAL);
    const int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
