#!/usr/bin/env python3
"""The real `chinwag` app on the simulated LAN, driven through AT-SPI and X input.

Host a runs the app under Xvfb with a private session bus; hosts b and c run
chinwag-cli (JSON-RPC) as bob and carol. Checks: the welcome creates the
identity with the typed nickname; bob and carol appear as "Not yet checked" (their keys
are only announced); bob's first message proves his key and his badge becomes "Not
verified" (pinned), carol's stays "Not yet checked"; a message from bob raises a notification (org.freedesktop.Notifications.Notify
seen on the session bus) and a second one is summarised in the same
notification; opening the conversation shows both messages and clears the
unread count; bob's XEP-0085 "composing" shows a typing line; text typed into
the composer and sent with Enter reaches bob, and the app shows it delivered;
the dark style is applied through the app's exported color-scheme action; the
verification dialog shows the same safety number as bob's CLI and "Mark as
Verified" changes the contact's badge to "Verified"; when someone else
announces bob's name with another key the contact shows the "Impostor" badge
and a warning banner. Screenshots (welcome, main light/dark, verification,
impostor) are written to tests/gui/screenshots/ in the build dir.
"""

import os
import shutil
import subprocess

from gui_session import (GuiSession, activate_action, button_names, check, do_action, find_all,
                         label_showing, name_of, role_of, text_of, unnamed_buttons, wait_for, wait_row)
from testbed import log, main, quit_or_kill, run_until


def test():
    # Wide enough that notification popups (top right) stay clear of the main window, whose
    # screenshot becomes the metainfo's and the README's.
    with GuiSession(("a", "b", "c"), "lan", width=1600, height=900, tree_chars=20000) as s:
        run(s)


