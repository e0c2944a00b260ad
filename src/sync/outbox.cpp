#include "sync/outbox.hpp"

namespace chinwag::sync {

using model::MessageState;

std::optional<MessageState> next_state(MessageState current, OutboxEvent event)
{
    if (current == MessageState::Delivered || current == MessageState::Failed)
        return std::nullopt;
    switch (event) {
    case OutboxEvent::Written:
        return current == MessageState::Queued ? std::optional(MessageState::Sent) : std::nullopt;
    case OutboxEvent::Receipt:
        return MessageState::Delivered;
    case OutboxEvent::Rejected:
        return MessageState::Failed;
    }
    return std::nullopt;
}

bool should_send(const model::Message& message, bool legacy_peer, bool sent_on_this_stream)
{
    if (message.direction != model::Direction::Outgoing || sent_on_this_stream)
        return false;
    if (message.state == MessageState::Queued)
        return true;
    return message.state == MessageState::Sent && !legacy_peer;
}

}  // namespace chinwag::sync
