// Client-to-server stream setup (RFC 6120 §5 STARTTLS, §6 SASL, §7 resource binding) and the
// JID (RFC 7622). Pure functions of values: builders for what a client sends, readers for what
// a server sends, each tolerant of what servers really write and strict about what matters.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "xmpp/element.hpp"
#include "util/result.hpp"

namespace chinwag::xmpp {

inline constexpr std::string_view ns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
inline constexpr std::string_view ns_bind = "urn:ietf:params:xml:ns:xmpp-bind";
inline constexpr std::string_view ns_sasl_cb = "urn:xmpp:sasl-cb:0";   // XEP-0440
inline constexpr std::string_view ns_sm = "urn:xmpp:sm:3";             // XEP-0198
inline constexpr std::string_view ns_roster_ver = "urn:xmpp:features:rosterver";

// ---- JID (RFC 7622) — rfc6120_client.cpp

// localpart@domainpart/resourcepart. Case folding is the simple one (ASCII lowercase of the
// localpart and domainpart), not full PRECIS: enough to compare what servers send back.
struct Jid {
    std::string local;
    std::string domain;
    std::string resource;

    std::string bare() const;  // local@domain (or domain)
    std::string full() const;  // bare/resource (or bare)
    bool operator==(const Jid&) const = default;
};
// Error "invalid-jid" with plain words: empty domain, a part over 1023 bytes, characters
// RFC 7622 forbids (spaces, controls, '@' or '/' out of place, '"&'<>' in a localpart).
Result<Jid> parse_jid(std::string_view text);

// ---- Stream features after the header (RFC 6120 §4.3.2)

struct StreamFeatures {
    bool starttls = false;
    std::vector<std::string> mechanisms;        // SASL, in the server's order
    std::vector<std::string> channel_bindings;  // XEP-0440 types, empty if not announced
    bool bind = false;
    bool stream_management = false;             // XEP-0198 urn:xmpp:sm:3
    bool roster_versioning = false;             // RFC 6121 §2.6.1
};
// nullopt if `e` is not <stream:features/>.
std::optional<StreamFeatures> read_features(const Element& e);

// ---- SASL (RFC 6120 §6.4)

// <auth mechanism='..'>base64</auth>; an empty initial response is "=" (§6.4.2).
std::string sasl_auth(std::string_view mechanism, std::string_view initial_response);
std::string sasl_response(std::string_view data);
std::string sasl_abort();

struct SaslChallenge { std::string data; };
struct SaslSuccess { std::string data; };
struct SaslFailure {
    std::string condition;  // "not-authorized", "aborted", ... ("undefined-condition" if none)
    std::string text;
};
struct SaslBad { std::string detail; };  // a SASL element whose base64 does not decode
using SaslEvent = std::variant<SaslChallenge, SaslSuccess, SaslFailure, SaslBad>;
// nullopt if `e` is not a SASL server element (challenge, success, failure).
std::optional<SaslEvent> read_sasl(const Element& e);

// Strict base64 (RFC 4648 §4, padding required), "=" or empty is empty; nullopt if invalid.
std::optional<std::string> decode_base64(std::string_view text);

// ---- Resource binding (RFC 6120 §7)

Element bind_request(std::string_view id, std::string_view resource);
// The full JID the server bound, from the result of bind_request `id`. Error "bind" with the
// server's condition if it answered with an error, "invalid-jid" if the JID is unusable.
// nullopt if `e` is not the answer to `id`.
std::optional<Result<Jid>> read_bind_result(const Element& e, std::string_view id);

}  // namespace chinwag::xmpp
