#!/usr/bin/env python3
"""Chinwag survives its avahi-daemon going away and coming back.

Checks, with alice (chinwag-cli) on host a and bob on host b:
1. alice and bob list each other online.
2. a's avahi-daemon is SIGKILLed (no goodbye packets, the D-Bus client just
   loses its peer): alice keeps running and sends a `notice` kind "discovery"
   saying avahi is missing. bob, with whom a stream is open, stays online at
   alice's (never reported gone) and messages go both ways; when bob quits, his
   stream closes and alice shows him offline; bob starts again.
3. a's avahi-daemon starts again: alice sends a "discovery" notice that it is
   back, lists bob online again, republishes herself (b's avahi-browse
   resolves alice@cw-a from a's new daemon, bob lists her online), and a
   message a -> b and one b -> a are delivered.
4. alice quits (bob sees her leave); a's avahi-daemon is stopped; alice starts anyway, says so in
   a "discovery" notice, answers calls; once avahi-daemon starts she says it
   is back and discovers bob, bob sees her again, and a message a -> b is
   delivered.
On failure: the CLIs' stderr and the avahi-daemon logs.
"""

import re
import signal
import time

import testbed
from testbed import CliGroup, Lan, check, deliver, log, peer_online, run_until

ALICE = "alice@cw-a"
BOB = "bob@cw-b"
MISSING_RX = re.compile(r"not running|missing|lost|unavailable|cannot reach|waiting", re.I)
BACK_RX = re.compile(r"connected|running|back|available|reachable", re.I)


def wait_notice(rpc, rx, start, timeout):
    """The first "discovery" notice after index `start` whose detail matches rx,
    as (index, params), or (None, None)."""
    found = []

    def seen():
        notices = rpc.notifications("notice")
        for i in range(start, len(notices)):
            n = notices[i] or {}
            if n.get("kind") == "discovery" and rx.search(n.get("detail", "")):
                found.append((i, n))
                return True
        return False
    run_until(seen, timeout, 0.1)
    return found[0] if found else (None, None)


def offline_since(rpc, peer_id, marks):
    """rpc notified peerGone, or peerChanged with online false, for peer_id after `marks`
    (the counts of peerGone and peerChanged notifications taken before)."""
    gone, changed = marks
    return (any(p.get("id") == peer_id for p in rpc.notifications("peerGone")[gone:])
            or any(p.get("id") == peer_id and p.get("online") is False
                   for p in rpc.notifications("peerChanged")[changed:]))


