#!/usr/bin/env python3
"""Chinwag's client-to-server login (transport::ClientStream, through cw-client-probe)
against real, throwaway Prosody and ejabberd servers on 127.0.0.1.

Prosody: a good login (STARTTLS, the server's certificate trusted through exactly its CA
file and checked against the domain, SCRAM, a bound resource); a wrong password is
"auth-failed" and never opens; without a trusted CA the login stops at "certificate" with
the SHA-256 of the presented certificate (the one openssl prints); that fingerprint, accepted
by the user, logs in without the CA (pinned); an accepted fingerprint that no longer matches
is refused with words saying it changed; a closed port is "unreachable". ejabberd: a good
login and a wrong password. Exits 77 when a server is missing or not root.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lan"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import testbed  # noqa: E402
from testbed import check, log  # noqa: E402
from xmpp_server import Ejabberd, Prosody, free_port  # noqa: E402

PROBE = os.path.join(os.environ.get("CHINWAG_BUILDDIR", os.path.join(os.path.dirname(__file__), "..", "..", "_build")),
                     "tests", "wan", "cw-client-probe")


def login(server, user, password, *extra, port=None):
    argv = [PROBE, "--jid", f"{user}@{server.domain}", "--host", "127.0.0.1",
            "--port", str(port or server.port), "--timeout", "15", *extra]
    r = subprocess.run(argv, env=dict(os.environ, CW_PASSWORD=password), capture_output=True,
                       text=True, timeout=60)
    events = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    check(password not in r.stdout and password not in r.stderr, "the password reached the output")
    return r.returncode, events, r.stderr


def opened(events):
    return next((e for e in events if e["event"] == "open"), None)


def closed(events):
    return next((e for e in events if e["event"] == "closed"), None)


def openssl_fingerprint(pem):
    out = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-sha256"],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().split("=", 1)[1].replace(":", "").lower()


def good_login(server):
    rc, events, err = login(server, "alice", "alice-secret-1", "--ca-file", server.ca_file)
    o = opened(events)
    check(rc == 0 and o, f"{server.kind}: login failed: {events} {err[-800:]}")
    check(o["jid"].startswith(f"alice@{server.domain}/"), o)
    check(o["mechanism"].startswith("SCRAM-SHA-"), o)
    check(o["tls"] in ("TLS1.3", "TLS1.2") and not o["pinned"], o)
    check(closed(events)["kind"] == "closed", events)
    log(f"{server.kind}: logged in as {o['jid']} ({o['tls']}, {o['mechanism']}, "
        f"channel bound: {o['channelBound']})")
    rc, events, _ = login(server, "alice", "wrong-password", "--ca-file", server.ca_file)
    c = closed(events)
    check(rc != 0 and not opened(events) and c["kind"] == "auth-failed", events)
    log(f"{server.kind}: wrong password: {c['detail']}")


def test():
    testbed.skip_unless_root()
    with Prosody() as server:
        server.register("alice", "alice-secret-1")
        good_login(server)

        rc, events, _ = login(server, "alice", "alice-secret-1")
        c = closed(events)
        fp = openssl_fingerprint(server.ca_file)
        check(not opened(events) and c["kind"] == "certificate" and c["certificate"] == fp, (events, fp))
        log(f"untrusted certificate refused, shown as {fp[:16]}…: {c['detail']}")

        rc, events, _ = login(server, "alice", "alice-secret-1", "--accept", fp)
        o = opened(events)
        check(rc == 0 and o and o["pinned"] and o["certificate"] == fp, events)
        log("the accepted certificate logs in without any CA")

        other = "00" * 32
        rc, events, _ = login(server, "alice", "alice-secret-1", "--accept", other)
        c = closed(events)
        check(not opened(events) and c["kind"] == "certificate" and "changed" in c["detail"], events)
        log(f"a changed certificate is refused: {c['detail']}")

        rc, events, _ = login(server, "alice", "alice-secret-1", "--ca-file", server.ca_file, port=free_port())
        c = closed(events)
        check(not opened(events) and c["kind"] == "unreachable", events)
        log(f"closed port: {c['detail']}")

    with Ejabberd() as server:
        server.register("alice", "alice-secret-1")
        good_login(server)


if __name__ == "__main__":
    testbed.main(test)
