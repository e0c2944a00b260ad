// ClientStream: one client-to-server XMPP stream of an account (RFC 6120), from the DNS
// lookup to a bound resource: SRV (XEP-0368 direct TLS first, then STARTTLS, then the domain
// on 5222), TLS always (system trust + host name, or the certificate the user accepted),
// SASL through GNU SASL (SCRAM, -PLUS where the channel can be bound), resource binding.
// The socket, TLS and keepalive are its BytePump's. What runs on the open stream (roster,
// presence, messages) is its owner's.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <gio/gio.h>
#include <sigc++/sigc++.h>

#include "xmpp/element.hpp"
#include "xmpp/rfc6120_client.hpp"
#include "xmpp/stream_parser.hpp"

namespace chinwag::crypto {
class SaslClient;
}

namespace chinwag::transport {

class BytePump;

struct ClientSettings {
    xmpp::Jid account;                 // the bare JID to log in as
    std::string password;
    std::string host;                  // connect here instead of looking up SRV records (tests, odd servers)
    std::uint16_t port = 0;            // with host: 0 means 5222
    std::string accepted_certificate;  // SHA-256 of the server certificate the user accepted, or empty
    std::string ca_file;               // trusted CAs instead of the system store (tests), or empty
    std::string resource = "chinwag";
    unsigned open_timeout_ms = 30000;  // DNS + TCP + TLS + SASL + bind
    unsigned ping_interval_ms = 60000; // XEP-0199 after this much inbound silence
    unsigned ping_timeout_ms = 20000;
    std::size_t max_stanza_bytes = 1024 * 1024;
    std::size_t max_outbuf = 4 * 1024 * 1024;
};

// Why a client stream ended, for the account's policy (retry, ask the user).
struct ClientClose {
    // Before it opened: "unreachable" (no DNS answer or no address took the connection),
    // "tls-required" (the server offers no TLS), "certificate" (not trusted: `certificate` is
    // its SHA-256 for the user to accept), "tls", "auth-failed" (wrong password or account;
    // also a server that could not prove it knows the password), "no-mechanism" (no SASL
    // mechanism we accept), "bind". Any time: "stream-error", "protocol" (the server broke the
    // protocol, or sent more than the limits), "timeout", "eof", "io", "closed" (orderly).
    std::string kind;
    std::string detail;       // plain words, no secrets
    std::string certificate;  // "certificate": the presented certificate's SHA-256
    bool opened = false;      // the stream had reached the Open state
};

class ClientStream {
public:
    explicit ClientStream(ClientSettings settings);
    ~ClientStream();
    ClientStream(const ClientStream&) = delete;
    ClientStream& operator=(const ClientStream&) = delete;

    void start();  // looks up the server and connects; signals follow from the main loop

    // Queued until Open; false if the stream is closing or over its queue.
    bool send(const xmpp::Element& stanza);
    void close();  // </stream:stream>, TLS close_notify, then the socket

    bool is_open() const { return state_ == State::Open; }
    bool is_closed() const { return state_ == State::Closed; }
    const xmpp::Jid& bound_jid() const { return bound_; }            // once open
    const xmpp::StreamFeatures& features() const { return features_; }  // of the bound stream
    const std::string& mechanism() const { return mechanism_; }      // the SASL mechanism used
    bool channel_bound() const { return channel_bound_; }
    std::string tls_version() const;
    const std::string& server_certificate() const;                   // SHA-256, once TLS is up
    bool certificate_pinned() const;  // accepted by the user's pin rather than the trust store

    sigc::signal<void()>& signal_opened() { return opened_; }
    sigc::signal<void(const xmpp::Element&)>& signal_stanza() { return stanza_; }
    sigc::signal<void(const ClientClose&)>& signal_closed() { return closed_; }

private:
    enum class State { Idle, Resolving, Connecting, AwaitHeader, AwaitFeatures, AwaitProceed, TlsHandshake,
                       Authenticating, AwaitBind, Open, Closing, Closed };
    struct Target {
        std::string host;
        std::uint16_t port = 0;
        bool direct_tls = false;  // XEP-0368: TLS from the first byte
    };

    void lookup(bool direct_tls);
    static void on_srv(GObject* source, GAsyncResult* result, gpointer self);
    void try_next_target();
    void on_connected();
    void on_pump_ended(const std::string& kind, const std::string& detail);
    void begin_tls();
    void on_tls_done();
    void restart_stream();
    void handle_plain(std::string_view bytes);
    void handle_event(xmpp::Event& event);
    void handle_stanza(const xmpp::Element& stanza);
    void on_features(const xmpp::StreamFeatures& features);
    void authenticate(const xmpp::StreamFeatures& features);
    void on_sasl(const xmpp::SaslEvent& event);
    void become_open();
    void write_raw(std::string_view bytes);
    static gboolean on_open_timeout(gpointer self);
    void fail(std::string kind, std::string detail, std::string stream_error_condition = {});
    void finish(std::string kind, std::string detail, std::string certificate = {});
    void wipe_password();

    ClientSettings settings_;
    State state_ = State::Idle;
    std::vector<Target> targets_;
    std::vector<Target> starttls_targets_;
    std::size_t next_target_ = 0;
    Target current_;
    std::string last_connect_error_;
    bool tls_done_ = false;
    bool authenticated_ = false;
    std::string bind_id_;
    xmpp::Jid bound_;
    xmpp::StreamFeatures features_;
    std::string mechanism_;
    bool channel_bound_ = false;

    GCancellable* cancellable_ = nullptr;
    guint open_timer_ = 0;
    std::unique_ptr<BytePump> pump_;
    std::unique_ptr<crypto::SaslClient> sasl_;
    xmpp::StreamParser parser_;
    std::deque<std::string> pending_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

    sigc::signal<void()> opened_;
    sigc::signal<void(const xmpp::Element&)> stanza_;
    sigc::signal<void(const ClientClose&)> closed_;
};

}  // namespace chinwag::transport
