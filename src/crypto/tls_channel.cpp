#include "crypto/tls_channel.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "crypto/fingerprint.hpp"
#include "util/log.hpp"

namespace chinwag::crypto {

namespace {

constexpr std::string_view kComponent = "crypto";

// TLS 1.3 only (RFC 8446): no downgrade path, and CertificateVerify covers the whole
// handshake transcript including the client certificate.
constexpr const char* kPriority = "NORMAL:-VERS-ALL:+VERS-TLS1.3";
// XMPP servers: TLS 1.2 is still common (RFC 9325 §3.1.1 allows it); nothing older.
constexpr const char* kServerPriority = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";

Error tls_error(std::string_view what, int rc)
{
    return make_error("tls", std::string(what) + ": " + gnutls_strerror(rc));
}

Error mismatch_error(const std::string& presented, const std::string& expected)
{
    if (presented.empty())
        return make_error("peer-key-mismatch",
                          "peer presented no key but " + format_fingerprint(expected) + " was expected");
    return make_error("peer-key-mismatch", "peer presented key " + format_fingerprint(presented) + " but " +
                                               format_fingerprint(expected) + " was expected");
}

}  // namespace

TlsChannel::TlsChannel(Role role, std::string expected_fingerprint)
    : role_(role), expected_fingerprint_(std::move(expected_fingerprint))
{
}

TlsChannel::~TlsChannel()
{
    if (!pending_.empty())
        std::fill(pending_.begin(), pending_.end(), '\0');
}

Result<std::unique_ptr<TlsChannel>> TlsChannel::create(const Identity& self, Role role,
                                                       std::string expected_peer_fingerprint)
{
    std::string expected = normalize_fingerprint(expected_peer_fingerprint);
    if (expected.empty())
        return make_error("invalid", "The expected peer fingerprint is not a SHA-256 fingerprint.");

    std::unique_ptr<TlsChannel> ch(new TlsChannel(role, std::move(expected)));
    gnutls_certificate_credentials_t cred = nullptr;
    int rc = gnutls_certificate_allocate_credentials(&cred);
    if (rc < 0)
        return tls_error("Cannot allocate TLS credentials", rc);
    ch->credentials_.reset(cred);
    // GnuTLS copies the certificate and the key: the channel does not borrow `self`.
    gnutls_x509_crt_t crt = self.certificate();
    rc = gnutls_certificate_set_x509_key(cred, &crt, 1, self.private_key());
    if (rc < 0)
        return tls_error("Cannot load the identity into TLS", rc);

    // No session tickets: nothing is resumed, and every connection re-proves both keys.
    const unsigned flags = (role == Role::Client ? GNUTLS_CLIENT : GNUTLS_SERVER) | GNUTLS_NO_TICKETS;
    if (auto ready = ch->set_up_session(flags, kPriority); !ready)
        return ready.error();
    if (role == Role::Server)
        gnutls_certificate_server_set_request(ch->session_.get(), GNUTLS_CERT_REQUIRE);
    return ch;
}

Result<void> TlsChannel::set_up_session(unsigned flags, const char* priority)
{
    gnutls_session_t session = nullptr;
    int rc = gnutls_init(&session, flags | GNUTLS_NONBLOCK);
    if (rc < 0)
        return tls_error("Cannot create a TLS session", rc);
    session_.reset(session);
    const char* err_pos = nullptr;
    rc = gnutls_priority_set_direct(session, priority, &err_pos);
    if (rc < 0)
        return tls_error("Cannot set the TLS priorities", rc);
    rc = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, credentials_.get());
    if (rc < 0)
        return tls_error("Cannot attach TLS credentials", rc);
    // The caller owns timeouts (it owns the connection); GnuTLS must not add its own.
    gnutls_handshake_set_timeout(session, 0);
    gnutls_session_set_ptr(session, this);
    gnutls_transport_set_ptr(session, this);
    gnutls_transport_set_push_function(session, &TlsChannel::push);
    gnutls_transport_set_pull_function(session, &TlsChannel::pull);
    gnutls_session_set_verify_function(session, &TlsChannel::verify_peer);
    return {};
}

