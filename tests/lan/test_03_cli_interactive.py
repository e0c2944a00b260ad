#!/usr/bin/env python3
"""chinwag-cli's interactive mode, driven like a person at a terminal (tmux).

alice runs the interactive CLI on host a; bob is a JSON-RPC peer on host b. Checks: bob's
presence and message print live, /msg reaches bob, /status reaches bob, /who lists bob,
/verify shows the safety number bob computes, /history and /search answer, bob's typing
shows in the prompt until his message arrives, Tab completes a
peer name with a space quoted (carol, a second JSON-RPC peer on host b, gets the message),
/quit exits.
"""
import os
import shlex

import testbed
from testbed import Lan, run_until, start_cli, log


class Terminal:
    """One program in a private tmux server on a host."""

    def __init__(self, host, argv, name):
        self.host = host
        self.sock = host.lan.path(f"tmux-{name}.sock")
        cmd = "exec " + " ".join(shlex.quote(a) for a in argv) + " 2>" + shlex.quote(host.lan.path(f"{name}.stderr"))
        self.stderr_path = host.lan.path(f"{name}.stderr")
        r = host.run(["tmux", "-S", self.sock, "-f", "/dev/null", "new-session", "-d", "-s", "t",
                      "-x", "200", "-y", "50", "sh", "-c", cmd])
        if r.returncode != 0:
            raise testbed.TestbedError("tmux: " + r.stderr)
        out = self._tmux("display-message", "-p", "#{pid} #{pane_pid}").split()
        self.tmux_pid, self.pid = int(out[0]), int(out[1])
        host.lan.track_pid(self.tmux_pid)
        host.lan.track_pid(self.pid)

    def _tmux(self, *args):
        return self.host.run(["tmux", "-S", self.sock, *args]).stdout

    def screen(self):
        return self._tmux("capture-pane", "-p", "-J", "-S", "-", "-E", "-")

    def last_line(self):
        lines = [line for line in self.screen().splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def type(self, text):
        self._tmux("send-keys", "-t", "t", "-l", text)
        self._tmux("send-keys", "-t", "t", "Enter")

    def wait_for(self, text, timeout=10):
        if not run_until(lambda: text in self.screen(), timeout):
            raise AssertionError(f"{text!r} not on screen:\n{self.screen()}\n--- stderr ---\n"
                                 + testbed._read_text(self.stderr_path))

    def stop(self):
        self._tmux("kill-server")


def test():
    testbed.skip_unless_root()
    cli = os.environ["CHINWAG_CLI"]
    with Lan(hosts=["a", "b"]) as lan:
        a, b = lan["a"], lan["b"]
        profile = lan.path("alice")
        r = a.run([cli, "--profile", profile, "init", "--nick", "Alice"])
        assert r.returncode == 0, r.stderr
        bob = start_cli(b, lan.path("bob"), "Bob", extra_args=["--instance", "bob@cw-b"])
        term = Terminal(a, [cli, "--profile", profile, "--instance", "alice@cw-a"], "alice")
        try:
            log("bob's arrival prints live")
            term.wait_for("bob@cw-b")
            log("a message from bob prints live with its sender")
            bob.wait_notification("peerChanged", lambda p: p["instance"] == "alice@cw-a" and p["online"])
            bob.call("send", {"to": "alice@cw-a", "body": "hello from bob"})
            term.wait_for("bob@cw-b: hello from bob")

            log("/msg reaches bob")
            term.type("/msg bob@cw-b hi bob, from the terminal")
            m = bob.wait_notification("message", lambda p: p["body"] == "hi bob, from the terminal")
            assert m["instance"] == "alice@cw-a" and m["secure"], m

            log("bob typing shows in the prompt, and goes when his message arrives; a half-typed line stays")
            term._tmux("send-keys", "-t", "t", "-l", "/wh")
            term.wait_for("chinwag> /wh")
            bob.call("sendChatState", {"to": "alice@cw-a", "state": "composing"})
            if not run_until(lambda: term.last_line().startswith("chinwag (bob@cw-b is typing")
                             and term.last_line().endswith(")> /wh"), 10):
                raise AssertionError("the prompt does not say bob is typing:\n" + term.screen())
            bob.call("send", {"to": "alice@cw-a", "body": "typed it"})
            term.wait_for("bob@cw-b: typed it")
            if not run_until(lambda: term.last_line() == "chinwag> /wh", 10):
                raise AssertionError("the prompt still says bob is typing:\n" + term.screen())
            term.type("o")  # the half-typed /wh becomes /who
            term.wait_for("  bob@cw-b (Bob)  available")

            log("/status reaches bob")
            term.type("/status away at lunch")
            bob.wait_notification("peerChanged", lambda p: p["instance"] == "alice@cw-a"
                                  and p["status"] == "away" and p["message"] == "at lunch", timeout=15)

            log("/who lists bob")
            term.type("/who")
            term.wait_for("Bob")

            log("/verify shows the same safety number bob sees")
            number = bob.call("getSafetyNumber", {"peer": "alice@cw-a"})["safetyNumber"]
            term.type("/verify bob@cw-b")
            term.wait_for(number)

            log("/history and /search answer")
            term.type("/history bob@cw-b")
            term.wait_for("hi bob, from the terminal")
            term.type("/search lunch")
            term.type("/search hello")
            run_until(lambda: term.screen().count("hello from bob") >= 2, 10)
            assert term.screen().count("hello from bob") >= 2, term.screen()

            log("Tab completes a peer name with a space, quoted, and /msg reaches that peer")
            carol = start_cli(b, lan.path("carol"), "Carol", extra_args=["--instance", "carol jones@cw-b"])
            try:
                term.wait_for("carol jones@cw-b")
                carol.wait_notification("peerChanged", lambda p: p["instance"] == "alice@cw-a" and p["online"],
                                        timeout=15)
                term._tmux("send-keys", "-t", "t", "-l", "/msg car")
                term._tmux("send-keys", "-t", "t", "Tab")
                term.wait_for('/msg "carol jones@cw-b" ')
                term.type("hi carol, completed")
                carol.wait_notification("message", lambda p: p["body"] == "hi carol, completed", timeout=15)
                log("after an opening quote the completion closes it")
                term._tmux("send-keys", "-t", "t", "-l", '/msg "carol')
                term._tmux("send-keys", "-t", "t", "Tab")
                term.type("second, quoted by me")
                carol.wait_notification("message", lambda p: p["body"] == "second, quoted by me", timeout=15)
            except BaseException:
                carol.dump_logs()
                raise
            finally:
                carol.terminate()

            log("/quit exits and bob sees alice leave")
            term.type("/quit")
            bob.wait_notification("peerGone", timeout=10)
            assert run_until(lambda: not testbed._pid_alive(term.pid), 10), "chinwag-cli did not exit"
        except BaseException:
            print(term.screen())
            bob.dump_logs()
            raise
        finally:
            term.stop()
            bob.terminate()


if __name__ == "__main__":
    testbed.main(test)
