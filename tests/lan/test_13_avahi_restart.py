#!/usr/bin/env python3
"""Chinwag survives its avahi-daemon going away and coming back.

Checks, with alice (chinwag-cli) on host a and bob on host b:
1. alice and bob list each other online.
2. a's avahi-daemon is SIGKILLed (no goodbye packets, the D-Bus client just
   loses its peer): alice keeps running and sends a `notice` kind "discovery"
   saying avahi is missing.
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
from testbed import Lan, log, run_until, start_cli, RpcError

ALICE = "alice@cw-a"
BOB = "bob@cw-b"
MISSING_RX = re.compile(r"not running|missing|lost|unavailable|cannot reach|waiting", re.I)
BACK_RX = re.compile(r"connected|running|back|available|reachable", re.I)


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    log(f"ok: {what}")


def find_peer(rpc, instance):
    for p in rpc.call("listPeers") or []:
        if p.get("instance") == instance:
            return p
    return None


def online(rpc, instance):
    p = find_peer(rpc, instance)
    return bool(p and p.get("online"))


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


def deliver(sender, receiver, to, body, timeout=20):
    """sender sends body to `to`; receiver must get it; sender must see it delivered."""
    t0 = time.monotonic()
    sent = sender.call("send", {"to": to, "body": body})
    try:
        receiver.wait_notification("message", lambda p: p.get("body") == body, timeout)
    except RpcError as e:
        raise AssertionError(f"{receiver.name} did not get {body!r}: {e}")
    check(run_until(lambda: any(s.get("id") == sent["id"] and s.get("state") == "delivered"
                                for s in sender.notifications("messageState")), 10),
          f"{sender.name} -> {receiver.name} delivered {body!r} in {time.monotonic() - t0:.2f}s")


def test():
    testbed.skip_unless_root()
    testbed.cli_path()
    with Lan(["a", "b"]) as lan:
        a, b = lan["a"], lan["b"]
        procs = []
        try:
            b_browser = b.avahi_browse("_presence._tcp")
            alice = start_cli(a, lan.path("alice"), "alice", ["--instance", ALICE])
            procs.append(alice)
            bob = start_cli(b, lan.path("bob"), "bob", ["--instance", BOB])
            procs.append(bob)

            # 1. Both see each other.
            check(run_until(lambda: online(alice, BOB), 20, 0.2), "alice lists bob online")
            check(run_until(lambda: online(bob, ALICE), 20, 0.2), "bob lists alice online")
            deliver(alice, bob, BOB, "before the restart")
            # An idle stream must stay up (regression: GSocketClient's 5 s connect
            # timeout used to stay on the socket and kill it after 5 s of silence).
            time.sleep(6)
            check("timed out" not in alice.stderr_text(),
                  "alice's stream to bob survives 6 s without traffic")

            # 2. avahi-daemon on a dies without a word.
            start = len(alice.notifications("notice"))
            t0 = time.monotonic()
            a.avahi_stop(signal.SIGKILL)
            i_missing, n = wait_notice(alice, MISSING_RX, start, 10)
            check(n is not None, f"alice says avahi is missing "
                                 f"({time.monotonic() - t0:.2f}s): {n and n.get('detail')!r}")
            time.sleep(1)
            check(alice.alive(), "alice still runs without avahi-daemon")
            check(alice.call("getSelf").get("instance") == ALICE, "and answers getSelf")
            log(f"bob on a while avahi is down: online={online(alice, BOB)}")

            # 3. It comes back.
            t_restart = time.monotonic()
            a.avahi_start()
            i_back, n = wait_notice(alice, BACK_RX, i_missing + 1, 15)
            check(n is not None, f"alice says avahi is back "
                                 f"({time.monotonic() - t_restart:.2f}s): {n and n.get('detail')!r}")
            check(run_until(lambda: online(alice, BOB), 20, 0.2),
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
            check(run_until(lambda: online(bob, ALICE), 20, 0.2), "bob lists alice online")
            deliver(alice, bob, BOB, "after the restart")
            deliver(bob, alice, ALICE, "bob answers after the restart")

            # 4. alice starts while avahi-daemon is stopped.
            alice.call("quit", timeout=5)
            check(alice.wait(10) == 0, "alice quits with status 0")
            check(run_until(lambda: not online(bob, ALICE), 10, 0.2),
                  "bob sees alice leave (her record is withdrawn)")
            a.avahi_stop(signal.SIGTERM)
            t0 = time.monotonic()
            alice = start_cli(a, lan.path("alice"), "alice", ["--instance", ALICE])
            procs.append(alice)
            me = alice.call("getSelf", timeout=15)
            check(me.get("instance") == ALICE,
                  f"alice starts without avahi-daemon and answers getSelf ({time.monotonic() - t0:.2f}s)")
            i_missing, n = wait_notice(alice, MISSING_RX, 0, 10)
            check(n is not None, f"alice says avahi is missing: {n and n.get('detail')!r}")
            time.sleep(1)
            check(alice.alive(), "alice keeps running")
            check(not online(alice, BOB), "bob is not listed online while avahi is missing")
            t0 = time.monotonic()
            a.avahi_start()
            i_back, n = wait_notice(alice, BACK_RX, i_missing + 1, 15)
            check(n is not None, f"alice says avahi is back: {n and n.get('detail')!r}")
            check(run_until(lambda: online(alice, BOB), 20, 0.2),
                  f"alice discovers bob ({time.monotonic() - t0:.2f}s after avahi started)")
            check(run_until(lambda: online(bob, ALICE), 20, 0.2),
                  "bob sees alice again once she is published")
            deliver(alice, bob, BOB, "after a cold start without avahi")
            for p in procs:
                if p.alive():
                    check(p.call("getSelf") is not None, f"{p.name} answers")
        except BaseException:
            for p in procs:
                p.dump_logs()
            raise
        finally:
            for p in procs:
                if p.alive():
                    try:
                        p.call("quit", timeout=3)
                        p.wait(5)
                    except Exception:
                        p.kill()


if __name__ == "__main__":
    testbed.main(test)
