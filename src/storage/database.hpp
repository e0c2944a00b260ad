// The profile database: one SQLite connection, its schema migrations and error mapping.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "util/result.hpp"

// Forward declarations keep sqlite3.h out of every header outside storage/*.cpp.
struct sqlite3;
struct sqlite3_stmt;

namespace chinwag::storage {

// Translates an SQLite result code into an Error. Codes: "disk-full" (SQLITE_FULL), "io",
// "corrupt", "busy", "duplicate" (unique constraint), "not-found" (foreign key: unknown
// contact), "db" (everything else). `subject` names what was being saved, e.g. "the message",
// so the disk-full sentence reads "the disk is full; the message was not saved".
Error sqlite_error(int rc, std::string_view detail, std::string_view subject = "the change");

// Owns one prepared statement; finalized when it goes out of scope.
class Statement {
public:
    Statement(Statement&&) noexcept = default;
    Statement& operator=(Statement&&) noexcept = default;
    ~Statement() = default;

    // Parameters are 1-based, as in SQLite. A failed bind is reported by the next step().
    Statement& bind(int index, std::string_view text);
    Statement& bind(int index, std::int64_t value);
    Statement& bind_null(int index);

    // Ok(true): a row is ready to read; Ok(false): the statement is done.
    Result<bool> step();
    // Steps until done; for statements that return no rows.
    Result<void> run();

    // Columns are 0-based. NULL reads as 0 / "".
    std::int64_t int64(int column) const;
    std::string text(int column) const;

private:
    friend class Database;
    struct Finalizer {
        void operator()(sqlite3_stmt* s) const;
    };
    Statement(sqlite3_stmt* stmt, std::string_view subject);

    std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
    std::string subject_;
    int bind_rc_ = 0;  // first failed bind, SQLITE_OK if none
};

// Owns one sqlite3 connection to a profile database file.
class Database {
public:
    // The schema version this build writes; see the migration list in database.cpp.
    static int current_schema_version();

    // Opens (creating if needed, mode 0600) and migrates the database at `path`.
    // WAL journal, synchronous=FULL (a commit is on disk before the call that made it
    // returns), foreign keys on, a busy timeout. Refuses a database whose schema is newer
    // than this build knows ("newer-schema").
    static Result<std::unique_ptr<Database>> open(const std::string& path);

    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;
    ~Database();

    int schema_version() const { return schema_version_; }
    const std::string& path() const { return path_; }

    // For the stores in this folder. Statements are prepared per call: preparing costs
    // microseconds, far below a synchronous commit, and keeps statement ownership trivial.
    Result<Statement> prepare(std::string_view sql, std::string_view subject = "the change");
    // Runs one or more parameterless statements.
    Result<void> exec(std::string_view sql, std::string_view subject = "the change");

    std::int64_t last_insert_rowid() const;
    int changes() const;  // rows changed by the last INSERT/UPDATE/DELETE
    bool in_transaction() const;

    // Full `PRAGMA integrity_check`; Error "corrupt" with SQLite's first complaint otherwise.
    Result<void> check_integrity();

private:
    struct Closer {
        void operator()(sqlite3* db) const;
    };
    Database(std::unique_ptr<sqlite3, Closer> db, std::string path);
    Result<void> migrate();

    std::unique_ptr<sqlite3, Closer> db_;
    std::string path_;
    int schema_version_ = 0;
};

// Owns one open transaction: rolled back on destruction unless commit() succeeded.
class Transaction {
public:
    // BEGIN IMMEDIATE: takes the write lock up front, so a busy database fails here
    // (after the busy timeout) rather than half-way through.
    static Result<Transaction> begin(Database& db, std::string_view subject = "the change");

    Transaction(Transaction&& other) noexcept;
    Transaction& operator=(Transaction&&) = delete;
    ~Transaction();

    Result<void> commit();

private:
    Transaction(Database& db, std::string_view subject) : db_(&db), subject_(subject) {}

    Database* db_;
    std::string subject_;
};

}  // namespace chinwag::storage
