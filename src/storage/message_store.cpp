#include "storage/message_store.hpp"

#include <glib.h>

#include <algorithm>
#include <limits>

#include "util/clock.hpp"
#include "util/log.hpp"

namespace chinwag::storage {

namespace {

constexpr std::string_view kComponent = "storage";
constexpr std::string_view kSubject = "the message";
constexpr const char* kColumns =
    "m.seq, m.id, m.contact_id, m.direction, m.body, m.timestamp_ms, m.state, m.failure_reason, "
    "m.secure, m.verified";

model::Message read_message(const Statement& st)
{
    model::Message m;
    m.seq = st.int64(0);
    m.id = st.text(1);
    m.contact_id = st.text(2);
    m.direction = model::direction_from_string(st.text(3)).value_or(model::Direction::Incoming);
    m.body = st.text(4);
    m.timestamp_ms = st.int64(5);
    m.state = model::message_state_from_string(st.text(6)).value_or(model::MessageState::Failed);
    m.failure_reason = st.text(7);
    m.secure = st.int64(8) != 0;
    m.verified = st.int64(9) != 0;
    return m;
}

bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v' || ch == '\0';
}

// True if the unicode61 tokenizer would find a token in `word`: its default token
// characters are the Unicode categories L*, N* and Co (SQLite FTS5 docs, "Unicode61
// Tokenizer", categories option). Bytes that are not valid UTF-8 count, to be safe.
bool has_token_char(std::string_view word)
{
    const char* p = word.data();
    const char* end = p + word.size();
    while (p < end) {
        const gunichar ch = g_utf8_get_char_validated(p, end - p);
        if (ch == static_cast<gunichar>(-1) || ch == static_cast<gunichar>(-2)) return true;
        switch (g_unichar_type(ch)) {
        case G_UNICODE_LOWERCASE_LETTER:
        case G_UNICODE_MODIFIER_LETTER:
        case G_UNICODE_OTHER_LETTER:
        case G_UNICODE_TITLECASE_LETTER:
        case G_UNICODE_UPPERCASE_LETTER:
        case G_UNICODE_DECIMAL_NUMBER:
        case G_UNICODE_LETTER_NUMBER:
        case G_UNICODE_OTHER_NUMBER:
        case G_UNICODE_PRIVATE_USE:
            return true;
        default:
            break;
        }
        p = g_utf8_next_char(p);
    }
    return false;
}

}  // namespace

std::string fts_query(std::string_view input)
{
    std::vector<std::string_view> words;
    std::size_t i = 0;
    while (i < input.size()) {
        while (i < input.size() && is_space(input[i])) ++i;
        const std::size_t start = i;
        while (i < input.size() && !is_space(input[i])) ++i;
        if (i > start) {
            const auto word = input.substr(start, i - start);
            if (has_token_char(word)) words.push_back(word);
        }
    }
    std::string out;
    for (std::size_t w = 0; w < words.size(); ++w) {
        if (w) out += " AND ";
        // FTS5 §3.1: a string in double quotes is always a plain phrase; a quote inside it
        // is written twice. Operators (AND, NEAR, -, *, ^) inside quotes are just text.
        out += '"';
        for (char ch : words[w]) {
            if (ch == '"') out += '"';
            out += ch;
        }
        out += '"';
        if (w + 1 == words.size()) out += '*';  // FTS5 §3.3: prefix query, for search-as-you-type
    }
    return out;
}

Result<bool> MessageStore::insert_incoming(const model::Message& m)
{
    auto st = db_.prepare(
        "INSERT INTO messages (id, contact_id, direction, body, timestamp_ms, state, failure_reason, "
        "secure, verified, read) VALUES (?1, ?2, 'in', ?3, ?4, ?5, ?6, ?7, ?8, 0) "
        "ON CONFLICT (contact_id, id) WHERE direction = 'in' DO NOTHING",
        kSubject);
    if (!st) return st.error();
    st->bind(1, m.id)
        .bind(2, m.contact_id)
        .bind(3, m.body)
        .bind(4, m.timestamp_ms)
        .bind(5, model::to_string(m.state))
        .bind(6, m.failure_reason)
        .bind(7, std::int64_t{m.secure})
        .bind(8, std::int64_t{m.verified});
    if (auto r = st->run(); !r) return r.error();
    return db_.changes() > 0;
}

Result<model::Message> MessageStore::insert_outgoing(model::Message m)
{
    m.direction = model::Direction::Outgoing;
    m.state = model::MessageState::Queued;
    m.failure_reason.clear();
    if (m.id.empty()) m.id = random_id();
    if (m.timestamp_ms == 0) m.timestamp_ms = now_ms();
    auto st = db_.prepare(
        "INSERT INTO messages (id, contact_id, direction, body, timestamp_ms, state, failure_reason, "
        "secure, verified, read) VALUES (?1, ?2, 'out', ?3, ?4, 'queued', '', ?5, ?6, 1)",
        kSubject);
    if (!st) return st.error();
    st->bind(1, m.id)
        .bind(2, m.contact_id)
        .bind(3, m.body)
        .bind(4, m.timestamp_ms)
        .bind(5, std::int64_t{m.secure})
        .bind(6, std::int64_t{m.verified});
    if (auto r = st->run(); !r) return r.error();
    m.seq = db_.last_insert_rowid();
    return m;
}

