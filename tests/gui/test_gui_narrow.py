#!/usr/bin/env python3
"""The real `chinwag` app on a narrow window, and the header and composer details.

Host a runs the app (profile made with `chinwag-cli init`) under Xvfb with a
private session bus; host b runs chinwag-cli as bob. Checks, in order:
- wide (the default 960 px): the contact list and the conversation pane are on
  the screen side by side, no Back button;
- after a real resize to 400 px (xdotool windowsize) the leaflet folds: only
  the contact list is on the screen;
- clicking bob's row (real pointer) shows only the conversation, with a button
  named "Back"; screenshot narrow.png;
- in the composer, Shift+Enter makes a new line and Enter sends: bob receives
  one message of two lines;
- "Back" (real pointer) returns to the list; a message from bob then raises a
  notification (the conversation is not in view although it is the open one),
  and opening the conversation again withdraws it (CloseNotification);
- the own status message in the header is edited in place (click, type, Enter)
  and bob's CLI sees it (peerChanged message); the own presence drop-down set to
  Away with the keyboard reaches bob too (peerChanged status "away");
- resized back to 1000 px, both panes are on the screen again and Back is gone.
"""

from gui_session import (GuiSession, check, extents, find_all, name_of, role_of, row_named, showing,
                         text_of, unnamed_buttons, wait_for, wait_row)
from testbed import log, main, run_until


def test():
    with GuiSession(("a", "b"), "narrow") as s:
        run(s)


def resize(desk, width, height):
    check(desk.resize(width, height), f"the window is {width} x {height} ({desk.window_size()})")


def _key(node):
    return (role_of(node), name_of(node), extents(node))


def hit(app, x, y):
    """The innermost accessible GTK picks at window point (x, y): what a click there reaches."""
    import pyatspi
    frame = one(app, lambda n: role_of(n) == "frame" and name_of(n) == "Chinwag")
    node, last = frame, None
    for _ in range(60):
        try:
            child = node.queryComponent().getAccessibleAtPoint(int(x), int(y), pyatspi.WINDOW_COORDS)
        except Exception:
            break
        if child is None or _key(child) == _key(node):
            break
        last = node = child
    return last


def on_screen(node, app):
    """What the user sees, by a hit test at the middle of `node`: GTK 4.8 keeps a folded
    leaflet's hidden pane in the accessibility tree, VISIBLE and with stale extents inside the
    window, so neither states nor extents tell; GTK's picking (GetAccessibleAtPoint) does."""
    if node is None or not showing(node):
        return False
    e = extents(node)
    if not e or e[2] <= 0 or e[3] <= 0:
        return False
    h = hit(app, e[0] + e[2] / 2, e[1] + e[3] / 2)
    want = _key(node)
    for _ in range(60):
        if h is None:
            return False
        if _key(h) == want:
            return True
        try:
            h = h.parent
        except Exception:
            return False
    return False


def one(app, predicate):
    hits = find_all(app, predicate)
    return hits[0] if hits else None


def contacts(app):
    return one(app, lambda n: role_of(n) == "list" and name_of(n) == "Contacts")


def composer(app):
    return one(app, lambda n: role_of(n) == "text" and name_of(n) == "Message")


def empty_page(app):
    return one(app, lambda n: role_of(n) == "label" and name_of(n) == "No Conversation Selected")


def back_button(app):
    return one(app, lambda n: role_of(n) == "push button" and name_of(n) == "Back")


def wait_screen(desk, what, predicate, timeout=10):
    check(run_until(predicate, timeout, interval=0.3), what)


