#include "model/types.hpp"

namespace chinwag::model {

namespace {
constexpr std::string_view kLegacyPrefix = "legacy:";
}

std::string_view to_string(Status s)
{
    switch (s) {
    case Status::Available: return "available";
    case Status::Away: return "away";
    case Status::Busy: return "busy";
    }
    return "available";
}

std::string_view to_string(Trust t)
{
    switch (t) {
    case Trust::Unknown: return "unchecked";
    case Trust::Pinned: return "pinned";
    case Trust::Verified: return "verified";
    case Trust::Impostor: return "impostor";
    case Trust::Legacy: return "legacy";
    }
    return "unchecked";
}

std::string_view to_string(MessageState s)
{
    switch (s) {
    case MessageState::Queued: return "queued";
    case MessageState::Sent: return "sent";
    case MessageState::Delivered: return "delivered";
    case MessageState::Failed: return "failed";
    }
    return "queued";
}

std::string_view to_string(Direction d) { return d == Direction::Incoming ? "in" : "out"; }

std::optional<Status> status_from_string(std::string_view s)
{
    if (s == "available") return Status::Available;
    if (s == "away") return Status::Away;
    if (s == "busy") return Status::Busy;
    return std::nullopt;
}

std::optional<Trust> trust_from_string(std::string_view s)
{
    if (s == "unknown")  // what schema 1 wrote for Unknown
        return Trust::Unknown;
    for (Trust t : {Trust::Unknown, Trust::Pinned, Trust::Verified, Trust::Impostor, Trust::Legacy})
        if (to_string(t) == s)
            return t;
    return std::nullopt;
}

std::optional<MessageState> message_state_from_string(std::string_view s)
{
    for (MessageState m : {MessageState::Queued, MessageState::Sent, MessageState::Delivered, MessageState::Failed})
        if (to_string(m) == s)
            return m;
    return std::nullopt;
}

std::optional<Direction> direction_from_string(std::string_view s)
{
    if (s == "in") return Direction::Incoming;
    if (s == "out") return Direction::Outgoing;
    return std::nullopt;
}

std::string_view to_xep0174(Status s)
{
    switch (s) {
    case Status::Available: return "avail";
    case Status::Away: return "away";
    case Status::Busy: return "dnd";
    }
    return "avail";
}

std::optional<Status> status_from_xep0174(std::string_view s)
{
    if (s == "avail") return Status::Available;
    if (s == "away") return Status::Away;
    if (s == "dnd") return Status::Busy;
    return std::nullopt;
}

std::string legacy_contact_id(std::string_view instance) { return std::string(kLegacyPrefix) + std::string(instance); }

bool is_legacy_contact_id(std::string_view id) { return id.substr(0, kLegacyPrefix.size()) == kLegacyPrefix; }

}  // namespace chinwag::model
