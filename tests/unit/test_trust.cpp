// The trust rules (core/trust_policy) as pure functions: announcement / proof / contradiction
// -> decision, including a store that cannot be read; and ContactBook on a real SQLite
// database: nearby peers are never written down, a broken store is an error, not "new".
#include <ftw.h>
#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "core/contact_book.hpp"
#include "core/trust_policy.hpp"
#include "storage/contact_store.hpp"
#include "storage/database.hpp"

// Last: check.h defines a fail() macro that breaks standard headers.
#include <check.h>

using namespace chinwag;
using namespace chinwag::core;
using model::Contact;
using model::Trust;

namespace {

const std::string kAlice(64, 'a');
const std::string kRandom(64, 'r');
const std::string kBob(64, 'b');

Contact contact(const std::string& id, const std::string& instance, Trust trust)
{
    Contact c;
    c.id = id;
    c.instance = instance;
    c.nick = "Alice";
    c.fingerprint = model::is_legacy_contact_id(id) ? std::string() : id;
    c.trust = trust;
    c.last_seen_ms = 1000;
    return c;
}

Result<StoredFacts> facts(std::optional<Contact> same, std::optional<Contact> proven)
{
    return StoredFacts{std::move(same), std::move(proven)};
}

Result<StoredFacts> unreadable()
{
    return make_error("io", "could not read or write the profile database: disk I/O error");
}

class TempDir {
public:
    TempDir()
    {
        char tmpl[] = "/tmp/cw-trust-XXXXXX";
        const char* p = mkdtemp(tmpl);
        ck_assert_msg(p != nullptr, "mkdtemp failed: %s", std::strerror(errno));
        path_ = p;
    }
    ~TempDir()
    {
        nftw(
            path_.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
            FTW_DEPTH | FTW_PHYS);
    }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

}  // namespace

START_TEST(announcement_is_a_claim)
{
    // The poisoning case: a random key announced under alice@laptop before alice ever came.
    auto v = judge_announcement("alice@laptop", kRandom, facts({}, {}));
    ck_assert(v.standing == Standing::Nearby);
    ck_assert(v.trust == Trust::Unknown);
    ck_assert(v.detail.empty());
    // Then the real alice, another key, same name: still nobody proved anything. Not an impostor.
    v = judge_announcement("alice@laptop", kAlice, facts({}, {}));
    ck_assert(v.standing == Standing::Nearby);
    ck_assert(v.trust == Trust::Unknown);
    // A name taken by two unproven keys (one stored unchecked because the user wrote to it).
    v = judge_announcement("alice@laptop", kAlice, facts(contact(kAlice, "alice@laptop", Trust::Unknown), {}));
    ck_assert(v.standing == Standing::Contact);
    ck_assert(v.trust == Trust::Unknown);
}
END_TEST

START_TEST(impostor_only_against_a_proven_key)
{
    const Contact alice = contact(kAlice, "alice@laptop", Trust::Pinned);
    // The proven contact returns: itself.
    auto v = judge_announcement("alice@laptop", kAlice, facts(alice, alice));
    ck_assert(v.standing == Standing::Contact);
    ck_assert(v.trust == Trust::Pinned);
    // Another key under her name: the announcement is warned about, naming her.
    v = judge_announcement("alice@laptop", kRandom, facts({}, alice));
    ck_assert(v.standing == Standing::Impostor);
    ck_assert(v.trust == Trust::Impostor);
    ck_assert(v.detail.find("claims to be Alice") != std::string::npos);
    // ... and when she comes back after it, she is herself again.
    v = judge_announcement("alice@laptop", kAlice, facts(alice, alice));
    ck_assert(v.standing == Standing::Contact);
    ck_assert(v.trust == Trust::Pinned);
    // Verified stays verified.
    const Contact checked = contact(kAlice, "alice@laptop", Trust::Verified);
    v = judge_announcement("alice@laptop", kAlice, facts(checked, checked));
    ck_assert(v.trust == Trust::Verified);
}
END_TEST

START_TEST(downgrade_only_against_a_proven_key)
{
    const std::string legacy = model::legacy_contact_id("alice@laptop");
    // No key proven under the name: a legacy peer, nearby until a message makes it a contact.
    auto v = judge_announcement("alice@laptop", "", facts({}, {}));
    ck_assert(v.standing == Standing::Nearby);
    ck_assert(v.trust == Trust::Legacy);
    v = judge_announcement("alice@laptop", "", facts(contact(legacy, "alice@laptop", Trust::Legacy), {}));
    ck_assert(v.standing == Standing::Contact);
    ck_assert(v.trust == Trust::Legacy);
    // A contact once proven with a key is never silently treated as plaintext.
    v = judge_announcement("alice@laptop", "", facts({}, contact(kAlice, "alice@laptop", Trust::Pinned)));
    ck_assert(v.standing == Standing::Impostor);
    ck_assert(v.detail.find("without one") != std::string::npos);
}
END_TEST

START_TEST(proof_pins_once)
{
    // First proof: pin. An unchecked stored contact (written to before it proved) too.
    auto p = judge_proof("alice@laptop", kAlice, facts({}, {}));
    ck_assert(p.outcome == ProofOutcome::Pin);
    ck_assert(p.trust == Trust::Pinned);
    p = judge_proof("alice@laptop", kAlice, facts(contact(kAlice, "alice@laptop", Trust::Unknown), {}));
    ck_assert(p.outcome == ProofOutcome::Pin);
    // Proved again: confirmed, trust kept.
    const Contact checked = contact(kAlice, "alice@laptop", Trust::Verified);
    p = judge_proof("alice@laptop", kAlice, facts(checked, checked));
    ck_assert(p.outcome == ProofOutcome::Confirmed);
    ck_assert(p.trust == Trust::Verified);
    // A proven key under the name of a contact with another proven key: contradiction.
    p = judge_proof("alice@laptop", kBob, facts({}, checked));
    ck_assert(p.outcome == ProofOutcome::Contradiction);
    ck_assert(p.trust == Trust::Impostor);
    ck_assert(p.detail.find("other than the one proven for Alice") != std::string::npos);
    // An impostor stays one when it proves its own key again.
    p = judge_proof("alice@laptop", kBob, facts(contact(kBob, "alice@laptop", Trust::Impostor), {}));
    ck_assert(p.outcome == ProofOutcome::Contradiction);
}
END_TEST

START_TEST(read_error_fails_closed)
{
    for (const std::string& fp : {kAlice, std::string()}) {
        auto v = judge_announcement("alice@laptop", fp, unreadable());
        ck_assert(v.standing == Standing::Refused);
        ck_assert(v.detail.find("could not be read") != std::string::npos);
        ck_assert(v.detail.find("disk I/O error") != std::string::npos);
    }
    auto p = judge_proof("alice@laptop", kAlice, unreadable());
    ck_assert(p.outcome == ProofOutcome::Refused);
}
END_TEST

START_TEST(incoming_streams)
{
    using Found = Result<std::optional<Contact>>;
    discovery::PeerAnnouncement keyed;
    keyed.instance = "alice@laptop";
    keyed.record.fingerprint = kAlice;
    keyed.addresses = {{"10.0.0.3", 2, false}};
    discovery::PeerAnnouncement legacy = keyed;
    legacy.record.fingerprint.clear();
    const Found none = std::optional<Contact>();
    const Found proven = std::optional<Contact>(contact(kAlice, "alice@laptop", Trust::Pinned));
    const Found broken = make_error("io", "disk I/O error");

    auto a = judge_incoming_stream("alice@laptop", "10.0.0.9", nullptr, none, true);
    ck_assert(a.verdict == StreamVerdict::Refuse);
    ck_assert(a.reason.find("no peer called alice@laptop") != std::string::npos);
    // A keyed announcement: TLS with that key (whatever the address; the handshake proves it).
    a = judge_incoming_stream("alice@laptop", "10.0.0.9", &keyed, none, true);
    ck_assert(a.verdict == StreamVerdict::AcceptTls);
    ck_assert(a.expected_fingerprint == kAlice);
    // Legacy: from the announced host only; an unknown address is looked up once more.
    ck_assert(judge_incoming_stream("alice@laptop", "10.0.0.3", &legacy, none, true).verdict ==
              StreamVerdict::AcceptPlaintext);
    ck_assert(judge_incoming_stream("alice@laptop", "10.0.0.9", &legacy, none, true).verdict ==
              StreamVerdict::LookAgain);
    a = judge_incoming_stream("alice@laptop", "10.0.0.9", &legacy, none, false);
    ck_assert(a.verdict == StreamVerdict::Refuse);
    ck_assert(a.reason.find("does not belong to") != std::string::npos);
    // Plaintext under a proven contact's name: a downgrade, named.
    a = judge_incoming_stream("alice@laptop", "10.0.0.3", &legacy, proven, true);
    ck_assert(a.verdict == StreamVerdict::Downgrade);
    ck_assert(a.contact_id == kAlice);
    // The store cannot be read: no plaintext stream is let in.
    a = judge_incoming_stream("alice@laptop", "10.0.0.3", &legacy, broken, true);
    ck_assert(a.verdict == StreamVerdict::Refuse);
    ck_assert(a.reason.find("could not be read") != std::string::npos);
}
END_TEST

START_TEST(contact_book_on_sqlite)
{
    TempDir dir;
    auto db = storage::Database::open(dir.file("profile.db"));
    ck_assert(db.ok());
    storage::ContactStore store(**db);
    ContactBook book(store);

    // Announced only: found, listed, never stored.
    book.hold_nearby(contact(kRandom, "alice@laptop", Trust::Unknown));
    auto found = book.find(kRandom);
    ck_assert(found.ok() && found->has_value());
    ck_assert(book.is_nearby(kRandom));
    ck_assert(!store.find(kRandom).value().has_value());
    ck_assert_uint_eq(book.all().value().size(), 1);
    ck_assert(book.any_for("alice@laptop").value().has_value());
    // Not proven: no proven contact for the name.
    ck_assert(!book.proven_for("alice@laptop").value().has_value());
    auto f = book.facts(kRandom, "alice@laptop");
    ck_assert(f.ok() && !f->same_id && !f->proven_for_name);

    // It leaves: gone without a trace.
    book.forget_nearby(kRandom);
    ck_assert(!book.find(kRandom).value().has_value());
    ck_assert_uint_eq(book.all().value().size(), 0);

    // Kept once the user deals with it: stored, no longer nearby, listed once.
    book.hold_nearby(contact(kAlice, "alice@laptop", Trust::Unknown));
    ck_assert(book.keep(kAlice).ok());
    ck_assert(!book.is_nearby(kAlice));
    ck_assert(store.find(kAlice).value().has_value());
    ck_assert_uint_eq(book.all().value().size(), 1);
    auto missing = book.keep(kBob);
    ck_assert(!missing.ok());
    ck_assert_str_eq(missing.error().code.c_str(), "not-found");

    // Proven and stored: the name's proven contact.
    Contact pinned = contact(kAlice, "alice@laptop", Trust::Pinned);
    ck_assert(book.store(pinned).ok());
    f = book.facts(kRandom, "alice@laptop");
    ck_assert(f.ok() && !f->same_id && f->proven_for_name && f->proven_for_name->id == kAlice);
    ck_assert(judge_announcement("alice@laptop", kRandom, f).standing == Standing::Impostor);

    // What a user means by a name: the proven contact, never the impostor announcing it now.
    book.hold_nearby(contact(kRandom, "alice@laptop", Trust::Impostor));
    auto online = [](const std::string& instance) -> std::optional<std::string> {
        if (instance == "alice@laptop")
            return kRandom;  // the impostor's announcement holds the name on the LAN now
        if (instance == "carol@lab")
            return std::string(64, 'c');
        return std::nullopt;
    };
    ck_assert(book.resolve("alice@laptop", online).value() == kAlice);
    ck_assert(book.resolve(kRandom, online).value() == kRandom);
    const std::string spaced = "aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa";
    ck_assert(book.resolve(spaced, online).value() == kAlice);
    ck_assert(book.resolve("carol@lab", online).value() == std::string(64, 'c'));
    auto nobody = book.resolve("dave@lab", online);
    ck_assert(!nobody.ok());
    ck_assert_str_eq(nobody.error().code.c_str(), "not-found");

    // A store that cannot be read is an error everywhere, and the rules refuse: nothing is
    // read as "new contact", so nothing can be pinned over the old key.
    ck_assert((*db)->exec("DROP TABLE messages").ok());
    ck_assert((*db)->exec("DROP TABLE contacts").ok());
    ck_assert(!book.find(kAlice).ok());
    ck_assert(!book.all().ok());
    ck_assert(!book.proven_for("alice@laptop").ok());
    ck_assert(!book.resolve("alice@laptop", online).ok());
    f = book.facts(kRandom, "alice@laptop");
    ck_assert(!f.ok());
    ck_assert(judge_announcement("alice@laptop", kRandom, f).standing == Standing::Refused);
    ck_assert(judge_proof("alice@laptop", kRandom, f).outcome == ProofOutcome::Refused);
}
END_TEST

int main()
{
    Suite* s = suite_create("trust");
    TCase* rules = tcase_create("rules");
    tcase_add_test(rules, announcement_is_a_claim);
    tcase_add_test(rules, impostor_only_against_a_proven_key);
    tcase_add_test(rules, downgrade_only_against_a_proven_key);
    tcase_add_test(rules, proof_pins_once);
    tcase_add_test(rules, read_error_fails_closed);
    tcase_add_test(rules, incoming_streams);
    suite_add_tcase(s, rules);
    TCase* book = tcase_create("contact_book");
    tcase_add_test(book, contact_book_on_sqlite);
    suite_add_tcase(s, book);
    SRunner* sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
