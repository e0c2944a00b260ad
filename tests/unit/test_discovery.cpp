// Unit tests for discovery: the XEP-0174 presence TXT codec and AvahiDirectory with no daemon.
#include <cstdlib>
#include <string>
#include <vector>

#include <glibmm/main.h>

#include "discovery/avahi_directory.hpp"
#include "discovery/xep0174_presence_record.hpp"

// After the C++ headers: check.h defines macros that clash with libstdc++/glibmm.
#include <check.h>

using chinwag::discovery::decode_txt;
using chinwag::discovery::encode_txt;
using chinwag::discovery::is_valid_utf8;
using chinwag::discovery::PresenceRecord;
using chinwag::discovery::split_txt_rdata;
using chinwag::discovery::truncate_utf8;

namespace {

const std::string kFp(64, 'a');
const std::string kFp2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

PresenceRecord full_record()
{
    PresenceRecord r;
    r.port_p2pj = 5298;
    r.status = "dnd";
    r.msg = "In a meeting — back at 3";
    r.nick = "Zoë";
    r.first = "Zoë";
    r.last = "Müller";
    r.email = "zoe@example.org";
    r.jid = "zoe@example.org";
    r.fingerprint = kFp2;
    r.chinwag_version = "0.1";
    return r;
}

bool has_item(const std::vector<std::string>& items, const std::string& s)
{
    for (const auto& i : items)
        if (i == s)
            return true;
    return false;
}

bool has_key(const std::vector<std::string>& items, const std::string& key)
{
    for (const auto& i : items)
        if (i.rfind(key + "=", 0) == 0)
            return true;
    return false;
}

}  // namespace

START_TEST(test_round_trip_full)
{
    const PresenceRecord r = full_record();
    const auto items = encode_txt(r);
    ck_assert_str_eq(items.front().c_str(), "txtvers=1");
    ck_assert(has_item(items, "port.p2pj=5298"));
    ck_assert(has_item(items, "status=dnd"));
    ck_assert(has_item(items, "1st=Zoë"));
    ck_assert(has_item(items, "cw-fp=" + kFp2));
    auto back = decode_txt(items);
    ck_assert(back.ok());
    ck_assert(*back == r);
    ck_assert(!back->is_legacy());
}
END_TEST

START_TEST(test_round_trip_minimal_omits_empty_keys)
{
    PresenceRecord r;
    r.port_p2pj = 1;
    const auto items = encode_txt(r);
    ck_assert_uint_eq(items.size(), 3);  // txtvers, port.p2pj, status
    for (const char* k : {"msg", "nick", "1st", "last", "email", "jid", "cw-fp", "cw-v"})
        ck_assert_msg(!has_key(items, k), "empty key %s was encoded", k);
    auto back = decode_txt(items);
    ck_assert(back.ok());
    ck_assert(*back == r);
    ck_assert(back->is_legacy());
}
END_TEST

START_TEST(test_unknown_status_is_encoded_as_avail)
{
    PresenceRecord r;
    r.status = "xa";
    ck_assert(has_item(encode_txt(r), "status=avail"));
}
END_TEST

START_TEST(test_decode_pidgin_style_record)
{
    // What libpurple's Bonjour plugin publishes: no Chinwag keys, extra XEP-0115 keys.
    auto r = decode_txt({"txtvers=1", "1st=Bob", "last=", "port.p2pj=5298", "status=away",
                         "node=http://pidgin.im/", "ver=abc=", "hash=sha-1", "msg=Lunch",
                         "vc=!"});
    ck_assert(r.ok());
    ck_assert_str_eq(r->first.c_str(), "Bob");
    ck_assert_str_eq(r->last.c_str(), "");
    ck_assert_str_eq(r->status.c_str(), "away");
    ck_assert_str_eq(r->msg.c_str(), "Lunch");
    ck_assert_uint_eq(r->port_p2pj, 5298);
    ck_assert(r->is_legacy());
}
END_TEST

START_TEST(test_decode_empty_and_single_zero_byte)
{
    // RFC 6763 §6.1: an empty TXT record is sent as one empty string.
    auto a = decode_txt({});
    auto b = decode_txt({""});
    ck_assert(a.ok() && b.ok());
    ck_assert(*a == PresenceRecord{});
    ck_assert(*b == PresenceRecord{});
}
END_TEST

START_TEST(test_garbage_items_are_skipped)
{
    const std::string binary("\x00\xff\x01=\x80\x81", 6);
    auto r = decode_txt({"noequals", "=novalue-key", "", binary, "nick", "msg=ok",
                         std::string("nick=a\x00b", 7), "status=AWAY", "port.p2pj=99999",
                         "txtvers=x"});
    ck_assert(r.ok());
    ck_assert_str_eq(r->msg.c_str(), "ok");
    ck_assert_str_eq(r->nick.c_str(), "");        // control character: dropped
    ck_assert_str_eq(r->status.c_str(), "avail");  // not avail/away/dnd
    ck_assert_uint_eq(r->port_p2pj, 0);            // out of range: dropped
    ck_assert_int_eq(r->txtvers, 1);
}
END_TEST

