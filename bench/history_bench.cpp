// history_bench: MessageStore at scale against SQLite's own queries on the same file.
//
// Owns one temporary profile database. Inserts N messages through MessageStore (batched
// in transactions of 1,000, as an import would; a sample is also inserted the way a
// live message is, one commit each), then times MessageStore::search and
// MessageStore::history against the bare FTS5 / B-tree queries on the same data through
// the SQLite C API. Prints one JSON object on stdout. Usage:
//   history_bench DIR [MESSAGES] [QUERIES]
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "model/types.hpp"
#include "storage/contact_store.hpp"
#include "storage/database.hpp"
#include "storage/message_store.hpp"

using namespace chinwag;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string json_list(const std::vector<double>& v)
{
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%s%.4f", i ? "," : "", v[i]);
        s += buf;
    }
    return s + "]";
}

// A vocabulary with a Zipf-like frequency, so searches hit both common and rare words.
struct Corpus {
    std::vector<std::string> words;
    std::mt19937 rng{42};
    Corpus()
    {
        const char* syll[] = {"ka", "lo", "mi", "ren", "tu", "sa", "vel", "di", "qua", "no", "pe", "zor", "hi", "ba"};
        for (int i = 0; i < 6000; ++i) {
            std::string w;
            int n = 2 + i % 3, x = i;
            for (int k = 0; k < n; ++k) {
                w += syll[x % 14];
                x = x / 14 + k * 7 + 3;
            }
            words.push_back(w + std::to_string(i % 97));
        }
    }
    const std::string& word()
    {
        // rank ~ exp(uniform * ln(size)): heavy head, long tail.
        std::uniform_real_distribution<double> u(0, 1);
        auto idx = static_cast<std::size_t>(std::exp(u(rng) * std::log(double(words.size())))) - 1;
        return words[std::min(idx, words.size() - 1)];
    }
    std::string body()
    {
        std::uniform_int_distribution<int> len(4, 18);
        std::string b;
        for (int i = len(rng); i > 0; --i) {
            if (!b.empty()) b += ' ';
            b += word();
        }
        return b;
    }
};

struct RawDb {
    sqlite3* db = nullptr;
    ~RawDb() { sqlite3_close(db); }
};

