// RFC 6120 client stream setup (features, SASL, bind) and RFC 7622 JIDs.
#include "xmpp/rfc6120_client.hpp"

#include <array>

#include <glib.h>

#include "xmpp/stanzas.hpp"

namespace chinwag::xmpp {

namespace {

constexpr std::size_t kMaxJidPart = 1023;  // RFC 7622 §3.2-3.4

bool is(const Element& e, std::string_view name, std::string_view ns)
{
    return e.name() == name && e.ns() == ns;
}

std::string ascii_lower(std::string_view s)
{
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool has_control_or_space(std::string_view s, bool space_allowed)
{
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f || (!space_allowed && c == ' '))
            return true;
    return false;
}

constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string sasl_payload(std::string_view data)
{
    if (data.empty())
        return "=";
    gchar* b64 = g_base64_encode(reinterpret_cast<const guchar*>(data.data()), data.size());
    std::string out(b64);
    g_free(b64);
    return out;
}

}  // namespace

// ---- JID

std::string Jid::bare() const
{
    return local.empty() ? domain : local + "@" + domain;
}

std::string Jid::full() const
{
    return resource.empty() ? bare() : bare() + "/" + resource;
}

Result<Jid> parse_jid(std::string_view text)
{
    auto bad = [&](std::string why) { return make_error("invalid-jid", "'" + std::string(text.substr(0, 80)) + "' is not an XMPP address: " + why); };
    Jid j;
    std::string_view rest = text;
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
        j.resource = std::string(rest.substr(slash + 1));
        rest = rest.substr(0, slash);
        if (j.resource.empty())
            return bad("nothing after '/'");
        if (j.resource.size() > kMaxJidPart)
            return bad("the resource is longer than 1023 bytes");
        if (has_control_or_space(j.resource, true))
            return bad("the resource contains control characters");
    }
    if (auto at = rest.find('@'); at != std::string_view::npos) {
        std::string_view local = rest.substr(0, at);
        rest = rest.substr(at + 1);
        if (local.empty())
            return bad("nothing before '@'");
        if (local.size() > kMaxJidPart)
            return bad("the name before '@' is longer than 1023 bytes");
        if (has_control_or_space(local, false) || local.find_first_of("\"&'/:<>@") != std::string_view::npos)
            return bad("the name before '@' contains a character an address cannot have");
        j.local = ascii_lower(local);
    }
    if (!rest.empty() && rest.back() == '.')
        rest.remove_suffix(1);  // RFC 7622 §3.2: a trailing dot is not part of the domain
    if (rest.empty())
        return bad("no server name");
    if (rest.size() > kMaxJidPart)
        return bad("the server name is longer than 1023 bytes");
    if (has_control_or_space(rest, false) || rest.find('@') != std::string_view::npos)
        return bad("the server name contains a character it cannot have");
    j.domain = ascii_lower(rest);
    return j;
}

// ---- Features

std::optional<StreamFeatures> read_features(const Element& e)
{
    if (!is_features(e))
        return std::nullopt;
    StreamFeatures f;
    f.starttls = e.child("starttls", ns_tls) != nullptr;
    if (const Element* mechs = e.child("mechanisms", ns_sasl))
        for (const Element* m : mechs->children())
            if (m->name() == "mechanism" && !m->text().empty())
                f.mechanisms.push_back(m->text());
    if (const Element* cb = e.child("sasl-channel-binding", ns_sasl_cb))
        for (const Element* t : cb->children())
            if (t->name() == "channel-binding" && !t->attr("type").empty())
                f.channel_bindings.push_back(t->attr("type"));
    f.bind = e.child("bind", ns_bind) != nullptr;
    f.stream_management = e.child("sm", ns_sm) != nullptr;
    f.roster_versioning = e.child("ver", ns_roster_ver) != nullptr;
    return f;
}

// ---- SASL

std::string sasl_auth(std::string_view mechanism, std::string_view initial_response)
{
    Element auth("auth", std::string(ns_sasl));
    auth.set_attr("mechanism", std::string(mechanism));
    auth.add_text(sasl_payload(initial_response));
    return auth.serialize(ns_client);
}

