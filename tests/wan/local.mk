# Client-to-server tests against real, throwaway XMPP servers (Prosody, ejabberd) on
# 127.0.0.1 (root only; they exit 77 otherwise). Recipe: docs in xmpp_server.py.
dist_check_SCRIPTS += tests/wan/xmpp_server.py
TESTS += tests/wan/test_00_servers.py
EXTRA_DIST += tests/wan/test_00_servers.py
check_PROGRAMS += tests/wan/cw-client-probe
tests_wan_cw_client_probe_SOURCES = tests/wan/cw_client_probe.cpp
tests_wan_cw_client_probe_LDADD = libcw_transport.a libcw_crypto.a libcw_xmpp.a libcw_model.a libcw_util.a $(CORE_LIBS)
TESTS += tests/wan/test_01_login.py
EXTRA_DIST += tests/wan/test_01_login.py
