#!/usr/bin/env python3
"""The outbox survives restarts and delivers exactly once, in order.

Part 1: alice and bob meet and alice marks bob verified (so he stays her contact after he
leaves; a peer only announced would not); bob quits; alice sends 3 messages
to bob by instance name -> state queued; alice is SIGKILLed and restarted with
the same profile: the 3 messages are still pending (queued); bob starts again:
all 3 are delivered exactly once (bob's history has each once, in order) and
alice sees messageState delivered for each.

Part 2: alice sends a burst of 50 messages; bob (the receiver) is SIGKILLed
part-way through and restarted: in the end every message is delivered exactly
once and in order (bob's history), and alice's history shows all 50 delivered.
"""

import threading
import time

from testbed import (CliGroup, Lan, RpcError, check, log, main, message_states, run_until,
                     state_seen, wait_online)

MEET_S = 15
DELIVERY_S = 30
BURST = 50


def test():
    with Lan(("a", "b")) as lan, CliGroup(lan) as clis:
        run(clis.start)


def run(start):
    alice, bob = start("a", "alice"), start("b", "bob")
    fa, fb = alice.call("getSelf")["fingerprint"], bob.call("getSelf")["fingerprint"]
    bob_inst = bob.call("getSelf")["instance"]
    check(wait_online(alice, fb, True, MEET_S), "alice sees bob online")
    check(wait_online(bob, fa, True, MEET_S), "bob sees alice online")
    alice.call("markVerified", {"peer": fb})  # marked: bob stays a contact after he leaves

    # ---------------- part 1: queued while bob is away, alice restarts in between
    bob.call("quit")
    check(bob.wait(10) == 0, "bob quits cleanly")
    check(wait_online(alice, fb, False, 10), "alice sees bob offline")

    bodies = [f"outbox message {i} while you were out" for i in range(1, 4)]
    ids = []
    for b in bodies:
        r = alice.call("send", {"to": bob_inst, "body": b})
        ids.append(r["id"])
    # Notifications raised during a call are written after its response: wait for them.
    for mid in ids:
        check(run_until(lambda: any(n.get("id") == mid and n.get("state") == "queued" and n.get("to") == fb
                                    for n in alice.notifications("messageState")), 5),
              f"alice: messageState queued for {mid} (to bob's id)")
    time.sleep(1.0)
    later = [n for n in alice.notifications("messageState") if n.get("id") in ids and n.get("state") != "queued"]
    check(not later, f"nothing leaves the queued state while bob is away ({later})")

    alice.kill()
    alice.wait(10)
    log("alice SIGKILLed; restarting with the same profile")
    alice = start("a", "alice")
    check(alice.call("getSelf")["fingerprint"] == fa, "alice keeps her identity after the restart")
    h = alice.call("getHistory", {"peer": bob_inst, "limit": 10})
    check([m["id"] for m in h] == ids and all(m["state"] == "queued" for m in h),
          f"after the restart alice's 3 messages are still queued, in order "
          f"({[(m['id'], m['state']) for m in h]})")

    t_bob = time.monotonic()
    bob = start("b", "bob")
    ok = run_until(lambda: all(state_seen(alice, mid, "delivered") for mid in ids), DELIVERY_S)
    check(ok, f"alice sees messageState delivered for all 3 after bob returns "
              f"({time.monotonic() - t_bob:.1f}s; states "
              f"{[(n['id'], n['state']) for n in alice.notifications('messageState')]})")
    hb = bob.call("getHistory", {"peer": fa, "limit": 100})
    check([m["body"] for m in hb] == bodies, f"bob's history holds each message once, in order "
                                             f"({[m['body'] for m in hb]})")
    check([m["id"] for m in hb] == ids, "bob's history keeps alice's message ids")
    # The receipt leaves before the `message` notification is written: allow it a moment.
    run_until(lambda: len(bob.notifications("message")) >= len(bodies), 5)
    time.sleep(0.3)
    got = [n["body"] for n in bob.notifications("message")]
    check(got == bodies, f"bob got one `message` notification per message, in order ({got})")
    h = alice.call("getHistory", {"peer": bob_inst, "limit": 10})
    check(all(m["state"] == "delivered" for m in h), "alice's history shows the 3 delivered")

    # ---------------- part 2: receiver SIGKILLed in the middle of a burst
    burst = [f"burst {i:02d}" for i in range(BURST)]
    burst_ids = []
    errors = []

    def sender():
        # One request after the other from a thread, so bob can be killed while it runs.
        try:
            for b in burst:
                burst_ids.append(alice.call("send", {"to": fb, "body": b})["id"])
        except BaseException as e:  # reported by the main thread
            errors.append(e)
    t = threading.Thread(target=sender)
    t.start()
    run_until(lambda: len(bob.notifications("message")) >= len(bodies) + 10, 10, interval=0.005)
    bob.kill()
    sent_at_kill = len(burst_ids)
    t.join(30)
    check(not errors and len(burst_ids) == BURST, f"alice accepted all {BURST} sends ({errors})")
    bob.wait(10)
    seen_before = len(bob.notifications("message")) - len(bodies)
    log(f"bob SIGKILLed after receiving {seen_before} of the burst "
        f"(alice had accepted {sent_at_kill} sends); restarting him")
    bob = start("b", "bob")

    def all_delivered():
        done = {n["id"] for n in alice.notifications("messageState") if n.get("state") == "delivered"}
        return all(mid in done for mid in burst_ids)
    t1 = time.monotonic()
    ok = run_until(all_delivered, DELIVERY_S, interval=0.2)
    done = {n["id"] for n in alice.notifications("messageState") if n.get("state") == "delivered"}
    check(ok, f"alice sees all {BURST} burst messages delivered "
              f"({len([m for m in burst_ids if m in done])} after {time.monotonic() - t1:.1f}s)")
    hb = bob.call("getHistory", {"peer": fa, "limit": 1000})
    got = [m["body"] for m in hb]
    dups = sorted({b for b in got if got.count(b) > 1})
    check(not dups, f"bob has no duplicate ({dups})")
    want = bodies + burst
    first_diff = next((i for i, (x, y) in enumerate(zip(got, want)) if x != y), min(len(got), len(want)))
    check(got == want, f"bob's history has every message exactly once, in order "
                       f"({len(got)} entries; first difference at index {first_diff}: "
                       f"{got[first_diff:first_diff + 3]} vs {want[first_diff:first_diff + 3]})")
    check([m["id"] for m in hb][len(bodies):] == burst_ids, "bob's history keeps the burst's ids")
    ha = alice.call("getHistory", {"peer": fb, "limit": 1000})
    check(len(ha) == len(bodies) + BURST and all(m["state"] == "delivered" for m in ha),
          "alice's history shows every message delivered")
    # Delivered never goes back to sent/queued.
    for mid in burst_ids:
        st = message_states(alice, mid)
        if "delivered" in st:
            check_after = st[st.index("delivered") + 1:]
            if check_after:
                raise AssertionError(f"{mid}: state changed after delivered: {st}")
    log("ok: no message changes state after delivered")
    try:
        alice.call("quit")
        bob.call("quit")
    except RpcError:
        pass


if __name__ == "__main__":
    main(test)
