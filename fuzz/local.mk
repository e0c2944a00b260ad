# Fuzzing: libFuzzer targets for every parser of outside bytes (see FUZZING.md).
#   make fuzz         builds the targets and runs each for FUZZ_SECONDS (default 60)
#   make fuzz-smoke   the same for FUZZ_SMOKE_SECONDS (default 20) each: what CI runs
#   make fuzz-build   builds only
# The targets are built with clang (libFuzzer is clang's), so they compile the library
# sources they need themselves into fuzz/obj/ instead of linking the g++-built libcw_*.a:
# every object must carry the same sanitizer and coverage instrumentation.
# Override on the command line, e.g. `make fuzz FUZZ_CXX=clang++-15 FUZZ_SECONDS=600`.
FUZZ_CXX = clang++-14
FUZZ_SECONDS = 60
FUZZ_SMOKE_SECONDS = 20
FUZZ_SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_COMPILE_FLAGS = -std=c++20 -g -O1 $(FUZZ_SANITIZE)
FUZZ_INCLUDE_FLAGS = -I$(top_srcdir) -I$(top_srcdir)/src -I$(top_builddir) $(CORE_CFLAGS) $(JSON_CFLAGS)
FUZZ_LINK_LIBS = $(JSON_LIBS) $(CORE_LIBS)
# libFuzzer options for every run: the seeds are small; a single input must not take long.
FUZZ_OPTIONS = -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

FUZZ_TARGETS = fuzz_stream_parser fuzz_txt_codec fuzz_json_rpc fuzz_decoders

fuzz_stream_parser_SRC = fuzz/fuzz_stream_parser.cpp \
	src/xmpp/element.cpp src/xmpp/stream_parser.cpp src/xmpp/stanzas.cpp \
	src/xmpp/rfc6121_message.cpp src/xmpp/xep0199_ping.cpp src/util/clock.cpp src/util/log.cpp
fuzz_txt_codec_SRC = fuzz/fuzz_txt_codec.cpp src/discovery/xep0174_presence_record.cpp
fuzz_json_rpc_SRC = fuzz/fuzz_json_rpc.cpp src/cli/json_rpc.cpp src/model/types.cpp
fuzz_decoders_SRC = fuzz/fuzz_decoders.cpp src/crypto/fingerprint.cpp \
	src/storage/message_store.cpp src/storage/database.cpp src/model/types.cpp \
	src/util/clock.cpp src/util/log.cpp

fuzz_obj = $(patsubst %.cpp,fuzz/obj/%.o,$(1))
FUZZ_DEPEND_ON = $(wildcard $(top_srcdir)/src/*/*.hpp $(top_srcdir)/fuzz/*.hpp)

fuzz/obj/%.o: $(top_srcdir)/%.cpp $(FUZZ_DEPEND_ON)
	@mkdir -p $(@D)
	$(AM_V_CXX)$(FUZZ_CXX) $(FUZZ_INCLUDE_FLAGS) $(FUZZ_COMPILE_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

fuzz/bin/fuzz_stream_parser: $(call fuzz_obj,$(fuzz_stream_parser_SRC))
fuzz/bin/fuzz_txt_codec: $(call fuzz_obj,$(fuzz_txt_codec_SRC))
fuzz/bin/fuzz_json_rpc: $(call fuzz_obj,$(fuzz_json_rpc_SRC))
fuzz/bin/fuzz_decoders: $(call fuzz_obj,$(fuzz_decoders_SRC))
$(addprefix fuzz/bin/,$(FUZZ_TARGETS)):
	@mkdir -p $(@D)
	$(AM_V_CXXLD)$(FUZZ_CXX) $(FUZZ_COMPILE_FLAGS) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LINK_LIBS)

fuzz-build: $(addprefix fuzz/bin/,$(FUZZ_TARGETS))

# Runs every target for $(1) seconds. New inputs go to fuzz/work/<target> in the build tree
# (the seeds in the source tree stay as they are), crashes to fuzz/artifacts/. Prints one
# line per target with libFuzzer's final numbers; fails if any target found something.
# G_SLICE=always-malloc: GLib's slice allocator would hide leaked JsonNodes from LeakSanitizer.
fuzz_run = \
	status=0; \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/work/$$t fuzz/artifacts fuzz/logs; \
	  G_SLICE=always-malloc ./fuzz/bin/$$t $(FUZZ_OPTIONS) -max_total_time=$(1) \
	    -artifact_prefix=fuzz/artifacts/$$t- fuzz/work/$$t $(top_srcdir)/fuzz/corpus/$$t \
	    > fuzz/logs/$$t.log 2>&1; rc=$$?; \
	  last=$$(grep -E '^\#[0-9]+' fuzz/logs/$$t.log | tail -n 1); \
	  execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' fuzz/logs/$$t.log); \
	  rate=$$(sed -n 's/^stat::average_exec_per_sec: *//p' fuzz/logs/$$t.log); \
	  if [ $$rc -eq 0 ]; then \
	    echo "fuzz: $$t ok: $$execs runs, $$rate exec/s; $$last"; \
	  else \
	    echo "fuzz: $$t FAILED (exit $$rc), log fuzz/logs/$$t.log:"; \
	    grep -E 'ERROR|invariant|SUMMARY|Test unit written' fuzz/logs/$$t.log | head -n 20; \
	    status=1; \
	  fi; \
	done; \
	exit $$status

fuzz: fuzz-build
	@$(call fuzz_run,$(FUZZ_SECONDS))

fuzz-smoke: fuzz-build
	@$(call fuzz_run,$(FUZZ_SMOKE_SECONDS))

.PHONY: fuzz fuzz-build fuzz-smoke

clean-local: clean-fuzz
clean-fuzz:
	-rm -rf fuzz/obj fuzz/bin fuzz/work fuzz/logs fuzz/artifacts

EXTRA_DIST += FUZZING.md fuzz/fuzz_check.hpp $(fuzz_stream_parser_SRC) $(fuzz_txt_codec_SRC) \
	$(fuzz_json_rpc_SRC) $(fuzz_decoders_SRC) fuzz/corpus

# Every input that once crashed a target, replayed by a g++ unit test (Check).
check_PROGRAMS += tests/unit/test_fuzz_regressions
TESTS += tests/unit/test_fuzz_regressions
tests_unit_test_fuzz_regressions_SOURCES = tests/unit/test_fuzz_regressions.cpp
tests_unit_test_fuzz_regressions_CPPFLAGS = $(TEST_CPPFLAGS) $(JSON_CFLAGS)
tests_unit_test_fuzz_regressions_LDADD = libcw_cli.a libcw_xmpp.a libcw_model.a libcw_util.a \
	$(JSON_LIBS) $(CORE_LIBS) $(CHECK_LIBS)
