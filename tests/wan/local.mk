# Client-to-server tests against real, throwaway XMPP servers (Prosody, ejabberd) on
# 127.0.0.1 (root only; they exit 77 otherwise). Recipe: docs in xmpp_server.py.
dist_check_SCRIPTS += tests/wan/xmpp_server.py
TESTS += tests/wan/test_00_servers.py
EXTRA_DIST += tests/wan/test_00_servers.py
