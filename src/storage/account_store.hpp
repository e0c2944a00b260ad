// The profile's XMPP accounts (RFC 6120 client accounts), persisted in the profile database.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/database.hpp"
#include "util/result.hpp"

namespace chinwag::storage {

// One XMPP account. Its password is not part of it: SecretStore keeps passwords, keyed by
// `jid`.
struct Account {
    std::int64_t id = 0;           // set by AccountStore::add; never reused after a remove
    std::string jid;               // normalised bare JID (normalize_bare_jid): the key
    std::string jid_typed;         // as the user entered it, for display; "" = same as jid
    std::string host;              // server host override; "" = SRV lookup on the domain
    std::uint16_t port = 0;        // port override; 0 = from SRV, else 5222
    // SHA-256 of the server certificate the user accepted, 64 lowercase hex digits (colons,
    // spaces and upper case are accepted on input); "" = the system trust store decides.
    std::string pinned_cert_sha256;
    bool enabled = true;
    // The last roster version the server gave (RFC 6121 §2.6); "" = no cached roster, which
    // is also the 'ver' a client sends to bootstrap versioning (§2.6.2).
    std::string roster_version;
    std::int64_t created_ms = 0;  // set by AccountStore::add
};

// The bare JID `localpart@domainpart` normalised for use as a key: NFC, lower case (the
// case mapping of RFC 7622 §3.3.1 / RFC 8265 §3.3 and of §3.2 for the domain), one
// trailing dot of the domain dropped (§3.2). A resource, a missing localpart, characters
// RFC 7622 §3.3.1 forbids in a localpart (" & ' / : < > @ and spaces), control
// characters, invalid UTF-8 or a part over 1023 bytes give Error "invalid". This is a
// strict subset of full PRECIS; the xmpp layer's Jid may replace it.
Result<std::string> normalize_bare_jid(std::string_view typed);

// Owns nothing but a reference to the Database; reads and writes the accounts table.
// Every failure is a Result error, never an exception and never an empty answer.
class AccountStore {
public:
    explicit AccountStore(Database& db) : db_(db) {}

    // Stores a new account and returns it with id, normalised jid, jid_typed and created_ms
    // set (the given id and created_ms are ignored). Errors: "invalid" (bad JID, host or
    // fingerprint), "duplicate" ("an account for alice@example.org already exists"; JIDs are
    // compared normalised), or a database error.
    Result<Account> add(const Account& account);

    // Error "not-found" if there is no account with this id. The account's password is the
    // caller's to remove (SecretStore::remove).
    Result<void> remove(std::int64_t id);

    Result<std::optional<Account>> find(std::int64_t id);
    // `jid` is normalised first; Error "invalid" if it is not a bare JID.
    Result<std::optional<Account>> find_by_jid(std::string_view jid);

    // Every account, oldest first.
    Result<std::vector<Account>> list();

    // Rewrites host, port, pinned certificate, enabled and roster version of the account
    // with this id. The JID of an account never changes (its password and its contacts hang
    // on it): Error "invalid" if `account.jid` names another JID; remove and add instead.
    // Error "not-found" if there is no such account.
    Result<void> update(const Account& account);

private:
    Database& db_;
};

}  // namespace chinwag::storage