START_TEST(test_invalid_utf8_values_dropped)
{
    auto r = decode_txt({"nick=\xc3\x28", "1st=\xed\xa0\x80" /* surrogate */,
                         "last=\xc0\xaf" /* overlong */, "email=\xf4\x90\x80\x80" /* >10FFFF */,
                         "msg=caf\xc3\xa9", "jid=\xc2\x85" /* C1 control NEL */});
    ck_assert(r.ok());
    ck_assert_str_eq(r->nick.c_str(), "");
    ck_assert_str_eq(r->first.c_str(), "");
    ck_assert_str_eq(r->last.c_str(), "");
    ck_assert_str_eq(r->email.c_str(), "");
    ck_assert_str_eq(r->jid.c_str(), "");
    ck_assert_str_eq(r->msg.c_str(), "café");
}
END_TEST

START_TEST(test_duplicate_keys_first_wins_case_insensitive)
{
    auto r = decode_txt({"Status=away", "STATUS=dnd", "status=avail", "NICK=first", "nick=second",
                         "cw-fp=" + kFp, "CW-FP=" + kFp2});
    ck_assert(r.ok());
    ck_assert_str_eq(r->status.c_str(), "away");
    ck_assert_str_eq(r->nick.c_str(), "first");
    ck_assert_str_eq(r->fingerprint.c_str(), kFp.c_str());
}
END_TEST

START_TEST(test_first_occurrence_wins_even_if_dropped)
{
    // RFC 6763 §6.4: later occurrences are ignored, so a bad first value is not replaced.
    auto r = decode_txt({"nick=\x01", "nick=Mallory"});
    ck_assert(r.ok());
    ck_assert_str_eq(r->nick.c_str(), "");
}
END_TEST

START_TEST(test_bad_fingerprint_rejects_record)
{
    const std::vector<std::string> bad = {
        "cw-fp=",                                // present but empty
        "cw-fp=abc",                             // too short
        "cw-fp=" + std::string(64, 'A'),         // uppercase
        "cw-fp=" + std::string(63, 'a') + "g",   // not hex
        "cw-fp=" + kFp + "0",                    // too long
        std::string("cw-fp=") + std::string(63, 'a') + '\0',
        "Cw-Fp=" + std::string(64, 'z'),         // key case does not hide it
        "cw-fp=" + kFp + std::string(250, 'a'),  // over-long item
    };
    for (const auto& item : bad) {
        auto r = decode_txt({"txtvers=1", "status=avail", item});
        ck_assert_msg(!r.ok(), "accepted bad fingerprint item '%s'", item.c_str());
        ck_assert_str_eq(r.error().code.c_str(), "invalid-txt");
    }
    // A bad cw-fp after a good one is a duplicate: ignored.
    ck_assert(decode_txt({"cw-fp=" + kFp, "cw-fp=nonsense"}).ok());
}
END_TEST

START_TEST(test_oversized_items_are_ignored)
{
    auto r = decode_txt({"nick=" + std::string(300, 'x'), "msg=short"});
    ck_assert(r.ok());
    ck_assert_str_eq(r->nick.c_str(), "");
    ck_assert_str_eq(r->msg.c_str(), "short");
}
END_TEST

START_TEST(test_huge_records_rejected)
{
    std::vector<std::string> many(65, "x=y");
    auto a = decode_txt(many);
    ck_assert(!a.ok());
    ck_assert_str_eq(a.error().code.c_str(), "invalid-txt");

    std::vector<std::string> big(40, "pad=" + std::string(250, 'p'));  // 40 * 255 > 8 KiB
    auto b = decode_txt(big);
    ck_assert(!b.ok());
    ck_assert_str_eq(b.error().code.c_str(), "invalid-txt");

    std::vector<std::string> limit(64, "x=y");  // exactly at the limit
    ck_assert(decode_txt(limit).ok());
}
END_TEST

START_TEST(test_truncate_utf8_boundaries)
{
    const std::string s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";  // a é € 😀: 1+2+3+4 bytes
    // Compared as std::string: ck_assert_str_eq on .c_str() of a temporary reads freed memory.
    ck_assert(truncate_utf8(s, 10) == s);
    ck_assert(truncate_utf8(s, 9) == std::string("a\xc3\xa9\xe2\x82\xac"));
    ck_assert(truncate_utf8(s, 6) == std::string("a\xc3\xa9\xe2\x82\xac"));
    ck_assert(truncate_utf8(s, 5) == std::string("a\xc3\xa9"));
    ck_assert(truncate_utf8(s, 2) == std::string("a"));
    ck_assert(truncate_utf8(s, 1) == std::string("a"));
    ck_assert(truncate_utf8(s, 0) == std::string(""));
}
END_TEST

