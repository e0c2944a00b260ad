// LinkLocalStream: one XEP-0174 stream over one TCP connection, with STARTTLS for Chinwag peers.
// The socket, TLS and keepalive are its BytePump's; this class is the stream's state machine.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gio/gio.h>
#include <sigc++/sigc++.h>

#include "xmpp/element.hpp"
#include "xmpp/stream_parser.hpp"

namespace chinwag::crypto {
class Identity;
}

namespace chinwag::transport {

class BytePump;

// Why a stream ended, for the owner's policy (retry, mark offline, warn).
struct CloseInfo {
    // "closed" (orderly), "eof", "connect" (no address accepted), "timeout" (no answer to
    // keepalive pings or to the opening), "tls", "peer-key-mismatch", "stream-error" (the peer
    // sent one), "protocol" (we sent one), "refused" (our authorizer said no), "io".
    std::string kind;
    std::string detail;  // plain words, no secrets
    bool opened = false; // the stream had reached the Open state
};

// The owner's answer to "who may this incoming stream be?", given its claimed `from`.
struct Admission {
    bool accept = false;
    std::string expected_fingerprint;  // non-empty: require STARTTLS and this key; empty: legacy plaintext
    std::string reason;                // when refused, logged and sent in the stream error text
};

// Limits that keep a hostile or broken peer from holding resources.
struct StreamLimits {
    unsigned open_timeout_ms = 10000;     // TCP connect → Open (headers, TLS, features)
    unsigned ping_interval_ms = 10000;    // XEP-0199 ping after this much inbound silence (secure streams)
    unsigned ping_timeout_ms = 10000;     // no inbound bytes this long after a ping → dead
    std::size_t max_outbuf = 4 * 1024 * 1024;
    std::size_t max_stanza_bytes = 256 * 1024;
};

class LinkLocalStream {
public:
    using Authorizer = std::function<void(const std::string& from, const std::string& remote_ip,
                                          std::function<void(Admission)> answer)>;

    // Outgoing: connect to the first of `addresses` ("ip" or "fe80::1%ifindex") that answers.
    // expected_fingerprint empty = legacy peer (plaintext, no STARTTLS).
    static std::unique_ptr<LinkLocalStream> outgoing(const crypto::Identity& identity, std::string self_instance,
                                                     std::string peer_instance, std::string expected_fingerprint,
                                                     StreamLimits limits = {});
    // Incoming: takes ownership of an accepted connection; the authorizer decides at the header.
    static std::unique_ptr<LinkLocalStream> incoming(const crypto::Identity& identity, std::string self_instance,
                                                     GSocketConnection* connection, Authorizer authorizer,
                                                     StreamLimits limits = {});
    ~LinkLocalStream();
    LinkLocalStream(const LinkLocalStream&) = delete;
    LinkLocalStream& operator=(const LinkLocalStream&) = delete;

    void connect(std::vector<std::string> addresses, std::uint16_t port);  // outgoing only
    void start();                                                           // incoming only

    // Queued until the stream is Open; returns false if the stream is closing or over its buffer.
    bool send(const xmpp::Element& stanza);
    // Orderly close: </stream:stream>, flush, then the socket.
    void close();

    bool is_open() const { return state_ == State::Open; }
    bool is_closed() const { return state_ == State::Closed; }
    bool is_outgoing() const { return outgoing_; }
    bool is_secure() const { return !expected_fp_.empty(); }
    const std::string& peer_instance() const { return peer_instance_; }
    const std::string& peer_fingerprint() const { return expected_fp_; }  // proven once open
    const std::string& remote_ip() const;
    std::int64_t last_message_ms() const { return last_message_ms_; }
    void touch_message_activity();

    sigc::signal<void()>& signal_opened() { return opened_; }
    sigc::signal<void(const xmpp::Element&)>& signal_stanza() { return stanza_; }
    sigc::signal<void(const CloseInfo&)>& signal_closed() { return closed_; }

private:
    enum class State { Idle, Connecting, AwaitHeader, AwaitFeatures, AwaitProceed, AwaitStartTls,
                       TlsHandshake, AwaitHeaderAfterTls, AwaitFeaturesAfterTls, Open, Closing, Closed };

    LinkLocalStream(const crypto::Identity& identity, std::string self_instance, bool outgoing, StreamLimits limits);

    void on_connected();
    void on_tls_done();
    void on_pump_ended(std::string kind, std::string detail);
    static gboolean on_open_timeout(gpointer self);
    void handle_plain(std::string_view bytes);
    void handle_event(xmpp::Event& event);
    void handle_stanza(const xmpp::Element& stanza);
    void on_header(const xmpp::StreamOpen& header);
    void admit(Admission admission);
    void begin_tls(bool client);
    void become_open();
    void write_raw(std::string_view bytes);   // through TLS when active
    void fail(std::string kind, std::string detail, std::string stream_error_condition = {});
    void finish(CloseInfo info);
    void stop_io();

    const crypto::Identity& identity_;
    std::string self_instance_;
    std::string peer_instance_;
    std::string expected_fp_;
    bool outgoing_;
    StreamLimits limits_;
    State state_ = State::Idle;

    std::string incoming_ip_;
    bool peer_sent_version_ = false;
    Authorizer authorizer_;

    GSocketConnection* accepted_ = nullptr;  // incoming, until start()
    guint open_timer_ = 0;

    std::unique_ptr<BytePump> pump_;
    xmpp::StreamParser parser_;
    std::deque<std::string> pending_;  // serialized stanzas waiting for Open
    std::int64_t last_message_ms_ = 0;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

    sigc::signal<void()> opened_;
    sigc::signal<void(const xmpp::Element&)> stanza_;
    sigc::signal<void(const CloseInfo&)> closed_;
};

}  // namespace chinwag::transport