def test():
    testbed.skip_unless_root()
    testbed.cli_path()
    with Lan(["a", "b"]) as lan, CliGroup(lan, on_exit="quit") as clis:
        a, b = lan["a"], lan["b"]
        b_browser = b.avahi_browse("_presence._tcp")
        alice = clis.start("a", "alice", instance=ALICE)
        bob = clis.start("b", "bob", instance=BOB)

        # 1. Both see each other.
        check(run_until(lambda: peer_online(alice, BOB, key="instance"), 20, 0.2), "alice lists bob online")
        check(run_until(lambda: peer_online(bob, ALICE, key="instance"), 20, 0.2), "bob lists alice online")
        deliver(alice, bob, BOB, "before the restart")
        # An idle stream must stay up (regression: GSocketClient's 5 s connect
        # timeout used to stay on the socket and kill it after 5 s of silence).
        time.sleep(6)
        check("timed out" not in alice.stderr_text(),
              "alice's stream to bob survives 6 s without traffic")

        # 2. avahi-daemon on a dies without a word.
        fb = bob.call("getSelf")["fingerprint"]
        marks = (len(alice.notifications("peerGone")), len(alice.notifications("peerChanged")))
        start = len(alice.notifications("notice"))
        t0 = time.monotonic()
        a.avahi_stop(signal.SIGKILL)
        i_missing, n = wait_notice(alice, MISSING_RX, start, 10)
        check(n is not None, f"alice says avahi is missing "
                             f"({time.monotonic() - t0:.2f}s): {n and n.get('detail')!r}")
        time.sleep(1)
        check(alice.alive(), "alice still runs without avahi-daemon")
        check(alice.call("getSelf").get("instance") == ALICE, "and answers getSelf")
        # bob did not go anywhere, and the stream to him is open: he stays online.
        check(not run_until(lambda: not peer_online(alice, BOB, key="instance"), 3, 0.2),
              "alice keeps listing bob online while her avahi-daemon is away (the stream to him is open)")
        check(not offline_since(alice, fb, marks), "alice never reported bob gone or offline")
        deliver(alice, bob, BOB, "while my avahi is away")
        deliver(bob, alice, ALICE, "bob answers while alice's avahi is away")
        # bob leaves while a's avahi is still away: his stream closes, so he is shown offline.
        bob.call("quit", timeout=5)
        check(bob.wait(10) == 0, "bob quits")
        check(run_until(lambda: not peer_online(alice, BOB, key="instance"), 15, 0.2),
              "once bob quits (his stream closes) alice shows him offline, avahi or not")
        bob = clis.start("b", "bob", instance=BOB)

        # 3. It comes back.
        t_restart = time.monotonic()
        a.avahi_start()
        i_back, n = wait_notice(alice, BACK_RX, i_missing + 1, 15)
        check(n is not None, f"alice says avahi is back "
                             f"({time.monotonic() - t_restart:.2f}s): {n and n.get('detail')!r}")
        check(run_until(lambda: peer_online(alice, BOB, key="instance"), 20, 0.2),
              f"alice lists bob online again ({time.monotonic() - t_restart:.2f}s)")

        def republished():
            for ev in b_browser.snapshot():
                if ev["name"] == ALICE and ev["event"] == "=" and ev["time"] >= t_restart:
                    return True
            return False
        # a's new daemon announces alice afresh; b's resolver may not report
        # unchanged data again, so a fresh resolve on b is the proof.
        def b_resolves_alice():
            r = b.run(["avahi-browse", "-r", "-p", "-t", "_presence._tcp"], timeout=15)
            return any(line.startswith("=") and len(line.split(";")) > 3
                       and testbed._unescape_dns(line.split(";")[3]) == ALICE
                       for line in r.stdout.splitlines())
        check(run_until(lambda: "published as" in alice.stderr_text().split(
                            "avahi-daemon is not running")[-1], 15, 0.2),
              f"alice logs that she published again ({time.monotonic() - t_restart:.2f}s)")
        check(run_until(b_resolves_alice, 15, 0.5),
              f"b's avahi resolves alice@cw-a after a's restart "
              f"({time.monotonic() - t_restart:.2f}s)")
        log(f"b's long-running browser saw a fresh '=' for alice: {republished()}")
        check(run_until(lambda: peer_online(bob, ALICE, key="instance"), 20, 0.2), "bob lists alice online")
        deliver(alice, bob, BOB, "after the restart")
        deliver(bob, alice, ALICE, "bob answers after the restart")

        # 4. alice starts while avahi-daemon is stopped.
        alice.call("quit", timeout=5)
        check(alice.wait(10) == 0, "alice quits with status 0")
        check(run_until(lambda: not peer_online(bob, ALICE, key="instance"), 10, 0.2),
              "bob sees alice leave (her record is withdrawn)")
        a.avahi_stop(signal.SIGTERM)
        t0 = time.monotonic()
        alice = clis.start("a", "alice", instance=ALICE)
        me = alice.call("getSelf", timeout=15)
        check(me.get("instance") == ALICE,
              f"alice starts without avahi-daemon and answers getSelf ({time.monotonic() - t0:.2f}s)")
        i_missing, n = wait_notice(alice, MISSING_RX, 0, 10)
        check(n is not None, f"alice says avahi is missing: {n and n.get('detail')!r}")
        time.sleep(1)
        check(alice.alive(), "alice keeps running")
        check(not peer_online(alice, BOB, key="instance"), "bob is not listed online while avahi is missing")
        t0 = time.monotonic()
        a.avahi_start()
        i_back, n = wait_notice(alice, BACK_RX, i_missing + 1, 15)
        check(n is not None, f"alice says avahi is back: {n and n.get('detail')!r}")
        check(run_until(lambda: peer_online(alice, BOB, key="instance"), 20, 0.2),
              f"alice discovers bob ({time.monotonic() - t0:.2f}s after avahi started)")
        check(run_until(lambda: peer_online(bob, ALICE, key="instance"), 20, 0.2),
              "bob sees alice again once she is published")
        deliver(alice, bob, BOB, "after a cold start without avahi")
        for p in clis.procs:
            if p.alive():
                check(p.call("getSelf") is not None, f"{p.name} answers")


if __name__ == "__main__":
    testbed.main(test)
