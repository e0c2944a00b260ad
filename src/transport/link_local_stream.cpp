#include "transport/link_local_stream.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "crypto/tls_channel.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "xmpp/stanzas.hpp"

namespace chinwag::transport {

namespace {

constexpr std::size_t kMaxPendingStanzas = 10000;
constexpr unsigned kPingCheckMs = 1000;

// "::ffff:10.0.0.2" (an IPv4 peer on a dual-stack socket) → "10.0.0.2"; drops "%scope".
std::string normalize_ip(std::string ip)
{
    if (auto pct = ip.find('%'); pct != std::string::npos)
        ip.erase(pct);
    if (ip.rfind("::ffff:", 0) == 0 && ip.find('.') != std::string::npos)
        ip.erase(0, 7);
    return ip;
}

std::string remote_ip_of(GSocketConnection* connection)
{
    GSocketAddress* address = g_socket_connection_get_remote_address(connection, nullptr);
    if (!address)
        return {};
    std::string ip;
    if (G_IS_INET_SOCKET_ADDRESS(address)) {
        gchar* s = g_inet_address_to_string(g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(address)));
        ip = s;
        g_free(s);
    }
    g_object_unref(address);
    return normalize_ip(ip);
}

std::string describe(const std::string& instance, const std::string& ip)
{
    std::string who = instance.empty() ? std::string("unknown peer") : instance;
    if (!ip.empty())
        who += " (" + ip + ")";
    return who;
}

}  // namespace

LinkLocalStream::LinkLocalStream(const crypto::Identity& identity, std::string self_instance, bool outgoing,
                                 StreamLimits limits)
    : identity_(identity),
      self_instance_(std::move(self_instance)),
      outgoing_(outgoing),
      limits_(limits),
      cancellable_(g_cancellable_new()),
      parser_(xmpp::StreamParser::Limits{limits.max_stanza_bytes, 24})
{
}

std::unique_ptr<LinkLocalStream> LinkLocalStream::outgoing(const crypto::Identity& identity, std::string self_instance,
                                                           std::string peer_instance, std::string expected_fingerprint,
                                                           StreamLimits limits)
{
    std::unique_ptr<LinkLocalStream> s(new LinkLocalStream(identity, std::move(self_instance), true, limits));
    s->peer_instance_ = std::move(peer_instance);
    s->expected_fp_ = std::move(expected_fingerprint);
    return s;
}

std::unique_ptr<LinkLocalStream> LinkLocalStream::incoming(const crypto::Identity& identity, std::string self_instance,
                                                           GSocketConnection* connection, Authorizer authorizer,
                                                           StreamLimits limits)
{
    std::unique_ptr<LinkLocalStream> s(new LinkLocalStream(identity, std::move(self_instance), false, limits));
    s->authorizer_ = std::move(authorizer);
    s->connection_ = G_SOCKET_CONNECTION(g_object_ref(connection));
    s->remote_ip_ = remote_ip_of(connection);
    return s;
}

LinkLocalStream::~LinkLocalStream()
{
    *alive_ = false;
    stop_io();
    g_cancellable_cancel(cancellable_);
    g_object_unref(cancellable_);
}

void LinkLocalStream::connect(std::vector<std::string> addresses, std::uint16_t port)
{
    addresses_ = std::move(addresses);
    port_ = port;
    next_address_ = 0;
    state_ = State::Connecting;
    open_timer_ = g_timeout_add(limits_.open_timeout_ms, &LinkLocalStream::on_open_timeout, this);
    try_next_address();
}

void LinkLocalStream::start()
{
    GSocketConnection* c = connection_;
    connection_ = nullptr;
    attach(c);
    g_object_unref(c);
    state_ = State::AwaitHeader;
    open_timer_ = g_timeout_add(limits_.open_timeout_ms, &LinkLocalStream::on_open_timeout, this);
}

void LinkLocalStream::try_next_address()
{
    if (next_address_ >= addresses_.size()) {
        fail("connect", "could not reach " + peer_instance_ + " at any of its addresses" +
                            (last_connect_error_.empty() ? std::string() : ": " + last_connect_error_));
        return;
    }
    const std::string& address = addresses_[next_address_++];
    GSocketAddress* target = g_inet_socket_address_new_from_string(address.c_str(), port_);
    if (!target) {
        last_connect_error_ = "bad address " + address;
        try_next_address();
        return;
    }
    remote_ip_ = normalize_ip(address);
    GSocketClient* client = g_socket_client_new();
    g_socket_client_set_timeout(client, 5);
    g_socket_client_connect_async(client, G_SOCKET_CONNECTABLE(target), cancellable_, &LinkLocalStream::on_connected,
                                  this);
    g_object_unref(client);
    g_object_unref(target);
}

