# storage: the profile database (SQLite: the only sqlite3.h user).
noinst_LIBRARIES += libcw_storage.a
libcw_storage_a_SOURCES = \
	src/storage/database.hpp src/storage/database.cpp \
	src/storage/contact_store.hpp src/storage/contact_store.cpp \
	src/storage/message_store.hpp src/storage/message_store.cpp \
	src/storage/account_store.hpp src/storage/account_store.cpp

check_PROGRAMS += tests/unit/test_storage
TESTS += tests/unit/test_storage
tests_unit_test_storage_SOURCES = tests/unit/test_storage.cpp
tests_unit_test_storage_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_storage_LDADD = libcw_storage.a libcw_model.a libcw_util.a $(CORE_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_accounts
TESTS += tests/unit/test_accounts
tests_unit_test_accounts_SOURCES = tests/unit/test_accounts.cpp
tests_unit_test_accounts_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_accounts_LDADD = libcw_storage.a libcw_model.a libcw_util.a $(CORE_LIBS) $(CHECK_LIBS)
