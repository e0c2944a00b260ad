#!/usr/bin/env python3
"""finch (libpurple Bonjour) on the simulated LAN, driven by hand-made XEP-0174.

Checks, on hosts a and c:
1. finch on c signs on; its _presence._tcp record bob@cw-c is resolved by
   avahi-browse on a with txtvers=1 and port.p2pj equal to the SRV port.
2. a publishes alice@cw-a (avahi-publish, TXT txtvers/port.p2pj/status/nick/1st);
   finch lists alice as an online buddy.
3. a opens TCP to finch's advertised address/port with a plaintext stream
   header from='alice@cw-a'; finch answers with its header; a sends a chat
   <message>; finch shows "hi finch" (screen or chat log).
4. finch (driven through libpurple's D-Bus API) replies on that same stream.
5. a closes the stream; finch answers </stream:stream>.
6. finch sends again: it opens a new TCP connection to alice's advertised port
   (a listener on a), sends its header, waits for ours, then the <message>;
   the body arrives intact.
7. finch quits: its record disappears from a's browser.
"""

import re
import time

import testbed
from testbed import STREAM_RX, Lan, check, recv_until, run_until, stream_header
from finch_peer import FinchPeer

ALICE = "alice@cw-a"
PORT = 5298


BODY_RX = rb"<message[^>]*>.*?<body>(.*?)</body>.*?</message>"


def test():
    testbed.skip_unless_root()
    with Lan(["a", "c"]) as lan:
        a, c = lan["a"], lan["c"]
        browser = a.avahi_browse("_presence._tcp")
        finch = FinchPeer(c, user="bob", first="Bob")
        try:
            t0 = time.monotonic()
            finch.start().wait_ready()
            check(True, f"finch signed on as {finch.account} in {time.monotonic() - t0:.2f}s")
            bob = finch.account
            ev = browser.wait_resolved(bob, 10, proto="IPv4")
            check(ev is not None, f"a resolves {bob} over IPv4")
            check(ev["address"] == c.ip, f"at c's address {c.ip}")
            check(ev["txt"].get("txtvers") == "1", "TXT txtvers=1")
            check(ev["txt"].get("port.p2pj") == str(ev["port"]),
                  f"TXT port.p2pj={ev['port']} equals the SRV port")
            check(ev["txt"].get("status") == "avail", "TXT status=avail")
            ev6 = browser.wait_resolved(bob, 5, proto="IPv6")
            check(ev6 is not None and ev6["address"] == c.ip6,
                  f"and over IPv6 at c's link-local {c.ip6}")

            # Alice's listener exists before she is published, like a real peer.
            listener = a.listen(PORT)
            a.avahi_publish(ALICE, "_presence._tcp", PORT,
                            ["txtvers=1", f"port.p2pj={PORT}", "status=avail",
                             "nick=Alice", "1st=Alice"])
            check(run_until(lambda: finch.buddy_online(ALICE), 10, 0.2),
                  f"finch lists {ALICE} as an online buddy")

            # Incoming stream to finch (it checks source IP and from=).
            s = a.connect(ev["address"], ev["port"])
            s.sendall(stream_header(ALICE, bob, version=True, encoding="UTF-8"))
            m, data = recv_until(s, STREAM_RX, 5)
            check(m is not None, f"finch answers with a stream header: {m and m.group(0)}")
            check(f'from="{bob}"'.encode() in m.group(0) or f"from='{bob}'".encode() in m.group(0),
                  "its header says from=bob@cw-c")
            rest = data[m.end():]
            s.sendall(f"<message type='chat' to='{bob}' from='{ALICE}'>"
                      f"<body>hi finch</body></message>".encode())
            check(run_until(lambda: finch.received("hi finch"), 5, 0.1),
                  "finch shows 'hi finch'")

            # finch replies over the stream that is already open.
            finch.send(ALICE, "reply on the same stream")
            m, rest = recv_until(s, BODY_RX, 5, rest)
            check(m is not None and m.group(1) == b"reply on the same stream",
                  f"finch's reply arrives on the open stream: {m and m.group(0)[:120]}")
            rest = rest[m.end():]

            s.sendall(b"</stream:stream>")
            m, rest = recv_until(s, rb"</stream:stream>", 5, rest)
            check(m is not None, "finch answers the stream close with </stream:stream>")
            s.close()

            # Outgoing from finch: a new connection to alice's advertised port.
            listener.settimeout(10)
            t0 = time.monotonic()
            finch.send(ALICE, "hello alice")
            conn, peer = listener.accept()
            check(True, f"finch connected to alice's port from {peer[0]} "
                        f"in {time.monotonic() - t0:.2f}s")
            m, data = recv_until(conn, STREAM_RX, 5)
            check(m is not None, "finch sends its stream header first")
            check(not re.search(BODY_RX, data),
                  "and no message before our header")
            conn.sendall(stream_header(ALICE, bob, version=True, encoding="UTF-8"))
            m, data = recv_until(conn, BODY_RX, 5, data[m.end():])
            check(m is not None and m.group(1) == b"hello alice",
                  "after our header finch sends <message> with body 'hello alice'")
            conn.sendall(b"</stream:stream>")
            recv_until(conn, rb"</stream:stream>", 3)
            conn.close()
            listener.close()

            # Clean quit: finch signs off and avahi withdraws its record.
            t0 = time.monotonic()
            finch.stop()
            check(browser.wait_removed(bob, 8, since=t0),
                  f"finch's record removed {time.monotonic() - t0:.2f}s after it quit")
        except BaseException:
            finch.dump_logs()
            raise
        finally:
            finch.stop()


if __name__ == "__main__":
    testbed.main(test)
