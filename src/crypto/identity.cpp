#include "crypto/identity.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "crypto/fingerprint.hpp"
#include "util/log.hpp"

namespace chinwag::crypto {

namespace {

constexpr std::string_view kComponent = "crypto";
constexpr std::time_t kBackdateSeconds = 3600;                      // tolerate peers' clock skew
constexpr std::time_t kValiditySeconds = 20LL * 36525 * 86400 / 100;  // 20 years

Error gnutls_error(std::string_view what, int rc)
{
    return make_error("crypto", std::string(what) + ": " + gnutls_strerror(rc));
}

Error errno_error(std::string_view what, const std::string& path, int err)
{
    return make_error("io", std::string(what) + " " + path + ": " + std::strerror(err));
}

// Wipes and frees a datum GnuTLS allocated for us (it may hold a private key).
struct SecretDatum {
    gnutls_datum_t d{};
    ~SecretDatum()
    {
        if (d.data) {
            gnutls_memset(d.data, 0, d.size);
            gnutls_free(d.data);
        }
    }
    std::string_view view() const { return {reinterpret_cast<const char*>(d.data), d.size}; }
};

// Wipes a std::string that held key material before it goes away.
struct SecretString {
    std::string s;
    ~SecretString()
    {
        if (!s.empty())
            gnutls_memset(s.data(), 0, s.size());
    }
};

Result<detail::PrivkeyPtr> generate_key()
{
    gnutls_x509_privkey_t raw = nullptr;
    int rc = gnutls_x509_privkey_init(&raw);
    if (rc < 0)
        return gnutls_error("Cannot allocate a private key", rc);
    detail::PrivkeyPtr key(raw);
    rc = gnutls_x509_privkey_generate(key.get(), GNUTLS_PK_EDDSA_ED25519,
                                      GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED25519), 0);
    if (rc < 0)
        return gnutls_error("Cannot generate an Ed25519 key", rc);
    return key;
}

Result<detail::PrivkeyPtr> import_key(std::string_view pem, const std::string& path)
{
    gnutls_x509_privkey_t raw = nullptr;
    int rc = gnutls_x509_privkey_init(&raw);
    if (rc < 0)
        return gnutls_error("Cannot allocate a private key", rc);
    detail::PrivkeyPtr key(raw);
    const gnutls_datum_t in = detail::datum(pem);
    rc = gnutls_x509_privkey_import_pkcs8(key.get(), &in, GNUTLS_X509_FMT_PEM, nullptr, GNUTLS_PKCS_PLAIN);
    if (rc < 0)
        return make_error("invalid", "The identity key file " + path + " cannot be read (" + gnutls_strerror(rc) +
                                         "); move it away to create a new identity.");
    if (gnutls_x509_privkey_get_pk_algorithm2(key.get(), nullptr) != GNUTLS_PK_EDDSA_ED25519)
        return make_error("invalid", "The identity key file " + path + " does not hold an Ed25519 key.");
    return key;
}

Result<detail::CrtPtr> issue_certificate(gnutls_x509_privkey_t key, const std::string& common_name)
{
    gnutls_x509_crt_t raw = nullptr;
    int rc = gnutls_x509_crt_init(&raw);
    if (rc < 0)
        return gnutls_error("Cannot allocate a certificate", rc);
    detail::CrtPtr crt(raw);

    // RFC 5280 §4.1.2.2: positive serial of at most 20 octets; random so re-issued
    // certificates never collide.
    unsigned char serial[16];
    rc = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial);
    if (rc < 0)
        return gnutls_error("Cannot draw a random serial number", rc);
    serial[0] = static_cast<unsigned char>((serial[0] & 0x7f) | 0x40);

