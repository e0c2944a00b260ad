#!/usr/bin/env python3
"""The desktop side of the real `chinwag` app on the simulated LAN: living in the
background, keyboard, search, preferences, secondary windows, window state, errors.

Host a runs the app (profile made with `chinwag-cli init`, so no welcome) under
Xvfb with a private session bus; hosts b and c run chinwag-cli as bob and carol.
Checks, in order:
- every showing button (header, composer, title buttons) has a clean accessible
  name, none with a mnemonic left in it;
- Ctrl+Page_Down / Ctrl+Page_Up / Alt+Down move the selection to the next /
  previous conversation (real X key events);
- Ctrl+F opens the search, a word from bob's message lists it as a result, and
  clicking the result opens bob's conversation with that message;
- Preferences: a new nickname applied in the app reaches bob's CLI (peerChanged);
  switching "Show unencrypted contacts" off hides a legacy peer (a plain
  avahi-publish presence on host c) and on shows it again; with "Notifications"
  off a message to a conversation not in view raises no notification;
- the About window shows the version and the GPL-3.0-or-later notice, and every
  control in it (libadwaita's own Back buttons, text views, mnemonic buttons) has a
  clean accessible name; the shortcuts window lists the shortcuts;
- the window is resized, then closed with its Close button: the process keeps
  running, the window is gone, a message from carol raises a notification, and
  clicking "Open" in notification-daemon's popup (real pointer; ActionInvoked ->
  app.open-conversation) shows the window again with carol's conversation;
  org.freedesktop.Application.Activate shows a closed window too; the size is
  in GSettings;
- Ctrl+Q quits the process; started again, the window has the saved size; Quit
  from the main menu quits too;
- started on a profile a running chinwag-cli holds, the app shows the
  plain-words "already open" error instead of failing;
- with LANGUAGE=de and the build's locale tree the window speaks German.
Screenshots: tests/gui/screenshots/{preferences,about,shortcuts,locked,main-de}.png.
"""

import os
import subprocess

from gui_session import (GuiSession, activate_action, button_names, check, do_action, find_all,
                         gdbus_call, name_of, other_apps_buttons, role_of, row_named, screen_center, states_of,
                         showing, text_of, unnamed_buttons, wait_for, wait_row)
from testbed import log, main, run_until


def test():
    with GuiSession(("a", "b", "c"), "desktop") as s:
        run(s)


def main_window_visible(desk):
    return desk.xdotool("search", "--onlyvisible", "--name", "^Chinwag$").stdout.strip() != ""


def main_frame(app):
    frames = find_all(app, lambda n: role_of(n) == "frame" and name_of(n) == "Chinwag")
    if not frames:
        raise AssertionError("no main window on the accessibility tree")
    return frames[0]


def close_button(app):
    return wait_for(main_frame(app), lambda n: role_of(n) == "push button" and name_of(n) == "Close", 10,
                    "the main window's Close button")


def selected_row(app):
    import pyatspi
    rows = find_all(app, lambda n: role_of(n) == "list item" and "," in name_of(n)
                    and n.getState().contains(pyatspi.STATE_SELECTED))
    return name_of(rows[0]).split(",")[0] if rows else None


def wait_selected(app, nick, what):
    last = [None]

    def ok():
        last[0] = selected_row(app)
        return last[0] == nick
    check(run_until(ok, 10, interval=0.2), f"{what} (selected: {last[0]!r})")


def gsetting(s, key):
    env = {**os.environ, **s.env}
    r = subprocess.run(["gsettings", "get", "io.github.chinwag.Chinwag", key], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=10)
    return r.stdout.strip()


