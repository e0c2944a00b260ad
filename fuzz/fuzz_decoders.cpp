// libFuzzer target: decoders of stored or received records.
//
//  - crypto: normalize_fingerprint / format_fingerprint / safety_number (typed or pasted by a
//    person, or read from a TXT record) and certificate_fingerprint (a peer's certificate,
//    DER and PEM);
//  - storage: fts_query (what the user types into search) run as a real FTS5 MATCH on an
//    in-memory SQLite table made like messages_fts: it must never be an FTS5 syntax error,
//    and a message holding exactly the typed words must be found;
//  - model: the *_from_string decoders of stored enum columns and legacy contact ids.
//
// Input: [selector][bytes...]; the selector only picks the pem flag and where to cut the
// bytes into two fingerprints.
#include "crypto/fingerprint.hpp"
#include "fuzz/fuzz_check.hpp"
#include "model/types.hpp"
#include "storage/message_store.hpp"

#include <glib.h>
#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace chinwag;

namespace {

// One in-memory database for the whole run, with the product's FTS5 table definition
// (src/storage/database.cpp).
sqlite3* fts_db()
{
    static sqlite3* db = [] {
        sqlite3* d = nullptr;
        FUZZ_CHECK(sqlite3_open(":memory:", &d) == SQLITE_OK);
        FUZZ_CHECK(sqlite3_exec(d,
                                "CREATE VIRTUAL TABLE messages_fts USING fts5(body, "
                                "tokenize = 'unicode61 remove_diacritics 2');",
                                nullptr, nullptr, nullptr) == SQLITE_OK);
        return d;
    }();
    return db;
}

// Rows matching `match`, or -1 (and the error printed) if SQLite refused the query.
int count_matches(const std::string& match)
{
    sqlite3_stmt* st = nullptr;
    FUZZ_CHECK(sqlite3_prepare_v2(fts_db(), "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?1",
                                  -1, &st, nullptr) == SQLITE_OK);
    sqlite3_bind_text(st, 1, match.data(), static_cast<int>(match.size()), SQLITE_TRANSIENT);
    int n = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    else
        std::fprintf(stderr, "MATCH %s: %s\n", match.c_str(), sqlite3_errmsg(fts_db()));
    sqlite3_finalize(st);
    return n;
}

void check_fts(std::string_view input)
{
    const std::string match = storage::fts_query(input);
    if (match.empty())
        return;
    sqlite3* db = fts_db();
    FUZZ_CHECK(sqlite3_exec(db, "DELETE FROM messages_fts", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    FUZZ_CHECK(sqlite3_prepare_v2(db, "INSERT INTO messages_fts (rowid, body) VALUES (1, ?1)", -1, &st,
                                  nullptr) == SQLITE_OK);
    sqlite3_bind_text(st, 1, input.data(), static_cast<int>(input.size()), SQLITE_TRANSIENT);
    FUZZ_CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
    const int n = count_matches(match);
    FUZZ_CHECK(n >= 0);
    // A body made of exactly the words searched for is found (valid UTF-8 only: the
    // tokenizer's reading of broken bytes is SQLite's business).
    if (g_utf8_validate(input.data(), static_cast<gssize>(input.size()), nullptr) &&
        input.find('\0') == std::string_view::npos)
        FUZZ_CHECK(n == 1);
}

void check_fingerprints(std::string_view a, std::string_view b)
{
    const std::string fa = crypto::normalize_fingerprint(a);
    FUZZ_CHECK(fa.empty() || crypto::is_fingerprint(fa));
    const std::string formatted = crypto::format_fingerprint(a);
    FUZZ_CHECK(formatted.empty() == fa.empty());
    if (!fa.empty()) {
        FUZZ_CHECK(formatted.size() == 64 + 15);
        FUZZ_CHECK(crypto::normalize_fingerprint(formatted) == fa);
    }
    const std::string ab = crypto::safety_number(a, b);
    FUZZ_CHECK(ab == crypto::safety_number(b, a));
    FUZZ_CHECK(ab.empty() == (fa.empty() || crypto::normalize_fingerprint(b).empty()));
    if (!ab.empty())
        FUZZ_CHECK(ab.size() == 35);
}

template <typename E, typename From>
void check_enum(std::string_view s, From from)
{
    if (auto v = from(s)) {
        // Every name reads back as itself; the one legacy alias ("unknown", what schema 1
        // wrote for Trust::Unknown, now written "unchecked") reads as the value it names.
        FUZZ_CHECK(from(model::to_string(*v)) == v);
        FUZZ_CHECK(model::to_string(*v) == s || s == "unknown");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 1)
        return 0;
    const std::uint8_t sel = data[0];
    const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::size_t cut = bytes.empty() ? 0 : sel % (bytes.size() + 1);

    check_fingerprints(bytes.substr(0, cut), bytes.substr(cut));
    check_fingerprints(bytes, bytes);

    auto cert = crypto::certificate_fingerprint(bytes, (sel & 1) != 0);
    if (cert)
        FUZZ_CHECK(crypto::is_fingerprint(*cert));
    else
        FUZZ_CHECK(cert.error().code == "invalid");

    check_fts(bytes);

    check_enum<model::Status>(bytes, model::status_from_string);
    check_enum<model::Trust>(bytes, model::trust_from_string);
    check_enum<model::MessageState>(bytes, model::message_state_from_string);
    check_enum<model::Direction>(bytes, model::direction_from_string);
    if (auto s = model::status_from_xep0174(bytes))
        FUZZ_CHECK(model::to_xep0174(*s) == bytes);
    FUZZ_CHECK(model::is_legacy_contact_id(model::legacy_contact_id(bytes)));
    return 0;
}
