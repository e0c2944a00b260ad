// Identity fingerprints and safety numbers: pure functions of bytes and strings.
//
// A fingerprint is the lowercase hex SHA-256 of a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7),
// i.e. of the public key alone, so it survives re-issuing the self-signed certificate.
#pragma once

#include <string>
#include <string_view>

#include "util/result.hpp"

namespace chinwag::crypto {

// True if `s` is exactly 64 lowercase hex characters (the canonical form).
bool is_fingerprint(std::string_view s);

// Canonical form of a fingerprint typed or pasted by a person: upper case, spaces and colons
// are accepted. Returns an empty string if what remains is not 64 hex characters.
std::string normalize_fingerprint(std::string_view s);

// "0123 4567 ... cdef": 16 groups of 4 hex characters separated by single spaces.
// Accepts anything normalize_fingerprint accepts; returns an empty string otherwise.
std::string format_fingerprint(std::string_view hex);

// A number two users read to each other to verify each other's key. Symmetric:
// safety_number(a, b) == safety_number(b, a). Definition (version 1):
//   digest = SHA-256("chinwag-safety-number-v1" || min(a, b) || max(a, b))
// where a and b are the canonical (lowercase hex, ASCII) fingerprints, compared as strings.
// Bytes digest[5i .. 5i+4] (i = 0..5) are read as a 40-bit big-endian integer, reduced
// mod 100000 and printed as 5 zero-padded digits; the 6 groups are separated by spaces
// ("12345 67890 ..."; 30 digits). Returns an empty string if either input is not a fingerprint.
std::string safety_number(std::string_view fp_a, std::string_view fp_b);

// Lowercase hex SHA-256 of `der_spki` (a DER SubjectPublicKeyInfo).
std::string spki_fingerprint(std::string_view der_spki);

// Lowercase hex SHA-256 of a whole DER certificate: how a server certificate is shown to the
// user and pinned per account (as `openssl x509 -fingerprint -sha256` prints it).
std::string der_certificate_sha256(std::string_view der_certificate);

// Fingerprint of the public key inside a certificate (DER or PEM, `pem` selects).
// Error code "invalid" if the certificate cannot be parsed.
Result<std::string> certificate_fingerprint(std::string_view certificate, bool pem);

}  // namespace chinwag::crypto
