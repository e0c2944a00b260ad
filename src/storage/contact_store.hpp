// Contacts and trust decisions, persisted in the profile database.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "model/types.hpp"
#include "storage/database.hpp"
#include "util/result.hpp"

namespace chinwag::storage {

// Owns nothing but a reference to the Database; reads and writes the contacts table.
// A read that fails is an error, never an empty answer (trust decisions depend on it).
class ContactStore {
public:
    explicit ContactStore(Database& db) : db_(db) {}

    // Inserts the contact, or updates every field of the stored one except first_seen_ms,
    // which keeps its original value. A zero first_seen_ms on insert becomes last_seen_ms
    // (or now, if that is zero too).
    Result<void> upsert(const model::Contact& contact);

    Result<std::optional<model::Contact>> find(std::string_view id);

    // The contact most recently seen under this DNS-SD instance name. With keyed_only, only
    // contacts with a fingerprint whose trust is Pinned or Verified qualify: a legacy or
    // impostor entry with the same name is never returned.
    Result<std::optional<model::Contact>> find_by_instance(std::string_view instance, bool keyed_only);

    // Every contact, by instance name then id.
    Result<std::vector<model::Contact>> all();

    // Error "not-found" if there is no such contact.
    Result<void> set_trust(std::string_view id, model::Trust trust);

    // Deletes the contact if nothing refers to it (no message either way). Returns whether it
    // was deleted. Used for legacy peers that came and went without a word, so a flood of
    // announcements does not grow the contact list for ever.
    Result<bool> remove_if_unused(std::string_view id);

private:
    Database& db_;
};

}  // namespace chinwag::storage
