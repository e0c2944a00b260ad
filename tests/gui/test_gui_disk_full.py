#!/usr/bin/env python3
"""A full disk under the real `chinwag` app: a banner in plain words, no crash,
and normal service once space returns.

The app's profile (host a) lives on a 4 MiB tmpfs mounted for this test (as in
tests/lan/test_22_disk_full.py for the CLI); bob runs chinwag-cli on host b.
Checks: bob's first message shows in the open conversation; then the tmpfs is
filled to the last byte and bob sends 6 messages of 40 KB: the app shows the
core's "storage" notice as a banner that says the disk may be full, keeps
running, shows none of those messages and bob sees none delivered. Then the
filler is deleted: bob's messages arrive (delivered), the next one bob sends
shows in the conversation, and the banner is gone. Last, the other error a
user can act on while the app runs: avahi-daemon on host a stops -> a banner
says it is not running and how to start it; started again -> the banner goes
by itself and bob is listed again. The app is killed and the tmpfs unmounted
at the end, whatever happened.
"""

import os
import subprocess
import time

from gui_session import (GuiSession, activate_action, check, find_all, label_showing, name_of, role_of, wait_for,
                         wait_row)
from testbed import log, main, run_until, state_seen

N = 6
SIZE = 40 * 1024
BANNER = "cannot save new messages"
AVAHI_BANNER = "avahi-daemon service is not running"


def fill(path):
    """Writes `path` until the file system is full; returns bytes written."""
    n = 0
    with open(path, "wb", buffering=0) as f:
        for chunk in (b"\0" * 65536, b"\0" * 512):  # then the last partial page
            while True:
                try:
                    n += f.write(chunk)
                except OSError:
                    break
    return n


def test():
    with GuiSession(("a", "b"), "disk-full", tree_chars=20000) as s:
        mnt = s.lan.path("alice-disk")
        os.makedirs(mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "chinwag-gui-test-disk", mnt], check=True)

        # Runs after the session killed the app: nothing may hold a file on the tmpfs.
        def unmount():
            r = subprocess.run(["umount", mnt], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", mnt])
                log(f"umount {mnt}: {r.stdout.strip()} (lazily unmounted)")
        s.at_exit(unmount)
        run(s, mnt)


def run(s, mnt):
    lan, desk = s.lan, s.desk
    profile = os.path.join(mnt, "alice")
    os.makedirs(profile)
    s.init_profile(profile, what="chinwag-cli init made alice's profile on the small disk")
    bob = s.start_cli("b", "bob", "bob@cw-b")
    proc, app = s.start_app(profile)

    wait_row(app, "bob", lambda s: "Available" in s, 20, "bob is listed")
    check(run_until(lambda: any(p.get("instance") == "alice@cw-a" and p.get("online")
                                for p in bob.call("listPeers")), 15, interval=0.2), "bob's CLI sees the app")
    bob_fp = bob.call("getSelf")["fingerprint"]
    check(activate_action(desk, "open-conversation", f"<'{bob_fp}'>"), "bob's conversation opened")
    first = "before the disk fills"
    bob.call("send", {"to": "alice@cw-a", "body": first})
    wait_for(app, lambda n: role_of(n) == "label" and name_of(n) == first, 20, "bob's first message is shown")

    filler = os.path.join(mnt, "filler")
    n = fill(filler)
    st = os.statvfs(mnt)
    log(f"filled the app's disk with {n} bytes; {st.f_bavail * st.f_frsize} bytes left")
    bodies = [f"{i:02d} " + ("x" * SIZE) for i in range(N)]
    ids = [bob.call("send", {"to": "alice@cw-a", "body": b})["id"] for b in bodies]
    banner = wait_for(app, lambda n: role_of(n) == "label" and BANNER in name_of(n), 45,
                      "the app shows the storage notice as a banner")
    text = name_of(banner)
    log(f"banner: {text!r}")
    check("disk is full" in text and "Free some space" in text,
          "the banner says in plain words that the disk may be full and what to do")
    s.screenshot("disk-full.png", window="Chinwag")
    check(proc.poll() is None, "the app keeps running with a full disk")
    check(not find_all(app, lambda n: role_of(n) == "label" and name_of(n)[:3] in {b[:3] for b in bodies}
                       and name_of(n).endswith("xxx")), "none of the messages that could not be stored is shown")
    check(not any(state_seen(bob, i, "delivered") for i in ids), "bob sees none of them delivered")

    os.unlink(filler)
    log("space is back")
    check(run_until(lambda: all(state_seen(bob, i, "delivered") for i in ids), 90, 0.5),
          f"once space is back, bob's messages are delivered "
          f"({sum(1 for i in ids if state_seen(bob, i, 'delivered'))}/{N})")
    after = "the disk is fine again"
    t0 = time.monotonic()
    bob.call("send", {"to": "alice@cw-a", "body": after})
    # Generous: the conversation now lays out 6 x 40 KB bubbles, 2-3x slower under ASan.
    wait_for(app, lambda n: role_of(n) == "label" and name_of(n) == after, 60,
             "the next message bob sends shows in the conversation")
    log(f"ok: the next message bob sends shows in the conversation ({time.monotonic() - t0:.1f} s)")
    check(run_until(lambda: not label_showing(app, BANNER), 20), "the disk-full banner is gone")

    # -- the other error the user can act on while running: avahi-daemon stops, then comes back
    lan["a"].avahi_stop()
    log("avahi-daemon on the app's host stopped")
    wait_for(app, lambda n: role_of(n) == "label" and AVAHI_BANNER in name_of(n), 45,
             "the app shows a banner that avahi-daemon is not running")
    check(bool(label_showing(app, "systemctl start avahi-daemon")), "the banner says how to start it")
    check(proc.poll() is None, "the app keeps running without avahi-daemon")
    lan["a"].avahi_start()
    log("avahi-daemon on the app's host started again")
    check(run_until(lambda: not label_showing(app, AVAHI_BANNER), 45), "once it runs again the banner goes by itself")
    wait_row(app, "bob", lambda s: "Available" in s, 45, "bob is listed nearby again")
    check(proc.poll() is None, "the app is still running")
    proc.terminate()
    proc.wait(15)


if __name__ == "__main__":
    main(test)
