"""Throwaway XMPP servers on loopback for Chinwag's client-to-server tests.

Owns: one temp dir per server (config, data, pid file, logs, certificate) and
the server process it starts there; nothing else. Recipe and measurements:
/work/shared/reference/xmpp-test-server.md.

Each server gets a self-signed EC P-256 certificate for its domain (SAN
DNS:<domain>, DNS:localhost, IP:127.0.0.1), made with openssl; a client trusts
exactly that file (ca_file) as its CA and checks the server name against the
domain. The domain does not resolve: connect to host:port explicitly. The c2s
listener is on 127.0.0.1 only, on a free random port; STARTTLS is required.

Python 3 standard library only. A missing server binary (or, for ejabberd,
not being root) raises testbed.Skip, which tests turn into exit status 77.

API in short:
  Prosody(domain="chinwag.test", limits=False, mam=True) -- context manager.
      limits=True enables Debian's stock mod_limits (c2s 10 kB/s, s2sin 30 kB/s);
      mam=False leaves mod_mam out (Debian's stock config has it commented out).
      As root it needs run_as_root (set); as another user it runs as that user.
  Ejabberd(domain="chinwag.test") -- context manager. Needs root: ejabberdctl
      always switches to the ejabberd user (the temp dir is chowned to it).
      Erlang distribution is private: epmd-less (ERL_DIST_PORT, a second free
      loopback port), -epmd_port 0, a random cookie, a unique node name, the
      distribution bound to 127.0.0.1. It never touches the machine's epmd.
  Both: start() (done by __enter__), stop(timeout=10), register(user, password),
      host ("127.0.0.1"), port, domain, ca_file, pid (the server process: lua
      for Prosody, beam for ejabberd; None when stopped), dir, log_text(),
      listening() -> [(ip, port)] the server process listens on, kind.
  free_port() -> a free TCP port on 127.0.0.1
  port_open(port, host="127.0.0.1") -> bool
Set CHINWAG_KEEP_TESTBED=1 to keep the temp dirs (logs) after a run.
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lan"))
from testbed import Skip, TestbedError, _pid_alive, _read_text, log, run_until  # noqa: E402

__all__ = ["Prosody", "Ejabberd", "free_port", "port_open", "ServerError"]

LOOPBACK = "127.0.0.1"


class ServerError(TestbedError):
    """A throwaway server failed to start or to do what it was asked."""


def free_port():
    """A TCP port that is free on 127.0.0.1 now (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_open(port, host=LOOPBACK, timeout=0.5):
    """True if a TCP connect to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _tail(text, lines=40):
    return "\n".join(text.splitlines()[-lines:])


def _find_binary(name):
    """Path of a server binary (PATH, then /usr/sbin and /usr/bin), or None."""
    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/usr/bin"):
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return None


def _listening(pid):
    """[(ip, port)] of the TCP sockets process pid listens on (IPv4 and IPv6)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return []
    found = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        for line in _read_text(table).splitlines()[1:]:
            f = line.split()
            if len(f) < 10 or f[3] != "0A" or f[9] not in inodes:  # 0A: LISTEN
                continue
            addr, port = f[1].split(":")
            raw = bytes.fromhex(addr)
            if v6:
                # four little-endian 32-bit words
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                ip = socket.inet_ntop(socket.AF_INET6, raw)
            else:
                ip = socket.inet_ntop(socket.AF_INET, raw[::-1])
            found.append((ip, int(port, 16)))
    return found


class _Server:
    """Common part: temp dir, certificate, port, start/wait/stop, logs."""

    kind = "server"
    start_timeout = 30.0

    def __init__(self, domain="chinwag.test"):
        self.domain = domain
        self.host = LOOPBACK
        self.port = None
        self.dir = None
        self.pid = None
        self.keep_dir = bool(os.environ.get("CHINWAG_KEEP_TESTBED"))
        self._proc = None
        self._out = None

    # -- context manager
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Stop the server (if running) and remove its temp dir (unless kept)."""
        try:
            self.stop()
        finally:
            if self._out is not None:
                self._out.close()
                self._out = None
            if self.dir and os.path.isdir(self.dir):
                if self.keep_dir:
                    log(f"{self.kind}: kept {self.dir}")
                else:
                    shutil.rmtree(self.dir, ignore_errors=True)

    # -- files
    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    @property
    def ca_file(self):
        """The server's self-signed certificate (PEM): a client's only trust anchor."""
        return self.path("cert.pem")

    def _make_dir(self):
        self.dir = tempfile.mkdtemp(prefix=f"cw-{self.kind}-")

    def _make_cert(self):
        if _find_binary("openssl") is None:
            raise Skip("openssl not installed (Debian package openssl; tools/install-deps)")
        r = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "2", "-subj", f"/CN={self.domain}",
             "-addext", f"subjectAltName=DNS:{self.domain},DNS:localhost,IP:127.0.0.1",
             "-keyout", self.path("key.pem"), "-out", self.path("cert.pem")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
        if r.returncode != 0:
            raise ServerError(f"{self.kind}: openssl req failed ({r.returncode}): {r.stdout.strip()}")

    def log_text(self):
        """Everything the server wrote: its log files and its stdout/stderr."""
        parts = []
        for name in self._log_files():
            text = _read_text(self.path(name)) if self.dir else ""
            if text:
                parts.append(f"--- {name}\n{text}")
        return "\n".join(parts)

    def _log_files(self):
        return ["stdout.log"]

    def listening(self):
        """[(ip, port)] the server process listens on."""
        return _listening(self.pid) if self.pid else []

    # -- lifecycle
    def start(self):
        self._check_installed()
        self._make_dir()
        self._make_cert()
        self.port = free_port()
        self._write_config()
        self._out = open(self.path("stdout.log"), "wb")
        t0 = time.monotonic()
        self._proc = subprocess.Popen(self._start_argv(), stdin=subprocess.DEVNULL,
                                      stdout=self._out, stderr=subprocess.STDOUT,
                                      cwd=self.dir, env=self._env(), start_new_session=True)
        try:
            ok = run_until(lambda: self._proc.poll() is not None or
                           (self._server_pid() is not None and port_open(self.port, timeout=0.2)
                            and self._ready()),
                           self.start_timeout, interval=0.05)
            if self._proc.poll() is not None:
                raise ServerError(f"{self.kind} exited with status {self._proc.returncode} "
                                  f"while starting; log tail:\n{_tail(self.log_text())}")
            if not ok:
                raise ServerError(f"{self.kind} did not accept on {self.host}:{self.port} within "
                                  f"{self.start_timeout:.0f} s; log tail:\n{_tail(self.log_text())}")
            self.pid = self._server_pid()
        except BaseException:
            self._kill_started()
            raise
        self.start_seconds = time.monotonic() - t0
        log(f"{self.kind} {self.domain} on {self.host}:{self.port} (pid {self.pid}) "
            f"after {self.start_seconds:.2f} s")

    def stop(self, timeout=10):
        """SIGTERM the server process we started, wait for it (SIGKILL after timeout)."""
        if self._proc is None:
            return
        pid = self.pid
        if pid is not None and _pid_alive(pid) and self._is_ours(pid):
            os.kill(pid, signal.SIGTERM)
        gone = run_until(lambda: (pid is None or not _pid_alive(pid)) and
                         self._proc.poll() is not None, timeout, interval=0.05)
        if not gone:
            log(f"{self.kind}: not gone {timeout} s after SIGTERM, SIGKILL")
            self._kill_started()
        else:
            self._proc.wait()
        self._proc = None
        self.pid = None

    def _kill_started(self):
        """SIGKILL what we started: the server pid (if known and ours) and our launcher."""
        pid = self.pid or self._server_pid()
        if pid is not None and _pid_alive(pid) and self._is_ours(pid):
            os.kill(pid, signal.SIGKILL)
        if self._proc.poll() is None:
            self._proc.kill()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        run_until(lambda: pid is None or not _pid_alive(pid), 5)

    def _run_ctl(self, argv, what, timeout=30):
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=timeout,
                           cwd=self.dir, env=self._env())
        if r.returncode != 0:
            raise ServerError(f"{self.kind}: {what} failed ({r.returncode}): {r.stdout.strip()}\n"
                              f"log tail:\n{_tail(self.log_text())}")
        return r

    def _env(self):
        return dict(os.environ)

    # -- per server
    def _check_installed(self):
        raise NotImplementedError

    def _write_config(self):
        raise NotImplementedError

    def _start_argv(self):
        raise NotImplementedError

    def _server_pid(self):
        raise NotImplementedError

    def _is_ours(self, pid):
        raise NotImplementedError

    def _ready(self):
        """Beyond an accepting port: has the server finished starting?"""
        return True


# ---------------------------------------------------------------- Prosody

PROSODY_CFG = """\
-- Written by tests/wan/xmpp_server.py for one test run; thrown away after it.
run_as_root = true
pidfile = "{dir}/prosody.pid"
data_path = "{dir}/data"
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {port} }}
c2s_direct_tls_ports = {{ }}
modules_enabled = {{
  "roster"; "saslauth"; "tls"; "disco"; "pep"; "private"; "carbons"; "ping"; "smacks";
{extra_modules}}}
-- No federation: the s2s listener would also take a fixed port (5269).
modules_disabled = {{ "s2s" }}
c2s_require_encryption = true
authentication = "internal_hashed"
storage = "internal"
default_archive_policy = true
{limits}log = {{
  {{ levels = {{ min = "info" }}; to = "file"; filename = "{dir}/prosody.log" }};
}}

