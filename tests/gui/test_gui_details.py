#!/usr/bin/env python3
"""The real `chinwag` app: a refused message, Ctrl+I, the publish switches, the Offline section.

Host a runs the app (profile made by `chinwag-cli init`); host b runs bob
(chinwag-cli); host c runs rex, a hand-made legacy XEP-0174 peer that answers
every message with a stanza error (tests/lan/refusing_peer.py). Checks:
- the conversation's subtitle shows the name and e-mail rex publishes;
- text typed into rex's conversation is refused by rex: the bubble shows
  "Not delivered:" with the reason in plain words and rex's own text;
- Ctrl+I opens the verification dialog for bob's conversation (the same safety
  number as bob's CLI) and does nothing for rex, a legacy peer with no key;
- preferences: first name, last name and e-mail typed in are not published
  while their switches are off (bob's CLI lists them empty); "Publish first and
  last name" makes bob see both names but not the e-mail; "Publish e-mail
  address" adds it; switching the names off again withdraws them;
- the contact list is sectioned: a "Nearby" header above the peers on the
  network and, once bob quits, an "Offline" header with bob below it.
Screenshot: failed-delivery.png.
"""

import time

from gui_session import (GuiSession, activate_action, check, extents,
                         find_all, name_of, role_of, row_named, showing, text_of, wait_for, wait_row)
from refusing_peer import RefusingPeer
from testbed import log, main, quit_or_kill, run_until, wait_state

REX = "rex@cw-c"
ALICE = "alice@cw-a"
SWITCH_ROLES = ("switch", "toggle button", "check box")


def test():
    with GuiSession(("a", "b", "c"), "details") as s:
        run(s)


def alice_seen_by(bob):
    for p in bob.call("listPeers"):
        if p.get("instance") == ALICE and p.get("online"):
            return p
    return None


def published(bob, first, last, email, timeout):
    """bob's CLI lists alice with exactly these published fields within timeout."""
    last_seen = [None]

    def ok():
        p = alice_seen_by(bob)
        last_seen[0] = p and (p.get("firstName"), p.get("lastName"), p.get("email"))
        return last_seen[0] == (first, last, email)
    good = run_until(ok, timeout, interval=0.3)
    log(f"bob sees alice's fields as {last_seen[0]}")
    return good


def set_field(s, app, title, value):
    """Types value into the preferences entry row titled `title` as a user does: click it,
    select all, type, Enter (an AdwEntryRow with an apply button applies on Enter)."""
    entry = wait_for(app, lambda n: role_of(n) in ("text", "entry") and name_of(n) == title and showing(n), 10,
                     f"the {title} field")
    s.desk.click_node(entry, window="Preferences")
    s.desk.key("ctrl+a")
    s.desk.type_text(value)
    s.desk.key("Return")
    check(run_until(lambda: text_of(entry) == value, 5), f"the {title} field reads {value!r} ({text_of(entry)!r})")


def flip(app, title):
    sw = wait_for(app, lambda n: role_of(n) in SWITCH_ROLES and name_of(n) == title and showing(n), 10,
                  f"the \"{title}\" switch")
    a = sw.queryAction()
    a.doAction(0)
    return sw


def verification_open(app):
    return bool(find_all(app, lambda n: name_of(n).startswith("Safety number ") and showing(n)))


def focus_composer(s, app):
    composer = wait_for(app, lambda n: role_of(n) == "text" and name_of(n) == "Message" and showing(n), 10,
                        "the composer")
    s.desk.click_node(composer)
    return composer


