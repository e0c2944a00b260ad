#include "crypto/sasl_client.hpp"

#include <algorithm>
#include <array>

#include <glib.h>
#include <gsasl.h>

namespace chinwag::crypto {

namespace {

bool contains(const std::vector<std::string>& list, std::string_view item)
{
    return std::find(list.begin(), list.end(), item) != list.end();
}

// gsasl's own words, made plain for the one failure a user can act on.
Error sasl_error(int rc, std::string_view what)
{
    if (rc == GSASL_AUTHENTICATION_ERROR)
        return make_error("sasl", std::string(what) + ": the server's proof is wrong (it does not know the password)");
    return make_error("sasl", std::string(what) + ": " + gsasl_strerror(rc));
}

}  // namespace

SaslChoice choose_mechanism(const std::vector<std::string>& offered, std::string_view binding_type,
                            const std::vector<std::string>& server_bindings, bool allow_plain)
{
    // XEP-0440: a server that announces its types is taken at its word. Without an
    // announcement only tls-unique (TLS 1.2, RFC 5929, the old default) is assumed: servers
    // that predate RFC 9266 offer -PLUS over TLS 1.3 yet refuse tls-exporter (ejabberd 23.01:
    // "Invalid channel binding"), and a failed -PLUS login cannot be told from a wrong password.
    const bool can_bind = !binding_type.empty() &&
                          (server_bindings.empty() ? binding_type == "tls-unique"
                                                   : contains(server_bindings, binding_type));
    if (can_bind) {
        for (std::string_view m : {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"})
            if (contains(offered, m))
                return {std::string(m), true};
    }
    for (std::string_view m : {"SCRAM-SHA-256", "SCRAM-SHA-1"})
        if (contains(offered, m))
            return {std::string(m), false};
    if (allow_plain && contains(offered, "PLAIN"))
        return {"PLAIN", false};
    return {};
}

Result<std::unique_ptr<SaslClient>> SaslClient::start(const std::string& mechanism, const std::string& authcid,
                                                      const std::string& password, std::string_view binding_type,
                                                      const std::string& channel_binding)
{
    std::unique_ptr<SaslClient> c(new SaslClient());
    c->mechanism_ = mechanism;
    int rc = gsasl_init(&c->ctx_);
    if (rc != GSASL_OK)
        return sasl_error(rc, "Cannot start GNU SASL");
    if (!gsasl_client_support_p(c->ctx_, mechanism.c_str()))
        return make_error("sasl", "GNU SASL does not support " + mechanism);
    rc = gsasl_client_start(c->ctx_, mechanism.c_str(), &c->session_);
    if (rc != GSASL_OK)
        return sasl_error(rc, "Cannot start " + mechanism);
    // XMPP's authentication identity is the account's localpart (RFC 6120 §6.3.8); no
    // authorization identity: we log in as ourselves.
    if ((rc = gsasl_property_set(c->session_, GSASL_AUTHID, authcid.c_str())) != GSASL_OK ||
        (rc = gsasl_property_set(c->session_, GSASL_PASSWORD, password.c_str())) != GSASL_OK)
        return sasl_error(rc, "Cannot set up " + mechanism);
    const bool plus = mechanism.size() > 5 && mechanism.compare(mechanism.size() - 5, 5, "-PLUS") == 0;
    if (plus && channel_binding.empty())
        return make_error("sasl", mechanism + " needs a channel binding and this session has none");
    if (!channel_binding.empty() && mechanism != "PLAIN") {
        gchar* b64 = g_base64_encode(reinterpret_cast<const guchar*>(channel_binding.data()), channel_binding.size());
        const Gsasl_property property = binding_type == "tls-exporter" ? GSASL_CB_TLS_EXPORTER : GSASL_CB_TLS_UNIQUE;
        rc = gsasl_property_set(c->session_, property, b64);
        g_free(b64);
        if (rc != GSASL_OK)
            return sasl_error(rc, "Cannot set the channel binding");
    }
    return c;
}

SaslClient::~SaslClient()
{
    if (session_)
        gsasl_finish(session_);  // GNU SASL clears the password it holds
    if (ctx_)
        gsasl_done(ctx_);
}

Result<SaslClient::Step> SaslClient::step(std::string_view server_message)
{
    char* out = nullptr;
    size_t out_len = 0;
    const int rc = gsasl_step(session_, server_message.data(), server_message.size(), &out, &out_len);
    if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
        gsasl_free(out);
        return sasl_error(rc, mechanism_);
    }
    Step s;
    if (out) {
        s.response.assign(out, out_len);
        gsasl_free(out);
    }
    s.done = rc == GSASL_OK;
    return s;
}

}  // namespace chinwag::crypto
