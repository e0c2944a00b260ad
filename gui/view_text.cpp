#include "config.h"

#include "gui/view_text.hpp"

#include <glib.h>
#include <glib/gi18n.h>

#include <memory>

#include "crypto/fingerprint.hpp"

namespace chinwag::gui {

namespace {

std::string format(const char* fmt, const std::string& a)
{
    std::unique_ptr<char, decltype(&g_free)> s(g_strdup_printf(fmt, a.c_str()), &g_free);
    return s.get();
}

std::unique_ptr<GDateTime, decltype(&g_date_time_unref)> local_time(std::int64_t ms)
{
    return {g_date_time_new_from_unix_local(ms / 1000), &g_date_time_unref};
}

std::string format_time(GDateTime* t, const char* fmt)
{
    std::unique_ptr<char, decltype(&g_free)> s(g_date_time_format(t, fmt), &g_free);
    return s ? s.get() : "";
}

// Splits `text` at spaces into lines of `per_line` groups.
std::string group_lines(const std::string& text, int per_line)
{
    std::string out;
    int groups = 0;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find(' ', start);
        if (end == std::string::npos)
            end = text.size();
        if (groups > 0)
            out += (groups % per_line == 0) ? '\n' : ' ';
        out += text.substr(start, end - start);
        ++groups;
        start = end + 1;
    }
    return out;
}

}  // namespace

std::string status_label(model::Status s)
{
    switch (s) {
    case model::Status::Available: return _("Available");
    case model::Status::Away: return _("Away");
    case model::Status::Busy: return _("Busy");
    }
    return {};
}

std::string trust_label(model::Trust t)
{
    switch (t) {
    case model::Trust::Verified: return _("Verified");
    case model::Trust::Unknown: return _("Not yet checked");
    case model::Trust::Pinned: return _("Not verified");
    case model::Trust::Legacy: return _("Unencrypted");
    case model::Trust::Impostor: return _("Impostor");
    }
    return {};
}

std::string trust_banner(model::Trust t, const std::string& nick)
{
    switch (t) {
    case model::Trust::Verified: return {};
    case model::Trust::Unknown:
        return format(_("%s announces an encryption key, but no conversation has proved it yet. "
                        "It is checked when you first exchange a message."),
                      nick);
    case model::Trust::Pinned:
        return format(_("Messages with %s are encrypted, but you have not yet checked who holds their key. "
                        "Compare the safety number to verify."),
                      nick);
    case model::Trust::Legacy:
        return format(_("%s uses an older messenger without encryption: anyone on this network can read "
                        "this conversation and nobody can vouch for who is writing."),
                      nick);
    case model::Trust::Impostor:
        return format(_("Warning: this is not the contact you know as %s. Someone else is using that name "
                        "with a different key. Do not trust what they write."),
                      nick);
    }
    return {};
}

std::string trust_icon(model::Trust t)
{
    switch (t) {
    case model::Trust::Verified: return "security-high-symbolic";
    case model::Trust::Unknown:
    case model::Trust::Pinned: return "security-medium-symbolic";
    case model::Trust::Legacy: return "security-low-symbolic";
    case model::Trust::Impostor: return "dialog-warning-symbolic";
    }
    return {};
}

std::string trust_css(model::Trust t)
{
    switch (t) {
    case model::Trust::Verified: return "success";
    case model::Trust::Unknown:
    case model::Trust::Pinned: return "dim-label";
    case model::Trust::Legacy: return "warning";
    case model::Trust::Impostor: return "error";
    }
    return {};
}

std::string state_label(model::MessageState s, const std::string& reason)
{
    switch (s) {
    case model::MessageState::Queued: return _("Queued");
    case model::MessageState::Sent: return _("Sent");
    case model::MessageState::Delivered: return _("Delivered");
    case model::MessageState::Failed:
        return reason.empty() ? std::string(_("Not delivered")) : format(_("Not delivered: %s"), reason);
    }
    return {};
}

std::string time_label(std::int64_t ms)
{
    auto t = local_time(ms);
    return t ? format_time(t.get(), "%H:%M") : "";
}

bool same_day(std::int64_t a_ms, std::int64_t b_ms)
{
    auto a = local_time(a_ms);
    auto b = local_time(b_ms);
    if (!a || !b)
        return false;
    return g_date_time_get_year(a.get()) == g_date_time_get_year(b.get()) &&
           g_date_time_get_day_of_year(a.get()) == g_date_time_get_day_of_year(b.get());
}

