"""A simulated LAN of network namespaces for Chinwag's integration tests.

Owns: the switch and host namespaces of one test run, their dbus-daemons and
avahi-daemons, every process started through Host.popen, and the state dir.

Recipe and measurements: /work/shared/reference/lan-testbed.md (copied in the
repository's docs). Each host has its own system bus (path socket: abstract
sockets are per network namespace) and its own avahi-daemon in a private mount
namespace (its pid file path is compiled in), so avahi-client programs on host A
discover services on host B by real multicast DNS over IPv4 and IPv6 link-local.

Python 3 standard library only. Tests turn Skip into exit status 77.

API in short:
  Lan(hosts=("a","b","c"), prefix=None) -- context manager; lan["a"] -> Host;
      lan.path(*parts), lan.dump_logs(), lan.track_pid(pid), lan.namespaces()
  Host: name, ns, ip, ip6, hostname ("cw-<name>", the avahi host name), env,
      popen(argv, env=None, **kw), run(argv, timeout=20, env=None, check=False),
      new_socket(), connect(addr, port), listen(port),
      avahi_start(), avahi_stop(sig), avahi_restart(sig), avahi_publish(...),
      avahi_browse(type) -> AvahiBrowser, link_cut(), link_restore(),
      iface_down(), iface_up()
  run_until(predicate, timeout, interval=0.05) -> bool
  recv_until(sock, regex, timeout, buf=b"") -> (match|None, data)
  JsonRpcProcess(host, argv): call(), wait_notification(), notifications(),
      dump_logs(), terminate(), kill(), wait()
  start_cli(host, profile_dir, nick, extra_args=()) -> JsonRpcProcess
  CliGroup(lan, on_exit=None) -- context manager over a test's chinwag-cli
      processes: start(host, nick, profile=None, instance=None) -> JsonRpcProcess
      (profile lan.path("profiles", nick), --instance nick@cw-<host> unless
      given); on an exception dumps every CLI's stderr; then on_exit: None,
      "quit" (quit_or_kill), "kill" (SIGKILL + wait) or a function(proc),
      for each CLI still alive
  quit_or_kill(proc, timeout=3, wait=5) -- `quit`, wait; SIGKILL if that fails
  check(cond, what) -- raise AssertionError(what) unless cond, else log "ok: what"
  check_bound(cond, what) -- check() for a memory/time bound; only logged under sanitizers
  Peers (listPeers; key "id" = contact id / fingerprint, or "instance"):
      find_peer(rpc, value, key="id") -> view|None,
      peer_online(rpc, value, key="id") -> bool (online is truthy),
      wait_online(rpc, value, online, timeout, key="id") -> bool (online is
      True/False exactly; polls every 0.2 s),
      wait_peer(rpc, value, predicate, timeout, key="id") -> last view (or None;
      NOT proof that predicate held), seen_offline(rpc, peer_id) -> bool
      (a peerGone or a peerChanged online false was notified)
  Messages: message_states(rpc, msg_id) -> [state...] (messageState order),
      state_seen(rpc, msg_id, state) -> bool,
      wait_state(rpc, msg_id, state, timeout, interval=0.05) -> bool,
      deliver(sender, receiver, to, body, timeout=20) -- send, the receiver
      gets a `message` within timeout, the sender sees `delivered` within 10 s
  Hostile peers: rss_kb(pid), stream_header(frm, to, version=False,
      encoding=None) -> bytes, STREAM_RX, wait_eof(sock, timeout) -> bool,
      trickle(sock, data, t0, give_up, interval=1.0) -> (closed_after|None, sent)
  main(test_function) -- exit 0 / 1 / 77 for automake
Set CHINWAG_KEEP_TESTBED=1 to keep the state dir (logs) after a run.
"""

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

__all__ = ["Skip", "TestbedError", "RpcError", "run_until", "Lan", "Host",
           "AvahiBrowser", "JsonRpcProcess", "recv_until", "start_cli", "skip_unless_root",
           "main", "log", "check", "CliGroup", "quit_or_kill", "find_peer", "peer_online",
           "wait_online", "wait_peer", "seen_offline", "message_states", "state_seen",
           "wait_state", "deliver", "check_bound", "rss_kb", "stream_header", "STREAM_RX", "wait_eof",
           "trickle"]

SKIP = 77


class Skip(Exception):
    """The environment cannot run this test (not root, no ip netns, ...)."""


class TestbedError(Exception):
    """The test bed itself failed (a daemon did not start, ...)."""


def log(text):
    """Progress line on stdout; automake keeps it in the .log file."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def check(cond, what):
    """A test's assertion: raise AssertionError(what) unless cond; log it when it holds."""
    if not cond:
        raise AssertionError(what)
    log(f"ok: {what}")


def check_bound(cond, what):
    """check() for a bound on memory or time. Under tools/sanitizer-check
    (CHINWAG_UNDER_SANITIZERS set) ASan doubles memory and slows everything, so such bounds
    mean nothing there: they are logged, not checked. Correctness checks use check()."""
    if os.environ.get("CHINWAG_UNDER_SANITIZERS"):
        log(f"not checked under sanitizers: {what} ({'holds' if cond else 'does not hold'})")
        return
    check(cond, what)


