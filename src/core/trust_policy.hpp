// The trust rules as pure functions: what an announcement or a proof means, given what the
// contact store holds. Trust on first *proven* use: a key advertised in a TXT record is a
// claim; it is pinned only once a mutual-TLS stream proved it (PRODUCT.md, "Identity and trust").
#pragma once

#include <optional>
#include <string>

#include "discovery/avahi_directory.hpp"
#include "model/types.hpp"
#include "util/result.hpp"

namespace chinwag::core {

// What the contact store says about one announcement or stream, read without error.
struct StoredFacts {
    std::optional<model::Contact> same_id;          // the stored contact with this id
    std::optional<model::Contact> proven_for_name;  // the contact whose key was proven under this name
};

enum class Standing {
    Contact,   // a stored contact: shown with its stored trust
    Nearby,    // announced only: shown as nearby, "not yet checked" (or legacy), never stored
    Impostor,  // contradicts the proven key of the contact that holds this name: warned about
    Refused,   // the store could not be read: no decision now, the peer is refused for the moment
};

struct AnnouncementVerdict {
    Standing standing = Standing::Refused;
    model::Trust trust = model::Trust::Unknown;  // what to show for it
    std::string detail;                          // the warning (Impostor) or the reason (Refused)
};

// `fingerprint` is what the TXT record advertises ("" for a legacy peer).
AnnouncementVerdict judge_announcement(const std::string& instance, const std::string& fingerprint,
                                       const Result<StoredFacts>& facts);

enum class ProofOutcome {
    Pin,            // first proof of this key: pin it (Pinned)
    Confirmed,      // the stored contact proved its key again
    Contradiction,  // a proven key, but the name belongs to a contact with another proven key
    Refused,        // the store could not be read: close the stream, decide later
};

struct ProofVerdict {
    ProofOutcome outcome = ProofOutcome::Refused;
    model::Trust trust = model::Trust::Unknown;
    std::string detail;
};

// A mutual-TLS stream from or to `instance` proved that the peer holds `fingerprint`.
ProofVerdict judge_proof(const std::string& instance, const std::string& fingerprint,
                         const Result<StoredFacts>& facts);

// Trust whose key a TLS handshake has proved (what "proven_for_name" looks for).
bool is_proven(model::Trust trust);

enum class StreamVerdict {
    AcceptTls,        // STARTTLS required, and the announced key must be proven in it
    AcceptPlaintext,  // a legacy peer from the host that announces it
    Refuse,
    Downgrade,        // plaintext under the name of a contact with a proven key: refused, warned
    LookAgain,        // the address may not be resolved yet: decide again a little later
};

struct StreamAdmission {
    StreamVerdict verdict = StreamVerdict::Refuse;
    std::string expected_fingerprint;  // AcceptTls
    std::string reason;                // Refuse / Downgrade: plain words for the log and the peer
    std::string contact_id;            // Downgrade: the contact whose name was used
};

// Who may open an incoming XEP-0174 stream that says it is `from`, connecting from `ip`.
// `ann` is the announcement of `from` (nullptr: none), `proven` the contact proven under that
// name. XEP-0174 gives no authentication of its own.
StreamAdmission judge_incoming_stream(const std::string& from, const std::string& ip,
                                      const discovery::PeerAnnouncement* ann,
                                      const Result<std::optional<model::Contact>>& proven, bool may_look_again);

}  // namespace chinwag::core