    const std::time_t now = std::time(nullptr);
    if ((rc = gnutls_x509_crt_set_version(crt.get(), 3)) < 0 ||
        (rc = gnutls_x509_crt_set_serial(crt.get(), serial, sizeof serial)) < 0 ||
        (rc = gnutls_x509_crt_set_activation_time(crt.get(), now - kBackdateSeconds)) < 0 ||
        (rc = gnutls_x509_crt_set_expiration_time(crt.get(), now + kValiditySeconds)) < 0 ||
        (rc = gnutls_x509_crt_set_dn_by_oid(crt.get(), GNUTLS_OID_X520_COMMON_NAME, 0, common_name.data(),
                                            static_cast<unsigned>(common_name.size()))) < 0 ||
        (rc = gnutls_x509_crt_set_key(crt.get(), key)) < 0 ||
        (rc = gnutls_x509_crt_set_basic_constraints(crt.get(), 0, -1)) < 0 ||
        (rc = gnutls_x509_crt_set_key_usage(crt.get(), GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
        (rc = gnutls_x509_crt_set_key_purpose_oid(crt.get(), GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0 ||
        (rc = gnutls_x509_crt_set_key_purpose_oid(crt.get(), GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0)
        return gnutls_error("Cannot build the identity certificate", rc);

    // Self-signed: the issuer DN is copied from the subject. Ed25519 (RFC 8410 §6) hashes
    // internally; GnuTLS expects SHA-512 as the nominal digest for it.
    rc = gnutls_x509_crt_sign2(crt.get(), crt.get(), key, GNUTLS_DIG_SHA512, 0);
    if (rc < 0)
        return gnutls_error("Cannot sign the identity certificate", rc);
    return crt;
}

Result<detail::CrtPtr> import_certificate(std::string_view pem)
{
    gnutls_x509_crt_t raw = nullptr;
    int rc = gnutls_x509_crt_init(&raw);
    if (rc < 0)
        return gnutls_error("Cannot allocate a certificate", rc);
    detail::CrtPtr crt(raw);
    const gnutls_datum_t in = detail::datum(pem);
    rc = gnutls_x509_crt_import(crt.get(), &in, GNUTLS_X509_FMT_PEM);
    if (rc < 0)
        return gnutls_error("Cannot read the identity certificate", rc);
    return crt;
}

Result<std::string> certificate_to_pem(gnutls_x509_crt_t crt)
{
    gnutls_datum_t out{};
    int rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out);
    if (rc < 0)
        return gnutls_error("Cannot encode the identity certificate", rc);
    std::string pem(reinterpret_cast<const char*>(out.data), out.size);
    gnutls_free(out.data);
    return pem;
}

// True if `crt` certifies the public half of `key` (compares SHA-256 key ids of the SPKI).
bool certificate_matches_key(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key)
{
    unsigned char a[64], b[64];
    std::size_t a_len = sizeof a, b_len = sizeof b;
    if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, a, &a_len) < 0)
        return false;
    if (gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, b, &b_len) < 0)
        return false;
    return a_len == b_len && std::memcmp(a, b, a_len) == 0;
}

// Reads a whole file. For the key file, `require_private` rejects group/other permissions,
// checked on the open descriptor so the file cannot be swapped between check and read.
Result<std::string> read_file(const std::string& path, bool require_private)
{
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno_error("Cannot open", path, errno);
    struct stat st {};
    if (::fstat(fd, &st) < 0) {
        int err = errno;
        ::close(fd);
        return errno_error("Cannot inspect", path, err);
    }
    if (require_private && (st.st_mode & (S_IRWXG | S_IRWXO))) {
        ::close(fd);
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return make_error("insecure-key-file", "The identity key file " + path + " has mode " + mode +
                                                   ", so other users may read it. Run: chmod 600 " + path);
    }
    std::string data;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            gnutls_memset(buf, 0, sizeof buf);
            return errno_error("Cannot read", path, err);
        }
        if (n == 0)
            break;
        data.append(buf, static_cast<std::size_t>(n));
        if (data.size() > (1u << 20)) {
            ::close(fd);
            return make_error("invalid", path + " is too large to be an identity file.");
        }
    }
    gnutls_memset(buf, 0, sizeof buf);
    ::close(fd);
    return data;
}

// Atomic replace: the temp file is created with its final mode (O_EXCL, so never an existing
// file or symlink), fsynced, then renamed over `path`; the directory is fsynced last.
Result<void> write_file_atomic(const std::string& dir, const std::string& path, std::string_view data, mode_t mode)
{
    unsigned char rnd[8];
    gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof rnd);
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, ".tmp-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
                  rnd[4], rnd[5], rnd[6], rnd[7]);
    const std::string tmp = path + suffix;

    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return errno_error("Cannot create", tmp, errno);
    auto fail = [&](std::string_view what) -> Result<void> {
        int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        return errno_error(what, tmp, err);
    };
    // The umask may only have narrowed the mode; make it exact (0600 stays 0600).
    if (::fchmod(fd, mode) < 0)
        return fail("Cannot set the mode of");
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail("Cannot write");
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) < 0)
        return fail("Cannot flush");
    if (::close(fd) < 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return errno_error("Cannot close", tmp, err);
    }
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return errno_error("Cannot rename into place", path, err);
    }
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);  // best effort: durability of the rename itself
        ::close(dfd);
    }
    return {};
}

