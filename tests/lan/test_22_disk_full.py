#!/usr/bin/env python3
"""A full disk on the receiver: clear error, nothing acknowledged, nothing corrupted,
normal service once space returns.

bob's profile (host b) lives on a 3 MiB tmpfs mounted for this test. alice and
bob meet and exchange a message. Then the tmpfs is filled to the last byte and
alice sends 8 messages of 40 KB (so the database must grow to store them).
Checks while the disk is full: bob keeps running and answers calls; bob sends a
`notice` of kind "storage" in plain words (it mentions the disk being full);
none of the 8 is acknowledged (alice never reports them `delivered`) nor shown
to bob as a `message`; `PRAGMA integrity_check` on bob's database says ok.
Then the filler is deleted: within 60 s every message is delivered exactly
once, in order (bob's history), integrity_check still says ok, and a message
bob -> alice works. The tmpfs is unmounted at the end.
On failure: both CLIs' stderr and the avahi logs.
"""

import os
import subprocess
import time

from testbed import CliGroup, Lan, Skip, check, log, main, peer_online, run_until, state_seen, wait_state

N = 8
SIZE = 40 * 1024


def integrity(db):
    r = subprocess.run(["sqlite3", "-readonly", db, "PRAGMA integrity_check"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    return (r.stdout + r.stderr).strip()


def fill(path):
    """Writes `path` until the file system is full; returns bytes written."""
    n = 0
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                n += f.write(chunk)
            except OSError:
                break
        while True:            # the last partial page
            try:
                n += f.write(b"\0" * 512)
            except OSError:
                break
    return n


def test():
    if subprocess.run(["which", "sqlite3"], stdout=subprocess.DEVNULL).returncode != 0:
        raise Skip("sqlite3 (the CLI) is not installed")
    with Lan(("a", "b")) as lan:
        mnt = lan.path("bob-disk")
        os.makedirs(mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "chinwag-test-disk", mnt], check=True)
        try:
            # The CLIs die before the file system under bob's profile is unmounted.
            with CliGroup(lan, on_exit="kill") as clis:
                run(mnt, clis)
        finally:
            subprocess.run(["umount", mnt])


def run(mnt, clis):
    profile = os.path.join(mnt, "bob")
    alice = clis.start("a", "alice")
    bob = clis.start("b", "bob", profile=profile)
    db = os.path.join(profile, "chinwag.db")
    fa, fb = alice.call("getSelf")["fingerprint"], bob.call("getSelf")["fingerprint"]
    check(run_until(lambda: peer_online(alice, fb) and peer_online(bob, fa), 20, 0.2), "alice and bob meet")
    first = alice.call("send", {"to": fb, "body": "before the disk fills"})["id"]
    check(wait_state(alice, first, "delivered", 15), "a first message is delivered")

    filler = os.path.join(mnt, "filler")
    n = fill(filler)
    st = os.statvfs(mnt)
    log(f"filled bob's disk with {n} bytes; {st.f_bavail * st.f_frsize} bytes left")
    notices0 = len(bob.notifications("notice"))
    bodies = [f"{i:02d} " + ("x" * SIZE) for i in range(N)]
    ids = [alice.call("send", {"to": fb, "body": b})["id"] for b in bodies]
    check(run_until(lambda: any((n or {}).get("kind") == "storage" for n in bob.notifications("notice")[notices0:]),
                    15, 0.2), "bob sends a `notice` of kind storage")
    storage = [n for n in bob.notifications("notice")[notices0:] if (n or {}).get("kind") == "storage"]
    detail = storage[0].get("detail", "")
    log(f"    bob's notice: {detail!r}")
    check("full" in detail.lower() and "disk" in detail.lower(), "the notice says in plain words that the disk is full")
    time.sleep(3)
    check(bob.alive(), "bob still runs")
    check(bob.call("getSelf")["fingerprint"] == fb, "bob still answers calls")
    delivered = [n["id"] for n in alice.notifications("messageState") if n.get("state") == "delivered"]
    check(not any(i in delivered for i in ids), "none of the messages is acknowledged while the disk is full")
    check(not any(n.get("body") in bodies for n in bob.notifications("message")),
          "bob shows none of them (none was stored)")
    hs = {m["id"]: m["state"] for m in alice.call("getHistory", {"peer": fb, "limit": 50})}
    check(all(hs.get(i) in ("queued", "sent") for i in ids), f"alice keeps them queued/sent ({sorted(set(hs.values()))})")
    res = integrity(db)
    check(res == "ok", f"integrity_check on bob's database while full: {res!r}")

    os.unlink(filler)
    log("space is back")
    t0 = time.monotonic()
    ok = run_until(lambda: all(state_seen(alice, i, "delivered") for i in ids), 60, 0.3)
    done = sum(1 for i in ids if state_seen(alice, i, "delivered"))
    check(ok, f"all {N} delivered once space returned ({done}/{N} after {time.monotonic() - t0:.1f}s)")
    h = bob.call("getHistory", {"peer": fa, "limit": 100})
    got = [m["body"] for m in h if m["body"] in bodies]
    check(got == bodies, f"bob's history holds each exactly once, in order ({[b[:2] for b in got]})")
    check(sum(1 for n in bob.notifications("message") if n.get("body") in bodies) == N,
          "bob was notified once per message")
    recovered = [n for n in bob.notifications("notice")[notices0:]
                 if (n or {}).get("kind") == "storage" and n.get("problem") is False]
    check(len(recovered) == 1, f"bob says once that saving works again ({recovered})")
    mid = bob.call("send", {"to": fa, "body": "disk is fine again"})["id"]
    check(wait_state(bob, mid, "delivered", 15), "bob -> alice works")
    for p in (alice, bob):
        p.call("quit")
        check(p.wait(10) == 0, f"{p.name} quits cleanly")
    res = integrity(db)
    check(res == "ok", f"integrity_check after the run: {res!r}")


if __name__ == "__main__":
    main(test)
