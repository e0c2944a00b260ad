# Benchmarks: make bench (see BENCHMARKS.md). Root only: the figures are taken on the
# simulated LAN of network namespaces (tests/lan/testbed.py).
#   make bench              the whole table (~10-15 min); BENCH_QUICK=1 for a short run
#   make soak SOAK_MINUTES=10   two peers at 100 messages/s, RSS sampled each minute
#   make bench-gui          desktop app startup with 100,000 messages vs an empty profile
# The helpers are check programs (built by make check too, never installed).
check_PROGRAMS += bench/tls_echo bench/history_bench bench/txt_watch
bench_tls_echo_SOURCES = bench/tls_echo.cpp
bench_tls_echo_LDADD = $(CORE_LIBS) -lpthread
bench_history_bench_SOURCES = bench/history_bench.cpp
bench_history_bench_LDADD = libcw_storage.a libcw_model.a libcw_util.a $(CORE_LIBS)
bench_txt_watch_SOURCES = bench/txt_watch.cpp
bench_txt_watch_LDADD = $(CORE_LIBS)
CLEANFILES += bench/tls_echo bench/history_bench bench/txt_watch
EXTRA_DIST += bench/run.py bench/gui_startup.py BENCHMARKS.md

bench_needs = chinwag-cli bench/tls_echo bench/history_bench bench/txt_watch
SOAK_MINUTES = 10

.PHONY: bench bench-gui soak
bench: $(bench_needs) bench-gui
	CHINWAG_CLI='$(abs_top_builddir)/chinwag-cli' \
	BENCH_BUILDDIR='$(abs_top_builddir)' \
	PYTHONPATH='$(abs_top_srcdir)/tests/lan' \
	$(PYTHON3) '$(abs_top_srcdir)/bench/run.py' \
	  --results '$(abs_top_srcdir)/bench/results/latest.json' \
	  --markdown '$(abs_top_srcdir)/BENCHMARKS.md'

soak: $(bench_needs)
	CHINWAG_CLI='$(abs_top_builddir)/chinwag-cli' \
	BENCH_BUILDDIR='$(abs_top_builddir)' \
	PYTHONPATH='$(abs_top_srcdir)/tests/lan' \
	$(PYTHON3) '$(abs_top_srcdir)/bench/run.py' --soak $(SOAK_MINUTES) \
	  --results '$(abs_top_srcdir)/bench/results/soak.json'

bench-gui: chinwag chinwag-cli data/gschemas.compiled
	BENCH_BUILDDIR='$(abs_top_builddir)' \
	$(PYTHON3) '$(abs_top_srcdir)/bench/gui_startup.py' \
	  --json '$(abs_top_srcdir)/bench/results/gui_startup.json'
