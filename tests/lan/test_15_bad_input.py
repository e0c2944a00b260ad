#!/usr/bin/env python3
"""Hostile input from the LAN does not hurt a running Chinwag.

alice (chinwag-cli) on host a and bob on host b chat. An attacker on host c
publishes a legacy presence mallory@cw-c with avahi-publish, so its streams
pass the legacy admission (announced name + matching source address), and
opens raw TCP streams to alice's advertised port (taken from DNS-SD):
 (a) a stanza over 256 KiB            -> <stream:error> policy-violation
 (b) a DOCTYPE with entity declarations -> <stream:error> restricted-xml
 (c) invalid UTF-8 in a stanza         -> <stream:error> not-well-formed
 (d) elements nested 1000 deep         -> <stream:error> (policy-violation)
 (e) a connection that sends nothing   -> closed by alice within ~15 s
 (f) a stream header trickled one byte a second -> closed within ~15 s
It also publishes
 (g) _presence._tcp records with garbage TXT (binary bytes, items without
     '=', cw-fp=zzz, 300 items)
 (h) 200 bogus announcements (one avahi-publish each), then kills them.
After each: alice still runs, alice <-> bob messages are delivered, alice's
stderr has a log line about it, and alice's VmRSS stays under 2x + 20 MB of
what it was before the attacks.
On failure: the CLIs' stderr (and the avahi logs through the Lan).
"""

import re
import threading
import time

import testbed
from testbed import (STREAM_RX, CliGroup, Lan, check, check_bound, deliver, log, peer_online, recv_until, rss_kb,
                     run_until, stream_header, trickle, wait_eof)

ALICE = "alice@cw-a"
BOB = "bob@cw-b"
MALLORY = "mallory@cw-c"
LEGACY_TXT = ["txtvers=1", "port.p2pj=5298", "status=avail", "1st=Mallory"]
ERROR_RX = rb"<(?:stream:)?error\b.*?</(?:stream:)?error>"
COND_RX = rb"<([a-z-]+)\s+xmlns=['\"]urn:ietf:params:xml:ns:xmpp-streams['\"]"


class Attack:
    """What is shared by every step: the processes, the target, the checks."""

    def __init__(self, lan, alice, bob, target):
        self.lan = lan
        self.c = lan["c"]
        self.alice = alice
        self.bob = bob
        self.addr, self.port = target
        self.rss0 = rss_kb(alice.proc.pid)
        self.limit = 2 * self.rss0 + 20 * 1024
        self.n = 0
        log(f"alice's VmRSS before the attacks: {self.rss0} kB (limit {self.limit} kB)")

    def connect(self):
        return self.c.connect(self.addr, self.port, timeout=5)

    def open_legacy(self):
        """A plaintext stream from mallory@cw-c that alice admitted."""
        s = self.connect()
        s.sendall(stream_header(MALLORY, ALICE))
        m, data = recv_until(s, STREAM_RX, 10)
        if m is None:
            raise AssertionError(f"alice did not answer mallory's stream header: {data[:300]!r}")
        rest = data[m.end():]
        # A refusal comes as header + <stream:error>: admission must have passed.
        m2, rest = recv_until(s, ERROR_RX, 0.3, rest)
        if m2 is not None:
            raise AssertionError(f"alice refused mallory's legacy stream: {rest[:300]!r}")
        return s, rest

    def expect_error(self, s, buf, conditions, what, timeout=15):
        m, data = recv_until(s, ERROR_RX, timeout, buf)
        check(m is not None, f"{what}: the attacker gets a stream error "
                             f"({(m.group(0) if m else data[-300:])[:200]!r})")
        cond = [c.decode() for c in re.findall(COND_RX, m.group(0)) if c != b"text"]
        check(cond and cond[0] in conditions,
              f"{what}: its condition is {cond[:1]} (one of {sorted(conditions)})")
        check(wait_eof(s, 10), f"{what}: alice closes the connection")

    def after(self, what, log_rx, log_offset):
        """The checks after each attack."""
        self.n += 1
        time.sleep(0.2)
        check(self.alice.alive(), f"{what}: alice still runs")
        found = run_until(lambda: re.search(log_rx, self.alice.stderr_text()[log_offset:], re.I | re.S),
                          5, 0.2)
        new = self.alice.stderr_text()[log_offset:]
        line = re.search(log_rx, new, re.I | re.S)
        check(found and line, f"{what}: alice logged it: "
                              f"{(new[max(0, line.start() - 120):line.end() + 40] if line else new[-500:]).strip()!r}")
        deliver(self.alice, self.bob, BOB, f"alice to bob after {what} ({self.n})")
        deliver(self.bob, self.alice, ALICE, f"bob to alice after {what} ({self.n})")
        rss = rss_kb(self.alice.proc.pid)
        check_bound(rss < self.limit, f"{what}: alice's VmRSS {rss} kB < {self.limit} kB")


