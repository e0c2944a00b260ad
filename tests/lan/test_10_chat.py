#!/usr/bin/env python3
"""Three Chinwag peers chat on one LAN (chinwag-cli jsonrpc on hosts a, b, c).

Checks: everyone lists the other two online within a few seconds, with the
fingerprint the peer reports in getSelf, trust "unchecked" (a key only announced is not
pinned), secure true; after the first message either way the key is proven and "pinned"; a status
change on b reaches a and c as peerChanged; messages a->b and b->a: the sender
sees messageState queued, sent, delivered (in that order), the receiver gets a
`message` with secure true and trust pinned; getHistory on both sides; search
finds a word; getSafetyNumber is equal on both sides; markVerified makes trust
"verified" (peerChanged); a message to a nonexistent peer is a JSON-RPC error;
a clean exit of c is seen by a as peerGone / online false within a few seconds, and a never
talked to c, so c leaves a's contact list (no permanent contact without a conversation).
"""

import time

from testbed import (CliGroup, Lan, RpcError, check, find_peer, log, main, message_states,
                     run_until, seen_offline, wait_peer, wait_state)

DISCOVERY_S = 15      # "a few seconds"; measured time is printed
DELIVERY_S = 15
GONE_S = 8


def test():
    with Lan(("a", "b", "c")) as lan, CliGroup(lan) as clis:
        run(lan, clis.start)


