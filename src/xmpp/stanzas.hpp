// Builders and readers for everything Chinwag says on an XMPP stream. Pure functions of values.
#pragma once

#include "xmpp/element.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace chinwag::xmpp {

inline constexpr std::string_view ns_tls = "urn:ietf:params:xml:ns:xmpp-tls";
inline constexpr std::string_view ns_stream_errors = "urn:ietf:params:xml:ns:xmpp-streams";
inline constexpr std::string_view ns_stanza_errors = "urn:ietf:params:xml:ns:xmpp-stanzas";
inline constexpr std::string_view ns_receipts = "urn:xmpp:receipts";
inline constexpr std::string_view ns_chatstates = "http://jabber.org/protocol/chatstates";
inline constexpr std::string_view ns_ping = "urn:xmpp:ping";

// ---- Stream level (RFC 6120 §4, XEP-0174 §4) — stanzas.cpp

// `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='...' from to
// [version='1.0']>`. Link-local streams carry instance names in from/to (XEP-0174 §4);
// finch/libpurple send no version. Empty from/to are left out.
std::string stream_open(std::string_view from, std::string_view to, bool with_version);
std::string stream_close();  // "</stream:stream>"
// `<stream:error><condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>[<text ..>]
// </stream:error></stream:stream>` (RFC 6120 §4.9). An empty text is left out.
std::string stream_error(std::string_view condition, std::string_view text);

// ---- STARTTLS (RFC 6120 §5) — stanzas.cpp
std::string features_starttls_required();
std::string features_empty();  // "<stream:features/>"
std::string starttls();
std::string proceed();
std::string tls_failure();

bool is_features(const Element& e);
bool offers_starttls(const Element& e);  // features with <starttls xmlns=tls>
bool is_starttls(const Element& e);
bool is_proceed(const Element& e);
bool is_tls_failure(const Element& e);
// (condition, text) of a <stream:error>; nullopt for anything else. Condition is
// "undefined-condition" if the peer sent none.
std::optional<std::pair<std::string, std::string>> stream_error_of(const Element& e);

// ---- Messages (RFC 6121 §5, XEP-0184 receipts, XEP-0085 chat states) — rfc6121_message.cpp

// <message type='chat' id from to><body/><request xmlns=receipts/><active xmlns=chatstates/>
Element chat_message(std::string_view id, std::string_view from, std::string_view to,
                     std::string_view body);
// XEP-0184 §5.1: <message id=fresh from to><received xmlns=receipts id=acked_id/></message>
Element receipt(std::string_view from, std::string_view to, std::string_view acked_id);
// XEP-0085 standalone notification; state is active|composing|paused|inactive|gone
// (anything else is sent as "active").
Element chat_state(std::string_view from, std::string_view to, std::string_view state);

// RFC 6120 §8.3.2: <error type=...><condition xmlns=stanzas/><text xmlns=stanzas>..</text></error>
struct StanzaError {
    std::string type;                              // cancel, continue, modify, auth, wait
    std::string condition = "undefined-condition"; // if the peer sent none
    std::string text;                              // the peer's own words, may be empty
};
// What went wrong, in plain words for the user: "the peer does not accept messages
// (service-unavailable): 'I only talk to friends'". The peer's text is cut to 200 characters
// and stripped of control characters.
std::string describe(const StanzaError& e);

struct IncomingMessage {
    std::string id, from, to, type;      // type defaults to "normal" (RFC 6121 §5.2.2)
    std::optional<std::string> body;      // the body without xml:lang, else the first
    bool receipt_requested = false;
    std::optional<std::string> received_id;
    std::optional<std::string> chat_state;
    std::optional<StanzaError> error;     // for type='error' (RFC 6120 §8.3), if it has <error>
};
// nullopt if `e` is not a jabber:client message, or if its body holds characters XML 1.0
// cannot carry (the parser already refuses those; this guards elements built elsewhere).
std::optional<IncomingMessage> read_message(const Element& e);

// ---- IQ (RFC 6120 §8) and XEP-0199 ping — xep0199_ping.cpp
Element ping(std::string_view id, std::string_view from, std::string_view to);
bool is_ping(const Element& e);
bool is_iq_request(const Element& e);  // iq of type get or set: must be answered (RFC 6120 §8.2.3)
// type='result', same id, from/to swapped.
Element iq_result(const Element& request);
// type='error' with <error type=..><condition xmlns=stanzas/></error>; use
// "service-unavailable" for an unknown get/set (RFC 6120 §8.4).
Element iq_error(const Element& request, std::string_view condition);
bool is_iq_result_for(const Element& e, std::string_view id);

}  // namespace chinwag::xmpp
