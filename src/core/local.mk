noinst_LIBRARIES += libcw_core.a
libcw_core_a_SOURCES = \
	src/core/profile.hpp src/core/profile.cpp \
	src/core/trust_policy.hpp src/core/trust_policy.cpp \
	src/core/contact_book.hpp src/core/contact_book.cpp \
	src/core/messenger.hpp src/core/messenger.cpp

check_PROGRAMS += tests/unit/test_trust
TESTS += tests/unit/test_trust
tests_unit_test_trust_SOURCES = tests/unit/test_trust.cpp
tests_unit_test_trust_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_trust_LDADD = libcw_core.a libcw_storage.a libcw_crypto.a libcw_model.a libcw_util.a $(CORE_LIBS) $(CHECK_LIBS)
