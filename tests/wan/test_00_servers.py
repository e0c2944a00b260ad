#!/usr/bin/env python3
"""Self-test of the throwaway XMPP servers (xmpp_server.py), with a client
nobody here wrote: Debian's python3-slixmpp.

For each of Prosody and ejabberd: start on 127.0.0.1 (and listen nowhere
else), register alice and bob; log in alice (two resources) and bob over
STARTTLS, trusting exactly the server's ca_file with the server name checked
(the server presents exactly that certificate; a plain ssl handshake with a
wrong name is refused); roster subscription both ways; a message alice ->
bob; a XEP-0223 private PEP item (publish-options pubsub#persist_items=true,
pubsub#access_model=whitelist) read back from alice's other resource and
refused to bob (forbidden / not-allowed); MAM advertised and 60 kB from a
client taken at once (no rate limit, no shaper); then stop, and the process
is gone and the port closed. Then a Prosody with Debian's stock settings
(mod_limits 10 kB/s, no MAM): no MAM advertised, 30 kB take 1.5 s or more.

Needs root for ejabberd (ejabberdctl switches to the ejabberd user); Prosody
runs as any user. Exits 77 with a line when a server or slixmpp is missing or
when not root.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lan"))

try:
    import slixmpp  # noqa: F401  (only: is it importable?)
except ImportError:
    # python3-slixmpp is installed for Debian's interpreter; a pyenv python3 may not see it.
    if os.path.exists("/usr/bin/python3") and not os.environ.get("CHINWAG_WAN_REEXEC"):
        os.environ["CHINWAG_WAN_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])

import asyncio  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import time  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402
from pathlib import Path  # noqa: E402

import testbed  # noqa: E402
from testbed import Skip, check, log  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xmpp_server  # noqa: E402
from xmpp_server import Ejabberd, Prosody, port_open  # noqa: E402

PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options"
MAM = "urn:xmpp:mam:2"
NODE = "urn:chinwag:test:private:0"
PAYLOAD_NS = "urn:chinwag:test:0"
STEP_TIMEOUT = 10


def starttls_handshake(server, server_name):
    """A bare STARTTLS by hand (stdlib only), trusting exactly ca_file and checking
    server_name. Returns the server's certificate (DER); raises ssl errors."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname, CERT_REQUIRED, no CAs
    ctx.load_verify_locations(cafile=server.ca_file)
    with socket.create_connection((server.host, server.port), timeout=STEP_TIMEOUT) as sock:
        sock.sendall(f"<?xml version='1.0'?><stream:stream to='{server.domain}' version='1.0' "
                     "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
                     .encode())
        buf = b""
        while b"</stream:features>" not in buf:
            data = sock.recv(4096)
            if not data:
                raise ConnectionError(f"stream closed before features: {buf!r}")
            buf += data
        if b"urn:ietf:params:xml:ns:xmpp-tls" not in buf:
            raise ConnectionError(f"no STARTTLS offered: {buf!r}")
        sock.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        buf = b""
        while not re.search(rb"<proceed[^>]*/>", buf):
            data = sock.recv(4096)
            if not data:
                raise ConnectionError(f"no <proceed/>: {buf!r}")
            buf += data
        with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
            return tls.getpeercert(binary_form=True)


def make_client(server, user, password, resource):
    c = slixmpp.ClientXMPP(f"{user}@{server.domain}/{resource}", password)
    # Trust exactly the server's certificate, check the name (default_domain = the
    # JID's domain): a fresh context has no system CAs, and with ca_certs set
    # slixmpp does not add them (it would call set_default_verify_paths()).
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.ssl_context = ctx
    c.ca_certs = Path(server.ca_file)
    c.auto_authorize = True
    c.auto_subscribe = False
    for plugin in ("xep_0004", "xep_0030", "xep_0060", "xep_0163", "xep_0223", "xep_0199"):
        c.register_plugin(plugin)
    c.test_peer_certs = []
    c.test_messages = []
    c.add_event_handler("ssl_cert", lambda pem: c.test_peer_certs.append(pem))
    c.add_event_handler("message", lambda msg: c.test_messages.append(msg)
                        if msg["type"] in ("chat", "normal") and msg["body"] else None)
    return c


