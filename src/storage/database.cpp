#include "storage/database.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/log.hpp"

namespace chinwag::storage {

namespace {

constexpr std::string_view kComponent = "storage";
constexpr int kBusyTimeoutMs = 5000;

// One entry per schema version, applied in order, each in its own transaction together
// with the `PRAGMA user_version` bump, so a crash leaves the database at a whole version.
// Never edit a shipped entry: append a new one.
struct Migration {
    int version;
    const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE contacts (
    id            TEXT PRIMARY KEY NOT NULL,
    instance      TEXT NOT NULL DEFAULT '',
    nick          TEXT NOT NULL DEFAULT '',
    fingerprint   TEXT NOT NULL DEFAULT '',
    trust         TEXT NOT NULL DEFAULT 'unknown',
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    first_seen_ms INTEGER NOT NULL DEFAULT 0,
    last_seen_ms  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX contacts_by_instance ON contacts(instance, last_seen_ms);

-- seq is the rowid; AUTOINCREMENT so a seq is never reused, even after deletions,
-- because history paging and the outbox order rely on it.
CREATE TABLE messages (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL,
    contact_id     TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    direction      TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    body           TEXT NOT NULL,
    timestamp_ms   INTEGER NOT NULL,
    state          TEXT NOT NULL,
    failure_reason TEXT NOT NULL DEFAULT '',
    secure         INTEGER NOT NULL DEFAULT 0,
    verified       INTEGER NOT NULL DEFAULT 0,
    read           INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_by_contact ON messages(contact_id, seq);
-- Incoming ids are unique per sender (duplicates are dropped on receipt); outgoing ids are
-- ours, unique overall, so receipts and state changes can name them alone.
CREATE UNIQUE INDEX messages_incoming_id ON messages(contact_id, id) WHERE direction = 'in';
CREATE UNIQUE INDEX messages_outgoing_id ON messages(id) WHERE direction = 'out';
-- The persistent outbox and the unread counters stay small; partial indexes keep them cheap.
CREATE INDEX messages_outbox ON messages(contact_id, seq)
    WHERE direction = 'out' AND state IN ('queued', 'sent');
CREATE INDEX messages_unread ON messages(contact_id)
    WHERE direction = 'in' AND read = 0;

-- External-content FTS5 index over bodies, kept in sync by triggers.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body, content = 'messages', content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, body) VALUES (new.seq, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.seq, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.seq, old.body);
    INSERT INTO messages_fts(rowid, body) VALUES (new.seq, new.body);
END;
)sql"},
    {2, R"sql(
-- Trust on first *proven* use. Schema 1 pinned a key from its announcement alone, so a contact
-- nobody ever exchanged a message with may hold a key nobody proved (anyone can publish any TXT
-- record), and a flood of announcements stayed for good. Those are forgotten; kept are the
-- contacts with messages (their streams proved the key) and those the user verified.
DELETE FROM contacts WHERE trust <> 'verified'
    AND NOT EXISTS (SELECT 1 FROM messages WHERE messages.contact_id = contacts.id);
)sql"},
    {3, R"sql(
-- XMPP accounts of this profile (storage/account_store.hpp). Passwords are not here: they go
-- to the user's keyring (storage/secret_store.hpp). jid is the normalised bare JID
-- (RFC 7622 §3), the key; jid_typed is what the user entered, for display.
-- roster_version is the last RFC 6121 §2.6 'ver' the server gave; '' means no cached roster,
-- which is exactly what a client sends to bootstrap versioning (§2.6.2).
CREATE TABLE accounts (
    -- AUTOINCREMENT: a removed account's id is never given to a new one, so an id a front
    -- end still holds cannot name the wrong account.
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    jid             TEXT NOT NULL UNIQUE,
    jid_typed       TEXT NOT NULL,
    host            TEXT NOT NULL DEFAULT '',
    port            INTEGER NOT NULL DEFAULT 0 CHECK (port BETWEEN 0 AND 65535),
    cert_sha256     TEXT NOT NULL DEFAULT '',
    enabled         INTEGER NOT NULL DEFAULT 1,
    roster_version  TEXT NOT NULL DEFAULT '',
    created_ms      INTEGER NOT NULL
);
)sql"},
};

constexpr int kCurrentVersion = kMigrations[std::size(kMigrations) - 1].version;

}  // namespace

Error sqlite_error(int rc, std::string_view detail, std::string_view subject)
{
    const std::string what(detail);
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return make_error("disk-full", "the disk is full; " + std::string(subject) + " was not saved");
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return make_error("io", "could not read or write the profile database: " + what);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return make_error("corrupt", "the profile database is damaged: " + what);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return make_error("busy", "the profile database is in use by another program: " + what);
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return make_error("duplicate", std::string(subject) + " already exists: " + what);
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            return make_error("not-found", "no such contact; store the contact before its messages");
        return make_error("invalid", std::string(subject) + " is not valid: " + what);
    default:
        return make_error("db", "profile database error: " + what);
    }
}

