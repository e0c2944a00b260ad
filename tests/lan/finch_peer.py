"""Debian's finch (libpurple 2.14 Bonjour, XEP-0174) as a foreign peer on a test host.

Owns: one finch process inside a private tmux server (socket in its own dir),
its session dbus-daemon, its HOME / config dir. All are started in the host's
namespace through testbed, so the Lan's teardown kills them if stop() is not
reached.

How finch behaves (observed on this machine with finch 2.14.12, see also
/work/shared/reference/lan-testbed.md); this guides the Chinwag interop tests:
- Account: accounts.xml with protocol prpl-bonjour, name `<user>@<hostname>`
  (libpurple splits it at '@' into username and "Hostname"); the whole name is
  the DNS-SD instance name. Auto-login is the per-UI setting
  `<settings ui='gnt-purple'><setting name='auto-login' type='bool'>1`.
  It signs on ~0.3-0.7 s after start and is resolvable on other hosts ~1 s later.
- Its record: `_presence._tcp`, port 5298 (it binds [::]:5298 and 0.0.0.0:5298
  separately, no SO_REUSEADDR), TXT: txtvers=1 1st=<first> last= port.p2pj=5298
  status=avail node=libpurple ver=2.14.12 vc=! (no nick unless set).
- It shows a peer as a buddy (display name from TXT 1st) once avahi resolved it;
  `_resolve_callback` records one IPv4 and one IPv6 (fe80::...%ifindex) address.
- Incoming TCP: it accepts only from an IP of a buddy it resolved, and only if
  the stream header's from= equals that buddy's instance name ("Matched buddy
  ... to incoming conversation from attrib and IP"). It answers our header at
  once with `<?xml version="1.0" encoding="UTF-8" ?>\n<stream:stream
  xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams"
  from="bob@cw-c" to="alice@cw-a">`: double quotes, NO version attribute, no
  <stream:features>, so no STARTTLS: a peer that requires TLS must fall back
  to plaintext for such peers (legacy interop).
- Incoming <message type='chat'> with a <body> is shown and logged at once.
- Outgoing, while a stream with that buddy is open (incoming or outgoing) it
  reuses it. Its messages look like `<message to='alice@cw-a' from='bob@cw-c'
  type='chat'><body>TEXT</body><html xmlns='http://www.w3.org/1999/xhtml'>
  <body><font>TEXT</font></body></html><x xmlns='jabber:x:event'><composing/>
  </x></message>` (XHTML-IM plus XEP-0022 composing request; no id attribute).
- On `</stream:stream>` from us it answers `</stream:stream>` and closes; the
  next message opens a new stream.
- Outgoing new stream: connects to the buddy's IPv6 link-local address first
  (source is its own fe80::), sends its header, waits for the peer's header,
  only then sends the <message>. It keeps the stream open afterwards (idle).
- It shows an outgoing message in its window even when delivery failed.
- D-Bus (session bus from DBUS_SESSION_BUS_ADDRESS): PurpleAccountsGetAllActive,
  PurpleAccountIsConnected, PurpleFindBuddy, PurpleBuddyIsOnline,
  PurpleConversationNew(1, account, name) -> PurpleConvIm -> PurpleConvImSend
  all work through gdbus. PurpleCoreQuit never replies; finch signs off (record
  withdrawn ~1 s later) but the process then lingers: stop() SIGTERMs it.
  SIGTERM alone kills finch without sign-off; avahi still withdraws the record
  ~1 s later because the avahi client disconnected.
- Chat logs (log_ims, txt format) land in <config dir>/logs/bonjour/<account>/
  <buddy>/<date>.txt as "(HH:MM:SS) Alice: hi finch".
- `finch -d` writes libpurple's debug log to stderr (kept in finch-debug.log):
  "bonjour: Receive: -...-" lines show every stanza it got.
"""

import os
import re
import shlex
import signal
import subprocess

import testbed
from testbed import TestbedError, run_until

PURPLE_SERVICE = "im.pidgin.purple.PurpleService"
PURPLE_OBJECT = "/im/pidgin/purple/PurpleObject"
PURPLE_IFACE = "im.pidgin.purple.PurpleInterface"

# PurpleConversationType
CONV_IM = 1

ACCOUNTS_XML = """<?xml version='1.0' encoding='UTF-8' ?>
<account version='1.0'>
 <account>
  <protocol>prpl-bonjour</protocol>
  <name>{account}</name>
  <statuses>
   <status type='available' name='Available' active='true'/>
  </statuses>
  <settings>
   <setting name='first' type='string'>{first}</setting>
   <setting name='last' type='string'></setting>
   <setting name='port' type='int'>{port}</setting>
  </settings>
  <settings ui='gnt-purple'>
   <setting name='auto-login' type='bool'>1</setting>
  </settings>
 </account>
</account>
"""

