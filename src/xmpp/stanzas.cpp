// RFC 6120 stream-level and STARTTLS elements.
#include "xmpp/stanzas.hpp"

namespace chinwag::xmpp {

namespace {

bool is(const Element& e, std::string_view name, std::string_view ns)
{
    return e.name() == name && e.ns() == ns;
}

}  // namespace

std::string stream_open(std::string_view from, std::string_view to, bool with_version)
{
    std::string s = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                    "xmlns:stream='http://etherx.jabber.org/streams'";
    if (!from.empty())
        s += " from='" + escape_xml(from, true) + "'";
    if (!to.empty())
        s += " to='" + escape_xml(to, true) + "'";
    if (with_version)
        s += " version='1.0'";
    s += '>';
    return s;
}

std::string stream_close()
{
    return "</stream:stream>";
}

std::string stream_error(std::string_view condition, std::string_view text)
{
    Element err("error", std::string(ns_streams));
    err.add_child(Element(std::string(condition), std::string(ns_stream_errors)));
    if (!text.empty())
        err.add_child(Element("text", std::string(ns_stream_errors))).add_text(std::string(text));
    return err.serialize(ns_client) + stream_close();
}

std::string features_starttls_required()
{
    return "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
           "</starttls></stream:features>";
}

std::string features_empty()
{
    return "<stream:features/>";
}

std::string starttls()
{
    return "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
}

std::string proceed()
{
    return "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
}

std::string tls_failure()
{
    return "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
}

bool is_features(const Element& e)
{
    return is(e, "features", ns_streams);
}

bool offers_starttls(const Element& e)
{
    return is_features(e) && e.child("starttls", ns_tls) != nullptr;
}

bool is_starttls(const Element& e)
{
    return is(e, "starttls", ns_tls);
}

bool is_proceed(const Element& e)
{
    return is(e, "proceed", ns_tls);
}

bool is_tls_failure(const Element& e)
{
    return is(e, "failure", ns_tls);
}

std::optional<std::pair<std::string, std::string>> stream_error_of(const Element& e)
{
    if (!is(e, "error", ns_streams))
        return std::nullopt;
    std::string condition = "undefined-condition";
    std::string text;
    bool have_condition = false;
    for (const Element* c : e.children()) {
        if (c->ns() != ns_stream_errors)
            continue;  // RFC 6120 §4.9.4: application-specific conditions
        if (c->name() == "text")
            text = c->text();
        else if (!have_condition) {
            condition = c->name();
            have_condition = true;
        }
    }
    return std::make_pair(std::move(condition), std::move(text));
}

}  // namespace chinwag::xmpp
