#include "core/messenger.hpp"

#include <algorithm>
#include <functional>
#include <list>
#include <map>
#include <set>
#include <utility>

#include "crypto/fingerprint.hpp"
#include "core/contact_book.hpp"
#include "core/trust_policy.hpp"
#include "crypto/identity.hpp"
#include "discovery/avahi_directory.hpp"
#include "storage/contact_store.hpp"
#include "storage/database.hpp"
#include "storage/message_store.hpp"
#include "sync/outbox.hpp"
#include "transport/link_local_listener.hpp"
#include "transport/link_local_stream.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "xmpp/stanzas.hpp"

namespace chinwag::core {

using model::Contact;
using model::Message;
using model::MessageState;
using model::Trust;

namespace {

constexpr std::size_t kMaxBodyBytes = 48 * 1024;
constexpr std::size_t kMaxUnopenedStreams = 64;
constexpr std::int64_t kIdleCloseMs = 120000;
constexpr std::int64_t kIdleIncomingCloseMs = 300000;
constexpr std::int64_t kMaxRetryDelayMs = 60000;
constexpr int kMaxBatch = 500;  // incoming messages per group commit (bounds receipt delay)

// IPv4 first: every stack has it; IPv6 link-local needs its interface index (XEP-0174 §5).
std::vector<std::string> dial_order(const discovery::PeerAnnouncement& ann)
{
    std::vector<std::string> out;
    for (const auto& a : ann.addresses)
        if (!a.ipv6)
            out.push_back(a.ip);
    for (const auto& a : ann.addresses)
        if (a.ipv6)
            out.push_back(a.ifindex > 0 && a.ip.rfind("fe80", 0) == 0 ? a.ip + "%" + std::to_string(a.ifindex) : a.ip);
    return out;
}

// Runs fn once after ms on the thread-default main context.
void run_later(unsigned ms, std::function<void()> fn)
{
    g_timeout_add_full(
        G_PRIORITY_DEFAULT, ms,
        [](gpointer data) -> gboolean {
            (*static_cast<std::function<void()>*>(data))();
            return G_SOURCE_REMOVE;
        },
        new std::function<void()>(std::move(fn)), [](gpointer data) { delete static_cast<std::function<void()>*>(data); });
}

}  // namespace

class Messenger::Impl {
public:
    // One stream and what was sent on it (so a reconnect resends what lacks a receipt).
    struct Slot {
        std::unique_ptr<transport::LinkLocalStream> stream;
        std::string contact_id;  // known once open
        std::set<std::string> sent_ids;  // written here, no receipt yet (bounded by the outbox)
        // True after a flush wrote every pending message to this stream: a new message can
        // then go out alone, in order, without re-reading the whole outbox (which made a
        // burst of n sends cost O(n^2) row reads while receipts lag behind).
        bool outbox_flushed = false;
        bool dead = false;
    };
    // A peer present on the LAN now.
    struct Presence {
        std::string contact_id;
        discovery::PeerAnnouncement announcement;
        bool reachable = true;  // false after its open stream died without goodbye
        bool held = false;      // avahi-daemon went away, not the peer: kept while a stream is open
    };
    struct Retry {
        std::int64_t due_ms = 0;
        std::int64_t delay_ms = 0;
    };

    Impl(Messenger& outer, std::unique_ptr<Profile> profile, crypto::Identity identity,
         std::unique_ptr<storage::Database> db, GMainContext* context)
        : outer_(outer),
          profile_(std::move(profile)),
          identity_(std::move(identity)),
          db_(std::move(db)),
          contact_store_(*db_),
          contacts_(contact_store_),
          messages_(*db_),
          context_(context)
    {
    }

    ~Impl()
    {
        // What the batch holds is stored; no receipts or signals any more while going away.
        if (batch_.due)
            g_source_remove(batch_.due);
        if (batch_.open && !db_->exec("COMMIT", "the message"))
            if (auto rolled_back = db_->exec("ROLLBACK"); !rolled_back)
                log::error("storage", "could not roll back the last messages: " + rolled_back.error().message);
        *alive_ = false;
        if (housekeeping_)
            g_source_remove(housekeeping_);
        if (cleanup_)
            g_source_remove(cleanup_);
        for (auto& slot : slots_)
            slot.stream.reset();
        directory_.reset();
    }

    Result<void> start();
    std::string self_instance() const;
    discovery::PresenceRecord own_record() const;
    void publish();

    void on_peer_seen(const discovery::PeerAnnouncement& ann);
    void on_peer_down(const std::string& instance);
    void mark_unreachable(const std::string& contact_id, const std::string& why);
    void on_incoming(GSocketConnection* connection);
    void authorize(const std::string& from, const std::string& ip, std::function<void(transport::Admission)> answer,
                   bool may_recheck = true);
    void on_stream_open(Slot* slot);
    // A mutual-TLS stream proved that `instance` holds `fingerprint`: pin it on first proof,
    // warn on a contradiction. False if the stream must close (the store could not be read).
    bool on_proof(const std::string& fingerprint, const std::string& instance);
    void on_stream_closed(Slot* slot, const transport::CloseInfo& info);
    void on_stanza(Slot* slot, const xmpp::Element& stanza);
    void handle_message(Slot* slot, const xmpp::IncomingMessage& message);
    void flush_outbox(const std::string& contact_id);
    // Writes one pending message to the stream and records it Sent; false if it could not.
    bool write_to(Slot& slot, Message& m);
    // Sends a message just stored by send(): alone when the outbox is already flushed.
    void send_new(Message& m);
    void connect_to(const std::string& contact_id);
    void schedule_retry(const std::string& contact_id);
    Slot* open_slot(const std::string& contact_id);
    bool connecting(const std::string& contact_id) const;
    bool has_stream(const std::string& contact_id) const;
    Slot& add_slot(std::unique_ptr<transport::LinkLocalStream> stream, std::string contact_id);
    void schedule_cleanup();
    static gboolean on_housekeeping(gpointer self);
    static gboolean on_cleanup(gpointer self);

