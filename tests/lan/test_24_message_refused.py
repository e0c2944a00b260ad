#!/usr/bin/env python3
"""A peer that refuses a message: the sender shows it failed, with the peer's reason.

Host b runs a hand-made legacy XEP-0174 peer, rex, that answers every message
with `<message type='error'>` (service-unavailable, "Not accepting messages
right now"); host c runs bob, an ordinary chinwag-cli. alice (host a, chinwag-
cli) sends to rex. Checks: alice's messageState for it ends `failed` with a
reason in plain words that carries the condition and rex's own text; the
history keeps it failed with that reason; it is not sent again (rex refused it
once, also after alice restarts); the message to rex never shows up in alice's
log; a message from alice to bob right after is delivered as usual.
"""

import time

from refusing_peer import RefusingPeer
from testbed import CliGroup, Lan, check, log, main, quit_or_kill, run_until, wait_peer, wait_state

REX = "rex@cw-b"
BODY = "hello rex, shall we talk?"


def test():
    with Lan(("a", "b", "c")) as lan, CliGroup(lan, on_exit="quit") as clis, \
            RefusingPeer(lan["b"], REX, "rex", txt=["1st=Rex", "last=Tyrannosaurus"]) as rex:
        alice = clis.start("a", "alice", instance="alice@cw-a")
        bob = clis.start("c", "bob", instance="bob@cw-c")
        fb = bob.call("getSelf")["fingerprint"]
        p = wait_peer(alice, REX, lambda p: p.get("online"), 20, key="instance")
        check(p is not None and p.get("trust") == "legacy" and p.get("fingerprint") is None,
              f"alice lists rex online as a legacy peer ({p})")
        check((p.get("firstName"), p.get("lastName"), p.get("email")) == ("Rex", "Tyrannosaurus", ""),
              "with the names rex publishes and no e-mail (it publishes none)")

        mid = alice.call("send", {"to": REX, "body": BODY})["id"]
        failed = alice.wait_notification("messageState", lambda n: n.get("id") == mid and n.get("state") == "failed",
                                         timeout=20)
        reason = failed.get("reason", "")
        log(f"alice: message {mid} failed: {reason!r}")
        check("does not accept messages" in reason and "service-unavailable" in reason
              and "Not accepting messages right now" in reason,
              "the reason says in plain words that rex does not accept messages, with its condition and text")
        check(rex.refused_ids() == [mid], f"rex got the message once, with alice's id ({rex.refused_ids()})")
        rex_id = p["id"]
        h = alice.call("getHistory", {"peer": rex_id, "limit": 10})
        check(len(h) == 1 and h[0]["state"] == "failed" and h[0]["reason"] == reason and h[0]["secure"] is False,
              f"alice's history keeps it failed, unencrypted, with the reason ({h})")

        time.sleep(3)
        check(rex.refused_ids() == [mid], "a refused message is not retried")
        quit_or_kill(alice)
        alice = clis.start("a", "alice", instance="alice@cw-a")
        check(run_until(lambda: any(x.get("instance") == REX and x.get("online") for x in alice.call("listPeers")),
                        20, 0.2), "after a restart alice sees rex again")
        time.sleep(3)
        check(rex.refused_ids() == [mid], f"nor is it sent again after a restart ({rex.refused_ids()})")
        h = alice.call("getHistory", {"peer": rex_id, "limit": 10})
        check([m["state"] for m in h] == ["failed"], "still failed after the restart")

        check(BODY not in alice.stderr_text(), "the message body is not in alice's log")
        check(wait_peer(alice, fb, lambda p: p.get("online"), 20) is not None, "alice sees bob")
        m2 = alice.call("send", {"to": fb, "body": "and to bob"})["id"]
        check(wait_state(alice, m2, "delivered", 15), "a message to bob right after is delivered")


if __name__ == "__main__":
    main(test)
