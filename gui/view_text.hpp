// View text: the words and labels the desktop app shows for core values. Pure functions of
// their arguments (GLib only, no GTK), so they are unit-tested without a display.
#pragma once

#include <cstdint>
#include <string>

#include "core/messenger.hpp"
#include "model/types.hpp"

namespace chinwag::gui {

// "Available" / "Away" / "Busy".
std::string status_label(model::Status s);
// Short badge text: "Verified", "Not verified", "Unencrypted", "Impostor".
std::string trust_label(model::Trust t);
// A sentence for the conversation banner; empty when nothing needs saying (verified).
std::string trust_banner(model::Trust t, const std::string& nick);
// Icon name and CSS class of a trust badge ("success", "warning", "error", "dim-label").
std::string trust_icon(model::Trust t);
std::string trust_css(model::Trust t);
// "Queued", "Sent", "Delivered", "Not delivered: <reason>".
std::string state_label(model::MessageState s, const std::string& reason);

// Local time of day "14:05" of a Unix time in milliseconds.
std::string time_label(std::int64_t ms);
// "Today", "Yesterday", or the date ("Monday, 3 March 2025") for a day separator.
std::string day_label(std::int64_t ms, std::int64_t now_ms);
// True if both Unix times (ms) fall on the same local calendar day.
bool same_day(std::int64_t a_ms, std::int64_t b_ms);

// The name people see: the nickname, else the instance name.
std::string display_name(const core::PeerView& p);
// "bob is typing…" / "bob stopped typing" / "" for XEP-0085 states.
std::string typing_text(const std::string& nick, const std::string& chat_state);
// Message text for a label: the body, except that a run of more than `max_run` characters
// without a space gets a zero-width space (U+200B) after every `max_run` of them. Pango 1.50
// lays out one 40,000-character word for minutes (WORD_CHAR wrapping looks for a word break
// again on each line), which froze the app; with break opportunities it takes milliseconds.
std::string wrappable(const std::string& body, std::size_t max_run = 64);
// Notification body for `count` unread messages, the last of which is `last_body` (shortened
// to about 300 characters: a notification is a glance, the conversation has the rest).
std::string notification_body(int count, const std::string& last_body);
// Plain words for a service notice; empty when the notice needs no banner (e.g. recovered).
std::string notice_text(const core::Notice& n);
// Plain words for a failed core call ("profile is locked", "disk full", ...).
std::string error_text(const Error& e);
// What the peer publishes beyond its nickname (XEP-0174 1st, last, email; only what it chose
// to publish): "Alice Liddell <alice@example.org>", "Alice Liddell", "alice@example.org" or "".
std::string published_identity(const core::PeerView& p);
// The accessible description of a contact row: name, presence, trust, unread count.
std::string contact_summary(const core::PeerView& p);

// Fingerprint "0123 4567 ..." on four lines of four groups; safety number on two lines.
std::string fingerprint_lines(const std::string& hex);
std::string safety_number_lines(const std::string& number);

}  // namespace chinwag::gui
