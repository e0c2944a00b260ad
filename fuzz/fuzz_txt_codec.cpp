// libFuzzer target: chinwag::discovery::decode_txt / encode_txt (XEP-0174 §3.4 TXT records).
//
// Input: [separator][bytes...]. The bytes are cut into TXT strings at every separator byte,
// as Avahi hands them over (one std::string per RFC 6763 §6 string, any bytes). decode_txt
// must accept or refuse without harm, and whatever it accepts must survive encode -> decode
// unchanged. Then the same strings are used as the fields of a record to check
// encode -> decode from the other side: each field comes back as sent (cut to fit 255 bytes)
// when it is clean text, and is dropped otherwise.
#include "discovery/xep0174_presence_record.hpp"
#include "fuzz/fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace chinwag::discovery;

namespace {

bool is_clean(const std::string& s)
{
    if (!is_valid_utf8(s))
        return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7F)
            return false;
        // U+0080..U+009F are C2 80..C2 9F in UTF-8.
        if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F)
            return false;
    }
    return true;
}

// What a field is expected to read back as after encode_txt -> decode_txt.
std::string expected(std::string_view key, const std::string& value)
{
    const std::string cut = truncate_utf8(value, kMaxTxtItemBytes - key.size() - 1);
    return is_clean(cut) ? cut : std::string();
}

void check_record_round_trip(const PresenceRecord& r)
{
    const auto items = encode_txt(r);
    FUZZ_CHECK(!items.empty() && items[0].rfind("txtvers=", 0) == 0);
    for (const auto& item : items)
        FUZZ_CHECK(item.size() <= kMaxTxtItemBytes);
    auto back = decode_txt(items);
    if (!r.fingerprint.empty() && !is_valid_fingerprint(r.fingerprint)) {
        FUZZ_CHECK(!back && back.error().code == "invalid-txt");
        return;
    }
    FUZZ_CHECK(static_cast<bool>(back));
    FUZZ_CHECK(back->port_p2pj == r.port_p2pj);
    FUZZ_CHECK(back->txtvers == (r.txtvers > 0 && r.txtvers <= 255 ? r.txtvers : 1));
    FUZZ_CHECK(back->status == (r.status == "away" || r.status == "dnd" ? r.status : "avail"));
    FUZZ_CHECK(back->msg == expected("msg", r.msg));
    FUZZ_CHECK(back->nick == expected("nick", r.nick));
    FUZZ_CHECK(back->first == expected("1st", r.first));
    FUZZ_CHECK(back->last == expected("last", r.last));
    FUZZ_CHECK(back->email == expected("email", r.email));
    FUZZ_CHECK(back->jid == expected("jid", r.jid));
    FUZZ_CHECK(back->fingerprint == r.fingerprint);
    FUZZ_CHECK(back->chinwag_version == expected("cw-v", r.chinwag_version));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 1)
        return 0;
    const char sep = static_cast<char>(data[0]);
    const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    std::vector<std::string> items;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= bytes.size(); ++i) {
        if (i == bytes.size() || bytes[i] == sep) {
            items.emplace_back(bytes.substr(start, i - start));
            start = i + 1;
        }
    }

    auto decoded = decode_txt(items);
    if (decoded) {
        const PresenceRecord& r = *decoded;
        FUZZ_CHECK(r.status == "avail" || r.status == "away" || r.status == "dnd");
        FUZZ_CHECK(r.txtvers >= 1 && r.txtvers <= 255);
        FUZZ_CHECK(r.fingerprint.empty() || is_valid_fingerprint(r.fingerprint));
        for (const std::string* s : {&r.msg, &r.nick, &r.first, &r.last, &r.email, &r.jid,
                                     &r.chinwag_version})
            FUZZ_CHECK(is_clean(*s) && s->size() < kMaxTxtItemBytes);
        // A decoded record is a fixed point of encode -> decode.
        auto again = decode_txt(encode_txt(r));
        FUZZ_CHECK(again && *again == r);
    } else {
        FUZZ_CHECK(decoded.error().code == "invalid-txt");
    }

    // The same strings as the fields of a record we publish.
    PresenceRecord r;
    auto field = [&](std::size_t i) { return i < items.size() ? items[i] : std::string(); };
    r.msg = field(0);
    r.nick = field(1);
    r.first = field(2);
    r.last = field(3);
    r.email = field(4);
    r.jid = field(5);
    r.chinwag_version = field(6);
    r.fingerprint = field(7);
    r.status = field(8);
    r.port_p2pj = static_cast<std::uint16_t>(size * 257);
    r.txtvers = static_cast<int>(static_cast<std::int8_t>(data[0])) * 3;
    check_record_round_trip(r);
    return 0;
}