    Result<std::string> resolve(const std::string& ref) const;
    std::optional<Presence> presence_of(const std::string& contact_id) const;
    PeerView view(const Contact& contact) const;
    void emit_peer(const std::string& contact_id);
    void warn(std::string kind, std::string peer, std::string detail);
    void notice(std::string kind, std::string detail, bool problem);
    void storage_failed(const Error& error);
    void storage_ok();  // after a failure: tells the user that saving works again

    // Group commit. Writes made while handling stanzas (incoming messages, receipts' state
    // changes) and the "sent" marks share one transaction, committed once the main loop has
    // handled what it read (a 0 ms timeout) or after kMaxBatch writes: one fsync per burst
    // instead of one per message. Whatever must not be lost waits for the commit: the
    // receipts of the messages in it (XEP-0184: only once stored) and their notifications.
    // The public calls that write commit before they return, so what they report is stored.
    Result<void> join_batch();
    Result<void> commit_batch();
    // A write in the batch or its commit failed: roll back, tell the user, and close the
    // streams whose messages were in it (unacknowledged: their senders resend them).
    void abort_batch(const Error& error);
    static gboolean on_batch_due(gpointer self);
    // An outgoing message's new state, written in the batch; false if that failed (the batch
    // is then aborted).
    bool set_state_in_batch(const std::string& message_id, MessageState state, const std::string& reason = {});

    Messenger& outer_;
    std::unique_ptr<Profile> profile_;
    crypto::Identity identity_;
    std::unique_ptr<storage::Database> db_;
    mutable storage::ContactStore contact_store_;
    mutable ContactBook contacts_;  // stored contacts and the announced-only nearby peers
    mutable storage::MessageStore messages_;
    // Unread incoming messages per contact, loaded from the store on first use and then kept
    // here: counting them in SQLite for every view made a burst of n unread messages cost
    // O(n^2) row visits (this process is the only writer of its profile).
    mutable std::map<std::string, int> unread_;
    int unread(const std::string& contact_id) const;
    GMainContext* context_;
    std::unique_ptr<discovery::AvahiDirectory> directory_;
    std::unique_ptr<transport::LinkLocalListener> listener_;
    std::uint16_t port_ = 0;

    std::map<std::string, Presence> online_;          // instance → presence
    std::map<std::string, std::string> chat_states_;  // contact → last XEP-0085 state
    std::map<std::string, Retry> retries_;
    std::set<std::string> resolving_;                 // contacts with a connect in preparation
    std::set<std::string> warned_;                    // "kind|peer" already told the user
    std::set<std::string> unproven_;                  // instances that failed to prove their key
    std::list<Slot> slots_;
    guint housekeeping_ = 0;
    guint cleanup_ = 0;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for callbacks that may outlive us
    bool started_ = false;
    bool storage_failing_ = false;
    bool discovery_down_ = false;  // avahi-daemon is away: its departures are not news

