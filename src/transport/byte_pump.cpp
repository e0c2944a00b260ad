#include "transport/byte_pump.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "crypto/tls_channel.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace chinwag::transport {

namespace {

constexpr unsigned kSilenceCheckMs = 1000;

}  // namespace

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

std::string normalize_ip(std::string ip)
{
    if (auto pct = ip.find('%'); pct != std::string::npos)
        ip.erase(pct);
    if (ip.rfind("::ffff:", 0) == 0 && ip.find('.') != std::string::npos)
        ip.erase(0, 7);
    return ip;
}

BytePump::BytePump(Limits limits, Handlers handlers)
    : limits_(limits), handlers_(std::move(handlers)), cancellable_(g_cancellable_new())
{
}

BytePump::~BytePump()
{
    *alive_ = false;
    stop_io();
    g_object_unref(cancellable_);
}

void BytePump::connect_addresses(std::vector<std::string> addresses, std::uint16_t port, std::string who)
{
    addresses_ = std::move(addresses);
    port_ = port;
    who_ = std::move(who);
    next_address_ = 0;
    try_next_address();
}

void BytePump::connect_host(std::string host, std::uint16_t port)
{
    host_ = std::move(host);
    port_ = port;
    GSocketClient* client = g_socket_client_new();
    g_socket_client_set_timeout(client, 10);
    g_socket_client_connect_to_host_async(client, host_.c_str(), port_, cancellable_, &BytePump::on_connected, this);
    g_object_unref(client);
}

void BytePump::try_next_address()
{
    if (next_address_ >= addresses_.size()) {
        end("connect", "could not reach " + who_ + " at any of its addresses" +
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
    g_socket_client_connect_async(client, G_SOCKET_CONNECTABLE(target), cancellable_, &BytePump::on_connected, this);
    g_object_unref(client);
    g_object_unref(target);
}

void BytePump::on_connected(GObject* source, GAsyncResult* result, gpointer data)
{
    GError* error = nullptr;
    GSocketConnection* connection = g_socket_client_connect_finish(G_SOCKET_CLIENT(source), result, &error);
    if (error && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_error_free(error);  // the pump is gone: do not touch it
        return;
    }
    auto* self = static_cast<BytePump*>(data);
    if (!connection) {
        self->last_connect_error_ = error ? error->message : "unknown error";
        g_clear_error(&error);
        if (!self->host_.empty()) {
            self->end("connect", "could not reach " + self->host_ + " on port " + std::to_string(self->port_) +
                                     ": " + self->last_connect_error_);
            return;
        }
        log::debug("stream", "connect to " + self->who_ + " at " + self->remote_ip_ + " failed: " +
                                 self->last_connect_error_);
        self->try_next_address();
        return;
    }
    self->connected(connection);
    g_object_unref(connection);
}

void BytePump::connected(GSocketConnection* connection)
{
    attach(connection);
    if (handlers_.connected)
        handlers_.connected();
}

void BytePump::attach(GSocketConnection* connection)
{
    connection_ = G_SOCKET_CONNECTION(g_object_ref(connection));
    remote_ip_ = remote_ip_of(connection_);
    socket_ = g_socket_connection_get_socket(connection_);
    g_socket_set_blocking(socket_, FALSE);
    // GSocketClient's connect timeout stays on the socket as an I/O timeout: its source would
    // fire after that much silence and the next read fail with G_IO_ERROR_TIMED_OUT. Idle
    // streams are ended by keepalive and the silence watchdog instead.
    g_socket_set_timeout(socket_, 0);
    // Find a dead peer even when neither side has anything to say (legacy peers ignore pings).
    g_socket_set_keepalive(socket_, TRUE);
    g_socket_set_option(socket_, IPPROTO_TCP, TCP_KEEPIDLE, 10, nullptr);
    g_socket_set_option(socket_, IPPROTO_TCP, TCP_KEEPINTVL, 5, nullptr);
    g_socket_set_option(socket_, IPPROTO_TCP, TCP_KEEPCNT, 3, nullptr);
    g_socket_set_option(socket_, IPPROTO_TCP, TCP_USER_TIMEOUT, 25000, nullptr);
    g_socket_set_option(socket_, IPPROTO_TCP, TCP_NODELAY, 1, nullptr);
    read_source_ = g_socket_create_source(socket_, GIOCondition(G_IO_IN | G_IO_HUP | G_IO_ERR), nullptr);
    g_source_set_callback(read_source_, G_SOURCE_FUNC(&BytePump::on_readable), this, nullptr);
    g_source_attach(read_source_, g_main_context_get_thread_default());
    last_inbound_ms_ = now_ms();
}

gboolean BytePump::on_readable(GSocket*, GIOCondition, gpointer data)
{
    auto* self = static_cast<BytePump*>(data);
    auto alive = self->alive_;
    char buffer[16384];
    GError* error = nullptr;
    gssize n = g_socket_receive(self->socket_, buffer, sizeof buffer, nullptr, &error);
    if (n > 0) {
        self->receive(std::string_view(buffer, static_cast<std::size_t>(n)));
        return *alive && !self->ended_ ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
    }
    if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        g_error_free(error);
        return G_SOURCE_CONTINUE;
    }
    std::string detail = n == 0 ? std::string("connection closed by peer") : std::string(error->message);
    g_clear_error(&error);
    // The source is destroyed by stop_io(); returning REMOVE too would unref it twice.
    self->end(n == 0 ? "eof" : "io", detail);
    return G_SOURCE_CONTINUE;
}

gboolean BytePump::on_writable(GSocket*, GIOCondition, gpointer data)
{
    static_cast<BytePump*>(data)->flush();
    return G_SOURCE_CONTINUE;
}

void BytePump::receive(std::string_view bytes)
{
    last_inbound_ms_ = now_ms();
    probe_sent_ms_ = 0;
    auto alive = alive_;
    if (!tls_) {
        handlers_.data(bytes);
        return;
    }
    const bool was_done = tls_->handshake_done();
    auto plain = tls_->feed(bytes);
    std::string out = tls_->take_output();
    if (!out.empty())
        queue_wire(std::move(out));
    if (ended_)
        return;
    if (!plain) {
        const std::string& code = plain.error().code;
        end(code == "peer-key-mismatch" || code == "certificate" ? code : "tls", plain.error().message);
        return;
    }
    if (!was_done && tls_->handshake_done() && handlers_.tls_done) {
        handlers_.tls_done();
        if (!*alive || ended_)
            return;
    }
    if (!plain->empty()) {
        handlers_.data(*plain);
        if (!*alive || ended_)
            return;
    }
    if (tls_ && tls_->peer_closed())
        end("eof", "peer closed the TLS session");
}

void BytePump::start_tls(std::unique_ptr<crypto::TlsChannel> channel)
{
    tls_ = std::move(channel);
    if (auto started = tls_->start(); !started) {
        end("tls", started.error().message);
        return;
    }
    std::string out = tls_->take_output();
    if (!out.empty())
        queue_wire(std::move(out));
}

void BytePump::write(std::string_view bytes)
{
    if (ended_ || !socket_)
        return;
    if (tls_) {
        if (auto written = tls_->write(bytes); !written) {
            end("tls", written.error().message);
            return;
        }
        queue_wire(tls_->take_output());
        return;
    }
    queue_wire(std::string(bytes));
}

void BytePump::close_after_flush()
{
    if (ended_)
        return;
    if (tls_ && tls_->handshake_done()) {
        tls_->close();
        queue_wire(tls_->take_output());
    }
    if (ended_)
        return;
    close_after_flush_ = true;
    flush();
}

void BytePump::queue_wire(std::string bytes)
{
    if (ended_ || !socket_ || bytes.empty())
        return;
    if (outbuf_.size() + bytes.size() > limits_.max_outbuf) {
        end("io", "the other side is not reading; send buffer full");
        return;
    }
    outbuf_ += bytes;
    flush();
}

void BytePump::flush()
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
                g_source_set_callback(write_source_, G_SOURCE_FUNC(&BytePump::on_writable), this, nullptr);
                g_source_attach(write_source_, g_main_context_get_thread_default());
            }
            return;
        }
        std::string detail = error ? error->message : "send failed";
        g_clear_error(&error);
        outbuf_.clear();
        end("io", detail);
        return;
    }
    if (write_source_) {
        g_source_destroy(write_source_);
        g_source_unref(write_source_);
        write_source_ = nullptr;
    }
    if (close_after_flush_ && socket_)
        end("closed", "stream closed");
}

