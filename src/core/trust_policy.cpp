#include "core/trust_policy.hpp"

#include <algorithm>

#include "crypto/fingerprint.hpp"

namespace chinwag::core {

using model::Trust;

namespace {

std::string name_of(const model::Contact& c)
{
    return c.nick.empty() ? c.instance : c.nick;
}

std::string refused(const Error& error)
{
    return "the contact list could not be read (" + error.message +
           "); no trust decision is made until it can";
}

}  // namespace

StreamAdmission judge_incoming_stream(const std::string& from, const std::string& ip,
                                      const discovery::PeerAnnouncement* ann,
                                      const Result<std::optional<model::Contact>>& proven, bool may_look_again)
{
    if (!ann)
        return {StreamVerdict::Refuse, {}, "no peer called " + from + " is announced on this network", {}};
    if (!ann->record.fingerprint.empty())
        return {StreamVerdict::AcceptTls, ann->record.fingerprint, {}, {}};
    if (!proven)  // fail closed: without the stored facts no plaintext stream is let in
        return {StreamVerdict::Refuse, {}, "the contact list could not be read (" + proven.error().message + ")", {}};
    if (*proven)
        return {StreamVerdict::Downgrade, {}, "plaintext refused for a name known with a key", (*proven)->id};
    // XEP-0174 gives no authentication: accept a legacy stream only from the announced host.
    const bool announced_here = std::any_of(ann->addresses.begin(), ann->addresses.end(),
                                            [&](const discovery::Address& a) { return a.ip == ip; });
    if (announced_here)
        return {StreamVerdict::AcceptPlaintext, {}, {}, {}};
    // avahi resolves a peer's IPv4 and IPv6 addresses separately: the one this stream comes
    // from may not be known yet. Look once more before refusing.
    if (may_look_again)
        return {StreamVerdict::LookAgain, {}, {}, {}};
    return {StreamVerdict::Refuse, {}, "address " + ip + " does not belong to " + from, {}};
}

bool is_proven(Trust trust)
{
    return trust == Trust::Pinned || trust == Trust::Verified;
}

AnnouncementVerdict judge_announcement(const std::string& instance, const std::string& fingerprint,
                                       const Result<StoredFacts>& facts)
{
    if (!facts)
        return {Standing::Refused, Trust::Unknown, refused(facts.error())};
    const auto& proven = facts->proven_for_name;
    const auto& same = facts->same_id;
    if (fingerprint.empty()) {
        // A contact once proven with a key is never silently treated as plaintext.
        if (proven)
            return {Standing::Impostor, Trust::Impostor,
                    instance + " was known with an encryption key and now announces itself without one; "
                               "it is treated as an impostor and not trusted"};
        if (same)
            return {Standing::Contact, Trust::Legacy, {}};
        return {Standing::Nearby, Trust::Legacy, {}};
    }
    // Impostor means a proven key was contradicted: another key under a proven contact's name.
    if (proven && proven->id != fingerprint)
        return {Standing::Impostor, Trust::Impostor,
                instance + " claims to be " + name_of(*proven) + " but presents a different key (" +
                    crypto::format_fingerprint(fingerprint) +
                    "); nothing from it is attributed to the real contact"};
    if (same)
        return {Standing::Contact, same->trust, {}};
    // A claim nobody has proved yet (anyone can publish any TXT record): shown, not pinned.
    return {Standing::Nearby, Trust::Unknown, {}};
}

ProofVerdict judge_proof(const std::string& instance, const std::string& fingerprint,
                         const Result<StoredFacts>& facts)
{
    if (!facts)
        return {ProofOutcome::Refused, Trust::Unknown, refused(facts.error())};
    const auto& proven = facts->proven_for_name;
    const auto& same = facts->same_id;
    if (same && is_proven(same->trust))
        return {ProofOutcome::Confirmed, same->trust, {}};
    if ((proven && proven->id != fingerprint) || (same && same->trust == Trust::Impostor))
        return {ProofOutcome::Contradiction, Trust::Impostor,
                instance + " proved a key (" + crypto::format_fingerprint(fingerprint) +
                    ") other than the one proven for " + (proven ? name_of(*proven) : instance) +
                    "; nothing from it is attributed to the real contact"};
    return {ProofOutcome::Pin, Trust::Pinned, {}};
}

}  // namespace chinwag::core
