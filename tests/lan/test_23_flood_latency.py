#!/usr/bin/env python3
"""A flood of bogus announcements and slow connections does not slow a conversation.

test_15_bad_input checks each attack alone, then that messages still get
through. This one runs them all at once, while alice (host a) and bob (host
b) keep chatting, and measures what the users feel:
- 200 `_presence._tcp` announcements from host c, every one with garbage TXT
  (binary bytes, items without '=', a bad cw-fp, 300 items, a wrong port),
- 5 connections to alice's port that each send one byte a second,
- meanwhile alice -> bob round trips (send -> `delivered`) every 50 ms.
Checks: every message during the flood is delivered, in order; the round-trip
median during the flood stays under 3x the quiet median + 20 ms and no round
trip takes over 2 s; alice closes every slow connection within 20 s; alice's
VmRSS stays under 2x + 20 MB of the quiet value, and drops back to under
1.5x + 10 MB within 60 s of the flood ending (no growth kept per bogus name).
On failure: the CLIs' stderr and the avahi logs.
"""

import statistics
import threading
import time

from testbed import CliGroup, Lan, check, check_bound, log, main, peer_online, rss_kb, run_until, trickle, wait_state

ALICE, BOB = "alice@cw-a", "bob@cw-b"
N_BOGUS = 200
N_SLOW = 5


def garbage_txt(i):
    kinds = [
        ["txtvers=1", f"nick=\udcff\udcfe\x01bin{i}", "\udc80\udc81\x7f", "port.p2pj=5298"],
        ["noequals", "alsonone", "txtvers", "=emptykey"],
        ["txtvers=1", "port.p2pj=5298", "cw-fp=zzz"],
        [f"k{j}=v{j}" for j in range(300)],
        ["txtvers=1", "port.p2pj=99999999", "status=\udcff"],
    ]
    return kinds[i % len(kinds)]


def round_trips(alice, bob_fp, stop, out, errors):
    """alice -> bob, one message every 50 ms; out gets (body, ms or None)."""
    i = 0
    while not stop.is_set():
        body = f"flood rt {i:04d}"
        t0 = time.monotonic()
        try:
            mid = alice.call("send", {"to": bob_fp, "body": body})["id"]
            ok = run_until(lambda: any(n.get("id") == mid and n.get("state") == "delivered"
                                       for n in alice.notifications("messageState")[-50:]), 5, 0.002)
            out.append((body, (time.monotonic() - t0) * 1000 if ok else None))
        except Exception as e:
            errors.append(e)
            return
        i += 1
        time.sleep(0.05)


def slow_loris(c, addr, port, results, idx):
    t0 = time.monotonic()
    try:
        s = c.connect(addr, port, timeout=5)
    except OSError as e:
        results[idx] = f"connect failed: {e}"
        return
    data = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' from='x@cw-c' to='alice@cw-a'>"
    closed_at, n_sent = trickle(s, data, t0, give_up=30)
    results[idx] = closed_at if closed_at is not None else f"still open after {n_sent} bytes"
    s.close()


