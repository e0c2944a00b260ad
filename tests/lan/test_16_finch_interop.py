#!/usr/bin/env python3
"""Chinwag (chinwag-cli jsonrpc) and finch (libpurple Bonjour) talk in plaintext.

Checks, with alice (chinwag-cli) on host a and finch signed on as bob@cw-c on c:
1. alice lists bob@cw-c as a legacy peer: id "legacy:bob@cw-c", fingerprint
   null, trust "legacy", secure false, online true.
2. finch lists alice@cw-a as an online buddy (it resolved her record).
3. alice -> finch: finch shows the message; alice's messageState never says
   "failed" (a legacy stream is plaintext without TLS: PRODUCT.md legacy interop).
4. finch -> alice: a `message` notification with secure false, trust
   "legacy", from "legacy:bob@cw-c" and the plain <body> intact (finch also
   sends an XHTML-IM copy and a jabber:x:event request; those must not leak
   into the body).
5. after 6 s without traffic both directions still work on the same stream.
6. a second finch, carol@cw-b on host b, writes first: finch dials alice
   (over IPv6 link-local) and alice admits the plaintext stream because its
   source address is one carol announced; the message arrives as in 4, and
   alice's answer reaches carol.
On failure: alice's stderr and the finches' screens, debug and chat logs.
"""

import time

import testbed
from testbed import Lan, RpcError, check, find_peer, log, peer_online, quit_or_kill, run_until, start_cli
from finch_peer import FinchPeer

ALICE = "alice@cw-a"
BOB = "bob@cw-c"


def test():
    testbed.skip_unless_root()
    testbed.cli_path()
    with Lan(["a", "b", "c"]) as lan:
        a, b, c = lan["a"], lan["b"], lan["c"]
        finch = FinchPeer(c, user="bob", first="Bob")
        carol = FinchPeer(b, user="carol", first="Carol")
        alice = None
        try:
            finch.start()
            carol.start()
            finch.wait_ready()
            carol.wait_ready()
            check(finch.account == BOB, f"finch signed on as {finch.account}")
            alice = start_cli(a, lan.path("alice"), "alice", ["--instance", ALICE])
            me = alice.call("getSelf")
            check(me.get("instance") == ALICE, f"alice runs as {me.get('instance')}")

            # 1. finch is listed as a legacy peer.
            t0 = time.monotonic()
            found = []

            def bob_online():
                p = find_peer(alice, BOB, key="instance")
                if p and p.get("online"):
                    found.append(p)
                    return True
                return False
            check(run_until(bob_online, 20, 0.25),
                  f"alice lists {BOB} online after {time.monotonic() - t0:.2f}s")
            p = found[-1]
            log(f"peer: {p}")
            check(p.get("id") == f"legacy:{BOB}", f"its id is legacy:{BOB} ({p.get('id')})")
            check("fingerprint" in p and p["fingerprint"] is None,
                  f"its fingerprint is null ({p.get('fingerprint')!r})")
            check(p.get("trust") == "legacy", f"its trust is legacy ({p.get('trust')})")
            check(p.get("secure") is False, f"secure is false ({p.get('secure')})")
            check(p.get("online") is True, "online is true")

            # 2. finch sees alice.
            check(run_until(lambda: finch.buddy_online(ALICE), 20, 0.3),
                  f"finch lists {ALICE} as an online buddy")

            # 3. alice -> finch.
            text1 = "hello finch, this is alice"
            sent = alice.call("send", {"to": BOB, "body": text1})
            check(isinstance(sent, dict) and sent.get("id"), f"send returned id {sent}")
            check(run_until(lambda: finch.received(text1), 20, 0.2),
                  "finch shows alice's message")
            states = [s for s in alice.notifications("messageState") if s.get("id") == sent["id"]]
            log(f"messageState for it: {[s.get('state') for s in states]}")
            check(not any(s.get("state") == "failed" for s in states),
                  "alice never reported it failed")
            check(run_until(lambda: any(s.get("id") == sent["id"] and s.get("state") in ("sent", "delivered")
                                        for s in alice.notifications("messageState")), 5),
                  "alice reports it sent")

            # 4. finch -> alice.
            text2 = "hi alice, finch here: 1 < 2 and caf\u00e9"
            finch.send(ALICE, text2.replace("<", "&lt;"))   # libpurple takes HTML markup
            try:
                m = alice.wait_notification("message", lambda q: q.get("from") == f"legacy:{BOB}", 20)
            except RpcError as e:
                raise AssertionError(f"no message notification from finch: {e}")
            log(f"message: {m}")
            check(m.get("body") == text2, f"the body is intact: {m.get('body')!r}")
            check(m.get("secure") is False, "secure is false")
            check(m.get("trust") == "legacy", f"trust is legacy ({m.get('trust')})")
            check(m.get("instance") == BOB, f"instance is {BOB} ({m.get('instance')})")
            hist = alice.call("getHistory", {"peer": BOB, "limit": 10})
            bodies = [h.get("body") for h in hist]
            check(text1 in bodies and text2 in bodies, f"history with {BOB} has both messages")

            # 5. The stream stays usable after a quiet spell.
            time.sleep(6)
            text3 = "still there, finch?"
            sent3 = alice.call("send", {"to": BOB, "body": text3})
            check(run_until(lambda: finch.received(text3), 15, 0.2),
                  "after 6 s idle finch still gets alice's message")
            text4 = "yes, still here"
            finch.send(ALICE, text4)
            try:
                m = alice.wait_notification("message", lambda q: q.get("body") == text4, 15)
            except RpcError as e:
                raise AssertionError(f"finch's second message did not arrive: {e}")
            check(m.get("from") == f"legacy:{BOB}", "and alice gets finch's answer")
            check(not any(s.get("id") == sent3["id"] and s.get("state") == "failed"
                          for s in alice.notifications("messageState")), "nothing failed")

            # 6. A finch that writes first: an incoming legacy stream.
            CAROL = carol.account
            check(run_until(lambda: carol.buddy_online(ALICE), 20, 0.3),
                  f"{CAROL} lists alice online")
            check(run_until(lambda: peer_online(alice, CAROL, key="instance"), 20, 0.25),
                  f"alice lists {CAROL} online")
            off = len(alice.stderr_text())
            text5 = "hello alice, carol writes first"
            carol.send(ALICE, text5)
            try:
                m = alice.wait_notification("message", lambda q: q.get("body") == text5, 20)
            except RpcError as e:
                raise AssertionError(f"carol's message did not arrive: {e}")
            check(m.get("from") == f"legacy:{CAROL}" and m.get("secure") is False
                  and m.get("trust") == "legacy", f"it comes from legacy:{CAROL}, plaintext, legacy trust")
            check(f"accepted {CAROL}" in alice.stderr_text()[off:],
                  "alice logs that she accepted carol's stream: " +
                  " ".join(ln for ln in alice.stderr_text()[off:].splitlines() if CAROL in ln))
            text6 = "hi carol"
            alice.call("send", {"to": CAROL, "body": text6})
            check(run_until(lambda: carol.received(text6), 15, 0.2), "carol gets alice's answer")
            check(alice.alive(), "alice still runs")
        except BaseException:
            if alice:
                alice.dump_logs()
            finch.dump_logs()
            carol.dump_logs()
            raise
        finally:
            if alice and alice.alive():
                quit_or_kill(alice, timeout=5)
            finch.stop()
            carol.stop()


if __name__ == "__main__":
    testbed.main(test)