// --- Statement --------------------------------------------------------------------------

void Statement::Finalizer::operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }

Statement::Statement(sqlite3_stmt* stmt, std::string_view subject) : stmt_(stmt), subject_(subject) {}

Statement& Statement::bind(int index, std::string_view text)
{
    // SQLITE_TRANSIENT: SQLite copies, so the caller's buffer may die before step().
    // A default string_view has a null data(), which SQLite would store as NULL, not ''.
    const char* data = text.data() ? text.data() : "";
    const int rc = sqlite3_bind_text64(stmt_.get(), index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
}

Statement& Statement::bind(int index, std::int64_t value)
{
    const int rc = sqlite3_bind_int64(stmt_.get(), index, value);
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
}

Statement& Statement::bind_null(int index)
{
    const int rc = sqlite3_bind_null(stmt_.get(), index);
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
}

Result<bool> Statement::step()
{
    if (bind_rc_ != SQLITE_OK) return sqlite_error(bind_rc_, sqlite3_errstr(bind_rc_), subject_);
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sqlite3* db = sqlite3_db_handle(stmt_.get());
    Error e = sqlite_error(sqlite3_extended_errcode(db), sqlite3_errmsg(db), subject_);
    // Reset so the statement releases its locks now, not when it is finalized.
    sqlite3_reset(stmt_.get());
    return e;
}

Result<void> Statement::run()
{
    for (;;) {
        auto r = step();
        if (!r) return r.error();
        if (!*r) return {};
    }
}

std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_.get(), column); }

std::string Statement::text(int column) const
{
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), column));
    if (!p) return {};
    return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), column)));
}

// --- Database ---------------------------------------------------------------------------

void Database::Closer::operator()(sqlite3* db) const
{
    // Statements are owned by their Statement objects and finalized first; sqlite3_close_v2
    // still defers the close safely if one outlives us.
    sqlite3_close_v2(db);
}

Database::Database(std::unique_ptr<sqlite3, Closer> db, std::string path)
    : db_(std::move(db)), path_(std::move(path))
{
}

Database::~Database() = default;

int Database::current_schema_version() { return kCurrentVersion; }

Result<std::unique_ptr<Database>> Database::open(const std::string& path)
{
    const bool in_memory = path.empty() || path == ":memory:";
    if (!in_memory) {
        // The profile holds private conversations: create the file owner-only. SQLite gives
        // the -wal and -shm files the same mode as the database file.
        const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            const int err = errno;
            if (err == ENOSPC)
                return make_error("disk-full", "the disk is full; the profile database could not be created");
            return make_error("io", "could not open the profile database " + path + ": " + std::strerror(err));
        }
        ::close(fd);
    }

    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(in_memory ? ":memory:" : path.c_str(), &raw,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    std::unique_ptr<sqlite3, Closer> handle(raw);
    if (rc != SQLITE_OK) {
        const char* msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
        return sqlite_error(rc, std::string("could not open ") + path + ": " + msg);
    }
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, kBusyTimeoutMs);

    std::unique_ptr<Database> db(new Database(std::move(handle), path));

    // WAL: readers never block the writer, and a commit is one append to the log.
    {
        auto st = db->prepare("PRAGMA journal_mode = WAL");
        if (!st) return st.error();
        auto row = st->step();
        if (!row) return row.error();
        const std::string mode = *row ? st->text(0) : std::string();
        if (mode != "wal" && !(in_memory && mode == "memory"))
            return make_error("io", "the profile database cannot use write-ahead logging on this file system");
    }
    // synchronous=FULL: in WAL mode, every commit fsyncs the log, so once insert_incoming()
    // returns, the row survives a kill or power loss; only then do we send the receipt.
    // journal_size_limit: keep the log from staying huge after one large transaction.
    if (auto r = db->exec("PRAGMA synchronous = FULL;"
                          "PRAGMA foreign_keys = ON;"
                          "PRAGMA journal_size_limit = 4194304;");
        !r)
        return r.error();

    if (auto r = db->migrate(); !r) return r.error();
    return db;
}

