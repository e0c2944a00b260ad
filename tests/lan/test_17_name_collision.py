#!/usr/bin/env python3
"""Two people claim the same instance name on one LAN.

avahi resolves the mDNS conflict; Chinwag must pick an alternative name, republish, tell its
user (notice kind "renamed"), and both must still see and reach each other. Neither is an
impostor: they have different keys but neither name was pinned before.
"""
import testbed
from testbed import Lan, start_cli, log, run_until


def test():
    testbed.skip_unless_root()
    with Lan(hosts=["a", "b"]) as lan:
        one = start_cli(lan["a"], lan.path("one"), "Sam", extra_args=["--instance", "sam@office"])
        two = start_cli(lan["b"], lan.path("two"), "Sam", extra_args=["--instance", "sam@office"])
        try:
            log("one of the two is renamed and told so")
            assert run_until(lambda: one.notifications("notice") and
                             any(n["kind"] == "renamed" for n in one.notifications("notice")) or
                             any(n["kind"] == "renamed" for n in two.notifications("notice")), 15), \
                "nobody was told about the collision"
            renamed, kept = (one, two) if any(n["kind"] == "renamed" for n in one.notifications("notice")) else (two, one)
            detail = [n for n in renamed.notifications("notice") if n["kind"] == "renamed"][0]["detail"]
            new_name = renamed.call("getSelf")["instance"]
            assert new_name != "sam@office" and new_name in detail, (new_name, detail)
            assert kept.call("getSelf")["instance"] == "sam@office"
            log(f"renamed to {new_name!r}: {detail}")

            log("each sees the other under its real name")
            kept_fp = kept.call("getSelf")["fingerprint"]
            renamed_fp = renamed.call("getSelf")["fingerprint"]
            kept.wait_notification("peerChanged", lambda p: p["id"] == renamed_fp and p["online"]
                                   and p["instance"] == new_name, timeout=15)
            renamed.wait_notification("peerChanged", lambda p: p["id"] == kept_fp and p["online"]
                                      and p["instance"] == "sam@office", timeout=15)
            assert not one.notifications("warning") and not two.notifications("warning"), \
                (one.notifications("warning"), two.notifications("warning"))

            log("and they can talk")
            sent = kept.call("send", {"to": new_name, "body": "which Sam are you?"})
            m = renamed.wait_notification("message", lambda p: p["id"] == sent["id"], timeout=15)
            assert m["from"] == kept_fp and m["secure"], m
            kept.wait_notification("messageState", lambda p: p["id"] == sent["id"] and p["state"] == "delivered")
        except BaseException:
            one.dump_logs()
            two.dump_logs()
            raise
        finally:
            one.terminate()
            two.terminate()


if __name__ == "__main__":
    testbed.main(test)
