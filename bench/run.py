#!/usr/bin/env python3
"""Chinwag's benchmarks, each figure side by side with its baseline in the same run.

Owns: the simulated LANs it builds (tests/lan/testbed.py), the chinwag-cli, finch,
avahi-publish and tls_echo processes started on them, and a temporary directory for
the history benchmark. Python 3 standard library only; root only (network namespaces).

  bench/run.py [--quick] [--only NAME,...] [--results FILE] [--markdown FILE]
  bench/run.py --soak MINUTES [--results FILE]

Environment: CHINWAG_CLI (the chinwag-cli binary), BENCH_BUILDDIR (where
bench/tls_echo and bench/history_bench were built), BENCH_QUICK=1 (= --quick).

Figures (see BENCHMARKS.md for what each one means):
  discovery3, discovery12  peer starts -> each other peer lists it, vs avahi-browse
  departure                quit / SIGKILL / link cut -> shown offline, vs avahi-browse
  status                   setStatus -> the other peer's peerChanged, vs a bare TXT record browser
  latency, throughput      round trip and a burst over the TLS stream, vs tls_echo
  setup                    first message with no stream open, vs a bare TLS 1.3 handshake
  history                  1,000,000 messages: search and latest page, vs bare FTS5
  footprint                RSS and idle CPU with 50 peers, vs finch
Every timing is taken from the CLOCK_MONOTONIC instants at which this script read the
JSON-RPC notification (or avahi-browse line), so both sides carry the same pipe delay.
"""

import argparse
import datetime
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "lan"))

import testbed  # noqa: E402
from testbed import JsonRpcProcess, Lan, log, run_until  # noqa: E402

PAYLOAD = "bench message 00000 the quick brown fox"   # 40 bytes, same on both sides


# ---------------------------------------------------------------- helpers

class TimedRpc(JsonRpcProcess):
    """A JsonRpcProcess that stamps each notification with the instant it was read
    (params["_t"], time.monotonic()) and counts them per method."""

    def __init__(self, *a, **kw):
        self.counts = {}
        super().__init__(*a, **kw)

    def _read(self):
        try:
            for line in self.proc.stdout:
                t = time.monotonic()
                line = line.strip()
                if not line:
                    continue
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                with self._cond:
                    if isinstance(msg, dict) and "method" in msg and "id" not in msg:
                        if isinstance(msg.get("params"), dict):
                            msg["params"]["_t"] = t
                        self._notifications.append(msg)
                        self._unconsumed.append(msg)
                        self.counts[msg["method"]] = self.counts.get(msg["method"], 0) + 1
                        if len(self._unconsumed) > 2000:     # nobody waits on old ones
                            del self._unconsumed[:1000]
                    elif isinstance(msg, dict) and "id" in msg:
                        if msg.get("error") or not getattr(self, "drop_responses", False):
                            self._responses[msg["id"]] = msg
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    def mark(self):
        """An index into the notifications received so far, for wait_from."""
        with self._cond:
            return len(self._notifications)

    def wait_from(self, mark, method, pred, timeout=15):
        """The params of the first notification `method` at index >= mark satisfying
        pred, waiting up to timeout seconds; None on timeout."""
        deadline = time.monotonic() + timeout
        i = mark
        with self._cond:
            while True:
                while i < len(self._notifications):
                    m = self._notifications[i]
                    i += 1
                    p = m.get("params") or {}
                    if m.get("method") == method and pred(p):
                        return p
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    return None
                self._cond.wait(left)

    def last(self, method, pred, since=0.0):
        """The first notification `method` after `since` whose params satisfy pred."""
        with self._cond:
            msgs = list(self._notifications)
        for m in msgs:
            p = m.get("params") or {}
            if m.get("method") == method and p.get("_t", 0) >= since and pred(p):
                return p
        return None


def start_peer(host, profile, nick, instance):
    """chinwag-cli jsonrpc on host (profile initialized first if needed)."""
    cli = testbed.cli_path()
    if not os.path.isdir(profile) or not os.listdir(profile):
        os.makedirs(profile, exist_ok=True)
        host.run([cli, "--profile", profile, "init", "--nick", nick], timeout=60, check=True)
    return TimedRpc(host, [cli, "--profile", profile, "--instance", instance, "jsonrpc"],
                    name=f"{nick}@{host.name}")


def init_profile(host, profile, nick):
    cli = testbed.cli_path()
    os.makedirs(profile, exist_ok=True)
    host.run([cli, "--profile", profile, "init", "--nick", nick], timeout=60, check=True)


def stop_peer(p, timeout=5):
    if p.alive():
        try:
            p.call("quit", timeout=timeout)
            p.wait(timeout)
        except Exception:
            p.kill()
            p.wait(5)


def online_seen(rpc, peer_id, since):
    return rpc.last("peerChanged", lambda p: p.get("id") == peer_id and p.get("online"), since)


def offline_seen(rpc, peer_id, since):
    a = rpc.last("peerGone", lambda p: p.get("id") == peer_id, since)
    b = rpc.last("peerChanged", lambda p: p.get("id") == peer_id and p.get("online") is False, since)
    ts = [x["_t"] for x in (a, b) if x]
    return min(ts) if ts else None


def first_browse(browser, name, event, since):
    for ev in browser.snapshot():
        if ev["name"] == name and ev["event"] == event and ev["time"] >= since:
            return ev["time"]
    return None


