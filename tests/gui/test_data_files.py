#!/usr/bin/env python3
"""The desktop integration files are valid: desktop-file-validate, appstreamcli
validate --no-net, glib-compile-schemas --strict --dry-run, the D-Bus service
names the app ID and runs it as a GApplication service, the icons are SVG, and
the screenshot the metainfo references exists in data/screenshots/; `chinwag
--help` and `--version` answer without a display (no DISPLAY, no
WAYLAND_DISPLAY), exit 0, and --help lists --profile and --instance.
Exits 77 when a validator is not installed."""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

SRC = os.environ.get("CHINWAG_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("CHINWAG_BUILDDIR") or "."
APP_ID = "io.github.chinwag.Chinwag"


def run(argv):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    print(f"$ {' '.join(argv)} -> {r.returncode}\n{r.stdout.strip()}")
    return r


def main():
    tools = {"desktop-file-validate": "desktop-file-utils", "appstreamcli": "appstream",
             "glib-compile-schemas": "libglib2.0-bin"}
    for tool, pkg in tools.items():
        if shutil.which(tool) is None:
            print(f"SKIP: {tool} not installed (Debian package {pkg})")
            return 77
    failures = []

    def check(cond, what):
        print(("ok: " if cond else "FAIL: ") + what)
        if not cond:
            failures.append(what)

    desktop = os.path.join(BUILD, "data", f"{APP_ID}.desktop")
    metainfo = os.path.join(BUILD, "data", f"{APP_ID}.metainfo.xml")
    service = os.path.join(BUILD, "data", f"{APP_ID}.service")
    for f in (desktop, metainfo, service):
        check(os.path.exists(f), f"{os.path.relpath(f, BUILD)} was built")
    if failures:
        return 1
    r = run(["desktop-file-validate", desktop])
    check(r.returncode == 0 and not r.stdout.strip(), "desktop-file-validate is clean")
    r = run(["appstreamcli", "validate", "--no-net", "--explain", metainfo])
    check(r.returncode == 0, "appstreamcli validate --no-net passes")
    r = run(["glib-compile-schemas", "--strict", "--dry-run", os.path.join(SRC, "data")])
    check(r.returncode == 0, "glib-compile-schemas --strict --dry-run passes")

    text = open(desktop).read()
    check("DBusActivatable=true" in text and f"Icon={APP_ID}" in text, "desktop file is D-Bus activatable, app icon")
    check("Name[de]=" in text or "Comment[de]=" in text, "desktop file carries the German translation")
    svc = open(service).read()
    check(f"Name={APP_ID}" in svc and "--gapplication-service" in svc and "@bindir@" not in svc,
          "D-Bus service file names the app and starts it as a GApplication service")
    root = ET.parse(metainfo).getroot()
    check(root.findtext("id") == APP_ID, "metainfo id is the application ID")
    check(root.findtext("project_license") == "GPL-3.0-or-later", "metainfo licence GPL-3.0-or-later")
    images = [i.text for i in root.iter("image")]
    check(bool(images), "metainfo has a screenshot")
    for url in images:
        local = os.path.join(SRC, "data", "screenshots", os.path.basename(url))
        check(os.path.exists(local) and open(local, "rb").read(8) == b"\x89PNG\r\n\x1a\n",
              f"screenshot {os.path.basename(url)} is a PNG in data/screenshots/")
    for icon in (f"data/icons/hicolor/scalable/apps/{APP_ID}.svg",
                 f"data/icons/hicolor/symbolic/apps/{APP_ID}-symbolic.svg"):
        try:
            svg = ET.parse(os.path.join(SRC, icon)).getroot()
            check(svg.tag.endswith("svg"), f"{icon} is an SVG")
        except (OSError, ET.ParseError) as e:
            check(False, f"{icon} parses: {e}")

    # The command line without a display: packaging scripts and `man`-less users run these.
    gui = os.environ.get("CHINWAG_GUI") or os.path.join(BUILD, "chinwag")
    if os.path.exists(gui):
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env.update(LANGUAGE="C", LC_ALL="C.UTF-8")
        # As in gui_session.app_env: the GTK app runs without LeakSanitizer under tools/sanitizer-check.
        if env.get("CHINWAG_UNDER_SANITIZERS") and "ASAN_OPTIONS" in env:
            env["ASAN_OPTIONS"] = env["ASAN_OPTIONS"].replace("detect_leaks=1", "detect_leaks=0")
        for flag in ("--help", "-h"):
            r = subprocess.run([gui, flag], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60,
                               env=env)
            print(f"$ chinwag {flag} -> {r.returncode}\n{r.stdout.strip()}\n{r.stderr.strip()}")
            check(r.returncode == 0, f"chinwag {flag} exits 0 without a display")
            check("--profile=DIR" in r.stdout and "--instance=NAME" in r.stdout and "--version" in r.stdout,
                  f"chinwag {flag} lists --profile, --instance and --version")
            check("cannot open display" not in r.stderr, f"chinwag {flag} does not try to open a display")
        r = subprocess.run([gui, "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60,
                           env=env)
        check(r.returncode == 0 and r.stdout.startswith("chinwag "), f"chinwag --version without a display ({r.stdout.strip()!r})")
    else:
        check(False, f"the app {gui} was built")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
