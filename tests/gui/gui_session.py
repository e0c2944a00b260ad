"""A private headless desktop for driving the real `chinwag` app in tests.

Owns: an Xvfb server (it picks a free display, -displayfd), a private D-Bus
session bus on a path socket (reachable from every network namespace of the
simulated LAN, unlike abstract sockets), a private XDG_RUNTIME_DIR (so the
AT-SPI bus is a path socket too), a `dbus-monitor` on that bus recording
notification calls, and helpers to find widgets through AT-SPI (pyatspi) and
to give them real X input (xdotool). Recipe: reference/headless-desktop.md.
"""

import os
import shutil
import subprocess
import sys
import threading
import time

try:
    import pyatspi  # noqa: F401  (only: is it importable?)
except ImportError:
    # python3-pyatspi is installed for Debian's interpreter; a pyenv python3 may not see it.
    if os.path.exists("/usr/bin/python3") and not os.environ.get("CHINWAG_GUI_REEXEC"):
        os.environ["CHINWAG_GUI_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])

from testbed import Lan, Skip, TestbedError, cli_path, log, run_until, skip_unless_root, start_cli

SESSION_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <standard_session_servicedirs/>
{servicedirs}  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


NOTIFICATION_DAEMON = "/usr/lib/notification-daemon/notification-daemon"


def skip_unless_desktop_tools():
    if not os.path.exists(NOTIFICATION_DAEMON):
        raise Skip("notification-daemon not installed (Debian package notification-daemon)")
    for tool, pkg in (("Xvfb", "xvfb"), ("xdotool", "xdotool"), ("import", "imagemagick"),
                      ("dbus-daemon", "dbus"), ("dbus-monitor", "dbus")):
        if shutil.which(tool) is None:
            raise Skip(f"{tool} not installed (Debian package {pkg})")
    try:
        import pyatspi  # noqa: F401
    except ImportError:
        raise Skip("python3-pyatspi not installed")


class Desktop:
    """Xvfb + private session bus. Use as a context manager."""

    def __init__(self, workdir, width=1200, height=760, bus_host=None, service_dirs=()):
        """bus_host: run the session bus in that simulated host's namespace, so the services
        it activates (the app from its D-Bus service file) are on that host. service_dirs:
        more directories of D-Bus service files for the session bus."""
        skip_unless_desktop_tools()
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.procs = []
        self.runtime = os.path.join(workdir, "runtime")
        os.makedirs(self.runtime, mode=0o700, exist_ok=True)
        # Xvfb picks a free display and writes its number on fd 3.
        r, w = os.pipe()
        self.xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", f"{width}x{height}x24",
                                      "-nolisten", "tcp"], pass_fds=(w,),
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "xvfb.log"), "w"))
        os.close(w)
        self.procs.append(self.xvfb)
        number = b""
        deadline = time.monotonic() + 15
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            chunk = os.read(r, 16)
            if not chunk:
                break
            number += chunk
        os.close(r)
        if not number.strip():
            raise TestbedError("Xvfb did not report a display")
        self.display = ":" + number.decode().strip()
        socket = os.path.join(workdir, "session_bus_socket")
        conf = os.path.join(workdir, "session.conf")
        with open(conf, "w") as f:
            f.write(SESSION_CONF.format(socket=socket, servicedirs="".join(
                f"  <servicedir>{d}</servicedir>\n" for d in service_dirs)))
        bus_argv = ["dbus-daemon", f"--config-file={conf}", "--nofork", "--nopidfile"]
        # What the bus starts inherits its environment. at-spi-bus-launcher (activated as soon as
        # anything asks for the accessibility bus) puts its socket in $XDG_RUNTIME_DIR/at-spi/,
        # or without one in ~/.cache/at-spi/, shared by every test's desktop: the launcher of a
        # finished test, exiting late, deleted the next test's socket there ("Unable to connect
        # to the accessibility bus at unix:path=/root/.cache/at-spi/bus").
        bus_env = {"XDG_RUNTIME_DIR": self.runtime, "DISPLAY": self.display}
        with open(os.path.join(workdir, "bus.log"), "w") as bus_log:
            if bus_host is not None:
                self.bus = bus_host.popen(bus_argv, env=bus_env, stdout=subprocess.DEVNULL, stderr=bus_log)
            else:
                self.bus = subprocess.Popen(bus_argv, env={**os.environ, **bus_env}, stdout=subprocess.DEVNULL,
                                            stderr=bus_log)
        self.procs.append(self.bus)
        if not run_until(lambda: os.path.exists(socket), 10):
            raise TestbedError("the session bus did not start")
        self.env = {
            "DISPLAY": self.display,
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={socket}",
            "XDG_RUNTIME_DIR": self.runtime,
            "GSK_RENDERER": "cairo",
            "GTK_A11Y": "atspi",
            "NO_AT_BRIDGE": "0",
            "LANGUAGE": "C",
            "LC_ALL": "C.UTF-8",
            "GDK_BACKEND": "x11",
        }
        # This process talks AT-SPI to the app: same session bus.
        os.environ.update(self.env)
        self.notifications = []
        self._lock = threading.Lock()
        # Unfiltered (match rules given to dbus-monitor caught nothing here); filtered below.
        self.monitor = subprocess.Popen(["stdbuf", "-oL", "dbus-monitor", "--session"],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.procs.append(self.monitor)
        threading.Thread(target=self._read_monitor, daemon=True).start()
        # GNOME's fallback notification server, a real one: GNotification's fdo backend talks to
        # it, so the Notify / CloseNotification calls are delivered and the monitor sees them.
        self.notifyd = subprocess.Popen([NOTIFICATION_DAEMON], stdout=subprocess.DEVNULL,
                                        stderr=open(os.path.join(workdir, "notification-daemon.log"), "w"))
        self.procs.append(self.notifyd)

        def owned():
            r = subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
                                "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner",
                                "string:org.freedesktop.Notifications"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=10)
            return "boolean true" in r.stdout
        if not run_until(owned, 15, interval=0.2):
            raise TestbedError("notification-daemon did not take org.freedesktop.Notifications")
        time.sleep(0.5)  # dbus-monitor becomes a monitor asynchronously
        r = subprocess.run(["gdbus", "call", "--session", "--dest", "org.a11y.Bus", "--object-path", "/org/a11y/bus",
                            "--method", "org.a11y.Bus.GetAddress"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=20)
        if self.runtime not in r.stdout:
            raise TestbedError(f"the accessibility bus is not in this desktop's runtime dir: {r.stdout.strip()}")
        log(f"desktop up: display {self.display}, bus {self.env['DBUS_SESSION_BUS_ADDRESS']}")

    def _read_monitor(self):
        current = None
        for line in self.monitor.stdout:
            if line.startswith("method call") or line.startswith("signal") or line.startswith("method return") \
                    or line.startswith("error"):
                if current and "Notifications" in current["header"]:
                    with self._lock:
                        self.notifications.append(current)
                current = {"header": line.strip(), "body": ""}
            elif current is not None:
                current["body"] += line
        if current and "Notifications" in current["header"]:
            with self._lock:
                self.notifications.append(current)

    def notification_calls(self, member):
        """Bodies of the method calls `member` (Notify, AddNotification, ...) seen so far."""
        with self._lock:
            return [n["body"] for n in self.notifications
                    if n["header"].startswith("method call") and f"member={member}" in n["header"]]

    def screenshot(self, path, settle=0.6, window=None):
        """The whole screen, or only the visible X window titled `window`."""
        time.sleep(settle)  # a screenshot at map time is blank (headless-desktop.md)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        target = "root"
        if window:
            ids = self.xdotool("search", "--onlyvisible", "--name", f"^{window}$").stdout.split()
            if not ids:
                raise AssertionError(f"no visible window titled {window!r} to take a screenshot of")
            target = ids[0]
        subprocess.run(["import", "-display", self.display, "-window", target, path], check=True, timeout=30)
        log(f"screenshot {path}")

    def xdotool(self, *args):
        return subprocess.run(["xdotool", *map(str, args)], env={**os.environ, **self.env},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=20)

    def window_origin(self, title):
        """Top-left corner on the screen of the visible X window named `title`."""
        r = self.xdotool("search", "--onlyvisible", "--name", f"^{title}$", "getwindowgeometry", "--shell")
        vals = dict(line.split("=", 1) for line in r.stdout.split() if "=" in line)
        return int(vals.get("X", 0)), int(vals.get("Y", 0))

    def window_size(self, title="Chinwag"):
        """(width, height) of the visible X window named `title`, (0, 0) if none."""
        r = self.xdotool("search", "--onlyvisible", "--name", f"^{title}$", "getwindowgeometry", "--shell")
        vals = dict(line.split("=", 1) for line in r.stdout.split() if "=" in line)
        return int(vals.get("WIDTH", 0)), int(vals.get("HEIGHT", 0))

    def resize(self, width, height, title="Chinwag", timeout=15):
        """Resizes the visible window `title` as a window manager would; True once it has that
        size. Asked again every 2 s: GTK, busy re-laying out (slow under ASan), can answer a
        resize with the size it had computed before it (seen in CI)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.xdotool("search", "--onlyvisible", "--name", f"^{title}$", "windowsize", width, height)
            if run_until(lambda: self.window_size(title) == (width, height), min(2, max(0.1, deadline - time.monotonic()))):
                return True
        return False

    def click_node(self, node, window="Chinwag"):
        """A real click in the middle of an accessible node of the visible window `window`."""
        self.click(*center(node, self.window_origin(window)))

    def click(self, x, y):
        self.xdotool("mousemove", int(x), int(y), "click", "1")

    def type_text(self, text):
        self.xdotool("type", "--delay", "20", text)

    def key(self, *keys):
        self.xdotool("key", *keys)

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# ---------------------------------------------------------------- AT-SPI

def _children(node):
    try:
        return [node.getChildAtIndex(i) for i in range(node.childCount)]
    except Exception:
        return []


def find_app(pid, timeout=20):
    import pyatspi
    found = []

    def look():
        desktop = pyatspi.Registry.getDesktop(0)
        for app in _children(desktop):
            try:
                if app is not None and app.get_process_id() == pid:
                    found.append(app)
                    return True
            except Exception:
                continue
        return False
    if not run_until(look, timeout, interval=0.3):
        raise AssertionError(f"the app (pid {pid}) did not appear on the accessibility bus")
    return found[0]


def other_apps_buttons(exclude_pid, label):
    """Push buttons named `label` in the accessible apps other than `exclude_pid` (e.g. the
    notification server's popups)."""
    import pyatspi
    hits = []
    desktop = pyatspi.Registry.getDesktop(0)
    for app in _children(desktop):
        try:
            if app is None or app.get_process_id() == exclude_pid:
                continue
        except Exception:
            continue
        hits += [n for n in walk(app, max_depth=30) if role_of(n) == "push button" and name_of(n) == label]
    return hits


def walk(node, depth=0, max_depth=60):
    if node is None or depth > max_depth:
        return
    yield node
    for c in _children(node):
        yield from walk(c, depth + 1, max_depth)


def name_of(node):
    try:
        return node.name or ""
    except Exception:
        return ""


def role_of(node):
    try:
        return node.getRoleName()
    except Exception:
        return ""


def text_of(node):
    try:
        t = node.queryText()
        return t.getText(0, t.characterCount)
    except Exception:
        return ""


def extents(node):
    import pyatspi
    try:
        e = node.queryComponent().getExtents(pyatspi.WINDOW_COORDS)
        return (e.x, e.y, e.width, e.height)
    except Exception:
        return None


def states_of(node):
    import pyatspi
    try:
        return ",".join(pyatspi.stateToString(s) for s in node.getState().getStates()
                        if s in (pyatspi.STATE_SHOWING, pyatspi.STATE_VISIBLE, pyatspi.STATE_SELECTED,
                                 pyatspi.STATE_FOCUSED, pyatspi.STATE_CHECKED))
    except Exception as e:
        return f"?{e}"


def showing(node):
    """On the screen as far as AT-SPI tells: GTK 4.8 sets SHOWING on windows only and VISIBLE on
    the widgets that are visible (hidden widgets leave the tree)."""
    import pyatspi
    try:
        st = node.getState()
        return st.contains(pyatspi.STATE_SHOWING) or st.contains(pyatspi.STATE_VISIBLE)
    except Exception:
        return False


def find_all(root, predicate):
    return [n for n in walk(root) if predicate(n)]


def wait_for(root, predicate, timeout, what):
    found = []

    def look():
        hits = find_all(root, predicate)
        if hits:
            found.append(hits[0])
            return True
        return False
    if not run_until(look, timeout, interval=0.3):
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")
    return found[0]


def center(node, origin=(0, 0)):
    """Screen point at the middle of node. GTK 4 reports only window coordinates, so the
    caller passes the window's origin on the screen (Desktop.window_origin)."""
    import pyatspi
    c = node.queryComponent()
    e = c.getExtents(pyatspi.WINDOW_COORDS)
    return origin[0] + e.x + e.width / 2, origin[1] + e.y + e.height / 2


def screen_center(node):
    """Screen point at the middle of a GTK 3 widget (GTK 3 reports screen coordinates)."""
    import pyatspi
    e = node.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
    return e.x + e.width / 2, e.y + e.height / 2


def do_action(node, name="click"):
    a = node.queryAction()
    for i in range(a.nActions):
        if a.getName(i) == name:
            return a.doAction(i)
    raise AssertionError(f"{role_of(node)} '{name_of(node)}' has no action {name}")


def dump(root, out_lines=None, max_depth=40):
    lines = out_lines if out_lines is not None else []

    def rec(n, d):
        if d > max_depth:
            return
        lines.append("  " * d + f"[{role_of(n)}] {name_of(n)!r} {text_of(n)[:60]!r} {states_of(n)} {extents(n)}")
        for c in _children(n):
            rec(c, d + 1)
    rec(root, 0)
    return "\n".join(lines)


# ---------------------------------------------------------------- test helpers shared by the GUI tests

APP_ID = "io.github.chinwag.Chinwag"
# Roles of the widgets a user presses: each needs a name a screen reader can say.
BUTTON_ROLES = ("push button", "toggle button", "switch", "menu button", "check box", "radio button")


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    log(f"ok: {what}")


def row_named(app, nick):
    """The contact row whose accessible name starts with "nick," (see contact_summary)."""
    rows = find_all(app, lambda n: role_of(n) == "list item" and name_of(n).startswith(nick + ","))
    return rows[0] if rows else None


def wait_row(app, nick, predicate, timeout, what):
    last = [None]

    def ok():
        r = row_named(app, nick)
        last[0] = name_of(r) if r else None
        return r is not None and predicate(name_of(r))
    if not run_until(ok, timeout, interval=0.3):
        raise AssertionError(f"{what}: timed out; row now {last[0]!r}")
    log(f"ok: {what} ({last[0]!r})")


def gdbus_call(desk, method, *args, object_path=None):
    r = subprocess.run(["gdbus", "call", "--session", "--dest", APP_ID, "--object-path",
                        object_path or "/" + APP_ID.replace(".", "/"), "--method", method, *args],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=20,
                       env={**os.environ, **desk.env})
    log(f"{method} {' '.join(args)}: {r.returncode} {r.stdout.strip()}")
    return r.returncode == 0


def activate_action(desk, name, parameter=None):
    """Activates an action the app exports on the session bus (org.gtk.Actions), as a
    notification server or the shell does."""
    return gdbus_call(desk, "org.gtk.Actions.Activate", name, f"[{parameter}]" if parameter else "[]", "{}")


def label_showing(app, text):
    return find_all(app, lambda n: role_of(n) == "label" and text in name_of(n))


def app_env(desk, build, src, home):
    """Environment of the app under test: the build's schema, the source tree's icons, a
    private home whose GSettings live in a key file (no dconf-service on the private bus)."""
    env = {**desk.env, "GSETTINGS_SCHEMA_DIR": os.path.join(build, "data"),
           "GSETTINGS_BACKEND": "keyfile",
           "XDG_DATA_DIRS": f"{os.path.join(src, 'data')}:/usr/local/share:/usr/share",
           "XDG_CONFIG_HOME": os.path.join(home, ".config"), "HOME": home}
    os.makedirs(env["XDG_CONFIG_HOME"], exist_ok=True)
    # Under tools/sanitizer-check the GTK app keeps every memory check but LeakSanitizer:
    # fontconfig frees its caches only in FcFini(), which GTK never calls, and those stacks
    # end in libraries built without frame pointers, so they cannot be suppressed narrowly.
    # The app inherits this process's environment (Host.command), so ASAN_OPTIONS comes from there.
    asan = env.get("ASAN_OPTIONS", os.environ.get("ASAN_OPTIONS"))
    if os.environ.get("CHINWAG_UNDER_SANITIZERS") and asan:
        env["ASAN_OPTIONS"] = asan.replace("detect_leaks=1", "detect_leaks=0")
    return env


def mnemonic_residue(name):
    """True if an accessible name still shows a mnemonic marker ("_Quit Quit")."""
    import re
    return bool(re.search(r"(^|\s)_\w", name))


def type_name_only(name):
    """GTK 4.8 gives a widget without an accessible name its type name ("GtkImage")."""
    import re
    return bool(re.fullmatch(r"(gtkmm__)?(Gtk|Adw)[A-Z]\w*", name))


def unnamed_buttons(app):
    """Showing buttons and entries without a clean accessible name: (role, name) pairs."""
    bad = []
    for n in find_all(app, lambda n: role_of(n) in BUTTON_ROLES + ("entry", "text", "combo box") and showing(n)):
        name = name_of(n).strip()
        words = name.split()
        doubled = len(words) % 2 == 0 and words and words[:len(words) // 2] == words[len(words) // 2:]
        if not name or mnemonic_residue(name) or type_name_only(name) or doubled:
            bad.append((role_of(n), name))
    return bad


def button_names(app):
    return sorted({(role_of(n), name_of(n)) for n in find_all(app, lambda n: role_of(n) in BUTTON_ROLES and showing(n))})


# ---------------------------------------------------------------- one GUI test's world

class GuiSession:
    """One GUI test's world: a simulated LAN, a headless desktop on it, the apps and CLIs the
    test starts, and on failure everything needed to see why. Owns the Lan and the Desktop.

        with GuiSession(("a", "b"), "narrow") as s:
            proc, app = s.start_app(profile)
            bob = s.start_cli("b", "bob", "bob@cw-b")

    Needs root and the desktop tools (skips otherwise) and the paths `make check` exports
    (CHINWAG_GUI, CHINWAG_BUILDDIR, CHINWAG_SRCDIR). On an exception in the body it prints the
    CLIs' stderr and the avahi logs, the last app's accessibility tree, the tail of every app's
    stderr, and writes screenshots/failure-TAG.png. Apps still running are killed at the end,
    then the callbacks given to at_exit() run (last first), then the desktop and the LAN go.
    """

    def __init__(self, hosts, tag, width=1200, height=760, tree_chars=30000, bus_host=None, service_dirs=()):
        self.hosts, self.tag, self.size, self.tree_chars = tuple(hosts), tag, (width, height), tree_chars
        self.bus_host, self.service_dirs = bus_host, tuple(service_dirs)
        self.app = None
        self._procs, self._apps, self._logs, self._cleanups = [], [], [], []

    def __enter__(self):
        skip_unless_root()
        skip_unless_desktop_tools()
        self.gui = os.environ.get("CHINWAG_GUI")
        self.build = os.environ.get("CHINWAG_BUILDDIR")
        self.src = os.environ.get("CHINWAG_SRCDIR")
        if not self.gui or not self.build or not self.src:
            raise Skip("CHINWAG_GUI / CHINWAG_BUILDDIR / CHINWAG_SRCDIR not set (run through make check)")
        self.shots = os.path.join(self.build, "tests", "gui", "screenshots")
        self._lan = Lan(self.hosts)
        self.lan = self._lan.__enter__()
        try:
            self.desk = Desktop(self.lan.path("desktop"), width=self.size[0], height=self.size[1],
                                bus_host=self.lan[self.bus_host] if self.bus_host else None,
                                service_dirs=self.service_dirs)
        except BaseException:
            self._lan.__exit__(*sys.exc_info())
            raise
        # The app's environment; a test may change it before starting the next app.
        self.env = app_env(self.desk, self.build, self.src, self.lan.path("home"))
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is not None and not issubclass(exc_type, Skip):
                self._report()
        finally:
            try:
                for p in self._apps:
                    if p.poll() is None:
                        p.kill()
                        try:
                            p.wait(15)
                        except subprocess.TimeoutExpired:
                            pass
                for fn in reversed(self._cleanups):
                    try:
                        fn()
                    except Exception as e:  # the other cleanups still run
                        log(f"cleanup {getattr(fn, '__name__', fn)} failed: {e}")
            finally:
                self.desk.close()
                self._lan.__exit__(exc_type, exc, tb)
        return False

    def _report(self):
        for p in self._procs:
            try:
                p.dump_logs()
            except Exception as e:
                print(f"----- cannot dump {p}: {e}", flush=True)
        if self.app is not None:
            print("----- accessibility tree of the app:\n" + dump(self.app)[:self.tree_chars], flush=True)
            try:
                self.desk.screenshot(os.path.join(self.shots, f"failure-{self.tag}.png"), settle=0)
            except Exception:
                pass
        print("----- notification calls on the session bus:",
              [n["header"] for n in self.desk.notifications][:20], flush=True)
        for path in self._logs:
            print(f"----- {path}:\n{_read_tail(path, 6000)}", flush=True)

    def start_app(self, profile, instance="alice@cw-a", host="a", tag="app", env=None, args=()):
        """Starts the app on `host`; returns (process, its AT-SPI application). The app's stderr
        goes to LANDIR/chinwag-TAG.stderr (printed on failure)."""
        log_path = self.lan.path(f"chinwag-{tag}.stderr")
        self._logs.append(log_path)
        argv = [self.gui, "--profile", str(profile)]
        if instance:
            argv += ["--instance", instance]
        with open(log_path, "w") as err:
            proc = self.lan[host].popen([*argv, *args], env=env or self.env, stdout=subprocess.DEVNULL,
                                        stderr=err)
        self._apps.append(proc)
        self.app = find_app(proc.pid, timeout=30)
        return proc, self.app

    def init_profile(self, profile, nick="alice", host="a", env=None, what=None):
        """`chinwag-cli [--profile DIR] init --nick NICK` on `host` (profile None: the default
        place under env's XDG dirs), checked to succeed; returns profile."""
        argv = [cli_path(), *(["--profile", str(profile)] if profile else []), "init", "--nick", nick]
        r = self.lan[host].run(argv, env=env, timeout=60)
        check(r.returncode == 0, f"{what or f'chinwag-cli init made {nick}' + chr(39) + 's profile'} "
                                 f"({r.stderr.strip()[-200:]})")
        return profile

    def start_cli(self, host, nick, instance, profile=None):
        """chinwag-cli jsonrpc as `nick` on `host` (profile LANDIR/profiles/NICK unless given),
        announced as `instance`; its stderr is printed on failure."""
        p = start_cli(self.lan[host], profile or self.lan.path("profiles", nick), nick,
                      extra_args=["--instance", instance] if instance else [])
        self._procs.append(p)
        return p

    def track(self, proc):
        """Print this process's logs (dump_logs()) if the test fails."""
        self._procs.append(proc)
        return proc

    def add_log(self, path):
        self._logs.append(path)

    def at_exit(self, fn):
        """fn() runs at the end, after the apps are killed (e.g. unmounting their disk)."""
        self._cleanups.append(fn)

    def screenshot(self, name, **kw):
        self.desk.screenshot(os.path.join(self.shots, name), **kw)


def _read_tail(path, n):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError as e:
        return f"(cannot read: {e})"
