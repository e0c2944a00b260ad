// Unit tests for gui/view_text: labels, day separators, notification summaries, grouping.
#include "gui/view_text.hpp"

#include <clocale>
#include <cstdlib>

// check.h after the C++ headers: its fail() macro breaks <ios>.
#include <check.h>

using namespace chinwag;
using namespace chinwag::gui;

// ck_assert_str_eq evaluates its arguments more than once: keep the string alive.
#define EQ(expr, expected)                              \
    do {                                                \
        const std::string value_ = (expr);              \
        ck_assert_str_eq(value_.c_str(), (expected));   \
    } while (0)

START_TEST(test_trust_labels_distinct)
{
    EQ(trust_label(model::Trust::Verified), "Verified");
    EQ(trust_label(model::Trust::Pinned), "Not verified");
    EQ(trust_label(model::Trust::Legacy), "Unencrypted");
    EQ(trust_label(model::Trust::Impostor), "Impostor");
    EQ(trust_css(model::Trust::Impostor), "error");
    ck_assert(trust_banner(model::Trust::Verified, "bob").empty());
    ck_assert(trust_banner(model::Trust::Legacy, "bob").find("bob") != std::string::npos);
    ck_assert(trust_banner(model::Trust::Impostor, "bob").find("Warning") == 0);
}
END_TEST

START_TEST(test_state_labels)
{
    EQ(state_label(model::MessageState::Delivered, ""), "Delivered");
    EQ(state_label(model::MessageState::Failed, "peer offline"), "Not delivered: peer offline");
    EQ(state_label(model::MessageState::Failed, ""), "Not delivered");
}
END_TEST

START_TEST(test_days)
{
    // 2025-03-03 12:00 UTC; TZ is UTC in this test.
    const std::int64_t noon = 1741003200000LL;
    ck_assert(same_day(noon, noon + 3600 * 1000));
    ck_assert(!same_day(noon, noon + 13LL * 3600 * 1000));
    EQ(day_label(noon, noon + 1000), "Today");
    EQ(day_label(noon, noon + 24LL * 3600 * 1000), "Yesterday");
    EQ(day_label(noon, noon + 5 * 24LL * 3600 * 1000), "Monday, 3 March 2025");
    EQ(time_label(noon + 5 * 60 * 1000), "12:05");
}
END_TEST

START_TEST(test_notifications_summarise)
{
    EQ(notification_body(1, "hi"), "hi");
    EQ(notification_body(3, "third"), "3 new messages\nthird");
    EQ(typing_text("bob", "composing"), "bob is typing…");
    ck_assert(typing_text("bob", "active").empty());
}
END_TEST

START_TEST(test_notices_plain_words)
{
    ck_assert(notice_text({"discovery", "avahi-daemon is not running; waiting for it", true}).find("avahi-daemon") !=
              std::string::npos);
    ck_assert(notice_text({"discovery", "connected to avahi-daemon", false}).empty());
    ck_assert(notice_text({"storage", "the disk is full", true}).find("Free some space") != std::string::npos);
    ck_assert(notice_text({"storage", "the disk is full", true}).find("the disk is full") != std::string::npos);
    ck_assert(error_text(make_error("locked", "x")).find("already open") != std::string::npos);
}
END_TEST

START_TEST(test_long_words_wrappable)
{
    EQ(wrappable("hello world"), "hello world");
    EQ(wrappable("abcdefgh", 4), "abcd\u200Befgh");
    EQ(wrappable("ab cdefgh ij", 4), "ab cdef\u200Bgh ij");
    // Characters, not bytes: "ä" is two bytes.
    EQ(wrappable("ääää\u00e4", 2), "ää\u200Bää\u200B\u00e4");
    // A 40,000-character word gets a break opportunity every 64 characters; nothing is lost.
    std::string word(40000, 'x');
    std::string w = wrappable(word);
    std::string back;
    for (std::size_t i = 0; i < w.size();) {
        if (w.compare(i, 3, "\u200B") == 0) {
            i += 3;
            continue;
        }
        back += w[i++];
    }
    ck_assert(back == word);
    ck_assert_uint_eq(w.size(), word.size() + (40000 / 64 - (40000 % 64 == 0 ? 1 : 0)) * 3);
    // A notification shows the start of a long message only.
    std::string n = notification_body(1, word);
    ck_assert_uint_lt(n.size(), 400);
    ck_assert(n.find("…") != std::string::npos);
}
END_TEST

START_TEST(test_grouping)
{
    std::string hex(64, 'a');
    std::string lines = fingerprint_lines(hex);
    EQ(lines, "aaaa aaaa aaaa aaaa\naaaa aaaa aaaa aaaa\naaaa aaaa aaaa aaaa\naaaa aaaa aaaa aaaa");
    EQ(safety_number_lines("11111 22222 33333 44444 55555 66666"),
                     "11111 22222 33333\n44444 55555 66666");
}
END_TEST

START_TEST(test_contact_summary)
{
    core::PeerView p;
    p.nick = "bob";
    p.online = true;
    p.status = model::Status::Away;
    p.message = "lunch";
    p.trust = model::Trust::Verified;
    p.unread = 2;
    EQ(contact_summary(p), "bob, Away, lunch, Verified, 2 unread messages");
    p.online = false;
    p.unread = 0;
    p.message.clear();
    EQ(contact_summary(p), "bob, Offline, Verified");
}
END_TEST

START_TEST(test_published_identity)
{
    core::PeerView p;
    p.nick = "al";
    EQ(published_identity(p), "");
    p.first_name = "Alice";
    EQ(published_identity(p), "Alice");
    p.last_name = "Liddell";
    EQ(published_identity(p), "Alice Liddell");
    p.email = "alice@example.org";
    EQ(published_identity(p), "Alice Liddell <alice@example.org>");
    p.first_name.clear();
    p.last_name.clear();
    EQ(published_identity(p), "alice@example.org");
    p.last_name = "Liddell";
    EQ(published_identity(p), "Liddell <alice@example.org>");
}
END_TEST

int main()
{
    setenv("TZ", "UTC", 1);
    setenv("LANGUAGE", "C", 1);
    std::setlocale(LC_ALL, "C.UTF-8");
    Suite* s = suite_create("gui_view_text");
    TCase* tc = tcase_create("core");
    tcase_add_test(tc, test_trust_labels_distinct);
    tcase_add_test(tc, test_state_labels);
    tcase_add_test(tc, test_days);
    tcase_add_test(tc, test_notifications_summarise);
    tcase_add_test(tc, test_notices_plain_words);
    tcase_add_test(tc, test_grouping);
    tcase_add_test(tc, test_long_words_wrappable);
    tcase_add_test(tc, test_contact_summary);
    tcase_add_test(tc, test_published_identity);
    suite_add_tcase(s, tc);
    SRunner* r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