void LinkLocalStream::on_connected(GObject* source, GAsyncResult* result, gpointer data)
{
    GError* error = nullptr;
    GSocketConnection* connection = g_socket_client_connect_finish(G_SOCKET_CLIENT(source), result, &error);
    if (error && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_error_free(error);  // the stream is gone: do not touch it
        return;
    }
    auto* self = static_cast<LinkLocalStream*>(data);
    if (!connection) {
        self->last_connect_error_ = error ? error->message : "unknown error";
        g_clear_error(&error);
        log::debug("stream", "connect to " + describe(self->peer_instance_, self->remote_ip_) + " failed: " +
                                 self->last_connect_error_);
        self->try_next_address();
        return;
    }
    self->attach(connection);
    g_object_unref(connection);
    self->state_ = State::AwaitHeader;
    // XEP-0174 §5: our header names both ends; libpurple expects no version from legacy peers.
    self->write_raw(xmpp::stream_open(self->self_instance_, self->peer_instance_, self->is_secure()));
}

void LinkLocalStream::attach(GSocketConnection* connection)
{
    connection_ = G_SOCKET_CONNECTION(g_object_ref(connection));
    socket_ = g_socket_connection_get_socket(connection_);
    g_socket_set_blocking(socket_, FALSE);
    // GSocketClient's connect timeout stays on the socket as an I/O timeout: its source would
    // fire after 5 s of silence and the next read fail with G_IO_ERROR_TIMED_OUT. Idle streams
    // are ended by keepalive, pings and the idle timer instead.
    g_socket_set_timeout(socket_, 0);
    // Find a dead peer even when neither side has anything to say (legacy peers ignore pings).
    g_socket_set_keepalive(socket_, TRUE);
    g_socket_set_option(socket_, IPPROTO_TCP, TCP_KEEPIDLE, 10, nullptr);
    g_socket_set_option(socket_, IPPROTO_TCP, TCP_KEEPINTVL, 5, nullptr);
    g_socket_set_option(socket_, IPPROTO_TCP, TCP_KEEPCNT, 3, nullptr);
    g_socket_set_option(socket_, IPPROTO_TCP, TCP_USER_TIMEOUT, 25000, nullptr);
    g_socket_set_option(socket_, IPPROTO_TCP, TCP_NODELAY, 1, nullptr);
    read_source_ = g_socket_create_source(socket_, GIOCondition(G_IO_IN | G_IO_HUP | G_IO_ERR), nullptr);
    g_source_set_callback(read_source_, G_SOURCE_FUNC(&LinkLocalStream::on_readable), this, nullptr);
    g_source_attach(read_source_, g_main_context_get_thread_default());
    last_inbound_ms_ = now_ms();
}

gboolean LinkLocalStream::on_readable(GSocket*, GIOCondition, gpointer data)
{
    auto* self = static_cast<LinkLocalStream*>(data);
    auto alive = self->alive_;
    char buffer[16384];
    GError* error = nullptr;
    gssize n = g_socket_receive(self->socket_, buffer, sizeof buffer, nullptr, &error);
    if (n > 0) {
        self->handle_bytes(std::string_view(buffer, static_cast<std::size_t>(n)));
        return *alive && self->state_ != State::Closed ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
    }
    if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        g_error_free(error);
        return G_SOURCE_CONTINUE;
    }
    std::string detail = n == 0 ? std::string("connection closed by peer") : std::string(error->message);
    g_clear_error(&error);
    // The source is destroyed by stop_io(); returning REMOVE too would unref it twice.
    if (n == 0 && (self->state_ == State::Closing || self->state_ == State::Open))
        self->finish({self->state_ == State::Closing ? "closed" : "eof", detail});
    else
        self->fail(n == 0 ? "eof" : "io", detail);
    return G_SOURCE_CONTINUE;
}

gboolean LinkLocalStream::on_writable(GSocket*, GIOCondition, gpointer data)
{
    auto* self = static_cast<LinkLocalStream*>(data);
    self->flush();
    return G_SOURCE_CONTINUE;
}

gboolean LinkLocalStream::on_open_timeout(gpointer data)
{
    auto* self = static_cast<LinkLocalStream*>(data);
    self->open_timer_ = 0;
    if (self->state_ != State::Open && self->state_ != State::Closed)
        self->fail("timeout", "the stream did not open within " + std::to_string(self->limits_.open_timeout_ms / 1000) +
                                  " s", "connection-timeout");
    return G_SOURCE_REMOVE;
}