Result<void> Database::migrate()
{
    auto st = prepare("PRAGMA user_version");
    if (!st) return st.error();
    auto row = st->step();
    if (!row) return row.error();
    int version = *row ? static_cast<int>(st->int64(0)) : 0;

    if (version > kCurrentVersion)
        return make_error("newer-schema", "profile was written by a newer Chinwag (schema " +
                                              std::to_string(version) + "); this version understands schema " +
                                              std::to_string(kCurrentVersion) + " and will not touch it");

    for (const auto& m : kMigrations) {
        if (m.version <= version) continue;
        auto tx = Transaction::begin(*this, "the database upgrade");
        if (!tx) return tx.error();
        if (auto r = exec(m.sql, "the database upgrade"); !r) return r.error();
        if (auto r = exec("PRAGMA user_version = " + std::to_string(m.version), "the database upgrade"); !r)
            return r.error();
        if (auto r = tx->commit(); !r) return r.error();
        log::info(kComponent, "profile database upgraded to schema " + std::to_string(m.version));
        version = m.version;
    }
    schema_version_ = version;
    return {};
}

Result<Statement> Database::prepare(std::string_view sql, std::string_view subject)
{
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(raw);
        return sqlite_error(sqlite3_extended_errcode(db_.get()), sqlite3_errmsg(db_.get()), subject);
    }
    return Statement(raw, subject);
}

Result<void> Database::exec(std::string_view sql, std::string_view subject)
{
    const std::string text(sql);  // sqlite3_exec needs a NUL-terminated string
    char* msg = nullptr;
    const int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &msg);
    if (rc == SQLITE_OK) return {};
    std::string detail = msg ? msg : sqlite3_errstr(rc);
    sqlite3_free(msg);
    return sqlite_error(sqlite3_extended_errcode(db_.get()), detail, subject);
}

std::int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_.get()); }

int Database::changes() const { return sqlite3_changes(db_.get()); }

bool Database::in_transaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }

Result<void> Database::check_integrity()
{
    auto st = prepare("PRAGMA integrity_check");
    if (!st) return st.error();
    auto row = st->step();
    if (!row) return row.error();
    const std::string first = *row ? st->text(0) : std::string("no answer");
    if (first != "ok") return make_error("corrupt", "the profile database is damaged: " + first);
    return {};
}

// --- Transaction ------------------------------------------------------------------------

Result<Transaction> Transaction::begin(Database& db, std::string_view subject)
{
    if (auto r = db.exec("BEGIN IMMEDIATE", subject); !r) return r.error();
    return Transaction(db, subject);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(other.db_), subject_(std::move(other.subject_))
{
    other.db_ = nullptr;
}

Transaction::~Transaction()
{
    // SQLite may already have rolled back by itself (e.g. after SQLITE_FULL); only roll back
    // a transaction that is still open.
    if (db_ && db_->in_transaction()) {
        if (auto r = db_->exec("ROLLBACK"); !r) log::warning(kComponent, "rollback failed: " + r.error().message);
    }
}

Result<void> Transaction::commit()
{
    if (!db_) return make_error("db", "the transaction is already finished");
    auto r = db_->exec("COMMIT", subject_);
    if (!r) return r;  // the destructor rolls back if SQLite left the transaction open
    db_ = nullptr;
    return {};
}

}  // namespace chinwag::storage
