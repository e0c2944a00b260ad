noinst_LIBRARIES += libcw_sync.a
libcw_sync_a_SOURCES = src/sync/outbox.hpp src/sync/outbox.cpp

check_PROGRAMS += tests/unit/test_outbox
TESTS += tests/unit/test_outbox
tests_unit_test_outbox_SOURCES = tests/unit/test_outbox.cpp
tests_unit_test_outbox_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_outbox_LDADD = libcw_sync.a libcw_model.a libcw_util.a $(CORE_LIBS) $(CHECK_LIBS)