def test():
    with Lan(("a", "b", "c")) as lan, CliGroup(lan, on_exit="quit") as clis:
        c = lan["c"]
        browser = c.avahi_browse("_presence._tcp")
        alice = clis.start("a", "alice", instance=ALICE)
        bob = clis.start("b", "bob", instance=BOB)
        fa, fb = alice.call("getSelf")["fingerprint"], bob.call("getSelf")["fingerprint"]
        check(run_until(lambda: peer_online(alice, fb) and peer_online(bob, fa), 20, 0.2), "alice and bob meet")
        ev = browser.wait_resolved(ALICE, 10, proto="IPv4")
        check(ev is not None, "c resolves alice's port")

        # Quiet: 40 round trips.
        stop, quiet, errors = threading.Event(), [], []
        t = threading.Thread(target=round_trips, args=(alice, fb, stop, quiet, errors))
        t.start()
        run_until(lambda: len(quiet) >= 40 or errors, 30, 0.1)
        stop.set()
        t.join(10)
        check(not errors and all(ms is not None for _, ms in quiet), "quiet: every message delivered")
        q50 = statistics.median(ms for _, ms in quiet)
        rss0 = rss_kb(alice.proc.pid)
        log(f"quiet: round trip median {q50:.1f} ms over {len(quiet)}; alice VmRSS {rss0} kB")

        # The flood.
        stop, loud, errors = threading.Event(), [], []
        t = threading.Thread(target=round_trips, args=(alice, fb, stop, loud, errors))
        t.start()
        t_flood = time.monotonic()
        slow = {}
        slow_threads = [threading.Thread(target=slow_loris, args=(c, ev["address"], ev["port"], slow, k),
                                         daemon=True) for k in range(N_SLOW)]
        for st in slow_threads:
            st.start()
        # The mDNS floor on alice's host: what avahi itself still believes after the flood.
        floor = lan["a"].avahi_browse()
        pubs = [c.avahi_publish(f"bogus-{i:03d}@cw-c", "_presence._tcp", 5298, garbage_txt(i), wait=False)
                for i in range(N_BOGUS)]
        rss_peak = rss0
        while time.monotonic() - t_flood < 25 and not errors:
            rss_peak = max(rss_peak, rss_kb(alice.proc.pid))
            time.sleep(0.5)
        alive_pubs = sum(1 for p in pubs if p.poll() is None)
        stop.set()
        t.join(10)
        for st in slow_threads:
            st.join(10)
        log(f"flood: {alive_pubs} of {N_BOGUS} avahi-publish still running at the end; "
            f"{len(loud)} round trips; peak VmRSS {rss_peak} kB")
        check(not errors, f"alice answered every call during the flood ({errors[:1]})")
        check(alice.alive() and bob.alive(), "alice and bob still run")
        lost = [b for b, ms in loud if ms is None]
        check(not lost, f"every message during the flood delivered ({len(lost)} not within 5 s)")
        times = [ms for _, ms in loud]
        f50 = statistics.median(times)
        check(len(times) >= 50, f"the conversation went on ({len(times)} round trips in 25 s)")
        check_bound(f50 <= 3 * q50 + 20, f"round-trip median during the flood {f50:.1f} ms <= 3x quiet "
                                   f"{q50:.1f} ms + 20 ms")
        check_bound(max(times) <= 2000, f"slowest round trip during the flood {max(times):.0f} ms <= 2 s")
        h = bob.call("getHistory", {"peer": fa, "limit": 1000})
        got = [m["body"] for m in h if m["body"].startswith("flood rt")]
        check(got == [b for b, _ in quiet] + [b for b, _ in loud],
              "bob's history holds every message once, in order")
        check(all(isinstance(v, float) and v <= 20 for v in slow.values()) and len(slow) == N_SLOW,
              f"alice closed every slow connection within 20 s "
              f"({[round(v, 1) if isinstance(v, float) else v for _, v in sorted(slow.items())]})")
        check_bound(rss_peak < 2 * rss0 + 20 * 1024, f"alice's peak VmRSS {rss_peak} kB < 2x + 20 MB of {rss0} kB")

        for p in pubs:
            if p.poll() is None:
                p.kill()
        for p in pubs:
            p.wait(5)
        bogus_online = lambda: [p["instance"] for p in alice.call("listPeers")
                                if p.get("instance", "").startswith("bogus-") and p.get("online")]
        # 200 publishers killed at once send 200 goodbyes; on a loaded machine avahi may lose
        # some, and then its own cache keeps those records until their TTL (SRV 120 s, PTR 75 min).
        # Alice must follow avahi: every bogus peer she still lists, avahi still has too.
        avahi_still = lambda: {n for n in floor.names() if n.startswith("bogus-")}
        settled = {"set": None, "since": time.monotonic()}

        def avahi_settled():  # avahi's own view has stopped changing for 5 s
            now = avahi_still()
            if now != settled["set"]:
                settled.update(set=now, since=time.monotonic())
            return time.monotonic() - settled["since"] >= 5
        run_until(avahi_settled, 60, 1.0)
        if not run_until(lambda: set(bogus_online()) <= avahi_still(), 10, 0.5):
            beyond = sorted(set(bogus_online()) - avahi_still())
            for name in beyond[:5]:
                log(f"avahi-browse on a saw for {name}: " +
                    ", ".join(f"{ev['event']}{ev['proto']}" for ev in floor.snapshot() if ev["name"] == name))
            check(False, f"after the flood alice lists online only bogus peers avahi itself still has "
                         f"(alice: {beyond[:5]} beyond avahi)")
        log(f"bogus peers avahi itself still had once settled (goodbyes lost): {len(avahi_still())}")
        floor.stop()
        rss_back = run_until(lambda: rss_kb(alice.proc.pid) < 1.5 * rss0 + 10 * 1024, 30, 1.0)
        check_bound(rss_back, f"after the flood alice's VmRSS is back to {rss_kb(alice.proc.pid)} kB "
                              f"(< 1.5x + 10 MB of {rss0} kB)")
        mid = bob.call("send", {"to": fa, "body": "after the flood"})["id"]
        check(wait_state(bob, mid, "delivered", 15), "bob -> alice works")


if __name__ == "__main__":
    main(test)