def run(s):
    lan, desk = s.lan, s.desk
    profile = s.init_profile(lan.path("profiles", "alice-gui"))
    proc, app = s.start_app(profile, instance=ALICE)
    bob = s.start_cli("b", "bob", "bob@cw-b")
    rex = RefusingPeer(lan["c"], REX, "rex", txt=["1st=Rex", "last=Tyrannosaurus", "email=rex@example.org"])
    s.at_exit(rex.close)
    wait_row(app, "bob", lambda t: "Available" in t and "Not yet checked" in t, 20, "bob is listed")
    wait_row(app, "rex", lambda t: "Unencrypted" in t, 20, "rex is listed as an unencrypted legacy peer")
    check(run_until(lambda: alice_seen_by(bob) is not None, 15, interval=0.2), "bob's CLI sees the app")

    # -- a message rex refuses
    check(activate_action(desk, "open-conversation", f"<'legacy:{REX}'>"), "rex's conversation opened")
    wait_for(app, lambda n: role_of(n) == "label" and name_of(n).startswith("Rex Tyrannosaurus <rex@example.org> · ")
             and showing(n), 10, "the conversation's subtitle shows the name and e-mail rex publishes")
    focus_composer(s, app)
    text = "hello rex, typed in the app"
    desk.type_text(text)
    desk.key("Return")
    check(run_until(lambda: any(b == text for _, b in rex.refused), 15), "rex receives the message (and refuses it)")
    failed = wait_for(app, lambda n: role_of(n) == "label" and "Not delivered: the peer does not accept messages"
                      in name_of(n), 15, "the bubble shows \"Not delivered\" with the reason")
    reason = name_of(failed)
    log(f"failed bubble: {reason!r}")
    check("Not accepting messages right now" in reason, "the reason carries rex's own words")
    s.screenshot("failed-delivery.png", window="Chinwag")
    time.sleep(2)
    check(len(rex.refused) == 1, f"the refused message is not sent again ({len(rex.refused)} seen by rex)")

    # -- Ctrl+I: verification for bob, nothing for legacy rex
    desk.key("ctrl+i")
    check(not run_until(lambda: verification_open(app), 2), "Ctrl+I in rex's (legacy) conversation opens nothing")
    bob_fp = bob.call("getSelf")["fingerprint"]
    check(activate_action(desk, "open-conversation", f"<'{bob_fp}'>"), "bob's conversation opened")
    focus_composer(s, app)
    desk.key("ctrl+i")
    number = bob.call("getSafetyNumber", {"peer": ALICE})["safetyNumber"]
    wait_for(app, lambda n: name_of(n) == f"Safety number {number}" and showing(n), 10,
             "Ctrl+I opens the verification dialog with bob's safety number")
    desk.key("Escape")
    check(run_until(lambda: not verification_open(app), 5), "Escape closes it")

    # -- personal fields: published only when switched on
    check(published(bob, "", "", "", 5), "before: bob sees no names and no e-mail for alice")
    check(activate_action(desk, "preferences"), "app.preferences activated")
    set_field(s, app, "First name", "Alice")
    set_field(s, app, "Last name", "Liddell")
    set_field(s, app, "E-mail", "alice@example.org")
    check(not published(bob, "Alice", "Liddell", "alice@example.org", 3) and published(bob, "", "", "", 1),
          "with both switches off, nothing typed in is published")
    flip(app, "Publish first and last name")
    check(published(bob, "Alice", "Liddell", "", 15), "\"Publish first and last name\" on: bob sees both names, "
                                                      "no e-mail")
    flip(app, "Publish e-mail address")
    check(published(bob, "Alice", "Liddell", "alice@example.org", 15), "\"Publish e-mail address\" on: bob sees it")
    flip(app, "Publish first and last name")
    check(published(bob, "", "", "alice@example.org", 15), "names switched off again: bob no longer sees them")
    desk.key("Escape")

    # -- sections: Nearby, and Offline once bob leaves. bob writes first: a peer only ever
    # announced leaves the list with the LAN, a contact you exchanged a message with stays.
    sent = bob.call("send", {"to": ALICE, "body": "bye for now"})
    check(wait_state(bob, sent["id"], "delivered", 15), "bob's message reaches the app")
    quit_or_kill(bob, timeout=5, wait=10)
    wait_row(app, "bob", lambda t: "Offline" in t, 15, "bob is shown offline after quitting")

    def header(title):
        # The topmost label so named: an offline row's subtitle also reads "Offline", below its name.
        hits = [n for n in find_all(app, lambda n: role_of(n) == "label" and name_of(n) == title and showing(n))
                if box(n)]
        return min(hits, key=lambda n: box(n)[1]) if hits else None

    def box(node):
        e = extents(node) if node is not None else None
        return e if e and e[3] > 0 else None

    def name_label(nick):  # the nick's label inside its row (GTK puts a row's header inside the row)
        row = row_named(app, nick)
        hits = find_all(row, lambda n: role_of(n) == "label" and name_of(n) == nick) if row else []
        return hits[0] if hits else None

    def ordered():
        nearby, rex_name, offline, bob_name = (box(header("Nearby")), box(name_label("rex")),
                                               box(header("Offline")), box(name_label("bob")))
        ordered.last = [nearby, rex_name, offline, bob_name]
        if None in ordered.last:
            return False
        return nearby[1] + nearby[3] <= rex_name[1] < offline[1] and offline[1] + offline[3] <= bob_name[1]
    check(run_until(ordered, 10, interval=0.3),
          f"\"Nearby\" heads rex, then an \"Offline\" header heads bob (x, y, w, h: {getattr(ordered, 'last', None)})")
    check(proc.poll() is None, "the app is still running")


if __name__ == "__main__":
    main(test)
