#!/usr/bin/env python3
"""`chinwag` launched from its desktop file, as the shell does, finds bob and chats.

The session bus runs on host a with one more service directory holding the
build's D-Bus service file (its Exec pointing at the built binary instead of
$(bindir), the only change) and a data directory holding the build's desktop
file. Alice's default profile (XDG_DATA_HOME / XDG_CONFIG_HOME, no --profile)
is made by `chinwag-cli init`; bob runs chinwag-cli on host b.
On host a the desktop file is looked up by its id and launched through GLib's
GDesktopAppInfo, as GNOME Shell does: because it says DBusActivatable=true,
GLib asks the bus to activate io.github.chinwag.Chinwag, and the bus starts the
service file's `chinwag --gapplication-service`, which then gets Activate and
shows its window. Checks: the app is the D-Bus activated service (its command line has
--gapplication-service); its window lists bob (the time from the launch is
logged, not asserted); clicking bob's row shows bob's message; a reply typed
into the composer reaches bob and shows as delivered; app.quit ends it.
"""

import os
import shutil
import subprocess
import tempfile
import time

from gui_session import (GuiSession, check, find_all, gdbus_call, name_of, role_of, row_named, showing,
                         wait_for, wait_row, find_app)
from testbed import _pid_alive, log, main, run_until

APP_ID = "io.github.chinwag.Chinwag"
# GNOME Shell's way to start an app: look its desktop file up by id and launch it. With
# DBusActivatable=true GLib sends org.freedesktop.Application.Activate to the app's name, which
# makes the bus start it from its service file. The call is asynchronous: iterate a moment.
LAUNCH = """
import sys, time
import gi
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib
info = Gio.DesktopAppInfo.new(sys.argv[1])
if info is None:
    sys.exit(f"no desktop file with id {sys.argv[1]}")
print("launching", info.get_filename(), flush=True)
ok = info.launch([], None)
end = time.monotonic() + 2
while time.monotonic() < end:
    GLib.MainContext.default().iteration(False)
    time.sleep(0.01)
sys.exit(0 if ok else 1)
"""


def test():
    data = tempfile.mkdtemp(prefix="chinwag-launch-")
    try:
        services = os.path.join(data, "dbus-1", "services")
        with GuiSession(("a", "b"), "launch", bus_host="a", service_dirs=[services]) as s:
            run(s, data, services)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def name_owner_pid(s):
    """The pid of the process owning APP_ID on the session bus, or None."""
    r = subprocess.run(["gdbus", "call", "--session", "--dest", "org.freedesktop.DBus", "--object-path",
                        "/org/freedesktop/DBus", "--method", "org.freedesktop.DBus.GetConnectionUnixProcessID",
                        APP_ID], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=10,
                       env={**os.environ, **s.desk.env})
    out = r.stdout.strip()  # "(uint32 1234,)"
    digits = "".join(c for c in out.split()[-1] if c.isdigit()) if r.returncode == 0 and out else ""
    return int(digits) if digits else None


