# discovery: XEP-0174 presence over DNS-SD/mDNS (the only Avahi user).
noinst_LIBRARIES += libcw_discovery.a
libcw_discovery_a_SOURCES = \
	src/discovery/xep0174_presence_record.hpp src/discovery/xep0174_presence_record.cpp \
	src/discovery/avahi_directory.hpp src/discovery/avahi_directory.cpp

check_PROGRAMS += tests/unit/test_discovery
TESTS += tests/unit/test_discovery
tests_unit_test_discovery_SOURCES = tests/unit/test_discovery.cpp
tests_unit_test_discovery_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_discovery_LDADD = libcw_discovery.a libcw_model.a libcw_util.a $(CORE_LIBS) $(CHECK_LIBS)

# Hand-run LAN probe (needs root and the namespace testbed): built by `make check`, not a test.
check_PROGRAMS += tests/lan/cw-discovery-probe
tests_lan_cw_discovery_probe_SOURCES = tests/lan/cw_discovery_probe.cpp
tests_lan_cw_discovery_probe_LDADD = libcw_discovery.a libcw_model.a libcw_util.a $(CORE_LIBS)