VirtualHost "{domain}"
  ssl = {{ certificate = "{dir}/cert.pem"; key = "{dir}/key.pem" }}
"""

# Debian 12's stock /etc/prosody/prosody.cfg.lua (with "limits" in modules_enabled).
PROSODY_STOCK_LIMITS = """\
limits = {
  c2s = { rate = "10kb/s" };
  s2sin = { rate = "30kb/s" };
}
"""


class Prosody(_Server):
    """A throwaway Prosody (0.12, Debian 12) on 127.0.0.1:<random port>."""

    kind = "prosody"
    start_timeout = 20.0

    def __init__(self, domain="chinwag.test", limits=False, mam=True):
        super().__init__(domain)
        self.limits = limits
        self.mam = mam

    def _check_installed(self):
        for b in ("prosody", "prosodyctl"):
            if _find_binary(b) is None:
                raise Skip(f"{b} not installed (Debian packages prosody lua-dbi-sqlite3; "
                           "tools/install-deps)")

    @property
    def config_file(self):
        return self.path("prosody.cfg.lua")

    def _write_config(self):
        os.mkdir(self.path("data"))
        extra = ""
        if self.mam:
            extra += '  "mam";\n'
        if self.limits:
            extra += '  "limits";\n'
        with open(self.config_file, "w") as f:
            f.write(PROSODY_CFG.format(dir=self.dir, port=self.port, domain=self.domain,
                                       extra_modules=extra,
                                       limits=PROSODY_STOCK_LIMITS if self.limits else ""))

    def _start_argv(self):
        # -F: foreground (daemonize= is deprecated in 0.12); the pid is the lua process.
        return [_find_binary("prosody"), "-F", "--config", self.config_file]

    def _server_pid(self):
        if self._proc is None or self._proc.poll() is not None:
            return None
        return self._proc.pid

    def _is_ours(self, pid):
        return self._proc is not None and pid == self._proc.pid

    def _log_files(self):
        return ["prosody.log", "stdout.log"]

    def register(self, user, password):
        """Create user@domain (prosodyctl, also while the server runs; ~60 ms)."""
        self._run_ctl([_find_binary("prosodyctl"), "--config", self.config_file,
                       "register", user, self.domain, password], f"register {user}")


# ---------------------------------------------------------------- ejabberd

EJABBERD_YML = """\
# Written by tests/wan/xmpp_server.py for one test run; thrown away after it.
hosts:
  - "{domain}"