def run_until(predicate, timeout, interval=0.05):
    """Poll predicate() until it is truthy or timeout seconds pass.

    Returns True when the predicate held, False on timeout. Tests use this
    instead of bare sleeps (ARCHITECTURE.md, "Tests").
    """
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _pid_alive(pid):
    """True if pid runs and is not a zombie (kill -0 counts zombies as alive)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1] and "X" not in line.split()[1]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return False


def _read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def _sh(argv, check=True, timeout=20, **kw):
    """Run a short helper command (ip, sysctl); raise TestbedError on failure."""
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise TestbedError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def skip_unless_root():
    """Raise Skip unless we are root and `ip netns` works."""
    if os.geteuid() != 0:
        raise Skip("needs root (network namespaces, avahi-daemon per host)")
    for tool in ("ip", "dbus-daemon", "avahi-daemon", "unshare"):
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            raise Skip(f"{tool} not installed")
    try:
        r = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Skip(f"ip netns does not work: {e}")
    if r.returncode != 0:
        raise Skip(f"ip netns does not work: {r.stderr.strip()}")


def main(test_function):
    """Run test_function() as a test script: exit 0 pass, 1 fail, 77 skip.

    test_function returns nothing (pass) or raises: Skip -> 77, anything else
    -> 1 with the traceback. Use: `if __name__ == "__main__": main(test)`.
    """
    import traceback
    try:
        test_function()
    except Skip as e:
        print(f"SKIP: {e}", flush=True)
        sys.exit(SKIP)
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        print("FAIL", flush=True)
        sys.exit(1)
    print("PASS", flush=True)
    sys.exit(0)


# ---------------------------------------------------------------- cleanup

_active_lans = []
_handlers_installed = False


def _cleanup_all():
    for lan in list(_active_lans):
        try:
            lan.close()
        except Exception as e:  # teardown must go on for the others
            print(f"testbed: cleanup error: {e}", file=sys.stderr)


def _on_signal(signum, frame):
    _cleanup_all()
    # Re-raise with the default action so the exit status says "killed".
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_cleanup_all)
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            if signal.getsignal(s) in (signal.SIG_DFL, signal.default_int_handler):
                signal.signal(s, _on_signal)


# ---------------------------------------------------------------- config files

DBUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>{type}</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow send_destination="*"/>
  </policy>
</busconfig>
"""

AVAHI_CONF = """[server]
host-name={hostname}
use-ipv4=yes
use-ipv6=yes
allow-interfaces=eth0
ratelimit-interval-usec=1000000
ratelimit-burst=1000

[wide-area]
enable-wide-area=no

[publish]
publish-hinfo=no
publish-workstation=no
publish-addresses=yes

[reflector]
enable-reflector=no

[rlimits]
"""


def write_dbus_conf(path, socket_path, bus_type="system"):
    with open(path, "w") as f:
        f.write(DBUS_CONF.format(type=bus_type, socket=socket_path))


def start_dbus_daemon(conf, socket_path, address_file, popen, timeout=10):
    """Start a dbus-daemon with conf through popen(argv, ...); wait for its socket."""
    out = open(address_file, "w")
    p = popen(["dbus-daemon", f"--config-file={conf}", "--nofork", "--nopidfile",
               "--print-address=1"], stdout=out, stderr=subprocess.STDOUT)
    out.close()

    def ready():
        if p.poll() is not None:
            raise TestbedError(f"dbus-daemon exited {p.returncode}: "
                               f"{_read_text(address_file).strip()}")
        return os.path.exists(socket_path) and os.path.getsize(address_file) > 0

    if not run_until(ready, timeout):
        raise TestbedError(f"dbus-daemon did not start within {timeout}s")
    return p


# ---------------------------------------------------------------- hosts

_CLONE_NEWNET = 0x40000000


def _socket_in_netns(ns, family, type, proto):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    result = {}

    def worker():
        try:
            path = f"/run/netns/{ns}"
            if not os.path.exists(path):
                path = f"/var/run/netns/{ns}"
            fd = os.open(path, os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({ns}): {os.strerror(err)}")
            finally:
                os.close(fd)
            result["sock"] = socket.socket(family, type, proto)
        except BaseException as e:  # reported to the caller
            result["error"] = e

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]
    return result["sock"]


