#!/usr/bin/env python3
"""Self-test of the simulated LAN (testbed.py).

Checks: 3 hosts come up, each with its own dbus-daemon and avahi-daemon; a
service published with avahi-publish on b is resolved by a long-running
avahi-browse on a (IPv4 and IPv6 link-local) within a few seconds; the
publisher's clean exit is seen as a removal; b's avahi-daemon restarts and b
can publish again; hosts reach each other by IPv4 and IPv6 link-local; a cut
link at the switch isolates a host and restoring it heals; teardown leaves no
namespace and no process behind.
"""

import os
import signal
import time

import testbed
from testbed import Lan, check, run_until


def reachable(src, dst_addr, port, timeout=1.0):
    """A TCP connect from host src to dst_addr:port succeeds (no ping needed)."""
    try:
        src.connect(dst_addr, port, timeout).close()
        return True
    except OSError:
        return False


# A tiny JSON-RPC 2.0 line server, to check JsonRpcProcess itself (the real
# peer is chinwag-cli jsonrpc): "echo" returns params, "fail" returns an error,
# "notify" sends a notification {"method": "tick", "params": {"n": i}} per i.
RPC_SERVER = r"""
import json, sys
for line in sys.stdin:
    req = json.loads(line)
    m, p, i = req["method"], req.get("params"), req.get("id")
    out = []
    if m == "echo":
        out.append({"jsonrpc": "2.0", "id": i, "result": p})
    elif m == "notify":
        for n in range(p["count"]):
            out.append({"jsonrpc": "2.0", "method": "tick", "params": {"n": n}})
        out.append({"jsonrpc": "2.0", "id": i, "result": True})
    else:
        out.append({"jsonrpc": "2.0", "id": i,
                    "error": {"code": -32601, "message": "no such method " + m}})
    for o in out:
        print(json.dumps(o), flush=True)
    print("stderr line for " + m, file=sys.stderr, flush=True)
"""


