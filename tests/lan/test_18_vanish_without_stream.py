#!/usr/bin/env python3
"""A peer whose host vanishes while no stream is open is shown offline in about two minutes.

avahi keeps the PTR record of a silent host for 75 minutes; Chinwag keeps one resolver per
peer open, and the resolver fails when the SRV/A records (TTL 120 s) expire. This test takes
a little over two minutes by design. The peer was only announced (no message either way), so
it leaves alice's list. When the link returns, the peer comes back.
"""
import time

import testbed
from testbed import Lan, start_cli, log, run_until


def test():
    testbed.skip_unless_root()
    with Lan(hosts=["a", "b"]) as lan:
        alice = start_cli(lan["a"], lan.path("alice"), "Alice", extra_args=["--instance", "alice@cw-a"])
        bob = start_cli(lan["b"], lan.path("bob"), "Bob", extra_args=["--instance", "bob@cw-b"])
        try:
            bob_fp = bob.call("getSelf")["fingerprint"]
            alice.wait_notification("peerChanged", lambda p: p["id"] == bob_fp and p["online"], timeout=15)
            log("cable pulled at the switch, no stream open")
            cut = time.monotonic()
            lan["b"].link_cut()
            alice.wait_notification("peerGone", lambda p: p["id"] == bob_fp, timeout=170)
            log(f"alice shows bob offline after {time.monotonic() - cut:.1f} s")
            peers = {p["id"]: p for p in alice.call("listPeers")}
            # Never a word exchanged: bob was only announced, so he left the list with the LAN.
            assert bob_fp not in peers, peers[bob_fp]
            log("cable back: bob returns")
            seen = len(alice.notifications("peerChanged"))
            lan["b"].link_restore()
            back = lambda: any(p["id"] == bob_fp and p["online"] for p in alice.notifications("peerChanged")[seen:])
            assert run_until(back, 90), "bob did not come back after the link returned"
            log("bob is back")
        except BaseException:
            alice.dump_logs()
            raise
        finally:
            alice.terminate()
            bob.terminate()


if __name__ == "__main__":
    testbed.main(test)
