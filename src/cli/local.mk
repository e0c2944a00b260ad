# chinwag-cli: terminal and script front end, a thin layer over core::Messenger.
# libcw_cli.a holds the pure parts (JSON-RPC codec, options, console text) for unit tests.
noinst_LIBRARIES += libcw_cli.a
libcw_cli_a_SOURCES = \
	src/cli/json_rpc.hpp src/cli/json_rpc.cpp \
	src/cli/options.hpp src/cli/options.cpp \
	src/cli/console_text.hpp src/cli/console_text.cpp
libcw_cli_a_CPPFLAGS = $(AM_CPPFLAGS) $(JSON_CFLAGS)

bin_PROGRAMS += chinwag-cli
chinwag_cli_SOURCES = \
	src/cli/main.cpp \
	src/cli/one_shot.hpp src/cli/one_shot.cpp \
	src/cli/console.hpp src/cli/console.cpp \
	src/cli/json_rpc_server.hpp src/cli/json_rpc_server.cpp
chinwag_cli_CPPFLAGS = $(AM_CPPFLAGS) $(JSON_CFLAGS)
chinwag_cli_LDADD = libcw_cli.a $(CORE_LIBS_ALL) $(JSON_LIBS) $(READLINE_LIBS)

check_PROGRAMS += tests/unit/test_cli
TESTS += tests/unit/test_cli
tests_unit_test_cli_SOURCES = tests/unit/test_cli.cpp
tests_unit_test_cli_CPPFLAGS = $(TEST_CPPFLAGS) $(JSON_CFLAGS)
tests_unit_test_cli_LDADD = libcw_cli.a libcw_model.a libcw_util.a $(JSON_LIBS) $(CORE_LIBS) $(CHECK_LIBS)