void BytePump::watch_silence(unsigned interval_ms, unsigned timeout_ms, std::function<void()> probe)
{
    if (silence_timer_) {
        g_source_remove(silence_timer_);
        silence_timer_ = 0;
    }
    silence_interval_ms_ = interval_ms;
    silence_timeout_ms_ = timeout_ms;
    probe_ = std::move(probe);
    probe_sent_ms_ = 0;
    if (interval_ms > 0 && !ended_)
        silence_timer_ = g_timeout_add(kSilenceCheckMs, &BytePump::on_silence_check, this);
}

gboolean BytePump::on_silence_check(gpointer data)
{
    auto* self = static_cast<BytePump*>(data);
    const std::int64_t now = now_ms();
    if (self->probe_sent_ms_ != 0) {
        if (now - self->probe_sent_ms_ > self->silence_timeout_ms_) {
            self->silence_timer_ = 0;
            self->end("timeout", "stopped answering (nothing received for " +
                                     std::to_string(self->silence_timeout_ms_ / 1000) + " s after a ping)");
            return G_SOURCE_REMOVE;
        }
    } else if (now - self->last_inbound_ms_ > self->silence_interval_ms_) {
        self->probe_sent_ms_ = now;
        auto alive = self->alive_;
        if (self->probe_)
            self->probe_();
        if (!*alive)
            return G_SOURCE_REMOVE;
    }
    return self->ended_ ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

void BytePump::end(std::string kind, std::string detail)
{
    if (ended_)
        return;
    ended_ = true;
    stop_io();
    if (handlers_.ended)
        handlers_.ended(End{std::move(kind), std::move(detail)});  // may destroy this: nothing after
}

void BytePump::stop_io()
{
    if (silence_timer_) {
        g_source_remove(silence_timer_);
        silence_timer_ = 0;
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
