#include "storage/contact_store.hpp"

#include "util/clock.hpp"

namespace chinwag::storage {

namespace {

constexpr std::string_view kSubject = "the contact";
constexpr const char* kColumns =
    "id, instance, nick, fingerprint, trust, first_name, last_name, email, first_seen_ms, last_seen_ms";

model::Contact read_contact(const Statement& st)
{
    model::Contact c;
    c.id = st.text(0);
    c.instance = st.text(1);
    c.nick = st.text(2);
    c.fingerprint = st.text(3);
    c.trust = model::trust_from_string(st.text(4)).value_or(model::Trust::Unknown);
    c.first_name = st.text(5);
    c.last_name = st.text(6);
    c.email = st.text(7);
    c.first_seen_ms = st.int64(8);
    c.last_seen_ms = st.int64(9);
    return c;
}

// Runs a contact query and collects every row. A failed read is an error, never a shorter
// answer: trust decisions read "no such contact" as "new contact".
Result<std::vector<model::Contact>> collect(Result<Statement>& st)
{
    if (!st) return st.error();
    std::vector<model::Contact> out;
    for (;;) {
        auto row = st->step();
        if (!row) return row.error();
        if (!*row) break;
        out.push_back(read_contact(*st));
    }
    return out;
}

Result<std::optional<model::Contact>> first_of(Result<std::vector<model::Contact>> rows)
{
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<model::Contact>();
    return std::optional<model::Contact>(std::move(rows->front()));
}

}  // namespace

Result<void> ContactStore::upsert(const model::Contact& c)
{
    std::int64_t first_seen = c.first_seen_ms;
    if (first_seen == 0) first_seen = c.last_seen_ms != 0 ? c.last_seen_ms : now_ms();
    auto st = db_.prepare(std::string("INSERT INTO contacts (") + kColumns +
                              ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                              "ON CONFLICT (id) DO UPDATE SET instance = excluded.instance, "
                              "nick = excluded.nick, fingerprint = excluded.fingerprint, "
                              "trust = excluded.trust, first_name = excluded.first_name, "
                              "last_name = excluded.last_name, email = excluded.email, "
                              "last_seen_ms = excluded.last_seen_ms",
                          kSubject);
    if (!st) return st.error();
    st->bind(1, c.id)
        .bind(2, c.instance)
        .bind(3, c.nick)
        .bind(4, c.fingerprint)
        .bind(5, model::to_string(c.trust))
        .bind(6, c.first_name)
        .bind(7, c.last_name)
        .bind(8, c.email)
        .bind(9, first_seen)
        .bind(10, c.last_seen_ms);
    return st->run();
}

Result<std::optional<model::Contact>> ContactStore::find(std::string_view id)
{
    auto st = db_.prepare(std::string("SELECT ") + kColumns + " FROM contacts WHERE id = ?1", kSubject);
    if (st) st->bind(1, id);
    return first_of(collect(st));
}

Result<std::optional<model::Contact>> ContactStore::find_by_instance(std::string_view instance, bool keyed_only)
{
    std::string sql = std::string("SELECT ") + kColumns + " FROM contacts WHERE instance = ?1";
    if (keyed_only) sql += " AND fingerprint <> '' AND trust IN ('pinned', 'verified')";
    // rowid breaks ties so the answer is stable when two contacts share a timestamp.
    sql += " ORDER BY last_seen_ms DESC, rowid DESC LIMIT 1";
    auto st = db_.prepare(sql, kSubject);
    if (st) st->bind(1, instance);
    return first_of(collect(st));
}

Result<std::vector<model::Contact>> ContactStore::all()
{
    auto st = db_.prepare(std::string("SELECT ") + kColumns + " FROM contacts ORDER BY instance, id", kSubject);
    return collect(st);
}

Result<void> ContactStore::set_trust(std::string_view id, model::Trust trust)
{
    auto st = db_.prepare("UPDATE contacts SET trust = ?1 WHERE id = ?2", kSubject);
    if (!st) return st.error();
    st->bind(1, model::to_string(trust)).bind(2, id);
    if (auto r = st->run(); !r) return r;
    if (db_.changes() == 0) return make_error("not-found", "no such contact");
    return {};
}

Result<bool> ContactStore::remove_if_unused(std::string_view id)
{
    auto st = db_.prepare("DELETE FROM contacts WHERE id = ?1 AND NOT EXISTS "
                          "(SELECT 1 FROM messages WHERE contact_id = ?1)",
                          kSubject);
    if (!st) return st.error();
    st->bind(1, id);
    if (auto r = st->run(); !r) return r.error();
    return db_.changes() > 0;
}

}  // namespace chinwag::storage