std::string certificate_common_name(gnutls_x509_crt_t crt)
{
    char buf[1024];
    std::size_t len = sizeof buf;
    if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &len) < 0)
        return {};
    return std::string(buf, len);
}

bool file_exists(const std::string& path)
{
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

Identity::Identity(detail::PrivkeyPtr key, detail::CrtPtr crt, std::string certificate_pem, std::string fingerprint)
    : key_(std::move(key)), crt_(std::move(crt)), certificate_pem_(std::move(certificate_pem)),
      fingerprint_(std::move(fingerprint))
{
}

Result<Identity> Identity::create_ephemeral(const std::string& common_name)
{
    auto key = generate_key();
    if (!key)
        return key.error();
    auto crt = issue_certificate(key->get(), common_name);
    if (!crt)
        return crt.error();
    auto pem = certificate_to_pem(crt->get());
    if (!pem)
        return pem.error();
    auto fp = certificate_fingerprint(*pem, true);
    if (!fp)
        return fp.error();
    return Identity(std::move(*key), std::move(*crt), std::move(*pem), std::move(*fp));
}

Result<Identity> Identity::load_or_create(const std::string& dir, const std::string& common_name)
{
    if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST)
        return errno_error("Cannot create the profile directory", dir, errno);

    const std::string key_path = dir + "/identity.key";
    const std::string crt_path = dir + "/identity.crt";

    detail::PrivkeyPtr key;
    bool new_key = false;
    if (file_exists(key_path)) {
        SecretString pem;
        auto data = read_file(key_path, true);
        if (!data)
            return data.error();
        pem.s = std::move(*data);
        auto imported = import_key(pem.s, key_path);
        if (!imported)
            return imported.error();
        key = std::move(*imported);
    } else {
        auto generated = generate_key();
        if (!generated)
            return generated.error();
        key = std::move(*generated);
        SecretDatum pem;
        int rc = gnutls_x509_privkey_export2_pkcs8(key.get(), GNUTLS_X509_FMT_PEM, nullptr, GNUTLS_PKCS_PLAIN, &pem.d);
        if (rc < 0)
            return gnutls_error("Cannot encode the identity key", rc);
        auto written = write_file_atomic(dir, key_path, pem.view(), 0600);
        if (!written)
            return written.error();
        new_key = true;
    }

    // The certificate is derived data: reuse it only if it is readable, for this key, carries
    // the current name and is not about to expire; otherwise issue a new one (the fingerprint depends on the key alone).
    detail::CrtPtr crt;
    std::string crt_pem;
    if (!new_key && !file_exists(crt_path))
        log::info(kComponent, "identity certificate " + crt_path + " is missing; issuing a new one");
    if (!new_key && file_exists(crt_path)) {
        auto data = read_file(crt_path, false);
        if (data) {
            auto imported = import_certificate(*data);
            if (imported && certificate_matches_key(imported->get(), key.get()) &&
                certificate_common_name(imported->get()) == common_name &&
                gnutls_x509_crt_get_expiration_time(imported->get()) > std::time(nullptr) + 86400) {
                crt = std::move(*imported);
                crt_pem = std::move(*data);
            }
        }
        if (!crt)
            log::warning(kComponent, "identity certificate " + crt_path + " is unusable or outdated; issuing a new one");
    }
    if (!crt) {
        auto issued = issue_certificate(key.get(), common_name);
        if (!issued)
            return issued.error();
        auto pem = certificate_to_pem(issued->get());
        if (!pem)
            return pem.error();
        auto written = write_file_atomic(dir, crt_path, *pem, 0644);
        if (!written)
            return written.error();
        crt = std::move(*issued);
        crt_pem = std::move(*pem);
    }

    auto fp = certificate_fingerprint(crt_pem, true);
    if (!fp)
        return fp.error();
    if (new_key)
        log::info(kComponent, "created a new identity key in " + dir + ", fingerprint " + format_fingerprint(*fp));
    return Identity(std::move(key), std::move(crt), std::move(crt_pem), std::move(*fp));
}

}  // namespace chinwag::crypto