std::string sasl_response(std::string_view data)
{
    Element r("response", std::string(ns_sasl));
    r.add_text(sasl_payload(data));
    return r.serialize(ns_client);
}

std::string sasl_abort()
{
    return Element("abort", std::string(ns_sasl)).serialize(ns_client);
}

std::optional<std::string> decode_base64(std::string_view text)
{
    std::string t;
    for (char c : text)
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n')  // RFC 6120 §6.4.2 allows none, servers add some
            t += c;
    if (t.empty() || t == "=")
        return std::string();
    if (t.size() % 4 != 0)
        return std::nullopt;
    // GLib's decoder skips what is not base64; a SASL message must be refused instead.
    std::array<int, 256> value{};
    value.fill(-1);
    for (std::size_t i = 0; i < kBase64.size(); ++i)
        value[static_cast<unsigned char>(kBase64[i])] = static_cast<int>(i);
    std::string out;
    out.reserve(t.size() / 4 * 3);
    for (std::size_t i = 0; i < t.size(); i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = t[i + k];
            if (c == '=') {
                // Padding only at the very end, at most two, and only as the last characters.
                if (i + 4 != t.size() || k < 2)
                    return std::nullopt;
                v[k] = 0;
                ++pad;
            } else {
                if (pad)
                    return std::nullopt;
                v[k] = value[static_cast<unsigned char>(c)];
                if (v[k] < 0)
                    return std::nullopt;
            }
        }
        const unsigned n = (unsigned(v[0]) << 18) | (unsigned(v[1]) << 12) | (unsigned(v[2]) << 6) | unsigned(v[3]);
        out += static_cast<char>((n >> 16) & 0xff);
        if (pad < 2)
            out += static_cast<char>((n >> 8) & 0xff);
        if (pad < 1)
            out += static_cast<char>(n & 0xff);
    }
    return out;
}

std::optional<SaslEvent> read_sasl(const Element& e)
{
    if (e.ns() != ns_sasl)
        return std::nullopt;
    if (e.name() == "challenge" || e.name() == "success") {
        auto data = decode_base64(e.text());
        if (!data)
            return SaslBad{"the server sent a " + e.name() + " that is not base64"};
        if (e.name() == "challenge")
            return SaslChallenge{std::move(*data)};
        return SaslSuccess{std::move(*data)};
    }
    if (e.name() == "failure") {
        SaslFailure f{"undefined-condition", {}};
        bool have = false;
        for (const Element* c : e.children()) {
            if (c->name() == "text")
                f.text = c->text();
            else if (!have) {
                f.condition = c->name();
                have = true;
            }
        }
        return f;
    }
    return std::nullopt;
}

// ---- Bind

Element bind_request(std::string_view id, std::string_view resource)
{
    Element iq("iq", std::string(ns_client));
    iq.set_attr("type", "set");
    iq.set_attr("id", std::string(id));
    Element& bind = iq.add_child(Element("bind", std::string(ns_bind)));
    if (!resource.empty())
        bind.add_child(Element("resource", std::string(ns_bind))).add_text(std::string(resource));
    return iq;
}

std::optional<Result<Jid>> read_bind_result(const Element& e, std::string_view id)
{
    if (!is(e, "iq", ns_client) || e.attr("id") != id)
        return std::nullopt;
    const std::string type = e.attr("type");
    if (type == "error") {
        std::string condition = "undefined-condition";
        if (const Element* err = e.child("error"))
            for (const Element* c : err->children())
                if (c->ns() == ns_stanza_errors && c->name() != "text") {
                    condition = c->name();
                    break;
                }
        return Result<Jid>(make_error("bind", "the server refused to bind a resource (" + condition + ")"));
    }
    if (type != "result")
        return std::nullopt;
    const Element* bind = e.child("bind", ns_bind);
    const Element* jid = bind ? bind->child("jid", ns_bind) : nullptr;
    if (!jid)
        return Result<Jid>(make_error("bind", "the server's bind result has no JID"));
    auto parsed = parse_jid(jid->text());
    if (!parsed)
        return Result<Jid>(parsed.error());
    if (parsed->resource.empty())
        return Result<Jid>(make_error("bind", "the server bound a JID without a resource"));
    return Result<Jid>(std::move(*parsed));
}

}  // namespace chinwag::xmpp