def run(s):
    lan, desk = s.lan, s.desk
    alice_profile = s.init_profile(lan.path("profiles", "alice"))
    bob = s.start_cli("b", "bob", "bob@cw-b")
    carol = s.start_cli("c", "carol", "carol@cw-c")
    proc, app = s.start_app(alice_profile, tag="app-1")

    wait_for(app, lambda n: role_of(n) == "list" and name_of(n) == "Contacts", 20, "the main window's contact list")
    wait_row(app, "bob", lambda s: "Available" in s, 20, "bob is listed")
    wait_row(app, "carol", lambda s: "Available" in s, 20, "carol is listed")
    check(run_until(lambda: any(p.get("instance") == "alice@cw-a" and p.get("online")
                                for p in bob.call("listPeers")), 15, interval=0.2), "bob's CLI sees the app")
    check(run_until(lambda: any(p.get("instance") == "alice@cw-a" and p.get("online")
                                for p in carol.call("listPeers")), 15, interval=0.2), "carol's CLI sees the app")
    bob_fp = bob.call("getSelf")["fingerprint"]
    secret = "the pineapple is ripe"
    bob.call("send", {"to": "alice@cw-a", "body": secret})
    wait_row(app, "bob", lambda s: "1 unread" in s, 15, "bob's message arrives (1 unread)")

    # -- accessible names of every button, with a conversation open (composer, verify)
    check(activate_action(desk, "open-conversation", f"<'{bob_fp}'>"), "bob's conversation opened")
    wait_for(app, lambda n: role_of(n) == "label" and name_of(n) == secret, 10, "bob's message shown")
    wait_for(app, lambda n: role_of(n) == "push button" and name_of(n) == "Send message", 10, "the send button")
    names = button_names(app)
    log(f"buttons: {names}")
    check(not unnamed_buttons(app), f"every showing button has a clean accessible name ({unnamed_buttons(app)})")
    for want in ("Search messages", "Main menu", "Send message", "Verify identity", "Your presence"):
        check(any(n == want for _, n in names) or find_all(app, lambda n: name_of(n) == want and showing(n)),
              f"the icon-only control \"{want}\" is named")

    # -- next / previous conversation with real key events
    composer = wait_for(app, lambda n: role_of(n) == "text" and name_of(n) == "Message", 10, "the composer")
    desk.click_node(composer)
    wait_selected(app, "bob", "bob's row is selected")
    desk.key("ctrl+Next")
    wait_selected(app, "carol", "Ctrl+Page_Down selects the next conversation (carol)")
    desk.key("ctrl+Prior")
    wait_selected(app, "bob", "Ctrl+Page_Up selects the previous conversation (bob)")
    desk.key("alt+Down")
    wait_selected(app, "carol", "Alt+Down selects the next conversation (carol)")

    # -- Ctrl+F search, jump to the result
    desk.key("ctrl+f")
    entry = wait_for(app, lambda n: role_of(n) in ("entry", "text") and showing(n)
                     and name_of(n) in ("Search messages", "Search"), 10, "the search entry")
    desk.type_text("pineapple")
    result = wait_for(app, lambda n: role_of(n) == "list item" and showing(n) and
                      find_all(n, lambda c: role_of(c) == "label" and name_of(c) == secret), 10,
                      "bob's message listed as a search result")
    log(f"search entry now {text_of(entry)!r}")
    desk.click_node(result)
    wait_selected(app, "bob", "the search result opens bob's conversation")
    wait_for(app, lambda n: role_of(n) == "label" and name_of(n) == secret and showing(n), 10,
             "the found message is shown in the conversation")

    # -- preferences: nickname, legacy peers
    lan["c"].avahi_publish("lena@cw-c", "_presence._tcp", 5298, txt=["txtvers=1", "nick=lena", "status=avail"])
    wait_row(app, "lena", lambda s: "Unencrypted" in s, 20, "a legacy peer (lena) is listed as unencrypted")
    check(activate_action(desk, "preferences"), "app.preferences activated")
    nick = wait_for(app, lambda n: role_of(n) in ("text", "entry") and name_of(n) == "Nickname" and showing(n), 10,
                    "the Nickname field")
    check(text_of(nick) == "alice", "the Nickname field shows the current nickname")
    s.screenshot("preferences.png")
    check(not unnamed_buttons(app), f"every control of the preferences has a clean accessible name ({unnamed_buttons(app)})")
    nick.queryEditableText().setTextContents("alice the great")
    apply = wait_for(app, lambda n: role_of(n) == "push button" and showing(n) and name_of(n) == "Apply", 10,
                     "the nickname's Apply button")
    do_action(apply)
    got = bob.wait_notification("peerChanged", lambda p: p.get("instance") == "alice@cw-a"
                                and p.get("nick") == "alice the great", timeout=20)
    check(got.get("online") is not False, "bob's CLI sees the new nickname (peerChanged)")
    legacy = wait_for(app, lambda n: role_of(n) in ("switch", "toggle button", "check box")
                      and name_of(n) == "Show unencrypted contacts" and showing(n), 10, "the legacy switch")
    do_action(legacy, next(a for a in actions(legacy)))
    check(run_until(lambda: not (row_named(app, "lena") and showing(row_named(app, "lena"))), 10),
          "switching \"Show unencrypted contacts\" off hides lena")
    check(row_named(app, "bob") is not None and showing(row_named(app, "bob")), "bob is still listed")
    do_action(legacy, next(a for a in actions(legacy)))
    check(run_until(lambda: row_named(app, "lena") is not None and showing(row_named(app, "lena")), 10),
          "switching it on shows lena again")
    # Notifications off: a message to a conversation not in view (carol's; bob's is open) counts
    # as unread but raises no notification.
    notify = wait_for(app, lambda n: role_of(n) in ("switch", "toggle button", "check box")
                      and name_of(n) == "Notifications" and showing(n), 10, "the Notifications switch")
    do_action(notify, next(a for a in actions(notify)))
    check(run_until(lambda: "checked" not in states_of(notify), 5), f"switched off ({states_of(notify)})")
    quiet = "carol writes while notifications are off"
    before = len(desk.notification_calls("Notify"))
    carol.call("send", {"to": "alice@cw-a", "body": quiet})
    wait_row(app, "carol", lambda s: "1 unread" in s, 15, "carol's message arrives (1 unread)")
    check(not run_until(lambda: any(quiet in b for b in desk.notification_calls("Notify")[before:]), 2),
          "with notifications switched off it raises no notification")
    do_action(notify, next(a for a in actions(notify)))
    check(run_until(lambda: "checked" in states_of(notify), 5), f"notifications switched on again ({states_of(notify)})")
    desk.key("Escape")

    # -- About and shortcuts windows
    check(activate_action(desk, "about"), "app.about activated")
    version = wait_for(app, lambda n: "0.1.0" in name_of(n) and showing(n), 10, "the About window shows the version")
    log(f"version shown as {role_of(version)} {name_of(version)!r}")
    s.screenshot("about.png")
    # libadwaita 1.2 builds all the About window's subpages at once (Back buttons, text views,
    # the unreachable Troubleshooting page's "Copy Text"): the app names them (dialogs.cpp), so
    # the whole window is checked, not only its first page.
    check(not unnamed_buttons(app), f"every control of the About window has a clean accessible name "
                                    f"({unnamed_buttons(app)})")
    check(bool(find_all(app, lambda n: role_of(n) == "push button" and name_of(n) == "Back" and showing(n))),
          "the About window's subpages have Back buttons named \"Back\"")
    legal = wait_for(app, lambda n: name_of(n) == "Legal" and showing(n), 10, "the About window's Legal row")
    do_action(legal, next(a for a in actions(legal)))
    wait_for(app, lambda n: "GNU General Public License, version 3 or later" in (name_of(n) + text_of(n)), 10,
             "the licence: GNU General Public License, version 3 or later")
    check(not unnamed_buttons(app), f"on the Legal page too ({unnamed_buttons(app)})")
    desk.key("Escape")
    check(activate_action(desk, "shortcuts"), "app.shortcuts activated")
    for title in ("Search messages", "Next conversation", "Previous conversation", "Quit"):
        wait_for(app, lambda n, t=title: role_of(n) == "label" and name_of(n) == t and showing(n), 10,
                 f"the shortcuts window lists \"{title}\"")
    s.screenshot("shortcuts.png")
    for w in find_all(app, lambda n: role_of(n) in ("frame", "window", "dialog") and name_of(n) != "Chinwag"):
        log(f"secondary window open: {role_of(w)} {name_of(w)!r}")
    desk.key("Escape")

    # -- close to the background, a message raises a notification, its action shows the window
    check(desk.resize(1000, 700), f"the window is resized ({desk.window_size()})")
    do_action(close_button(app))
    check(run_until(lambda: not main_window_visible(desk), 10), "closing hides the main window")
    check(run_until(lambda: "1000" in gsetting(s, "window-width") and "700" in gsetting(s, "window-height"), 5),
          f"the size is saved in GSettings ({gsetting(s, 'window-width')} x {gsetting(s, 'window-height')})")
    check(proc.poll() is None, "the app keeps running in the background")
    hello = "carol writes while the window is closed"
    before = len(desk.notification_calls("Notify"))
    carol.call("send", {"to": "alice@cw-a", "body": hello})
    check(run_until(lambda: any(hello in b for b in desk.notification_calls("Notify")[before:]), 15),
          f"a message to the closed app raises a notification (app exit status {proc.poll()})")
    # Click the notification's "Open" button in notification-daemon's popup, with the real
    # pointer (its AT-SPI click action does not reach the button's handler): the server sends
    # ActionInvoked and GLib activates app.open-conversation in the app.
    buttons = []
    check(run_until(lambda: bool(buttons.extend(other_apps_buttons(proc.pid, "Open")) or buttons), 10, interval=0.3),
          "the notification popup offers \"Open\"")
    desk.click(*screen_center(buttons[-1]))
    check(run_until(lambda: any("ActionInvoked" in n["header"] for n in desk.notifications), 10),
          "clicking it makes the notification server send ActionInvoked")
    check(run_until(lambda: main_window_visible(desk), 10), "the main window is shown again")
    wait_for(app, lambda n: role_of(n) == "label" and name_of(n) == hello and showing(n), 10,
             "carol's conversation shows her message")
    wait_selected(app, "carol", "carol's conversation is selected")
    do_action(close_button(app))
    check(run_until(lambda: not main_window_visible(desk), 10), "closed again")
    check(gdbus_call(desk, "org.freedesktop.Application.Activate", "{}"), "the app is activated (as from the shell)")
    check(run_until(lambda: main_window_visible(desk), 10), "activating the app shows the main window")

    # -- Ctrl+Q quits; the size comes back on the next start
    desk.click_node(wait_for(app, lambda n: role_of(n) == "text" and name_of(n) == "Message" and showing(n), 10,
                              "the composer"))
    desk.key("ctrl+q")
    check(run_until(lambda: proc.poll() is not None, 15), f"Ctrl+Q quits the app (exit status {proc.poll()})")
    check(proc.returncode == 0, "the app exits with status 0")
    proc, app = s.start_app(alice_profile, tag="app-2")
    check(run_until(lambda: main_window_visible(desk), 20), "the app starts again")
    check(run_until(lambda: desk.window_size() == (1000, 700), 5), f"the window has the saved size ({desk.window_size()})")
    menu = wait_for(app, lambda n: name_of(n) == "Main menu" and showing(n) and role_of(n) in ("toggle button", "push button", "menu button"),
                    10, "the main menu button")
    desk.click_node(menu)
    quit_item = wait_for(app, lambda n: name_of(n) == "Quit" and showing(n) and role_of(n) != "label", 10,
                         "the Quit menu item")
    do_action(quit_item, next(a for a in actions(quit_item)))
    check(run_until(lambda: proc.poll() is not None, 15), f"Quit from the main menu quits ({proc.poll()})")

    # -- a profile held by a running chinwag-cli: a plain-words error, no crash
    proc, app = s.start_app(lan.path("profiles", "carol"), tag="app-locked")
    wait_for(app, lambda n: role_of(n) == "label" and "Chinwag is already open" in name_of(n), 15,
             "the error page says Chinwag is already open")
    wait_for(app, lambda n: "already open in another program" in name_of(n), 5,
             "it explains the profile is open in another program")
    wait_for(app, lambda n: role_of(n) == "push button" and name_of(n) == "Try Again", 5,
             "it offers Try Again (named without its mnemonic)")
    check(not unnamed_buttons(app), f"the error page's buttons have clean names ({button_names(app)})")
    s.screenshot("locked.png")
    check(proc.poll() is None, "the app is still running")
    proc.terminate()
    proc.wait(10)

    # -- in German, with the build's translations (po/de.po)
    s.env = {**s.env, "LANGUAGE": "de", "CHINWAG_LOCALEDIR": os.path.join(s.build, "locale")}
    proc, app = s.start_app(alice_profile, tag="app-de")
    wait_for(app, lambda n: role_of(n) == "list" and name_of(n) == "Kontakte", 20, "German: the list is \"Kontakte\"")
    wait_for(app, lambda n: role_of(n) == "push button" and name_of(n) == "Nachrichten durchsuchen", 5,
             "German: \"Nachrichten durchsuchen\" (Search messages)")
    wait_for(app, lambda n: role_of(n) == "label" and name_of(n) == "In der Nähe", 10, "German: \"In der Nähe\" (Nearby)")
    check(not unnamed_buttons(app), f"German: every button has a clean name ({button_names(app)})")
    s.screenshot("main-de.png", window="Chinwag")
    check(activate_action(desk, "quit"), "app.quit activated")
    check(run_until(lambda: proc.poll() is not None, 15), "the German app quits")


def actions(node):
    a = node.queryAction()
    return [a.getName(i) for i in range(a.nActions)]


if __name__ == "__main__":
    main(test)
