// TlsChannel: owns one TLS 1.3 session and its copy of the local credentials, driven by bytes.
//
// No socket: the caller moves ciphertext between take_output() and the peer's feed(), so the
// same code runs over TCP, a socketpair or an in-memory test pump (GnuTLS custom push/pull,
// non-blocking: pull reports EAGAIN when no input is buffered).
//
// Pinning: both sides present their Identity certificate (the server REQUIRES one from the
// client, RFC 8446 §4.3.2) and accept the peer only if SHA-256 of the peer certificate's
// SubjectPublicKeyInfo equals `expected_peer_fingerprint`. Possession of the private key is
// proven by the TLS 1.3 CertificateVerify message (RFC 8446 §4.4.3), which GnuTLS checks
// against the key in that same certificate. No CA or name checks: the key is the identity.
//
// Server mode (create_for_server): the client of an XMPP server (RFC 6120 §13.7.2). No client
// certificate; the server's certificate must chain to the system trust store (or a given CA
// file) and name the host (RFC 6125 through GnuTLS), or be exactly the certificate the user
// accepted (its SHA-256, shown to them as a fingerprint). TLS 1.2 or 1.3.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/gnutls_handle.hpp"
#include "crypto/identity.hpp"
#include "util/result.hpp"

namespace chinwag::crypto {

class TlsChannel {
public:
    enum class Role { Client, Server };

    // Most ciphertext feed() holds unread at a time; a feed that would exceed it is refused.
    static constexpr std::size_t kMaxBufferedInput = 1u << 20;

    // The channel copies the certificate and key out of `self` (GnuTLS duplicates them into
    // its own credentials), so `self` may be destroyed right after create() returns.
    // Errors: "invalid" (expected_peer_fingerprint is not a fingerprint, see
    // normalize_fingerprint), "tls" (GnuTLS setup failure).
    static Result<std::unique_ptr<TlsChannel>> create(const Identity& self, Role role,
                                                      std::string expected_peer_fingerprint);

    // A client channel to an XMPP server named `host` (SNI and the RFC 6125 name check).
    // `accepted_certificate`: SHA-256 of the server certificate the user accepted (hex, any
    // format normalize_fingerprint takes), or empty. `ca_file`: PEM file of trusted CAs used
    // instead of the system trust store (tests, private deployments), or empty.
    // A certificate that is neither trusted nor the accepted one fails the handshake with
    // error "certificate" (plain words: why), and presented_certificate() names it.
    static Result<std::unique_ptr<TlsChannel>> create_for_server(std::string host,
                                                                 std::string accepted_certificate,
                                                                 std::string ca_file = {});

    TlsChannel(const TlsChannel&) = delete;
    TlsChannel& operator=(const TlsChannel&) = delete;
    ~TlsChannel();

    // Begins the handshake: a client queues its ClientHello in the output; a server only
    // marks itself started (it speaks after the ClientHello arrives). Idempotent; feed()
    // starts the channel too.
    Result<void> start();

    // Consumes ciphertext from the peer, advances the handshake and returns any application
    // data now decrypted (often empty). handshake_done() turns true in the feed() that
    // completes the handshake: compare it before and after to learn "just finished".
    // After a failure every call returns the same Error:
    //   "peer-key-mismatch": the peer presented another key or none;
    //   "tls": any other TLS failure (GnuTLS's own wording), including alerts from the peer;
    // "too-much-input" (not sticky, nothing consumed): the unread input would exceed
    // kMaxBufferedInput; feed smaller chunks.
    // Output (handshake messages, alerts) may be queued: always call take_output() after.
    Result<std::string> feed(std::string_view ciphertext);

    // Encrypts application data into the output. Before the handshake completes the data is
    // queued in plaintext and sent as soon as it completes (it is never sent to an unverified
    // peer; if the handshake fails it is dropped). Error "closed" after close().
    Result<void> write(std::string_view plaintext);

    // Ciphertext to send to the peer, emptied by the call.
    std::string take_output();

    bool handshake_done() const { return handshake_done_; }
    // The peer's verified fingerprint; empty until the peer's key has been accepted.
    const std::string& peer_fingerprint() const { return peer_fingerprint_; }
    const std::string& expected_peer_fingerprint() const { return expected_fingerprint_; }
    // Server mode: SHA-256 of the certificate the server presented (set during the handshake,
    // also when it was refused: what the user is asked to accept); empty in pinned-key mode.
    const std::string& presented_certificate() const { return presented_certificate_; }
    // True once the server's certificate was accepted because the user pinned it.
    bool certificate_pinned() const { return certificate_pinned_; }
    // "TLS1.3", "TLS1.2" once the handshake is done.
    std::string protocol_version() const;
    // Channel binding data for SASL -PLUS mechanisms (RFC 5929 tls-unique for TLS 1.2,
    // RFC 9266 tls-exporter for TLS 1.3), with its name; error "unavailable" otherwise.
    struct ChannelBinding {
        std::string type;  // "tls-unique" or "tls-exporter"
        std::string data;  // raw bytes
    };
    Result<ChannelBinding> channel_binding() const;
    // The failure that ended this channel, if any.
    const std::optional<Error>& failure() const { return failure_; }

    // Queues close_notify (RFC 8446 §6.1) if the handshake completed; further write()s fail.
    // The channel still decrypts what the peer sends until it closes too. Before the
    // handshake completes there is nothing to close: data queued by write() is dropped.
    void close();
    // True once the peer's close_notify has been received.
    bool peer_closed() const { return peer_closed_; }

private:
    enum class Verify { PinnedKey, ServerCertificate };
    TlsChannel(Role role, std::string expected_fingerprint);

    bool check_server_certificate();
    // The GnuTLS session on credentials_: non-blocking, our push/pull/verify, no GnuTLS timeouts.
    Result<void> set_up_session(unsigned flags, const char* priority);

    // GnuTLS callbacks (C linkage semantics: never throw).
    static ssize_t push(gnutls_transport_ptr_t self, const void* data, size_t len) noexcept;
    static ssize_t pull(gnutls_transport_ptr_t self, void* data, size_t len) noexcept;
    static int verify_peer(gnutls_session_t session) noexcept;

    // Checks the peer's certificate against the pin; records a mismatch in failure_.
    bool check_peer_key();
    Result<void> continue_handshake();
    Result<void> flush_pending();
    Error record_failure(int gnutls_rc);
    Error record_failure(Error error);

    Role role_;
    Verify verify_ = Verify::PinnedKey;
    std::string server_host_;
    std::string presented_certificate_;
    bool certificate_pinned_ = false;
    std::string expected_fingerprint_;
    std::string peer_fingerprint_;
    // Declared before session_ so the session is destroyed first.
    detail::CredentialsPtr credentials_;
    detail::SessionPtr session_;

    std::string input_;             // ciphertext not yet consumed by GnuTLS
    std::size_t input_offset_ = 0;  // consumed prefix of input_
    std::string output_;            // ciphertext produced by GnuTLS, not yet taken
    std::string pending_;           // plaintext written before the handshake completed

    std::optional<Error> failure_;
    std::optional<Error> pin_failure_;  // set by verify_peer, reported instead of GnuTLS's error
    bool started_ = false;
    bool handshake_done_ = false;
    bool closed_ = false;
    bool peer_closed_ = false;
};

}  // namespace chinwag::crypto
