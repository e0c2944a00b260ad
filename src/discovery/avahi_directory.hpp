// The LAN directory: publishes our XEP-0174 presence and follows everyone else's, over Avahi.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <glib.h>
#include <glibmm/main.h>
#include <sigc++/sigc++.h>

#include "discovery/xep0174_presence_record.hpp"
#include "util/result.hpp"

struct AvahiClient;
struct AvahiEntryGroup;
struct AvahiServiceBrowser;
struct AvahiServiceResolver;
struct AvahiRecordBrowser;
struct AvahiGLibPoll;

namespace chinwag::discovery {

struct Address {
    std::string ip;    // textual; IPv6 link-local needs ifindex to be usable
    int ifindex = 0;
    bool ipv6 = false;
    bool operator==(const Address&) const = default;
};

// One peer as seen on the LAN, merged over every interface and address family.
struct PeerAnnouncement {
    std::string instance;  // DNS-SD instance name, XEP-0174 "user@machine"
    std::string host;      // mDNS host name, e.g. "lab-3.local"
    std::vector<Address> addresses;
    std::uint16_t port = 0;  // from SRV (authoritative over TXT port.p2pj)
    PresenceRecord record;
    bool operator==(const PeerAnnouncement&) const = default;
};

enum class DirectoryState { Starting, Running, DaemonMissing, Failure };

// Owns the avahi client and its poll adapter, our entry group, the _presence._tcp browser,
// one resolver per (interface, protocol, instance), one TXT record browser per listed peer
// and the pending one-shot resolves.
// Everything runs on the GMainContext given to the constructor; one thread.
class AvahiDirectory {
public:
    explicit AvahiDirectory(GMainContext* context /* nullptr = default */);
    ~AvahiDirectory();
    AvahiDirectory(const AvahiDirectory&) = delete;
    AvahiDirectory& operator=(const AvahiDirectory&) = delete;

    // Connects to avahi-daemon (waiting for it if absent). No signal fires before this.
    void start();

    // First call registers _presence._tcp as `instance`; later calls with the same instance
    // and port only replace the TXT record (no re-probing), anything else re-registers.
    void publish(const std::string& instance, std::uint16_t port, const PresenceRecord& record);
    // The name actually on the LAN (differs from the requested one after a collision).
    const std::string& published_name() const { return published_name_; }

    std::vector<PeerAnnouncement> peers() const;
    const PeerAnnouncement* find(const std::string& instance) const;
    DirectoryState state() const { return state_; }

    // XEP-0174 §5: resolve the peer afresh when connecting. Calls done once, later, from the
    // main context: the fresh answer, else (after ~5 s or a failure) the cached announcement,
    // else Error "not-found" / "invalid-txt".
    void resolve_now(const std::string& instance,
                     std::function<void(Result<PeerAnnouncement>)> done);

    sigc::signal<void(DirectoryState, const std::string&)>& signal_state() { return signal_state_; }
    sigc::signal<void(const PeerAnnouncement&)>& signal_peer_up() { return signal_peer_up_; }
    sigc::signal<void(const PeerAnnouncement&)>& signal_peer_changed() { return signal_peer_changed_; }
    sigc::signal<void(const std::string&)>& signal_peer_down() { return signal_peer_down_; }
    // (old name, new name) after an mDNS name collision made us pick another instance name.
    sigc::signal<void(const std::string&, const std::string&)>& signal_name_changed()
    {
        return signal_name_changed_;
    }

    // Bounds against floods of bogus announcements.
    static constexpr std::size_t kMaxResolvers = 512;
    // TXT record browsers (one per listed peer); beyond this a peer's status changes arrive
    // through its resolver only, about a second later. With kMaxResolvers this stays under
    // avahi-daemon's default of 1024 objects per client.
    static constexpr std::size_t kMaxTxtFollowers = 256;
    static constexpr unsigned kResolveTimeoutMs = 5000;
    static constexpr unsigned kCoalesceMs = 100;

private:
    struct ClientDeleter { void operator()(AvahiClient* c) const; };
    struct GroupDeleter { void operator()(AvahiEntryGroup* g) const; };
    struct BrowserDeleter { void operator()(AvahiServiceBrowser* b) const; };
    struct ResolverDeleter { void operator()(AvahiServiceResolver* r) const; };
    struct RecordBrowserDeleter { void operator()(AvahiRecordBrowser* b) const; };
    struct PollDeleter { void operator()(AvahiGLibPoll* p) const; };
    using ResolverPtr = std::unique_ptr<AvahiServiceResolver, ResolverDeleter>;