def test():
    testbed.skip_unless_root()
    lan = Lan(["a", "b", "c"])
    prefix = lan.prefix
    daemon_pids = []
    with lan:
        a, b, c = lan["a"], lan["b"], lan["c"]
        check(sorted(lan.namespaces()) == sorted(f"{prefix}{n}" for n in ("a", "b", "c", "br")),
              f"namespaces {prefix}a/b/c/br exist")
        for h in lan:
            check(h.avahi.poll() is None and h.dbus.poll() is None,
                  f"{h.name}: dbus-daemon and avahi-daemon run")
            daemon_pids += [h.avahi.pid, h.dbus.pid]
        check(a.ip6.startswith("fe80::"), f"a has link-local {a.ip6}")

        # Connectivity (IPv4 and IPv6 link-local) through the switch.
        lsn = b.listen(7000)
        check(reachable(a, b.ip, 7000), "a reaches b over IPv4 (TCP)")
        check(reachable(c, b.ip6, 7000), "c reaches b over IPv6 link-local (TCP)")
        check(not reachable(a, "127.0.0.1", 7000), "a's loopback is its own, not b's")
        # Each host has its own system bus: avahi's D-Bus name is on b's bus.
        r = b.run(["dbus-send", "--system", "--print-reply", "--dest=org.freedesktop.Avahi",
                   "/", "org.freedesktop.Avahi.Server.GetHostName"], timeout=10)
        check(r.returncode == 0 and '"cw-b"' in r.stdout,
              "b's avahi-daemon answers on b's own system bus with host name cw-b")

        browser = a.avahi_browse("_presence._tcp")
        name = "tester@cw-b"
        t0 = time.monotonic()
        pub = b.avahi_publish(name, "_presence._tcp", 5298,
                              ["txtvers=1", "port.p2pj=5298", "status=avail"])
        ev4 = browser.wait_resolved(name, 8, proto="IPv4")
        check(ev4 is not None, f"a's browser resolved {name} over IPv4 "
                               f"in {time.monotonic() - t0:.2f}s")
        check(ev4["address"] == b.ip and ev4["port"] == 5298, f"address {b.ip} port 5298")
        check(ev4["txt"].get("port.p2pj") == "5298" and ev4["txt"].get("txtvers") == "1",
              "TXT txtvers=1 port.p2pj=5298")
        ev6 = browser.wait_resolved(name, 5, proto="IPv6")
        check(ev6 is not None and ev6["address"] == b.ip6,
              f"resolved over IPv6 at b's link-local {b.ip6}")
        check(ev6["host"] == "cw-b.local", "host name cw-b.local")

        # A clean exit of the publisher withdraws the record (about 1 s).
        t0 = time.monotonic()
        pub.terminate()
        pub.wait(5)
        check(browser.wait_removed(name, 6, since=t0),
              f"removal seen on a {time.monotonic() - t0:.2f}s after the publisher exited")

        # avahi-daemon restart on b: it comes back and b publishes again.
        old = b.avahi.pid
        b.avahi_restart()
        check(b.avahi.pid != old and b.avahi.poll() is None, "b's avahi-daemon restarted")
        daemon_pids.append(b.avahi.pid)
        name2 = "again@cw-b"
        t0 = time.monotonic()
        b.avahi_publish(name2, "_presence._tcp", 5299, ["txtvers=1", "port.p2pj=5299"])
        check(browser.wait_resolved(name2, 8) is not None,
              f"after the restart a resolves {name2} in {time.monotonic() - t0:.2f}s")

        # SIGKILL restart too (no goodbyes; the old records just stay cached).
        b.avahi_restart(sig=signal.SIGKILL)
        check(b.avahi.poll() is None, "b's avahi-daemon restarts after SIGKILL")
        daemon_pids.append(b.avahi.pid)

        # Cable cut at the switch: c can no longer reach b, then again.
        b.link_cut()
        check(not reachable(c, b.ip6, 7000, 0.5) and not reachable(c, b.ip, 7000, 0.5),
              "link cut at the switch: c cannot reach b")
        b.link_restore()
        check(run_until(lambda: reachable(c, b.ip, 7000, 0.5), 5),
              "link restored: c reaches b again")
        lsn.close()

        # JsonRpcProcess against a tiny line server on host c.
        rpc = testbed.JsonRpcProcess(c, ["python3", "-u", "-c", RPC_SERVER], name="rpc@c")
        try:
            check(rpc.call("echo", {"x": [1, "é"]}) == {"x": [1, "é"]}, "rpc call returns result")
            try:
                rpc.call("nope")
                check(False, "rpc error raises RpcError")
            except testbed.RpcError as e:
                check(e.code == -32601 and "nope" in e.message, "rpc error raises RpcError")
            check(rpc.call("notify", {"count": 3}) is True, "rpc call with notifications")
            check(rpc.wait_notification("tick", lambda p: p["n"] == 2, 2) == {"n": 2},
                  "wait_notification finds an already received notification")
            check(rpc.wait_notification("tick", timeout=2) == {"n": 0},
                  "unmatched notifications stay for later waits, in order")
            check([p["n"] for p in rpc.notifications("tick")] == [0, 1, 2],
                  "notifications() lists all")
            rpc.close_stdin()
            check(rpc.wait(5) == 0, "rpc process exits on EOF")
            check("stderr line for echo" in rpc.stderr_text(), "its stderr is captured")
        except BaseException:
            rpc.dump_logs()
            raise

        # A plain TCP exchange between namespaces (what the messenger will do).
        srv = c.popen(["python3", "-c",
                       "import socket;s=socket.socket();"
                       "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
                       "s.bind(('0.0.0.0',7777));s.listen();c,_=s.accept();"
                       "c.sendall(c.recv(100).upper())"])
        def connect():
            r = a.run(["python3", "-c",
                       "import socket;s=socket.create_connection(('%s',7777),2);"
                       "s.sendall(b'hello');print(s.recv(100).decode())" % c.ip], timeout=10)
            return r.returncode == 0 and "HELLO" in r.stdout
        check(run_until(connect, 5, 0.2), "TCP a -> c over the switch")
        srv.wait(5)

    left = [ns for ns in Lan._netns_list() if ns.startswith(prefix)]
    check(not left, f"teardown left no namespace (found {left})")
    check(not any(testbed._pid_alive(p) for p in daemon_pids),
          "teardown left no daemon running")
    check(not os.path.exists(lan.dir), "state dir removed")


if __name__ == "__main__":
    testbed.main(test)