gboolean LinkLocalStream::on_ping_timer(gpointer data)
{
    auto* self = static_cast<LinkLocalStream*>(data);
    if (self->state_ != State::Open)
        return G_SOURCE_CONTINUE;
    const std::int64_t now = now_ms();
    if (self->ping_sent_ms_ != 0) {
        if (now - self->ping_sent_ms_ > self->limits_.ping_timeout_ms) {
            self->ping_timer_ = 0;
            self->fail("timeout", "peer stopped answering (no reply to a ping for " +
                                      std::to_string(self->limits_.ping_timeout_ms / 1000) + " s)");
            return G_SOURCE_REMOVE;
        }
    } else if (now - self->last_inbound_ms_ > self->limits_.ping_interval_ms) {
        // XEP-0199 §4.2: a ping over the stream tells a live peer from a vanished one.
        self->ping_sent_ms_ = now;
        self->write_raw(xmpp::ping("ping-" + random_id(), self->self_instance_, self->peer_instance_)
                            .serialize("jabber:client"));
    }
    return G_SOURCE_CONTINUE;
}

void LinkLocalStream::handle_bytes(std::string_view bytes)
{
    last_inbound_ms_ = now_ms();
    ping_sent_ms_ = 0;
    if (!tls_) {
        handle_plain(bytes);
        return;
    }
    const bool was_done = tls_->handshake_done();
    auto plain = tls_->feed(bytes);
    std::string out = tls_->take_output();
    if (!out.empty())
        queue_wire(std::move(out));
    if (state_ == State::Closed)
        return;
    if (!plain) {
        const bool mismatch = plain.error().code == "peer-key-mismatch";
        fail(mismatch ? "peer-key-mismatch" : "tls", plain.error().message);
        return;
    }
    if (!was_done && tls_->handshake_done()) {
        // RFC 6120 §5.4.3.3: after TLS both sides start a fresh stream.
        parser_.reset();
        state_ = State::AwaitHeaderAfterTls;
        if (outgoing_)
            write_raw(xmpp::stream_open(self_instance_, peer_instance_, true));
    }
    if (!plain->empty())
        handle_plain(*plain);
    if (state_ != State::Closed && tls_ && tls_->peer_closed())
        finish({state_ == State::Closing ? "closed" : "eof", "peer closed the TLS session"});
}

void LinkLocalStream::handle_plain(std::string_view bytes)
{
    auto alive = alive_;
    auto events = parser_.feed(bytes);
    for (auto& event : events) {
        handle_event(event);
        if (!*alive || state_ == State::Closed)
            return;
    }
}

void LinkLocalStream::handle_event(xmpp::Event& event)
{
    if (auto* header = std::get_if<xmpp::StreamOpen>(&event)) {
        on_header(*header);
    } else if (auto* stanza = std::get_if<xmpp::Element>(&event)) {
        handle_stanza(*stanza);
    } else if (std::holds_alternative<xmpp::StreamClose>(event)) {
        if (state_ == State::Open) {
            write_raw(xmpp::stream_close());
            close_after_flush_ = true;
            state_ = State::Closing;
            flush();
        } else if (state_ != State::Closing) {
            fail("eof", "peer ended the stream before it was open");
        } else {
            finish({"closed", "stream closed"});
        }
    } else if (auto* fault = std::get_if<xmpp::StreamFault>(&event)) {
        fail("protocol", fault->condition + ": " + fault->detail, fault->condition);
    }
}

void LinkLocalStream::on_header(const xmpp::StreamOpen& header)
{
    if (outgoing_) {
        if (state_ == State::AwaitHeader && is_secure())
            state_ = State::AwaitFeatures;
        else if (state_ == State::AwaitHeader)
            become_open();  // legacy peers (XEP-0174 without TLS) send no features we need
        else if (state_ == State::AwaitHeaderAfterTls)
            state_ = State::AwaitFeaturesAfterTls;
        else
            fail("protocol", "unexpected stream header", "bad-format");
        return;
    }
    if (state_ == State::AwaitHeaderAfterTls) {
        write_raw(xmpp::stream_open(self_instance_, peer_instance_, true));
        write_raw(xmpp::features_empty());
        become_open();
        return;
    }
    if (state_ != State::AwaitHeader || authorizer_ == nullptr)
        return fail("protocol", "unexpected stream header", "bad-format");
    peer_instance_ = header.from;
    peer_sent_version_ = !header.version.empty();
    if (peer_instance_.empty())
        return fail("refused", "stream header without 'from'", "improper-addressing");
    state_ = State::AwaitStartTls;  // nothing but our answer may come next
    auto authorize = std::move(authorizer_);
    authorizer_ = nullptr;
    auto alive = alive_;
    authorize(peer_instance_, remote_ip_, [this, alive](Admission admission) {
        if (*alive && state_ == State::AwaitStartTls && !tls_)
            admit(std::move(admission));
    });
}

