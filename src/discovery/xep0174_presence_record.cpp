#include "discovery/xep0174_presence_record.hpp"

#include <charconv>
#include <set>
#include <string_view>

namespace chinwag::discovery {

namespace {

// Decodes one UTF-8 sequence at s[i]; returns its length, 0 if malformed (overlong,
// surrogate, beyond U+10FFFF, truncated). cp receives the code point.
std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t& cp)
{
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len;
    char32_t min;
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    } else if ((b0 & 0xE0) == 0xC0) {
        len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (i + len > s.size())
        return 0;
    for (std::size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

// A value we are willing to show to the user: UTF-8 without C0/C1 controls or DEL.
bool is_clean_text(std::string_view s)
{
    for (std::size_t i = 0; i < s.size();) {
        char32_t cp = 0;
        const std::size_t n = utf8_sequence(s, i, cp);
        if (n == 0)
            return false;
        if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F))
            return false;
        i += n;
    }
    return true;
}

// RFC 6763 §6.4: keys are printable US-ASCII (0x20-0x7E) excluding '=', at least one char;
// compared case-insensitively, so we fold them to lowercase.
bool normalise_key(std::string_view raw, std::string& out)
{
    if (raw.empty())
        return false;
    out.clear();
    for (char c : raw) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u > 0x7E)
            return false;
        out.push_back(u >= 'A' && u <= 'Z' ? static_cast<char>(u - 'A' + 'a') : c);
    }
    return true;
}

bool parse_uint(std::string_view s, unsigned long max, unsigned long& out)
{
    if (s.empty() || s.size() > 10)
        return false;
    unsigned long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v > max)
        return false;
    out = v;
    return true;
}

bool is_known_status(std::string_view s) { return s == "avail" || s == "away" || s == "dnd"; }

Error invalid(std::string message) { return make_error("invalid-txt", std::move(message)); }

void add_item(std::vector<std::string>& out, std::string_view key, const std::string& value)
{
    const std::size_t room = kMaxTxtItemBytes - key.size() - 1;
    out.push_back(std::string(key) + "=" + truncate_utf8(value, room));
}

void add_optional(std::vector<std::string>& out, std::string_view key, const std::string& value)
{
    if (!value.empty())
        add_item(out, key, value);
}

}  // namespace

bool is_valid_utf8(const std::string& s)
{
    for (std::size_t i = 0; i < s.size();) {
        char32_t cp = 0;
        const std::size_t n = utf8_sequence(s, i, cp);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

bool is_valid_fingerprint(const std::string& s)
{
    if (s.size() != 64)
        return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    return true;
}

std::string truncate_utf8(const std::string& s, std::size_t max_bytes)
{
    if (s.size() <= max_bytes)
        return s;
    std::size_t cut = max_bytes;
    // Step back over continuation bytes so the cut lands on the start of a character.
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
        --cut;
    return s.substr(0, cut);
}

std::vector<std::string> encode_txt(const PresenceRecord& r)
{
    std::vector<std::string> out;
    // RFC 6763 §6.7: the version key comes first.
    out.push_back("txtvers=" + std::to_string(r.txtvers > 0 ? r.txtvers : 1));
    // XEP-0174 §3.4: port.p2pj is required (the SRV port is authoritative, this mirrors it).
    out.push_back("port.p2pj=" + std::to_string(r.port_p2pj));
    out.push_back(std::string("status=") + (is_known_status(r.status) ? r.status : "avail"));
    add_optional(out, "msg", r.msg);
    add_optional(out, "nick", r.nick);
    add_optional(out, "1st", r.first);
    add_optional(out, "last", r.last);
    add_optional(out, "email", r.email);
    add_optional(out, "jid", r.jid);
    add_optional(out, "cw-fp", r.fingerprint);
    add_optional(out, "cw-v", r.chinwag_version);
    return out;
}

Result<std::vector<std::string>> split_txt_rdata(std::string_view rdata)
{
    if (rdata.size() > kMaxTxtRecordBytes)
        return invalid("TXT record is " + std::to_string(rdata.size()) + " bytes (limit " +
                       std::to_string(kMaxTxtRecordBytes) + ")");
    std::vector<std::string> items;
    for (std::size_t i = 0; i < rdata.size();) {
        const std::size_t len = static_cast<unsigned char>(rdata[i]);
        if (len > rdata.size() - i - 1)
            return invalid("TXT record is cut short: a string of " + std::to_string(len) +
                           " bytes with " + std::to_string(rdata.size() - i - 1) + " left");
        if (items.size() == kMaxTxtItems)
            return invalid("TXT record has more than " + std::to_string(kMaxTxtItems) + " strings");
        items.emplace_back(rdata.substr(i + 1, len));
        i += 1 + len;
    }
    // RFC 6763 §6.1: an empty TXT record is sent as one empty string.
    if (items.size() == 1 && items[0].empty())
        items.clear();
    return items;
}

Result<PresenceRecord> decode_txt(const std::vector<std::string>& items)
{
    if (items.size() > kMaxTxtItems)
        return invalid("TXT record has " + std::to_string(items.size()) + " strings (limit " +
                       std::to_string(kMaxTxtItems) + ")");
    std::size_t total = 0;
    for (const auto& item : items)
        total += item.size() + 1;  // wire form: one length byte per string
    if (total > kMaxTxtRecordBytes)
        return invalid("TXT record is " + std::to_string(total) + " bytes (limit " +
                       std::to_string(kMaxTxtRecordBytes) + ")");

    PresenceRecord r;
    std::set<std::string> seen;
    std::string key;
    for (const auto& item : items) {
        const std::string_view sv(item);
        const auto eq = sv.find('=');
        // RFC 6763 §6.4: no '=' is a boolean attribute (none defined here); a leading '='
        // (empty key) must be silently ignored.
        if (eq == std::string_view::npos || !normalise_key(sv.substr(0, eq), key))
            continue;
        if (!seen.insert(key).second)
            continue;  // RFC 6763 §6.4: all but the first occurrence are ignored
        const std::string value(sv.substr(eq + 1));
        // A string longer than 255 bytes cannot come off the wire: treat it as corrupt.
        const bool sane = item.size() <= kMaxTxtItemBytes && is_clean_text(value);

        if (key == "cw-fp") {
            if (!sane || !is_valid_fingerprint(value))
                return invalid("cw-fp is not 64 lowercase hex digits");
            r.fingerprint = value;
            continue;
        }
        if (!sane)
            continue;
        unsigned long n = 0;
        if (key == "txtvers") {
            if (parse_uint(value, 255, n) && n > 0)
                r.txtvers = static_cast<int>(n);
        } else if (key == "port.p2pj") {
            if (parse_uint(value, 65535, n))
                r.port_p2pj = static_cast<std::uint16_t>(n);
        } else if (key == "status") {
            if (is_known_status(value))
                r.status = value;
        } else if (key == "msg") {
            r.msg = value;
        } else if (key == "nick") {
            r.nick = value;
        } else if (key == "1st") {
            r.first = value;
        } else if (key == "last") {
            r.last = value;
        } else if (key == "email") {
            r.email = value;
        } else if (key == "jid") {
            r.jid = value;
        } else if (key == "cw-v") {
            r.chinwag_version = value;
        }
        // Other keys (ext, node, ver, hash, phsh, vc, ...) are legal and unused here.
    }
    return r;
}

}  // namespace chinwag::discovery
