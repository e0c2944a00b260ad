// BytePump: owns one TCP connection and, once started, its TLS channel; moves bytes both ways.
//
// The part every XMPP stream shares, link-local (XEP-0174) or client-to-server (RFC 6120):
// connecting, non-blocking reads and writes on the GLib main context, TLS in the middle,
// a bounded send buffer, TCP keepalive, and an inbound-silence watchdog. It knows nothing of
// XML: plaintext goes in through write() and comes out through the data handler. Which
// certificate is acceptable is the caller's choice (the TlsChannel it hands over).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gio/gio.h>

namespace chinwag::crypto {
class TlsChannel;
}

namespace chinwag::transport {

class BytePump {
public:
    struct Limits {
        std::size_t max_outbuf = 4 * 1024 * 1024;  // bytes not yet taken by the kernel
    };
    // How the pump ended. kind: "eof" (the peer closed), "io", "connect", "tls",
    // "peer-key-mismatch", "certificate", "timeout", "closed" (close_after_flush completed).
    struct End {
        std::string kind;
        std::string detail;  // plain words, no secrets
    };
    struct Handlers {
        std::function<void()> connected;                  // connect_*(): the TCP connection is up
        std::function<void(std::string_view)> data;       // plaintext from the peer
        std::function<void()> tls_done;                   // the handshake of start_tls() completed
        std::function<void(const End&)> ended;            // once; the pump may be destroyed in it
    };

    BytePump(Limits limits, Handlers handlers);
    ~BytePump();
    BytePump(const BytePump&) = delete;
    BytePump& operator=(const BytePump&) = delete;

    // Connects to the first of `addresses` ("ip" or "fe80::1%ifindex") that answers.
    void connect_addresses(std::vector<std::string> addresses, std::uint16_t port, std::string who);
    // Connects to a host name (resolved by GIO, every address tried in turn) or a literal address.
    void connect_host(std::string host, std::uint16_t port);
    // Takes an accepted connection (a listener's).
    void attach(GSocketConnection* connection);

    // From now on bytes go through `channel` (a client queues its ClientHello at once).
    // Everything written before stays plaintext; RFC 6120 §5.4.3.3: nothing may be in between.
    void start_tls(std::unique_ptr<crypto::TlsChannel> channel);
    crypto::TlsChannel* tls() const { return tls_.get(); }

    // Plaintext to the peer: through TLS once its handshake is done, as is before start_tls().
    // Bytes written during the handshake are held by the channel until it completes.
    void write(std::string_view bytes);
    // TLS close_notify (if any), flush what is queued, then end with kind "closed".
    void close_after_flush();
    // Ends at once with `kind` (no handler call if it has ended already).
    void end(std::string kind, std::string detail);

    // Keepalive: after `interval_ms` without inbound bytes `probe` is called (it should make the
    // peer answer, e.g. send an XEP-0199 ping); no inbound bytes `timeout_ms` after that ends
    // the pump with "timeout". 0 stops the watchdog.
    void watch_silence(unsigned interval_ms, unsigned timeout_ms, std::function<void()> probe);

    bool is_connected() const { return socket_ != nullptr; }
    bool has_ended() const { return ended_; }
    const std::string& remote_ip() const { return remote_ip_; }
    std::int64_t last_inbound_ms() const { return last_inbound_ms_; }

private:
    void try_next_address();
    static void on_connected(GObject* source, GAsyncResult* result, gpointer self);
    void connected(GSocketConnection* connection);
    static gboolean on_readable(GSocket* socket, GIOCondition condition, gpointer self);
    static gboolean on_writable(GSocket* socket, GIOCondition condition, gpointer self);
    static gboolean on_silence_check(gpointer self);
    void receive(std::string_view bytes);
    void queue_wire(std::string bytes);
    void flush();
    void stop_io();

    Limits limits_;
    Handlers handlers_;
    std::vector<std::string> addresses_;
    std::size_t next_address_ = 0;
    std::uint16_t port_ = 0;
    std::string who_;
    std::string host_;  // connect_host(): the name, for messages
    std::string last_connect_error_;
    std::string remote_ip_;

    GCancellable* cancellable_ = nullptr;
    GSocketConnection* connection_ = nullptr;
    GSocket* socket_ = nullptr;
    GSource* read_source_ = nullptr;
    GSource* write_source_ = nullptr;
    guint silence_timer_ = 0;
    unsigned silence_interval_ms_ = 0;
    unsigned silence_timeout_ms_ = 0;
    std::function<void()> probe_;
    std::int64_t probe_sent_ms_ = 0;

    std::unique_ptr<crypto::TlsChannel> tls_;
    std::string outbuf_;
    std::int64_t last_inbound_ms_ = 0;
    bool close_after_flush_ = false;
    bool ended_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// "::ffff:10.0.0.2" (an IPv4 peer on a dual-stack socket) → "10.0.0.2"; drops "%scope".
std::string normalize_ip(std::string ip);
// The peer's address of a connection, normalised; empty if unknown.
std::string remote_ip_of(GSocketConnection* connection);

}  // namespace chinwag::transport
