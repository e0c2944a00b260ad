# Integration tests on a simulated LAN of network namespaces (root only; they
# exit 77 otherwise). Recipe: docs in testbed.py.
dist_check_SCRIPTS += tests/lan/testbed.py tests/lan/finch_peer.py tests/lan/refusing_peer.py
TESTS += tests/lan/test_00_testbed.py tests/lan/test_01_finch_avahi.py
EXTRA_DIST += tests/lan/test_00_testbed.py tests/lan/test_01_finch_avahi.py
TESTS += tests/lan/test_02_cli_commands.py
EXTRA_DIST += tests/lan/test_02_cli_commands.py
TESTS += tests/lan/test_03_cli_interactive.py
EXTRA_DIST += tests/lan/test_03_cli_interactive.py
TESTS += tests/lan/test_13_avahi_restart.py tests/lan/test_15_bad_input.py tests/lan/test_16_finch_interop.py
EXTRA_DIST += tests/lan/test_13_avahi_restart.py tests/lan/test_15_bad_input.py tests/lan/test_16_finch_interop.py
TESTS += tests/lan/test_17_name_collision.py
EXTRA_DIST += tests/lan/test_17_name_collision.py
TESTS += tests/lan/test_10_chat.py tests/lan/test_11_outbox.py tests/lan/test_12_impostor.py tests/lan/test_14_link_cut.py
EXTRA_DIST += tests/lan/test_10_chat.py tests/lan/test_11_outbox.py tests/lan/test_12_impostor.py tests/lan/test_14_link_cut.py
TESTS += tests/lan/test_18_vanish_without_stream.py
EXTRA_DIST += tests/lan/test_18_vanish_without_stream.py
TESTS += tests/lan/test_20_sender_killed_before_receipt.py tests/lan/test_21_receiver_killed_mid_burst.py
EXTRA_DIST += tests/lan/test_20_sender_killed_before_receipt.py tests/lan/test_21_receiver_killed_mid_burst.py
TESTS += tests/lan/test_22_disk_full.py tests/lan/test_23_flood_latency.py
EXTRA_DIST += tests/lan/test_22_disk_full.py tests/lan/test_23_flood_latency.py
TESTS += tests/lan/test_19_key_not_proven.py
EXTRA_DIST += tests/lan/test_19_key_not_proven.py
TESTS += tests/lan/test_24_message_refused.py
EXTRA_DIST += tests/lan/test_24_message_refused.py