void LinkLocalStream::admit(Admission admission)
{
    write_raw(xmpp::stream_open(self_instance_, peer_instance_, peer_sent_version_ || !admission.expected_fingerprint.empty()));
    if (!admission.accept) {
        fail("refused", admission.reason, "not-authorized");
        return;
    }
    expected_fp_ = std::move(admission.expected_fingerprint);
    if (is_secure()) {
        write_raw(xmpp::features_starttls_required());
        state_ = State::AwaitStartTls;
        return;
    }
    if (peer_sent_version_)
        write_raw(xmpp::features_empty());
    become_open();
}

void LinkLocalStream::handle_stanza(const xmpp::Element& stanza)
{
    if (auto error = xmpp::stream_error_of(stanza)) {
        finish({"stream-error", describe(peer_instance_, remote_ip_) + " ended the stream: " + error->first +
                                    (error->second.empty() ? std::string() : " (" + error->second + ")")});
        return;
    }
    switch (state_) {
    case State::AwaitFeatures:
        if (!xmpp::is_features(stanza))
            return fail("protocol", "expected stream features", "policy-violation");
        // A Chinwag peer that does not offer TLS is refused, never used in plaintext.
        if (!xmpp::offers_starttls(stanza))
            return fail("protocol", "peer advertises a key but did not offer TLS", "policy-violation");
        write_raw(xmpp::starttls());
        state_ = State::AwaitProceed;
        return;
    case State::AwaitProceed:
        if (xmpp::is_proceed(stanza))
            return begin_tls(true);
        return fail("tls", "peer refused STARTTLS");
    case State::AwaitStartTls:
        if (xmpp::is_starttls(stanza) && is_secure()) {
            write_raw(xmpp::proceed());
            return begin_tls(false);
        }
        return fail("protocol", "stanza sent before STARTTLS", "policy-violation");
    case State::AwaitFeaturesAfterTls:
        if (xmpp::is_features(stanza))
            return become_open();
        return fail("protocol", "expected stream features after TLS", "policy-violation");
    case State::Open:
        if (xmpp::is_features(stanza))
            return;  // a legacy peer's features on a version='1.0' stream: nothing we need
        if (xmpp::is_ping(stanza)) {
            write_raw(xmpp::iq_result(stanza).serialize("jabber:client"));
            return;
        }
        stanza_.emit(stanza);
        return;
    case State::Closing:
        // We sent our closing tag (RFC 6120 §4.4); what the peer wrote before reading it is
        // dropped: anything unacknowledged is resent on the next stream.
        return;
    default:
        return fail("protocol", "unexpected stanza during stream setup", "policy-violation");
    }
}

void LinkLocalStream::begin_tls(bool client)
{
    auto channel = crypto::TlsChannel::create(identity_, client ? crypto::TlsChannel::Role::Client
                                                                : crypto::TlsChannel::Role::Server,
                                              expected_fp_);
    if (!channel)
        return fail("tls", channel.error().message);
    tls_ = std::move(*channel);
    state_ = State::TlsHandshake;
    if (client) {
        if (auto started = tls_->start(); !started)
            return fail("tls", started.error().message);
        std::string out = tls_->take_output();
        if (!out.empty())
            queue_wire(std::move(out));
    }
}

void LinkLocalStream::become_open()
{
    state_ = State::Open;
    last_message_ms_ = now_ms();  // the idle clock starts when the stream opens
    if (open_timer_) {
        g_source_remove(open_timer_);
        open_timer_ = 0;
    }
    if (is_secure())
        ping_timer_ = g_timeout_add(kPingCheckMs, &LinkLocalStream::on_ping_timer, this);
    log::info("stream", std::string(outgoing_ ? "connected to " : "accepted ") + describe(peer_instance_, remote_ip_) +
                            (is_secure() ? ", TLS, key verified" : ", legacy peer, unencrypted"));
    auto alive = alive_;
    opened_.emit();
    if (!*alive || state_ != State::Open)
        return;
    while (!pending_.empty() && state_ == State::Open) {
        std::string next = std::move(pending_.front());
        pending_.pop_front();
        write_raw(next);
    }
}

