// SaslClient: one SASL authentication (RFC 4422) of an XMPP account, through GNU SASL.
//
// Mechanisms, best first: SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS (RFC 7677, RFC 5802 with
// channel binding: a man in the middle with a trusted certificate still cannot log in as
// us), SCRAM-SHA-256, SCRAM-SHA-1, and PLAIN (RFC 4616) only when the caller allows it
// (inside TLS, nothing better offered). SCRAM verifies the server's signature too: a server
// that does not know the password cannot pretend the login succeeded.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

struct Gsasl;
struct Gsasl_session;

namespace chinwag::crypto {

struct SaslChoice {
    std::string mechanism;  // empty: nothing acceptable was offered
    bool bind_channel = false;
};

// Pure: the mechanism to use among `offered` (as the server lists them). `binding_type` is the
// channel binding this TLS session has ("tls-exporter", "tls-unique" or empty);
// `server_bindings` the types the server announced (XEP-0440), empty if it announced none
// (then only tls-unique, TLS 1.2's, is assumed: see sasl_client.cpp).
SaslChoice choose_mechanism(const std::vector<std::string>& offered, std::string_view binding_type,
                            const std::vector<std::string>& server_bindings, bool allow_plain);

class SaslClient {
public:
    struct Step {
        std::string response;  // raw bytes to send (may be empty)
        bool done = false;     // the mechanism finished on our side (SCRAM: server verified)
    };

    // Error "sasl" if GNU SASL cannot start the mechanism. `channel_binding` is required for a
    // -PLUS mechanism (raw bytes) and offered ("y" flag, RFC 5802 §6) for the others when given.
    static Result<std::unique_ptr<SaslClient>> start(const std::string& mechanism, const std::string& authcid,
                                                     const std::string& password,
                                                     std::string_view binding_type,
                                                     const std::string& channel_binding);
    ~SaslClient();
    SaslClient(const SaslClient&) = delete;
    SaslClient& operator=(const SaslClient&) = delete;

    // The initial response (RFC 6120 §6.4.2) or the answer to a challenge / the data of
    // <success/>. Error "sasl" (plain words) if the server's message is malformed or its
    // signature wrong: the login must then be treated as failed.
    Result<Step> step(std::string_view server_message);
    const std::string& mechanism() const { return mechanism_; }

private:
    SaslClient() = default;
    Gsasl* ctx_ = nullptr;
    Gsasl_session* session_ = nullptr;
    std::string mechanism_;
};

}  // namespace chinwag::crypto