# Prefs: never idle/away (finch otherwise goes away after 5 idle minutes),
# log every IM as plain text (so received() can read the log), no sound,
# no buddy-list popups stealing the tmux screen.
PREFS_XML = """<?xml version='1.0' encoding='UTF-8' ?>
<pref version='1' name='/'>
 <pref name='purple'>
  <pref name='away'>
   <pref name='idle_reporting' type='string' value='none'/>
   <pref name='away_when_idle' type='bool' value='0'/>
   <pref name='mins_before_away' type='int' value='10000'/>
   <pref name='auto_reply' type='string' value='never'/>
  </pref>
  <pref name='logging'>
   <pref name='log_ims' type='bool' value='1'/>
   <pref name='log_chats' type='bool' value='1'/>
   <pref name='log_system' type='bool' value='0'/>
   <pref name='format' type='string' value='txt'/>
  </pref>
 </pref>
 <pref name='finch'>
  <pref name='sound'>
   <pref name='method' type='string' value='nosound'/>
  </pref>
  <pref name='away'>
   <pref name='idle_reporting' type='string' value='none'/>
  </pref>
 </pref>
</pref>
"""


def _gvariant_ints(text):
    """All integers in a gdbus reply like `([1234, 5],)` or `(int32 7,)`."""
    return [int(x) for x in re.findall(r"-?\d+", re.sub(r"\b(u?int\d+|byte)\b", "", text))]


