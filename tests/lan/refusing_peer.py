"""A hand-made XEP-0174 legacy peer that refuses every message, for tests.

Some link-local clients bounce messages from people they do not know, or when
their user turned messages off: they answer `<message type='error'>` with the
message's id and an RFC 6120 §8.3 stanza error. Neither finch nor Chinwag does
that, so this peer is written by hand: it publishes `_presence._tcp` on its
host with avahi-publish (plain XEP-0174 TXT, no Chinwag key: a legacy peer),
listens on a TCP port in that host's namespace, answers each stream header
with its own, and answers each `<message>` with a body by a stanza error.
It records the ids and bodies it refused.
"""

import re
import socket
import threading

from testbed import log, stream_header

MESSAGE_RX = re.compile(rb"<message\b[^>]*?>.*?</message>|<message\b[^>]*/>", re.S)
ID_RX = re.compile(rb"""\bid=(['"])(.*?)\1""")
BODY_RX = re.compile(rb"<body[^>]*>(.*?)</body>", re.S)


class RefusingPeer:
    """Owns a listening socket on `host`, its avahi-publish process and one thread per
    connection. `txt` adds TXT items (e.g. "1st=Rex"). Use as a context manager or call close()."""

    def __init__(self, host, instance, nick, port=5299, condition="service-unavailable",
                 text="Not accepting messages right now", txt=()):
        self.host, self.instance, self.nick, self.port = host, instance, nick, port
        self.condition, self.text = condition, text
        self.refused = []  # (id, body) in arrival order
        self._lock = threading.Lock()
        self._conns = []
        self._closed = False
        self.server = host.listen(port)
        threading.Thread(target=self._accept, daemon=True).start()
        self.publisher = host.avahi_publish(instance, "_presence._tcp", port,
                                            ["txtvers=1", f"port.p2pj={port}", "status=avail",
                                             f"nick={nick}", *txt])
        log(f"refusing peer {instance} listens on port {port}")

    def _accept(self):
        while not self._closed:
            try:
                conn, addr = self.server.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, addr), daemon=True).start()

    def _serve(self, conn, addr):
        buf = b""
        answered_header = False
        conn.settimeout(1.0)
        while not self._closed:
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            if not answered_header and b"<stream:stream" in buf:
                m = re.search(rb"""\bfrom=(['"])(.*?)\1""", buf)
                peer = m.group(2).decode(errors="replace") if m else ""
                conn.sendall(stream_header(self.instance, peer))
                answered_header = True
                buf = buf[buf.index(b"<stream:stream"):]
                buf = buf[buf.index(b">") + 1:] if b">" in buf else buf
            for m in list(MESSAGE_RX.finditer(buf)):
                stanza = m.group(0)
                body = BODY_RX.search(stanza)
                if not body:
                    continue  # receipts, chat states
                mid = ID_RX.search(stanza)
                mid = mid.group(2).decode() if mid else ""
                with self._lock:
                    self.refused.append((mid, body.group(1).decode(errors="replace")))
                conn.sendall((f"<message type='error' id='{mid}' from='{self.instance}'>"
                              f"<error type='cancel'><{self.condition} "
                              f"xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                              f"<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>{self.text}</text>"
                              f"</error></message>").encode())
            last = None
            for m in MESSAGE_RX.finditer(buf):
                last = m
            if last:
                buf = buf[last.end():]

    def refused_ids(self):
        with self._lock:
            return [mid for mid, _ in self.refused]

    def close(self):
        self._closed = True
        if self.publisher.poll() is None:
            self.publisher.terminate()
        try:
            self.server.close()
        except OSError:
            pass
        with self._lock:
            for c in self._conns:
                try:
                    c.close()
                except OSError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