def pct(values, q):
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def summary(values):
    if not values:
        return None
    return {"n": len(values), "median": statistics.median(values), "p10": pct(values, 0.1),
            "p90": pct(values, 0.9), "p99": pct(values, 0.99), "min": min(values), "max": max(values)}


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])     # utime + stime


def tool(name):
    d = os.environ.get("BENCH_BUILDDIR")
    path = os.path.join(d, "bench", name) if d else None
    if not path or not os.access(path, os.X_OK):
        raise SystemExit(f"bench/{name} not built (run through `make bench`, or set BENCH_BUILDDIR)")
    return path


def fingerprint(p):
    return p.call("getSelf")["fingerprint"]


# ---------------------------------------------------------------- 1. discovery

HOST_NAMES = "abcdefghijklmnop"


def bench_discovery(n_hosts, rounds):
    names = list(HOST_NAMES[:n_hosts])
    log(f"discovery: {n_hosts} hosts, {rounds} rounds")
    chin, floor, delta = [], [], []
    departures = []
    with Lan(names) as lan:
        observers, browsers = [], []
        try:
            for h in names[:-1]:
                browsers.append(lan[h].avahi_browse("_presence._tcp"))
                observers.append(start_peer(lan[h], lan.path("p", h), f"obs{h}", f"obs{h}@cw-{h}"))
            newhost = lan[names[-1]]
            profile = lan.path("p", "new")
            init_profile(newhost, profile, "newcomer")
            inst = f"newcomer@{newhost.hostname}"
            # Everyone sees everyone first, so the rig is quiet when the newcomer starts.
            ids = [fingerprint(o) for o in observers]
            run_until(lambda: all(len([p for p in o.call("listPeers") if p.get("online")]) >= n_hosts - 2
                                  for o in observers), 60, 0.5)
            time.sleep(1.0)
            for r in range(rounds):
                t0 = time.monotonic()
                newp = TimedRpc(newhost, [testbed.cli_path(), "--profile", profile, "--instance", inst,
                                          "jsonrpc"], name=f"newcomer-{r}")
                fp = fingerprint(newp)
                ok = run_until(lambda: all(online_seen(o, fp, t0) for o in observers)
                               and all(first_browse(b, inst, "=", t0) for b in browsers), 30, 0.05)
                if not ok:
                    raise RuntimeError(f"discovery round {r}: not every peer saw the newcomer in 30 s")
                for o, b in zip(observers, browsers):
                    tc = online_seen(o, fp, t0)["_t"] - t0
                    tf = first_browse(b, inst, "=", t0) - t0
                    chin.append(tc * 1000)
                    floor.append(tf * 1000)
                    delta.append((tc - tf) * 1000)
                log(f"  round {r}: chinwag median {statistics.median(chin[-len(observers):]):.0f} ms, "
                    f"avahi-browse {statistics.median(floor[-len(observers):]):.0f} ms")
                t1 = time.monotonic()
                newp.call("quit")
                newp.wait(10)
                run_until(lambda: all(offline_seen(o, fp, t1) for o in observers)
                          and all(first_browse(b, inst, "-", t1) for b in browsers), 15, 0.05)
                for o, b in zip(observers, browsers):
                    to, tb = offline_seen(o, fp, t1), first_browse(b, inst, "-", t1)
                    if to and tb:
                        departures.append(((to - t1) * 1000, (tb - t1) * 1000))
                time.sleep(1.5)     # let the goodbyes settle before the next start
        finally:
            for o in observers:
                stop_peer(o, 3)
    return {"hosts": n_hosts, "chinwag_ms": summary(chin), "avahi_browse_ms": summary(floor),
            "delta_ms": summary(delta), "samples": {"chinwag": chin, "floor": floor},
            "quit_departures": departures}


# ---------------------------------------------------------------- 2. departure

def bench_departure(rounds):
    log(f"departure: clean exit and SIGKILL x{rounds}, link cut x1")
    out = {}
    with Lan(["a", "b", "c"]) as lan:
        a, c = lan["a"], lan["c"]
        browser = a.avahi_browse("_presence._tcp")
        obs = start_peer(a, lan.path("p", "obs"), "obs", "obs@cw-a")
        prof = lan.path("p", "victim")
        init_profile(c, prof, "victim")
        try:
            for mode in ("quit", "kill", "linkcut"):
                chin, base = [], []
                n = rounds if mode != "linkcut" else 1
                for r in range(n):
                    # A fresh instance name after a link cut: a's avahi keeps the cut
                    # host's records cached for their TTL (4500 s).
                    inst = "victim@cw-c" if mode != "linkcut" else f"victim-cut{r}@cw-c"
                    t_start = time.monotonic()
                    v = TimedRpc(c, [testbed.cli_path(), "--profile", prof, "--instance", inst, "jsonrpc"],
                                 name=f"victim-{mode}-{r}")
                    fp = fingerprint(v)
                    if not run_until(lambda: online_seen(obs, fp, t_start)
                                     and first_browse(browser, inst, "=", t_start), 30, 0.05):
                        raise RuntimeError("the victim was not discovered")
                    # A stream open between them (messages both ways).
                    obs.call("send", {"to": fp, "body": "before"})
                    run_until(lambda: v.last("message", lambda p: p.get("body") == "before"), 15, 0.05)
                    v.call("send", {"to": fingerprint(obs), "body": "back"})
                    run_until(lambda: obs.last("message", lambda p: p.get("body") == "back", t_start), 15, 0.05)
                    time.sleep(0.5)
                    t0 = time.monotonic()
                    if mode == "quit":
                        v.send_raw({"jsonrpc": "2.0", "id": 999, "method": "quit"})
                    elif mode == "kill":
                        v.kill()
                    else:
                        c.link_cut()
                    limit = 60 if mode == "linkcut" else 15
                    run_until(lambda: offline_seen(obs, fp, t0), limit, 0.05)
                    to = offline_seen(obs, fp, t0)
                    tb = first_browse(browser, inst, "-", t0)
                    chin.append((to - t0) * 1000 if to else None)
                    base.append((tb - t0) * 1000 if tb else None)
                    log(f"  {mode} {r}: chinwag {chin[-1] and round(chin[-1])} ms, "
                        f"avahi-browse {base[-1] and round(base[-1])} ms")
                    if mode == "linkcut":
                        v.kill()
                        v.wait(5)
                        c.link_restore()
                    else:
                        v.wait(10)
                    time.sleep(1.5)
                got = [x for x in chin if x is not None]
                bgot = [x for x in base if x is not None]
                out[mode] = {"chinwag_ms": summary(got), "avahi_browse_ms": summary(bgot),
                             "missed": len(chin) - len(got), "baseline_missed": len(base) - len(bgot),
                             "samples": chin, "baseline_samples": base}
        finally:
            stop_peer(obs, 3)
    return out