class Host:
    """One simulated machine: its namespace, bus, avahi-daemon and processes.

    Owns nothing itself; the Lan owns all processes (so teardown finds them).
    """

    def __init__(self, lan, name, index):
        self.lan = lan
        self.name = name
        self.ns = f"{lan.prefix}{name}"
        self.veth = f"v{name}"          # switch-side port, always after `dev`/`name`
        self.hostname = f"cw-{name}"    # avahi host-name, so host.local is cw-<h>.local
        self.ip = f"{lan.subnet}.{10 + index}"
        self.dir = os.path.join(lan.dir, name)
        os.makedirs(self.dir)
        os.makedirs(os.path.join(self.dir, "avahi-run"))
        os.makedirs(os.path.join(self.dir, "services"))
        self.bus_socket = os.path.join(self.dir, "system_bus_socket")
        self.env = {
            "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={self.bus_socket}",
            "CHINWAG_TEST_HOST": name,
        }
        self.dbus = None
        self.avahi = None
        self.avahi_log = None
        self._avahi_starts = 0
        self._ip6 = None

    def __repr__(self):
        return f"<Host {self.name} ns={self.ns} ip={self.ip}>"

    # -- processes

    def command(self, argv, env=None):
        """argv prefixed so it runs in this host's namespace with self.env (+ env)."""
        full_env = dict(self.env)
        if env:
            full_env.update(env)
        return (["ip", "netns", "exec", self.ns, "env"]
                + [f"{k}={v}" for k, v in full_env.items()] + [str(a) for a in argv])

    def popen(self, argv, env=None, **kw):
        """Start argv in this host's namespace; the Lan kills it at teardown.

        `ip netns exec` and `env` exec the program, so the Popen's pid is the
        program's pid. Extra keyword arguments go to subprocess.Popen.
        """
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(self.command(argv, env), **kw)
        self.lan._processes.append(p)
        return p

    def run(self, argv, timeout=20, env=None, check=False, input=None):
        """Run argv to completion in the namespace; returns CompletedProcess (text)."""
        r = subprocess.run(self.command(argv, env), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout,
                           input=input,
                           stdin=None if input is not None else subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise TestbedError(f"on {self.name}: {' '.join(map(str, argv))} failed "
                               f"({r.returncode}): {r.stderr.strip()}")
        return r

    # -- addresses

    @property
    def ip6(self):
        """The fe80:: address of eth0 (without %scope)."""
        if self._ip6 is None:
            r = _sh(["ip", "-n", self.ns, "-6", "-o", "addr", "show", "dev", "eth0",
                     "scope", "link"])
            m = re.search(r"inet6 (fe80::[0-9a-f:]+)/", r.stdout)
            if not m:
                raise TestbedError(f"{self.name}: no link-local address: {r.stdout}")
            self._ip6 = m.group(1)
        return self._ip6

    def new_socket(self, family=socket.AF_INET, type=socket.SOCK_STREAM, proto=0):
        """A socket created inside this host's network namespace.

        A short-lived thread enters the namespace with setns(2) (which only
        changes the calling thread) and creates the socket there; a socket
        stays in the namespace it was created in, so the test process can
        then use it directly (connect, bind, accept) from any thread.
        """
        return _socket_in_netns(self.ns, family, type, proto)

    def connect(self, address, port, timeout=5):
        """A TCP connection from this host to (address, port); fe80:: goes via eth0."""
        if ":" in address:
            s = self.new_socket(socket.AF_INET6)
            target = (address, port, 0, self._ifindex("eth0"))
        else:
            s = self.new_socket(socket.AF_INET)
            target = (address, port)
        s.settimeout(timeout)
        try:
            s.connect(target)
        except OSError:
            s.close()
            raise
        return s

    def _ifindex(self, ifname):
        r = _sh(["ip", "-n", self.ns, "-o", "link", "show", "dev", ifname])
        return int(r.stdout.split(":", 1)[0])

    def listen(self, port, family=socket.AF_INET6, backlog=5):
        """A listening TCP socket on this host. AF_INET6 listens dual-stack on [::]."""
        s = self.new_socket(family)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(("::", port))
        else:
            s.bind(("0.0.0.0", port))
        s.listen(backlog)
        return s

    # -- dbus / avahi

    def _start_dbus(self):
        conf = os.path.join(self.dir, "dbus.conf")
        write_dbus_conf(conf, self.bus_socket)
        self.dbus = start_dbus_daemon(conf, self.bus_socket,
                                      os.path.join(self.dir, "dbus.address"),
                                      lambda argv, **kw: self.popen(argv, **kw))

    def _write_avahi_conf(self):
        with open(os.path.join(self.dir, "avahi-daemon.conf"), "w") as f:
            f.write(AVAHI_CONF.format(hostname=self.hostname))

    def avahi_start(self, wait=True):
        """Start this host's avahi-daemon (new log file each time)."""
        if self.avahi is not None and self.avahi.poll() is None:
            raise TestbedError(f"{self.name}: avahi-daemon already running")
        self._write_avahi_conf()
        self._avahi_starts += 1
        self.avahi_log = os.path.join(self.dir, f"avahi-{self._avahi_starts}.log")
        # A pid file left by a SIGKILLed daemon could name a reused pid.
        try:
            os.unlink(os.path.join(self.dir, "avahi-run", "pid"))
        except FileNotFoundError:
            pass
        d = self.dir
        script = ("mount -n -t tmpfs x /run && mkdir /run/avahi-daemon && "
                  f"mount -n --bind {d}/avahi-run /run/avahi-daemon && "
                  f"mount -n --bind {d}/services /etc/avahi/services && "
                  f"exec avahi-daemon --no-drop-root --no-chroot --no-rlimits "
                  f"-f {d}/avahi-daemon.conf")
        out = open(self.avahi_log, "w")
        self.avahi = self.popen(["unshare", "--mount", "--propagation", "private",
                                 "sh", "-c", script], stdout=out, stderr=subprocess.STDOUT)
        out.close()
        if wait:
            self.avahi_wait_ready()

    def avahi_wait_ready(self, timeout=15):
        def ready():
            if self.avahi.poll() is not None:
                raise TestbedError(f"{self.name}: avahi-daemon exited "
                                   f"{self.avahi.returncode}: {self.read_avahi_log()}")
            return "Server startup complete" in self.read_avahi_log()
        if not run_until(ready, timeout):
            raise TestbedError(f"{self.name}: avahi-daemon not ready in {timeout}s:\n"
                               f"{self.read_avahi_log()}")

    def read_avahi_log(self):
        try:
            with open(self.avahi_log, errors="replace") as f:
                return f.read()
        except (TypeError, FileNotFoundError):
            return ""

    def avahi_stop(self, sig=signal.SIGTERM, timeout=10):
        """Stop avahi-daemon with sig (SIGTERM sends goodbyes, SIGKILL none)."""
        p = self.avahi
        if p is None or p.poll() is not None:
            return
        p.send_signal(sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)

    def avahi_restart(self, sig=signal.SIGTERM):
        self.avahi_stop(sig)
        self.avahi_start()

    def avahi_browse(self, service_type="_presence._tcp"):
        """A long-running `avahi-browse -rp TYPE` on this host (AvahiBrowser)."""
        return AvahiBrowser(self, service_type)

    def avahi_publish(self, name, service_type, port, txt=(), wait=True, timeout=10):
        """`avahi-publish -s NAME TYPE PORT TXT...` on this host; returns the Popen.

        With wait, waits for "Established under name" on its stdout/stderr.
        """
        logf = os.path.join(self.lan.dir, f"publish-{self.name}-{len(self.lan._processes)}.log")
        out = open(logf, "w")
        p = self.popen(["avahi-publish", "-s", name, service_type, str(port), *txt],
                       stdout=out, stderr=subprocess.STDOUT)
        out.close()
        p.log_path = logf
        if wait:
            def est():
                text = _read_text(logf)
                if p.poll() is not None:
                    raise TestbedError(f"avahi-publish exited {p.returncode}: {text}")
                return "Established under name" in text
            if not run_until(est, timeout):
                raise TestbedError(f"avahi-publish on {self.name} not established: "
                                   f"{_read_text(logf)}")
        return p

    # -- faults

    def link_cut(self):
        """Pull the cable at the switch: the host itself notices nothing."""
        _sh(["ip", "-n", self.lan.switch, "link", "set", "dev", self.veth, "down"])

    def link_restore(self):
        _sh(["ip", "-n", self.lan.switch, "link", "set", "dev", self.veth, "up"])

    def iface_down(self):
        """Take the host's own eth0 down (its avahi notices at once)."""
        _sh(["ip", "-n", self.ns, "link", "set", "dev", "eth0", "down"])

    def iface_up(self):
        _sh(["ip", "-n", self.ns, "link", "set", "dev", "eth0", "up"])


class Lan:
    """A switch namespace and one namespace per host, with their daemons.

    Owns: the namespaces named prefix+*, every process started through
    Host.popen, and the state dir. Context manager; also cleaned up at exit and
    on SIGTERM/SIGINT/SIGHUP.
    """

    def __init__(self, hosts=("a", "b", "c"), prefix=None, keep_dir=False):
        skip_unless_root()
        self.hosts = {}
        self._processes = []
        self._extra_pids = []
        self._closed = False
        self._namespaces = []
        self.keep_dir = keep_dir or bool(os.environ.get("CHINWAG_KEEP_TESTBED"))
        existing = set(self._netns_list())
        if prefix is None:
            n = os.getpid() % 10000
            while any(ns.startswith(f"cw{n}-") for ns in existing):
                n = (n + 1) % 10000
            prefix = f"cw{n}-"
        elif any(ns.startswith(prefix) for ns in existing):
            raise TestbedError(f"namespaces with prefix {prefix} already exist")
        self.prefix = prefix
        self.switch = f"{prefix}br"
        self.subnet = "10.23.0"
        self.dir = tempfile.mkdtemp(prefix=f"chinwag-lan-{prefix}")
        _active_lans.append(self)
        _install_handlers()
        try:
            self._build(list(hosts))
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _netns_list():
        r = _sh(["ip", "netns", "list"], check=False)
        return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]

    def _add_ns(self, ns):
        _sh(["ip", "netns", "add", ns])
        self._namespaces.append(ns)

    def _build(self, names):
        t0 = time.monotonic()
        if "br" in names:
            raise TestbedError("host name 'br' is reserved for the switch")
        sw = self.switch
        self._add_ns(sw)
        # The switch stays silent on IPv6 (no MLD/RS of its own).
        _sh(["ip", "netns", "exec", sw, "sysctl", "-q", "-w",
             "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
        # STP off: ports forward at once. Snooping off: ff02::fb floods always.
        _sh(["ip", "-n", sw, "link", "add", "name", "br0", "type", "bridge",
             "mcast_snooping", "0", "stp_state", "0"])
        _sh(["ip", "-n", sw, "link", "set", "dev", "br0", "up"])
        for i, name in enumerate(names):
            h = Host(self, name, i)
            self.hosts[name] = h
            self._add_ns(h.ns)
            # accept_dad=0 before eth0 exists: fe80:: usable at once, and avahi
            # ignores tentative addresses.
            _sh(["ip", "netns", "exec", h.ns, "sysctl", "-q", "-w",
                 "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"])
            _sh(["ip", "-n", sw, "link", "add", "name", h.veth, "type", "veth",
                 "peer", "name", "eth0", "netns", h.ns])
            _sh(["ip", "-n", sw, "link", "set", "dev", h.veth, "master", "br0"])
            _sh(["ip", "-n", sw, "link", "set", "dev", h.veth, "up"])
            _sh(["ip", "-n", h.ns, "addr", "add", f"{h.ip}/24", "dev", "eth0"])
            _sh(["ip", "-n", h.ns, "link", "set", "dev", "lo", "up"])
            _sh(["ip", "-n", h.ns, "link", "set", "dev", "eth0", "up"])
        for h in self.hosts.values():
            h._start_dbus()
        for h in self.hosts.values():
            h.avahi_start(wait=False)
        for h in self.hosts.values():
            h.avahi_wait_ready()
        log(f"LAN {self.prefix}* up: hosts {', '.join(names)} in "
            f"{time.monotonic() - t0:.2f}s, state {self.dir}")

    def __getitem__(self, name):
        return self.hosts[name]

    def __iter__(self):
        return iter(self.hosts.values())

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and not issubclass(exc_type, Skip):
            self.dump_logs()
        self.close()
        return False

    def path(self, *parts):
        """A path inside the run's state dir (removed at teardown)."""
        return os.path.join(self.dir, *parts)

    def dump_logs(self, out=None):
        """Print every host's avahi-daemon log (for a failing test)."""
        out = out or sys.stdout
        for h in self.hosts.values():
            print(f"----- {h.name} ({h.ns}) avahi-daemon log {h.avahi_log}:", file=out)
            print(h.read_avahi_log().rstrip(), file=out)
        print("----- end avahi logs", file=out, flush=True)

    def track_pid(self, pid):
        """Also kill pid at teardown (a daemon that forked away, e.g. tmux)."""
        self._extra_pids.append(int(pid))

    def namespaces(self):
        """Our namespaces that currently exist."""
        return [ns for ns in self._netns_list() if ns.startswith(self.prefix)]

    def close(self):
        """Kill our processes, delete our namespaces, remove the state dir."""
        if self._closed:
            return
        self._closed = True
        t0 = time.monotonic()
        pids = [p.pid for p in reversed(self._processes) if p.poll() is None]
        pids += [pid for pid in self._extra_pids if _pid_alive(pid)]
        # Anything still inside our own namespaces was started by us (directly
        # or by a daemon that forked), so it goes too.
        for ns in self._namespaces:
            r = _sh(["ip", "netns", "pids", ns], check=False)
            pids += [int(x) for x in r.stdout.split() if x.isdigit()]
        pids = list(dict.fromkeys(pid for pid in pids if pid != os.getpid()))
        for pid in pids:
            if _pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        run_until(lambda: not any(_pid_alive(pid) for pid in pids), 3)
        for pid in pids:
            if _pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self._processes:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        for ns in reversed(self._namespaces):
            _sh(["ip", "netns", "del", ns], check=False)
        if not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            log(f"state dir kept: {self.dir}")
        if self in _active_lans:
            _active_lans.remove(self)
        log(f"LAN {self.prefix}* torn down in {time.monotonic() - t0:.2f}s")


def recv_until(sock, pattern, timeout=5, buf=b""):
    """Read from sock until the bytes regex `pattern` matches what was read.

    Returns (match, data) with data = everything read so far (including buf);
    match is None on timeout or EOF. For hand-made XMPP streams in tests.
    """
    rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern, re.S)
    data = bytes(buf)
    deadline = time.monotonic() + timeout
    while True:
        m = rx.search(data)
        if m:
            return m, data
        left = deadline - time.monotonic()
        if left <= 0:
            return None, data
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return None, data
        if not chunk:
            return None, data
        data += chunk


# ---------------------------------------------------------------- avahi-browse

def _unescape_dns(s):
    r"""avahi-browse -p escapes labels: \DDD (decimal) and \X."""
    return re.sub(r"\\(\d{3}|.)",
                  lambda m: chr(int(m.group(1))) if len(m.group(1)) == 3 else m.group(1), s)


def _parse_txt(s):
    """`"a=1" "b=2"` -> {"a": "1", "b": "2"} (a key without = maps to None)."""
    out = {}
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"', s):
        item = _unescape_dns(m.group(1))
        k, eq, v = item.partition("=")
        out[k] = v if eq else None
    return out


class AvahiBrowser:
    """A long-running `avahi-browse -rp TYPE` on one host and what it reported.

    Owns the avahi-browse process (through the Lan) and a reader thread.
    Events are dicts: {"event": "+"/"="/"-", "iface", "proto": "IPv4"/"IPv6",
    "name", "type", "domain", and for "=": "host", "address", "port", "txt"}.
    """

    def __init__(self, host, service_type="_presence._tcp"):
        self.host = host
        self.service_type = service_type
        self.events = []
        self._lock = threading.Lock()
        self.proc = host.popen(["avahi-browse", "-r", "-p", "-k", service_type],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, bufsize=1)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        for line in self.proc.stdout:
            f = line.rstrip("\n").split(";")
            if len(f) < 6 or f[0] not in "+=-":
                continue
            ev = {"event": f[0], "iface": f[1], "proto": f[2],
                  "name": _unescape_dns(f[3]), "type": f[4], "domain": f[5],
                  "time": time.monotonic()}
            if f[0] == "=" and len(f) >= 10:
                ev.update(host=f[6], address=f[7], port=int(f[8]),
                          txt=_parse_txt(";".join(f[9:])))
            with self._lock:
                self.events.append(ev)

    def snapshot(self):
        with self._lock:
            return list(self.events)

    def resolved(self, name, proto=None):
        """The latest "=" event for name (and proto) not followed by a "-", or None."""
        last = None
        for ev in self.snapshot():
            if ev["name"] != name or (proto and ev["proto"] != proto):
                continue
            if ev["event"] == "=":
                last = ev
            elif ev["event"] == "-":
                last = None
        return last

    def removed(self, name, since=0.0):
        """True if a "-" for name arrived after monotonic time `since`."""
        return any(ev["event"] == "-" and ev["name"] == name and ev["time"] >= since
                   for ev in self.snapshot())

    def wait_resolved(self, name, timeout=10, proto=None):
        """Wait until name is resolved; returns the "=" event or None on timeout."""
        found = []

        def check():
            ev = self.resolved(name, proto)
            if ev:
                found.append(ev)
            return bool(ev)
        run_until(check, timeout)
        return found[0] if found else None

    def wait_removed(self, name, timeout=10, since=0.0):
        return run_until(lambda: self.removed(name, since), timeout)

    def names(self):
        """Names avahi's browser still lists on some (interface, protocol).

        Per (interface, protocol): a goodbye heard on IPv6 does not remove the IPv4 entry,
        and a name whose resolve failed under load is still listed (a "+" without "=").
        """
        last = {}
        for ev in self.snapshot():
            if ev["event"] in "+-":
                last[(ev["name"], ev["iface"], ev["proto"])] = ev["event"]
        return sorted({name for (name, _, _), e in last.items() if e == "+"})

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# ---------------------------------------------------------------- JSON-RPC

class RpcError(Exception):
    """A JSON-RPC 2.0 error response (or the process died / timed out)."""

    def __init__(self, code, message, data=None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data


class JsonRpcProcess:
    """A process speaking JSON-RPC 2.0, one JSON object per line on stdin/stdout.

    Owns the process (started through a Host, so the Lan also kills it), a
    reader thread, and the stderr log file.
    """

    _counter = 0

    def __init__(self, host, argv, name=None, env=None, cwd=None):
        JsonRpcProcess._counter += 1
        self.host = host
        self.name = name or f"{os.path.basename(str(argv[0]))}@{host.name}"
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", self.name)
        self.stderr_path = os.path.join(host.lan.dir,
                                        f"rpc-{JsonRpcProcess._counter}-{safe}.stderr")
        self._stderr_file = open(self.stderr_path, "w")
        self.argv = list(argv)
        self.proc = host.popen(self.argv, env=env, cwd=cwd, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=self._stderr_file,
                               text=True, encoding="utf-8", errors="replace", bufsize=1)
        self._stderr_file.close()
        self._cond = threading.Condition()
        self._responses = {}
        self._notifications = []     # all received, in order
        self._unconsumed = []        # not yet returned by wait_notification
        self.garbage = []            # stdout lines that were not JSON-RPC
        self._next_id = 1
        self._eof = False
        self._write_lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        try:
            for line in self.proc.stdout:
                line = line.strip()
                if not line:
                    continue
                try:
                    msg = json.loads(line)
                except ValueError:
                    with self._cond:
                        self.garbage.append(line)
                    continue
                with self._cond:
                    if isinstance(msg, dict) and "method" in msg and "id" not in msg:
                        self._notifications.append(msg)
                        self._unconsumed.append(msg)
                    elif isinstance(msg, dict) and "id" in msg:
                        self._responses[msg["id"]] = msg
                    else:
                        self.garbage.append(line)
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    def send_raw(self, obj_or_line):
        """Write one line (a dict is JSON-encoded) to the process's stdin."""
        line = obj_or_line if isinstance(obj_or_line, str) else json.dumps(obj_or_line)
        with self._write_lock:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()

    def call(self, method, params=None, timeout=10):
        """Call method; return its result or raise RpcError."""
        with self._cond:
            rid = self._next_id
            self._next_id += 1
        req = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            req["params"] = params
        try:
            self.send_raw(req)
        except (BrokenPipeError, OSError) as e:
            raise RpcError(-32000, f"{self.name}: cannot write request: {e}")
        deadline = time.monotonic() + timeout
        with self._cond:
            while rid not in self._responses:
                if self._eof:
                    raise RpcError(-32000, f"{self.name} closed stdout while waiting "
                                           f"for {method} (exit {self.proc.poll()})")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RpcError(-32001, f"{self.name}: {method} timed out after {timeout}s")
                self._cond.wait(left)
            resp = self._responses.pop(rid)
        if "error" in resp:
            err = resp["error"] or {}
            raise RpcError(err.get("code"), err.get("message"), err.get("data"))
        return resp.get("result")

    def wait_notification(self, method, predicate=lambda params: True, timeout=10):
        """Return the params of the first not-yet-consumed notification `method`
        whose params satisfy predicate (already received ones count); consume it.
        Raises RpcError(-32001) on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, msg in enumerate(self._unconsumed):
                    if msg.get("method") == method and predicate(msg.get("params")):
                        del self._unconsumed[i]
                        return msg.get("params")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RpcError(-32001, f"{self.name}: no notification {method} "
                                           f"matching within {timeout}s")
                if self._eof:
                    raise RpcError(-32000, f"{self.name} closed stdout while waiting "
                                           f"for {method} (exit {self.proc.poll()})")
                self._cond.wait(min(left, 0.5))

    def notifications(self, method=None):
        """Params of every notification received so far (of method, if given)."""
        with self._cond:
            return [m.get("params") for m in self._notifications
                    if method is None or m.get("method") == method]

    def stderr_text(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def dump_logs(self, out=None):
        out = out or sys.stdout
        print(f"----- {self.name}: {' '.join(map(str, self.argv))} "
              f"(exit {self.proc.poll()}) stderr:", file=out)
        print(self.stderr_text().rstrip(), file=out)
        if self.garbage:
            print(f"----- {self.name}: non-JSON-RPC stdout lines:", file=out)
            for g in self.garbage:
                print(g, file=out)
        print(f"----- end {self.name}", file=out, flush=True)

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def terminate(self):
        if self.proc.poll() is None:
            self.proc.terminate()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()

    def wait(self, timeout=10):
        rc = self.proc.wait(timeout)
        self._thread.join(2)
        return rc

    def alive(self):
        return self.proc.poll() is None


def cli_path():
    """$CHINWAG_CLI, or Skip when it is not set or not built."""
    cli = os.environ.get("CHINWAG_CLI")
    if not cli:
        raise Skip("CHINWAG_CLI is not set (run through make check)")
    if not os.access(cli, os.X_OK):
        raise TestbedError(f"CHINWAG_CLI={cli} is not an executable")
    return cli


def start_cli(host, profile_dir, nick, extra_args=(), env=None):
    """Start `$CHINWAG_CLI --profile DIR [extra_args] jsonrpc` on host.

    Runs `$CHINWAG_CLI --profile DIR init --nick NICK` first when the profile
    directory is missing or empty. Returns a JsonRpcProcess.
    """
    cli = cli_path()
    profile_dir = str(profile_dir)
    if not os.path.isdir(profile_dir) or not os.listdir(profile_dir):
        os.makedirs(profile_dir, exist_ok=True)
        r = host.run([cli, "--profile", profile_dir, "init", "--nick", nick],
                     timeout=60, env=env)
        if r.returncode != 0:
            raise TestbedError(f"chinwag-cli init on {host.name} failed ({r.returncode}):"
                               f"\n{r.stdout}{r.stderr}")
    return JsonRpcProcess(host, [cli, "--profile", profile_dir, *extra_args, "jsonrpc"],
                          name=f"{nick}@{host.name}", env=env)


class CliGroup:
    """The chinwag-cli processes of one test, started through start().

    Owns the list of those processes (the Lan owns the processes themselves and
    kills them at teardown). As a context manager inside `with Lan(...)`: on an
    exception every CLI's stderr is dumped (before the Lan dumps the avahi
    logs); then on_exit runs for each CLI still alive: None (leave it to the
    Lan), "quit" (quit_or_kill), "kill" (SIGKILL and wait 10 s, e.g. before a
    file system under a profile is unmounted) or a function(proc).
    """

    def __init__(self, lan, on_exit=None):
        if on_exit not in (None, "quit", "kill") and not callable(on_exit):
            raise ValueError(f"CliGroup: unknown on_exit {on_exit!r}")
        self.lan = lan
        self.on_exit = on_exit
        self.procs = []

    def start(self, host, nick, profile=None, instance=None):
        """start_cli on lan[host] with --instance (default nick@cw-<host>) and
        profile dir (default lan.path("profiles", nick)); remembers the process."""
        h = self.lan[host]
        p = start_cli(h, profile or self.lan.path("profiles", nick), nick,
                      extra_args=["--instance", instance or f"{nick}@{h.hostname}"])
        self.procs.append(p)
        return p

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is not None:
                for p in self.procs:
                    p.dump_logs()
        finally:
            for p in self.procs:
                if not p.alive() or self.on_exit is None:
                    continue
                if self.on_exit == "quit":
                    quit_or_kill(p)
                elif self.on_exit == "kill":
                    p.kill()
                    p.wait(10)
                else:
                    self.on_exit(p)
        return False


def quit_or_kill(proc, timeout=3, wait=5):
    """Ask proc to `quit` and wait for its exit; SIGKILL it if either fails."""
    try:
        proc.call("quit", timeout=timeout)
        proc.wait(wait)
    except Exception:
        proc.kill()


# ---------------------------------------------------------------- peers and messages
# Peer views come from listPeers (key "id": the contact id, a fingerprint or
# "legacy:<instance>"; key "instance": the advertised name, which an impostor
# can share with a real contact: then the first listed one counts).

def find_peer(rpc, value, key="id"):
    """The first listPeers entry whose `key` equals value, or None."""
    for p in rpc.call("listPeers"):
        if p.get(key) == value:
            return p
    return None


def peer_online(rpc, value, key="id"):
    """The peer is listed and its `online` is truthy."""
    p = find_peer(rpc, value, key)
    return bool(p and p.get("online"))


def wait_online(rpc, value, online, timeout, key="id"):
    """Poll listPeers (every 0.2 s) until the peer is listed with online
    exactly True / False; returns whether that happened within timeout."""
    def ok():
        v = find_peer(rpc, value, key)
        return v is not None and v.get("online") is online
    return run_until(ok, timeout, interval=0.2)


def wait_peer(rpc, value, predicate, timeout, key="id"):
    """Poll listPeers (every 0.2 s) until the peer's view satisfies predicate.

    Returns the last view seen, or None if the peer was never listed. The view
    is returned on timeout too: callers check predicate(view) themselves.
    """
    last = [None]

    def ok():
        last[0] = find_peer(rpc, value, key)
        return last[0] is not None and predicate(last[0])
    run_until(ok, timeout, interval=0.2)
    return last[0]


def seen_offline(rpc, peer_id):
    """rpc has notified peerGone, or peerChanged with online false, for peer_id."""
    if any(p.get("id") == peer_id for p in rpc.notifications("peerGone")):
        return True
    return any(p.get("id") == peer_id and p.get("online") is False
               for p in rpc.notifications("peerChanged"))


def message_states(rpc, msg_id):
    """The states of msg_id's messageState notifications so far, in order."""
    return [n["state"] for n in rpc.notifications("messageState") if n.get("id") == msg_id]


def state_seen(rpc, msg_id, state):
    """A messageState `state` for msg_id has been notified."""
    return any(n.get("id") == msg_id and n.get("state") == state
               for n in rpc.notifications("messageState"))


def wait_state(rpc, msg_id, state, timeout, interval=0.05):
    """Wait until state_seen(rpc, msg_id, state); returns whether it was."""
    return run_until(lambda: state_seen(rpc, msg_id, state), timeout, interval)


def deliver(sender, receiver, to, body, timeout=20):
    """sender sends body to `to`: receiver must get a `message` with that body
    within timeout, and sender must then see its messageState delivered within
    10 s. Raises AssertionError otherwise."""
    t0 = time.monotonic()
    try:
        sent = sender.call("send", {"to": to, "body": body})
        receiver.wait_notification("message", lambda p: p.get("body") == body, timeout)
    except RpcError as e:
        raise AssertionError(f"{sender.name} -> {receiver.name} {body!r} not delivered: {e}")
    check(wait_state(sender, sent["id"], "delivered", 10),
          f"{sender.name} -> {receiver.name} delivered {body!r} in {time.monotonic() - t0:.2f}s")


# ---------------------------------------------------------------- hostile peers

STREAM_RX = rb"<stream:stream[^>]*>"


def rss_kb(pid):
    """VmRSS of pid in kB (AssertionError if /proc has none)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def stream_header(frm, to, version=False, encoding=None):
    """A plaintext XEP-0174 <stream:stream> opening, as bytes."""
    decl = f"<?xml version='1.0' encoding='{encoding}' ?>" if encoding else "<?xml version='1.0'?>"
    v = " version='1.0'" if version else ""
    return (f"{decl}<stream:stream xmlns='jabber:client' "
            f"xmlns:stream='http://etherx.jabber.org/streams' from='{frm}' to='{to}'{v}>").encode()


def wait_eof(s, timeout):
    """Read (and drop) from s until the peer closes it (EOF or reset: True) or
    timeout seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            return True   # reset counts as closed
        if not chunk:
            return True


def trickle(s, data, t0, give_up, interval=1.0):
    """Send data one byte per `interval` seconds until the peer closes s.

    Returns (seconds from monotonic time t0 to the close, or None when data
    ran out or give_up seconds passed since t0 first; bytes sent or tried).
    """
    sent = 0
    for byte in data:
        sent += 1
        try:
            s.sendall(bytes([byte]))
        except OSError:
            return time.monotonic() - t0, sent
        if wait_eof(s, interval):
            return time.monotonic() - t0, sent
        if time.monotonic() - t0 > give_up:
            break
    return None, sent
