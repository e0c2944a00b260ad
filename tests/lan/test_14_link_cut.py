#!/usr/bin/env python3
"""A peer whose cable is pulled is shown offline within 35 s.

alice (host a) and bob (host b) exchange a message, so a stream is open
between them; then bob's link is cut at the switch (neither host notices
anything, no mDNS goodbye can get through). Checks: alice shows bob offline
(peerChanged online false or peerGone) within 35 s; the measured time is
printed. Before the cut, the idle stream must keep bob online for 12 s
(pings answered, no I/O timeout). Then the link comes back and a message from alice reaches bob again.
"""

import time

from testbed import (CliGroup, Lan, check, find_peer, log, main, run_until, seen_offline,
                     wait_online, wait_state)

MEET_S = 15
OFFLINE_S = 35
RECOVER_S = 20
IDLE_S = 12


def test():
    with Lan(("a", "b")) as lan, CliGroup(lan) as clis:
        run(lan, clis.start)


def run(lan, start):
    alice, bob = start("a", "alice"), start("b", "bob")
    fa, fb = alice.call("getSelf")["fingerprint"], bob.call("getSelf")["fingerprint"]
    check(wait_online(alice, fb, True, MEET_S) and wait_online(bob, fa, True, MEET_S),
          "alice and bob see each other online")
    m = alice.call("send", {"to": fb, "body": "are you there?"})["id"]
    bob.wait_notification("message", lambda p: p.get("id") == m, timeout=15)
    r = bob.call("send", {"to": fa, "body": "yes"})["id"]
    alice.wait_notification("message", lambda p: p.get("id") == r, timeout=15)
    check(wait_state(alice, m, "delivered", 10),
          "the exchange is complete (stream open, receipts back)")

    # An idle stream stays up (pings answered, no read timeout): nobody is shown offline.
    t_idle = time.monotonic()
    flapped = run_until(lambda: seen_offline(alice, fb), IDLE_S)
    check(not flapped, f"bob stays online at alice through {IDLE_S}s of an idle stream "
                       f"({time.monotonic() - t_idle:.1f}s)")

    t_cut = time.monotonic()
    lan["b"].link_cut()
    log("bob's link cut at the switch")
    ok = run_until(lambda: seen_offline(alice, fb), OFFLINE_S, interval=0.1)
    elapsed = time.monotonic() - t_cut
    log(f"measured: alice showed bob offline {elapsed:.2f}s after the cut" if ok
        else f"measured: bob still shown online {elapsed:.2f}s after the cut")
    check(ok, f"alice shows bob offline within {OFFLINE_S}s of the cut ({elapsed:.2f}s)")
    v = find_peer(alice, fb)
    check(v is not None and v["online"] is False, f"alice's listPeers shows bob offline ({v})")

    # The cable comes back: a new message goes through again.
    lan["b"].link_restore()
    t_back = time.monotonic()
    body = "welcome back"
    m2 = alice.call("send", {"to": fb, "body": body})["id"]
    ok = wait_state(alice, m2, "delivered", RECOVER_S, interval=0.2)
    log(f"measured: after the link came back, delivery took {time.monotonic() - t_back:.2f}s" if ok
        else "the message after the link came back was not delivered")
    check(ok, f"a message sent after the link is restored is delivered within {RECOVER_S}s")
    run_until(lambda: any(n.get("body") == body for n in bob.notifications("message")), 5)
    time.sleep(0.3)
    check(len([n for n in bob.notifications("message") if n.get("body") == body]) == 1,
          "bob gets it exactly once")


if __name__ == "__main__":
    main(test)