# ---------------------------------------------------------------- 2b. status change

class TxtWatch:
    """bench/txt_watch INSTANCE on one host: a bare avahi record browser on the service's
    TXT record (the mDNS floor for a status change). Owns the process (through the Lan) and
    a reader thread; events are its JSON lines stamped with "time" (time.monotonic())."""

    def __init__(self, host, instance):
        self.events = []
        self._lock = threading.Lock()
        self.proc = host.popen([tool("txt_watch"), instance], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            t = time.monotonic()
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            ev["time"] = t
            with self._lock:
                self.events.append(ev)

    def first_new(self, item, since):
        """The instant of the first "new" TXT record holding the string item after since."""
        with self._lock:
            evs = list(self.events)
        for ev in evs:
            if ev.get("event") == "new" and ev["time"] >= since and item in ev.get("txt", []):
                return ev["time"]
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


def bench_status(rounds):
    """bob's setStatus -> alice's peerChanged with the new status and message, beside the
    instant alice's host's avahi-daemon reports bob's new TXT record to a bare record browser.
    Each round a new message (a new record, not one still cached), 2.5 s apart so the previous
    change's cache flush and repeated announcements (RFC 6762 §8.3, §10.2) are over."""
    log(f"status change: {rounds} rounds")
    chin, floor, delta = [], [], []
    with Lan(["a", "b"]) as lan:
        a, b = lan["a"], lan["b"]
        alice = start_peer(a, lan.path("p", "alice"), "alice", "alice@cw-a")
        bob = start_peer(b, lan.path("p", "bob"), "bob", "bob@cw-b")
        watch = None
        try:
            fa, fb = fingerprint(alice), fingerprint(bob)
            if not run_until(lambda: online_seen(alice, fb, 0) and online_seen(bob, fa, 0), 30, 0.1):
                raise RuntimeError("alice and bob did not meet")
            watch = TxtWatch(a, "bob@cw-b")
            time.sleep(2.5)     # bob's first announcements are over; the rig is quiet
            for r in range(rounds):
                status, txt_status = ("away", "away") if r % 2 == 0 else ("busy", "dnd")
                msg = f"bench status {r:03d}"

                def seen(p):
                    return p.get("id") == fb and p.get("status") == status and p.get("message") == msg
                t0 = time.monotonic()
                bob.call("setStatus", {"status": status, "message": msg})
                ok = run_until(lambda: alice.last("peerChanged", seen, t0)
                               and watch.first_new(f"msg={msg}", t0), 15, 0.01)
                if not ok:
                    raise RuntimeError(f"status round {r}: the change was not seen in 15 s")
                tc = alice.last("peerChanged", seen, t0)["_t"] - t0
                tf = watch.first_new(f"msg={msg}", t0) - t0
                if watch.first_new(f"status={txt_status}", t0) is None:
                    raise RuntimeError(f"status round {r}: the TXT record lacks status={txt_status}")
                chin.append(tc * 1000)
                floor.append(tf * 1000)
                delta.append((tc - tf) * 1000)
                log(f"  round {r}: chinwag {tc * 1000:.0f} ms, TXT record browser {tf * 1000:.0f} ms")
                time.sleep(2.5)
        finally:
            if watch:
                watch.stop()
            stop_peer(alice, 3)
            stop_peer(bob, 3)
    return {"chinwag_ms": summary(chin), "txt_browser_ms": summary(floor), "delta_ms": summary(delta),
            "samples": {"chinwag": chin, "floor": floor}}


# ---------------------------------------------------------------- 3, 4. messages

def echo_client(host, mode, server_ip, port, profile, peer_fp, n, payload, timeout=600):
    r = host.run([tool("tls_echo"), mode, server_ip, str(port), profile, peer_fp, str(n), payload],
                 timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"tls_echo {mode} failed: {r.stderr.strip()}")
    return json.loads(r.stdout)


def bench_messages(rtt_n, burst_n, setup_rounds, tmpfs=False):
    """With tmpfs, the profiles live on a tmpfs (fsync costs nothing): the difference to
    the normal run is what the synchronous commits cost."""
    log(f"latency: {rtt_n} round trips each; throughput: bursts of {burst_n}; setup x{setup_rounds}"
        f"{'; profiles on tmpfs' if tmpfs else ''}")
    res = {}
    with Lan(["a", "b"]) as lan:
        a, b = lan["a"], lan["b"]
        os.makedirs(lan.path("p"))
        if tmpfs:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m,mode=0700", "benchtmpfs", lan.path("p")],
                           check=True)
        pa, pb = lan.path("p", "alice"), lan.path("p", "bob")
        alice = start_peer(a, pa, "alice", "alice@cw-a")
        bob = start_peer(b, pb, "bob", "bob@cw-b")
        peers = [alice, bob]
        try:
            fa, fb = fingerprint(alice), fingerprint(bob)
            if not run_until(lambda: online_seen(alice, fb, 0) and online_seen(bob, fa, 0), 30, 0.1):
                raise RuntimeError("alice and bob did not meet")
            echo = b.popen([tool("tls_echo"), "server", "7777", pb, fa], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
            if echo.stdout.readline().strip() != "ready":
                raise RuntimeError(f"tls_echo server: {echo.stderr.read()}")

            def chinwag_rtt(n):
                # send -> the receiver stores it (synchronous commit) -> receipt -> `delivered`.
                out = []
                for i in range(n):
                    body = PAYLOAD.replace("00000", f"{i % 100000:05d}")
                    mk = alice.mark()
                    t0 = time.monotonic()
                    mid = alice.call("send", {"to": fb, "body": body})["id"]
                    p = alice.wait_from(mk, "messageState", lambda p: p.get("id") == mid
                                        and p.get("state") == "delivered", 15)
                    if not p:
                        raise RuntimeError("a message was not delivered within 15 s")
                    out.append((p["_t"] - t0) * 1000)
                return out

            def chinwag_reply_rtt(n):
                # send -> bob's `message` -> bob replies -> alice's `message` (what a person sees).
                out = []
                for i in range(n):
                    body, reply = f"ping {i:05d} the quick brown fox jumps", f"pong {i:05d} the quick brown fox jumps"
                    ma, mb = alice.mark(), bob.mark()
                    t0 = time.monotonic()
                    alice.call("send", {"to": fb, "body": body})
                    if not bob.wait_from(mb, "message", lambda p: p.get("body") == body, 15):
                        raise RuntimeError("no message within 15 s")
                    bob.call("send", {"to": fa, "body": reply})
                    p = alice.wait_from(ma, "message", lambda p: p.get("body") == reply, 15)
                    if not p:
                        raise RuntimeError("no reply within 15 s")
                    out.append((p["_t"] - t0) * 1000)
                return out

            chinwag_rtt(5)      # warm: the stream is open and the pages are cached
            # The front end's own floor: a JSON-RPC call that touches neither network nor disk.
            floor = []
            for _ in range(100):
                t0 = time.monotonic()
                alice.call("getSelf")
                floor.append((time.monotonic() - t0) * 1000)
            res["jsonrpc_call_ms"] = summary(floor)
            rtt, reply, base = [], [], []
            blocks = 4
            for _ in range(blocks):      # interleaved so both see the same background load
                rtt += chinwag_rtt(rtt_n // blocks)
                reply += chinwag_reply_rtt(max(1, rtt_n // blocks // 2))
                base += echo_client(a, "rtt", b.ip, 7777, pa, fb, rtt_n // blocks, PAYLOAD)["rtt_ms"]
            res["latency"] = {"chinwag_receipt_rtt_ms": summary(rtt), "chinwag_reply_rtt_ms": summary(reply),
                              "tls_echo_rtt_ms": summary(base)}
            log(f"  rtt: chinwag p50 {statistics.median(rtt):.2f} ms, reply {statistics.median(reply):.2f} ms, "
                f"tls_echo p50 {statistics.median(base):.3f} ms")

            # Throughput: burst_n sends written back to back (pipelined JSON-RPC requests).
            bodies_prefix = "burst"
            alice.drop_responses = True
            n0 = bob.counts.get("message", 0)
            d0 = sum(1 for x in alice.notifications("messageState") if x.get("state") == "delivered")
            t0 = time.monotonic()
            lines = "".join(json.dumps({"jsonrpc": "2.0", "id": f"b{i}", "method": "send",
                                        "params": {"to": fb, "body": PAYLOAD.replace("00000", f"{i:05d}")
                                                   .replace("bench", bodies_prefix)}}) + "\n"
                            for i in range(burst_n))
            writer = threading.Thread(target=lambda: (alice.proc.stdin.write(lines), alice.proc.stdin.flush()))
            writer.start()
            ok = run_until(lambda: bob.counts.get("message", 0) - n0 >= burst_n, 900, 0.05)
            writer.join(60)
            got = bob.counts.get("message", 0) - n0
            msgs = [p for p in bob.notifications("message") if p.get("body", "").startswith(bodies_prefix)]
            t_last = max(p["_t"] for p in msgs) if msgs else time.monotonic()
            run_until(lambda: sum(1 for x in alice.notifications("messageState")
                                  if x.get("state") == "delivered") - d0 >= burst_n, 300, 0.2)
            delivered = [x for x in alice.notifications("messageState") if x.get("state") == "delivered"][d0:]
            t_ack = max(x["_t"] for x in delivered) if delivered else None
            alice.drop_responses = False
            chin_rate = got / (t_last - t0)
            ebursts = [echo_client(a, "burst", b.ip, 7777, pa, fb, burst_n, PAYLOAD)["burst_ms"] for _ in range(3)]
            erates = [burst_n / (ms / 1000) for ms in ebursts]
            res["throughput"] = {"messages": burst_n, "received": got, "complete": ok,
                                 "chinwag_msgs_per_s": chin_rate,
                                 "chinwag_all_receipts_s": (t_ack - t0) if t_ack else None,
                                 "chinwag_in_order": [p["body"] for p in msgs] == sorted(p["body"] for p in msgs),
                                 "tls_echo_msgs_per_s": summary(erates)}
            log(f"  throughput: chinwag {chin_rate:.0f} msg/s ({got}/{burst_n} in {t_last - t0:.1f} s), "
                f"tls_echo {statistics.median(erates):.0f} msg/s")

            if setup_rounds == 0:
                return res
            # Connection setup: bob restarts (alice's stream to him is gone), then alice's first
            # message: connect + STARTTLS + mutual verification + receipt.
            setup = []
            for r in range(setup_rounds):
                stop_peer(bob)
                time.sleep(1.0)
                t_s = time.monotonic()
                bob = start_peer(b, pb, "bob", "bob@cw-b")
                peers.append(bob)
                if not run_until(lambda: online_seen(alice, fb, t_s) and online_seen(bob, fa, t_s), 30, 0.05):
                    raise RuntimeError("bob did not come back")
                time.sleep(1.0)
                mk = alice.mark()
                t0 = time.monotonic()
                mid = alice.call("send", {"to": fb, "body": PAYLOAD})["id"]
                p = alice.wait_from(mk, "messageState", lambda p: p.get("id") == mid
                                    and p.get("state") == "delivered", 30)
                setup.append((p["_t"] - t0) * 1000 if p else None)
                log(f"  setup {r}: {setup[-1] and round(setup[-1], 1)} ms")
            hs = echo_client(a, "handshake", b.ip, 7777, pa, fb, max(20, setup_rounds), PAYLOAD)["handshake_ms"]
            warm = chinwag_rtt(20)
            res["setup"] = {"chinwag_first_message_ms": summary([x for x in setup if x is not None]),
                            "chinwag_same_stream_ms": summary(warm),
                            "tls_handshake_and_echo_ms": summary(hs), "samples": setup}
        finally:
            for p in peers:
                stop_peer(p, 3)
            if tmpfs:
                subprocess.run(["umount", lan.path("p")])
    return res


# ---------------------------------------------------------------- 5. history

def bench_history(n, queries):
    log(f"history: {n} messages, {queries} queries")
    d = tempfile.mkdtemp(prefix="chinwag-bench-history-", dir=os.environ.get("BENCH_TMPDIR", "/var/tmp"))
    try:
        r = subprocess.run([tool("history_bench"), d, str(n), str(queries)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=3600)
        if r.returncode != 0:
            raise RuntimeError(f"history_bench: {r.stderr}")
        raw = json.loads(r.stdout)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.startswith("chinwag.db"))
    finally:
        subprocess.run(["rm", "-rf", d])
    out = {"messages": raw["messages"], "db_bytes": size,
           "bulk_insert_per_s": (raw["messages"] - len(raw["live_insert_ms"])) / raw["bulk_insert_s"],
           "raw_insert_per_s": raw["raw_rows"] / raw["raw_insert_s"],
           "live_insert_ms": summary(raw["live_insert_ms"]), "raw_live_insert_ms": summary(raw["raw_live_insert_ms"]),
           "search_ms": summary(raw["search_ms"]), "fts5_ms": summary(raw["fts_ms"]),
           "page_ms": summary(raw["page_ms"]), "bare_page_ms": summary(raw["bare_page_ms"]),
           "search_hits": raw["search_hits"]}
    log(f"  search p50 {out['search_ms']['median']:.3f} ms vs fts5 {out['fts5_ms']['median']:.3f} ms; "
        f"bulk {out['bulk_insert_per_s']:.0f}/s vs raw {out['raw_insert_per_s']:.0f}/s")
    return out


# ---------------------------------------------------------------- 6. footprint

def bench_footprint(idle_s):
    from finch_peer import FinchPeer
    log(f"footprint: 48 avahi-publish records + 1 chinwag peer + chinwag vs finch, idle {idle_s} s")
    with Lan(["a", "b", "c", "d"]) as lan:
        a = lan["a"]
        alice = start_peer(a, lan.path("p", "alice"), "alice", "alice@cw-a")
        bob = start_peer(lan["b"], lan.path("p", "bob"), "bob", "bob@cw-b")
        finch = FinchPeer(a, user="fin", first="Fin").start().wait_ready(30)
        try:
            pubs = []
            for i in range(48):
                h = lan["bcd"[i % 3]]
                pubs.append(h.avahi_publish(f"peer{i:02d}@{h.hostname}", "_presence._tcp", 5298,
                                            ["txtvers=1", "port.p2pj=5298", "status=avail", f"1st=Peer{i}",
                                             "node=bench", "ver=1"], wait=False))
            count = []

            def peers_online():
                count.append(sum(1 for p in alice.call("listPeers") if p.get("online")))
                return count[-1] >= 50
            run_until(peers_online, 60, 1.0)
            log(f"  alice lists {count[-1]} peers online")
            time.sleep(10)      # let both settle (finch resolves each buddy)
            res = {}
            ticks = os.sysconf("SC_CLK_TCK")
            pids = {"chinwag-cli": alice.proc.pid, "finch": finch.pid}
            c0 = {k: cpu_ticks(p) for k, p in pids.items()}
            t0 = time.monotonic()
            rss_samples = {k: [] for k in pids}
            while time.monotonic() - t0 < idle_s:
                for k, p in pids.items():
                    rss_samples[k].append(rss_kb(p))
                time.sleep(2)
            dt = time.monotonic() - t0
            for k, p in pids.items():
                res[k] = {"rss_kb": statistics.median(rss_samples[k]),
                          "idle_cpu_percent": 100.0 * (cpu_ticks(p) - c0[k]) / ticks / dt}
            res["peers_listed_by_chinwag"] = count[-1]
            res["setup"] = ("48 avahi-publish announcements (legacy TXT) on 3 hosts + 1 chinwag-cli peer; "
                            "chinwag-cli and finch run on the same host and see each other: 50 peers each")
            log(f"  {res}")
            return res
        finally:
            finch.stop()
            stop_peer(alice, 3)
            stop_peer(bob, 3)


# ---------------------------------------------------------------- soak

def soak(minutes, rate):
    log(f"soak: {minutes} min, {rate} messages/s in total (half each way), RSS every minute")
    with Lan(["a", "b"]) as lan:
        alice = start_peer(lan["a"], lan.path("p", "alice"), "alice", "alice@cw-a")
        bob = start_peer(lan["b"], lan.path("p", "bob"), "bob", "bob@cw-b")
        try:
            fa, fb = fingerprint(alice), fingerprint(bob)
            if not run_until(lambda: online_seen(alice, fb, 0) and online_seen(bob, fa, 0), 30, 0.1):
                raise RuntimeError("alice and bob did not meet")
            stop = threading.Event()
            sent = {"alice": 0, "bob": 0}
            alice.drop_responses = bob.drop_responses = True

            def pump(src, name, to):
                period = 2.0 / rate
                t_next = time.monotonic()
                i = 0
                while not stop.is_set():
                    src.send_raw({"jsonrpc": "2.0", "id": i, "method": "send",
                                  "params": {"to": to, "body": f"soak {name} {i}"}})
                    i += 1
                    sent[name] = i
                    t_next += period
                    d = t_next - time.monotonic()
                    if d > 0:
                        time.sleep(d)
            threads = [threading.Thread(target=pump, args=(alice, "alice", fb), daemon=True),
                       threading.Thread(target=pump, args=(bob, "bob", fa), daemon=True)]
            samples = []
            t0 = time.monotonic()
            for t in threads:
                t.start()
            for m in range(minutes + 1):
                run_until(lambda: time.monotonic() - t0 >= 60 * m, 61, 0.5)
                s = {"minute": m, "alice_rss_kb": rss_kb(alice.proc.pid), "bob_rss_kb": rss_kb(bob.proc.pid),
                     "alice_received": alice.counts.get("message", 0), "bob_received": bob.counts.get("message", 0),
                     "sent": dict(sent)}
                samples.append(s)
                log(f"  {s}")
            stop.set()
            for t in threads:
                t.join(5)
            run_until(lambda: alice.counts.get("message", 0) >= sent["bob"]
                      and bob.counts.get("message", 0) >= sent["alice"], 60, 0.5)

            def slope(key):
                pts = [(s["minute"], s[key]) for s in samples if s["minute"] >= 1]
                if len(pts) < 2:
                    return None
                mx = statistics.mean(x for x, _ in pts)
                my = statistics.mean(y for _, y in pts)
                den = sum((x - mx) ** 2 for x, _ in pts)
                return sum((x - mx) * (y - my) for x, y in pts) / den
            return {"minutes": minutes, "rate": rate, "samples": samples, "sent": sent,
                    "received": {"alice": alice.counts.get("message", 0), "bob": bob.counts.get("message", 0)},
                    "alice_rss_slope_kb_per_min": slope("alice_rss_kb"),
                    "bob_rss_slope_kb_per_min": slope("bob_rss_kb")}
        finally:
            stop_peer(alice, 3)
            stop_peer(bob, 3)


# ---------------------------------------------------------------- report

def fmt(s, unit="ms", digits=None):
    if not s:
        return "n/a"
    d = digits if digits is not None else (0 if s["median"] >= 100 else 1 if s["median"] >= 10 else 2
                                           if s["median"] >= 1 else 3)
    return f"{s['median']:.{d}f} ({s['p10']:.{d}f}–{s['p90']:.{d}f}) {unit}"


def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "n/a"


def table(res):
    rows = []

    def row(figure, chin, base, rat, goal, met):
        rows.append(f"| {figure} | {chin} | {base} | {rat} | {goal} | {met} |")

    for key in ("discovery3", "discovery12"):
        d = res.get(key)
        if d:
            c, f, dl = d["chinwag_ms"], d["avahi_browse_ms"], d["delta_ms"]
            row(f"Discovery, {d['hosts']} hosts (start → listed), {c['n']} observations", fmt(c), fmt(f),
                ratio(c["median"], f["median"]) + f"; +{dl['median']:.0f} ms (p90 +{dl['p90']:.0f})",
                "≤ floor + 100 ms", "yes" if dl["p90"] <= 100 else ("median only" if dl["median"] <= 100 else "no"))
    dep = res.get("departure")
    if dep:
        goals = {"quit": ("clean exit", 1500), "kill": ("SIGKILL", 1500), "linkcut": ("link cut, stream open", 30000)}
        for mode, (label, lim) in goals.items():
            x = dep.get(mode)
            if not x:
                continue
            c, b = x["chinwag_ms"], x["avahi_browse_ms"]
            base = fmt(b) if b else f"not seen in {60 if mode == 'linkcut' else 15} s"
            met = "yes" if c and x["missed"] == 0 and c["max"] <= lim else "no"
            row(f"Departure: {label} → offline ({len(x['samples'])} runs)", fmt(c) + (
                f", {x['missed']} missed" if x["missed"] else ""), base,
                ratio(c and c["median"], b and b["median"]), "≈1 s" if lim < 2000 else "< 30 s", met)
    stc = res.get("status")
    if stc:
        c, f, dl = stc["chinwag_ms"], stc["txt_browser_ms"], stc["delta_ms"]
        row(f"Status change (`setStatus` → other peer's `peerChanged`), {c['n']} changes", fmt(c),
            fmt(f) + " (TXT record browser)",
            ratio(c["median"], f["median"]) + f"; +{dl['median']:.0f} ms (p90 +{dl['p90']:.0f})",
            "≤ floor + 100 ms", "yes" if dl["p90"] <= 100 else ("median only" if dl["median"] <= 100 else "no"))
    lat = res.get("latency")
    if lat:
        c, r, b = lat["chinwag_receipt_rtt_ms"], lat["chinwag_reply_rtt_ms"], lat["tls_echo_rtt_ms"]
        row("Round trip p50 (send → receipt `delivered`)", fmt(c), fmt(b), ratio(c["median"], b["median"]),
            "≤ 2x", "yes" if c["median"] <= 2 * b["median"] else "no")
        row("Round trip p99 (send → receipt)", f"{c['p99']:.2f} ms", f"{b['p99']:.3f} ms",
            ratio(c["p99"], b["p99"]), "–", "–")
        row("Round trip p50 (message → reply → message)", fmt(r), fmt(b), ratio(r["median"], b["median"]),
            "–", "–")
    th = res.get("throughput")
    if th:
        e = th["tls_echo_msgs_per_s"]
        row(f"Throughput, burst of {th['messages']} (msgs/s received)",
            f"{th['chinwag_msgs_per_s']:.0f}/s ({th['received']} received{', in order' if th['chinwag_in_order'] else ''})",
            f"{e['median']:.0f}/s ({e['min']:.0f}–{e['max']:.0f})",
            ratio(th["chinwag_msgs_per_s"], e["median"]), "≥ 0.5x",
            "yes" if th["chinwag_msgs_per_s"] >= 0.5 * e["median"] else "no")
    if res.get("jsonrpc_call_ms"):
        row("JSON-RPC call floor (`getSelf`, no network, no disk)", fmt(res["jsonrpc_call_ms"]), "–", "–", "–", "–")
    tl, tt = res.get("tmpfs_latency"), res.get("tmpfs_throughput")
    if tl:
        c, b = tl["chinwag_receipt_rtt_ms"], tl["tls_echo_rtt_ms"]
        row("Round trip p50, profiles on tmpfs (no fsync cost)", fmt(c), fmt(b), ratio(c["median"], b["median"]),
            "diagnostic", "–")
    if tt:
        e = tt["tls_echo_msgs_per_s"]
        row(f"Throughput, profiles on tmpfs, burst of {tt['messages']}", f"{tt['chinwag_msgs_per_s']:.0f}/s",
            f"{e['median']:.0f}/s", ratio(tt["chinwag_msgs_per_s"], e["median"]), "diagnostic", "–")
    st = res.get("setup")
    if st:
        c, b = st["chinwag_first_message_ms"], st["tls_handshake_and_echo_ms"]
        row("Connection setup: first message, no stream (→ receipt)", fmt(c), fmt(b) + " (TCP+TLS 1.3+1 echo)",
            ratio(c and c["median"], b["median"]), "–", "–")
    h = res.get("history")
    if h:
        row(f"History: FTS search over {h['messages']:,} messages", fmt(h["search_ms"]) + f", p99 {h['search_ms']['p99']:.2f} ms",
            fmt(h["fts5_ms"]) + f", p99 {h['fts5_ms']['p99']:.2f} ms (bare FTS5)",
            ratio(h["search_ms"]["median"], h["fts5_ms"]["median"]), "–", "–")
        row("History: latest page of 50", fmt(h["page_ms"]), fmt(h["bare_page_ms"]) + " (bare SELECT)",
            ratio(h["page_ms"]["median"], h["bare_page_ms"]["median"]), "–", "–")
        row("History: bulk insert (1,000 per transaction)", f"{h['bulk_insert_per_s']:.0f}/s",
            f"{h['raw_insert_per_s']:.0f}/s (reused statement)", ratio(h["bulk_insert_per_s"], h["raw_insert_per_s"]),
            "–", "–")
        row("History: one message, one commit (as received)", fmt(h["live_insert_ms"]), fmt(h["raw_live_insert_ms"]),
            ratio(h["live_insert_ms"]["median"], h["raw_live_insert_ms"]["median"]), "–", "–")
    fp = res.get("footprint")
    if fp:
        c, f = fp["chinwag-cli"], fp["finch"]
        row("Footprint, 50 peers: RSS", f"{c['rss_kb'] / 1024:.1f} MiB", f"{f['rss_kb'] / 1024:.1f} MiB (finch)",
            ratio(c["rss_kb"], f["rss_kb"]), "–", "–")
        def cpu(x):
            return f"{x['idle_cpu_percent']:.2f} %" if x["idle_cpu_percent"] > 0 else "0 ticks (< 0.02 %)"
        row("Footprint, 50 peers: idle CPU", cpu(c), cpu(f) + " (finch)",
            ratio(c["idle_cpu_percent"], f["idle_cpu_percent"]) if f["idle_cpu_percent"] > 0 else "n/a", "–", "–")
    head = ("| figure | Chinwag: median (p10–p90) | baseline: median (p10–p90) | ratio | goal | met |\n"
            "|---|---|---|---|---|---|")
    return head + "\n" + "\n".join(rows)


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "loadavg_at_start": load}


def write_markdown(path, res):
    m = res["machine"]
    block = (f"<!-- bench:table:begin (written by bench/run.py) -->\n"
             f"Run of {m['date']}{' (BENCH_QUICK)' if res.get('quick') else ''}: {m['nproc']} CPUs "
             f"({m['cpu']}), kernel {m['kernel']}, load average at start {' '.join(m['loadavg_at_start'])}, "
             f"total {res['total_s'] / 60:.1f} min.\n\n" + table(res) + "\n<!-- bench:table:end -->")
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    rx = re.compile(r"<!-- bench:table:begin.*?<!-- bench:table:end -->", re.S)
    if rx.search(text):
        text = rx.sub(lambda _: block, text)
    else:
        text = (text or "# Benchmarks\n\n") + "\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", default=bool(os.environ.get("BENCH_QUICK")))
    ap.add_argument("--only", default="")
    ap.add_argument("--results", default=os.path.join(HERE, "results", "latest.json"))
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--merge", action="store_true",
                    help="keep the other figures of an existing --results file (with --only)")
    ap.add_argument("--soak", type=float, default=None, metavar="MINUTES")
    ap.add_argument("--soak-rate", type=int, default=100)
    args = ap.parse_args()
    testbed.skip_unless_root() if os.geteuid() == 0 else sys.exit("bench/run.py needs root (network namespaces)")
    testbed.cli_path()
    os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
    t_start = time.monotonic()
    if args.soak is not None:
        res = {"machine": machine(), "soak": soak(int(args.soak), args.soak_rate)}
        res["total_s"] = time.monotonic() - t_start
        with open(args.results, "w") as f:
            json.dump(res, f, indent=1)
        s = res["soak"]
        print(f"soak: {s['minutes']} min at {s['rate']}/s; RSS slope alice {s['alice_rss_slope_kb_per_min']} "
              f"kB/min, bob {s['bob_rss_slope_kb_per_min']} kB/min; sent {s['sent']}, received {s['received']}")
        return
    q = args.quick
    only = set(filter(None, args.only.split(",")))

    def want(name):
        return not only or name in only
    res = {"machine": machine(), "quick": q}
    if args.merge and os.path.exists(args.results):
        with open(args.results) as f:
            res = json.load(f)
        res.pop("errors", None)
        res.setdefault("merged_runs", []).append(machine())
    steps = [
        ("discovery3", lambda: bench_discovery(3, 3 if q else 6)),
        ("discovery12", lambda: bench_discovery(12, 2 if q else 4)),
        ("departure", lambda: bench_departure(2 if q else 4)),
        ("status", lambda: bench_status(6 if q else 20)),
        ("messages", lambda: bench_messages(100 if q else 400, 2000 if q else 10000, 3 if q else 6)),
        ("tmpfs", lambda: bench_messages(100 if q else 200, 2000 if q else 10000, 0, tmpfs=True)),
        ("history", lambda: bench_history(100000 if q else 1000000, 100 if q else 300)),
        ("footprint", lambda: bench_footprint(15 if q else 60)),
    ]
    for name, fn in steps:
        if not want(name) and not (name == "messages" and only & {"latency", "throughput", "setup"}):
            continue
        t = time.monotonic()
        try:
            r = fn()
        except Exception as e:    # one figure failing must not lose the others
            log(f"{name} FAILED: {e!r}")
            res.setdefault("errors", {})[name] = repr(e)
            continue
        if name == "messages":
            res.update(r)
        elif name == "tmpfs":
            res.update({f"tmpfs_{k}": v for k, v in r.items()})
        else:
            res[name] = r
        res.setdefault("step_s", {})[name] = time.monotonic() - t
    res["total_s"] = res.get("total_s", 0) + time.monotonic() - t_start if args.merge else time.monotonic() - t_start
    with open(args.results, "w") as f:
        json.dump(res, f, indent=1)
    print()
    print(table(res))
    if res.get("errors"):
        print(f"\nfailed steps: {res['errors']}")
    if args.markdown:
        write_markdown(args.markdown, res)
        log(f"table written to {args.markdown}")
    log(f"results in {args.results}; total {res['total_s'] / 60:.1f} min")


if __name__ == "__main__":
    main()