loglevel: info
log_rotate_count: 0
certfiles:
  - "{dir}/{domain}.pem"
acme:
  auto: false
listen:
  -
    port: {port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: none
    access: c2s
    starttls_required: true
auth_method: internal
auth_password_format: scram
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  pubsub_createnode:
    allow: local
shaper_rules:
  max_user_sessions: 10
modules:
  mod_roster: {{}}
  mod_disco: {{}}
  mod_caps: {{}}
  mod_pubsub:
    access_createnode: pubsub_createnode
    plugins:
      - flat
      - pep
  mod_carboncopy: {{}}
  mod_stream_mgmt: {{}}
  mod_ping: {{}}
  mod_mam:
    default: always
  mod_private: {{}}
  mod_offline: {{}}
"""

# Sourced by ejabberdctl. ERL_DIST_PORT switches to epmd-less distribution
# (-erl_epmd_port, -start_epmd false) and makes ejabberdctl skip its `epmd -kill`.
EJABBERDCTL_CFG = """\
ERLANG_NODE={node}
ERL_DIST_PORT={dist_port}
INET_DIST_INTERFACE=127.0.0.1
EJABBERD_PID_PATH={dir}/ejabberd.pid
"""

# Passed to the server node and to every ejabberdctl command node (-args_file).
# -epmd_port 0: OTP 25 would otherwise still register with a running epmd.
EJABBERD_VM_ARGS = """\
-setcookie {cookie}
-kernel inet_dist_use_interface {{127,0,0,1}}
-epmd_port 0
"""

EJABBERD_INETRC = """\
{lookup, ["file", "native"]}.
{host, {127,0,0,1}, ["localhost"]}.
"""


class Ejabberd(_Server):
    """A throwaway ejabberd (23.01, Debian 12) on 127.0.0.1:<random port>."""

    kind = "ejabberd"
    start_timeout = 40.0

    def __init__(self, domain="chinwag.test"):
        super().__init__(domain)
        self.dist_port = None
        self.node = None

    def _check_installed(self):
        if _find_binary("ejabberdctl") is None:
            raise Skip("ejabberdctl not installed (Debian package ejabberd; tools/install-deps)")
        if os.geteuid() != 0:
            raise Skip("ejabberd needs root here: ejabberdctl runs only as root or as the "
                       "ejabberd user")

    def _ctl(self, *args):
        return [_find_binary("ejabberdctl"),
                "--config-dir", self.dir,
                "--config", self.path("ejabberd.yml"),
                "--ctl-config", self.path("ejabberdctl.cfg"),
                "--spool", self.path("spool"),
                "--logs", self.path("logs"),
                *args]

    def _write_config(self):
        self.dist_port = free_port()
        while self.dist_port == self.port:
            self.dist_port = free_port()
        self.node = f"cw{secrets.token_hex(6)}@localhost"
        os.mkdir(self.path("spool"))
        os.mkdir(self.path("logs"))
        with open(self.path(f"{self.domain}.pem"), "w") as f:
            f.write(_read_text(self.path("cert.pem")) + _read_text(self.path("key.pem")))
        files = {
            "ejabberd.yml": EJABBERD_YML.format(dir=self.dir, port=self.port, domain=self.domain),
            "ejabberdctl.cfg": EJABBERDCTL_CFG.format(node=self.node, dist_port=self.dist_port,
                                                      dir=self.dir),
            "vm.args": EJABBERD_VM_ARGS.format(cookie=secrets.token_hex(16)),
            "inetrc": EJABBERD_INETRC,
        }
        for name, text in files.items():
            with open(self.path(name), "w") as f:
                f.write(text)
        # ejabberdctl always su's to the ejabberd user: it must read and write all of it.
        shutil.chown(self.dir, "ejabberd", "ejabberd")
        for root, dirs, names in os.walk(self.dir):
            for n in dirs + names:
                shutil.chown(os.path.join(root, n), "ejabberd", "ejabberd")
        # The ctl user must not mix in a system-wide node name or cookie.
        os.chmod(self.path("vm.args"), 0o600)

    def _env(self):
        env = dict(os.environ)
        env["EJABBERD_PID_PATH"] = self.path("ejabberd.pid")
        env.pop("ERL_EPMD_PORT", None)
        return env

    def _start_argv(self):
        return self._ctl("foreground")

    def _server_pid(self):
        """beam's pid from EJABBERD_PID_PATH ($! is ejabberdctl, not beam)."""
        if self.pid is not None:
            return self.pid
        text = _read_text(self.path("ejabberd.pid")).strip()
        if not text.isdigit():
            return None
        pid = int(text)
        return pid if _pid_alive(pid) and self._is_ours(pid) else None

    def _is_ours(self, pid):
        """The beam of our node (pid files can be stale, pids reused)."""
        return "beam" in _cmdline(pid) and self.node.split("@")[0] in _cmdline(pid)

    def _ready(self):
        # The c2s listener accepts before the auth tables exist: a register then fails
        # with {aborted,{no_exists,passwd,storage_type}}. The log says when all is up.
        return f"is started in the node {self.node}" in _read_text(self.path("logs/ejabberd.log"))

    def _log_files(self):
        return ["logs/ejabberd.log", "logs/error.log", "stdout.log"]

    def register(self, user, password):
        """Create user@domain (ejabberdctl against the running node; ~0.5 s)."""
        self._run_ctl(self._ctl("register", user, self.domain, password), f"register {user}")
