# Desktop app tests: view text (Check), data files (validators), gettext marks in gui/, and the
# real app driven under Xvfb on the simulated LAN (root only; exits 77 otherwise).
check_PROGRAMS += tests/gui/test_view_text
TESTS += tests/gui/test_view_text
tests_gui_test_view_text_SOURCES = tests/gui/test_view_text.cpp
tests_gui_test_view_text_CPPFLAGS = $(TEST_CPPFLAGS)
tests_gui_test_view_text_LDADD = libcw_gui_text.a libcw_crypto.a libcw_model.a libcw_util.a $(CORE_LIBS) $(CHECK_LIBS) $(LIBINTL)

GUI_PY_TESTS = tests/gui/test_data_files.py tests/gui/test_i18n_marks.py tests/gui/test_gui_lan.py \
	tests/gui/test_gui_desktop.py tests/gui/test_gui_narrow.py tests/gui/test_gui_disk_full.py \
	tests/gui/test_gui_details.py tests/gui/test_gui_launch.py
TESTS += $(GUI_PY_TESTS)
EXTRA_DIST += $(GUI_PY_TESTS)
dist_check_SCRIPTS += tests/gui/gui_session.py
check_DATA = data/gschemas.compiled locale/stamp $(desktop_DATA) $(metainfo_DATA) $(dbusservice_DATA)

GUI_TESTS_ENVIRONMENT = \
	CHINWAG_GUI='$(abs_top_builddir)/chinwag'; export CHINWAG_GUI; \
	CHINWAG_BUILDDIR='$(abs_top_builddir)'; export CHINWAG_BUILDDIR; \
	GLIB_COMPILE_SCHEMAS='$(GLIB_COMPILE_SCHEMAS)'; export GLIB_COMPILE_SCHEMAS; \
	PYTHONPATH='$(abs_top_srcdir)/tests/lan:$(abs_top_srcdir)/tests/gui'; export PYTHONPATH;
CLEANFILES += tests/gui/screenshots/*.png
clean-local: clean-local-gui
clean-local-gui:
	-rm -rf tests/gui/screenshots
.PHONY: clean-local-gui