    struct Batch {
        bool open = false;
        int writes = 0;
        guint due = 0;                                   // the 0 ms timeout that commits it
        std::vector<std::pair<Slot*, xmpp::Element>> receipts;
        std::vector<Message> received;                   // new incoming messages, to announce
        std::set<Slot*> slots;                           // streams with messages in it
    } batch_;
};

// ---- start-up and presence ----

Result<void> Messenger::Impl::start()
{
    if (started_)
        return {};
    listener_ = std::make_unique<transport::LinkLocalListener>([this](GSocketConnection* c) { on_incoming(c); });
    auto port = listener_->start();
    if (!port)
        return port.error();
    port_ = *port;
    directory_ = std::make_unique<discovery::AvahiDirectory>(context_);
    directory_->signal_peer_up().connect([this](const discovery::PeerAnnouncement& a) { on_peer_seen(a); });
    directory_->signal_peer_changed().connect([this](const discovery::PeerAnnouncement& a) { on_peer_seen(a); });
    directory_->signal_peer_down().connect([this](const std::string& i) { on_peer_down(i); });
    // The directory logs its own state changes; the user is told through a notice.
    directory_->signal_state().connect([this](discovery::DirectoryState state, const std::string& detail) {
        const bool problem =
            state == discovery::DirectoryState::DaemonMissing || state == discovery::DirectoryState::Failure;
        discovery_down_ = state == discovery::DirectoryState::DaemonMissing;
        notice("discovery", detail, problem);
    });
    directory_->signal_name_changed().connect([this](const std::string& old_name, const std::string& new_name) {
        std::string detail = "the name " + old_name + " is already taken on this network; now using " + new_name;
        log::warning("discovery", detail);
        notice("renamed", detail, false);
    });
    directory_->start();
    publish();
    housekeeping_ = g_timeout_add(1000, &Impl::on_housekeeping, this);
    started_ = true;
    // The outbox survives restarts: whatever waits goes out as soon as its peer shows up.
    for (const auto& id : messages_.contacts_with_pending())
        retries_[id] = Retry{0, 0};
    return {};
}

std::string Messenger::Impl::self_instance() const
{
    if (directory_ && !directory_->published_name().empty())
        return directory_->published_name();
    return profile_->instance_name();
}

discovery::PresenceRecord Messenger::Impl::own_record() const
{
    const Settings& s = profile_->settings();
    discovery::PresenceRecord r;
    r.port_p2pj = port_;
    r.status = std::string(model::to_xep0174(s.status));
    r.msg = s.status_message;
    r.nick = s.nick;
    if (s.publish_name) {
        r.first = s.first_name;
        r.last = s.last_name;
    }
    if (s.publish_email)
        r.email = s.email;
    r.fingerprint = identity_.fingerprint();
    r.chinwag_version = "1";
    return r;
}

void Messenger::Impl::publish()
{
    if (directory_)
        directory_->publish(profile_->instance_name(), port_, own_record());
}

void Messenger::Impl::on_peer_seen(const discovery::PeerAnnouncement& ann)
{
    const auto& rec = ann.record;
    const std::int64_t now = now_ms();
    const std::string id = rec.fingerprint.empty() ? model::legacy_contact_id(ann.instance) : rec.fingerprint;
    auto facts = contacts_.facts(id, ann.instance);
    const AnnouncementVerdict verdict = judge_announcement(ann.instance, rec.fingerprint, facts);
    if (verdict.standing == Standing::Refused) {
        // Fail closed: without the stored facts nothing is pinned, merged or flagged.
        log::error("trust", ann.instance + " is not shown for now: " + verdict.detail);
        storage_failed(facts.error());
        return;
    }
    Contact c;
    if (facts->same_id) {
        c = *facts->same_id;
    } else if (auto held = contacts_.find(id); held && *held) {
        c = **held;  // announced before (nearby): the same peer again
    } else {
        c.id = id;
        c.first_seen_ms = now;
    }
    c.instance = ann.instance;
    c.nick = rec.nick;
    c.fingerprint = rec.fingerprint;
    c.first_name = rec.first;
    c.last_name = rec.last;
    c.email = rec.email;
    c.trust = verdict.trust;
    // A contact whose own key was proven keeps its trust while it announces another one's
    // name: the warning is about this announcement, not a verdict on the contact.
    if (verdict.standing == Standing::Impostor && facts->same_id && is_proven(facts->same_id->trust))
        c.trust = facts->same_id->trust;
    c.last_seen_ms = now;
    if (verdict.standing == Standing::Contact || facts->same_id) {
        if (auto stored = contacts_.store(c); !stored)
            storage_failed(stored.error());
    } else {
        contacts_.hold_nearby(c);  // a claim or an impostor announcement: never written down
    }
    const std::string impostor_detail = verdict.standing == Standing::Impostor ? verdict.detail : std::string();

    // The same instance may now carry a different key: the old contact left.
    if (auto old = online_.find(ann.instance); old != online_.end() && old->second.contact_id != id) {
        std::string gone = old->second.contact_id;
        online_.erase(old);
        unproven_.erase(ann.instance);  // a new key gets its own chance to prove itself
        emit_peer(gone);
        outer_.peer_gone_.emit(gone);
    }
    const bool was_online = online_.count(ann.instance) && online_[ann.instance].reachable;
    // A peer that restarted quickly may never look offline: it only re-announces a new port or
    // address. That is fresh evidence it is reachable, so the outbox need not wait for a backoff.
    const bool moved = was_online && (online_[ann.instance].announcement.port != ann.port ||
                                      online_[ann.instance].announcement.addresses != ann.addresses);
    online_[ann.instance] = Presence{id, ann, true};
    if (!was_online)
        log::info("presence", ann.instance + (rec.fingerprint.empty() ? " (legacy) is online" : " is online"));
    if (!impostor_detail.empty()) {
        log::warning("trust", impostor_detail);
        warn("impostor", id, impostor_detail);
    }
    emit_peer(id);
    if (!was_online || moved) {
        retries_.erase(id);
        flush_outbox(id);
    }
}

void Messenger::Impl::on_peer_down(const std::string& instance)
{
    const bool was_proven = unproven_.erase(instance) == 0;
    auto it = online_.find(instance);
    if (it == online_.end())
        return;
    std::string id = it->second.contact_id;
    // Our own avahi-daemon went away, not the peer: a contact with an open stream is evidently
    // still there. It stays online until that stream closes or avahi reports it again.
    if (discovery_down_ && was_proven && open_slot(id)) {
        if (!it->second.held)
            log::info("presence", instance + " stays online while avahi-daemon is away: its stream is open");
        it->second.held = true;
        return;
    }
    const bool was_reachable = it->second.reachable && was_proven;
    online_.erase(it);
    log::info("presence", instance + " left the network");
    if (presence_of(id)) {
        emit_peer(id);  // the contact is still here under another announcement
        return;
    }
    chat_states_.erase(id);
    // No permanent contact without a conversation: a peer that was only announced, or whose
    // key was proven but never exchanged a word with us, leaves with the LAN (a flood of
    // bogus announcements must not grow the list). Kept: a message either way, or verified.
    if (contacts_.is_nearby(id)) {
        contacts_.forget_nearby(id);
        if (was_reachable)
            outer_.peer_gone_.emit(id);
        return;
    }
    auto c = contacts_.find(id);
    if (c && *c && (*c)->trust != Trust::Verified && !has_stream(id)) {
        if (auto removed = contact_store_.remove_if_unused(id); !removed) {
            storage_failed(removed.error());
        } else if (*removed) {
            unread_.erase(id);
            if (was_reachable)
                outer_.peer_gone_.emit(id);
            return;
        }
    }
    if (c && *c) {
        Contact seen = **c;
        seen.last_seen_ms = now_ms();
        if (auto stored = contacts_.store(seen); !stored)
            storage_failed(stored.error());
    }
    emit_peer(id);
    if (was_reachable)
        outer_.peer_gone_.emit(id);
}

void Messenger::Impl::mark_unreachable(const std::string& contact_id, const std::string& why)
{
    for (auto& [instance, p] : online_) {
        if (p.contact_id != contact_id || !p.reachable)
            continue;
        p.reachable = false;
        log::info("presence", instance + " is unreachable (" + why + "); shown offline");
        emit_peer(contact_id);
        outer_.peer_gone_.emit(contact_id);
    }
}

// ---- streams ----

Messenger::Impl::Slot& Messenger::Impl::add_slot(std::unique_ptr<transport::LinkLocalStream> stream,
                                                  std::string contact_id)
{
    slots_.push_back(Slot{std::move(stream), std::move(contact_id), {}, false});
    Slot* slot = &slots_.back();
    slot->stream->signal_opened().connect([this, slot] { on_stream_open(slot); });
    slot->stream->signal_stanza().connect([this, slot](const xmpp::Element& e) { on_stanza(slot, e); });
    slot->stream->signal_closed().connect([this, slot](const transport::CloseInfo& i) { on_stream_closed(slot, i); });
    return *slot;
}

void Messenger::Impl::on_incoming(GSocketConnection* connection)
{
    std::size_t unopened = std::count_if(slots_.begin(), slots_.end(),
                                         [](const Slot& s) { return !s.dead && !s.stream->is_open(); });
    if (unopened >= kMaxUnopenedStreams) {
        log::warning("listener", "too many connections still opening; refusing a new one");
        g_io_stream_close(G_IO_STREAM(connection), nullptr, nullptr);
        return;
    }
    auto stream = transport::LinkLocalStream::incoming(
        identity_, self_instance(), connection,
        [this](const std::string& from, const std::string& ip, std::function<void(transport::Admission)> answer) {
            authorize(from, ip, std::move(answer));
        });
    add_slot(std::move(stream), {}).stream->start();
}

void Messenger::Impl::authorize(const std::string& from, const std::string& ip,
                                std::function<void(transport::Admission)> answer, bool may_recheck)
{
    auto decide = [this, from, ip, answer, may_recheck](const discovery::PeerAnnouncement* ann) {
        const StreamAdmission a = judge_incoming_stream(from, ip, ann, contacts_.proven_for(from), may_recheck);
        switch (a.verdict) {
        case StreamVerdict::AcceptTls: return answer({true, a.expected_fingerprint, {}});
        case StreamVerdict::AcceptPlaintext: return answer({true, {}, {}});
        case StreamVerdict::Downgrade:
            warn("downgrade", a.contact_id,
                 from + " tried to talk without encryption, but that name belongs to a contact with a key; refused");
            return answer({false, {}, a.reason});
        case StreamVerdict::LookAgain:
            return run_later(1500, [this, alive = alive_, from, ip, answer] {
                if (*alive)
                    authorize(from, ip, answer, false);
            });
        case StreamVerdict::Refuse:
            return answer({false, {}, a.reason});  // the stream logs why
        }
    };
    if (const auto* ann = directory_->find(from))
        return decide(ann);
    // The peer may have connected before we resolved it: ask avahi once more.
    directory_->resolve_now(from, [decide](Result<discovery::PeerAnnouncement> r) { decide(r ? &*r : nullptr); });
}

void Messenger::Impl::on_stream_open(Slot* slot)
{
    auto& s = *slot->stream;
    if (slot->contact_id.empty())
        slot->contact_id = s.is_secure() ? s.peer_fingerprint() : model::legacy_contact_id(s.peer_instance());
    if (s.is_secure() && !on_proof(slot->contact_id, s.peer_instance())) {
        s.close();
        return;
    }
    retries_.erase(slot->contact_id);
    resolving_.erase(slot->contact_id);
    for (auto& [instance, p] : online_) {
        if (p.contact_id == slot->contact_id && !p.reachable) {
            p.reachable = true;
            emit_peer(p.contact_id);
        }
    }
    flush_outbox(slot->contact_id);
}

bool Messenger::Impl::on_proof(const std::string& fingerprint, const std::string& instance)
{
    auto facts = contacts_.facts(fingerprint, instance);
    const ProofVerdict verdict = judge_proof(instance, fingerprint, facts);
    if (verdict.outcome == ProofOutcome::Refused) {
        log::error("trust", "closed the stream with " + instance + ": " + verdict.detail);
        storage_failed(facts.error());
        return false;
    }
    if (verdict.outcome == ProofOutcome::Confirmed)
        return true;
    auto known = contacts_.find(fingerprint);
    // Proved before its announcement was followed: what the stream tells.
    Contact c = known && *known ? **known : stream_contact(fingerprint, instance, true);
    c.trust = verdict.trust;
    if (verdict.outcome == ProofOutcome::Contradiction) {
        log::warning("trust", verdict.detail);
        warn("impostor", fingerprint, verdict.detail);
        if (contacts_.is_nearby(fingerprint) || !known || !*known)
            contacts_.hold_nearby(c);  // stored only once it sends a message (as an impostor)
        else if (auto stored = contacts_.store(c); !stored)
            storage_failed(stored.error());
    } else {
        // Trust on first proven use: the key this stream proved is pinned now.
        log::info("trust", instance + " proved its key " + crypto::format_fingerprint(fingerprint) + ": pinned");
        if (auto stored = contacts_.store(c); !stored) {
            storage_failed(stored.error());
            return false;
        }
    }
    emit_peer(fingerprint);
    return true;
}

void Messenger::Impl::on_stream_closed(Slot* slot, const transport::CloseInfo& info)
{
    slot->dead = true;
    schedule_cleanup();
    const std::string id = slot->contact_id;
    const std::string instance = slot->stream->peer_instance();
    if (info.kind == "peer-key-mismatch") {
        std::string detail = instance + " could not prove the key it advertises: " + info.detail;
        warn("key-mismatch", id.empty() ? instance : id, detail);
        // Until it leaves the network, that announcement does not count as the contact's
        // presence: it neither shows the contact online nor is dialled for its messages.
        if (unproven_.insert(instance).second)
            if (auto it = online_.find(instance); it != online_.end())
                emit_peer(it->second.contact_id);
    }
    if (id.empty())
        return;
    resolving_.erase(id);
    // Held while avahi-daemon was away because of this stream: without it, the peer is gone.
    if (!open_slot(id)) {
        std::vector<std::string> held;
        for (const auto& [inst, p] : online_)
            if (p.contact_id == id && p.held)
                held.push_back(inst);
        for (const auto& inst : held)
            on_peer_down(inst);
    }
    if (info.opened && (info.kind == "timeout" || info.kind == "io"))
        mark_unreachable(id, info.detail);
    if (!messages_.pending(id).empty())
        schedule_retry(id);
}

void Messenger::Impl::on_stanza(Slot* slot, const xmpp::Element& stanza)
{
    if (slot->contact_id.empty())
        return;
    if (auto message = xmpp::read_message(stanza))
        handle_message(slot, *message);
    else if (xmpp::is_iq_request(stanza))
        slot->stream->send(xmpp::iq_error(stanza, "service-unavailable"));
}

void Messenger::Impl::handle_message(Slot* slot, const xmpp::IncomingMessage& in)
{
    const std::string& id = slot->contact_id;
    if (in.received_id) {  // XEP-0184 §4: the peer has the message
        slot->sent_ids.erase(*in.received_id);
        auto out = messages_.find_outgoing(*in.received_id);
        auto next = out ? sync::next_state(out->state, sync::OutboxEvent::Receipt) : std::nullopt;
        if (next && out->contact_id == id) {
            // Losing this mark in a crash is harmless: the message is resent, the peer drops
            // the duplicate and acknowledges it again.
            if (!set_state_in_batch(out->id, *next))
                return;
            out->state = *next;
            outer_.message_state_.emit(*out);
        }
    }
    if (in.type == "error") {
        auto out = messages_.find_outgoing(in.id);
        auto next = out ? sync::next_state(out->state, sync::OutboxEvent::Rejected) : std::nullopt;
        if (next && out->contact_id == id) {
            // RFC 6121 §5.2.2 / RFC 6120 §8.3: the peer bounced this message. It is not retried:
            // the user sees why and may send it again.
            const std::string reason =
                in.error ? xmpp::describe(*in.error) : std::string("the peer rejected it");
            if (!set_state_in_batch(out->id, *next, reason))
                return;
            out->state = *next;
            out->failure_reason = reason;
            slot->sent_ids.erase(out->id);
            log::info("messages", "message " + out->id + " was rejected: " + reason);
            outer_.message_state_.emit(*out);
        }
        return;
    }
    if (in.chat_state && !in.body) {
        chat_states_[id] = *in.chat_state;
        emit_peer(id);
    }
    if (!in.body)
        return;
    slot->stream->touch_message_activity();
    auto contact = contacts_.find(id);
    if (!contact) {
        slot->stream->close();  // fail closed, no receipt: the sender keeps it and resends
        return storage_failed(contact.error());
    }
    Message m;
    m.id = in.id.empty() ? random_id() : in.id;
    m.contact_id = id;
    m.direction = model::Direction::Incoming;
    m.body = *in.body;
    m.timestamp_ms = now_ms();
    m.state = MessageState::Delivered;
    m.secure = slot->stream->is_secure();
    m.verified = *contact && (*contact)->trust == Trust::Verified;
    if (auto joined = join_batch(); !joined) {
        slot->stream->close();  // no receipt: the sender keeps it and resends (see abort_batch)
        return;
    }
    batch_.slots.insert(slot);
    // A message makes the peer a contact for good (until now it may only have been nearby).
    if (!*contact || contacts_.is_nearby(id)) {
        // Its stream may have opened before its announcement was followed.
        const Contact kept = contact->value_or(
            stream_contact(id, slot->stream->peer_instance(), slot->stream->is_secure()));
        if (auto stored = contacts_.store(kept); !stored)
            return abort_batch(stored.error());
    }
    auto inserted = messages_.insert_incoming(m);
    if (!inserted)
        return abort_batch(inserted.error());
    // A receipt only after the message is on disk (XEP-0184 §5), also for a duplicate: it goes
    // out when the batch is committed, as does the news of the message.
    if (in.receipt_requested && !in.id.empty())
        batch_.receipts.emplace_back(slot, xmpp::receipt(self_instance(), slot->stream->peer_instance(), in.id));
    if (*inserted) {
        // Counted now: a count loaded from the store from here on already sees this row.
        if (auto u = unread_.find(id); u != unread_.end())
            ++u->second;
        batch_.received.push_back(std::move(m));
    }
    if (++batch_.writes >= kMaxBatch)
        static_cast<void>(commit_batch());  // a failure is handled inside: abort_batch
}

Result<void> Messenger::Impl::join_batch()
{
    if (batch_.open)
        return {};
    if (auto begun = db_->exec("BEGIN IMMEDIATE", "the message"); !begun) {
        storage_failed(begun.error());
        return begun.error();
    }
    batch_.open = true;
    batch_.writes = 0;
    batch_.due = g_timeout_add(0, &Impl::on_batch_due, this);
    return {};
}

bool Messenger::Impl::set_state_in_batch(const std::string& message_id, MessageState state, const std::string& reason)
{
    if (auto joined = join_batch(); !joined)
        return false;
    if (auto set = messages_.set_state(message_id, state, reason); !set) {
        abort_batch(set.error());
        return false;
    }
    return true;
}

gboolean Messenger::Impl::on_batch_due(gpointer data)
{
    auto* self = static_cast<Impl*>(data);
    self->batch_.due = 0;
    static_cast<void>(self->commit_batch());  // a failure is handled inside: abort_batch
    return G_SOURCE_REMOVE;
}

Result<void> Messenger::Impl::commit_batch()
{
    if (!batch_.open)
        return {};
    if (batch_.due) {
        g_source_remove(batch_.due);
        batch_.due = 0;
    }
    if (auto committed = db_->exec("COMMIT", "the message"); !committed) {
        abort_batch(committed.error());
        return committed.error();
    }
    Batch done = std::exchange(batch_, Batch{});
    if (!done.received.empty() || !done.receipts.empty())
        storage_ok();
    for (auto& [slot, receipt] : done.receipts)
        if (!slot->dead)
            slot->stream->send(receipt);
    for (auto& m : done.received) {
        const std::string id = m.contact_id;
        chat_states_.erase(id);
        outer_.message_.emit(m);
        emit_peer(id);
    }
    return {};
}

void Messenger::Impl::abort_batch(const Error& error)
{
    if (batch_.due)
        g_source_remove(batch_.due);
    // SQLite may already have rolled back by itself (SQLITE_FULL can do that).
    if (db_->in_transaction())
        if (auto r = db_->exec("ROLLBACK"); !r)
            log::warning("storage", "rollback failed: " + r.error().message);
    Batch lost = std::exchange(batch_, Batch{});
    unread_.clear();  // counted rows are gone again: recount from the store
    storage_failed(error);
    // No receipt for what was rolled back: the sender keeps it. It never resends on the stream
    // it already wrote it to, so close that stream: the sender reconnects with its retry
    // back-off and resends everything unacknowledged, in order (nothing later is stored ahead).
    for (Slot* slot : lost.slots)
        if (!slot->dead)
            slot->stream->close();
}

Messenger::Impl::Slot* Messenger::Impl::open_slot(const std::string& contact_id)
{
    Slot* best = nullptr;
    for (auto& s : slots_) {
        if (s.dead || s.contact_id != contact_id || !s.stream->is_open())
            continue;
        if (!best || s.stream->is_outgoing())
            best = &s;
    }
    return best;
}

bool Messenger::Impl::has_stream(const std::string& contact_id) const
{
    return std::any_of(slots_.begin(), slots_.end(),
                       [&](const Slot& s) { return !s.dead && s.contact_id == contact_id; });
}

bool Messenger::Impl::connecting(const std::string& contact_id) const
{
    if (resolving_.count(contact_id))
        return true;
    return std::any_of(slots_.begin(), slots_.end(), [&](const Slot& s) {
        return !s.dead && s.contact_id == contact_id && s.stream->is_outgoing() && !s.stream->is_open();
    });
}

void Messenger::Impl::flush_outbox(const std::string& contact_id)
{
    auto pending = messages_.pending(contact_id);
    if (pending.empty())
        return;
    Slot* slot = open_slot(contact_id);
    if (!slot) {
        connect_to(contact_id);
        return;
    }
    const bool legacy = model::is_legacy_contact_id(contact_id);
    slot->outbox_flushed = false;
    for (auto& m : pending) {
        if (!sync::should_send(m, legacy, slot->sent_ids.count(m.id) > 0))
            continue;
        if (!write_to(*slot, m))
            return;
    }
    slot->outbox_flushed = true;
}

bool Messenger::Impl::write_to(Slot& slot, Message& m)
{
    if (!slot.stream->send(xmpp::chat_message(m.id, self_instance(), slot.stream->peer_instance(), m.body)))
        return false;
    // Legacy peers send no receipts and are never written to twice (sync::should_send):
    // remembering their ids would only grow the set for as long as the stream lives.
    if (!model::is_legacy_contact_id(m.contact_id))
        slot.sent_ids.insert(m.id);
    slot.stream->touch_message_activity();
    if (auto next = sync::next_state(m.state, sync::OutboxEvent::Written)) {
        // In the batch: after a crash a message still marked queued is simply sent again.
        if (!set_state_in_batch(m.id, *next))
            return false;
        m.state = *next;
        outer_.message_state_.emit(m);
    }
    return true;
}

void Messenger::Impl::send_new(Message& m)
{
    // Everything older already went out on this stream: the new message is next in order.
    Slot* slot = open_slot(m.contact_id);
    if (slot && slot->outbox_flushed) {
        if (!write_to(*slot, m))
            slot->outbox_flushed = false;
        return;
    }
    flush_outbox(m.contact_id);
}

void Messenger::Impl::connect_to(const std::string& contact_id)
{
    if (connecting(contact_id))
        return;
    auto presence = presence_of(contact_id);
    if (!presence)
        return;  // offline: the outbox waits for the peer to appear
    auto contact = contacts_.find(contact_id);
    if (!contact) {
        log::error("trust", "not connecting for now: " + contact.error().message);
        return schedule_retry(contact_id);
    }
    if (!*contact || (*contact)->trust == Trust::Impostor)
        return;  // never send to a name that could not keep its key
    const std::string instance = presence->announcement.instance;
    resolving_.insert(contact_id);
    // XEP-0174 §5: resolve the addresses when connecting, not from an old cache.
    directory_->resolve_now(instance, [this, contact_id, instance](Result<discovery::PeerAnnouncement> r) {
        resolving_.erase(contact_id);
        auto p = presence_of(contact_id);
        if (!p)
            return;
        const discovery::PeerAnnouncement& ann = r ? *r : p->announcement;
        if (ann.record.fingerprint != p->announcement.record.fingerprint || ann.addresses.empty())
            return schedule_retry(contact_id);
        std::string fp = model::is_legacy_contact_id(contact_id) ? std::string() : contact_id;
        auto stream = transport::LinkLocalStream::outgoing(identity_, self_instance(), instance, fp);
        add_slot(std::move(stream), contact_id).stream->connect(dial_order(ann), ann.port);
    });
}

void Messenger::Impl::schedule_retry(const std::string& contact_id)
{
    Retry& r = retries_[contact_id];
    // Back off once per due retry. Attempts in between (each send, a re-announcement) failing
    // must not push it further: a burst of 40 sends to a restarting peer would reach the 60 s cap.
    if (r.delay_ms != 0 && r.due_ms > now_ms())
        return;
    r.delay_ms = r.delay_ms == 0 ? 2000 : std::min(r.delay_ms * 2, kMaxRetryDelayMs);
    r.due_ms = now_ms() + r.delay_ms;
}

void Messenger::Impl::schedule_cleanup()
{
    if (!cleanup_)
        cleanup_ = g_idle_add(&Impl::on_cleanup, this);
}

gboolean Messenger::Impl::on_cleanup(gpointer data)
{
    auto* self = static_cast<Impl*>(data);
    self->cleanup_ = 0;
    static_cast<void>(self->commit_batch());  // it may hold receipts for these slots; failures: abort_batch
    // Streams are destroyed here, never inside their own callbacks.
    self->slots_.remove_if([](const Slot& s) { return s.dead; });
    return G_SOURCE_REMOVE;
}

gboolean Messenger::Impl::on_housekeeping(gpointer data)
{
    auto* self = static_cast<Impl*>(data);
    const std::int64_t now = now_ms();
    std::vector<std::string> due;
    for (const auto& [id, r] : self->retries_)
        if (r.due_ms <= now)
            due.push_back(id);
    for (const auto& id : due) {
        if (self->messages_.pending(id).empty()) {
            self->retries_.erase(id);
            continue;
        }
        self->schedule_retry(id);  // pushed back in case this attempt fails too
        self->flush_outbox(id);
    }
    // Streams are closed when no message went over them for a while: ours after
    // kIdleCloseMs, the peer's after longer (it normally closes them itself first).
    for (auto& s : self->slots_) {
        if (s.dead || !s.stream->is_open())
            continue;
        const std::int64_t limit = s.stream->is_outgoing() ? kIdleCloseMs : kIdleIncomingCloseMs;
        if (now - s.stream->last_message_ms() > limit && self->messages_.pending(s.contact_id).empty())
            s.stream->close();
    }
    return G_SOURCE_CONTINUE;
}

// ---- queries ----

std::optional<Messenger::Impl::Presence> Messenger::Impl::presence_of(const std::string& contact_id) const
{
    for (const auto& [instance, p] : online_)
        if (p.contact_id == contact_id && !unproven_.count(instance))
            return p;
    return std::nullopt;
}

Result<std::string> Messenger::Impl::resolve(const std::string& ref) const
{
    return contacts_.resolve(ref, [this](const std::string& instance) -> std::optional<std::string> {
        if (auto it = online_.find(instance); it != online_.end())
            return it->second.contact_id;
        return std::nullopt;
    });
}

int Messenger::Impl::unread(const std::string& contact_id) const
{
    auto it = unread_.find(contact_id);
    if (it == unread_.end())
        it = unread_.emplace(contact_id, messages_.unread_count(contact_id)).first;
    return it->second;
}

PeerView Messenger::Impl::view(const Contact& c) const
{
    PeerView v;
    v.id = c.id;
    v.instance = c.instance;
    v.nick = c.nick;
    v.fingerprint = c.fingerprint;
    v.trust = c.trust;
    v.secure = !c.fingerprint.empty();
    v.first_name = c.first_name;
    v.last_name = c.last_name;
    v.email = c.email;
    if (auto p = presence_of(c.id)) {
        v.instance = p->announcement.instance;
        v.online = p->reachable;
        v.status = model::status_from_xep0174(p->announcement.record.status).value_or(model::Status::Available);
        v.message = p->announcement.record.msg;
    }
    v.unread = unread(c.id);
    if (auto s = chat_states_.find(c.id); s != chat_states_.end())
        v.chat_state = s->second;
    return v;
}

void Messenger::Impl::emit_peer(const std::string& contact_id)
{
    if (auto c = contacts_.find(contact_id); c && *c)
        outer_.peer_changed_.emit(view(**c));
}

void Messenger::Impl::warn(std::string kind, std::string peer, std::string detail)
{
    // One warning per peer and kind per run: an impostor re-announcing does not flood the user.
    if (!warned_.insert(kind + "|" + peer).second)
        return;
    outer_.warning_.emit(Warning{std::move(kind), std::move(peer), std::move(detail)});
}

void Messenger::Impl::notice(std::string kind, std::string detail, bool problem)
{
    outer_.notice_.emit(Notice{std::move(kind), std::move(detail), problem});
}

void Messenger::Impl::storage_failed(const Error& error)
{
    storage_failing_ = true;
    log::error("storage", error.message);
    notice("storage", error.message, true);
}

void Messenger::Impl::storage_ok()
{
    if (!storage_failing_)
        return;
    storage_failing_ = false;
    log::info("storage", "messages are being saved again");
    notice("storage", "messages are being saved again", false);
}

// ---- the facade ----

Messenger::Messenger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Messenger::~Messenger() = default;

Result<std::unique_ptr<Messenger>> Messenger::create(std::unique_ptr<Profile> profile, GMainContext* context)
{
    if (!profile->initialized()) {
        Settings s = profile->settings();
        s.nick = Profile::default_nick();
        if (auto saved = profile->save(s); !saved)
            return saved.error();
    }
    auto identity = crypto::Identity::load_or_create(profile->data_dir(), "chinwag");
    if (!identity)
        return identity.error();
    auto db = storage::Database::open(profile->database_path());
    if (!db)
        return db.error();
    std::unique_ptr<Messenger> m(new Messenger(nullptr));
    m->impl_ = std::make_unique<Impl>(*m, std::move(profile), std::move(*identity), std::move(*db), context);
    return m;
}

Result<void> Messenger::start() { return impl_->start(); }

SelfInfo Messenger::self() const
{
    const Settings& s = impl_->profile_->settings();
    return SelfInfo{s.nick, impl_->self_instance(), impl_->identity_.fingerprint(), s.status, s.status_message};
}

const Settings& Messenger::settings() const { return impl_->profile_->settings(); }

Result<void> Messenger::update_settings(const Settings& settings)
{
    if (settings.nick.empty())
        return make_error("invalid", "the nickname cannot be empty");
    if (auto saved = impl_->profile_->save(settings); !saved)
        return saved;
    impl_->publish();
    return {};
}

std::vector<PeerView> Messenger::peers() const
{
    std::vector<PeerView> out;
    const bool show_legacy = impl_->profile_->settings().show_legacy;
    auto all = impl_->contacts_.all();
    if (!all) {
        log::error("storage", "the contact list could not be read: " + all.error().message);
        return out;
    }
    for (const auto& c : *all) {
        if (!show_legacy && c.trust == Trust::Legacy)
            continue;
        out.push_back(impl_->view(c));
    }
    std::stable_sort(out.begin(), out.end(), [](const PeerView& a, const PeerView& b) {
        if (a.online != b.online)
            return a.online;
        return a.nick < b.nick;
    });
    return out;
}

Result<PeerView> Messenger::peer(const std::string& ref) const
{
    auto id = impl_->resolve(ref);
    if (!id)
        return id.error();
    auto c = impl_->contacts_.find(*id);
    if (!c)
        return c.error();
    if (!*c)
        return make_error("not-found", "no peer called " + ref);
    return impl_->view(**c);
}

Result<Message> Messenger::send(const std::string& peer_ref, const std::string& body)
{
    auto id = impl_->resolve(peer_ref);
    if (!id)
        return id.error();
    if (body.empty())
        return make_error("invalid", "the message is empty");
    if (body.size() > kMaxBodyBytes)
        return make_error("invalid", "the message is too long (at most " + std::to_string(kMaxBodyBytes / 1024) + " KiB)");
    if (!g_utf8_validate(body.data(), static_cast<gssize>(body.size()), nullptr) || !xmpp::is_xml_text(body))
        return make_error("invalid", "the message contains characters that cannot be sent");
    auto found = impl_->contacts_.find(*id);
    if (!found)
        return found.error();
    const std::optional<Contact>& contact = *found;
    if (contact && contact->trust == Trust::Impostor)
        return make_error("impostor", "refusing to write to " + peer_ref + ": it is flagged as an impostor");
    Message m;
    m.id = random_id();
    m.contact_id = *id;
    m.direction = model::Direction::Outgoing;
    m.body = body;
    m.timestamp_ms = now_ms();
    m.state = MessageState::Queued;
    m.secure = contact && !contact->fingerprint.empty();
    m.verified = contact && contact->trust == Trust::Verified;
    // Stored for good before send() returns, together with whatever the batch holds.
    if (auto joined = impl_->join_batch(); !joined)
        return joined.error();
    // Writing to a nearby peer makes it a contact for good; its key is pinned once proven.
    if (impl_->contacts_.is_nearby(*id)) {
        if (auto kept = impl_->contacts_.keep(*id); !kept) {
            impl_->abort_batch(kept.error());
            return kept.error();
        }
    }
    auto stored = impl_->messages_.insert_outgoing(m);
    if (!stored) {
        impl_->abort_batch(stored.error());
        return stored.error();
    }
    if (auto committed = impl_->commit_batch(); !committed)
        return committed.error();
    impl_->storage_ok();
    message_state_.emit(*stored);
    if (impl_->started_)
        impl_->send_new(*stored);
    return impl_->messages_.find_outgoing(stored->id).value_or(*stored);
}

Result<void> Messenger::send_chat_state(const std::string& peer_ref, const std::string& state)
{
    static const std::set<std::string> states{"active", "composing", "paused", "inactive", "gone"};
    if (!states.count(state))
        return make_error("invalid", "unknown chat state " + state);
    auto id = impl_->resolve(peer_ref);
    if (!id)
        return id.error();
    // XEP-0085 notifications are best effort: only over a stream that is already open.
    if (auto* slot = impl_->open_slot(*id))
        slot->stream->send(xmpp::chat_state(impl_->self_instance(), slot->stream->peer_instance(), state));
    return {};
}

Result<void> Messenger::set_status(model::Status status, const std::string& message)
{
    Settings s = impl_->profile_->settings();
    s.status = status;
    s.status_message = message;
    return update_settings(s);
}

Result<std::string> Messenger::safety_number(const std::string& peer_ref) const
{
    auto id = impl_->resolve(peer_ref);
    if (!id)
        return id.error();
    auto c = impl_->contacts_.find(*id);
    if (!c)
        return c.error();
    if (!*c || (*c)->fingerprint.empty())
        return make_error("legacy", peer_ref + " has no key (legacy peer): there is nothing to verify");
    return crypto::safety_number(impl_->identity_.fingerprint(), (*c)->fingerprint);
}

Result<void> Messenger::mark_verified(const std::string& peer_ref)
{
    auto id = impl_->resolve(peer_ref);
    if (!id)
        return id.error();
    auto c = impl_->contacts_.find(*id);
    if (!c)
        return c.error();
    if (!*c || (*c)->fingerprint.empty())
        return make_error("legacy", peer_ref + " has no key (legacy peer) and cannot be verified");
    if (auto committed = impl_->commit_batch(); !committed)
        return committed;
    // Marked by the user: a contact for good. Comparing the safety number proves the key.
    if (auto kept = impl_->contacts_.keep(*id); !kept)
        return kept;
    if (auto set = impl_->contact_store_.set_trust(*id, Trust::Verified); !set)
        return set;
    impl_->emit_peer(*id);
    return {};
}

Result<std::vector<Message>> Messenger::history(const std::string& peer_ref, int limit, std::int64_t before_seq) const
{
    auto id = impl_->resolve(peer_ref);
    if (!id)
        return id.error();
    return impl_->messages_.history(*id, std::clamp(limit, 1, 10000), before_seq);
}

Result<std::vector<Message>> Messenger::search(const std::string& query, int limit) const
{
    return impl_->messages_.search(query, std::clamp(limit, 1, 1000));
}

Result<void> Messenger::mark_read(const std::string& peer_ref)
{
    auto id = impl_->resolve(peer_ref);
    if (!id)
        return id.error();
    if (auto committed = impl_->commit_batch(); !committed)
        return committed;
    if (auto marked = impl_->messages_.mark_read(*id); !marked)
        return marked;
    impl_->unread_[*id] = 0;
    impl_->emit_peer(*id);
    return {};
}

}  // namespace chinwag::core
