// Storage on real SQLite files in a temporary directory: schema, contacts, messages, outbox,
// search, crash safety (SIGKILL after an acknowledged insert) and a full disk (tmpfs).
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "model/types.hpp"
#include "storage/contact_store.hpp"
#include "storage/database.hpp"
#include "storage/message_store.hpp"
#include "util/log.hpp"

// Last: check.h defines a `fail` macro that breaks <ios>.
#include <check.h>

using namespace chinwag;
using namespace chinwag::storage;

// ck_assert_str_eq keeps a pointer past the full expression, so a temporary std::string's
// c_str() would dangle; compare std::string copies instead.
#define CK_STR_EQ(a, b)                                                                          \
    do {                                                                                         \
        const std::string ck_a_ = (a);                                                           \
        const std::string ck_b_ = (b);                                                           \
        ck_assert_msg(ck_a_ == ck_b_, "%s: \"%s\" != \"%s\"", #a, ck_a_.c_str(), ck_b_.c_str()); \
    } while (0)

namespace {

// The value of a read that must succeed here.
template <typename T>
T must(Result<T> r)
{
    ck_assert_msg(r.ok(), "read failed: %s", r.ok() ? "" : r.error().message.c_str());
    return std::move(r.value());
}

// A fresh directory, removed with everything in it when the test ends.
class TempDir {
public:
    TempDir()
    {
        char tmpl[] = "/tmp/cw-storage-XXXXXX";
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
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

std::unique_ptr<Database> open_ok(const std::string& path)
{
    auto r = Database::open(path);
    ck_assert_msg(r.ok(), "open %s: %s: %s", path.c_str(), r ? "" : r.error().code.c_str(),
                  r ? "" : r.error().message.c_str());
    return std::move(r.value());
}

std::string pragma(Database& db, const std::string& sql)
{
    auto st = db.prepare(sql);
    ck_assert_msg(st.ok(), "prepare %s", sql.c_str());
    auto row = st->step();
    ck_assert(row.ok());
    return *row ? st->text(0) : std::string();
}

std::int64_t count(Database& db, const std::string& sql)
{
    return std::stoll(pragma(db, sql));
}

model::Contact contact(const std::string& id, const std::string& instance, model::Trust trust,
                       std::int64_t seen_ms, const std::string& fingerprint = "")
{
    model::Contact c;
    c.id = id;
    c.instance = instance;
    c.nick = "nick-" + id;
    c.fingerprint = fingerprint;
    c.trust = trust;
    c.first_seen_ms = seen_ms;
    c.last_seen_ms = seen_ms;
    return c;
}

void add_contact(Database& db, const std::string& id)
{
    ContactStore contacts(db);
    auto r = contacts.upsert(contact(id, id + "@host", model::Trust::Pinned, 1000, "fp-" + id));
    ck_assert_msg(r.ok(), "upsert: %s", r ? "" : r.error().message.c_str());
}

model::Message incoming(const std::string& contact_id, const std::string& id, const std::string& body,
                        std::int64_t ts = 5000)
{
    model::Message m;
    m.id = id;
    m.contact_id = contact_id;
    m.direction = model::Direction::Incoming;
    m.body = body;
    m.timestamp_ms = ts;
    m.state = model::MessageState::Delivered;
    m.secure = true;
    return m;
}

model::Message outgoing(const std::string& contact_id, const std::string& id, const std::string& body)
{
    model::Message m;
    m.id = id;
    m.contact_id = contact_id;
    m.body = body;
    m.timestamp_ms = 6000;
    return m;
}

}  // namespace

START_TEST(test_migrations_from_empty)
{
    TempDir dir;
    const auto path = dir.file("profile.db");
    auto db = open_ok(path);
    ck_assert_int_ge(Database::current_schema_version(), 1);
    ck_assert_int_eq(db->schema_version(), Database::current_schema_version());
    ck_assert_int_eq(count(*db, "PRAGMA user_version"), Database::current_schema_version());
    CK_STR_EQ(pragma(*db, "PRAGMA journal_mode"), "wal");
    ck_assert_int_eq(count(*db, "PRAGMA synchronous"), 2);  // FULL
    ck_assert_int_eq(count(*db, "PRAGMA foreign_keys"), 1);
    ck_assert_int_eq(count(*db, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                "('contacts', 'messages', 'messages_fts', 'messages_by_contact')"),
                     4);
    ck_assert(db->check_integrity().ok());
    struct stat st {};
    ck_assert_int_eq(stat(path.c_str(), &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);

    // Opening an up-to-date database again applies nothing and changes nothing.
    db.reset();
    db = open_ok(path);
    ck_assert_int_eq(db->schema_version(), Database::current_schema_version());
}
END_TEST

START_TEST(test_reopen_keeps_data)
{
    TempDir dir;
    const auto path = dir.file("profile.db");
    std::int64_t out_seq = 0;
    {
        auto db = open_ok(path);
        add_contact(*db, "alice");
        MessageStore messages(*db);
        ck_assert(messages.insert_incoming(incoming("alice", "m1", "hello there")).value());
        auto out = messages.insert_outgoing(outgoing("alice", "o1", "hi back"));
        ck_assert(out.ok());
        out_seq = out->seq;
    }
    auto db = open_ok(path);
    ContactStore contacts(*db);
    MessageStore messages(*db);
    auto alice = must(contacts.find("alice"));
    ck_assert(alice.has_value());
    CK_STR_EQ(alice->fingerprint, "fp-alice");
    auto h = messages.history("alice", 10);
    ck_assert_int_eq(h.size(), 2);
    CK_STR_EQ(h[0].body, "hello there");
    ck_assert(h[0].direction == model::Direction::Incoming);
    ck_assert(h[0].secure);
    ck_assert(h[1].seq == out_seq);
    ck_assert(h[1].state == model::MessageState::Queued);
    ck_assert_int_eq(messages.pending("alice").size(), 1);
}
END_TEST

START_TEST(test_newer_schema_refused)
{
    TempDir dir;
    const auto path = dir.file("profile.db");
    const int newer = Database::current_schema_version() + 1;
    {
        auto db = open_ok(path);
        ck_assert(db->exec("PRAGMA user_version = " + std::to_string(newer)).ok());
    }
    auto r = Database::open(path);
    ck_assert(!r.ok());
    CK_STR_EQ(r.error().code, "newer-schema");
    const std::string expected = "profile was written by a newer Chinwag (schema " + std::to_string(newer) + ")";
    ck_assert_msg(r.error().message.find(expected) == 0, "message: %s", r.error().message.c_str());
}
END_TEST

START_TEST(test_garbage_file_is_corrupt)
{
    TempDir dir;
    const auto path = dir.file("profile.db");
    FILE* f = std::fopen(path.c_str(), "w");
    ck_assert(f != nullptr);
    for (int i = 0; i < 512; ++i) std::fputs("this is not a database ", f);
    std::fclose(f);
    auto r = Database::open(path);
    ck_assert(!r.ok());
    CK_STR_EQ(r.error().code, "corrupt");
}
END_TEST

START_TEST(test_remove_unused_contact)
{
    // A legacy peer that came and went without a word leaves nothing behind; one we talked
    // with stays, with its history.
    TempDir dir;
    auto db = open_ok(dir.file("profile.db"));
    ContactStore contacts(*db);
    MessageStore messages(*db);
    ck_assert(contacts.upsert(contact("legacy:x@h", "x@h", model::Trust::Legacy, 1, "")).ok());
    ck_assert(contacts.upsert(contact("legacy:y@h", "y@h", model::Trust::Legacy, 1, "")).ok());
    ck_assert(messages.insert_incoming(incoming("legacy:y@h", "m1", "hi")).value());
    auto gone = contacts.remove_if_unused("legacy:x@h");
    ck_assert(gone.ok() && gone.value());
    ck_assert(!must(contacts.find("legacy:x@h")).has_value());
    auto kept = contacts.remove_if_unused("legacy:y@h");
    ck_assert(kept.ok() && !kept.value());
    ck_assert(must(contacts.find("legacy:y@h")).has_value());
    ck_assert_int_eq(messages.history("legacy:y@h", 10).size(), 1);
    auto none = contacts.remove_if_unused("legacy:nobody");
    ck_assert(none.ok() && !none.value());
}
END_TEST

START_TEST(test_schema2_forgets_unproven_pins)
{
    // Schema 1 pinned keys from announcements alone: on upgrade, a contact with no message
    // either way and not verified is forgotten; the others stay as they were.
    TempDir dir;
    const auto path = dir.file("profile.db");
    {
        auto db = open_ok(path);
        ContactStore contacts(*db);
        MessageStore messages(*db);
        ck_assert(contacts.upsert(contact("fp-announced", "x@lab", model::Trust::Pinned, 1000, "fp-announced")).ok());
        ck_assert(contacts.upsert(contact("fp-talked", "bob@lab", model::Trust::Pinned, 1000, "fp-talked")).ok());
        ck_assert(contacts.upsert(contact("fp-checked", "carol@lab", model::Trust::Verified, 1000, "fp-checked")).ok());
        ck_assert(contacts.upsert(contact("legacy:y@lab", "y@lab", model::Trust::Legacy, 1000)).ok());
        ck_assert(messages.insert_incoming(incoming("fp-talked", "m1", "hi")).ok());
        // A schema-1 database: later schemas added the accounts table.
        ck_assert(db->exec("DROP TABLE accounts; PRAGMA user_version = 1").ok());
    }
    auto db = open_ok(path);
    ck_assert_int_eq(db->schema_version(), Database::current_schema_version());
    ContactStore contacts(*db);
    ck_assert(!must(contacts.find("fp-announced")).has_value());
    ck_assert(!must(contacts.find("legacy:y@lab")).has_value());
    ck_assert(must(contacts.find("fp-talked")).has_value());
    ck_assert(must(contacts.find("fp-checked")).has_value());
    ck_assert_int_eq(MessageStore(*db).history("fp-talked", 10).size(), 1);
}
END_TEST

START_TEST(test_contacts)
{
    TempDir dir;
    auto db = open_ok(dir.file("profile.db"));
    ContactStore contacts(*db);

    auto a = contact("fp-a", "alice@lab", model::Trust::Pinned, 1000, "fp-a");
    a.first_name = "Alice";
    a.email = "alice@example.org";
    ck_assert(contacts.upsert(a).ok());
    auto found = must(contacts.find("fp-a"));
    ck_assert(found.has_value());
    CK_STR_EQ(found->first_name, "Alice");
    CK_STR_EQ(found->email, "alice@example.org");
    ck_assert(found->trust == model::Trust::Pinned);
    ck_assert_int_eq(found->first_seen_ms, 1000);

    // Update: every field changes except first_seen_ms.
    a.nick = "ally";
    a.instance = "alice@lab-2";
    a.first_seen_ms = 9999;
    a.last_seen_ms = 3000;
    a.trust = model::Trust::Verified;
    ck_assert(contacts.upsert(a).ok());
    found = must(contacts.find("fp-a"));
    CK_STR_EQ(found->nick, "ally");
    CK_STR_EQ(found->instance, "alice@lab-2");
    ck_assert(found->trust == model::Trust::Verified);
    ck_assert_int_eq(found->first_seen_ms, 1000);
    ck_assert_int_eq(found->last_seen_ms, 3000);
    ck_assert(!must(contacts.find("nobody")).has_value());

    // Same instance name: a legacy peer seen most recently, an impostor, an older keyed one.
    ck_assert(contacts.upsert(contact("fp-old", "bob@lab", model::Trust::Pinned, 2000, "fp-old")).ok());
    ck_assert(contacts.upsert(contact("fp-evil", "bob@lab", model::Trust::Impostor, 4000, "fp-evil")).ok());
    ck_assert(contacts.upsert(contact(model::legacy_contact_id("bob@lab"), "bob@lab", model::Trust::Legacy, 5000))
                  .ok());
    auto newest = must(contacts.find_by_instance("bob@lab", false));
    ck_assert(newest.has_value());
    CK_STR_EQ(newest->id, model::legacy_contact_id("bob@lab"));
    auto keyed = must(contacts.find_by_instance("bob@lab", true));
    ck_assert(keyed.has_value());
    CK_STR_EQ(keyed->id, "fp-old");
    ck_assert(!must(contacts.find_by_instance("carol@lab", false)).has_value());

    ck_assert(contacts.set_trust("fp-evil", model::Trust::Verified).ok());
    keyed = must(contacts.find_by_instance("bob@lab", true));
    CK_STR_EQ(keyed->id, "fp-evil");
    auto missing = contacts.set_trust("nobody", model::Trust::Pinned);
    ck_assert(!missing.ok());
    CK_STR_EQ(missing.error().code, "not-found");

    ck_assert_int_eq(must(contacts.all()).size(), 4);

    // A read that fails is an error, never "no such contact" (trust decisions depend on it).
    ck_assert(db->exec("DROP TABLE contacts").ok());
    auto broken = contacts.find("fp-a");
    ck_assert(!broken.ok());
    ck_assert(!contacts.find_by_instance("bob@lab", true).ok());
    ck_assert(!contacts.all().ok());
}
END_TEST

START_TEST(test_incoming_duplicates_and_unread)
{
    TempDir dir;
    auto db = open_ok(dir.file("profile.db"));
    add_contact(*db, "alice");
    add_contact(*db, "bob");
    MessageStore messages(*db);

    auto first = messages.insert_incoming(incoming("alice", "m1", "original"));
    ck_assert(first.ok() && *first);
    auto again = messages.insert_incoming(incoming("alice", "m1", "resent copy"));
    ck_assert(again.ok());
    ck_assert(!*again);
    // The same stanza id from someone else, or our own outgoing id, is a different message.
    ck_assert(*messages.insert_incoming(incoming("bob", "m1", "bob's m1")));
    ck_assert(messages.insert_outgoing(outgoing("alice", "m1", "mine")).ok());
    ck_assert(*messages.insert_incoming(incoming("alice", "m2", "second")));

    auto h = messages.history("alice", 10);
    ck_assert_int_eq(h.size(), 3);
    CK_STR_EQ(h[0].body, "original");

    // A message for a contact we never stored is refused, not silently orphaned.
    auto orphan = messages.insert_incoming(incoming("stranger", "x", "who am I"));
    ck_assert(!orphan.ok());
    CK_STR_EQ(orphan.error().code, "not-found");

    ck_assert_int_eq(messages.unread_count("alice"), 2);
    ck_assert_int_eq(messages.unread_count("bob"), 1);
    ck_assert(messages.mark_read("alice").ok());
    ck_assert_int_eq(messages.unread_count("alice"), 0);
    ck_assert_int_eq(messages.unread_count("bob"), 1);
    ck_assert(*messages.insert_incoming(incoming("alice", "m3", "third")));
    ck_assert_int_eq(messages.unread_count("alice"), 1);
}
END_TEST

START_TEST(test_outbox)
{
    TempDir dir;
    auto db = open_ok(dir.file("profile.db"));
    add_contact(*db, "alice");
    add_contact(*db, "bob");
    MessageStore messages(*db);

    std::vector<std::int64_t> seqs;
    for (const char* id : {"o1", "o2", "o3"}) {
        auto m = outgoing("alice", id, std::string("body ") + id);
        m.state = model::MessageState::Delivered;  // ignored: new messages are queued
        auto r = messages.insert_outgoing(m);
        ck_assert_msg(r.ok(), "insert_outgoing: %s", r ? "" : r.error().message.c_str());
        ck_assert(r->state == model::MessageState::Queued);
        ck_assert(r->direction == model::Direction::Outgoing);
        seqs.push_back(r->seq);
    }
    ck_assert(seqs[0] < seqs[1] && seqs[1] < seqs[2]);
    auto generated = messages.insert_outgoing(outgoing("bob", "", "no id yet"));
    ck_assert(generated.ok());
    ck_assert(!generated->id.empty());
    auto dup = messages.insert_outgoing(outgoing("bob", "o1", "same id"));
    ck_assert(!dup.ok());
    CK_STR_EQ(dup.error().code, "duplicate");

    auto p = messages.pending("alice");
    ck_assert_int_eq(p.size(), 3);
    CK_STR_EQ(p[0].id, "o1");
    CK_STR_EQ(p[2].id, "o3");
    auto who = messages.contacts_with_pending();
    ck_assert_int_eq(who.size(), 2);

    // Sent: written, no receipt yet, so still pending.
    ck_assert(messages.set_state("o1", model::MessageState::Sent).ok());
    ck_assert(messages.find_outgoing("o1")->state == model::MessageState::Sent);
    ck_assert_int_eq(messages.pending("alice").size(), 3);
    // Delivered leaves the outbox and is final.
    ck_assert(messages.set_state("o1", model::MessageState::Delivered).ok());
    ck_assert(messages.set_state("o1", model::MessageState::Sent).ok());
    ck_assert(messages.find_outgoing("o1")->state == model::MessageState::Delivered);
    // Failed leaves the outbox and keeps its reason; queueing it again brings it back.
    ck_assert(messages.set_state("o2", model::MessageState::Failed, "contact refused the key").ok());
    auto failed = messages.find_outgoing("o2");
    ck_assert(failed->state == model::MessageState::Failed);
    CK_STR_EQ(failed->failure_reason, "contact refused the key");
    p = messages.pending("alice");
    ck_assert_int_eq(p.size(), 1);
    CK_STR_EQ(p[0].id, "o3");
    ck_assert(messages.set_state("o2", model::MessageState::Queued).ok());
    p = messages.pending("alice");
    ck_assert_int_eq(p.size(), 2);
    CK_STR_EQ(p[0].id, "o2");  // oldest first, by seq
    CK_STR_EQ(p[0].failure_reason, "");

    ck_assert(messages.set_state(generated->id, model::MessageState::Delivered).ok());
    who = messages.contacts_with_pending();
    ck_assert_int_eq(who.size(), 1);
    CK_STR_EQ(who[0], "alice");

    auto missing = messages.set_state("nope", model::MessageState::Sent);
    ck_assert(!missing.ok());
    CK_STR_EQ(missing.error().code, "not-found");
    ck_assert(!messages.find_outgoing("nope").has_value());
    // An incoming message with that id is not an outgoing one.
    ck_assert(*messages.insert_incoming(incoming("alice", "in-1", "hello")));
    ck_assert(!messages.set_state("in-1", model::MessageState::Failed).ok());
}
END_TEST

START_TEST(test_history_paging)
{
    TempDir dir;
    auto db = open_ok(dir.file("profile.db"));
    add_contact(*db, "alice");
    add_contact(*db, "bob");
    MessageStore messages(*db);
    for (int i = 0; i < 25; ++i) {
        const auto body = "msg " + std::to_string(i);
        if (i % 2)
            ck_assert(messages.insert_outgoing(outgoing("alice", "o" + std::to_string(i), body)).ok());
        else
            ck_assert(*messages.insert_incoming(incoming("alice", "i" + std::to_string(i), body)));
        ck_assert(*messages.insert_incoming(incoming("bob", "b" + std::to_string(i), "bob " + body)));
    }
    auto page = messages.history("alice", 10);
    ck_assert_int_eq(page.size(), 10);
    CK_STR_EQ(page.front().body, "msg 15");
    CK_STR_EQ(page.back().body, "msg 24");
    page = messages.history("alice", 10, page.front().seq);
    CK_STR_EQ(page.front().body, "msg 5");
    CK_STR_EQ(page.back().body, "msg 14");
    page = messages.history("alice", 10, page.front().seq);
    ck_assert_int_eq(page.size(), 5);
    CK_STR_EQ(page.front().body, "msg 0");
    ck_assert_int_eq(messages.history("alice", 10, page.front().seq).size(), 0);
    ck_assert_int_eq(messages.history("alice", 0).size(), 0);
    ck_assert_int_eq(messages.history("carol", 10).size(), 0);

    // A large history: 1,000,000 rows for one contact, then the newest page must come from the
    // (contact_id, seq) index, not a scan.
    ck_assert(db->exec("BEGIN;"
                       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) "
                       "INSERT INTO messages (id, contact_id, direction, body, timestamp_ms, state) "
                       "SELECT 'bulk' || i, 'bob', 'in', 'bulk ' || i, i, 'delivered' FROM n;"
                       "COMMIT;")
                  .ok());
    std::int64_t before = 0;
    for (int i = 0; i < 20; ++i) {
        page = messages.history("bob", 50, before);
        ck_assert_int_eq(page.size(), 50);
        before = page.front().seq;
    }
    CK_STR_EQ(page.back().body, "bulk 999050");
    auto plan = db->prepare("EXPLAIN QUERY PLAN SELECT seq FROM messages m WHERE m.contact_id = 'bob' "
                            "AND m.seq < 10 ORDER BY m.seq DESC LIMIT 5");
    ck_assert(plan.ok());
    std::string detail;
    while (*plan->step()) detail += plan->text(3) + "\n";
    ck_assert_msg(detail.find("messages_by_contact") != std::string::npos, "plan: %s", detail.c_str());
    ck_assert_msg(detail.find("TEMP B-TREE") == std::string::npos, "plan sorts: %s", detail.c_str());
}
END_TEST

START_TEST(test_fts_query_quoting)
{
    CK_STR_EQ(fts_query(""), "");
    CK_STR_EQ(fts_query("   \t\n"), "");
    CK_STR_EQ(fts_query("hello"), "\"hello\"*");
    CK_STR_EQ(fts_query("a  b"), "\"a\" AND \"b\"*");
    CK_STR_EQ(fts_query("say \"hi\""), "\"say\" AND \"\"\"hi\"\"\"*");
    CK_STR_EQ(fts_query("- * ( \" hello"), "\"hello\"*");
    CK_STR_EQ(fts_query("NEAR( x"), "\"NEAR(\" AND \"x\"*");
}
END_TEST

START_TEST(test_search)
{
    TempDir dir;
    auto db = open_ok(dir.file("profile.db"));
    add_contact(*db, "alice");
    add_contact(*db, "bob");
    MessageStore messages(*db);
    const std::vector<std::pair<std::string, std::string>> rows = {
        {"alice", "Shall we meet for lunch tomorrow?"},
        {"bob", "Crème brûlée at the café, naïve plan"},
        {"alice", "he said \"hello world\" and left"},
        {"bob", "use a*b - c AND d NEAR(e) please"},
        {"alice", "日本語のテキスト and lunch"},
        {"bob", "Lunch is at noon"},
    };
    int n = 0;
    for (const auto& [who, body] : rows)
        ck_assert(*messages.insert_incoming(incoming(who, "s" + std::to_string(n++), body)));

    auto r = messages.search("lunch", 10);
    ck_assert_int_eq(r.size(), 3);
    // Newest first.
    CK_STR_EQ(r[0].body, "Lunch is at noon");
    CK_STR_EQ(r[2].body, "Shall we meet for lunch tomorrow?");
    ck_assert_int_eq(messages.search("lunch", 2).size(), 2);
    ck_assert_int_eq(messages.search("lunch", 0).size(), 0);
    // Words are AND-ed; the last one is a prefix.
    ck_assert_int_eq(messages.search("lunch tom", 10).size(), 1);
    ck_assert_int_eq(messages.search("tomorrow lunch", 10).size(), 1);
    ck_assert_int_eq(messages.search("tom lunch", 10).size(), 0);  // only the last word is a prefix
    ck_assert_int_eq(messages.search("lunch tomorrowx", 10).size(), 0);
    // Diacritics and case are ignored both ways.
    ck_assert_int_eq(messages.search("creme BRULEE", 10).size(), 1);
    ck_assert_int_eq(messages.search("café naïve", 10).size(), 1);
    ck_assert_int_eq(messages.search("cafe", 10).size(), 1);
    ck_assert_int_eq(messages.search("日本語のテキスト", 10).size(), 1);
    // Quotes are literal text, not phrase syntax.
    r = messages.search("\"hello world\"", 10);
    ck_assert_int_eq(r.size(), 1);
    CK_STR_EQ(r[0].id, "s2");
    ck_assert_int_eq(messages.search("\"hello", 10).size(), 1);
    ck_assert_int_eq(messages.search("hello\"", 10).size(), 1);
    // FTS5 operators typed by a user are plain words.
    ck_assert_int_eq(messages.search("NEAR(", 10).size(), 1);
    ck_assert_int_eq(messages.search("AND", 10).size(), 3);
    ck_assert_int_eq(messages.search("a*b", 10).size(), 1);
    ck_assert_int_eq(messages.search("lunch -noon", 10).size(), 1);  // "-noon" means "noon"
    ck_assert_int_eq(messages.search("NOT noon", 10).size(), 0);
    ck_assert_int_eq(messages.search("OR", 10).size(), 0);
    // Input with nothing searchable, or hostile bytes, gives nothing and no error.
    for (const char* odd : {"", " ", "*", "-", "\"", "\"\"", "(", ")", "NEAR(", "^", ":", "'", "--", "a OR",
                            "body:lunch", "\xff\xfe", "lunch'; DROP TABLE messages; --", "{body}", "\\", "%",
                            "🙂", "lunch *", "- lunch"}) {
        (void)messages.search(odd, 10);
    }
    ck_assert_int_eq(messages.search("", 10).size(), 0);
    ck_assert_int_eq(messages.search("*", 10).size(), 0);
    ck_assert_int_eq(messages.search("-", 10).size(), 0);
    ck_assert_int_eq(messages.search("lunch *", 10).size(), 3);
    ck_assert_int_eq(messages.search("lunch'; DROP TABLE messages; --", 10).size(), 0);
    ck_assert_int_eq(count(*db, "SELECT count(*) FROM messages"), 6);
    // The index follows edits and deletions (triggers on the external-content table).
    ck_assert(db->exec("UPDATE messages SET body = 'dinner instead' WHERE id = 's0'").ok());
    ck_assert_int_eq(messages.search("lunch", 10).size(), 2);
    ck_assert_int_eq(messages.search("dinner", 10).size(), 1);
    ck_assert(db->exec("DELETE FROM messages WHERE id = 's5'").ok());
    ck_assert_int_eq(messages.search("lunch", 10).size(), 1);
    ck_assert(db->exec("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')").ok());
}
END_TEST

// An insert that returned is on disk: kill the writer with SIGKILL right after, and the row
// is there when the database is opened again (WAL recovery).
START_TEST(test_sigkill_after_insert)
{
    TempDir dir;
    const auto path = dir.file("profile.db");
    {
        auto db = open_ok(path);
        add_contact(*db, "alice");
    }
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    const pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        auto db = Database::open(path);
        if (!db) _exit(2);
        MessageStore messages(**db);
        auto in = messages.insert_incoming(incoming("alice", "acked", "acknowledged message"));
        auto out = messages.insert_outgoing(outgoing("alice", "queued-1", "waiting to be sent"));
        if (!in || !*in || !out) _exit(3);
        // "Acknowledge": tell the parent, which kills us at once.
        if (write(fds[1], "k", 1) != 1) _exit(4);
        for (;;) pause();
    }
    close(fds[1]);
    char c = 0;
    const ssize_t got = read(fds[0], &c, 1);
    if (got == 1) kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    close(fds[0]);
    ck_assert_msg(got == 1, "child failed before acknowledging (status %d)", status);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    auto db = open_ok(path);
    MessageStore messages(*db);
    auto h = messages.history("alice", 10);
    ck_assert_int_eq(h.size(), 2);
    CK_STR_EQ(h[0].id, "acked");
    ck_assert_int_eq(messages.pending("alice").size(), 1);
    ck_assert(db->check_integrity().ok());
}
END_TEST

// A full disk fails the insert with "disk-full", damages nothing, and writes work again once
// space returns. Needs a small file system: a tmpfs in a private mount namespace (root).
START_TEST(test_disk_full)
{
    if (geteuid() != 0) {
        std::printf("test_disk_full: SKIPPED: needs root to mount a small tmpfs\n");
        return;
    }
    if (unshare(CLONE_NEWNS) != 0) {
        std::printf("test_disk_full: SKIPPED: unshare(CLONE_NEWNS) failed: %s\n", std::strerror(errno));
        return;
    }
    // Keep our mount out of the parent namespace.
    ck_assert_int_eq(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    TempDir dir;
    const auto mnt = dir.file("small");
    ck_assert_int_eq(mkdir(mnt.c_str(), 0700), 0);
    ck_assert_msg(mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m,mode=0700") == 0, "mount: %s",
                  std::strerror(errno));
    struct Unmount {
        std::string path;
        ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
    } unmount{mnt};

    const auto path = mnt + "/profile.db";
    const auto filler = mnt + "/filler";
    {
        auto db = open_ok(path);
        add_contact(*db, "alice");
        MessageStore messages(*db);
        ck_assert(*messages.insert_incoming(incoming("alice", "before", "written before the disk filled")));

        // Fill the file system to the last byte.
        const int fd = open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ck_assert_int_ge(fd, 0);
        std::vector<char> chunk(16384, 'x');
        for (std::size_t size : {16384, 4096, 512, 1}) {
            while (write(fd, chunk.data(), size) == static_cast<ssize_t>(size)) {
            }
        }
        close(fd);

        const std::string big(200000, 'b');
        for (const auto& body : {big, std::string("small")}) {
            auto r = messages.insert_incoming(incoming("alice", "during-" + std::to_string(body.size()), body));
            ck_assert_msg(!r.ok(), "insert on a full disk succeeded");
            CK_STR_EQ(r.error().code, "disk-full");
            CK_STR_EQ(r.error().message, "the disk is full; the message was not saved");
        }
        auto out = messages.insert_outgoing(outgoing("alice", "out-during", "queued on a full disk"));
        ck_assert(!out.ok());
        CK_STR_EQ(out.error().code, "disk-full");
        ck_assert(!db->in_transaction());
        // What was stored before is still readable.
        ck_assert_int_eq(messages.history("alice", 10).size(), 1);

        // Space returns: the same connection writes again.
        ck_assert_int_eq(unlink(filler.c_str()), 0);
        auto after = messages.insert_incoming(incoming("alice", "during-5", "small"));
        ck_assert_msg(after.ok() && *after, "insert after freeing space: %s",
                      after ? "duplicate" : after.error().message.c_str());
        ck_assert(messages.insert_outgoing(outgoing("alice", "out-during", "queued again")).ok());
        ck_assert(db->check_integrity().ok());
    }
    auto db = open_ok(path);
    CK_STR_EQ(pragma(*db, "PRAGMA integrity_check"), "ok");
    MessageStore messages(*db);
    auto h = messages.history("alice", 10);
    ck_assert_int_eq(h.size(), 3);
    CK_STR_EQ(h[0].id, "before");
    CK_STR_EQ(h[1].id, "during-5");
    ck_assert_int_eq(messages.search("small", 10).size(), 1);
}
END_TEST

static Suite* storage_suite()
{
    Suite* s = suite_create("storage");
    TCase* tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_migrations_from_empty);
    tcase_add_test(tc, test_reopen_keeps_data);
    tcase_add_test(tc, test_newer_schema_refused);
    tcase_add_test(tc, test_garbage_file_is_corrupt);
    tcase_add_test(tc, test_schema2_forgets_unproven_pins);
    tcase_add_test(tc, test_contacts);
    tcase_add_test(tc, test_remove_unused_contact);
    tcase_add_test(tc, test_incoming_duplicates_and_unread);
    tcase_add_test(tc, test_outbox);
    tcase_add_test(tc, test_history_paging);
    tcase_add_test(tc, test_fts_query_quoting);
    tcase_add_test(tc, test_search);
    tcase_add_test(tc, test_sigkill_after_insert);
    tcase_add_test(tc, test_disk_full);
    suite_add_tcase(s, tc);
    return s;
}

int main()
{
    log::set_level(log::Level::Warning);  // keep "schema upgraded" lines out of the report
    SRunner* sr = srunner_create(storage_suite());
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