Result<std::unique_ptr<TlsChannel>> TlsChannel::create_for_server(std::string host,
                                                                  std::string accepted_certificate,
                                                                  std::string ca_file)
{
    std::string accepted;
    if (!accepted_certificate.empty()) {
        accepted = normalize_fingerprint(accepted_certificate);
        if (accepted.empty())
            return make_error("invalid", "The accepted certificate is not a SHA-256 fingerprint.");
    }
    if (host.empty())
        return make_error("invalid", "No server host name to check the certificate against.");
    std::unique_ptr<TlsChannel> ch(new TlsChannel(Role::Client, std::move(accepted)));
    ch->verify_ = Verify::ServerCertificate;
    ch->server_host_ = std::move(host);

    gnutls_certificate_credentials_t cred = nullptr;
    int rc = gnutls_certificate_allocate_credentials(&cred);
    if (rc < 0)
        return tls_error("Cannot allocate TLS credentials", rc);
    ch->credentials_.reset(cred);
    rc = ca_file.empty() ? gnutls_certificate_set_x509_system_trust(cred)
                         : gnutls_certificate_set_x509_trust_file(cred, ca_file.c_str(), GNUTLS_X509_FMT_PEM);
    if (rc < 0)
        return tls_error(ca_file.empty() ? "Cannot load the system's trusted certificates"
                                         : "Cannot load the trusted certificates in " + ca_file, rc);
    if (rc == 0 && !ca_file.empty())
        return make_error("tls", "No certificate found in " + ca_file + ".");

    if (auto ready = ch->set_up_session(GNUTLS_CLIENT, kServerPriority); !ready)
        return ready.error();
    // RFC 6120 §13.7.2.1 / RFC 6066 §3: the server picks its certificate by the name we ask for.
    rc = gnutls_server_name_set(ch->session_.get(), GNUTLS_NAME_DNS, ch->server_host_.data(), ch->server_host_.size());
    if (rc < 0)
        return tls_error("Cannot set the server name", rc);
    return ch;
}

ssize_t TlsChannel::push(gnutls_transport_ptr_t self, const void* data, size_t len) noexcept
{
    auto* ch = static_cast<TlsChannel*>(self);
    try {
        ch->output_.append(static_cast<const char*>(data), len);
    } catch (...) {
        gnutls_transport_set_errno(ch->session_.get(), ENOMEM);
        return -1;
    }
    return static_cast<ssize_t>(len);
}

ssize_t TlsChannel::pull(gnutls_transport_ptr_t self, void* data, size_t len) noexcept
{
    auto* ch = static_cast<TlsChannel*>(self);
    const std::size_t available = ch->input_.size() - ch->input_offset_;
    if (available == 0) {
        gnutls_transport_set_errno(ch->session_.get(), EAGAIN);
        return -1;
    }
    const std::size_t n = std::min(len, available);
    std::memcpy(data, ch->input_.data() + ch->input_offset_, n);
    ch->input_offset_ += n;
    return static_cast<ssize_t>(n);
}

int TlsChannel::verify_peer(gnutls_session_t session) noexcept
{
    auto* ch = static_cast<TlsChannel*>(gnutls_session_get_ptr(session));
    try {
        const bool ok = ch->verify_ == Verify::PinnedKey ? ch->check_peer_key() : ch->check_server_certificate();
        return ok ? 0 : -1;
    } catch (...) {
        return -1;
    }
}

bool TlsChannel::check_peer_key()
{
    unsigned count = 0;
    const gnutls_datum_t* certs = gnutls_certificate_get_peers(session_.get(), &count);
    if (gnutls_certificate_type_get2(session_.get(), GNUTLS_CTYPE_PEERS) != GNUTLS_CRT_X509 || !certs ||
        count == 0) {
        pin_failure_ = mismatch_error({}, expected_fingerprint_);
        return false;
    }
    // Only the end-entity certificate matters (RFC 8446 §4.4.2: it comes first); any chain a
    // peer adds is ignored because trust comes from the pin, not from issuers.
    auto fp = certificate_fingerprint(
        std::string_view(reinterpret_cast<const char*>(certs[0].data), certs[0].size), false);
    if (!fp) {
        pin_failure_ = make_error("peer-key-mismatch", "peer presented an unreadable certificate but " +
                                                           format_fingerprint(expected_fingerprint_) +
                                                           " was expected");
        return false;
    }
    if (*fp != expected_fingerprint_) {
        pin_failure_ = mismatch_error(*fp, expected_fingerprint_);
        return false;
    }
    peer_fingerprint_ = std::move(*fp);
    return true;
}