class FinchPeer:
    """finch signed on with a Bonjour account `<user>@<host.hostname>` on host.

    Owns the finch process, its tmux server and its session bus.
    """

    def __init__(self, host, user="bob", first="Bob", port=5298):
        self.host = host
        self.user = user
        self.account = f"{user}@{host.hostname}"   # the DNS-SD instance name
        self.first = first
        self.port = port
        self.dir = os.path.join(host.lan.dir, f"finch-{host.name}-{user}")
        self.home = os.path.join(self.dir, "home")
        self.conf = os.path.join(self.dir, "purple")
        self.tmux_socket = os.path.join(self.dir, "tmux.sock")
        self.session_socket = os.path.join(self.dir, "session_bus_socket")
        self.debug_log = os.path.join(self.dir, "finch-debug.log")
        self.session_bus = None
        self.pid = None
        self.tmux_pid = None
        self.account_path = None     # D-Bus id of the PurpleAccount
        self.env = {
            "HOME": self.home,
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={self.session_socket}",
            "TERM": "screen",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "XDG_RUNTIME_DIR": self.dir,
            "TMUX_TMPDIR": self.dir,
        }

    # ------------------------------------------------------------ lifecycle

    def start(self):
        os.makedirs(self.home, exist_ok=True)
        os.makedirs(self.conf, exist_ok=True)
        with open(os.path.join(self.conf, "accounts.xml"), "w") as f:
            f.write(ACCOUNTS_XML.format(account=self.account, first=self.first,
                                        port=self.port))
        with open(os.path.join(self.conf, "prefs.xml"), "w") as f:
            f.write(PREFS_XML)
        conf = os.path.join(self.dir, "session-dbus.conf")
        testbed.write_dbus_conf(conf, self.session_socket, bus_type="session")
        self.session_bus = testbed.start_dbus_daemon(
            conf, self.session_socket, os.path.join(self.dir, "session-bus.address"),
            lambda argv, **kw: self.host.popen(argv, env=self.env, **kw))
        # finch -d writes libpurple's debug log to stderr: keep it in a file,
        # it shows what the Bonjour prpl did with each stream.
        cmd = (f"exec finch -d -c {shlex.quote(self.conf)} "
               f"2>{shlex.quote(self.debug_log)}")
        r = self.host.run(["tmux", "-S", self.tmux_socket, "-f", "/dev/null",
                           "new-session", "-d", "-s", "finch", "-x", "160", "-y", "48",
                           "sh", "-c", cmd], env=self.env, timeout=10)
        if r.returncode != 0:
            raise TestbedError(f"tmux new-session failed: {r.stderr}")
        out = self._tmux(["display-message", "-p", "#{pid} #{pane_pid}"]).split()
        self.tmux_pid, self.pid = int(out[0]), int(out[1])
        # tmux's server forked away from us: make the Lan kill it at teardown.
        self.host.lan.track_pid(self.tmux_pid)
        self.host.lan.track_pid(self.pid)
        return self

    def _tmux(self, args, timeout=10):
        r = self.host.run(["tmux", "-S", self.tmux_socket, *args], env=self.env,
                          timeout=timeout)
        if r.returncode != 0:
            raise TestbedError(f"tmux {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def alive(self):
        return self.pid is not None and testbed._pid_alive(self.pid)

    def wait_ready(self, timeout=20):
        """Wait until libpurple's D-Bus API answers and the account is active
        and connected (Bonjour published its record)."""
        def ready():
            if not self.alive():
                raise TestbedError(f"finch exited:\n{self.debug_tail()}")
            r = self.call("PurpleAccountsGetAllActive", timeout=3, check=False)
            if r is None:
                return False
            ids = _gvariant_ints(r)
            if not ids:
                return False
            self.account_path = ids[0]
            c = self.call("PurpleAccountIsConnected", ("int32", self.account_path),
                          timeout=3, check=False)
            return c is not None and _gvariant_ints(c) == [1]
        if not run_until(ready, timeout, 0.2):
            raise TestbedError(f"finch not ready in {timeout}s:\n{self.screen()}\n"
                               f"{self.debug_tail()}")
        return self

    def stop(self):
        """Quit finch (it signs off: avahi withdraws its record), stop tmux and bus."""
        if self.alive():
            # PurpleCoreQuit never replies (finch exits first): send it
            # without waiting for a reply.
            self.host.run(["dbus-send", "--session", "--type=method_call",
                           f"--dest={PURPLE_SERVICE}", PURPLE_OBJECT,
                           f"{PURPLE_IFACE}.PurpleCoreQuit"], env=self.env, timeout=5)
            # It signs off (Bonjour unloads: avahi withdraws the record) but
            # then the process lingers in gnt's teardown: end it after that.
            run_until(lambda: not self.alive()
                      or "Unloading plugin Bonjour" in self.debug_text(), 5)
            if self.alive():
                os.kill(self.pid, signal.SIGTERM)
                run_until(lambda: not self.alive(), 3)
        if self.tmux_pid and testbed._pid_alive(self.tmux_pid):
            self.host.run(["tmux", "-S", self.tmux_socket, "kill-server"], env=self.env)
            run_until(lambda: not testbed._pid_alive(self.tmux_pid), 3)
        if self.session_bus and self.session_bus.poll() is None:
            self.session_bus.terminate()
            self.session_bus.wait(5)

    # ------------------------------------------------------------ D-Bus

    def call(self, method, *args, timeout=10, check=True):
        """Call im.pidgin.purple.PurpleInterface.<method> with gdbus.

        args are (type, value) pairs for `gdbus call` (GVariant text): e.g.
        ("int32", 5), ("string", "hi"). Returns gdbus's reply text, or None
        when check is False and the call failed.
        """
        argv = ["gdbus", "call", "--session", "--dest", PURPLE_SERVICE,
                "--object-path", PURPLE_OBJECT, "--method", f"{PURPLE_IFACE}.{method}"]
        for typ, value in args:
            if typ == "string":
                argv.append(_gvariant_string(value))
            else:
                argv.append(f"{typ} {value}")
        try:
            r = self.host.run(argv, env=self.env, timeout=timeout)
        except subprocess.TimeoutExpired:
            if check:
                raise
            return None
        if r.returncode != 0:
            if check:
                raise TestbedError(f"gdbus {method}: {r.stderr.strip()}")
            return None
        return r.stdout.strip()

    def call_int(self, method, *args, **kw):
        r = self.call(method, *args, **kw)
        ints = _gvariant_ints(r) if r else []
        return ints[0] if ints else None

    def send(self, to_instance, text):
        """Open (or reuse) an IM conversation with to_instance and send text.

        finch shows the line even when delivery fails: check the receiver.
        """
        if self.account_path is None:
            self.wait_ready()
        conv = self.call_int("PurpleConversationNew", ("int32", CONV_IM),
                             ("int32", self.account_path), ("string", to_instance))
        im = self.call_int("PurpleConvIm", ("int32", conv))
        self.call("PurpleConvImSend", ("int32", im), ("string", text))
        return conv

    def find_buddy(self, name):
        """The D-Bus id of buddy `name` (0 if unknown)."""
        return self.call_int("PurpleFindBuddy", ("int32", self.account_path),
                             ("string", name)) or 0

    def buddy_online(self, name):
        b = self.find_buddy(name)
        if not b:
            return False
        return self.call_int("PurpleBuddyIsOnline", ("int32", b)) == 1

    # ------------------------------------------------------------ screen and logs

    def screen(self):
        """The text of finch's tmux pane (all windows are drawn in it)."""
        try:
            return self._tmux(["capture-pane", "-p", "-J", "-S", "-", "-E", "-"])
        except (TestbedError, subprocess.TimeoutExpired) as e:
            return f"(no screen: {e})"

    def log_text(self):
        """All of finch's chat logs (libpurple writes them under <conf>/logs)."""
        parts = []
        for root in (os.path.join(self.conf, "logs"),
                     os.path.join(self.home, ".purple", "logs")):
            for dirpath, _, files in os.walk(root):
                for fn in sorted(files):
                    try:
                        with open(os.path.join(dirpath, fn), errors="replace") as f:
                            parts.append(f.read())
                    except OSError:
                        pass
        return "\n".join(parts)

    def received(self, text):
        """True if text appears on finch's screen or in its chat logs."""
        return text in self.log_text() or text in self.screen()

    def debug_text(self):
        try:
            with open(self.debug_log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def debug_tail(self, lines=60):
        return "\n".join(self.debug_text().splitlines()[-lines:])

    def dump_logs(self):
        print(f"----- finch {self.account} screen:\n{self.screen()}")
        print(f"----- finch {self.account} debug (tail):\n{self.debug_tail()}")
        print(f"----- finch {self.account} chat logs:\n{self.log_text()}\n----- end",
              flush=True)


def _gvariant_string(s):
    """A GVariant string literal for gdbus call."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"
