#!/usr/bin/env python3
"""A peer that advertises a pinned contact's fingerprint but cannot prove the key is refused.

alice pins bob's key, bob leaves. mallory (a hand-made XEP-0174 peer on host c with her own
Ed25519 certificate) publishes bob's fingerprint in her TXT record:
  - alice's queued message to bob goes to mallory's address, the TLS handshake shows another
    key: alice warns "key-mismatch", nothing is written to mallory, the message stays queued;
  - mallory connects to alice claiming to be that peer: alice's TLS check refuses her, and
    nothing from her is stored or shown;
  - when the real bob returns, the queued message reaches him exactly once.
"""
import os
import re
import ssl
import threading

import testbed
from testbed import CliGroup, Lan, check, log, recv_until, run_until, stream_header, wait_state, STREAM_RX

FEATURES = (b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
            b"</starttls></stream:features>")
PROCEED = b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
STARTTLS = b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"


def tls_context(server, profile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(os.path.join(profile, "identity.crt"), os.path.join(profile, "identity.key"))
    return ctx


def serve_as_mallory(listener, profile, result):
    """Answer one incoming XEP-0174 stream, offer STARTTLS, and try TLS with mallory's key."""
    listener.settimeout(30)
    try:
        conn, _ = listener.accept()
    except OSError as e:
        result["error"] = f"nobody connected: {e}"
        return
    with conn:
        m, data = recv_until(conn, STREAM_RX, timeout=10)
        result["header"] = data
        frm = re.search(rb"from=['\"]([^'\"]+)", data)
        conn.sendall(stream_header("bob@cw-c", frm.group(1).decode() if frm else "", version=True) + FEATURES)
        m, data = recv_until(conn, re.escape(STARTTLS), timeout=10)
        result["starttls"] = m is not None
        if not m:
            return
        conn.sendall(PROCEED)
        try:
            tls = tls_context(True, profile).wrap_socket(conn, server_side=True)
            result["handshake"] = "completed"
            tls.settimeout(3)
            result["plaintext"] = tls.recv(65536)
        except (ssl.SSLError, OSError) as e:
            result["handshake"] = f"refused: {e}"


def test():
    testbed.skip_unless_root()
    with Lan(hosts=["a", "b", "c"]) as lan, CliGroup(lan, on_exit="quit") as clis:
        cli = os.environ["CHINWAG_CLI"]
        mallory_profile = lan.path("profiles", "mallory")
        r = lan["c"].run([cli, "--profile", mallory_profile, "init", "--nick", "Mallory"])
        check(r.returncode == 0, "mallory has her own Ed25519 identity")

        alice = clis.start("a", "alice")
        bob = clis.start("b", "bob")
        bob_fp = bob.call("getSelf")["fingerprint"]
        check(testbed.wait_online(alice, bob_fp, True, 15), "alice sees bob")
        testbed.deliver(alice, bob, bob_fp, "hello bob")  # the stream proves bob's key: pinned
        check(testbed.find_peer(alice, bob_fp)["trust"] == "pinned", "alice pinned bob's proven key")
        bob.call("quit")
        check(testbed.wait_online(alice, bob_fp, False, 10), "bob left")
        sent = alice.call("send", {"to": bob_fp, "body": "for bob's eyes only"})

        log("mallory publishes bob's fingerprint and listens")
        listener = lan["c"].listen(0)
        port = listener.getsockname()[1]
        result = {}
        server = threading.Thread(target=serve_as_mallory, args=(listener, mallory_profile, result), daemon=True)
        server.start()
        lan["c"].avahi_publish("bob@cw-c", "_presence._tcp", port,
                               txt=["txtvers=1", f"port.p2pj={port}", "status=avail", "nick=bob",
                                    f"cw-fp={bob_fp}", "cw-v=1"])
        w = alice.wait_notification("warning", lambda p: p["kind"] == "key-mismatch", timeout=20)
        log(f"alice warns: {w['detail']}")
        server.join(15)
        check(result.get("starttls") is True, "alice asked for TLS (no plaintext fallback)")
        check(str(result.get("handshake", "")).startswith("refused") or not result.get("plaintext"),
              f"mallory got nothing readable over TLS ({result.get('handshake')})")
        check(wait_state(alice, sent["id"], "queued", 1) and
              not testbed.state_seen(alice, sent["id"], "sent"), "the message is still queued for bob")

        log("mallory connects to alice claiming to be bob")
        browse = lan["c"].avahi_browse()
        ev = browse.wait_resolved("alice@cw-a", timeout=10)
        check(ev is not None, "mallory resolves alice's port")
        alice_port = int(ev["port"])
        s = lan["c"].connect(lan["a"].ip, alice_port)
        s.sendall(stream_header("bob@cw-c", "alice@cw-a", version=True))
        m, data = recv_until(s, rb"<starttls", timeout=10)
        check(m is not None, "alice demands STARTTLS from a keyed peer")
        s.sendall(STARTTLS)
        m, data = recv_until(s, rb"<proceed", timeout=10)
        check(m is not None, "alice proceeds to TLS")
        refused = False
        try:
            tls = tls_context(False, mallory_profile).wrap_socket(s)
            tls.settimeout(5)
            tls.sendall(stream_header("bob@cw-c", "alice@cw-a", version=True) +
                        b"<message type='chat' id='evil-1'><body>trust me</body></message>")
            refused = tls.recv(65536) == b""
        except (ssl.SSLError, OSError):
            refused = True
        check(refused, "alice refused mallory's TLS session")
        check(run_until(lambda: "evil-1" not in str(alice.notifications("message")), 2) and
              not any(n["body"] == "trust me" for n in alice.notifications("message")),
              "nothing from mallory was shown")
        history = alice.call("getHistory", {"peer": bob_fp, "limit": 50})
        check(all(h["body"] != "trust me" for h in history), "nothing from mallory was stored as bob's")
        browse.stop()

        check(not testbed.peer_online(alice, bob_fp), "a peer that could not prove bob's key does not make bob look online")
        log("the real bob returns (mallory's record still announced) and gets the message once")
        bob = clis.start("b", "bob")
        got = bob.wait_notification("message", lambda p: p["id"] == sent["id"], timeout=30)
        check(got["body"] == "for bob's eyes only" and got["secure"], "bob got it over TLS")
        check(wait_state(alice, sent["id"], "delivered", 10), "alice sees it delivered")
        check(len([n for n in bob.notifications("message") if n["id"] == sent["id"]]) == 1, "exactly once")


if __name__ == "__main__":
    testbed.main(test)
