#!/usr/bin/env python3
"""A sender killed between "sent" and the receipt delivers the message exactly once.

alice (host a) and bob (host b) meet. bob is frozen with SIGSTOP, so no receipt
can come back; alice sends one message and reports it `sent` (written to the
stream); alice is SIGKILLed; bob is thawed with SIGCONT (he reads the message
from his socket buffer, stores it and answers a receipt to a dead stream);
alice restarts with the same profile and, finding the message still `sent`
without a receipt, resends it. Checks: alice ends with the message `delivered`,
bob's history holds it exactly once (same id), and bob raised exactly one
`message` notification for it. Then the same with bob frozen before the
message even reached his process, and killed while alice is down: he must get
it once after both restart.
On failure: both CLIs' stderr and the avahi logs.
"""

import os
import signal
import time

from testbed import CliGroup, Lan, check, log, main, peer_online, run_until, state_seen


def thaw(p):
    """SIGCONT, so that a test failing while bob is stopped leaves no frozen process."""
    try:
        os.kill(p.proc.pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


def test():
    with Lan(("a", "b")) as lan, CliGroup(lan, on_exit=thaw) as clis:
        run(clis.start)


def run(start):
    alice, bob = start("a", "alice"), start("b", "bob")
    fa, fb = alice.call("getSelf")["fingerprint"], bob.call("getSelf")["fingerprint"]
    check(run_until(lambda: peer_online(alice, fb) and peer_online(bob, fa), 20, 0.2), "alice and bob meet")
    warm = alice.call("send", {"to": fb, "body": "warm-up"})["id"]
    check(run_until(lambda: state_seen(alice, warm, "delivered"), 15), "a first message is delivered (stream open)")

    # ---- case 1: the receiver has the message; only the receipt is lost with the sender.
    os.kill(bob.proc.pid, signal.SIGSTOP)
    body = "exactly once, please"
    mid = alice.call("send", {"to": fb, "body": body})["id"]
    check(run_until(lambda: state_seen(alice, mid, "sent"), 10), "alice reports the message sent")
    time.sleep(0.3)
    check(not state_seen(alice, mid, "delivered"), "no receipt while bob is frozen")
    alice.kill()
    alice.wait(10)
    log("alice SIGKILLed between sent and the receipt")
    os.kill(bob.proc.pid, signal.SIGCONT)
    check(run_until(lambda: any(n.get("body") == body for n in bob.notifications("message")), 10),
          "bob, thawed, reads the message from his socket")
    alice = start("a", "alice")
    h = alice.call("getHistory", {"peer": fb, "limit": 10})
    mine = [m for m in h if m["id"] == mid]
    check(len(mine) == 1 and mine[0]["state"] in ("sent", "delivered"),
          f"after the restart alice still has it, not yet confirmed ({mine and mine[0]['state']})")
    check(run_until(lambda: state_seen(alice, mid, "delivered")
                    or any(m["id"] == mid and m["state"] == "delivered"
                           for m in alice.call("getHistory", {"peer": fb, "limit": 10})), 30, 0.2),
          "alice sees it delivered after resending")
    time.sleep(1.0)
    hb = bob.call("getHistory", {"peer": fa, "limit": 50})
    check([m["id"] for m in hb].count(mid) == 1, f"bob's history holds it once ({[m['body'] for m in hb]})")
    check(sum(1 for n in bob.notifications("message") if n.get("body") == body) == 1,
          "bob was notified once")

    # ---- case 2: both sides die with the message in flight; both restart.
    os.kill(bob.proc.pid, signal.SIGSTOP)
    body2 = "in flight while both died"
    mid2 = alice.call("send", {"to": fb, "body": body2})["id"]
    check(run_until(lambda: state_seen(alice, mid2, "sent"), 10), "alice reports the second message sent")
    alice.kill()
    alice.wait(10)
    bob.kill()      # a stopped process dies on SIGKILL too
    bob.wait(10)
    log("alice and bob both SIGKILLed; restarting bob first, then alice")
    bob = start("b", "bob")
    alice = start("a", "alice")
    check(run_until(lambda: any(m["id"] == mid2 and m["state"] == "delivered"
                                for m in alice.call("getHistory", {"peer": fb, "limit": 10})), 40, 0.3),
          "the second message ends delivered")
    time.sleep(1.0)
    hb = bob.call("getHistory", {"peer": fa, "limit": 50})
    ids = [m["id"] for m in hb]
    check(ids.count(mid2) == 1 and ids.count(mid) == 1 and ids.count(warm) == 1,
          f"bob's history holds every message exactly once ({[m['body'] for m in hb]})")
    for p in (alice, bob):
        p.call("quit")
        check(p.wait(10) == 0, f"{p.name} quits cleanly")


if __name__ == "__main__":
    main(test)
