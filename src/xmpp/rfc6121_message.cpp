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

}  // namespace

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
        }
    }
    return m;
}

}  // namespace chinwag::xmpp