std::string day_label(std::int64_t ms, std::int64_t now_ms)
{
    if (same_day(ms, now_ms))
        return _("Today");
    if (same_day(ms, now_ms - 24LL * 3600 * 1000))
        return _("Yesterday");
    auto t = local_time(ms);
    // Translators: date of a day separator in a conversation, g_date_time_format() syntax.
    return t ? format_time(t.get(), _("%A, %-d %B %Y")) : "";
}

std::string display_name(const core::PeerView& p)
{
    return p.nick.empty() ? p.instance : p.nick;
}

std::string typing_text(const std::string& nick, const std::string& chat_state)
{
    if (chat_state == "composing")
        return format(_("%s is typing…"), nick);
    if (chat_state == "paused")
        return format(_("%s stopped typing"), nick);
    return {};
}

std::string wrappable(const std::string& body, std::size_t max_run)
{
    if (max_run == 0 || body.size() <= max_run || !g_utf8_validate(body.data(), static_cast<gssize>(body.size()), nullptr))
        return body;
    std::string out;
    out.reserve(body.size() + body.size() / max_run * 3);
    std::size_t run = 0;
    const char* p = body.data();
    const char* end = p + body.size();
    while (p < end) {
        const char* next = g_utf8_next_char(p);
        gunichar c = g_utf8_get_char(p);
        if (g_unichar_isspace(c) || c == 0x200B) {
            run = 0;
        } else if (++run > max_run) {
            out += "\u200B";
            run = 1;
        }
        out.append(p, static_cast<std::size_t>(next - p));
        p = next;
    }
    return out;
}

std::string notification_body(int count, const std::string& last_body)
{
    constexpr glong kMaxChars = 300;
    std::string body = last_body;
    if (g_utf8_validate(body.data(), static_cast<gssize>(body.size()), nullptr) &&
        g_utf8_strlen(body.data(), static_cast<gssize>(body.size())) > kMaxChars) {
        const char* cut = g_utf8_offset_to_pointer(body.data(), kMaxChars);
        body = body.substr(0, static_cast<std::size_t>(cut - body.data())) + "…";
    }
    if (count <= 1)
        return body;
    std::unique_ptr<char, decltype(&g_free)> s(
        g_strdup_printf(ngettext("%d new message", "%d new messages", count), count), &g_free);
    return std::string(s.get()) + "\n" + body;
}

std::string notice_text(const core::Notice& n)
{
    if (n.kind == "discovery") {
        if (n.problem)
            return _("Chinwag cannot see who comes and goes on the network because the avahi-daemon service is "
                     "not running. Start it (for example with “sudo systemctl start avahi-daemon”); Chinwag "
                     "reconnects by itself.");
        return {};
    }
    if (n.kind == "storage")
        return format(_("Chinwag cannot save new messages (%s). Free some space on the disk; messages that could "
                        "not be saved are sent again by their senders."), n.detail);
    if (n.kind == "renamed")
        return format(_("Your name was already taken on this network: %s."), n.detail);
    if (n.kind == "network")
        return format(_("Network problem: %s."), n.detail);
    return n.detail;
}

std::string error_text(const Error& e)
{
    if (e.code == "locked")
        return _("Your Chinwag profile is already open in another program, for example chinwag-cli. "
                 "Close that program, then try again.");
    if (e.code == "io" || e.code == "storage")
        return format(_("Chinwag cannot read or write its files: %s. The disk may be full."), e.message);
    if (e.code == "impostor")
        return _("This contact is flagged as an impostor; Chinwag will not send them messages.");
    return e.message;
}

std::string published_identity(const core::PeerView& p)
{
    std::string name = p.first_name;
    if (!p.first_name.empty() && !p.last_name.empty())
        name += ' ';
    name += p.last_name;
    if (p.email.empty())
        return name;
    return name.empty() ? p.email : name + " <" + p.email + ">";
}

std::string contact_summary(const core::PeerView& p)
{
    std::string s = display_name(p) + ", ";
    s += p.online ? status_label(p.status) : std::string(_("Offline"));
    if (!p.message.empty())
        s += ", " + p.message;
    s += ", " + trust_label(p.trust);
    if (p.unread > 0) {
        std::unique_ptr<char, decltype(&g_free)> u(
            g_strdup_printf(ngettext("%d unread message", "%d unread messages", p.unread), p.unread), &g_free);
        s += std::string(", ") + u.get();
    }
    return s;
}

std::string fingerprint_lines(const std::string& hex)
{
    return group_lines(crypto::format_fingerprint(hex), 4);
}

std::string safety_number_lines(const std::string& number)
{
    return group_lines(number, 3);
}

}  // namespace chinwag::gui
