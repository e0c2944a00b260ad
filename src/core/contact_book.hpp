// The contacts Chinwag knows: the ones kept in the ContactStore (a key proven in a TLS
// stream, a message exchanged, or marked by the user) and the nearby peers that were only
// announced, held in memory while they are on the LAN and never written down.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/trust_policy.hpp"
#include "model/types.hpp"
#include "storage/contact_store.hpp"
#include "util/result.hpp"

namespace chinwag::core {

// Owns the nearby (announced-only) contacts; the stored ones belong to the ContactStore.
class ContactBook {
public:
    explicit ContactBook(storage::ContactStore& store) : store_(store) {}

    // A stored contact first, else a nearby one. An error only when the store cannot be read.
    Result<std::optional<model::Contact>> find(const std::string& id) const;
    // Stored contacts, then the nearby ones not stored.
    Result<std::vector<model::Contact>> all() const;
    // The stored contact whose key was proven under this instance name, if any.
    Result<std::optional<model::Contact>> proven_for(const std::string& instance) const;
    // The contact last seen under this instance name, stored or nearby.
    Result<std::optional<model::Contact>> any_for(const std::string& instance) const;
    // What the trust rules need to judge an announcement or a proof of `id` under `instance`.
    Result<StoredFacts> facts(const std::string& id, const std::string& instance) const;
    // The contact id a user means by `ref`: a contact id, a fingerprint in any spelling, or an
    // instance name (the contact proven under it, never an impostor holding it now; else who
    // announces it now, by `online_id`; else whoever was last seen under it).
    Result<std::string> resolve(const std::string& ref,
                                const std::function<std::optional<std::string>(const std::string&)>& online_id) const;

    // An announced-only peer, or its changed announcement: kept in memory.
    void hold_nearby(model::Contact contact);
    // The peer left the LAN: a nearby entry is forgotten.
    void forget_nearby(const std::string& id) { nearby_.erase(id); }
    bool is_nearby(const std::string& id) const { return nearby_.count(id) > 0; }
    std::size_t nearby_count() const { return nearby_.size(); }

    // Stores the contact (insert or update) and drops its nearby entry.
    Result<void> store(const model::Contact& contact);
    // The user dealt with this peer (a message either way, a mark): a nearby peer is stored
    // now, with the trust it has; a stored one stays as it is. Error "not-found" if unknown.
    Result<void> keep(const std::string& id);

private:
    storage::ContactStore& store_;
    std::map<std::string, model::Contact> nearby_;
};

// A contact known only from its stream (it opened before its announcement was followed):
// a proven key is pinned, a plaintext stream is a legacy peer.
model::Contact stream_contact(const std::string& id, const std::string& instance, bool secure);

}  // namespace chinwag::core
