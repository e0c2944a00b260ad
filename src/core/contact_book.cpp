#include "core/contact_book.hpp"

#include "crypto/fingerprint.hpp"
#include "util/clock.hpp"

namespace chinwag::core {

Result<std::optional<model::Contact>> ContactBook::find(const std::string& id) const
{
    auto stored = store_.find(id);
    if (!stored || *stored)
        return stored;
    if (auto it = nearby_.find(id); it != nearby_.end())
        return std::optional<model::Contact>(it->second);
    return std::optional<model::Contact>();
}

Result<std::vector<model::Contact>> ContactBook::all() const
{
    auto out = store_.all();
    if (!out)
        return out;
    for (const auto& [id, c] : nearby_)
        out->push_back(c);  // store() drops a nearby entry, so none is stored too
    return out;
}

Result<std::optional<model::Contact>> ContactBook::proven_for(const std::string& instance) const
{
    // keyed_only: a fingerprint whose trust is Pinned or Verified, i.e. proven (is_proven).
    return store_.find_by_instance(instance, true);
}

Result<std::optional<model::Contact>> ContactBook::any_for(const std::string& instance) const
{
    auto stored = store_.find_by_instance(instance, false);
    if (!stored || *stored)
        return stored;
    for (const auto& [id, c] : nearby_)
        if (c.instance == instance)
            return std::optional<model::Contact>(c);
    return std::optional<model::Contact>();
}

Result<StoredFacts> ContactBook::facts(const std::string& id, const std::string& instance) const
{
    auto same = store_.find(id);
    if (!same)
        return same.error();
    auto proven = proven_for(instance);
    if (!proven)
        return proven.error();
    return StoredFacts{std::move(*same), std::move(*proven)};
}

Result<std::string> ContactBook::resolve(
    const std::string& ref, const std::function<std::optional<std::string>(const std::string&)>& online_id) const
{
    if (ref.empty())
        return make_error("not-found", "no peer named");
    auto by_id = find(ref);
    if (!by_id)
        return by_id.error();
    if (*by_id)
        return ref;
    if (std::string fp = crypto::normalize_fingerprint(ref); !fp.empty()) {
        auto by_fp = find(fp);
        if (!by_fp)
            return by_fp.error();
        if (*by_fp)
            return fp;
    }
    auto proven = proven_for(ref);
    if (!proven)
        return proven.error();
    if (*proven)
        return (*proven)->id;
    if (auto now = online_id(ref))
        return *now;
    auto any = any_for(ref);
    if (!any)
        return any.error();
    if (*any)
        return (*any)->id;
    return make_error("not-found", "no peer called " + ref);
}

model::Contact stream_contact(const std::string& id, const std::string& instance, bool secure)
{
    model::Contact c;
    c.id = id;
    c.instance = instance;
    c.fingerprint = secure ? id : std::string();
    c.trust = secure ? model::Trust::Pinned : model::Trust::Legacy;
    c.first_seen_ms = c.last_seen_ms = now_ms();
    return c;
}

void ContactBook::hold_nearby(model::Contact contact)
{
    std::string id = contact.id;
    nearby_[std::move(id)] = std::move(contact);
}

Result<void> ContactBook::store(const model::Contact& contact)
{
    if (auto stored = store_.upsert(contact); !stored)
        return stored;
    nearby_.erase(contact.id);
    return {};
}

Result<void> ContactBook::keep(const std::string& id)
{
    auto it = nearby_.find(id);
    if (it == nearby_.end()) {
        auto stored = store_.find(id);
        if (!stored)
            return stored.error();
        if (!*stored)
            return make_error("not-found", "no such contact");
        return {};
    }
    const model::Contact c = it->second;
    return store(c);
}

}  // namespace chinwag::core
