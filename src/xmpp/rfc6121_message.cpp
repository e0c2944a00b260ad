// RFC 6121 §5 chat messages with XEP-0184 delivery receipts and XEP-0085 chat states.
#include "xmpp/stanzas.hpp"
#include "util/clock.hpp"

#include <array>

namespace chinwag::xmpp {

namespace {

constexpr std::array<std::string_view, 5> chat_states = {"active", "composing", "paused",
                                                         "inactive", "gone"};

bool is_chat_state(std::string_view s)
{
    for (auto c : chat_states)
        if (c == s)
            return true;
    return false;
}

Element message(std::string_view id, std::string_view from, std::string_view to,
                std::string_view type)
{
    Element m("message", std::string(ns_client));
    if (!type.empty())
        m.set_attr("type", std::string(type));
    if (!id.empty())
        m.set_attr("id", std::string(id));
    if (!from.empty())
        m.set_attr("from", std::string(from));
    if (!to.empty())
        m.set_attr("to", std::string(to));
    return m;
}

StanzaError read_error(const Element& err)
{
    StanzaError e;
    e.type = err.attr("type");
    bool have_condition = false;
    for (const Element* c : err.children()) {
        if (c->ns() != ns_stanza_errors)
            continue;  // RFC 6120 §8.3.4: application-specific conditions
        if (c->name() == "text")
            e.text = c->text();
        else if (!have_condition) {
            e.condition = c->name();
            have_condition = true;
        }
    }
    return e;
}

// The peer's words, safe to show on one line: no control characters, at most `max` code
// points (cut on a UTF-8 boundary), whitespace runs folded.
std::string one_line(std::string_view text, std::size_t max)
{
    std::string out;
    std::size_t points = 0;
    bool space = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        unsigned char ch = static_cast<unsigned char>(text[i]);
        if (ch < 0x20 || ch == 0x7f || ch == ' ') {
            space = !out.empty();
            continue;
        }
        if ((ch & 0xc0) != 0x80) {  // a new code point starts
            if (points + (space ? 1 : 0) >= max) {
                out += "…";
                return out;
            }
            if (space) {
                out += ' ';
                ++points;
                space = false;
            }
            ++points;
        }
        out += static_cast<char>(ch);
    }
    return out;
}

}  // namespace

std::string describe(const StanzaError& e)
{
    // RFC 6120 §8.3.3: the defined conditions a chat peer plausibly sends for a message.
    static const std::pair<std::string_view, std::string_view> plain[] = {
        {"service-unavailable", "the peer does not accept messages"},
        {"feature-not-implemented", "the peer does not accept messages"},
        {"recipient-unavailable", "the recipient is not available"},
        {"item-not-found", "the recipient is not there"},
        {"remote-server-not-found", "the recipient is not there"},
        {"forbidden", "the peer refused it"},
        {"not-allowed", "the peer refused it"},
        {"not-authorized", "the peer refused it"},
        {"not-acceptable", "the peer refused it"},
        {"policy-violation", "the peer refused it"},
        {"resource-constraint", "the peer is too busy"},
        {"bad-request", "the peer could not read it"},
        {"jid-malformed", "the peer could not read it"},
        {"internal-server-error", "the peer had an internal error"},
    };
    std::string what = "the peer rejected it";
    for (const auto& [condition, words] : plain)
        if (condition == e.condition)
            what = words;
    std::string out = what + " (" + one_line(e.condition, 40) + ")";
    if (std::string text = one_line(e.text, 200); !text.empty())
        out += ": \u201c" + text + "\u201d";
    return out;
}

Element chat_message(std::string_view id, std::string_view from, std::string_view to,
                     std::string_view body)
{
    Element m = message(id, from, to, "chat");
    m.add_child(Element("body")).add_text(std::string(body));
    m.add_child(Element("request", std::string(ns_receipts)));  // XEP-0184 §5.1
    m.add_child(Element("active", std::string(ns_chatstates)));  // XEP-0085 §5.1
    return m;
}

Element receipt(std::string_view from, std::string_view to, std::string_view acked_id)
{
    Element m = message(random_id(), from, to, {});
    m.add_child(Element("received", std::string(ns_receipts))).set_attr("id", std::string(acked_id));
    return m;
}

Element chat_state(std::string_view from, std::string_view to, std::string_view state)
{
    // XEP-0085 §5.5: standalone notifications are type='chat' and carry no body.
    Element m = message({}, from, to, "chat");
    m.add_child(Element(std::string(is_chat_state(state) ? state : "active"),
                        std::string(ns_chatstates)));
    return m;
}

std::optional<IncomingMessage> read_message(const Element& e)
{
    if (e.name() != "message" || (e.ns() != ns_client && !e.ns().empty()))
        return std::nullopt;
    IncomingMessage m;
    m.id = e.attr("id");
    m.from = e.attr("from");
    m.to = e.attr("to");
    m.type = e.has_attr("type") ? e.attr("type") : "normal";

    // RFC 6121 §5.2.3: several bodies may differ by xml:lang; prefer the unlabelled one.
    const Element* body = nullptr;
    for (const Element* c : e.children()) {
        if (c->name() != "body" || c->ns() != e.ns())
            continue;
        if (!body || (body->has_attr("xml:lang") && !c->has_attr("xml:lang")))
            body = c;
    }
    if (body) {
        std::string text = body->text();
        if (!is_xml_text(text))
            return std::nullopt;
        m.body = std::move(text);
    }

    for (const Element* c : e.children()) {
        if (c->ns() == ns_receipts) {
            if (c->name() == "request")
                m.receipt_requested = true;
            // XEP-0184 §5.1: id names the acked message; very old senders (0184 v1.0)
            // left it out and reused the original id on the receipt itself.
            else if (c->name() == "received")
                m.received_id = c->has_attr("id") ? c->attr("id") : m.id;
        } else if (c->ns() == ns_chatstates && is_chat_state(c->name()) && !m.chat_state) {
            m.chat_state = c->name();
        } else if (m.type == "error" && c->name() == "error" && c->ns() == e.ns() && !m.error) {
            m.error = read_error(*c);
        }
    }
    return m;
}

}  // namespace chinwag::xmpp
