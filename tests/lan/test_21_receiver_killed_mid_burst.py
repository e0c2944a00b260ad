#!/usr/bin/env python3
"""The receiver SIGKILLed in the middle of a 1,000-message burst loses nothing.

alice (host a) sends 1,000 messages to bob (host b) back to back (JSON-RPC
requests written without waiting for the answers), and carol (host c) sends
600 at the same time. bob is SIGKILLed when about 300 of alice's have reached
him and restarted with the same profile. Checks: every message of both
senders ends `delivered` at its sender; bob's history with each sender holds
each message exactly once and in the order it was sent (nothing lost, nothing
duplicated, order kept per sender); bob's unread counts match and markRead
clears one sender's; bob is still serviceable afterwards.
(test_11_outbox does the same with 50 messages and one sender.)
On failure: the CLIs' stderr and the avahi logs.
"""

import json
import threading
import time

from testbed import CliGroup, Lan, check, log, main, peer_online, run_until, wait_state

N_ALICE = 1000
N_CAROL = 600


def burst(sender, to, bodies):
    """Writes one `send` request per body without waiting; returns the writer thread."""
    lines = "".join(json.dumps({"jsonrpc": "2.0", "id": f"burst-{i}", "method": "send",
                                "params": {"to": to, "body": b}}) + "\n" for i, b in enumerate(bodies))

    def write():
        with sender._write_lock:
            sender.proc.stdin.write(lines)
            sender.proc.stdin.flush()
    t = threading.Thread(target=write)
    t.start()
    return t


def sent_ids(sender, n):
    """The ids the sender gave its burst's requests (from the JSON-RPC responses)."""
    ids = []
    for i in range(n):
        r = sender._responses.get(f"burst-{i}")
        ids.append(r and (r.get("result") or {}).get("id"))
    return ids


def delivered_count(sender, ids):
    done = {n["id"] for n in sender.notifications("messageState") if n.get("state") == "delivered"}
    return sum(1 for i in ids if i in done)


def test():
    with Lan(("a", "b", "c")) as lan, CliGroup(lan) as clis:
        run(clis.start)


def run(start):
    alice, bob, carol = start("a", "alice"), start("b", "bob"), start("c", "carol")
    fa, fb, fc = (p.call("getSelf")["fingerprint"] for p in (alice, bob, carol))
    check(run_until(lambda: peer_online(alice, fb) and peer_online(carol, fb) and peer_online(bob, fa)
                    and peer_online(bob, fc), 25, 0.2), "alice, bob and carol meet")
    a_bodies = [f"alice {i:04d}" for i in range(N_ALICE)]
    c_bodies = [f"carol {i:04d}" for i in range(N_CAROL)]
    ta = burst(alice, fb, a_bodies)
    tc = burst(carol, fb, c_bodies)

    def from_alice():
        return sum(1 for n in bob.notifications("message") if n.get("from") == fa)
    run_until(lambda: from_alice() >= 300, 60, 0.01)
    got_before = from_alice()
    bob.kill()
    bob.wait(10)
    log(f"bob SIGKILLed after {got_before} of alice's and "
        f"{sum(1 for n in bob.notifications('message') if n.get('from') == fc)} of carol's messages")
    check(got_before < N_ALICE, "bob died in the middle of the burst")
    ta.join(30)
    tc.join(30)
    check(run_until(lambda: all(sent_ids(alice, N_ALICE)) and all(sent_ids(carol, N_CAROL)), 60, 0.2),
          "alice and carol accepted every send")
    a_ids, c_ids = sent_ids(alice, N_ALICE), sent_ids(carol, N_CAROL)
    t_restart = time.monotonic()
    bob = start("b", "bob")
    ok = run_until(lambda: delivered_count(alice, a_ids) == N_ALICE and delivered_count(carol, c_ids) == N_CAROL,
                   90, 0.5)
    check(ok, f"every message ends delivered ({delivered_count(alice, a_ids)}/{N_ALICE} from alice, "
              f"{delivered_count(carol, c_ids)}/{N_CAROL} from carol, "
              f"{time.monotonic() - t_restart:.1f}s after bob's restart)")
    for sender, fp, bodies, ids in ((alice, fa, a_bodies, a_ids), (carol, fc, c_bodies, c_ids)):
        h = bob.call("getHistory", {"peer": fp, "limit": 5000})
        got = [m["body"] for m in h]
        dups = len(got) - len(set(got))
        missing = [b for b in bodies if b not in set(got)]
        check(dups == 0, f"no duplicates from {sender.name} in bob's history ({dups})")
        check(not missing, f"nothing from {sender.name} lost ({len(missing)} missing, e.g. {missing[:3]})")
        check(got == bodies, f"bob's history keeps {sender.name}'s order")
        check([m["id"] for m in h] == ids, f"bob's history keeps {sender.name}'s message ids")
        sh = sender.call("getHistory", {"peer": fb, "limit": 5000})
        check(all(m["state"] == "delivered" for m in sh), f"{sender.name}'s own history shows all delivered")
        view = next(p for p in bob.call("listPeers") if p["id"] == fp)
        check(view["unread"] == len(bodies), f"bob counts {len(bodies)} unread from {sender.name} ({view['unread']})")
    bob.call("markRead", {"peer": fa})
    check(next(p for p in bob.call("listPeers") if p["id"] == fa)["unread"] == 0, "markRead clears alice's count")
    check(next(p for p in bob.call("listPeers") if p["id"] == fc)["unread"] == N_CAROL, "and leaves carol's")
    mid = bob.call("send", {"to": fa, "body": "still here"})["id"]
    check(wait_state(bob, mid, "delivered", 15),
          "bob, restarted, sends and gets a receipt")
    for p in (alice, bob, carol):
        p.call("quit", timeout=20)
        check(p.wait(15) == 0, f"{p.name} quits cleanly")


if __name__ == "__main__":
    main(test)
