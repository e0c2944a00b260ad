#include "crypto/fingerprint.hpp"

#include <array>
#include <cstdint>
#include <cstdio>

#include <gnutls/crypto.h>

#include "crypto/gnutls_handle.hpp"

namespace chinwag::crypto {

namespace {

constexpr std::string_view kSafetyNumberDomain = "chinwag-safety-number-v1";

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

std::string to_hex(const unsigned char* data, std::size_t len)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (std::size_t i = 0; i < len; ++i) {
        out.push_back(digits[data[i] >> 4]);
        out.push_back(digits[data[i] & 0x0f]);
    }
    return out;
}

std::array<unsigned char, 32> sha256(std::string_view data)
{
    std::array<unsigned char, 32> digest{};
    // gnutls_hash_fast cannot fail for SHA-256 short of memory exhaustion.
    gnutls_hash_fast(GNUTLS_DIG_SHA256, data.data(), data.size(), digest.data());
    return digest;
}

}  // namespace

bool is_fingerprint(std::string_view s)
{
    if (s.size() != 64)
        return false;
    for (char c : s)
        if (!is_lower_hex(c))
            return false;
    return true;
}

std::string normalize_fingerprint(std::string_view s)
{
    std::string out;
    out.reserve(64);
    for (char c : s) {
        if (c == ' ' || c == ':')
            continue;
        if (c >= 'A' && c <= 'F')
            c = static_cast<char>(c - 'A' + 'a');
        if (!is_lower_hex(c))
            return {};
        out.push_back(c);
    }
    return is_fingerprint(out) ? out : std::string{};
}

std::string format_fingerprint(std::string_view hex)
{
    std::string fp = normalize_fingerprint(hex);
    if (fp.empty())
        return {};
    std::string out;
    out.reserve(64 + 15);
    for (std::size_t i = 0; i < fp.size(); i += 4) {
        if (i)
            out.push_back(' ');
        out.append(fp, i, 4);
    }
    return out;
}

std::string safety_number(std::string_view fp_a, std::string_view fp_b)
{
    std::string a = normalize_fingerprint(fp_a);
    std::string b = normalize_fingerprint(fp_b);
    if (a.empty() || b.empty())
        return {};
    if (b < a)
        std::swap(a, b);
    std::string input;
    input.reserve(kSafetyNumberDomain.size() + 128);
    input.append(kSafetyNumberDomain).append(a).append(b);
    const auto digest = sha256(input);

    std::string out;
    for (int group = 0; group < 6; ++group) {
        std::uint64_t v = 0;
        for (int i = 0; i < 5; ++i)
            v = (v << 8) | digest[group * 5 + i];
        char buf[8];
        std::snprintf(buf, sizeof buf, "%05u", static_cast<unsigned>(v % 100000));
        if (group)
            out.push_back(' ');
        out.append(buf);
    }
    return out;
}

std::string spki_fingerprint(std::string_view der_spki)
{
    const auto digest = sha256(der_spki);
    return to_hex(digest.data(), digest.size());
}

std::string der_certificate_sha256(std::string_view der_certificate)
{
    const auto digest = sha256(der_certificate);
    return to_hex(digest.data(), digest.size());
}

Result<std::string> certificate_fingerprint(std::string_view certificate, bool pem)
{
    gnutls_x509_crt_t raw_crt = nullptr;
    if (gnutls_x509_crt_init(&raw_crt) < 0)
        return make_error("invalid", "Out of memory while reading a certificate.");
    detail::CrtPtr crt(raw_crt);

    const gnutls_datum_t in = detail::datum(certificate);
    int rc = gnutls_x509_crt_import(crt.get(), &in, pem ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER);
    if (rc < 0)
        return make_error("invalid", std::string("The certificate cannot be read: ") + gnutls_strerror(rc));

    gnutls_pubkey_t raw_pub = nullptr;
    if (gnutls_pubkey_init(&raw_pub) < 0)
        return make_error("invalid", "Out of memory while reading a certificate.");
    detail::PubkeyPtr pub(raw_pub);
    rc = gnutls_pubkey_import_x509(pub.get(), crt.get(), 0);
    if (rc < 0)
        return make_error("invalid", std::string("The certificate's key cannot be read: ") + gnutls_strerror(rc));

    gnutls_datum_t spki{};
    rc = gnutls_pubkey_export2(pub.get(), GNUTLS_X509_FMT_DER, &spki);
    if (rc < 0)
        return make_error("invalid", std::string("The certificate's key cannot be encoded: ") + gnutls_strerror(rc));
    std::string fp = spki_fingerprint(std::string_view(reinterpret_cast<const char*>(spki.data), spki.size));
    gnutls_free(spki.data);
    return fp;
}

}  // namespace chinwag::crypto
