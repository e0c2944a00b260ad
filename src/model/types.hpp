// The messenger's vocabulary: contacts, messages and their states, shared by every layer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chinwag::model {

// Own or a peer's availability. XEP-0174 §3.4 TXT "status": avail / away / dnd.
enum class Status { Available, Away, Busy };

// What we know about who is behind a contact.
enum class Trust {
    Unknown,   // "unchecked": a key announced, not yet proven in a TLS stream; not pinned
    Pinned,    // key pinned on first use, not compared out of band
    Verified,  // the users compared the safety number
    Impostor,  // claimed a pinned contact's name with a different key
    Legacy,    // no key at all (Pidgin/finch/iChat Bonjour): plaintext, unverified
};

enum class MessageState { Queued, Sent, Delivered, Failed };
enum class Direction { Incoming, Outgoing };

std::string_view to_string(Status s);          // "available" | "away" | "busy"
std::string_view to_string(Trust t);           // "unchecked" | "pinned" | "verified" | "impostor" | "legacy"
std::string_view to_string(MessageState s);    // "queued" | "sent" | "delivered" | "failed"
std::string_view to_string(Direction d);       // "in" | "out"
std::optional<Status> status_from_string(std::string_view s);
std::optional<Trust> trust_from_string(std::string_view s);
std::optional<MessageState> message_state_from_string(std::string_view s);
std::optional<Direction> direction_from_string(std::string_view s);

// XEP-0174 wire values for Status.
std::string_view to_xep0174(Status s);                        // "avail" | "away" | "dnd"
std::optional<Status> status_from_xep0174(std::string_view s);

// A person we have seen. For Chinwag peers the id is the lowercase hex SHA-256 fingerprint
// of their public key, so a key is a contact; for legacy peers it is "legacy:" + instance.
struct Contact {
    std::string id;
    std::string instance;      // last DNS-SD instance name seen, e.g. "alice@lab-3"
    std::string nick;
    std::string fingerprint;   // empty for legacy peers
    Trust trust = Trust::Unknown;
    std::string first_name, last_name, email;  // only what the peer chose to publish
    std::int64_t first_seen_ms = 0;
    std::int64_t last_seen_ms = 0;
};

std::string legacy_contact_id(std::string_view instance);
bool is_legacy_contact_id(std::string_view id);

struct Message {
    std::int64_t seq = 0;      // local insertion order (SQLite rowid); 0 before storing
    std::string id;            // stanza id, unique per sender
    std::string contact_id;
    Direction direction = Direction::Outgoing;
    std::string body;
    std::int64_t timestamp_ms = 0;
    MessageState state = MessageState::Queued;
    std::string failure_reason;  // set when state == Failed
    bool secure = false;         // went over an authenticated TLS stream
    bool verified = false;       // the contact was Verified when it was sent/received
};

}  // namespace chinwag::model
