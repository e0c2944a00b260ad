// AccountStore on real SQLite files in a temporary directory: JID normalisation, add/find/
// list/update/remove, duplicates refused, reopen keeps everything, and the upgrade of a
// database at the schema before accounts existed.
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "storage/account_store.hpp"
#include "storage/contact_store.hpp"
#include "storage/database.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

// Last: check.h defines a `fail` macro that breaks <ios>.
#include <check.h>

using namespace chinwag;
using namespace chinwag::storage;

#define CK_STR_EQ(a, b)                                                                          \
    do {                                                                                         \
        const std::string ck_a_ = (a);                                                           \
        const std::string ck_b_ = (b);                                                           \
        ck_assert_msg(ck_a_ == ck_b_, "%s: \"%s\" != \"%s\"", #a, ck_a_.c_str(), ck_b_.c_str()); \
    } while (0)

namespace {

template <typename T>
T must(Result<T> r)
{
    ck_assert_msg(r.ok(), "failed: %s", r.ok() ? "" : r.error().message.c_str());
    return std::move(r.value());
}

void must_ok(Result<void> r)
{
    ck_assert_msg(r.ok(), "failed: %s", r.ok() ? "" : r.error().message.c_str());
}

std::string error_code(const Result<void>& r) { return r.ok() ? std::string("ok") : r.error().code; }
template <typename T>
std::string error_code(const Result<T>& r)
{
    return r.ok() ? std::string("ok") : r.error().code;
}

class TempDir {
public:
    TempDir()
    {
        char tmpl[] = "/tmp/cw-accounts-XXXXXX";
        const char* p = mkdtemp(tmpl);
        ck_assert_msg(p != nullptr, "mkdtemp failed: %s", std::strerror(errno));
        path_ = p;
    }
    ~TempDir()
    {
        nftw(
            path_.c_str(),
            [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
            FTW_DEPTH | FTW_PHYS);
    }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

std::unique_ptr<Database> open_ok(const std::string& path) { return must(Database::open(path)); }

Account account(const std::string& jid)
{
    Account a;
    a.jid = jid;
    return a;
}

const std::string kFingerprint = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

}  // namespace

START_TEST(test_normalize_bare_jid)
{
    CK_STR_EQ(must(normalize_bare_jid("Alice@Example.ORG")), "alice@example.org");
    CK_STR_EQ(must(normalize_bare_jid("alice@example.org.")), "alice@example.org");  // RFC 7622 §3.2
    // NFC and Unicode case mapping: "JÜRGEN" with a combining diaeresis.
    CK_STR_EQ(must(normalize_bare_jid("JU\xcc\x88RGEN@Example.de")), "j\xc3\xbcrgen@example.de");
    for (const char* bad : {"", "alice", "@example.org", "alice@", "alice@.", "alice@example.org/phone",
                            "al ice@example.org", "al:ice@example.org", "a<b@example.org", "a@b@c",
                            "alice@exa\tmple.org", "\xff@example.org"}) {
        auto r = normalize_bare_jid(bad);
        ck_assert_msg(!r.ok(), "accepted \"%s\"", bad);
        CK_STR_EQ(r.error().code, "invalid");
    }
    ck_assert(!normalize_bare_jid(std::string(1024, 'a') + "@example.org").ok());
    ck_assert(normalize_bare_jid(std::string(1023, 'a') + "@example.org").ok());
}
END_TEST

START_TEST(test_add_find_list)
{
    TempDir dir;
    auto db = open_ok(dir.file("profile.db"));
    AccountStore accounts(*db);
    ck_assert_int_eq(must(accounts.list()).size(), 0);

    const auto before = now_ms();
    Account in = account("Alice@Example.org");
    in.host = "127.0.0.1";
    in.port = 5223;
    in.pinned_cert_sha256 = "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:"
                            "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF";
    in.id = 77;          // ignored
    in.created_ms = 5;   // ignored
    auto a = must(accounts.add(in));
    ck_assert_int_gt(a.id, 0);
    ck_assert_int_ne(a.id, 77);
    CK_STR_EQ(a.jid, "alice@example.org");
    CK_STR_EQ(a.jid_typed, "Alice@Example.org");
    CK_STR_EQ(a.pinned_cert_sha256, kFingerprint);
    ck_assert(a.created_ms >= before);
    ck_assert(a.enabled);
    CK_STR_EQ(a.roster_version, "");

    auto b = must(accounts.add(account("bob@server.example")));
    ck_assert_int_gt(b.id, a.id);
    CK_STR_EQ(b.host, "");
    ck_assert_int_eq(b.port, 0);
    CK_STR_EQ(b.pinned_cert_sha256, "");

    auto found = must(accounts.find(a.id));
    ck_assert(found.has_value());
    CK_STR_EQ(found->jid, "alice@example.org");
    CK_STR_EQ(found->host, "127.0.0.1");
    ck_assert_int_eq(found->port, 5223);
    CK_STR_EQ(found->pinned_cert_sha256, kFingerprint);
    ck_assert_int_eq(found->created_ms, a.created_ms);

    auto by_jid = must(accounts.find_by_jid("ALICE@example.org."));
    ck_assert(by_jid.has_value());
    ck_assert_int_eq(by_jid->id, a.id);
    ck_assert(!must(accounts.find_by_jid("carol@example.org")).has_value());
    ck_assert(!must(accounts.find(9999)).has_value());
    CK_STR_EQ(error_code(accounts.find_by_jid("not a jid")), "invalid");

    auto all = must(accounts.list());
    ck_assert_int_eq(all.size(), 2);
    CK_STR_EQ(all[0].jid, "alice@example.org");
    CK_STR_EQ(all[1].jid, "bob@server.example");
}
END_TEST

START_TEST(test_duplicates_and_invalid_refused)
{
    TempDir dir;
    auto db = open_ok(dir.file("profile.db"));
    AccountStore accounts(*db);
    must(accounts.add(account("alice@example.org")));
    auto dup = accounts.add(account("ALICE@Example.Org"));
    ck_assert(!dup.ok());
    CK_STR_EQ(dup.error().code, "duplicate");
    CK_STR_EQ(dup.error().message, "an account for alice@example.org already exists");

    CK_STR_EQ(error_code(accounts.add(account("alice"))), "invalid");
    Account bad_fp = account("carol@example.org");
    bad_fp.pinned_cert_sha256 = "abcd";
    CK_STR_EQ(error_code(accounts.add(bad_fp)), "invalid");
    bad_fp.pinned_cert_sha256 = std::string(64, 'g');
    CK_STR_EQ(error_code(accounts.add(bad_fp)), "invalid");
    Account bad_host = account("carol@example.org");
    bad_host.host = "evil host";
    CK_STR_EQ(error_code(accounts.add(bad_host)), "invalid");
    ck_assert_int_eq(must(accounts.list()).size(), 1);
}
END_TEST

START_TEST(test_update_and_remove)
{
    TempDir dir;
    auto db = open_ok(dir.file("profile.db"));
    AccountStore accounts(*db);
    auto a = must(accounts.add(account("alice@example.org")));

    a.host = "xmpp.example.org";
    a.port = 5222;
    a.pinned_cert_sha256 = kFingerprint;
    a.enabled = false;
    a.roster_version = "ver14";
    must_ok(accounts.update(a));
    auto got = *must(accounts.find(a.id));
    CK_STR_EQ(got.host, "xmpp.example.org");
    ck_assert_int_eq(got.port, 5222);
    CK_STR_EQ(got.pinned_cert_sha256, kFingerprint);
    ck_assert(!got.enabled);
    CK_STR_EQ(got.roster_version, "ver14");
    ck_assert_int_eq(got.created_ms, a.created_ms);

    // The same JID spelt differently is the same account; another JID is refused.
    a.jid = "Alice@EXAMPLE.org";
    must_ok(accounts.update(a));
    a.jid = "mallory@example.org";
    CK_STR_EQ(error_code(accounts.update(a)), "invalid");
    CK_STR_EQ(must(accounts.find(a.id))->jid, "alice@example.org");
    a.jid = "";
    a.pinned_cert_sha256 = "nothex";
    CK_STR_EQ(error_code(accounts.update(a)), "invalid");
    Account ghost = account("ghost@example.org");
    ghost.id = 4242;
    CK_STR_EQ(error_code(accounts.update(ghost)), "not-found");

    must_ok(accounts.remove(a.id));
    ck_assert(!must(accounts.find(a.id)).has_value());
    CK_STR_EQ(error_code(accounts.remove(a.id)), "not-found");

    // A removed account's id is never reused, and its JID may be added again.
    auto again = must(accounts.add(account("alice@example.org")));
    ck_assert_int_gt(again.id, a.id);
}
END_TEST

START_TEST(test_reopen_keeps_accounts)
{
    TempDir dir;
    const auto path = dir.file("profile.db");
    std::int64_t id = 0;
    {
        auto db = open_ok(path);
        AccountStore accounts(*db);
        Account in = account("alice@example.org");
        in.host = "localhost";
        in.port = 15222;
        in.pinned_cert_sha256 = kFingerprint;
        in.roster_version = "v1";
        id = must(accounts.add(in)).id;
    }
    auto db = open_ok(path);
    auto got = must(AccountStore(*db).find(id));
    ck_assert(got.has_value());
    CK_STR_EQ(got->jid, "alice@example.org");
    CK_STR_EQ(got->host, "localhost");
    ck_assert_int_eq(got->port, 15222);
    CK_STR_EQ(got->pinned_cert_sha256, kFingerprint);
    CK_STR_EQ(got->roster_version, "v1");
    ck_assert(got->enabled);
}
END_TEST

START_TEST(test_upgrade_from_schema_2)
{
    // A profile written before accounts existed (schema 2): upgraded in place, its contacts
    // kept, and accounts can be added.
    TempDir dir;
    const auto path = dir.file("profile.db");
    {
        auto db = open_ok(path);
        model::Contact c;
        c.id = "fp-bob";
        c.instance = "bob@lab";
        c.fingerprint = "fp-bob";
        c.trust = model::Trust::Verified;
        c.last_seen_ms = 1000;
        must_ok(ContactStore(*db).upsert(c));
        // Schema 3 only added the accounts table: without it, this is a schema-2 database.
        must_ok(db->exec("DROP TABLE accounts; PRAGMA user_version = 2"));
    }
    auto db = open_ok(path);
    ck_assert_int_eq(db->schema_version(), Database::current_schema_version());
    ck_assert_int_ge(Database::current_schema_version(), 3);
    ck_assert(must(ContactStore(*db).find("fp-bob")).has_value());
    AccountStore accounts(*db);
    ck_assert_int_eq(must(accounts.list()).size(), 0);
    must(accounts.add(account("bob@example.org")));
    ck_assert(db->check_integrity().ok());
}
END_TEST

static Suite* accounts_suite()
{
    Suite* s = suite_create("accounts");
    TCase* tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_normalize_bare_jid);
    tcase_add_test(tc, test_add_find_list);
    tcase_add_test(tc, test_duplicates_and_invalid_refused);
    tcase_add_test(tc, test_update_and_remove);
    tcase_add_test(tc, test_reopen_keeps_accounts);
    tcase_add_test(tc, test_upgrade_from_schema_2);
    suite_add_tcase(s, tc);
    return s;
}

int main()
{
    log::set_level(log::Level::Warning);
    SRunner* sr = srunner_create(accounts_suite());
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