def run(s):
    lan, desk = s.lan, s.desk
    app_proc, app = s.start_app(lan.path("profiles", "alice-gui"))
    log(f"app on the accessibility bus: {name_of(app)!r}")

    # -- welcome: nickname prefilled, then "alice"
    start = wait_for(app, lambda n: role_of(n) == "push button" and name_of(n) == "Start Chatting", 20,
                     "the welcome's Start Chatting button, named without its mnemonic")
    entry = wait_for(app, lambda n: role_of(n) in ("text", "entry") and name_of(n) == "Your name" and text_of(n), 10,
                     "the nickname entry, prefilled")
    log(f"welcome proposes {text_of(entry)!r}")
    s.screenshot("welcome.png")
    check(not unnamed_buttons(app), f"the welcome's controls have clean accessible names ({button_names(app)})")
    entry.queryEditableText().setTextContents("alice")
    do_action(start)

    bob = s.start_cli("b", "bob", "bob@cw-b")
    s.start_cli("c", "carol", "carol@cw-c")

    wait_for(app, lambda n: role_of(n) == "list" and name_of(n) == "Contacts", 20, "the main window's contact list")
    wait_row(app, "bob", lambda s: "Available" in s and "Not yet checked" in s, 20,
             "bob is listed, nearby, his key not yet checked")
    wait_row(app, "carol", lambda s: "Not yet checked" in s, 20, "carol is listed")
    nearby = find_all(app, lambda n: role_of(n) == "label" and name_of(n) == "Nearby")
    log(f"Nearby section header {'is' if nearby else 'is not'} on the accessibility tree")

    # -- bob writes: notification, then a burst summarised
    # The app seeing bob does not mean bob has seen the app yet.
    check(run_until(lambda: any(p.get("instance") == "alice@cw-a" and p.get("online")
                                for p in bob.call("listPeers")), 15, interval=0.2),
          "bob's CLI sees alice (the app) online")
    body1 = "hello alice, this is bob"
    bob.call("send", {"to": "alice@cw-a", "body": body1})
    check(run_until(lambda: any(body1 in b for b in desk.notification_calls("Notify")), 15),
          "a notification is raised for bob's message (Notify on the session bus)")
    body2 = "are you there?"
    bob.call("send", {"to": "alice@cw-a", "body": body2})
    check(run_until(lambda: any("2 new messages" in b and body2 in b for b in desk.notification_calls("Notify")), 15),
          "a second message updates the same notification as a summary (\"2 new messages\")")
    wait_row(app, "bob", lambda s: "2 unread messages" in s, 10, "bob's row counts 2 unread")
    wait_row(app, "bob", lambda s: "Not verified" in s, 5, "bob's stream proved his key: pinned, Not verified")

    # -- open the conversation as the notification's default action does (app.open-conversation
    # with bob's contact id, over D-Bus): messages shown, unread cleared, notification withdrawn
    bob_fp = bob.call("getSelf")["fingerprint"]
    check(activate_action(desk, "open-conversation", f"<'{bob_fp}'>"), "app.open-conversation activated over D-Bus")
    wait_for(app, lambda n: role_of(n) == "label" and name_of(n) == body1, 10,
             "bob's first message in the conversation")
    wait_for(app, lambda n: role_of(n) == "label" and name_of(n) == body2, 10,
             "bob's second message in the conversation")
    check(bool(label_showing(app, "Today")), "a day separator \"Today\" is shown")
    wait_row(app, "bob", lambda s: "unread" not in s, 10, "opening the conversation clears the unread count")
    check(run_until(lambda: bool(desk.notification_calls("CloseNotification")), 10),
          "the notification is withdrawn once the conversation is read (CloseNotification)")
    check(bool(label_showing(app, "have not yet checked")), "the banner says bob is not yet verified")

    # -- typing indicator
    bob.call("sendChatState", {"to": "alice@cw-a", "state": "composing"})
    wait_for(app, lambda n: role_of(n) == "label" and name_of(n) == "bob is typing…", 10,
             "bob's composing state shows \"bob is typing…\"")

    # -- the composer: Enter sends
    composer = wait_for(app, lambda n: role_of(n) == "text" and name_of(n) == "Message", 10,
                        "the composer")
    desk.click_node(composer)
    reply = "hi bob, typed in the app"
    desk.type_text(reply)
    desk.key("Return")
    got = bob.wait_notification("message", lambda p: p.get("body") == reply, timeout=15)
    check(got.get("secure") is True, "the text typed into the composer reaches bob, encrypted")
    wait_for(app, lambda n: role_of(n) == "label" and "Delivered" in name_of(n), 15,
             "the app marks the reply delivered")
    check(text_of(composer) == "", "the composer is empty after sending")
    s.screenshot("main-light.png", window="Chinwag")

    # -- dark style through the exported app action
    check(activate_action(desk, "color-scheme", "<'dark'>"), "app.color-scheme 'dark' activated over D-Bus")
    s.screenshot("main-dark.png", settle=1.0, window="Chinwag")
    activate_action(desk, "color-scheme", "<'default'>")

    # -- verification
    verify = wait_for(app, lambda n: role_of(n) == "push button" and name_of(n) == "Verify identity", 10,
                      "the Verify identity button")
    do_action(verify)
    number = bob.call("getSafetyNumber", {"peer": "alice@cw-a"})["safetyNumber"]
    wait_for(app, lambda n: name_of(n) == f"Safety number {number}", 10,
             f"the dialog shows the same safety number as bob's CLI ({number})")
    s.screenshot("verify.png")
    mark = wait_for(app, lambda n: role_of(n) == "push button" and name_of(n) == "Mark as Verified", 10,
                    "the Mark as Verified button")
    check(not unnamed_buttons(app), f"the verification dialog's controls have clean names ({unnamed_buttons(app)})")
    do_action(mark)
    wait_row(app, "bob", lambda s: ", Verified" in s, 10, "bob's badge changes to Verified")
    wait_row(app, "carol", lambda s: "Not yet checked" in s, 5, "carol stays not yet checked")
    check(run_until(lambda: not label_showing(app, "have not yet checked"), 5), "the unverified banner is gone")

    # -- an impostor takes bob's name with another key
    quit_or_kill(bob, timeout=5, wait=10)
    wait_row(app, "bob", lambda s: "Offline" in s, 15, "bob goes offline after quitting")
    s.start_cli("b", "bob", "bob@cw-b", profile=lan.path("profiles", "mallory"))
    imp = []

    def impostor_row():
        imp[:] = [n for n in find_all(app, lambda n: role_of(n) == "list item" and "Impostor" in name_of(n))]
        return bool(imp)
    check(run_until(impostor_row, 20, interval=0.3), "a contact with the Impostor badge appears")
    log(f"impostor row: {name_of(imp[0])!r}")
    check(bool(label_showing(app, "Someone is pretending to be")), "a warning banner names the impersonation")
    real = find_all(app, lambda n: role_of(n) == "list item" and name_of(n) == "bob, Offline, Verified")
    check(bool(real), "the real bob is still listed apart, offline and Verified")
    s.screenshot("impostor.png")

    if os.environ.get("CHINWAG_UPDATE_SCREENSHOTS"):
        shutil.copy(os.path.join(s.shots, "main-light.png"), os.path.join(s.src, "data", "screenshots", "main.png"))
        log("copied main-light.png to data/screenshots/main.png")
    check(app_proc.poll() is None, "the app is still running")
    app_proc.terminate()
    try:
        app_proc.wait(10)
    except subprocess.TimeoutExpired:
        app_proc.kill()


if __name__ == "__main__":
    main(test)
