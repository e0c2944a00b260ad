// Messenger: the facade a front end talks to; the one place where Chinwag's services are built.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <glib.h>
#include <sigc++/sigc++.h>

#include "core/profile.hpp"
#include "model/types.hpp"
#include "util/result.hpp"

namespace chinwag::core {

struct SelfInfo {
    std::string nick;
    std::string instance;      // name actually published (may differ after a collision)
    std::string fingerprint;   // lowercase hex; format with crypto::format_fingerprint for people
    model::Status status = model::Status::Available;
    std::string message;
};

// A contact as a front end shows it: stored identity merged with live LAN presence.
struct PeerView {
    std::string id;            // contact id (fingerprint, or "legacy:<instance>")
    std::string instance;
    std::string nick;
    model::Status status = model::Status::Available;
    std::string message;
    std::string fingerprint;   // empty for legacy peers
    model::Trust trust = model::Trust::Unknown;
    bool online = false;
    bool secure = false;       // messages with it go over authenticated TLS
    std::string first_name, last_name, email;
    int unread = 0;
    std::string chat_state;    // XEP-0085 state the peer last sent ("composing", ...), or empty
};

// Something the user must be told about a peer: kind "impostor" (a name of a pinned contact with
// another key), "key-mismatch" (advertised a key it could not prove), "downgrade" (a keyed contact
// now without TLS), "refused" (an incoming stream that was not accepted).
struct Warning {
    std::string kind;
    std::string peer;          // contact id or instance name
    std::string detail;        // plain words
};

// State of the service itself: kind "discovery" (avahi-daemon missing / back), "renamed"
// (our name collided on the LAN), "storage" (e.g. disk full), "network".
struct Notice {
    std::string kind;
    std::string detail;
    bool problem = false;      // something is wrong now; false: resolved, or for information only
};

class Messenger {
public:
    // Loads (or on first use creates) the identity and database of an open profile.
    // Nothing runs until start(). context: the GLib main context (nullptr = default).
    static Result<std::unique_ptr<Messenger>> create(std::unique_ptr<Profile> profile, GMainContext* context = nullptr);
    ~Messenger();
    Messenger(const Messenger&) = delete;
    Messenger& operator=(const Messenger&) = delete;

    // Opens the listener, publishes presence, browses, and starts sending the outbox.
    Result<void> start();

    SelfInfo self() const;
    const Settings& settings() const;
    // Applies nickname / published fields / preferences and republishes presence.
    Result<void> update_settings(const Settings& settings);

    // Every known contact (online or not) plus peers on the LAN now; offline first seen last.
    std::vector<PeerView> peers() const;
    // A peer named by instance name ("alice@host"), contact id, or fingerprint (any formatting).
    Result<PeerView> peer(const std::string& ref) const;

    // Queues a chat message; it goes out now or when the peer is next reachable.
    Result<model::Message> send(const std::string& peer_ref, const std::string& body);
    // XEP-0085: "composing", "paused", "active", "inactive", "gone".
    Result<void> send_chat_state(const std::string& peer_ref, const std::string& state);
    Result<void> set_status(model::Status status, const std::string& message);

    // Same digits on both sides, whatever the order (see crypto::safety_number).
    Result<std::string> safety_number(const std::string& peer_ref) const;
    Result<void> mark_verified(const std::string& peer_ref);

    Result<std::vector<model::Message>> history(const std::string& peer_ref, int limit, std::int64_t before_seq = 0) const;
    Result<std::vector<model::Message>> search(const std::string& query, int limit = 50) const;
    Result<void> mark_read(const std::string& peer_ref);

    sigc::signal<void(const PeerView&)>& signal_peer_changed() { return peer_changed_; }
    sigc::signal<void(const std::string&)>& signal_peer_gone() { return peer_gone_; }   // contact id left the LAN
    sigc::signal<void(const model::Message&)>& signal_message() { return message_; }   // incoming, stored
    sigc::signal<void(const model::Message&)>& signal_message_state() { return message_state_; }  // outgoing
    sigc::signal<void(const Warning&)>& signal_warning() { return warning_; }
    sigc::signal<void(const Notice&)>& signal_notice() { return notice_; }

    class Impl;

private:
    explicit Messenger(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    sigc::signal<void(const PeerView&)> peer_changed_;
    sigc::signal<void(const std::string&)> peer_gone_;
    sigc::signal<void(const model::Message&)> message_;
    sigc::signal<void(const model::Message&)> message_state_;
    sigc::signal<void(const Warning&)> warning_;
    sigc::signal<void(const Notice&)> notice_;
};

}  // namespace chinwag::core
