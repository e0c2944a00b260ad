#!/usr/bin/env python3
"""An impostor takes a pinned contact's name while the contact is away.

alice (host a) and bob (host b) talk, so alice pins bob's key. bob quits.
mallory starts on host c with a NEW profile but bob's instance name
(bob@cw-b). Checks: alice gets a `warning` kind "impostor"; alice's listPeers
shows the impostor as a separate contact with trust "impostor" (bob's own
contact stays pinned and offline); a message from mallory to alice, if it
arrives, is attributed to the impostor's id (never bob's) with trust
impostor; alice's send {to: "bob@cw-b"} is queued for the real bob (its
messageState stays queued, mallory receives nothing). When the real bob
returns (after mallory quits), the queued message is delivered to him.
"""

import time

from testbed import (CliGroup, Lan, RpcError, check, find_peer, log, main, message_states,
                     run_until, wait_online, wait_peer)

MEET_S = 15
HOLD_S = 6        # how long the queued message must stay queued while mallory is online


def test():
    with Lan(("a", "b", "c")) as lan, CliGroup(lan) as clis:
        def start(host, profile, nick, instance):
            return clis.start(host, nick, profile=lan.path("profiles", profile), instance=instance)
        run(start)


def run(start):
    alice = start("a", "alice", "alice", "alice@cw-a")
    bob = start("b", "bob", "bob", "bob@cw-b")
    fa, fb = alice.call("getSelf")["fingerprint"], bob.call("getSelf")["fingerprint"]
    check(wait_online(alice, fb, True, MEET_S) and wait_online(bob, fa, True, MEET_S),
          "alice and bob see each other")
    m = alice.call("send", {"to": "bob@cw-b", "body": "hi bob, it is alice"})["id"]
    bob.wait_notification("message", lambda p: p.get("id") == m, timeout=15)
    r = bob.call("send", {"to": "alice@cw-a", "body": "hi alice, bob here"})["id"]
    alice.wait_notification("message", lambda p: p.get("id") == r and p.get("from") == fb, timeout=15)
    check(find_peer(alice, fb)["trust"] == "pinned", "alice has bob's key pinned after talking")

    bob.call("quit")
    check(bob.wait(10) == 0, "bob quits")
    check(wait_online(alice, fb, False, 10), "alice sees bob offline")

    # mallory: a new key, bob's name, on another host
    t_mal = time.monotonic()
    mallory = start("c", "mallory", "bob", "bob@cw-b")
    fm = mallory.call("getSelf")["fingerprint"]
    check(fm != fb, "mallory has a key of her own")
    try:
        w = alice.wait_notification("warning", lambda p: p.get("kind") == "impostor", timeout=MEET_S)
    except RpcError as e:
        raise AssertionError(f"alice got no impostor warning: {e}; warnings {alice.notifications('warning')}; "
                             f"peers {alice.call('listPeers')}")
    log(f"warning after {time.monotonic() - t_mal:.2f}s: {w}")
    check(w.get("peer") == fm, f"the warning names the impostor's id, not bob's ({w.get('peer')})")
    check(w.get("peer") != fb, "the warning does not name bob's contact id")

    v = wait_peer(alice, fm, lambda v: v.get("trust") == "impostor", 5)
    check(v is not None and v["trust"] == "impostor" and v["instance"] == "bob@cw-b",
          f"alice lists the impostor as a separate contact, trust impostor ({v})")
    vb = find_peer(alice, fb)
    check(vb is not None and vb["trust"] == "pinned" and vb["online"] is False,
          f"bob's own contact stays pinned and offline ({vb})")
    check(not any(n.get("id") == fb and n.get("online") is True and n.get("fingerprint") != fb
                  for n in alice.notifications("peerChanged")),
          "no peerChanged mixes bob's id with another key")

    # alice writes to the name: it is held for the real bob
    queued_body = "for the real bob only: the key is under the mat"
    q = alice.call("send", {"to": "bob@cw-b", "body": queued_body})
    qid = q["id"]
    t_queued = time.monotonic()
    # Notifications raised during a call are written after its response: wait for it.
    run_until(lambda: any(n.get("id") == qid for n in alice.notifications("messageState")), 5)
    st = [n for n in alice.notifications("messageState") if n.get("id") == qid]
    check(st and st[0]["state"] == "queued" and st[0]["to"] == fb,
          f"alice's message to bob@cw-b is queued for bob's id ({st})")

    # mallory writes to alice (she may be refused; if it arrives it is hers, not bob's)
    mal_body = "this is bob, I changed my phone"
    check(wait_online(mallory, fa, True, MEET_S), "mallory sees alice online")
    try:
        mallory.call("send", {"to": "alice@cw-a", "body": mal_body})
        log("mallory's send was accepted by her own client")
    except RpcError as e:
        log(f"mallory's send failed at her side: {e}")
    arrived = run_until(lambda: any(n.get("body") == mal_body for n in alice.notifications("message")), HOLD_S)
    if arrived:
        n = [n for n in alice.notifications("message") if n.get("body") == mal_body][0]
        check(n["from"] == fm and n["from"] != fb, f"mallory's message is attributed to the impostor ({n})")
        check(n["trust"] == "impostor", "mallory's message is marked trust impostor")
        check(n.get("verified") is False, "mallory's message is not verified")
    else:
        log("mallory's message did not arrive at alice (allowed)")
    hist_b = alice.call("getHistory", {"peer": fb, "limit": 50})
    check(all(m["body"] != mal_body for m in hist_b), "bob's history at alice holds nothing from mallory")

    left = HOLD_S - (time.monotonic() - t_queued)
    changed = run_until(lambda: message_states(alice, qid) != ["queued"], max(left, 0.5))
    check(not changed, f"the message for bob stays queued for {HOLD_S}s while mallory holds the name "
                       f"({message_states(alice, qid)})")
    check(not mallory.notifications("message"),
          f"mallory received nothing ({[n.get('body') for n in mallory.notifications('message')]})")
    hist_m = mallory.call("getHistory", {"peer": "alice@cw-a", "limit": 50}) if find_peer(mallory, fa) else []
    check(all(m["body"] != queued_body for m in hist_m), "mallory's history has no message from alice")

    mallory.call("quit")
    check(mallory.wait(10) == 0, "mallory quits")
    check(wait_online(alice, fm, False, 10), "alice sees mallory gone")

    t_back = time.monotonic()
    bob = start("b", "bob", "bob", "bob@cw-b")
    got = bob.wait_notification("message", lambda p: p.get("body") == queued_body, timeout=20)
    check(got["from"] == fa and got["trust"] == "pinned",
          f"the real bob gets the queued message from alice after {time.monotonic() - t_back:.2f}s ({got})")
    check(run_until(lambda: "delivered" in message_states(alice, qid), 10),
          "alice sees messageState delivered for it")
    vb = find_peer(alice, fb)
    check(vb["online"] is True and vb["trust"] == "pinned", f"bob is back online, pinned ({vb})")
    check(find_peer(alice, fm)["trust"] == "impostor", "the impostor stays flagged")
    check(len([n for n in bob.notifications("message") if n.get("body") == queued_body]) == 1,
          "bob got the message exactly once")


if __name__ == "__main__":
    main(test)
