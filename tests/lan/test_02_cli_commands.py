#!/usr/bin/env python3
"""chinwag-cli as a script sees it: one-shot commands, the profile lock, JSON-RPC errors.

Needs no network and no root: the JSON-RPC session runs without an avahi-daemon, which
must be reported as a notice while everything local keeps working.
"""
import json
import os
import select
import stat
import subprocess
import sys
import tempfile
import time

CLI = os.environ.get("CHINWAG_CLI", "chinwag-cli")


def run(*args, expect=0):
    p = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=30)
    if p.returncode != expect:
        raise AssertionError(f"{args}: exit {p.returncode}, wanted {expect}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p


class Rpc:
    def __init__(self, profile):
        env = dict(os.environ)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=/nonexistent/chinwag-test-bus"
        self.p = subprocess.Popen([CLI, "--profile", profile, "jsonrpc"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.buf = b""
        self.seen = []

    def line(self, timeout=10):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.p.stdout], [], [], left)[0]:
                raise AssertionError("no reply from chinwag-cli jsonrpc")
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError("chinwag-cli jsonrpc closed stdout")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        obj = json.loads(line)
        self.seen.append(obj)
        return obj

    def raw(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def reply(self, data):
        """Sends data and returns the first response (skipping notifications)."""
        self.raw(data)
        while True:
            obj = self.line()
            if "method" not in obj:
                return obj


def main():
    with tempfile.TemporaryDirectory() as tmp:
        profile = os.path.join(tmp, "alice")

        print("one-shot commands before init say what to do")
        p = run("--profile", profile, "whoami", expect=1)
        assert "init" in p.stderr, p.stderr

        print("init creates a private key and prints the fingerprint")
        p = run("--profile", profile, "init", "--nick", "Alice")
        groups = p.stdout.split()
        assert len(groups) == 16 and all(len(g) == 4 for g in groups), p.stdout
        mode = stat.S_IMODE(os.stat(os.path.join(profile, "identity.key")).st_mode)
        assert mode == 0o600, oct(mode)

        print("whoami shows nick and the same fingerprint")
        p = run("--profile", profile, "whoami")
        assert "nick: Alice" in p.stdout and " ".join(groups) in p.stdout, p.stdout

        print("usage errors exit 2")
        run("--profile", profile, "no-such-command", expect=2)
        run("--bogus-option", expect=2)

        print("history of an unknown peer is a clear error")
        p = run("--profile", profile, "history", "nobody@nowhere", expect=1)
        assert "nobody@nowhere" in p.stderr, p.stderr

        print("jsonrpc runs without avahi-daemon and says so")
        rpc = Rpc(profile)
        r = rpc.reply(b'{"jsonrpc":"2.0","id":1,"method":"getSelf"}\n')
        assert r["id"] == 1 and r["result"]["nick"] == "Alice", r
        assert r["result"]["fingerprint"] == "".join(groups), r

        print("a second process on the same profile is refused in plain words")
        p = run("--profile", profile, "whoami", expect=1)
        assert "in use" in p.stderr, p.stderr

        print("malformed requests get JSON-RPC errors and the session goes on")
        cases = [
            (b'{"jsonrpc":"2.0","id":2,"method":\n', -32700),
            (b'\xff\xfe garbage\n', -32700),
            (b'[1,2,3]\n', -32600),
            (b'{"jsonrpc":"2.0","id":3,"method":"noSuchMethod"}\n', -32601),
            (b'{"jsonrpc":"2.0","id":4,"method":"send","params":{"to":5}}\n', -32602),
            (b'{"jsonrpc":"2.0","id":5,"method":"setStatus","params":{"status":"sleeping"}}\n', -32602),
            (b'{"jsonrpc":"2.0","id":6,"method":"send","params":{"to":"ghost@x","body":"hi"}}\n', -32000),
            (b"[" * 100000 + b"\n", -32600),
            (b'{"jsonrpc":"2.0","id":7,"method":"getSelf","params":{"x":"' + b"a" * (2 << 20) + b'"}}\n', -32600),
        ]
        for data, code in cases:
            r = rpc.reply(data)
            assert r.get("error", {}).get("code") == code, (data[:60], r)
        r = rpc.reply(b'{"jsonrpc":"2.0","id":8,"method":"setStatus","params":{"status":"away","message":"out"}}\n')
        assert r == {"jsonrpc": "2.0", "id": 8, "result": {}}, r
        r = rpc.reply(b'{"jsonrpc":"2.0","id":9,"method":"listPeers"}\n')
        assert r["result"] == [], r
        notices = [o for o in rpc.seen if o.get("method") == "notice"]
        assert any(n["params"]["kind"] == "discovery" for n in notices), rpc.seen

        print("quit exits cleanly and frees the profile")
        r = rpc.reply(b'{"jsonrpc":"2.0","id":10,"method":"quit"}\n')
        assert r["id"] == 10 and "result" in r, r
        assert rpc.p.wait(timeout=10) == 0
        err = rpc.p.stderr.read().decode(errors="replace")
        assert "getSelf" not in err and "out" not in err.split(), err
        run("--profile", profile, "whoami")
        print("PASS")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("FAIL:", e)
        sys.exit(1)
