#include "transport/link_local_stream.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "crypto/tls_channel.hpp"
#include "transport/byte_pump.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "xmpp/stanzas.hpp"

namespace chinwag::transport {

namespace {

constexpr std::size_t kMaxPendingStanzas = 10000;

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
      parser_(xmpp::StreamParser::Limits{limits.max_stanza_bytes, 24})
{
    pump_ = std::make_unique<BytePump>(
        BytePump::Limits{limits.max_outbuf},
        BytePump::Handlers{[this] { on_connected(); },
                           [this](std::string_view bytes) { handle_plain(bytes); },
                           [this] { on_tls_done(); },
                           [this](const BytePump::End& e) { on_pump_ended(e.kind, e.detail); }});
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
    s->accepted_ = G_SOCKET_CONNECTION(g_object_ref(connection));
    s->incoming_ip_ = remote_ip_of(connection);
    return s;
}

LinkLocalStream::~LinkLocalStream()
{
    *alive_ = false;
    state_ = State::Closed;  // ending the pump now reports to nobody
    stop_io();
}

const std::string& LinkLocalStream::remote_ip() const
{
    return pump_->is_connected() || incoming_ip_.empty() ? pump_->remote_ip() : incoming_ip_;
}

void LinkLocalStream::connect(std::vector<std::string> addresses, std::uint16_t port)
{
    state_ = State::Connecting;
    open_timer_ = g_timeout_add(limits_.open_timeout_ms, &LinkLocalStream::on_open_timeout, this);
    pump_->connect_addresses(std::move(addresses), port, peer_instance_);
}

void LinkLocalStream::start()
{
    GSocketConnection* c = std::exchange(accepted_, nullptr);
    state_ = State::AwaitHeader;
    pump_->attach(c);
    g_object_unref(c);
    open_timer_ = g_timeout_add(limits_.open_timeout_ms, &LinkLocalStream::on_open_timeout, this);
}

void LinkLocalStream::on_connected()
{
    state_ = State::AwaitHeader;
    // XEP-0174 §5: our header names both ends; libpurple expects no version from legacy peers.
    write_raw(xmpp::stream_open(self_instance_, peer_instance_, is_secure()));
}

void LinkLocalStream::on_pump_ended(std::string kind, std::string detail)
{
    if (state_ == State::Closed)
        return;
    if (kind == "closed" || (kind == "eof" && state_ == State::Closing)) {
        finish({"closed", std::move(detail)});
        return;
    }
    if (kind == "eof" && state_ == State::Open) {
        finish({"eof", std::move(detail)});
        return;
    }
    if (kind == "io")
        detail = describe(peer_instance_, remote_ip()) + ": " + detail;
    fail(std::move(kind), std::move(detail));
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

void LinkLocalStream::on_tls_done()
{
    // RFC 6120 §5.4.3.3: after TLS both sides start a fresh stream.
    parser_.reset();
    state_ = State::AwaitHeaderAfterTls;
    if (outgoing_)
        write_raw(xmpp::stream_open(self_instance_, peer_instance_, true));
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
            state_ = State::Closing;
            pump_->close_after_flush();
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
    authorize(peer_instance_, remote_ip(), [this, alive](Admission admission) {
        if (*alive && state_ == State::AwaitStartTls && !pump_->tls())
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
        finish({"stream-error", describe(peer_instance_, remote_ip()) + " ended the stream: " + error->first +
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
    state_ = State::TlsHandshake;
    pump_->start_tls(std::move(*channel));
}

void LinkLocalStream::become_open()
{
    state_ = State::Open;
    last_message_ms_ = now_ms();  // the idle clock starts when the stream opens
    if (open_timer_) {
        g_source_remove(open_timer_);
        open_timer_ = 0;
    }
    // XEP-0199 §4.2: a ping over the stream tells a live peer from a vanished one (legacy
    // peers ignore pings; TCP keepalive is all there is for them).
    if (is_secure())
        pump_->watch_silence(limits_.ping_interval_ms, limits_.ping_timeout_ms, [this] {
            write_raw(xmpp::ping("ping-" + random_id(), self_instance_, peer_instance_).serialize("jabber:client"));
        });
    log::info("stream", std::string(outgoing_ ? "connected to " : "accepted ") + describe(peer_instance_, remote_ip()) +
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
    if (state_ == State::Closed)
        return;
    state_ = State::Closing;
    pump_->close_after_flush();
}

void LinkLocalStream::write_raw(std::string_view bytes)
{
    if (state_ == State::Closed || !pump_->is_connected())
        return;
    pump_->write(bytes);
}

void LinkLocalStream::fail(std::string kind, std::string detail, std::string condition)
{
    if (state_ == State::Closed)
        return;
    log::warning("stream", (outgoing_ ? "to " : "from ") + describe(peer_instance_, remote_ip()) + ": " + detail);
    if (!condition.empty() && pump_->is_connected() && state_ != State::TlsHandshake) {
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
    log::debug("stream", "stream with " + describe(peer_instance_, remote_ip()) + " ended: " + info.kind);
    closed_.emit(info);  // may destroy this: nothing after
}

void LinkLocalStream::stop_io()
{
    if (open_timer_) {
        g_source_remove(open_timer_);
        open_timer_ = 0;
    }
    if (accepted_) {
        g_io_stream_close(G_IO_STREAM(accepted_), nullptr, nullptr);
        g_object_unref(accepted_);
        accepted_ = nullptr;
    }
    pump_->end("closed", "stream over");  // no-op if it has ended already
}

}  // namespace chinwag::transport