def run(s):
    lan, desk = s.lan, s.desk
    profile = s.init_profile(lan.path("profiles", "alice"))
    bob = s.start_cli("b", "bob", "bob@cw-b")
    proc, app = s.start_app(profile)

    wait_for(app, lambda n: role_of(n) == "list" and name_of(n) == "Contacts", 20, "the main window's contact list")
    wait_row(app, "bob", lambda s: "Available" in s, 20, "bob is listed")
    check(run_until(lambda: any(p.get("instance") == "alice@cw-a" and p.get("online")
                                for p in bob.call("listPeers")), 15, interval=0.2), "bob's CLI sees the app")

    # -- wide: two panes
    check(run_until(lambda: desk.window_size()[0] >= 700, 10), f"the window starts wide ({desk.window_size()})")
    wait_screen(desk, "wide: the contact list and the empty conversation pane are side by side",
                lambda: on_screen(contacts(app), app) and on_screen(empty_page(app), app))
    check(not showing(back_button(app)), "wide: no Back button")

    # -- narrow: one pane
    resize(desk, 400, 700)
    wait_screen(desk, "narrow: the contact list is on the screen, the conversation pane is not",
                lambda: on_screen(contacts(app), app) and not on_screen(empty_page(app), app))
    desk.click_node(row_named(app, "bob"))
    wait_screen(desk, "narrow: clicking bob shows his conversation alone",
                lambda: on_screen(composer(app), app) and not on_screen(contacts(app), app))
    check(showing(back_button(app)), "narrow: the conversation has a button named \"Back\"")
    check(not unnamed_buttons(app), f"narrow: every control has a clean accessible name ({unnamed_buttons(app)})")

    # -- Shift+Enter: a new line; Enter sends
    desk.click_node(composer(app))
    desk.type_text("first line")
    desk.key("shift+Return")
    desk.type_text("second line")
    check(run_until(lambda: text_of(composer(app)) == "first line\nsecond line", 10),
          f"Shift+Enter makes a new line in the composer ({text_of(composer(app))!r})")
    desk.key("Return")
    got = bob.wait_notification("message", lambda p: "first line" in p.get("body", ""), timeout=20)
    check(got.get("body") == "first line\nsecond line", f"Enter sends both lines as one message ({got.get('body')!r})")
    wait_for(app, lambda n: role_of(n) == "label" and name_of(n) == "first line\nsecond line", 10,
             "the two-line message is shown in the conversation")
    s.screenshot("narrow.png", window="Chinwag")

    # -- Back to the list; a message now raises a notification, reading it withdraws it
    desk.click_node(back_button(app))
    wait_screen(desk, "\"Back\" returns to the contact list",
                lambda: on_screen(contacts(app), app) and not on_screen(composer(app), app))
    hello = "bob writes while alice looks at the list"
    before = len(desk.notification_calls("Notify"))
    bob.call("send", {"to": "alice@cw-a", "body": hello})
    check(run_until(lambda: any(hello in b for b in desk.notification_calls("Notify")[before:]), 20),
          "narrow, on the list: bob's message raises a notification (his conversation is not in view)")
    wait_row(app, "bob", lambda s: "1 unread" in s, 10, "bob's row counts 1 unread")
    closed = len(desk.notification_calls("CloseNotification"))
    desk.click_node(row_named(app, "bob"))
    wait_screen(desk, "bob's conversation is shown again",
                lambda: on_screen(composer(app), app) and not on_screen(contacts(app), app))
    wait_row(app, "bob", lambda s: "unread" not in s, 10, "reading it clears the unread count")
    check(run_until(lambda: len(desk.notification_calls("CloseNotification")) > closed, 10),
          "reading it withdraws the notification (CloseNotification)")
    desk.click_node(back_button(app))
    wait_screen(desk, "back on the list", lambda: on_screen(contacts(app), app))

    # -- own status message, edited in place in the header
    status = wait_for(app, lambda n: name_of(n) == "Status message" and showing(n), 10, "the status message label")
    desk.click_node(status)
    # GTK 4.8 does not tell AT-SPI about the entry the label turns into: bob's CLI tells.
    desk.key("ctrl+a")
    desk.type_text("lunch until 2")
    desk.key("Return")
    got = bob.wait_notification("peerChanged", lambda p: p.get("instance") == "alice@cw-a"
                                and p.get("message") == "lunch until 2", timeout=20)
    log(f"ok: bob's CLI sees the new status message ({got.get('message')!r}, status {got.get('status')!r})")
    wait_for(app, lambda n: name_of(n) == "Status message" and "lunch until 2" in text_of(n) + name_of(n)
             or (role_of(n) == "label" and name_of(n) == "lunch until 2"), 10,
             "the header shows the new status message")

    # -- own presence: Away with the keyboard
    presence = wait_for(app, lambda n: name_of(n) == "Your presence" and role_of(n) in ("push button", "toggle button")
                        and on_screen(n, app), 10, "the presence drop-down")
    desk.click_node(presence)
    check(run_until(lambda: bool(find_all(app, lambda n: role_of(n) == "label" and name_of(n) == "Away"
                                          and showing(n))), 10), "the presence list opens")
    desk.key("Down")
    desk.key("Return")
    got = bob.wait_notification("peerChanged", lambda p: p.get("instance") == "alice@cw-a"
                                and p.get("status") == "away", timeout=20)
    check(got.get("message") == "lunch until 2", "bob's CLI sees alice Away, status message kept")

    # -- wide again
    resize(desk, 1000, 700)
    wait_screen(desk, "wide again: the contact list and the conversation side by side",
                lambda: on_screen(contacts(app), app) and on_screen(composer(app), app))
    check(run_until(lambda: not showing(back_button(app)), 5), "wide again: no Back button")
    check(proc.poll() is None, "the app is still running")
    proc.terminate()
    proc.wait(15)


if __name__ == "__main__":
    main(test)
