// Identity: owns the user's Ed25519 private key and the self-signed X.509 certificate for it.
#pragma once

#include <string>

#include <gnutls/x509.h>

#include "crypto/gnutls_handle.hpp"
#include "util/result.hpp"

namespace chinwag::crypto {

class Identity {
public:
    // Loads dir/identity.key (PEM PKCS#8, must be mode 0600 or stricter) and dir/identity.crt,
    // creating whichever is missing. `dir` is created with mode 0700 if it does not exist.
    // The certificate is (re)issued when it is missing, unreadable, expired or not for this key;
    // its CN is `common_name`. A new key is written atomically (temp file created 0600 with
    // O_EXCL, fsync, rename), so a crash never leaves a half-written key.
    // Errors: "insecure-key-file" (key readable by group/others; the message says what to
    // chmod), "io" (file system), "invalid" (key file unreadable or not Ed25519), "crypto".
    static Result<Identity> load_or_create(const std::string& dir, const std::string& common_name);

    // A fresh key and certificate that live only in memory (tests, throw-away profiles).
    static Result<Identity> create_ephemeral(const std::string& common_name);

    Identity(Identity&&) noexcept = default;
    Identity& operator=(Identity&&) noexcept = default;
    Identity(const Identity&) = delete;
    Identity& operator=(const Identity&) = delete;
    ~Identity() = default;

    // Lowercase hex SHA-256 of the DER SubjectPublicKeyInfo (see fingerprint.hpp).
    const std::string& fingerprint() const { return fingerprint_; }
    std::string certificate_pem() const { return certificate_pem_; }

    // Borrowed handles for TLS credentials; valid while this Identity lives.
    // gnutls_certificate_set_x509_key() copies them, so credentials may outlive the Identity.
    gnutls_x509_crt_t certificate() const { return crt_.get(); }
    gnutls_x509_privkey_t private_key() const { return key_.get(); }

private:
    Identity(detail::PrivkeyPtr key, detail::CrtPtr crt, std::string certificate_pem, std::string fingerprint);

    detail::PrivkeyPtr key_;
    detail::CrtPtr crt_;
    std::string certificate_pem_;
    std::string fingerprint_;
};

}  // namespace chinwag::crypto
