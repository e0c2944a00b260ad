// Owning handles for GnuTLS objects (one owner per C handle). Internal to src/crypto/.
#pragma once

#include <memory>
#include <string_view>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

namespace chinwag::crypto::detail {

struct CrtDeleter {
    void operator()(gnutls_x509_crt_int* p) const { gnutls_x509_crt_deinit(p); }
};
struct PrivkeyDeleter {
    void operator()(gnutls_x509_privkey_int* p) const { gnutls_x509_privkey_deinit(p); }
};
struct PubkeyDeleter {
    void operator()(gnutls_pubkey_st* p) const { gnutls_pubkey_deinit(p); }
};
struct CredentialsDeleter {
    void operator()(gnutls_certificate_credentials_st* p) const { gnutls_certificate_free_credentials(p); }
};
struct SessionDeleter {
    void operator()(gnutls_session_int* p) const { gnutls_deinit(p); }
};

using CrtPtr = std::unique_ptr<gnutls_x509_crt_int, CrtDeleter>;
using PrivkeyPtr = std::unique_ptr<gnutls_x509_privkey_int, PrivkeyDeleter>;
using PubkeyPtr = std::unique_ptr<gnutls_pubkey_st, PubkeyDeleter>;
using CredentialsPtr = std::unique_ptr<gnutls_certificate_credentials_st, CredentialsDeleter>;
using SessionPtr = std::unique_ptr<gnutls_session_int, SessionDeleter>;

// A borrowed view of bytes as a gnutls_datum_t (GnuTLS never writes through input datums).
inline gnutls_datum_t datum(std::string_view s)
{
    return gnutls_datum_t{reinterpret_cast<unsigned char*>(const_cast<char*>(s.data())),
                          static_cast<unsigned>(s.size())};
}

}  // namespace chinwag::crypto::detail