def run(s, data, services):
    lan, desk = s.lan, s.desk
    # -- the desktop integration, as `make install` lays it out
    os.makedirs(services)
    apps = os.path.join(data, "applications")
    os.makedirs(apps)
    with open(os.path.join(s.build, "data", f"{APP_ID}.service")) as f:
        service = f.read()
    exec_line = next(line for line in service.splitlines() if line.startswith("Exec="))
    check(exec_line.endswith("/chinwag --gapplication-service"),
          f"the built service file starts the app as a GApplication service ({exec_line!r})")
    with open(os.path.join(services, f"{APP_ID}.service"), "w") as f:
        f.write(service.replace(exec_line, f"Exec={s.gui} --gapplication-service"))
    desktop_file = os.path.join(apps, f"{APP_ID}.desktop")
    shutil.copy(os.path.join(s.build, "data", f"{APP_ID}.desktop"), desktop_file)
    # The desktop file's Exec=chinwag must be on PATH, as after `make install` (GIO refuses a
    # desktop file whose program it cannot find, even when it activates it over D-Bus).
    bindir = os.path.join(data, "bin")
    os.makedirs(bindir)
    os.symlink(s.gui, os.path.join(bindir, "chinwag"))

    # -- alice's default profile (no --profile anywhere)
    home = lan.path("home")
    xdg = {"HOME": home, "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
           "XDG_CONFIG_HOME": os.path.join(home, ".config")}
    s.init_profile(None, env=xdg, what="chinwag-cli init made alice's default profile")
    bob = s.start_cli("b", "bob", "bob@cw-b")

    # What a GNOME session puts into the activation environment of its bus.
    env = {**s.env, **xdg, "XDG_DATA_DIRS": f"{data}:{s.env['XDG_DATA_DIRS']}"}
    keys = ["DISPLAY", "XDG_RUNTIME_DIR", "GSK_RENDERER", "GTK_A11Y", "NO_AT_BRIDGE", "LANGUAGE", "LC_ALL",
            "GDK_BACKEND", "GSETTINGS_SCHEMA_DIR", "GSETTINGS_BACKEND", "XDG_DATA_DIRS", "HOME", "XDG_DATA_HOME",
            "XDG_CONFIG_HOME", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"]
    r = lan["a"].run(["dbus-update-activation-environment", "--verbose",
                      *[f"{k}={env[k]}" for k in keys if k in env]], env=desk.env)
    check(r.returncode == 0, f"the bus's activation environment is set ({r.stderr.strip()[-200:]})")

    # -- launch from the desktop file, as the shell does: by desktop id, through GDesktopAppInfo
    # (`gio launch FILE` in GLib 2.74 spawns Exec= itself and never asks the bus)
    t0 = time.monotonic()
    launcher_log = lan.path("launcher.log")
    s.add_log(launcher_log)
    s.add_log(os.path.join(desk.dir, "bus.log"))
    with open(launcher_log, "w") as out:
        launcher = lan["a"].popen(["/usr/bin/python3", "-c", LAUNCH, f"{APP_ID}.desktop"], stdout=out,
                             stderr=subprocess.STDOUT,
                             env={**desk.env, "XDG_DATA_DIRS": env["XDG_DATA_DIRS"],
                                  "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}"})
    pid = []
    check(run_until(lambda: bool(pid.append(name_owner_pid(s)) or pid[-1]), 30, interval=0.2),
          f"{APP_ID} is on the session bus")
    pid = pid[-1]
    lan.track_pid(pid)
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    log(f"the app runs as {[a.decode() for a in argv if a]}")
    check(b"--gapplication-service" in argv, "the bus started it from the service file (D-Bus activation)")
    app = find_app(pid, timeout=30)
    s.app = app
    wait_row(app, "bob", lambda t: "Available" in t, 30, "the window lists bob")
    log(f"bob listed {time.monotonic() - t0:.2f} s after the launch (first start, AT-SPI polling included)")
    check(run_until(lambda: launcher.poll() is not None, 30), "the launcher returns")
    check(launcher.returncode == 0, f"the launcher succeeded (exit {launcher.returncode})")

    # -- chat: bob writes, alice opens the conversation with a click and replies
    check(run_until(lambda: any(p.get("online") and p.get("fingerprint") for p in bob.call("listPeers")), 15, 0.2),
          "bob's CLI sees alice")
    alice_id = next(p["id"] for p in bob.call("listPeers") if p.get("online") and p.get("fingerprint"))
    hello = "hello alice, launched from the desktop file?"
    bob.call("send", {"to": alice_id, "body": hello})
    wait_row(app, "bob", lambda t: "1 unread" in t, 15, "bob's message arrives (1 unread)")
    desk.click_node(row_named(app, "bob"))
    wait_for(app, lambda n: role_of(n) == "label" and name_of(n) == hello and showing(n), 10,
             "clicking bob's row shows his message")
    composer = wait_for(app, lambda n: role_of(n) == "text" and name_of(n) == "Message" and showing(n), 10,
                        "the composer")
    desk.click_node(composer)
    reply = "yes, from the Activities overview"
    desk.type_text(reply)
    desk.key("Return")
    got = bob.wait_notification("message", lambda p: p.get("body") == reply, timeout=15)
    check(got.get("secure") is True, "the reply reaches bob, encrypted")
    wait_for(app, lambda n: role_of(n) == "label" and "Delivered" in name_of(n) and showing(n), 15,
             "the app shows the reply delivered")
    check(not find_all(app, lambda n: role_of(n) == "label" and "Welcome" in name_of(n) and showing(n)),
          "no welcome: the app found the profile chinwag-cli made at the default place")

    # -- quit through the exported action
    check(gdbus_call(desk, "org.gtk.Actions.Activate", "quit", "[]", "{}"), "app.quit activated over D-Bus")
    check(run_until(lambda: not _pid_alive(pid), 15), "the app exits")


if __name__ == "__main__":
    main(test)