START_TEST(test_encode_truncates_long_values)
{
    PresenceRecord r;
    // 200 two-byte characters: 400 bytes, the cut must land between characters.
    std::string msg;
    for (int i = 0; i < 200; ++i)
        msg += "\xc3\xa9";
    r.msg = msg;
    r.nick = std::string(1, 'n') + msg;  // odd offset: a naive cut would split a character
    const auto items = encode_txt(r);
    for (const auto& item : items) {
        ck_assert_uint_le(item.size(), 255);
        ck_assert(is_valid_utf8(item));
    }
    auto back = decode_txt(items);
    ck_assert(back.ok());
    ck_assert_uint_eq(back->msg.size(), 250);   // "msg=" + 251 bytes max -> 250 (even)
    ck_assert_uint_eq(back->nick.size(), 249);  // "nick=" + 250 max: 'n' + 124 chars
    ck_assert(msg.rfind(back->msg, 0) == 0);
}
END_TEST

START_TEST(test_fuzz_never_crashes_and_stays_clean)
{
    // Random bytes: decode must not crash, and whatever it keeps is clean UTF-8.
    std::srand(1234);
    for (int round = 0; round < 2000; ++round) {
        std::vector<std::string> items;
        const int n = std::rand() % 12;
        for (int i = 0; i < n; ++i) {
            std::string s;
            const int len = std::rand() % 40;
            const char* keys[] = {"msg=", "nick=", "status=", "cw-fp=", "1st=", "port.p2pj="};
            if (std::rand() % 2)
                s = keys[std::rand() % 6];
            for (int k = 0; k < len; ++k)
                s.push_back(static_cast<char>(std::rand() % 256));
            items.push_back(s);
        }
        auto r = decode_txt(items);
        if (!r.ok())
            continue;
        for (const std::string* v : {&r->msg, &r->nick, &r->first, &r->fingerprint})
            ck_assert(is_valid_utf8(*v));
        ck_assert(r->status == "avail" || r->status == "away" || r->status == "dnd");
    }
}
END_TEST

namespace {

// The wire form of a TXT record: each string led by its length byte (RFC 1035 §3.3.14).
std::string rdata_of(const std::vector<std::string>& items)
{
    std::string out;
    for (const auto& i : items) {
        out.push_back(static_cast<char>(i.size()));
        out += i;
    }
    return out;
}

}  // namespace

START_TEST(test_rdata_round_trip_through_decoder)
{
    // What a record browser hands over for our own encoder's record reads back the same.
    const PresenceRecord r = full_record();
    auto items = split_txt_rdata(rdata_of(encode_txt(r)));
    ck_assert(items.ok());
    ck_assert(*items == encode_txt(r));
    auto back = decode_txt(*items);
    ck_assert(back.ok());
    ck_assert(*back == r);
}
END_TEST

START_TEST(test_rdata_empty_forms)
{
    // RFC 6763 §6.1: an empty TXT record is one zero byte; zero bytes are read the same way.
    auto zero = split_txt_rdata(std::string(1, '\0'));
    auto none = split_txt_rdata("");
    ck_assert(zero.ok() && zero->empty());
    ck_assert(none.ok() && none->empty());
    // Empty strings among others are kept (the decoder skips them).
    auto mixed = split_txt_rdata(std::string("\0\x03" "a=b\0", 6));
    ck_assert(mixed.ok());
    ck_assert_uint_eq(mixed->size(), 3);
    ck_assert_str_eq((*mixed)[1].c_str(), "a=b");
    // Any byte, NUL included, belongs to the string its length byte covers.
    auto nul = split_txt_rdata(std::string("\x03" "a\0b", 4));
    ck_assert(nul.ok() && nul->size() == 1 && (*nul)[0] == std::string("a\0b", 3));
}
END_TEST

START_TEST(test_rdata_truncated_and_oversized_rejected)
{
    // A length byte pointing past the end: corrupt, never read beyond the data.
    for (const std::string& bad : {std::string("\x05" "abc"), std::string("\x03" "abc\x01"),
                                  std::string(1, '\xff')}) {
        auto r = split_txt_rdata(bad);
        ck_assert(!r.ok());
        ck_assert_str_eq(r.error().code.c_str(), "invalid-txt");
    }
    // The decoder's bounds hold for the wire form too.
    std::vector<std::string> many(chinwag::discovery::kMaxTxtItems + 1, "k=v");
    auto too_many = split_txt_rdata(rdata_of(many));
    ck_assert(!too_many.ok() && too_many.error().code == "invalid-txt");
    many.pop_back();
    ck_assert(split_txt_rdata(rdata_of(many)).ok());
    auto too_big = split_txt_rdata(std::string(chinwag::discovery::kMaxTxtRecordBytes + 1, '\0'));
    ck_assert(!too_big.ok() && too_big.error().code == "invalid-txt");
}
END_TEST