bool TlsChannel::check_server_certificate()
{
    unsigned count = 0;
    const gnutls_datum_t* certs = gnutls_certificate_get_peers(session_.get(), &count);
    if (gnutls_certificate_type_get2(session_.get(), GNUTLS_CTYPE_PEERS) != GNUTLS_CRT_X509 || !certs ||
        count == 0) {
        pin_failure_ = make_error("certificate", server_host_ + " presented no certificate");
        return false;
    }
    presented_certificate_ = der_certificate_sha256(
        std::string_view(reinterpret_cast<const char*>(certs[0].data), certs[0].size));
    // The user accepted exactly this certificate: neither its issuer nor its names matter.
    if (!expected_fingerprint_.empty() && presented_certificate_ == expected_fingerprint_) {
        certificate_pinned_ = true;
        peer_fingerprint_ = presented_certificate_;
        return true;
    }
    unsigned status = 0;
    gnutls_typed_vdata_st name{GNUTLS_DT_DNS_HOSTNAME,
                               reinterpret_cast<unsigned char*>(server_host_.data()), 0};
    const int rc = gnutls_certificate_verify_peers(session_.get(), &name, 1, &status);
    if (rc < 0) {
        pin_failure_ = make_error("certificate", "the certificate of " + server_host_ +
                                                     " could not be checked: " + gnutls_strerror(rc));
        return false;
    }
    if (status != 0) {
        std::string why;
        gnutls_datum_t out{};
        if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) >= 0) {
            why.assign(reinterpret_cast<const char*>(out.data), out.size);
            gnutls_free(out.data);
        }
        std::string message = "the certificate of " + server_host_ + " is not trusted";
        if (!why.empty())
            message += " (" + why + ")";
        if (!expected_fingerprint_.empty())
            message += ", and it is not the certificate you accepted: it has changed from " +
                       format_fingerprint(expected_fingerprint_) + " to " + format_fingerprint(presented_certificate_);
        pin_failure_ = make_error("certificate", message);
        return false;
    }
    peer_fingerprint_ = presented_certificate_;
    return true;
}

std::string TlsChannel::protocol_version() const
{
    if (!handshake_done_)
        return {};
    const char* name = gnutls_protocol_get_name(gnutls_protocol_get_version(session_.get()));
    return name ? name : "";
}

Result<TlsChannel::ChannelBinding> TlsChannel::channel_binding() const
{
    if (!handshake_done_ || failure_)
        return make_error("unavailable", "No TLS session to bind to.");
    // RFC 9266 §3: tls-unique is undefined for TLS 1.3; tls-exporter is its replacement.
    const bool tls13 = gnutls_protocol_get_version(session_.get()) == GNUTLS_TLS1_3;
    gnutls_datum_t cb{};
    const int rc = gnutls_session_channel_binding(session_.get(), tls13 ? GNUTLS_CB_TLS_EXPORTER : GNUTLS_CB_TLS_UNIQUE, &cb);
    if (rc < 0)
        return make_error("unavailable", std::string("No channel binding: ") + gnutls_strerror(rc));
    ChannelBinding out{tls13 ? "tls-exporter" : "tls-unique",
                       std::string(reinterpret_cast<const char*>(cb.data), cb.size)};
    gnutls_free(cb.data);
    return out;
}

Error TlsChannel::record_failure(Error error)
{
    failure_ = error;
    peer_fingerprint_.clear();
    std::fill(pending_.begin(), pending_.end(), '\0');
    pending_.clear();
    log::warning(kComponent, "TLS channel failed (" + error.code + "): " + error.message);
    return error;
}

Error TlsChannel::record_failure(int rc)
{
    if (pin_failure_)
        return record_failure(*pin_failure_);
    // RFC 8446 §4.4.2.4: a server that requires a certificate and gets none aborts.
    if (verify_ == Verify::PinnedKey && (rc == GNUTLS_E_NO_CERTIFICATE_FOUND || rc == GNUTLS_E_CERTIFICATE_REQUIRED))
        return record_failure(mismatch_error({}, expected_fingerprint_));
    std::string message = gnutls_strerror(rc);
    if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED || rc == GNUTLS_E_WARNING_ALERT_RECEIVED) {
        const char* alert = gnutls_alert_get_name(gnutls_alert_get(session_.get()));
        if (alert)
            message += std::string(" (") + alert + ")";
    }
    return record_failure(make_error("tls", message));
}

Result<void> TlsChannel::start()
{
    if (failure_)
        return *failure_;
    if (started_)
        return {};
    started_ = true;
    if (role_ == Role::Client)
        return continue_handshake();
    return {};
}