def test():
    testbed.skip_unless_root()
    testbed.cli_path()
    with Lan(["a", "b", "c"]) as lan, CliGroup(lan, on_exit="quit") as clis:
        a, c = lan["a"], lan["c"]
        browser = c.avahi_browse("_presence._tcp")
        alice = clis.start("a", "alice", instance=ALICE)
        bob = clis.start("b", "bob", instance=BOB)
        check(run_until(lambda: peer_online(alice, BOB, key="instance")
                        and peer_online(bob, ALICE, key="instance"), 20, 0.2),
              "alice and bob list each other online")
        deliver(alice, bob, BOB, "hello bob")
        deliver(bob, alice, ALICE, "hello alice")

        ev = browser.wait_resolved(ALICE, 10, proto="IPv4")
        check(ev is not None and ev["address"] == a.ip,
              f"c resolves {ALICE} at {ev and ev['address']}:{ev and ev['port']}")
        target = (ev["address"], ev["port"])
        c.avahi_publish(MALLORY, "_presence._tcp", 5298, LEGACY_TXT)
        check(run_until(lambda: peer_online(alice, MALLORY, key="instance"), 15, 0.2),
              f"alice lists {MALLORY} (legacy) online")
        atk = Attack(lan, alice, bob, target)

        # (a) A stanza over 256 KiB, read while it is still being sent.
        off = len(alice.stderr_text())
        s, rest = atk.open_legacy()
        payload = (f"<message to='{ALICE}' from='{MALLORY}' type='chat'><body>".encode()
                   + b"A" * (300 * 1024) + b"</body></message>")

        def send_big():
            try:
                s.sendall(payload)
            except OSError:
                pass   # alice hung up mid-way: expected
        sender = threading.Thread(target=send_big, daemon=True)
        sender.start()
        atk.expect_error(s, rest, {"policy-violation", "resource-constraint"}, "(a) 300 KiB stanza")
        sender.join(5)
        s.close()
        atk.after("(a) 300 KiB stanza", r"mallory.*(larger|too large|policy)", off)

        # (b) DOCTYPE with entity declarations (billion laughs shape), before the header.
        off = len(alice.stderr_text())
        s = atk.connect()
        s.sendall(b"<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY a 'aaaaaaaaaa'>"
                  b"<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>"
                  b"<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>]>"
                  + stream_header(MALLORY, ALICE)[len(b"<?xml version='1.0'?>"):]
                  + f"<message to='{ALICE}' type='chat'><body>&c;</body></message>".encode())
        atk.expect_error(s, b"", {"restricted-xml"}, "(b) DOCTYPE")
        s.close()
        atk.after("(b) DOCTYPE", r"(restricted|DOCTYPE|entity)", off)

        # (c) Invalid UTF-8 in a stanza of an admitted stream.
        off = len(alice.stderr_text())
        s, rest = atk.open_legacy()
        s.sendall(f"<message to='{ALICE}' from='{MALLORY}' type='chat'><body>".encode()
                  + b"bad \xff\xfe \xc3\x28 \xed\xa0\x80 bytes</body></message>")
        atk.expect_error(s, rest, {"not-well-formed", "bad-format", "unsupported-encoding"},
                         "(c) invalid UTF-8")
        s.close()
        atk.after("(c) invalid UTF-8", r"mallory.*(well-formed|invalid|encoding|utf)", off)

        # (d) Nesting 1000 deep.
        off = len(alice.stderr_text())
        s, rest = atk.open_legacy()
        s.sendall(f"<message to='{ALICE}' from='{MALLORY}' type='chat'>".encode()
                  + b"<x>" * 1000 + b"</x>" * 1000 + b"</message>")
        atk.expect_error(s, rest, {"policy-violation", "resource-constraint", "not-well-formed"},
                         "(d) 1000 deep")
        s.close()
        atk.after("(d) 1000 deep", r"mallory.*(nest|deep|depth)", off)

        # (e) A connection that says nothing.
        off = len(alice.stderr_text())
        t0 = time.monotonic()
        s = atk.connect()
        closed = wait_eof(s, 17)
        check(closed, f"(e) alice closes a silent connection after "
                      f"{time.monotonic() - t0:.1f}s (limit ~15 s)")
        s.close()
        atk.after("(e) silent connection", r"did not open|timed? ?out", off)

        # (f) One byte a second (its header never completes in time).
        off = len(alice.stderr_text())
        t0 = time.monotonic()
        s = atk.connect()
        closed_at, n_sent = trickle(s, stream_header(MALLORY, ALICE), t0, give_up=20)
        check(closed_at is not None and closed_at <= 16,
              f"(f) alice closes a one-byte-a-second stream after {closed_at and round(closed_at, 1)}s "
              f"(after {n_sent} bytes)")
        s.close()
        atk.after("(f) slow stream", r"did not open|timed? ?out", off)

        # (g) Records with garbage TXT.
        off = len(alice.stderr_text())
        garbage = {
            "garbage-binary@cw-c": ["txtvers=1", "nick=\udcff\udcfe\x01bin", "\udc80\udc81\x7f",
                                    "1st=\udcc3(", "port.p2pj=5298"],
            "garbage-noeq@cw-c": ["noequals", "alsonone", "txtvers", "=emptykey"],
            "garbage-fp@cw-c": ["txtvers=1", "port.p2pj=5298", "cw-fp=zzz"],
            "garbage-300@cw-c": [f"k{i}=v{i}" for i in range(300)],
        }
        pubs = [c.avahi_publish(name, "_presence._tcp", 5298, txt) for name, txt in garbage.items()]
        check(run_until(lambda: all(name in alice.stderr_text()[off:] for name in garbage), 15, 0.3),
              "(g) alice logs each garbage record: " + "; ".join(
                  ln.strip() for ln in alice.stderr_text()[off:].splitlines() if "garbage" in ln))
        new = alice.stderr_text()[off:]
        check(re.search(r"garbage-fp@cw-c.*cw-fp", new),
              "(g) the bad cw-fp record is ignored with a reason")
        check(re.search(r"garbage-300@cw-c.*(strings|items|limit)", new),
              "(g) the 300-item record is ignored with a reason")
        check(not peer_online(alice, "garbage-fp@cw-c", key="instance"),
              "(g) garbage-fp is not listed (not downgraded to legacy)")
        check(not peer_online(alice, "garbage-300@cw-c", key="instance"), "(g) garbage-300 is not listed")
        for p in alice.call("listPeers"):
            if p.get("instance", "").startswith("garbage-"):
                log(f"    listed: {p}")
        atk.after("(g) garbage TXT", r"garbage", off)
        for p in pubs:
            p.terminate()

        # (h) 200 bogus announcements, then all of them gone at once.
        off = len(alice.stderr_text())
        t0 = time.monotonic()
        bogus = [c.avahi_publish(f"bogus-{i:03d}@cw-c", "_presence._tcp", 5298,
                                 ["txtvers=1", "port.p2pj=5298", f"1st=Bogus{i}"], wait=False)
                 for i in range(200)]

        def bogus_online():
            return sum(1 for p in alice.call("listPeers")
                       if p.get("instance", "").startswith("bogus-") and p.get("online"))
        counts = []
        run_until(lambda: counts.append(bogus_online()) or counts[-1] >= 200, 45, 1.0)
        check(alice.alive(), "(h) alice still runs with 200 bogus peers")
        dead = [p for p in bogus if p.poll() is not None]
        log(f"(h) {len(dead)} avahi-publish exited early; alice lists {counts[-1]} bogus peers "
            f"online after {time.monotonic() - t0:.1f}s")
        check(counts[-1] >= 180, f"(h) alice sees the bogus announcements ({counts[-1]} of 200)")
        rss = rss_kb(alice.proc.pid)
        check_bound(rss < atk.limit, f"(h) alice's VmRSS with 200 bogus peers: {rss} kB < {atk.limit} kB")
        t0 = time.monotonic()
        for p in bogus:
            if p.poll() is None:
                p.kill()
        for p in bogus:
            p.wait(5)
        check(run_until(lambda: bogus_online() == 0, 30, 1.0),
              f"(h) the bogus peers are gone {time.monotonic() - t0:.1f}s after their publishers died")
        atk.after("(h) 200 bogus announcements", r"bogus-\d{3}@cw-c", off)
        check(peer_online(alice, BOB, key="instance") and peer_online(bob, ALICE, key="instance"),
              "alice and bob still list each other")


if __name__ == "__main__":
    testbed.main(test)
