#!/usr/bin/env python3
"""A flood of announcements leaves the contact list and the database as they were.

bob (host b) has one real contact, alice (host a), with a conversation. Host c then
announces 1,000 peers with random names and random cw-fp keys (as anyone on the LAN could),
and after they are gone 1,000 legacy peers (no key). Checks, for each flood: bob sees them
(as many as avahi-daemon lets one client follow, at least 200, within 120 s), nothing is written to his database while
they are there, his VmRSS stays bounded, and once their publishers are gone the list is
what it was (alice alone) and the database holds what it held; alice is still reachable.
"""

import os
import sqlite3
import time

from testbed import CliGroup, Lan, check, check_bound, deliver, log, main, run_until, rss_kb, wait_online

ALICE, BOB = "alice@cw-a", "bob@cw-b"
N = 1000


def contact_rows(lan):
    path = next(os.path.join(d, "chinwag.db") for d, _, fs in os.walk(lan.path("profiles", "bob"))
                if "chinwag.db" in fs)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return sorted(db.execute("SELECT id, trust FROM contacts"))
    finally:
        db.close()


def flood(lan, bob, c, label, txt_of, before_rows, rss0):
    t0 = time.monotonic()
    pubs = [c.avahi_publish(f"{label}-{i:04d}@cw-c", "_presence._tcp", 5298, txt_of(i), wait=False)
            for i in range(N)]
    log(f"{label}: {N} publishers started in {time.monotonic() - t0:.1f}s")

    def seen():
        return sum(1 for p in bob.call("listPeers", timeout=30) if p.get("instance", "").startswith(label))
    # avahi-daemon lets one client hold about 1,024 objects (objects-per-client-max, Debian's
    # default): bob follows as many as it lets him, and sees the flood well before the end.
    counts = []
    run_until(lambda: counts.append(seen()) or counts[-1] >= N * 0.9
              or (len(counts) > 10 and counts[-1] == counts[-6] and counts[-1] > 0), 120, 2.0)
    log(f"{label}: bob lists {counts[-1]} of {N} after {time.monotonic() - t0:.1f}s")
    check(counts[-1] >= 200, f"{label}: bob sees the flood ({counts[-1]} of {N} within 120 s)")
    check(bob.alive(), f"{label}: bob still runs")
    check(contact_rows(lan) == before_rows, f"{label}: nothing is written to bob's database meanwhile")
    rss = rss_kb(bob.proc.pid)
    check_bound(rss < 2 * rss0 + 64 * 1024, f"{label}: bob's VmRSS with {counts[-1]} peers: {rss} kB "
                                            f"(quiet {rss0} kB)")
    t1 = time.monotonic()
    for p in pubs:
        if p.poll() is None:
            p.kill()
    for p in pubs:
        p.wait(5)
    check(run_until(lambda: seen() == 0, 60, 1.0),
          f"{label}: the flood leaves bob's list ({time.monotonic() - t1:.1f}s after its publishers died)")
    listed = [p["id"] for p in bob.call("listPeers")]
    check(len(listed) == 1, f"{label}: bob's list is as it was: alice alone ({len(listed)} entries)")
    check(contact_rows(lan) == before_rows, f"{label}: bob's database holds what it held")
    rss = rss_kb(bob.proc.pid)
    check_bound(rss < 1.5 * rss0 + 32 * 1024, f"{label}: bob's VmRSS after the flood: {rss} kB (quiet {rss0} kB)")


def test():
    with Lan(("a", "b", "c")) as lan, CliGroup(lan, on_exit="quit") as clis:
        alice = clis.start("a", "alice", instance=ALICE)
        bob = clis.start("b", "bob", instance=BOB)
        fa = alice.call("getSelf")["fingerprint"]
        check(wait_online(bob, fa, True, 15), "bob sees alice")
        deliver(bob, alice, ALICE, "hi alice")
        before = contact_rows(lan)
        check(len(before) == 1 and before[0][0] == fa, f"bob's database holds alice alone ({before})")
        rss0 = rss_kb(bob.proc.pid)
        c = lan["c"]
        flood(lan, bob, c, "keyed",
              lambda i: ["txtvers=1", "port.p2pj=5298", f"nick=n{os.urandom(4).hex()}",
                         f"cw-fp={os.urandom(32).hex()}"], before, rss0)
        flood(lan, bob, c, "legacy", lambda i: ["txtvers=1", "port.p2pj=5298", f"1st=L{i}"], before, rss0)
        deliver(bob, alice, ALICE, "still there?")
        check(contact_rows(lan) == before, "alice is still bob's one contact")


if __name__ == "__main__":
    main(test)
