// Outbox rules: how an outgoing message's state moves, and when it is (re)sent. Pure functions.
#pragma once

#include <optional>

#include "model/types.hpp"

namespace chinwag::sync {

enum class OutboxEvent {
    Written,   // the stanza was handed to an open stream
    Receipt,   // XEP-0184 <received/> for its id
    Rejected,  // the peer answered with a message error
};

// queued → sent → delivered; queued/sent → failed. nullopt: the event changes nothing (a late
// write after the receipt, anything after a final state), so a receipt always wins a race.
std::optional<model::MessageState> next_state(model::MessageState current, OutboxEvent event);

// Whether a pending message goes out on a stream. A secure peer gets it again on every new
// stream until its receipt arrives (the receiver drops duplicates by id); legacy peers send no
// receipts, so a message written to them once is not repeated.
bool should_send(const model::Message& message, bool legacy_peer, bool sent_on_this_stream);

}  // namespace chinwag::sync