async def login(c, server):
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def finish(ok, why=None):
        if not done.done():
            done.set_result((ok, why))

    c.add_event_handler("session_start", lambda e: finish(True))
    c.add_event_handler("failed_auth", lambda e: finish(False, "authentication failed"))
    c.add_event_handler("ssl_invalid_chain", lambda e: finish(False, f"TLS refused: {e}"))
    c.add_event_handler("connection_failed", lambda e: finish(False, f"connection failed: {e}"))
    c.add_event_handler("disconnected", lambda e: finish(False, "disconnected during login"))
    c.connect((server.host, server.port), use_ssl=False, force_starttls=True)
    try:
        ok, why = await asyncio.wait_for(done, STEP_TIMEOUT)
    except asyncio.TimeoutError:
        ok, why = False, f"no session within {STEP_TIMEOUT} s"
    check(ok, f"{server.kind}: {c.boundjid} logged in over STARTTLS ({why or 'session started'})")
    c.send_presence()
    await c.get_roster(timeout=STEP_TIMEOUT)


async def wait_for(predicate, timeout=STEP_TIMEOUT, interval=0.05):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)
    return True


def subscription(c, other):
    return c.client_roster[other]["subscription"] if other in c.client_roster else "none"


async def upload_seconds(c, total=60000, chunks=4):
    """Seconds to store total bytes of private XML (XEP-0049) in chunks, each iq
    answered before the next: the server's read rate limit shows here."""
    t0 = time.monotonic()
    for i in range(chunks):
        query = ET.Element("{jabber:iq:private}query")
        blob = ET.SubElement(query, f"{{{PAYLOAD_NS}}}blob{i}")
        blob.text = "x" * (total // chunks)
        await c.make_iq_set(sub=query).send(timeout=STEP_TIMEOUT * 3)
    return time.monotonic() - t0


async def account_features(c, bare):
    info = await c["xep_0030"].get_info(jid=bare, timeout=STEP_TIMEOUT)
    return set(info["disco_info"]["features"])


async def stock_scenario(server):
    """Prosody with Debian's stock limits (mod_limits c2s 10 kB/s) and without MAM."""
    alice = make_client(server, "alice", "alice-pw", "one")
    try:
        await login(alice, server)
        features = await account_features(alice, f"alice@{server.domain}")
        check(MAM not in features, f"{server.kind} (stock settings): no MAM advertised")
        seconds = await upload_seconds(alice, total=30000)
        check(seconds >= 1.5, f"{server.kind} (stock settings): 30 kB from a client take "
                              f"{seconds:.2f} s (mod_limits 10 kB/s)")
    finally:
        await asyncio.wait_for(alice.disconnect(wait=2.0), 5)


async def scenario(server):
    dom = server.domain
    alice_bare, bob_bare = f"alice@{dom}", f"bob@{dom}"
    alice1 = make_client(server, "alice", "alice-pw", "one")
    alice2 = make_client(server, "alice", "alice-pw", "two")
    from slixmpp.exceptions import IqError
    bob = make_client(server, "bob", "bob-pw", "phone")
    clients = [alice1, alice2, bob]
    try:
        for c in clients:
            await login(c, server)
        pem = open(server.ca_file).read()
        own = ssl.PEM_cert_to_DER_cert(pem)
        check(all(len(c.test_peer_certs) == 1 and ssl.PEM_cert_to_DER_cert(c.test_peer_certs[0])
                  == own for c in clients),
              f"{server.kind}: each client got exactly the harness's certificate over STARTTLS")
        check(all(len(c.ssl_context.get_ca_certs()) == 1 and c.ssl_context.check_hostname
                  and c.ssl_context.verify_mode == ssl.CERT_REQUIRED for c in clients),
              f"{server.kind}: the clients trusted exactly one CA, with the server name checked")

        # Roster subscription both ways (auto_authorize: each approves the other's request).
        alice1.send_presence_subscription(pto=bob_bare)
        bob.send_presence_subscription(pto=alice_bare)
        check(await wait_for(lambda: subscription(alice1, bob_bare) == "both"
                             and subscription(bob, alice_bare) == "both"),
              f"{server.kind}: alice and bob are subscribed both ways "
              f"(alice: {subscription(alice1, bob_bare)}, bob: {subscription(bob, alice_bare)})")

        # A message alice -> bob.
        body = "hello bob <&> \u00e9\u4e2d"
        alice1.send_message(mto=bob_bare, mbody=body, mtype="chat")
        check(await wait_for(lambda: any(m["body"] == body and m["from"].bare == alice_bare
                                         for m in bob.test_messages)),
              f"{server.kind}: bob got alice's message, from alice's JID")

        # XEP-0223: a private PEP item.
        features = await account_features(alice1, alice_bare)
        check(PUBLISH_OPTIONS in features,
              f"{server.kind}: alice's account advertises pubsub#publish-options")
        check(MAM in features, f"{server.kind}: alice's account advertises MAM ({MAM})")
        seconds = await upload_seconds(alice1)
        check(seconds < 1.5, f"{server.kind}: 60 kB from a client take {seconds:.2f} s "
                             "(no rate limit)")
        options = alice1["xep_0004"].make_form(ftype="submit")
        options.add_field(var="FORM_TYPE", ftype="hidden", value=PUBLISH_OPTIONS)
        options.add_field(var="pubsub#persist_items", value="true")
        options.add_field(var="pubsub#access_model", value="whitelist")
        secret = ET.Element(f"{{{PAYLOAD_NS}}}secret")
        secret.text = "only alice reads this"
        await alice1["xep_0060"].publish(alice_bare, NODE, id="current", payload=secret,
                                         options=options, timeout=STEP_TIMEOUT)
        log(f"{server.kind}: alice published a private item with publish-options")

        got = await alice2["xep_0060"].get_item(alice_bare, NODE, "current",
                                                timeout=STEP_TIMEOUT)
        items = list(got["pubsub"]["items"])
        payload = items[0]["payload"] if items else None
        check(payload is not None and payload.tag == f"{{{PAYLOAD_NS}}}secret"
              and payload.text == secret.text,
              f"{server.kind}: alice's other resource reads the private item back")

        condition = None
        try:
            await bob["xep_0060"].get_item(alice_bare, NODE, "current", timeout=STEP_TIMEOUT)
        except IqError as e:
            condition = e.iq["error"]["condition"]
        check(condition in ("forbidden", "not-allowed"),
              f"{server.kind}: bob is refused alice's private item ({condition})")
    finally:
        ends = [c.disconnect(wait=2.0) for c in clients]
        try:
            await asyncio.wait_for(asyncio.gather(*ends, return_exceptions=True), 5)
        except asyncio.TimeoutError:
            log(f"{server.kind}: a client did not disconnect within 5 s")


def exercise(server, scenario_function):
    """Start server, register alice and bob, check TLS by hand, run the slixmpp
    scenario, stop, and check the process is gone and the port closed."""
    t0 = time.monotonic()
    with server:
        kind = server.kind
        listening = sorted(server.listening())
        check(listening and all(ip == "127.0.0.1" for ip, _ in listening)
              and ("127.0.0.1", server.port) in listening,
              f"{kind}: listens on 127.0.0.1 only: {listening}")
        for user in ("alice", "bob"):
            server.register(user, f"{user}-pw")
        log(f"{kind}: registered alice and bob")

        check(starttls_handshake(server, server.domain) ==
              ssl.PEM_cert_to_DER_cert(open(server.ca_file).read()),
              f"{kind}: a bare STARTTLS verifies the certificate for {server.domain}")
        refused = None
        try:
            starttls_handshake(server, "not-" + server.domain)
        except ssl.SSLCertVerificationError as e:
            refused = e.verify_message
        check(refused is not None, f"{kind}: the same certificate is refused for another "
                                   f"name ({refused})")

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(asyncio.wait_for(scenario_function(server), 60))
            except BaseException:
                print(f"--- {kind} log tail:\n" + "\n".join(server.log_text().splitlines()[-60:]),
                      flush=True)
                raise
        finally:
            # slixmpp leaves its stream tasks pending: end them before closing the loop.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()
            asyncio.set_event_loop(None)

        pid, port = server.pid, server.port
        t_stop = time.monotonic()
        server.stop()
        check(not xmpp_server._pid_alive(pid), f"{kind}: process {pid} is gone after stop "
                                               f"({time.monotonic() - t_stop:.2f} s)")
        check(not port_open(port), f"{kind}: port {port} is closed after stop")
    log(f"{kind}: whole run {time.monotonic() - t0:.2f} s (start {server.start_seconds:.2f} s)")


def test():
    try:
        import slixmpp  # noqa: F401
    except ImportError:
        raise Skip("python3-slixmpp not installed (tools/install-deps)")
    if os.geteuid() != 0:
        raise Skip("needs root (ejabberdctl switches to the ejabberd user; as root Prosody "
                   "runs with run_as_root)")
    logging.basicConfig(level=logging.ERROR, format="slixmpp %(levelname)s: %(message)s")
    t0 = time.monotonic()
    exercise(Prosody(), scenario)
    exercise(Prosody(limits=True, mam=False), stock_scenario)
    exercise(Ejabberd(), scenario)
    log(f"all servers: {time.monotonic() - t0:.2f} s")


if __name__ == "__main__":
    testbed.main(test)