Result<void> TlsChannel::continue_handshake()
{
    for (;;) {
        const int rc = gnutls_handshake(session_.get());
        if (rc == GNUTLS_E_SUCCESS)
            break;
        if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
            return {};
        if (!gnutls_error_is_fatal(rc))
            continue;  // e.g. a warning alert: it was consumed, keep going
        // Tell the peer why (RFC 8446 §6.2), unless it is the one who aborted.
        if (rc != GNUTLS_E_FATAL_ALERT_RECEIVED) {
            if (pin_failure_)
                gnutls_alert_send(session_.get(), GNUTLS_AL_FATAL, GNUTLS_A_BAD_CERTIFICATE);
            else
                gnutls_alert_send_appropriate(session_.get(), rc);
        }
        return record_failure(rc);
    }
    // The verify callback has already accepted the key; re-check so that no path through
    // GnuTLS can complete a handshake with an unpinned peer.
    if (peer_fingerprint_.empty() &&
        !(verify_ == Verify::PinnedKey ? check_peer_key() : check_server_certificate())) {
        gnutls_alert_send(session_.get(), GNUTLS_AL_FATAL, GNUTLS_A_BAD_CERTIFICATE);
        return record_failure(*pin_failure_);
    }
    handshake_done_ = true;
    log::debug(kComponent, "TLS handshake done with " +
                               (verify_ == Verify::PinnedKey ? format_fingerprint(peer_fingerprint_) : server_host_));
    return flush_pending();
}

Result<void> TlsChannel::flush_pending()
{
    if (pending_.empty())
        return {};
    std::string data = std::exchange(pending_, {});
    auto r = write(data);
    std::fill(data.begin(), data.end(), '\0');
    return r;
}

Result<std::string> TlsChannel::feed(std::string_view ciphertext)
{
    if (failure_)
        return *failure_;
    if (input_offset_ > 0) {
        input_.erase(0, input_offset_);
        input_offset_ = 0;
    }
    if (input_.size() + ciphertext.size() > kMaxBufferedInput)
        return make_error("too-much-input", "More than 1 MiB of TLS input would be buffered; feed smaller chunks.");
    input_.append(ciphertext);

    if (!started_) {
        auto r = start();
        if (!r)
            return r.error();
    }
    if (!handshake_done_) {
        auto r = continue_handshake();
        if (!r)
            return r.error();
        if (!handshake_done_)
            return std::string{};
    }

    std::string plaintext;
    char buf[16384];
    for (;;) {
        const ssize_t n = gnutls_record_recv(session_.get(), buf, sizeof buf);
        if (n > 0) {
            plaintext.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) {
            peer_closed_ = true;  // close_notify, RFC 8446 §6.1
            break;
        }
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            // GnuTLS returns this also after handling a post-handshake message (a TLS 1.3
            // NewSessionTicket, RFC 8446 §4.6.1, which servers send right after the handshake)
            // while records are still waiting in our input: read on, or the data behind the
            // ticket would sit there until the peer happened to send more.
            if (input_offset_ < input_.size())
                continue;
            break;
        }
        if (!gnutls_error_is_fatal(static_cast<int>(n)))
            continue;
        return record_failure(static_cast<int>(n));
    }
    return plaintext;
}

Result<void> TlsChannel::write(std::string_view plaintext)
{
    if (failure_)
        return *failure_;
    if (closed_)
        return make_error("closed", "The TLS channel is closed.");
    if (!handshake_done_) {
        pending_.append(plaintext);
        return {};
    }
    std::size_t done = 0;
    while (done < plaintext.size()) {
        const ssize_t n = gnutls_record_send(session_.get(), plaintext.data() + done, plaintext.size() - done);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (n == GNUTLS_E_INTERRUPTED)
            continue;
        // push() never blocks, so GNUTLS_E_AGAIN here would be a bug; treat it as fatal.
        return record_failure(static_cast<int>(n));
    }
    return {};
}

std::string TlsChannel::take_output() { return std::exchange(output_, {}); }

void TlsChannel::close()
{
    if (closed_)
        return;
    closed_ = true;
    std::fill(pending_.begin(), pending_.end(), '\0');
    pending_.clear();
    if (handshake_done_ && !failure_)
        gnutls_bye(session_.get(), GNUTLS_SHUT_WR);
}

}  // namespace chinwag::crypto
