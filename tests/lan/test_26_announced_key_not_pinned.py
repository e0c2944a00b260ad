#!/usr/bin/env python3
"""An announcement is a claim, not a proof: one avahi-publish cannot poison trust.

Host c announces alice's name with a random cw-fp (as `avahi-publish` from any machine of
the LAN could) before alice ever starts Chinwag, then stops. Bob (host b):
- lists the announcement as nearby with trust "unchecked", stores nothing of it, and
  forgets it when it leaves;
- then sees the real alice (host a) as "unchecked" too, with no impostor warning; after
  their first messages her key is proven and "pinned", her messages carry trust pinned;
- the random key never reaches bob's database.
Then the other way round: alice (proven now) quits and c announces her name with another
random key: bob warns "impostor" about that announcement (not about alice), alice's own
contact stays pinned; when c stops and alice returns she is herself again: online,
pinned, her message trusted, no warning about her.
"""

import os
import sqlite3

from testbed import CliGroup, Lan, check, deliver, find_peer, main, run_until, wait_online, wait_peer

ALICE, BOB = "alice@cw-a", "bob@cw-b"
MEET_S = 15


def random_fp():
    return os.urandom(32).hex()


def announce(host, fp):
    return host.avahi_publish(ALICE, "_presence._tcp", 5298,
                              ["txtvers=1", "port.p2pj=5298", "nick=alice", f"cw-fp={fp}", "status=avail"])


def stored_ids(lan):
    """Contact ids in bob's profile database (read-only; bob keeps it open in WAL mode)."""
    path = next(os.path.join(d, "chinwag.db") for d, _, fs in os.walk(lan.path("profiles", "bob"))
                if "chinwag.db" in fs)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in db.execute("SELECT id FROM contacts")}
    finally:
        db.close()


def impostor_warnings(rpc):
    return [w for w in rpc.notifications("warning") if w.get("kind") == "impostor"]


def test():
    with Lan(("a", "b", "c")) as lan, CliGroup(lan, on_exit="quit") as clis:
        c = lan["c"]
        bob = clis.start("b", "bob", instance=BOB)

        # -- the poison: a random key under alice's name, before alice ever starts
        forged = random_fp()
        pub = announce(c, forged)
        v = wait_peer(bob, forged, lambda v: v.get("online") is True, MEET_S)
        check(v is not None and v["online"] is True and v["trust"] == "unchecked" and v["instance"] == ALICE,
              f"bob lists the announcement as nearby, trust unchecked ({v})")
        check(forged not in stored_ids(lan), "the announced key is not stored")
        pub.terminate()
        pub.wait(5)
        check(run_until(lambda: find_peer(bob, forged) is None, 10),
              "the announcement leaves bob's list with the LAN (never a word exchanged)")

        # -- the real alice arrives: nearby, unchecked, nobody flagged
        alice = clis.start("a", "alice", instance=ALICE)
        fa = alice.call("getSelf")["fingerprint"]
        check(fa != forged, "the real alice has a key of her own")
        v = wait_peer(bob, fa, lambda v: v.get("online") is True, MEET_S)
        check(v is not None and v["trust"] == "unchecked", f"bob sees the real alice, unchecked ({v})")
        check(not impostor_warnings(bob), f"no impostor warning ({impostor_warnings(bob)})")

        # -- the first conversation proves her key
        deliver(bob, alice, ALICE, "hello alice, is that you?")
        deliver(alice, bob, BOB, "yes, bob, it is me")
        v = wait_peer(bob, fa, lambda v: v.get("trust") == "pinned", 5)
        check(v is not None and v["trust"] == "pinned", f"bob pinned alice's proven key ({v})")
        msgs = [m for m in bob.notifications("message") if m.get("from") == fa]
        check(msgs and all(m["trust"] == "pinned" and m["secure"] is True for m in msgs),
              f"alice's messages reach bob trusted as pinned ({msgs})")
        check(not impostor_warnings(bob), "still no impostor warning")
        ids = stored_ids(lan)
        check(fa in ids and forged not in ids, f"bob stored alice's key, never the random one ({ids})")

        # -- the proven contact is away; another key takes her name
        alice.call("quit")
        check(alice.wait(10) == 0, "alice quits")
        check(wait_online(bob, fa, False, 10), "bob sees alice offline (and keeps her)")
        other = random_fp()
        pub = announce(c, other)
        w = bob.wait_notification("warning", lambda p: p.get("kind") == "impostor", timeout=MEET_S)
        check(w.get("peer") == other, f"the warning is aimed at the announcement, not at alice ({w})")
        va = find_peer(bob, fa)
        check(va is not None and va["trust"] == "pinned" and va["online"] is False,
              f"alice's own contact stays pinned and offline ({va})")
        vo = find_peer(bob, other)
        check(vo is not None and vo["trust"] == "impostor", f"the announcement is listed as impostor ({vo})")
        check(other not in stored_ids(lan), "the impostor announcement is not stored")
        pub.terminate()
        pub.wait(5)
        check(run_until(lambda: find_peer(bob, other) is None, 10), "the impostor announcement leaves the list")

        # -- the real alice returns: herself again
        alice = clis.start("a", "alice", instance=ALICE)
        v = wait_peer(bob, fa, lambda v: v.get("online") is True, MEET_S)
        check(v is not None and v["trust"] == "pinned", f"alice is back, pinned ({v})")
        deliver(alice, bob, BOB, "back again")
        m = [m for m in bob.notifications("message") if m.get("body") == "back again"]
        check(m and m[0]["from"] == fa and m[0]["trust"] == "pinned", f"her message is trusted as pinned ({m})")
        check(all(w.get("peer") != fa for w in bob.notifications("warning")),
              f"no warning about alice herself ({bob.notifications('warning')})")
        check(find_peer(bob, fa)["trust"] == "pinned", "alice is not flagged")
        ids = stored_ids(lan)
        check(forged not in ids and other not in ids, f"no announced-only key in bob's database ({ids})")


if __name__ == "__main__":
    main(test)