Result<void> MessageStore::set_state(std::string_view id, model::MessageState state, std::string_view reason)
{
    if (state != model::MessageState::Failed) reason = {};
    auto st = db_.prepare(
        "UPDATE messages SET state = ?1, failure_reason = ?2 "
        "WHERE direction = 'out' AND id = ?3 AND state <> 'delivered'",
        kSubject);
    if (!st) return st.error();
    st->bind(1, model::to_string(state)).bind(2, reason).bind(3, id);
    if (auto r = st->run(); !r) return r;
    if (db_.changes() > 0) return {};
    // Nothing changed: either the message is already Delivered (final), or there is none.
    if (find_outgoing(id)) return {};
    return make_error("not-found", "no such outgoing message");
}

std::optional<model::Message> MessageStore::find_outgoing(std::string_view id)
{
    auto rows = query("WHERE m.direction = 'out' AND m.id = ?1", [&](Statement& st) { st.bind(1, id); });
    if (rows.empty()) return std::nullopt;
    return std::move(rows.front());
}

std::vector<model::Message> MessageStore::pending(std::string_view contact_id)
{
    return query("WHERE m.contact_id = ?1 AND m.direction = 'out' AND m.state IN ('queued', 'sent') "
                 "ORDER BY m.seq",
                 [&](Statement& st) { st.bind(1, contact_id); });
}

std::vector<std::string> MessageStore::contacts_with_pending()
{
    std::vector<std::string> out;
    auto st = db_.prepare("SELECT DISTINCT contact_id FROM messages "
                          "WHERE direction = 'out' AND state IN ('queued', 'sent')",
                          kSubject);
    if (!st) {
        log::error(kComponent, "outbox query failed: " + st.error().message);
        return out;
    }
    for (;;) {
        auto row = st->step();
        if (!row) {
            log::error(kComponent, "outbox query failed: " + row.error().message);
            break;
        }
        if (!*row) break;
        out.push_back(st->text(0));
    }
    return out;
}

std::vector<model::Message> MessageStore::history(std::string_view contact_id, int limit, std::int64_t before_seq)
{
    if (limit <= 0) return {};
    if (before_seq <= 0) before_seq = std::numeric_limits<std::int64_t>::max();
    // Walks messages_by_contact (contact_id, seq) backwards from before_seq: cost grows with
    // `limit`, not with the size of the history.
    auto rows = query("WHERE m.contact_id = ?1 AND m.seq < ?2 ORDER BY m.seq DESC LIMIT ?3",
                      [&](Statement& st) { st.bind(1, contact_id).bind(2, before_seq).bind(3, std::int64_t{limit}); });
    std::reverse(rows.begin(), rows.end());
    return rows;
}

std::vector<model::Message> MessageStore::search(std::string_view text, int limit)
{
    if (limit <= 0) return {};
    const std::string match = fts_query(text);
    if (match.empty()) return {};
    return query("JOIN messages_fts ON messages_fts.rowid = m.seq "
                 "WHERE messages_fts MATCH ?1 ORDER BY messages_fts.rowid DESC LIMIT ?2",
                 [&](Statement& st) { st.bind(1, match).bind(2, std::int64_t{limit}); });
}

int MessageStore::unread_count(std::string_view contact_id)
{
    auto st = db_.prepare("SELECT count(*) FROM messages WHERE contact_id = ?1 AND direction = 'in' AND read = 0",
                          kSubject);
    if (!st) {
        log::error(kComponent, "unread count failed: " + st.error().message);
        return 0;
    }
    st->bind(1, contact_id);
    auto row = st->step();
    if (!row) {
        log::error(kComponent, "unread count failed: " + row.error().message);
        return 0;
    }
    return *row ? static_cast<int>(st->int64(0)) : 0;
}

Result<void> MessageStore::mark_read(std::string_view contact_id)
{
    auto st = db_.prepare("UPDATE messages SET read = 1 WHERE contact_id = ?1 AND direction = 'in' AND read = 0",
                          "the read marker");
    if (!st) return st.error();
    st->bind(1, contact_id);
    return st->run();
}

std::vector<model::Message> MessageStore::query(std::string_view sql_tail,
                                                const std::function<void(Statement&)>& bind)
{
    std::vector<model::Message> out;
    auto st = db_.prepare(std::string("SELECT ") + kColumns + " FROM messages m " + std::string(sql_tail), kSubject);
    if (!st) {
        log::error(kComponent, "message query failed: " + st.error().message);
        return out;
    }
    bind(*st);
    for (;;) {
        auto row = st->step();
        if (!row) {
            log::error(kComponent, "message query failed: " + row.error().message);
            break;
        }
        if (!*row) break;
        out.push_back(read_message(*st));
    }
    return out;
}

}  // namespace chinwag::storage