def run(lan, start):
    alice, bob, carol = start("a", "alice"), start("b", "bob"), start("c", "carol")
    t0 = time.monotonic()
    selves = {}
    for name, p in (("alice", alice), ("bob", bob), ("carol", carol)):
        s = p.call("getSelf")
        log(f"{name}: getSelf -> {s}")
        check(s.get("nick") == name, f"{name}: getSelf nick is {name}")
        check(len(s.get("fingerprint", "")) >= 32, f"{name}: getSelf has a fingerprint")
        selves[name] = s
    check(len({s["fingerprint"] for s in selves.values()}) == 3, "three different fingerprints")
    procs = {"alice": alice, "bob": bob, "carol": carol}
    fp = {n: s["fingerprint"] for n, s in selves.items()}
    inst = {n: s["instance"] for n, s in selves.items()}
    for n, h in (("alice", "a"), ("bob", "b"), ("carol", "c")):
        check(inst[n] == f"{n}@cw-{h}", f"{n} publishes the instance name given with --instance ({inst[n]})")

    # -- discovery: everyone sees the other two, secure, their keys not yet checked
    def good(name):
        return lambda v: (v.get("online") is True and v.get("fingerprint") == fp[name]
                          and v.get("trust") == "unchecked" and v.get("secure") is True
                          and v.get("instance") == inst[name] and v.get("nick") == name)
    for me, proc in procs.items():
        for other in procs:
            if other == me:
                continue
            v = wait_peer(proc, fp[other], good(other), DISCOVERY_S - (time.monotonic() - t0) + 1)
            check(v is not None and good(other)(v),
                  f"{me} lists {other} online, fingerprint from getSelf, unchecked, secure "
                  f"(after {time.monotonic() - t0:.1f}s; view {v})")
    log(f"discovery complete after {time.monotonic() - t0:.2f}s")

    # -- status change on b reaches a and c
    bob.call("setStatus", {"status": "away", "message": "lunch"})
    for me in ("alice", "carol"):
        try:
            n = procs[me].wait_notification(
                "peerChanged", lambda p: p.get("id") == fp["bob"] and p.get("status") == "away"
                and p.get("message") == "lunch", timeout=10)
        except RpcError as e:
            raise AssertionError(f"{me}: no peerChanged for bob away/lunch: {e}; "
                                 f"view now {find_peer(procs[me], fp['bob'])}")
        check(n["online"] is True, f"{me} gets peerChanged bob away \"lunch\" (online)")
    self_b = bob.call("getSelf")
    log(f"bob getSelf after setStatus: {self_b}")

    # -- a -> b by instance name
    body1 = "hello bob, pineapple pizza at noon?"
    r = alice.call("send", {"to": inst["bob"], "body": body1})
    check(isinstance(r, dict) and r.get("id"), f"alice send returns an id ({r})")
    m1 = r["id"]
    check(wait_state(alice, m1, "delivered", DELIVERY_S, interval=0.1), "alice sees her message delivered")
    st = message_states(alice, m1)
    check(st[0] == "queued" and "sent" in st and st[-1] == "delivered"
          and st.index("sent") < st.index("delivered"),
          f"alice's messageState sequence is queued, sent, delivered ({st})")
    to = [n.get("to") for n in alice.notifications("messageState") if n.get("id") == m1]
    check(set(to) == {fp["bob"]}, "messageState `to` is bob's contact id (his fingerprint)")
    got = bob.wait_notification("message", lambda p: p.get("body") == body1, timeout=5)
    check(got["from"] == fp["alice"], f"bob's message is from alice's id ({got['from']})")
    check(got["instance"] == inst["alice"], "bob's message names alice's instance")
    check(got["secure"] is True and got["trust"] == "pinned",
          f"bob's message is secure, trust pinned ({got})")
    check(got["id"] == m1, "the receiver keeps the sender's message id")

    # -- b -> a by fingerprint
    body2 = "sure, see you at the canteen"
    r = bob.call("send", {"to": fp["alice"], "body": body2})
    m2 = r["id"]
    check(wait_state(bob, m2, "delivered", DELIVERY_S, interval=0.1), "bob sees his reply delivered")
    st = message_states(bob, m2)
    check(st[0] == "queued" and "sent" in st and st[-1] == "delivered",
          f"bob's messageState sequence is queued, sent, delivered ({st})")
    got = alice.wait_notification("message", lambda p: p.get("body") == body2, timeout=5)
    check(got["from"] == fp["bob"] and got["secure"] is True and got["trust"] == "pinned",
          f"alice gets bob's reply from his id, secure, pinned ({got})")
    check(not carol.notifications("message"), "carol received nothing")

    # -- history on both sides
    for me, other, out_body, in_body in (("alice", "bob", body1, body2), ("bob", "alice", body2, body1)):
        h = procs[me].call("getHistory", {"peer": inst[other], "limit": 10})
        summary = [(m.get("direction"), m.get("body"), m.get("state")) for m in h]
        check(len(h) == 2, f"{me}'s history with {other} has 2 messages ({summary})")
        out_m = [m for m in h if m["direction"] == "out"]
        in_m = [m for m in h if m["direction"] == "in"]
        check(len(out_m) == 1 and out_m[0]["body"] == out_body and out_m[0]["state"] == "delivered",
              f"{me}: outgoing message in history, delivered")
        check(len(in_m) == 1 and in_m[0]["body"] == in_body and in_m[0]["secure"] is True,
              f"{me}: incoming message in history, secure")
        check(all(m["peer"] == fp[other] for m in h), f"{me}: history entries name {other}'s id")
        check(h[0]["body"] == body1 and h[1]["body"] == body2, f"{me}: history is oldest first")

    # -- search
    hits = alice.call("search", {"query": "pineapple"})
    check(any(m.get("body") == body1 for m in hits), f"alice's search finds 'pineapple' ({len(hits)} hits)")
    hits = bob.call("search", {"query": "canteen"})
    check(any(m.get("body") == body2 for m in hits), "bob's search finds 'canteen'")
    check(alice.call("search", {"query": "zebracrossing"}) == [], "search for an absent word finds nothing")

    # -- safety numbers
    sa = alice.call("getSafetyNumber", {"peer": inst["bob"]})
    sb = bob.call("getSafetyNumber", {"peer": inst["alice"]})
    log(f"safety numbers: alice {sa}, bob {sb}")
    check(sa["safetyNumber"] and sa["safetyNumber"] == sb["safetyNumber"],
          "getSafetyNumber is the same on both sides")
    sc = alice.call("getSafetyNumber", {"peer": inst["carol"]})
    check(sc["safetyNumber"] != sa["safetyNumber"], "the safety number with carol differs")

    # -- markVerified
    alice.call("markVerified", {"peer": inst["bob"]})
    n = alice.wait_notification("peerChanged", lambda p: p.get("id") == fp["bob"]
                                and p.get("trust") == "verified", timeout=5)
    check(n is not None, "markVerified: alice gets peerChanged bob trust verified")
    check(find_peer(alice, fp["bob"])["trust"] == "verified", "alice's listPeers shows bob verified")
    check(find_peer(alice, fp["carol"])["trust"] == "unchecked",
          "carol, never talked to, stays unchecked (her key was only announced)")

    # -- a message to a nonexistent peer is an error
    try:
        r = alice.call("send", {"to": "nobody@cw-z", "body": "hello?"})
    except RpcError as e:
        log(f"send to nobody@cw-z -> error {e.code}: {e.message}")
        check(isinstance(e.code, int) and e.code != -32001, "send to a nonexistent peer is a JSON-RPC error")
    else:
        raise AssertionError(f"send to a nonexistent peer succeeded: {r}")

    # -- carol quits cleanly: alice sees her gone
    t_quit = time.monotonic()
    try:
        carol.call("quit", timeout=5)
    except RpcError as e:
        log(f"quit: {e} (the process may exit before answering)")
    check(carol.wait(10) == 0, "carol exits with status 0 after quit")
    ok = run_until(lambda: seen_offline(alice, fp["carol"]), GONE_S)
    check(ok, f"alice sees carol gone (peerGone / online false) "
              f"after {time.monotonic() - t_quit:.2f}s")
    check(run_until(lambda: find_peer(alice, fp["carol"]) is None, 5),
          "alice no longer lists carol: only announced, never a word exchanged")
    check(find_peer(alice, fp["bob"])["online"] is True, "bob is still online for alice")


if __name__ == "__main__":
    main(test)
