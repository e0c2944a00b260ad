noinst_LIBRARIES += libcw_xmpp.a
libcw_xmpp_a_SOURCES = \
	src/xmpp/element.hpp src/xmpp/element.cpp \
	src/xmpp/stream_parser.hpp src/xmpp/stream_parser.cpp \
	src/xmpp/stanzas.hpp src/xmpp/stanzas.cpp \
	src/xmpp/rfc6120_client.hpp src/xmpp/rfc6120_client.cpp \
	src/xmpp/rfc6121_message.cpp \
	src/xmpp/xep0199_ping.cpp

check_PROGRAMS += tests/unit/test_xmpp
TESTS += tests/unit/test_xmpp
tests_unit_test_xmpp_SOURCES = tests/unit/test_xmpp.cpp
tests_unit_test_xmpp_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_xmpp_LDADD = libcw_xmpp.a libcw_model.a libcw_util.a $(CORE_LIBS) $(CHECK_LIBS)
