#include "transport/client_stream.hpp"

#include <algorithm>

#include "crypto/sasl_client.hpp"
#include "crypto/tls_channel.hpp"
#include "transport/byte_pump.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "xmpp/stanzas.hpp"

namespace chinwag::transport {

namespace {

constexpr std::size_t kMaxPendingStanzas = 10000;
constexpr std::uint16_t kDefaultPort = 5222;  // RFC 6120 §3.2.1 fallback, RFC 6186 none
constexpr std::size_t kMaxTargets = 16;       // a hostile DNS answer does not make us dial forever

}  // namespace

ClientStream::ClientStream(ClientSettings settings)
    : settings_(std::move(settings)),
      cancellable_(g_cancellable_new()),
      parser_(xmpp::StreamParser::Limits{settings_.max_stanza_bytes, 32})
{
}

ClientStream::~ClientStream()
{
    *alive_ = false;
    state_ = State::Closed;  // ending the pump now reports to nobody
    if (open_timer_)
        g_source_remove(open_timer_);
    g_cancellable_cancel(cancellable_);
    g_object_unref(cancellable_);
    pump_.reset();
    wipe_password();
}

void ClientStream::wipe_password()
{
    std::fill(settings_.password.begin(), settings_.password.end(), '\0');
    settings_.password.clear();
}

std::string ClientStream::tls_version() const
{
    return pump_ && pump_->tls() ? pump_->tls()->protocol_version() : std::string();
}

const std::string& ClientStream::server_certificate() const
{
    static const std::string none;
    return pump_ && pump_->tls() ? pump_->tls()->presented_certificate() : none;
}

bool ClientStream::certificate_pinned() const
{
    return pump_ && pump_->tls() && pump_->tls()->certificate_pinned();
}

void ClientStream::start()
{
    open_timer_ = g_timeout_add(settings_.open_timeout_ms, &ClientStream::on_open_timeout, this);
    if (!settings_.host.empty()) {
        targets_.push_back({settings_.host, settings_.port ? settings_.port : kDefaultPort, false});
        state_ = State::Connecting;
        try_next_target();
        return;
    }
    state_ = State::Resolving;
    lookup(true);
}

// XEP-0368 §3: _xmpps-client (TLS from the first byte) before _xmpp-client (STARTTLS,
// RFC 6120 §3.2.1); with neither, the domain itself on 5222. GResolver sorts by priority and
// weight (RFC 2782).
void ClientStream::lookup(bool direct_tls)
{
    GResolver* resolver = g_resolver_get_default();
    auto* request = new std::pair<ClientStream*, bool>(this, direct_tls);
    g_resolver_lookup_service_async(resolver, direct_tls ? "xmpps-client" : "xmpp-client", "tcp",
                                    settings_.account.domain.c_str(), cancellable_, &ClientStream::on_srv, request);
    g_object_unref(resolver);
}

void ClientStream::on_srv(GObject* source, GAsyncResult* result, gpointer data)
{
    std::unique_ptr<std::pair<ClientStream*, bool>> request(static_cast<std::pair<ClientStream*, bool>*>(data));
    GError* error = nullptr;
    GList* targets = g_resolver_lookup_service_finish(G_RESOLVER(source), result, &error);
    if (error && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_error_free(error);  // the stream is gone
        return;
    }
    ClientStream* self = request->first;
    const bool direct_tls = request->second;
    if (error) {
        log::debug("account", "no _" + std::string(direct_tls ? "xmpps" : "xmpp") + "-client SRV record for " +
                                  self->settings_.account.domain + ": " + error->message);
        g_error_free(error);
    }
    std::vector<Target>& into = direct_tls ? self->targets_ : self->starttls_targets_;
    for (GList* l = targets; l; l = l->next) {
        auto* t = static_cast<GSrvTarget*>(l->data);
        const std::string host = g_srv_target_get_hostname(t);
        // RFC 2782: a target of "." means the service is decidedly not available here.
        if (host == "." || host.empty() || into.size() >= kMaxTargets)
            continue;
        into.push_back({host, g_srv_target_get_port(t), direct_tls});
    }
    g_resolver_free_targets(targets);
    if (direct_tls) {
        self->lookup(false);
        return;
    }
    for (auto& t : self->starttls_targets_)
        self->targets_.push_back(std::move(t));
    self->starttls_targets_.clear();
    if (self->targets_.empty())
        self->targets_.push_back({self->settings_.account.domain, kDefaultPort, false});
    self->state_ = State::Connecting;
    self->try_next_target();
}

void ClientStream::try_next_target()
{
    if (next_target_ >= targets_.size()) {
        fail("unreachable", "cannot reach " + settings_.account.domain +
                                (last_connect_error_.empty() ? std::string() : ": " + last_connect_error_));
        return;
    }
    current_ = targets_[next_target_++];
    tls_done_ = false;
    authenticated_ = false;
    parser_.reset();
    state_ = State::Connecting;
    pump_ = std::make_unique<BytePump>(
        BytePump::Limits{settings_.max_outbuf},
        BytePump::Handlers{[this] { on_connected(); },
                           [this](std::string_view bytes) { handle_plain(bytes); },
                           [this] { on_tls_done(); },
                           [this](const BytePump::End& e) { on_pump_ended(e.kind, e.detail); }});
    pump_->connect_host(current_.host, current_.port);
}

void ClientStream::on_connected()
{
    log::debug("account", "connected to " + current_.host + ":" + std::to_string(current_.port) + " for " +
                              settings_.account.bare());
    if (current_.direct_tls) {
        begin_tls();
        return;
    }
    state_ = State::AwaitHeader;
    restart_stream();
}

void ClientStream::restart_stream()
{
    parser_.reset();
    state_ = State::AwaitHeader;
    // RFC 6120 §4.7.1: 'from' only once the stream is encrypted (it names the user).
    write_raw(xmpp::stream_open(tls_done_ ? settings_.account.bare() : std::string(), settings_.account.domain, true));
}

void ClientStream::begin_tls()
{
    // RFC 6120 §13.7.2.1: the certificate must name the domain of the account, not the SRV target.
    auto channel = crypto::TlsChannel::create_for_server(settings_.account.domain, settings_.accepted_certificate,
                                                         settings_.ca_file);
    if (!channel)
        return fail("tls", channel.error().message);
    state_ = State::TlsHandshake;
    pump_->start_tls(std::move(*channel));
}

void ClientStream::on_tls_done()
{
    tls_done_ = true;
    log::debug("account", settings_.account.domain + ": " + tls_version() +
                              (certificate_pinned() ? ", the certificate you accepted" : ", trusted certificate"));
    restart_stream();
}

void ClientStream::on_pump_ended(const std::string& kind, const std::string& detail)
{
    if (state_ == State::Closed)
        return;
    if (kind == "connect") {
        // This target did not answer: the next one may (RFC 2782).
        last_connect_error_ = detail;
        try_next_target();
        return;
    }
    // Closing: the server may drop the connection as soon as it reads our </stream:stream>,
    // before our TLS close_notify reaches it (a broken pipe then): that is still a goodbye.
    if (kind == "closed" || state_ == State::Closing) {
        finish("closed", detail);
        return;
    }
    if (kind == "certificate") {
        log::warning("account", settings_.account.bare() + ": " + detail);
        finish("certificate", detail, server_certificate());
        return;
    }
    if (kind == "peer-key-mismatch")
        return fail("tls", detail);
    if (kind == "eof" && state_ == State::Authenticating)
        return fail("auth-failed", "the server closed the connection during login");
    fail(kind, detail.empty() ? kind : detail);
}

gboolean ClientStream::on_open_timeout(gpointer data)
{
    auto* self = static_cast<ClientStream*>(data);
    self->open_timer_ = 0;
    if (self->state_ != State::Open && self->state_ != State::Closed)
        self->fail("timeout", "logging in to " + self->settings_.account.domain + " did not finish within " +
                                  std::to_string(self->settings_.open_timeout_ms / 1000) + " s",
                   "connection-timeout");
    return G_SOURCE_REMOVE;
}

void ClientStream::handle_plain(std::string_view bytes)
{
    auto alive = alive_;
    auto events = parser_.feed(bytes);
    for (auto& event : events) {
        handle_event(event);
        if (!*alive || state_ == State::Closed)
            return;
    }
}

void ClientStream::handle_event(xmpp::Event& event)
{
    if (auto* header = std::get_if<xmpp::StreamOpen>(&event)) {
        if (state_ != State::AwaitHeader)
            return fail("protocol", "the server sent a stream header out of turn", "bad-format");
        if (header->version.empty() || header->version[0] < '1')
            return fail("protocol", "the server does not speak XMPP 1.0", "unsupported-version");
        state_ = State::AwaitFeatures;
    } else if (auto* stanza = std::get_if<xmpp::Element>(&event)) {
        handle_stanza(*stanza);
    } else if (std::holds_alternative<xmpp::StreamClose>(event)) {
        if (state_ == State::Closing) {
            finish("closed", "stream closed");
            return;
        }
        write_raw(xmpp::stream_close());
        fail(state_ == State::Authenticating ? "auth-failed" : "eof", "the server ended the stream");
    } else if (auto* fault = std::get_if<xmpp::StreamFault>(&event)) {
        fail("protocol", "the server sent malformed data (" + fault->condition + ": " + fault->detail + ")",
             fault->condition);
    }
}

void ClientStream::handle_stanza(const xmpp::Element& stanza)
{
    if (auto error = xmpp::stream_error_of(stanza)) {
        finish("stream-error", settings_.account.domain + " ended the stream: " + error->first +
                                   (error->second.empty() ? std::string() : " (" + error->second + ")"));
        return;
    }
    switch (state_) {
    case State::AwaitFeatures:
        if (auto f = xmpp::read_features(stanza))
            return on_features(*f);
        return fail("protocol", "the server sent something other than its stream features", "policy-violation");
    case State::AwaitProceed:
        if (xmpp::is_proceed(stanza))
            return begin_tls();
        return fail("tls-required", settings_.account.domain + " refused to start TLS");
    case State::Authenticating:
        if (auto e = xmpp::read_sasl(stanza))
            return on_sasl(*e);
        return fail("protocol", "the server sent a stanza in the middle of the login", "policy-violation");
    case State::AwaitBind:
        if (auto bound = xmpp::read_bind_result(stanza, bind_id_)) {
            if (!*bound)
                return fail(bound->error().code == "bind" ? "bind" : "protocol", bound->error().message);
            // RFC 6120 §7.6.2.1: the server may change the resource, never the bare JID.
            if ((*bound)->bare() != settings_.account.bare())
                return fail("bind", "the server bound " + (*bound)->bare() + " instead of " +
                                        settings_.account.bare(),
                            "policy-violation");
            bound_ = std::move(**bound);
            return become_open();
        }
        return;  // anything else before the bind result is not for us yet
    case State::Open:
        if (xmpp::is_ping(stanza) && xmpp::is_iq_request(stanza)) {
            write_raw(xmpp::iq_result(stanza).serialize(xmpp::ns_client));
            return;
        }
        stanza_.emit(stanza);
        return;
    case State::Closing:
        return;  // RFC 6120 §4.4: we said goodbye; what crosses it is not ours to handle
    default:
        return fail("protocol", "the server sent a stanza before the stream was set up", "policy-violation");
    }
}

void ClientStream::on_features(const xmpp::StreamFeatures& features)
{
    if (!tls_done_) {
        // Never plaintext: a server (or whoever sits in between) that offers no TLS is left.
        if (!features.starttls)
            return fail("tls-required", settings_.account.domain + " does not offer TLS, so Chinwag will not log in there");
        write_raw(xmpp::starttls());
        state_ = State::AwaitProceed;
        return;
    }
    if (!authenticated_)
        return authenticate(features);
    if (!features.bind)
        return fail("bind", settings_.account.domain + " offers no resource binding", "unsupported-feature");
    features_ = features;
    bind_id_ = "bind-" + random_id();
    state_ = State::AwaitBind;
    write_raw(xmpp::bind_request(bind_id_, settings_.resource).serialize(xmpp::ns_client));
}

void ClientStream::authenticate(const xmpp::StreamFeatures& features)
{
    crypto::TlsChannel* tls = pump_->tls();
    auto binding = tls->channel_binding();
    const std::string binding_type = binding ? binding->type : std::string();
    // PLAIN only inside TLS (we are) and only when nothing better is offered (choose_mechanism).
    const crypto::SaslChoice choice =
        crypto::choose_mechanism(features.mechanisms, binding_type, features.channel_bindings, true);
    if (choice.mechanism.empty()) {
        std::string offered;
        for (const auto& m : features.mechanisms)
            offered += (offered.empty() ? "" : ", ") + m;
        return fail("no-mechanism", settings_.account.domain + " offers no login method Chinwag accepts (offered: " +
                                        (offered.empty() ? std::string("none") : offered) + ")",
                    "policy-violation");
    }
    // The binding goes only to a -PLUS mechanism. RFC 5802 §6's "y" flag (we could bind, the
    // server offered no -PLUS) is not sent: GNU SASL 2.2's SCRAM client refuses to start
    // a non-PLUS exchange with binding data set (seen against Prosody 0.12 over TLS 1.3).
    const bool pass_binding = binding && choice.bind_channel;
    const std::string authcid = settings_.account.local;
    auto sasl = crypto::SaslClient::start(choice.mechanism, authcid, settings_.password, binding_type,
                                          pass_binding ? binding->data : std::string());
    if (!sasl)
        return fail("no-mechanism", sasl.error().message, "policy-violation");
    sasl_ = std::move(*sasl);
    mechanism_ = choice.mechanism;
    channel_bound_ = choice.bind_channel;
    auto first = sasl_->step({});
    if (!first)
        return fail("no-mechanism", first.error().message, "policy-violation");
    state_ = State::Authenticating;
    log::debug("account", settings_.account.bare() + ": logging in with " + mechanism_);
    write_raw(xmpp::sasl_auth(mechanism_, first->response));
}

void ClientStream::on_sasl(const xmpp::SaslEvent& event)
{
    if (auto* bad = std::get_if<xmpp::SaslBad>(&event))
        return fail("protocol", bad->detail, "bad-format");
    if (auto* failure = std::get_if<xmpp::SaslFailure>(&event)) {
        std::string why = failure->condition == "not-authorized"
                              ? "the server refused the user name or password"
                              : "the server refused the login (" + failure->condition + ")";
        if (!failure->text.empty())
            why += ": " + failure->text;
        return fail("auth-failed", why);
    }
    if (auto* challenge = std::get_if<xmpp::SaslChallenge>(&event)) {
        auto answer = sasl_->step(challenge->data);
        if (!answer) {
            write_raw(xmpp::sasl_abort());
            return fail("auth-failed", answer.error().message);
        }
        write_raw(xmpp::sasl_response(answer->response));
        return;
    }
    const auto& success = std::get<xmpp::SaslSuccess>(event);
    // RFC 6120 §6.3.10: the additional data of <success/> carries SCRAM's server signature;
    // the login counts only once GNU SASL has verified it.
    auto last = sasl_->step(success.data);
    if (!last || !last->done)
        return fail("auth-failed", last ? settings_.account.domain + " reported success without proving it knows the password"
                                        : last.error().message);
    sasl_.reset();
    authenticated_ = true;
    restart_stream();  // RFC 6120 §6.4.6
}

void ClientStream::become_open()
{
    state_ = State::Open;
    if (open_timer_) {
        g_source_remove(open_timer_);
        open_timer_ = 0;
    }
    pump_->watch_silence(settings_.ping_interval_ms, settings_.ping_timeout_ms, [this] {
        write_raw(xmpp::ping("ping-" + random_id(), bound_.full(), settings_.account.domain).serialize(xmpp::ns_client));
    });
    log::info("account", "logged in as " + bound_.full() + " (" + tls_version() + ", " + mechanism_ + ")");
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

bool ClientStream::send(const xmpp::Element& stanza)
{
    if (state_ == State::Closing || state_ == State::Closed)
        return false;
    if (state_ != State::Open) {
        if (pending_.size() >= kMaxPendingStanzas)
            return false;
        pending_.push_back(stanza.serialize(xmpp::ns_client));
        return true;
    }
    write_raw(stanza.serialize(xmpp::ns_client));
    return state_ == State::Open;
}

void ClientStream::close()
{
    if (state_ == State::Closed || state_ == State::Closing)
        return;
    if (state_ != State::Open) {
        finish("closed", "closed before it opened");
        return;
    }
    write_raw(xmpp::stream_close());
    if (state_ == State::Closed)
        return;
    state_ = State::Closing;
    pump_->close_after_flush();
}

void ClientStream::write_raw(std::string_view bytes)
{
    if (state_ == State::Closed || !pump_ || !pump_->is_connected())
        return;
    pump_->write(bytes);
}

void ClientStream::fail(std::string kind, std::string detail, std::string condition)
{
    if (state_ == State::Closed)
        return;
    log::warning("account", settings_.account.bare() + ": " + detail);
    if (!condition.empty() && pump_ && pump_->is_connected() && state_ != State::TlsHandshake &&
        state_ != State::Connecting)
        write_raw(xmpp::stream_error(condition, {}));
    finish(std::move(kind), std::move(detail));
}

void ClientStream::finish(std::string kind, std::string detail, std::string certificate)
{
    if (state_ == State::Closed)
        return;
    ClientClose info;
    info.kind = std::move(kind);
    info.detail = std::move(detail);
    info.certificate = std::move(certificate);
    info.opened = state_ == State::Open || state_ == State::Closing;
    state_ = State::Closed;
    if (open_timer_) {
        g_source_remove(open_timer_);
        open_timer_ = 0;
    }
    sasl_.reset();
    wipe_password();
    if (pump_)
        pump_->end("closed", "stream over");
    log::debug("account", "stream of " + settings_.account.bare() + " ended: " + info.kind);
    closed_.emit(info);  // may destroy this: nothing after
}

}  // namespace chinwag::transport