// Runs `sql` with ?1 bound to `text`, ?2 to `limit`; returns rows read.
int raw_query(sqlite3* db, const char* sql, const std::string& text, int limit)
{
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) {
        std::fprintf(stderr, "prepare: %s\n", sqlite3_errmsg(db));
        std::exit(1);
    }
    sqlite3_bind_text(st, 1, text.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, limit);
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        // Read what the product reads, so both sides copy the body out.
        for (int c = 0; c < sqlite3_column_count(st); ++c)
            (void)sqlite3_column_text(st, c);
        ++rows;
    }
    sqlite3_finalize(st);
    return rows;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: history_bench DIR [MESSAGES] [QUERIES]\n");
        return 2;
    }
    const std::string path = std::string(argv[1]) + "/chinwag.db";
    const long n = argc > 2 ? std::atol(argv[2]) : 1000000;
    const int queries = argc > 3 ? std::atoi(argv[3]) : 200;
    const int contacts_n = 20;

    auto db = storage::Database::open(path);
    if (!db) {
        std::fprintf(stderr, "open: %s\n", db.error().message.c_str());
        return 1;
    }
    storage::ContactStore contacts(**db);
    storage::MessageStore messages(**db);
    for (int c = 0; c < contacts_n; ++c) {
        model::Contact k;
        k.id = std::string(64, "0123456789abcdef"[c % 16]) .replace(0, 2, std::to_string(10 + c));
        k.instance = "peer" + std::to_string(c) + "@bench";
        k.nick = "peer" + std::to_string(c);
        k.fingerprint = k.id;
        k.trust = model::Trust::Pinned;
        if (auto r = contacts.upsert(k); !r) {
            std::fprintf(stderr, "contact: %s\n", r.error().message.c_str());
            return 1;
        }
    }
    auto contact_id = [&](long i) {
        return std::string(64, "0123456789abcdef"[(i % contacts_n) % 16]).replace(0, 2, std::to_string(10 + i % contacts_n));
    };

    Corpus corpus;
    auto make = [&](long i) {
        model::Message m;
        m.id = "m" + std::to_string(i);
        m.contact_id = contact_id(i);
        m.direction = model::Direction::Incoming;
        m.body = corpus.body();
        m.timestamp_ms = 1700000000000 + i * 1000;
        m.state = model::MessageState::Delivered;
        m.secure = true;
        return m;
    };

    // 1. Live inserts: one commit per message (synchronous=FULL), as the messenger stores them.
    const int live = std::min<long>(500, n);
    std::vector<double> live_ms;
    for (long i = 0; i < live; ++i) {
        auto m = make(i);
        auto t0 = Clock::now();
        if (auto r = messages.insert_incoming(m); !r) {
            std::fprintf(stderr, "insert: %s\n", r.error().message.c_str());
            return 1;
        }
        live_ms.push_back(ms_since(t0));
    }
    // 2. Bulk: the rest through the same API, 1,000 per transaction.
    auto t_bulk = Clock::now();
    long i = live;
    while (i < n) {
        auto tx = storage::Transaction::begin(**db);
        if (!tx) {
            std::fprintf(stderr, "begin: %s\n", tx.error().message.c_str());
            return 1;
        }
        for (long k = 0; k < 1000 && i < n; ++k, ++i) {
            if (auto r = messages.insert_incoming(make(i)); !r) {
                std::fprintf(stderr, "insert: %s\n", r.error().message.c_str());
                return 1;
            }
        }
        if (auto r = tx->commit(); !r) {
            std::fprintf(stderr, "commit: %s\n", r.error().message.c_str());
            return 1;
        }
    }
    const double bulk_s = ms_since(t_bulk) / 1000.0;

    // 3. Bare SQLite baseline for inserts: the same rows into a copy of the schema with one
    // reused prepared statement, same batch size, same file system and pragmas.
    RawDb raw;
    const std::string raw_path = std::string(argv[1]) + "/raw.db";
    sqlite3_open(raw_path.c_str(), &raw.db);
    sqlite3_exec(raw.db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE messages (seq INTEGER PRIMARY KEY, id TEXT, contact_id TEXT, body TEXT, ts INTEGER);"
                 "CREATE INDEX by_contact ON messages(contact_id, seq);"
                 "CREATE VIRTUAL TABLE fts USING fts5(body, content='messages', content_rowid='seq');"
                 "CREATE TRIGGER fts_ins AFTER INSERT ON messages BEGIN "
                 "INSERT INTO fts(rowid, body) VALUES (new.seq, new.body); END;",
                 nullptr, nullptr, nullptr);
    const long raw_n = std::min<long>(n, 200000);
    Corpus corpus2;
    sqlite3_stmt* ins = nullptr;
    sqlite3_prepare_v2(raw.db, "INSERT INTO messages (id, contact_id, body, ts) VALUES (?1, ?2, ?3, ?4)", -1, &ins,
                       nullptr);
    auto t_raw = Clock::now();
    for (long j = 0; j < raw_n;) {
        sqlite3_exec(raw.db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
        for (long k = 0; k < 1000 && j < raw_n; ++k, ++j) {
            std::string id = "m" + std::to_string(j), c = contact_id(j), b = corpus2.body();
            sqlite3_bind_text(ins, 1, id.c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 2, c.c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 3, b.c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(ins, 4, 1700000000000 + j * 1000);
            sqlite3_step(ins);
            sqlite3_reset(ins);
        }
        sqlite3_exec(raw.db, "COMMIT", nullptr, nullptr, nullptr);
    }
    const double raw_s = ms_since(t_raw) / 1000.0;
    sqlite3_finalize(ins);
    // Live-insert baseline: one commit per row, same count.
    std::vector<double> raw_live_ms;
    sqlite3_prepare_v2(raw.db, "INSERT INTO messages (id, contact_id, body, ts) VALUES (?1, ?2, ?3, ?4)", -1, &ins,
                       nullptr);
    for (int j = 0; j < live; ++j) {
        std::string id = "live" + std::to_string(j), c = contact_id(j), b = corpus2.body();
        auto t0 = Clock::now();
        sqlite3_bind_text(ins, 1, id.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 2, c.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 3, b.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 4, 0);
        sqlite3_step(ins);
        sqlite3_reset(ins);
        raw_live_ms.push_back(ms_since(t0));
    }
    sqlite3_finalize(ins);
    sqlite3_close(raw.db);
    raw.db = nullptr;

    // 4. Queries on the product database: the product API, then the bare FTS5 / index
    // queries through a second connection to the same file (same page cache conditions).
    sqlite3* bare = nullptr;
    sqlite3_open_v2(path.c_str(), &bare, SQLITE_OPEN_READONLY, nullptr);
    RawDb bare_owner;
    bare_owner.db = bare;
    std::mt19937 qrng(7);
    std::vector<std::string> terms;
    for (int q = 0; q < queries; ++q) {
        std::string w = corpus.word();
        if (q % 4 == 3) w = w.substr(0, std::max<std::size_t>(3, w.size() / 2));  // a prefix, as typed
        if (q % 5 == 4) w += " " + corpus.word();                                      // two words
        terms.push_back(w);
    }
    std::vector<double> search_ms, fts_ms, page_ms, bare_page_ms;
    long hits = 0;
    // Warm both paths once so neither pays for the cold cache alone.
    messages.search(terms[0], 50);
    raw_query(bare, "SELECT rowid, body FROM messages_fts WHERE messages_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2",
              storage::fts_query(terms[0]), 50);
    for (int q = 0; q < queries; ++q) {
        auto t0 = Clock::now();
        auto r = messages.search(terms[q], 50);
        search_ms.push_back(ms_since(t0));
        hits += static_cast<long>(r.size());
        // SQLite's own FTS5 query for the same words (the same MATCH expression).
        const std::string match = storage::fts_query(terms[q]);
        t0 = Clock::now();
        raw_query(bare, "SELECT rowid, body FROM messages_fts WHERE messages_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2",
                  match, 50);
        fts_ms.push_back(ms_since(t0));

        const std::string c = contact_id(q);
        t0 = Clock::now();
        auto page = messages.history(c, 50);
        page_ms.push_back(ms_since(t0));
        t0 = Clock::now();
        raw_query(bare,
                  "SELECT seq, id, contact_id, direction, body, timestamp_ms, state, failure_reason, secure, "
                  "verified FROM messages WHERE contact_id = ?1 ORDER BY seq DESC LIMIT ?2",
                  c, 50);
        bare_page_ms.push_back(ms_since(t0));
    }
    std::printf("{\"messages\": %ld, \"bulk_insert_s\": %.3f, \"raw_rows\": %ld, \"raw_insert_s\": %.3f, "
                "\"live_insert_ms\": %s, \"raw_live_insert_ms\": %s, \"search_ms\": %s, \"fts_ms\": %s, "
                "\"page_ms\": %s, \"bare_page_ms\": %s, \"search_hits\": %ld}\n",
                n, bulk_s, raw_n, raw_s, json_list(live_ms).c_str(), json_list(raw_live_ms).c_str(),
                json_list(search_ms).c_str(), json_list(fts_ms).c_str(), json_list(page_ms).c_str(),
                json_list(bare_page_ms).c_str(), hits);
    return 0;
}
