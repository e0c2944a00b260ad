#!/usr/bin/env python3
"""Two people claim the same instance name on one LAN.

avahi resolves the mDNS conflict; Chinwag must pick an alternative name, republish, tell its
user (notice kind "renamed"), and both must end with distinct names and still see and reach
each other. Neither is an
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
            log("at least one of the two is renamed and told so")
            renamed_notices = lambda proc: [n for n in proc.notifications("notice") if n["kind"] == "renamed"]
            assert run_until(lambda: renamed_notices(one) or renamed_notices(two), 15), \
                "nobody was told about the collision"
            # When both probe at the same moment, mDNS may make both give way (each then
            # picks an alternative), one a little after the other: a name read while the
            # second one is still probing is not final. What must hold is that each ends up
            # seeing the other, online, under the name the other now uses, and the names differ.
            fp_one = one.call("getSelf")["fingerprint"]
            fp_two = two.call("getSelf")["fingerprint"]
            names = lambda: (one.call("getSelf")["instance"], two.call("getSelf")["instance"])

            def sees(proc, fp, name):
                return any(p["id"] == fp and p["online"] and p["instance"] == name
                           for p in proc.notifications("peerChanged"))

            def settled():
                name_one, name_two = names()
                return name_one != name_two and sees(one, fp_two, name_two) and sees(two, fp_one, name_one)
            assert run_until(settled, 20), \
                f"names never became distinct and seen: {names()}, " \
                f"one saw {one.notifications('peerChanged')}, two saw {two.notifications('peerChanged')}"
            name_one, name_two = names()
            log(f"each sees the other under its published name: {name_one!r}, {name_two!r}")
            for proc, name in ((one, name_one), (two, name_two)):
                told = renamed_notices(proc)
                if name != "sam@office":
                    assert told and name in told[-1]["detail"], (name, told)
                    log(f"renamed to {name!r}: {told[-1]['detail']}")
            assert "sam@office" in (name_one, name_two) or (renamed_notices(one) and renamed_notices(two))
            assert not one.notifications("warning") and not two.notifications("warning"), \
                (one.notifications("warning"), two.notifications("warning"))

            log("and they can talk")
            sent = one.call("send", {"to": name_two, "body": "which Sam are you?"})
            m = two.wait_notification("message", lambda p: p["id"] == sent["id"], timeout=15)
            assert m["from"] == fp_one and m["secure"], m
            one.wait_notification("messageState", lambda p: p["id"] == sent["id"] and p["state"] == "delivered")
        except BaseException:
            one.dump_logs()
            two.dump_logs()
            raise
        finally:
            one.terminate()
            two.terminate()


if __name__ == "__main__":
    testbed.main(test)