START_TEST(test_rdata_fuzz_never_reads_past_the_end)
{
    std::srand(4321);
    for (int round = 0; round < 5000; ++round) {
        std::string bytes;
        const int len = std::rand() % 300;
        for (int k = 0; k < len; ++k)
            bytes.push_back(static_cast<char>(std::rand() % 256));
        auto items = split_txt_rdata(bytes);
        if (!items.ok())
            continue;
        // Accepted: the strings and their length bytes are exactly the input.
        std::size_t total = 0;
        for (const auto& i : *items)
            total += i.size() + 1;
        ck_assert(total == bytes.size() || (bytes == std::string(1, '\0') && items->empty()));
        (void)decode_txt(*items);
    }
}
END_TEST

// AvahiDirectory without any reachable avahi-daemon (a bus address that does not exist):
// the real library code path, no daemon needed. Check forks each test, so setenv is local.
START_TEST(test_directory_without_daemon)
{
    using namespace chinwag::discovery;
    setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/chinwag-test-bus", 1);
    GMainContext* ctx = g_main_context_new();
    {
        AvahiDirectory dir(ctx);
        int states = 0;
        DirectoryState last = DirectoryState::Starting;
        dir.signal_state().connect([&](DirectoryState s, const std::string&) {
            ++states;
            last = s;
        });
        PresenceRecord rec;
        rec.port_p2pj = 5298;
        dir.publish("tester@nowhere", 5298, rec);  // stored until a daemon is there
        ck_assert_int_eq(states, 0);                 // nothing fires before start()
        ck_assert_str_eq(dir.published_name().c_str(), "tester@nowhere");
        dir.start();
        ck_assert_int_eq(states, 1);
        ck_assert(last == DirectoryState::DaemonMissing);
        ck_assert(dir.peers().empty());
        ck_assert(dir.find("anyone") == nullptr);

        bool called = false;
        chinwag::Error err;
        dir.resolve_now("anyone@lab", [&](chinwag::Result<PeerAnnouncement> r) {
            called = true;
            ck_assert(!r.ok());
            err = r.error();
        });
        ck_assert(!called);  // answered from the main loop, never re-entrantly
        for (int i = 0; i < 100 && !called; ++i)
            g_main_context_iteration(ctx, TRUE);
        ck_assert(called);
        ck_assert_str_eq(err.code.c_str(), "not-found");
    }
    g_main_context_unref(ctx);
}
END_TEST

static Suite* discovery_suite()
{
    Suite* s = suite_create("discovery");
    TCase* tc = tcase_create("xep0174_presence_record");
    tcase_add_test(tc, test_round_trip_full);
    tcase_add_test(tc, test_round_trip_minimal_omits_empty_keys);
    tcase_add_test(tc, test_unknown_status_is_encoded_as_avail);
    tcase_add_test(tc, test_decode_pidgin_style_record);
    tcase_add_test(tc, test_decode_empty_and_single_zero_byte);
    tcase_add_test(tc, test_garbage_items_are_skipped);
    tcase_add_test(tc, test_invalid_utf8_values_dropped);
    tcase_add_test(tc, test_duplicate_keys_first_wins_case_insensitive);
    tcase_add_test(tc, test_first_occurrence_wins_even_if_dropped);
    tcase_add_test(tc, test_bad_fingerprint_rejects_record);
    tcase_add_test(tc, test_oversized_items_are_ignored);
    tcase_add_test(tc, test_huge_records_rejected);
    tcase_add_test(tc, test_truncate_utf8_boundaries);
    tcase_add_test(tc, test_encode_truncates_long_values);
    tcase_add_test(tc, test_fuzz_never_crashes_and_stays_clean);
    tcase_add_test(tc, test_rdata_round_trip_through_decoder);
    tcase_add_test(tc, test_rdata_empty_forms);
    tcase_add_test(tc, test_rdata_truncated_and_oversized_rejected);
    tcase_add_test(tc, test_rdata_fuzz_never_reads_past_the_end);
    suite_add_tcase(s, tc);
    TCase* td = tcase_create("avahi_directory");
    tcase_add_test(td, test_directory_without_daemon);
    suite_add_tcase(s, td);
    return s;
}

int main()
{
    SRunner* sr = srunner_create(discovery_suite());
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
