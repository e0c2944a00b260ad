#!/usr/bin/env python3
"""Fails if a user-visible string literal in gui/ or in chinwag-cli's console output is
not marked for translation.

Scans gui/*.cpp for string literals passed straight to calls that show text
(set_label, set_title, set_text, set_tooltip_text, Gtk::Label(...), adw_*_set_title,
...) and for Gtk::Button / Gtk::Label constructed from a literal, without _( ... ).
Scans the console and one-shot front ends of src/cli the same way for show(),
show_warning(), runtime_error(), usage(), cmd::Bad{...} and `<<` to stderr/stdout.
The JSON-RPC codec and server (protocol strings, never translated) are not scanned.
Literals that are not words (icon names, CSS classes, "", " · ") are allowed.
Also checks that every scanned source with _( is listed in po/POTFILES.in, and (when run
from the build, CHINWAG_BUILDDIR and CHINWAG_CLI set) that chinwag-cli really speaks German
with LANGUAGE=de and the build's locale tree.
"""

import os
import re
import subprocess
import sys

SRC = os.environ.get("CHINWAG_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
SHOWING = (r"set_label|set_title|set_text|set_tooltip_text|set_placeholder_text|set_subtitle|"
           r"set_description|set_body|add_button|append|set_application_name|set_comments|"
           r"adw_\w+_set_(?:title|subtitle|description|comments|application_name|developer_name|copyright)|"
           r"Gtk::Label>|Gtk::Button>|Gtk::Label|Gtk::Button|Gio::Notification::create|adw_toast_new|"
           r"adw_window_title_new|mnemonic_button|label|compose")
CALL = re.compile(r"\b(?:" + SHOWING + r")\s*\(([^;]*?)\)\s*[;,)]", re.S)
# chinwag-cli: what reaches the terminal.
CLI_FILES = ("console.cpp", "console_text.cpp", "one_shot.cpp", "options.cpp", "main.cpp")
CLI_CALL = re.compile(r"\b(?:show|show_warning|runtime_error|usage|fill)\s*\(([^;]*?)\)\s*[;,)}]"
                      r"|cmd::Bad\{([^;]*?)\}\s*;"
                      r"|\b(?:std::cerr|std::cout|err)\s*<<([^;]*);", re.S)
LITERAL = re.compile(r'(?<![_\w])"((?:[^"\\]|\\.)*)"')
WORDS = re.compile(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}|^[A-Z][a-z]{2,}")
ALLOWED = {"heading", "dim-label", "caption", "title"}


def literal_is_text(lit):
    if lit in ALLOWED or not lit.strip() or lit.lstrip().startswith("<"):   # UI XML markup
        return False
    if lit.startswith("\\"):
        return False
    if False:
        return False
    if re.fullmatch(r"[a-z0-9._-]+(-symbolic)?", lit):       # icon names, CSS classes, actions
        return False
    if "%" in lit and not re.search(r"[A-Za-z]{3}", lit.replace("%1", "").replace("%2", "")):
        return False
    return bool(WORDS.search(lit))


def inside_gettext(before):
    """True if the innermost open parenthesis before this point is a _( / N_( / C_( call."""
    before = LITERAL.sub('""', before)
    stack = []
    for i, ch in enumerate(before):
        if ch == "(":
            stack.append(i)
        elif ch == ")" and stack:
            stack.pop()
    if not stack:
        return False
    head = before[:stack[-1]].rstrip()
    return bool(re.search(r"\b(?:N|C|NC)?_$", head)) or head.endswith("ngettext")


def unmarked(path, call_re=CALL):
    text = open(path, encoding="utf-8").read()
    # Comments are not shown to anyone.
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    bad = []
    for call in call_re.finditer(text):
        args = next(g for g in call.groups() if g is not None) if call.groups() else call.group(1)
        for lit in LITERAL.finditer(args):
            if inside_gettext(args[:lit.start()]):
                continue
            if literal_is_text(lit.group(1)):
                line = text[:call.start()].count("\n") + 1
                bad.append((line, lit.group(1)))
    return bad


def main():
    gui = os.path.join(SRC, "gui")
    potfiles = open(os.path.join(SRC, "po", "POTFILES.in"), encoding="utf-8").read().split()
    failures = []
    scanned = 0
    for name in sorted(os.listdir(gui)):
        if not name.endswith(".cpp"):
            continue
        scanned += 1
        path = os.path.join(gui, name)
        for line, lit in unmarked(path):
            failures.append(f"gui/{name}:{line}: unmarked user-visible string \"{lit}\" (wrap it in _())")
        if "_(" in open(path, encoding="utf-8").read() and f"gui/{name}" not in potfiles:
            failures.append(f"gui/{name} has translatable strings but is not in po/POTFILES.in")
    cli = os.path.join(SRC, "src", "cli")
    for name in CLI_FILES:
        path = os.path.join(cli, name)
        if not os.path.exists(path):
            failures.append(f"src/cli/{name} is missing")
            continue
        scanned += 1
        for line, lit in unmarked(path, CLI_CALL):
            failures.append(f"src/cli/{name}:{line}: unmarked user-visible string \"{lit}\" (wrap it in _())")
        if "_(" in open(path, encoding="utf-8").read() and f"src/cli/{name}" not in potfiles:
            failures.append(f"src/cli/{name} has translatable strings but is not in po/POTFILES.in")
    # The scanner must be able to fail: a known-bad snippet has to be caught.
    probe = "/tmp/chinwag-i18n-probe.cpp"
    with open(probe, "w") as f:
        f.write('void f() { label.set_label("Send the message"); b.set_tooltip_text(_("Fine text")); }\n')
    caught = unmarked(probe)
    os.unlink(probe)
    if [lit for _, lit in caught] != ["Send the message"]:
        failures.append(f"self-check: the scanner missed a planted unmarked string ({caught})")
    with open(probe, "w") as f:
        f.write('void f() { show("No messages match."); return cmd::Bad{"usage: /msg PEER TEXT"}; '
                'err << "cannot write to output" << x; show(_("Fine text")); }\n')
    caught = unmarked(probe, CLI_CALL)
    os.unlink(probe)
    if sorted(lit for _, lit in caught) != ["No messages match.", "cannot write to output", "usage: /msg PEER TEXT"]:
        failures.append(f"self-check: the CLI scanner missed a planted unmarked string ({caught})")
    build, cli = os.environ.get("CHINWAG_BUILDDIR"), os.environ.get("CHINWAG_CLI")
    if build and cli and os.path.exists(os.path.join(build, "locale", "de", "LC_MESSAGES", "chinwag.mo")):
        env = {**os.environ, "LANGUAGE": "de", "LC_ALL": "C.UTF-8", "CHINWAG_LOCALEDIR": os.path.join(build, "locale")}
        r = subprocess.run([cli, "--no-such-option"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        print(f"LANGUAGE=de chinwag-cli --no-such-option -> {r.returncode}: {r.stderr.strip()!r}")
        if r.returncode != 2 or "unbekannte Option --no-such-option" not in r.stderr:
            failures.append("chinwag-cli does not use the German translation with LANGUAGE=de")
    else:
        print("not run from the build: the German chinwag-cli check is left out")
    print(f"scanned {scanned} files in gui/ and src/cli/")
    for f in failures:
        print(f)
    if scanned == 0:
        print("no gui sources found")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
