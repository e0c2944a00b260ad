// RFC 6120 §8 IQ replies and XEP-0199 XMPP ping.
#include "xmpp/stanzas.hpp"

namespace chinwag::xmpp {

namespace {

bool is_iq(const Element& e)
{
    return e.name() == "iq" && (e.ns() == ns_client || e.ns().empty());
}

// RFC 6120 §8.3.3: the error type that goes with each defined condition.
std::string_view error_type(std::string_view condition)
{
    if (condition == "bad-request" || condition == "jid-malformed" ||
        condition == "not-acceptable" || condition == "policy-violation" ||
        condition == "redirect")
        return "modify";
    if (condition == "forbidden" || condition == "not-authorized" ||
        condition == "registration-required" || condition == "subscription-required")
        return "auth";
    if (condition == "resource-constraint" || condition == "unexpected-request" ||
        condition == "remote-server-timeout")
        return "wait";
    return "cancel";
}

Element reply(const Element& request, std::string_view type)
{
    Element iq("iq", std::string(ns_client));
    iq.set_attr("type", std::string(type));
    iq.set_attr("id", request.attr("id"));
    if (request.has_attr("to"))
        iq.set_attr("from", request.attr("to"));
    if (request.has_attr("from"))
        iq.set_attr("to", request.attr("from"));
    return iq;
}

}  // namespace

Element ping(std::string_view id, std::string_view from, std::string_view to)
{
    Element iq("iq", std::string(ns_client));
    iq.set_attr("type", "get");
    iq.set_attr("id", std::string(id));
    if (!from.empty())
        iq.set_attr("from", std::string(from));
    if (!to.empty())
        iq.set_attr("to", std::string(to));
    iq.add_child(Element("ping", std::string(ns_ping)));
    return iq;
}

bool is_ping(const Element& e)
{
    return is_iq(e) && e.attr("type") == "get" && e.child("ping", ns_ping) != nullptr;
}

bool is_iq_request(const Element& e)
{
    const std::string type = e.attr("type");
    return is_iq(e) && (type == "get" || type == "set");
}

Element iq_result(const Element& request)
{
    return reply(request, "result");
}

Element iq_error(const Element& request, std::string_view condition)
{
    Element iq = reply(request, "error");
    Element& err = iq.add_child(Element("error"));
    err.set_attr("type", std::string(error_type(condition)));
    err.add_child(Element(std::string(condition), std::string(ns_stanza_errors)));
    return iq;
}

bool is_iq_result_for(const Element& e, std::string_view id)
{
    return is_iq(e) && e.attr("type") == "result" && e.attr("id") == id;
}

}  // namespace chinwag::xmpp