    // (instance name, interface, protocol): instance first so one peer's tuples are adjacent.
    using TupleKey = std::tuple<std::string, int, int>;
    struct Tuple {
        AvahiDirectory* owner = nullptr;
        TupleKey key;
        ResolverPtr resolver;
        std::string domain;       // as the browser reported it, for the TXT record's name
        bool resolved = false;    // the resolver has host, address and port (FOUND, no FAILURE since)
        bool found = false;       // resolved with an acceptable TXT record
        std::uint64_t seq = 0;    // order of the last FOUND, newest wins when merging
        std::string host;
        Address address;
        std::uint16_t port = 0;
        PresenceRecord record;
    };
    // A peer's TXT record followed as avahi's cache sees it. A status change arrives as a new
    // TXT record with the cache-flush bit; the resolver keeps reporting the old one until that
    // is flushed a second later (RFC 6762 §10.2), the browser reports the new one at once.
    // Holds, per (interface, protocol), the RDATA of the TXT records in the cache, newest last.
    struct TxtFollower {
        AvahiDirectory* owner = nullptr;
        std::string instance;
        std::unique_ptr<AvahiRecordBrowser, RecordBrowserDeleter> browser;
        std::map<std::pair<int, int>, std::vector<std::string>> live;
    };
    struct OneShot {
        AvahiDirectory* owner = nullptr;
        std::uint64_t id = 0;
        std::string instance;
        ResolverPtr resolver;
        sigc::connection timeout;
        std::function<void(Result<PeerAnnouncement>)> done;
    };

    // The C callbacks (exact avahi signatures), defined in the .cpp.
    struct Trampolines;

    void create_client();
    void client_state_changed(AvahiClient* c, int state);
    void client_running(AvahiClient* c);
    void rename_after_collision();
    void client_lost(const std::string& why);
    void teardown_client();
    void schedule_reconnect(unsigned delay_ms);
    void start_browser(AvahiClient* c);
    void register_service(AvahiClient* c);
    void group_state_changed(AvahiEntryGroup* g, int state);
    void browser_new(int iface, int proto, const std::string& name, const char* domain,
                     int flags);
    void browser_remove(int iface, int proto, const std::string& name);
    void tuple_found(Tuple& t, const std::string& host, const Address& address,
                     std::uint16_t port, std::vector<std::string> txt);
    void apply_record(Tuple& t, Result<PresenceRecord> record);
    void follow_txt(const Tuple& t);
    void txt_event(TxtFollower& f, int iface, int proto, bool added, std::string rdata);
    void tuple_failed(Tuple& t, const std::string& why);
    void remove_tuple(const TupleKey& key);
    // at_once: a TXT change, emitted without the coalescing window (status is what users see).
    void refresh_peer(const std::string& instance, bool at_once = false);
    void emit_peer(const std::string& instance);
    bool is_own_service(const std::string& instance, const std::string& host) const;
    void drop_all_peers();
    void finish_oneshot(std::uint64_t id, Result<PeerAnnouncement> fresh);
    void set_state(DirectoryState s, const std::string& text);
    void log_ignored(const std::string& instance, const std::string& why);

    Glib::RefPtr<Glib::MainContext> context_;
    std::unique_ptr<AvahiGLibPoll, PollDeleter> poll_;
    // Children below must be freed before the client (avahi_client_free frees them too).
    std::unique_ptr<AvahiClient, ClientDeleter> client_;
    // Set while the client is S_RUNNING; avahi calls back before avahi_client_new returns,
    // so this may be set before client_ is.
    AvahiClient* running_client_ = nullptr;
    std::unique_ptr<AvahiEntryGroup, GroupDeleter> group_;
    std::unique_ptr<AvahiServiceBrowser, BrowserDeleter> browser_;
    std::map<TupleKey, std::unique_ptr<Tuple>> tuples_;
    std::map<std::string, std::unique_ptr<TxtFollower>> followers_;  // by instance
    std::map<std::uint64_t, std::unique_ptr<OneShot>> oneshots_;
    std::uint64_t next_oneshot_ = 1;
    std::uint64_t next_seq_ = 1;
    sigc::connection reconnect_;

    std::map<std::string, PeerAnnouncement> peers_;
    // Instances whose tuples changed since the last emission, flushed by flush_.
    std::set<std::string> dirty_;
    sigc::connection flush_;
    std::string own_host_;  // our daemon's FQDN host name, e.g. "lab-3.local"

    // What the caller asked us to publish, and what is on the LAN.
    bool want_publish_ = false;
    std::string requested_name_;
    std::string published_name_;
    std::uint16_t port_ = 0;
    PresenceRecord record_;
    bool group_committed_ = false;

    bool started_ = false;
    bool destroying_ = false;
    DirectoryState state_ = DirectoryState::Starting;

    // Instances already reported as ignored (one line each), and a simple rate limit.
    std::set<std::string> ignored_logged_;
    std::int64_t ignored_window_start_ms_ = 0;
    unsigned ignored_in_window_ = 0;
    unsigned ignored_suppressed_ = 0;

    sigc::signal<void(DirectoryState, const std::string&)> signal_state_;
    sigc::signal<void(const PeerAnnouncement&)> signal_peer_up_;
    sigc::signal<void(const PeerAnnouncement&)> signal_peer_changed_;
    sigc::signal<void(const std::string&)> signal_peer_down_;
    sigc::signal<void(const std::string&, const std::string&)> signal_name_changed_;
};

}  // namespace chinwag::discovery