bool LinkLocalStream::send(const xmpp::Element& stanza)
{
    if (state_ == State::Closing || state_ == State::Closed)
        return false;
    if (state_ != State::Open) {
        if (pending_.size() >= kMaxPendingStanzas)
            return false;
        pending_.push_back(stanza.serialize("jabber:client"));
        return true;
    }
    write_raw(stanza.serialize("jabber:client"));
    return state_ == State::Open;
}

void LinkLocalStream::touch_message_activity() { last_message_ms_ = now_ms(); }

void LinkLocalStream::close()
{
    if (state_ == State::Closed || state_ == State::Closing)
        return;
    if (state_ != State::Open) {
        finish({"closed", "closed before it opened"});
        return;
    }
    write_raw(xmpp::stream_close());
    if (tls_) {
        tls_->close();
        queue_wire(tls_->take_output());
    }
    if (state_ == State::Closed)
        return;
    state_ = State::Closing;
    close_after_flush_ = true;
    flush();
}

void LinkLocalStream::write_raw(std::string_view bytes)
{
    if (state_ == State::Closed || !socket_)
        return;
    if (tls_ && tls_->handshake_done()) {
        if (auto written = tls_->write(bytes); !written) {
            fail("tls", written.error().message);
            return;
        }
        queue_wire(tls_->take_output());
        return;
    }
    queue_wire(std::string(bytes));
}

void LinkLocalStream::queue_wire(std::string bytes)
{
    if (state_ == State::Closed || !socket_)
        return;
    if (outbuf_.size() + bytes.size() > limits_.max_outbuf) {
        fail("io", describe(peer_instance_, remote_ip_) + " is not reading; send buffer full");
        return;
    }
    outbuf_ += bytes;
    flush();
}

void LinkLocalStream::flush()
{
    while (!outbuf_.empty() && socket_) {
        GError* error = nullptr;
        gssize n = g_socket_send(socket_, outbuf_.data(), outbuf_.size(), nullptr, &error);
        if (n > 0) {
            outbuf_.erase(0, static_cast<std::size_t>(n));
            continue;
        }
        if (error && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
            g_error_free(error);
            if (!write_source_) {
                write_source_ = g_socket_create_source(socket_, G_IO_OUT, nullptr);
                g_source_set_callback(write_source_, G_SOURCE_FUNC(&LinkLocalStream::on_writable), this, nullptr);
                g_source_attach(write_source_, g_main_context_get_thread_default());
            }
            return;
        }
        std::string detail = error ? error->message : "send failed";
        g_clear_error(&error);
        outbuf_.clear();
        finish({"io", describe(peer_instance_, remote_ip_) + ": " + detail});
        return;
    }
    if (write_source_) {
        g_source_destroy(write_source_);
        g_source_unref(write_source_);
        write_source_ = nullptr;
    }
    if (close_after_flush_ && socket_)
        finish({"closed", "stream closed"});
}

void LinkLocalStream::fail(std::string kind, std::string detail, std::string condition)
{
    if (state_ == State::Closed)
        return;
    log::warning("stream", (outgoing_ ? "to " : "from ") + describe(peer_instance_, remote_ip_) + ": " + detail);
    if (!condition.empty() && socket_ && state_ != State::TlsHandshake) {
        if (!outgoing_ && state_ == State::AwaitHeader)  // RFC 6120 §4.9.1.2: a header before the error
            write_raw(xmpp::stream_open(self_instance_, peer_instance_, true));
        if (state_ != State::Closed)
            write_raw(xmpp::stream_error(condition, detail));
    }
    finish({std::move(kind), std::move(detail)});
}

void LinkLocalStream::finish(CloseInfo info)
{
    if (state_ == State::Closed)
        return;
    info.opened = state_ == State::Open || state_ == State::Closing;
    state_ = State::Closed;
    stop_io();
    log::debug("stream", "stream with " + describe(peer_instance_, remote_ip_) + " ended: " + info.kind);
    closed_.emit(info);  // may destroy this: nothing after
}

void LinkLocalStream::stop_io()
{
    if (open_timer_) {
        g_source_remove(open_timer_);
        open_timer_ = 0;
    }
    if (ping_timer_) {
        g_source_remove(ping_timer_);
        ping_timer_ = 0;
    }
    for (GSource** source : {&read_source_, &write_source_}) {
        if (*source) {
            g_source_destroy(*source);
            g_source_unref(*source);
            *source = nullptr;
        }
    }
    if (connection_) {
        g_io_stream_close(G_IO_STREAM(connection_), nullptr, nullptr);
        g_object_unref(connection_);
        connection_ = nullptr;
    }
    socket_ = nullptr;
    g_cancellable_cancel(cancellable_);
}

}  // namespace chinwag::transport
