#include "discovery/avahi_directory.hpp"

#include <algorithm>
#include <climits>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/defs.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-glib/glib-watch.h>

#include "util/clock.hpp"
#include "util/log.hpp"

namespace chinwag::discovery {

namespace {

constexpr char kServiceType[] = "_presence._tcp";  // XEP-0174 §3.1
constexpr std::string_view kLog = "discovery";
constexpr std::size_t kMaxIgnoredRemembered = 1024;
constexpr unsigned kIgnoredLinesPerMinute = 10;
constexpr unsigned kRetryMs = 5000;
// TXT records kept per (interface, protocol) of a followed peer: a cache holds one, more while
// a flush is pending (RFC 6762 §10.2: every record that arrived within the second before the
// newest stays until the next announcement). A bound against a peer changing its record many
// times a second; past it the resolver's answers stand in for the dropped ones.
constexpr std::size_t kMaxLiveTxt = 16;

// Names come off the network: keep control bytes out of our log lines.
std::string printable(std::string_view s)
{
    std::string out;
    for (char c : s.substr(0, 200)) {
        const auto u = static_cast<unsigned char>(c);
        out.push_back(u < 0x20 || u == 0x7F ? '?' : c);
    }
    return out;
}

std::string avahi_error_text(AvahiClient* c)
{
    return c ? avahi_strerror(avahi_client_errno(c)) : "no client";
}

// The one place TXT strings cross into Avahi's list type.
AvahiStringList* to_string_list(const std::vector<std::string>& items)
{
    AvahiStringList* list = nullptr;
    // avahi_string_list_add_* prepends; add from the back so the list keeps our order.
    for (auto it = items.rbegin(); it != items.rend(); ++it)
        list = avahi_string_list_add_arbitrary(
            list, reinterpret_cast<const std::uint8_t*>(it->data()), it->size());
    return list;
}

std::vector<std::string> from_string_list(AvahiStringList* list)
{
    std::vector<std::string> items;
    for (AvahiStringList* l = list; l; l = avahi_string_list_get_next(l)) {
        // One more than the decoder accepts is enough for it to reject the record.
        if (items.size() > kMaxTxtItems)
            break;
        items.emplace_back(reinterpret_cast<const char*>(avahi_string_list_get_text(l)),
                           avahi_string_list_get_size(l));
    }
    return items;
}

Address to_address(int iface, const AvahiAddress* a)
{
    Address out;
    if (!a)
        return out;
    char buf[AVAHI_ADDRESS_STR_MAX] = {};
    avahi_address_snprint(buf, sizeof buf, a);
    out.ip = buf;
    out.ipv6 = a->proto == AVAHI_PROTO_INET6;
    out.ifindex = iface;
    return out;
}

Result<PresenceRecord> decode_rdata(std::string_view rdata)
{
    auto items = split_txt_rdata(rdata);
    if (!items)
        return items.error();
    return decode_txt(*items);
}

const char* proto_name(int proto)
{
    return proto == AVAHI_PROTO_INET6 ? "IPv6" : proto == AVAHI_PROTO_INET ? "IPv4" : "any";
}

}  // namespace

// C callbacks: exact avahi signatures, straight into the members. Nothing here throws.
struct AvahiDirectory::Trampolines {
    static void client(AvahiClient* c, AvahiClientState state, void* self)
    {
        static_cast<AvahiDirectory*>(self)->client_state_changed(c, state);
    }
    static void group(AvahiEntryGroup* g, AvahiEntryGroupState state, void* self)
    {
        static_cast<AvahiDirectory*>(self)->group_state_changed(g, state);
    }
    static void browser(AvahiServiceBrowser*, AvahiIfIndex iface, AvahiProtocol proto,
                        AvahiBrowserEvent event, const char* name, const char*,
                        const char* domain, AvahiLookupResultFlags flags, void* self)
    {
        auto* d = static_cast<AvahiDirectory*>(self);
        switch (event) {
        case AVAHI_BROWSER_NEW:
            d->browser_new(iface, proto, name ? name : "", domain, flags);
            break;
        case AVAHI_BROWSER_REMOVE:
            d->browser_remove(iface, proto, name ? name : "");
            break;
        case AVAHI_BROWSER_FAILURE: {
            AvahiClient* c = d->running_client_;
            const std::string why = avahi_error_text(c);
            log::error(kLog, "browsing " + std::string(kServiceType) + " failed: " + why);
            // A dead daemon is reported through the client callback; anything else is ours.
            if (c && avahi_client_get_state(c) == AVAHI_CLIENT_S_RUNNING)
                d->set_state(DirectoryState::Failure, "browsing the LAN failed: " + why);
            break;
        }
        case AVAHI_BROWSER_ALL_FOR_NOW:
        case AVAHI_BROWSER_CACHE_EXHAUSTED:
            break;
        }
    }
    static void resolver(AvahiServiceResolver*, AvahiIfIndex iface, AvahiProtocol,
                         AvahiResolverEvent event, const char*, const char*, const char*,
                         const char* host, const AvahiAddress* a, std::uint16_t port,
                         AvahiStringList* txt, AvahiLookupResultFlags, void* userdata)
    {
        auto* t = static_cast<Tuple*>(userdata);
        AvahiDirectory* d = t->owner;
        if (event == AVAHI_RESOLVER_FOUND)
            d->tuple_found(*t, host ? host : "", to_address(iface, a), port, from_string_list(txt));
        else
            d->tuple_failed(*t, avahi_error_text(d->running_client_));
    }
    static void txt_record(AvahiRecordBrowser*, AvahiIfIndex iface, AvahiProtocol proto,
                           AvahiBrowserEvent event, const char*, std::uint16_t, std::uint16_t,
                           const void* rdata, std::size_t size, AvahiLookupResultFlags,
                           void* userdata)
    {
        auto* f = static_cast<TxtFollower*>(userdata);
        switch (event) {
        case AVAHI_BROWSER_NEW:
        case AVAHI_BROWSER_REMOVE: {
            // One byte over the limit is enough for split_txt_rdata to reject the record.
            std::string bytes;
            if (rdata)
                bytes.assign(static_cast<const char*>(rdata), std::min(size, kMaxTxtRecordBytes + 1));
            f->owner->txt_event(*f, iface, proto, event == AVAHI_BROWSER_NEW, std::move(bytes));
            break;
        }
        case AVAHI_BROWSER_FAILURE:
            // The resolver still reports TXT changes, a second later; nothing is lost.
            log::info(kLog, "following the TXT record of '" + printable(f->instance) +
                                "' failed (" + avahi_error_text(f->owner->running_client_) +
                                "); its status changes now arrive through the resolver");
            f->live.clear();
            break;
        case AVAHI_BROWSER_ALL_FOR_NOW:
        case AVAHI_BROWSER_CACHE_EXHAUSTED:
            break;
        }
    }
    static void oneshot(AvahiServiceResolver*, AvahiIfIndex iface, AvahiProtocol,
                        AvahiResolverEvent event, const char* name, const char*, const char*,
                        const char* host, const AvahiAddress* a, std::uint16_t port,
                        AvahiStringList* txt, AvahiLookupResultFlags, void* userdata)
    {
        auto* os = static_cast<OneShot*>(userdata);
        AvahiDirectory* d = os->owner;
        const std::uint64_t id = os->id;
        if (event != AVAHI_RESOLVER_FOUND) {
            d->finish_oneshot(id, make_error("resolve-failed", avahi_error_text(d->running_client_)));
            return;
        }
        auto record = decode_txt(from_string_list(txt));
        if (!record) {
            d->finish_oneshot(id, record.error());
            return;
        }
        PeerAnnouncement p;
        p.instance = name ? name : os->instance;
        p.host = host ? host : "";
        p.addresses.push_back(to_address(iface, a));
        p.port = port;
        p.record = std::move(record.value());
        d->finish_oneshot(id, std::move(p));
    }
};

void AvahiDirectory::ClientDeleter::operator()(AvahiClient* c) const { avahi_client_free(c); }
void AvahiDirectory::GroupDeleter::operator()(AvahiEntryGroup* g) const { avahi_entry_group_free(g); }
void AvahiDirectory::BrowserDeleter::operator()(AvahiServiceBrowser* b) const { avahi_service_browser_free(b); }
void AvahiDirectory::ResolverDeleter::operator()(AvahiServiceResolver* r) const { avahi_service_resolver_free(r); }
void AvahiDirectory::RecordBrowserDeleter::operator()(AvahiRecordBrowser* b) const { avahi_record_browser_free(b); }
void AvahiDirectory::PollDeleter::operator()(AvahiGLibPoll* p) const { avahi_glib_poll_free(p); }

AvahiDirectory::AvahiDirectory(GMainContext* context)
    : context_(context ? Glib::wrap(context, true) : Glib::MainContext::get_default())
{
}

AvahiDirectory::~AvahiDirectory()
{
    destroying_ = true;
    reconnect_.disconnect();
    flush_.disconnect();
    // Pending resolve_now() callbacks are dropped, not called: the caller is going away too.
    for (auto& [id, os] : oneshots_)
        os->timeout.disconnect();
    // Freeing the entry group withdraws our service (avahi sends goodbye packets).
    teardown_client();
}

void AvahiDirectory::start()
{
    if (started_)
        return;
    started_ = true;
    poll_.reset(avahi_glib_poll_new(context_->gobj(), G_PRIORITY_DEFAULT));
    create_client();
}

void AvahiDirectory::create_client()
{
    int error = 0;
    // NO_FAIL: if avahi-daemon is absent we sit in S_CONNECTING until it appears.
    // Note avahi calls client_state_changed() before avahi_client_new() returns.
    AvahiClient* c = avahi_client_new(avahi_glib_poll_get(poll_.get()), AVAHI_CLIENT_NO_FAIL,
                                      &Trampolines::client, this, &error);
    if (!c) {
        // Typically no D-Bus system bus at all; NO_FAIL only covers a missing daemon.
        client_lost(std::string("cannot reach avahi-daemon (") + avahi_strerror(error) +
                    "); retrying");
        schedule_reconnect(kRetryMs);
        return;
    }
    client_.reset(c);
}

void AvahiDirectory::schedule_reconnect(unsigned delay_ms)
{
    reconnect_.disconnect();
    // Never free a client inside its own callback: do it from the main loop.
    reconnect_ = context_->signal_timeout().connect(
        [this] {
            teardown_client();
            create_client();
            return false;
        },
        delay_ms);
}

void AvahiDirectory::client_state_changed(AvahiClient* c, int state)
{
    switch (state) {
    case AVAHI_CLIENT_S_RUNNING:
        client_running(c);
        break;
    case AVAHI_CLIENT_S_COLLISION:
    case AVAHI_CLIENT_S_REGISTERING:
        // The daemon's host name is (re)being probed: our records would carry the wrong
        // host, so withdraw them and register again once it is S_RUNNING (avahi's own
        // recommended pattern). Browsing goes on.
        if (group_)
            avahi_entry_group_reset(group_.get());
        group_committed_ = false;
        break;
    case AVAHI_CLIENT_CONNECTING:
        client_lost("avahi-daemon is not running; waiting for it");
        break;
    case AVAHI_CLIENT_FAILURE: {
        const int error = avahi_client_errno(c);
        client_lost("avahi-daemon is not running; waiting for it");
        if (error == AVAHI_ERR_DISCONNECTED) {
            // The daemon restarted (or the bus went away): this client is dead for good.
            log::info(kLog, "lost avahi-daemon; reconnecting");
            schedule_reconnect(0);
        } else {
            log::error(kLog, std::string("avahi client failed: ") + avahi_strerror(error));
            schedule_reconnect(kRetryMs);
        }
        break;
    }
    default:
        break;
    }
}

void AvahiDirectory::client_running(AvahiClient* c)
{
    running_client_ = c;
    const char* fqdn = avahi_client_get_host_name_fqdn(c);
    own_host_ = fqdn ? fqdn : "";
    set_state(DirectoryState::Running, "connected to avahi-daemon");
    if (!browser_)
        start_browser(c);
    if (want_publish_ && !group_committed_)
        register_service(c);
}

void AvahiDirectory::client_lost(const std::string& why)
{
    running_client_ = nullptr;
    // Give waiting resolve_now() callers the cached answer before the cache goes.
    std::vector<std::uint64_t> ids;
    for (auto& [id, os] : oneshots_)
        ids.push_back(id);
    for (auto id : ids)
        finish_oneshot(id, make_error("daemon-missing", why));

    followers_.clear();
    tuples_.clear();
    browser_.reset();
    group_.reset();
    group_committed_ = false;
    set_state(DirectoryState::DaemonMissing, why);
    drop_all_peers();
}

void AvahiDirectory::teardown_client()
{
    running_client_ = nullptr;
    oneshots_.clear();
    followers_.clear();
    tuples_.clear();
    browser_.reset();
    group_.reset();
    group_committed_ = false;
    client_.reset();
}

void AvahiDirectory::set_state(DirectoryState s, const std::string& text)
{
    if (destroying_ || (s == state_ && s != DirectoryState::Failure))
        return;
    state_ = s;
    log::info(kLog, text);
    signal_state_.emit(s, text);
}

// ---- publishing ----------------------------------------------------------------------

void AvahiDirectory::publish(const std::string& instance, std::uint16_t port,
                             const PresenceRecord& record)
{
    const bool same_service = want_publish_ && instance == requested_name_ && port == port_;
    record_ = record;
    if (!same_service) {
        requested_name_ = instance;
        published_name_ = instance;
        port_ = port;
    }
    want_publish_ = true;
    AvahiClient* c = running_client_;
    if (!c || avahi_client_get_state(c) != AVAHI_CLIENT_S_RUNNING)
        return;  // registered once the daemon is (back) in S_RUNNING
    if (same_service && group_ && group_committed_) {
        // Only the TXT changed (status, message): update in place so peers see it at once
        // without a new probing round.
        AvahiStringList* txt = to_string_list(encode_txt(record_));
        const int r = avahi_entry_group_update_service_txt_strlst(
            group_.get(), AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, AvahiPublishFlags(0),
            published_name_.c_str(), kServiceType, nullptr, txt);
        avahi_string_list_free(txt);
        if (r >= 0)
            return;
        log::warning(kLog, std::string("updating our TXT record failed (") + avahi_strerror(r) +
                               "); registering again");
    }
    register_service(c);
}

void AvahiDirectory::register_service(AvahiClient* c)
{
    if (!group_) {
        AvahiEntryGroup* g = avahi_entry_group_new(c, &Trampolines::group, this);
        if (!g) {
            set_state(DirectoryState::Failure, "cannot publish our presence: " + avahi_error_text(c));
            return;
        }
        group_.reset(g);
    } else {
        avahi_entry_group_reset(group_.get());
    }
    group_committed_ = false;

    AvahiStringList* txt = to_string_list(encode_txt(record_));
    int r = 0;
    // A local clash (another process on this host has the name) is reported at once as
    // AVAHI_ERR_COLLISION; bounded so a hostile host cannot keep us renaming forever here.
    for (int attempt = 0; attempt < 16; ++attempt) {
        r = avahi_entry_group_add_service_strlst(group_.get(), AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC,
                                                 AvahiPublishFlags(0), published_name_.c_str(),
                                                 kServiceType, nullptr, nullptr, port_, txt);
        if (r != AVAHI_ERR_COLLISION)
            break;
        rename_after_collision();
    }
    avahi_string_list_free(txt);
    if (r < 0) {
        set_state(DirectoryState::Failure,
                  std::string("cannot publish our presence: ") + avahi_strerror(r));
        return;
    }
    r = avahi_entry_group_commit(group_.get());
    if (r < 0) {
        set_state(DirectoryState::Failure,
                  std::string("cannot publish our presence: ") + avahi_strerror(r));
        return;
    }
    group_committed_ = true;
}

void AvahiDirectory::rename_after_collision()
{
    const std::string old_name = published_name_;
    // First try a name that differs from anyone else's: the requested name plus the start of
    // our key's fingerprint. Two peers that collided at the same moment would otherwise both
    // take avahi_alternative_service_name()'s "#2", collide again, and go on in lockstep
    // (seen on the testbed: #2 ... #15 on both sides). Only if that name is taken too (the
    // same key published twice) fall back to avahi's numbered alternatives.
    const std::string tagged = requested_name_ + " (" + record_.fingerprint.substr(0, 4) + ")";
    if (record_.fingerprint.size() >= 4 && old_name != tagged && old_name.rfind(tagged, 0) != 0) {
        published_name_ = tagged;
    } else {
        char* alt = avahi_alternative_service_name(old_name.c_str());
        published_name_ = alt ? alt : old_name + " #2";
        avahi_free(alt);
    }
    log::warning(kLog, "name '" + printable(old_name) + "' is taken on the LAN; now '" +
                           printable(published_name_) + "'");
    signal_name_changed_.emit(old_name, published_name_);
}

void AvahiDirectory::group_state_changed(AvahiEntryGroup* g, int state)
{
    switch (state) {
    case AVAHI_ENTRY_GROUP_ESTABLISHED:
        log::info(kLog, "published as '" + printable(published_name_) + "'");
        break;
    case AVAHI_ENTRY_GROUP_COLLISION: {
        // RFC 6762 §9: someone else won the probe for this name. Pick the next name and go
        // again; the user is told through signal_name_changed (never silently).
        rename_after_collision();
        if (AvahiClient* c = running_client_)
            register_service(c);
        break;
    }
    case AVAHI_ENTRY_GROUP_FAILURE: {
        AvahiClient* c = avahi_entry_group_get_client(g);
        const std::string why = avahi_error_text(c);
        log::error(kLog, "publishing our presence failed: " + why);
        if (c && avahi_client_get_state(c) == AVAHI_CLIENT_S_RUNNING)
            set_state(DirectoryState::Failure, "publishing our presence failed: " + why);
        break;
    }
    default:
        break;
    }
}

// ---- browsing --------------------------------------------------------------------------

void AvahiDirectory::start_browser(AvahiClient* c)
{
    AvahiServiceBrowser* b =
        avahi_service_browser_new(c, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, kServiceType, nullptr,
                                  AvahiLookupFlags(0), &Trampolines::browser, this);
    if (!b) {
        set_state(DirectoryState::Failure, "cannot browse the LAN: " + avahi_error_text(c));
        return;
    }
    browser_.reset(b);
}

void AvahiDirectory::browser_new(int iface, int proto, const std::string& name,
                                 const char* domain, int flags)
{
    // Our own service is not skipped here by AVAHI_LOOKUP_RESULT_OUR_OWN/LOCAL: the daemon
    // sets OUR_OWN by name, so while our probe for "x" is losing a collision it hides the
    // peer that really owns "x" (seen on the testbed). It is filtered after resolving, by
    // name and host, in emit_peer().
    log::debug(kLog, "service '" + printable(name) + "' on interface " + std::to_string(iface) +
                         " " + proto_name(proto) + " flags " + std::to_string(flags));
    TupleKey key{name, iface, proto};
    if (tuples_.count(key))
        return;
    AvahiClient* c = running_client_;
    if (!c)
        return;
    if (tuples_.size() >= kMaxResolvers) {
        log_ignored(name, "too many services on the LAN (limit " +
                              std::to_string(kMaxResolvers) + ")");
        return;
    }
    auto t = std::make_unique<Tuple>();
    t->owner = this;
    t->key = key;
    t->domain = domain && *domain ? domain : "local";
    // One resolver per (interface, protocol), asking for the address family of that
    // transport: IPv4 mDNS gives the A record, IPv6 mDNS the AAAA (link-local) one. It stays
    // open: avahi reports changes (TXT updates) and FAILURE when the host's records expire.
    AvahiServiceResolver* r = avahi_service_resolver_new(
        c, iface, proto, name.c_str(), kServiceType, domain, proto, AvahiLookupFlags(0),
        &Trampolines::resolver, t.get());
    if (!r) {
        log::warning(kLog, "cannot resolve '" + printable(name) + "': " + avahi_error_text(c));
        return;
    }
    t->resolver.reset(r);
    tuples_.emplace(std::move(key), std::move(t));
}

void AvahiDirectory::browser_remove(int iface, int proto, const std::string& name)
{
    remove_tuple(TupleKey{name, iface, proto});
}

void AvahiDirectory::remove_tuple(const TupleKey& key)
{
    auto it = tuples_.find(key);
    if (it == tuples_.end())
        return;
    const std::string instance = std::get<0>(key);
    tuples_.erase(it);
    // The TXT browser goes with the peer's last tuple.
    auto next = tuples_.lower_bound(TupleKey{instance, INT_MIN, INT_MIN});
    if (next == tuples_.end() || std::get<0>(next->first) != instance)
        followers_.erase(instance);
    refresh_peer(instance);
}

void AvahiDirectory::tuple_found(Tuple& t, const std::string& host, const Address& address,
                                 std::uint16_t port, std::vector<std::string> txt)
{
    const std::string instance = std::get<0>(t.key);
    t.resolved = true;
    t.host = host;
    t.address = address;
    t.port = port;
    // The resolver's TXT lags a change by the cache-flush second (RFC 6762 §10.2) and may even
    // be an older record still in the cache: the record browser's newest one wins.
    const std::vector<std::string>* live = nullptr;
    if (auto f = followers_.find(instance); f != followers_.end())
        if (auto l = f->second->live.find({std::get<1>(t.key), std::get<2>(t.key)});
            l != f->second->live.end() && !l->second.empty())
            live = &l->second;
    apply_record(t, live ? decode_rdata(live->back()) : decode_txt(txt));
    if (t.found)
        follow_txt(t);
    refresh_peer(instance);
}

void AvahiDirectory::apply_record(Tuple& t, Result<PresenceRecord> record)
{
    const std::string& instance = std::get<0>(t.key);
    if (!record) {
        // A peer with a broken record (notably a malformed cw-fp) is not downgraded to a
        // legacy peer: it is left out until it publishes something sane.
        t.found = false;
        log_ignored(instance, record.error().message);
        return;
    }
    ignored_logged_.erase(instance);
    t.found = true;
    t.seq = next_seq_++;
    t.record = std::move(record.value());
}

void AvahiDirectory::follow_txt(const Tuple& t)
{
    const std::string& instance = std::get<0>(t.key);
    AvahiClient* c = running_client_;
    if (!c || followers_.count(instance) || is_own_service(instance, t.host))
        return;
    if (followers_.size() >= kMaxTxtFollowers) {
        log::debug(kLog, "not following the TXT record of '" + printable(instance) + "': " +
                             std::to_string(kMaxTxtFollowers) + " peers followed already");
        return;
    }
    // The TXT record's owner name is the service instance name (RFC 6763 §4.1, §6).
    char name[AVAHI_DOMAIN_NAME_MAX] = {};
    if (const int r = avahi_service_name_join(name, sizeof name, instance.c_str(), kServiceType,
                                              t.domain.c_str());
        r < 0) {
        log::debug(kLog, "not following the TXT record of '" + printable(instance) +
                             "': " + avahi_strerror(r));
        return;
    }
    auto f = std::make_unique<TxtFollower>();
    f->owner = this;
    f->instance = instance;
    // Any interface and protocol: events say where the record was seen, and go to that tuple.
    AvahiRecordBrowser* b = avahi_record_browser_new(
        c, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, name, AVAHI_DNS_CLASS_IN, AVAHI_DNS_TYPE_TXT,
        AvahiLookupFlags(0), &Trampolines::txt_record, f.get());
    if (!b) {
        log::info(kLog, "cannot follow the TXT record of '" + printable(instance) + "' (" +
                            avahi_error_text(c) + "); its status changes arrive through the resolver");
        return;
    }
    f->browser.reset(b);
    followers_.emplace(instance, std::move(f));
}

void AvahiDirectory::txt_event(TxtFollower& f, int iface, int proto, bool added, std::string rdata)
{
    const std::pair<int, int> where{iface, proto};
    auto& live = f.live[where];
    live.erase(std::remove(live.begin(), live.end(), rdata), live.end());
    if (added) {
        live.push_back(std::move(rdata));
        if (live.size() > kMaxLiveTxt)
            live.erase(live.begin());
    } else if (live.size() != 1) {
        // Old records leave a second after a change (RFC 6762 §10.2), possibly after the
        // current one was sent again (a change back to an earlier status arrives as a
        // refresh, not as a new record). Which of several is current is only certain once one
        // is left: until then the newest arrival stays shown, so no old status flickers back.
        if (live.empty())
            f.live.erase(where);  // gone with a goodbye or expired: the browsers report that
        return;
    }
    auto it = tuples_.find(TupleKey{f.instance, iface, proto});
    if (it == tuples_.end() || !it->second->resolved)
        return;  // taken when the resolver reports host and port (tuple_found)
    apply_record(*it->second, decode_rdata(live.back()));
    refresh_peer(f.instance, true);
}

void AvahiDirectory::tuple_failed(Tuple& t, const std::string& why)
{
    const std::string instance = std::get<0>(t.key);
    if (!t.found) {
        t.resolved = false;  // a TXT update must not bring back a host that stopped answering
        log::debug(kLog, "resolving '" + printable(instance) + "' failed: " + why);
        return;
    }
    // The host's SRV/address records expired (cable cut, host gone without goodbye): this
    // (interface, protocol) no longer reaches the peer. The resolver stays open, so if the
    // records come back avahi reports FOUND again even though the browser never saw a
    // removal (its PTR record lives 75 minutes).
    log::info(kLog, "'" + printable(instance) + "' no longer answers on interface " +
                        std::to_string(std::get<1>(t.key)) + " " + proto_name(std::get<2>(t.key)) +
                        " (" + why + ")");
    t.resolved = false;
    t.found = false;
    refresh_peer(instance);
}

void AvahiDirectory::refresh_peer(const std::string& instance, bool at_once)
{
    if (destroying_)
        return;
    // Arrivals, departures and TXT changes go out at once: discovery latency and a status
    // change are what users feel, and a peer's second address family arriving a few
    // milliseconds later is a cheap "changed" (an identical one is not emitted at all).
    bool live = false;
    for (auto it = tuples_.lower_bound(TupleKey{instance, INT_MIN, INT_MIN});
         it != tuples_.end() && std::get<0>(it->first) == instance && !live; ++it)
        live = it->second->found && !is_own_service(instance, it->second->host);
    if (at_once || live != (peers_.count(instance) > 0)) {
        dirty_.erase(instance);
        emit_peer(instance);
        return;
    }
    // Other changes to a known peer (addresses, port, resolver answers) arrive in bursts:
    // collect them.
    dirty_.insert(instance);
    if (!flush_.connected())
        flush_ = context_->signal_timeout().connect(
            [this] {
                std::set<std::string> dirty;
                dirty.swap(dirty_);
                for (const auto& name : dirty)
                    emit_peer(name);
                return false;
            },
            kCoalesceMs);
}

bool AvahiDirectory::is_own_service(const std::string& instance, const std::string& host) const
{
    return want_publish_ && instance == published_name_ && !own_host_.empty() &&
           host == own_host_;
}

void AvahiDirectory::emit_peer(const std::string& instance)
{
    PeerAnnouncement merged;
    merged.instance = instance;
    const Tuple* newest = nullptr;
    for (auto it = tuples_.lower_bound(TupleKey{instance, INT_MIN, INT_MIN});
         it != tuples_.end() && std::get<0>(it->first) == instance; ++it) {
        const Tuple& t = *it->second;
        if (!t.found || is_own_service(instance, t.host))
            continue;
        if (!t.address.ip.empty() &&
            std::find(merged.addresses.begin(), merged.addresses.end(), t.address) ==
                merged.addresses.end())
            merged.addresses.push_back(t.address);
        if (!newest || t.seq > newest->seq)
            newest = &t;
    }
    auto known = peers_.find(instance);
    if (!newest) {
        if (known != peers_.end()) {
            peers_.erase(known);
            signal_peer_down_.emit(instance);
        }
        return;
    }
    merged.host = newest->host;
    merged.port = newest->port;
    merged.record = newest->record;
    // A stable order (IPv4 first) so an unchanged set never looks like a change.
    std::sort(merged.addresses.begin(), merged.addresses.end(),
              [](const Address& a, const Address& b) {
                  return std::tie(a.ipv6, a.ip, a.ifindex) < std::tie(b.ipv6, b.ip, b.ifindex);
              });
    if (known == peers_.end()) {
        peers_.emplace(instance, merged);
        signal_peer_up_.emit(merged);
    } else if (!(known->second == merged)) {
        known->second = merged;
        signal_peer_changed_.emit(merged);
    }
}

void AvahiDirectory::drop_all_peers()
{
    flush_.disconnect();
    dirty_.clear();
    std::vector<std::string> names;
    for (const auto& [name, p] : peers_)
        names.push_back(name);
    peers_.clear();
    if (destroying_)
        return;
    for (const auto& name : names)
        signal_peer_down_.emit(name);
}

void AvahiDirectory::log_ignored(const std::string& instance, const std::string& why)
{
    if (ignored_logged_.count(instance))
        return;
    if (ignored_logged_.size() >= kMaxIgnoredRemembered)
        ignored_logged_.clear();
    ignored_logged_.insert(instance);

    const std::int64_t now = now_ms();
    if (now - ignored_window_start_ms_ >= 60000) {
        if (ignored_suppressed_ > 0)
            log::warning(kLog, std::to_string(ignored_suppressed_) +
                                   " more ignored announcements were not logged");
        ignored_window_start_ms_ = now;
        ignored_in_window_ = 0;
        ignored_suppressed_ = 0;
    }
    if (ignored_in_window_ < kIgnoredLinesPerMinute) {
        ++ignored_in_window_;
        log::warning(kLog, "ignoring peer '" + printable(instance) + "': " + why);
    } else {
        ++ignored_suppressed_;
    }
}

std::vector<PeerAnnouncement> AvahiDirectory::peers() const
{
    std::vector<PeerAnnouncement> out;
    out.reserve(peers_.size());
    for (const auto& [name, p] : peers_)
        out.push_back(p);
    return out;
}

const PeerAnnouncement* AvahiDirectory::find(const std::string& instance) const
{
    auto it = peers_.find(instance);
    return it == peers_.end() ? nullptr : &it->second;
}

// ---- connect-time resolve ------------------------------------------------------------

void AvahiDirectory::resolve_now(const std::string& instance,
                                 std::function<void(Result<PeerAnnouncement>)> done)
{
    auto os = std::make_unique<OneShot>();
    os->owner = this;
    os->id = next_oneshot_++;
    os->instance = instance;
    os->done = std::move(done);
    const std::uint64_t id = os->id;
    unsigned delay = 0;  // no daemon: answer from the cache on the next loop iteration
    if (AvahiClient* c = running_client_) {
        AvahiServiceResolver* r = avahi_service_resolver_new(
            c, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, instance.c_str(), kServiceType, nullptr,
            AVAHI_PROTO_UNSPEC, AvahiLookupFlags(0), &Trampolines::oneshot, os.get());
        if (r) {
            os->resolver.reset(r);
            delay = kResolveTimeoutMs;
        }
    }
    os->timeout = context_->signal_timeout().connect(
        [this, id] {
            finish_oneshot(id, make_error("timeout", "no answer from the LAN"));
            return false;
        },
        delay);
    oneshots_.emplace(id, std::move(os));
}

void AvahiDirectory::finish_oneshot(std::uint64_t id, Result<PeerAnnouncement> fresh)
{
    auto it = oneshots_.find(id);
    if (it == oneshots_.end())
        return;
    std::unique_ptr<OneShot> os = std::move(it->second);
    oneshots_.erase(it);
    os->timeout.disconnect();
    os->resolver.reset();  // avahi allows freeing a resolver inside its own callback

    Result<PeerAnnouncement> result = std::move(fresh);
    const PeerAnnouncement* cached = find(os->instance);
    if (result) {
        // The fresh address goes first; keep the other known ones as fallbacks.
        if (cached)
            for (const auto& a : cached->addresses)
                if (std::find(result->addresses.begin(), result->addresses.end(), a) ==
                    result->addresses.end())
                    result->addresses.push_back(a);
    } else if (result.error().code != "invalid-txt") {
        if (cached)
            result = *cached;
        else
            result = make_error("not-found", "'" + os->instance + "' is not on the LAN");
    }
    if (os->done)
        os->done(std::move(result));
}

}  // namespace chinwag::discovery
