// XEP-0174 (Serverless Messaging) presence TXT record: a pure codec, no Avahi, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace chinwag::discovery {

// What one peer announces in its _presence._tcp TXT record (XEP-0174 §3.4), plus the two
// Chinwag keys "cw-fp" and "cw-v". Plain values: owns nothing.
struct PresenceRecord {
    int txtvers = 1;
    std::uint16_t port_p2pj = 0;
    std::string status = "avail";  // "avail" | "away" | "dnd"
    std::string msg, nick, first, last, email, jid;
    // Chinwag key "cw-fp": 64 lowercase hex SHA-256 of the identity key; empty = legacy peer.
    std::string fingerprint;
    std::string chinwag_version;  // "cw-v"

    bool is_legacy() const { return fingerprint.empty(); }
    bool operator==(const PresenceRecord&) const = default;
};

// RFC 6763 §6.1: one TXT string is at most 255 bytes.
inline constexpr std::size_t kMaxTxtItemBytes = 255;
// Bounds on what we accept from the network, so a bogus announcement cannot cost much.
inline constexpr std::size_t kMaxTxtRecordBytes = 8192;
inline constexpr std::size_t kMaxTxtItems = 64;

// "key=value" strings in a stable order (txtvers first, RFC 6763 §6.7). Empty optional keys
// are left out; msg and nick (and any other long value) are cut at a UTF-8 character
// boundary so each string fits in 255 bytes. An unknown status is sent as "avail".
std::vector<std::string> encode_txt(const PresenceRecord& record);

// Tolerant decoder: ignores items without '=', empty or non-printable keys, unknown keys and
// repeated keys (first wins, RFC 6763 §6.4; keys compare case-insensitively); drops values
// that are not UTF-8 or hold control characters. Fails with code "invalid-txt" when the
// record is too large (> 8 KiB or > 64 items) or when "cw-fp" is present but malformed: such
// a peer claims to be a Chinwag peer and must not be downgraded to a legacy one.
Result<PresenceRecord> decode_txt(const std::vector<std::string>& items);

// A TXT record's RDATA as it comes off the wire (an avahi record browser hands it over raw):
// RFC 1035 §3.3.14 / RFC 6763 §6.1, a sequence of strings each led by its length byte.
// Fails with code "invalid-txt" when a length byte points past the end or the data is over
// the bounds above (> 8 KiB or > 64 strings). Zero bytes, though not valid DNS, read as an
// empty record, as does the single zero byte RFC 6763 §6.1 prescribes for one.
Result<std::vector<std::string>> split_txt_rdata(std::string_view rdata);

// Helpers shared with the tests.
bool is_valid_utf8(const std::string& s);
bool is_valid_fingerprint(const std::string& s);
// The longest prefix of s that is at most max_bytes long and does not split a UTF-8 sequence.
std::string truncate_utf8(const std::string& s, std::size_t max_bytes);

}  // namespace chinwag::discovery
