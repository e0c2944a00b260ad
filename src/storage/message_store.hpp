// Message history, the persistent outbox and full-text search, in the profile database.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/types.hpp"
#include "storage/database.hpp"
#include "util/result.hpp"

namespace chinwag::storage {

// Turns what a user typed into an FTS5 MATCH expression that can never be a syntax error:
// every word becomes a quoted string ("" escapes a quote), words are AND-ed, and the last
// word matches as a prefix. Words without a letter or digit are dropped, since they would
// be empty phrases that match nothing. Returns "" when no word is left.
std::string fts_query(std::string_view user_input);

// Owns nothing but a reference to the Database; reads and writes the messages table and its
// full-text index. A message's contact must be stored (ContactStore::upsert) first.
// Reads log a database error and answer "nothing" rather than failing the caller.
class MessageStore {
public:
    explicit MessageStore(Database& db) : db_(db) {}

    // Stores a received message, unread. Ok(false), and nothing changes, if a message with
    // the same (contact_id, id) was already received: a resent message is dropped on receipt.
    // Once this returns Ok, the row is on disk (synchronous=FULL), so a receipt may be sent.
    Result<bool> insert_incoming(const model::Message& message);

    // Stores a message to send, forcing direction Outgoing and state Queued. An empty id gets
    // a fresh random one and a zero timestamp becomes now. Returns it with seq set.
    // Error "duplicate" if an outgoing message with this id exists.
    Result<model::Message> insert_outgoing(model::Message message);

    // Changes the state of an outgoing message; `reason` is kept only for Failed. Delivered
    // is final: a late Sent/Failed after the receipt arrived leaves it Delivered (Ok).
    // Error "not-found" if there is no such outgoing message.
    Result<void> set_state(std::string_view id, model::MessageState state, std::string_view reason = {});
    std::optional<model::Message> find_outgoing(std::string_view id);

    // The persistent outbox: outgoing messages to this contact still Queued or Sent (written
    // to a stream but no receipt yet), oldest first.
    std::vector<model::Message> pending(std::string_view contact_id);
    // Contacts that have at least one pending message, in no particular order.
    std::vector<std::string> contacts_with_pending();

    // The latest `limit` messages with this contact (only those with seq < before_seq when
    // before_seq is non-zero), returned oldest first. Page back by passing the first seq.
    std::vector<model::Message> history(std::string_view contact_id, int limit, std::int64_t before_seq = 0);

    // Messages whose body contains every word of `query` (the last one as a prefix),
    // ignoring case and diacritics, newest first. Any input is safe; see fts_query().
    std::vector<model::Message> search(std::string_view query, int limit);

    int unread_count(std::string_view contact_id);
    Result<void> mark_read(std::string_view contact_id);

private:
    // SELECT <message columns> FROM messages m <sql_tail>, parameters bound by `bind`.
    std::vector<model::Message> query(std::string_view sql_tail, const std::function<void(Statement&)>& bind);

    Database& db_;
};

}  // namespace chinwag::storage
