# chinwag: the GNOME desktop app, a thin layer over core::Messenger (gtkmm-4 + libadwaita C API).
# libcw_gui_text.a holds the pure view text (no GTK) so it is unit-tested without a display.
noinst_LIBRARIES += libcw_gui_text.a
libcw_gui_text_a_SOURCES = gui/view_text.hpp gui/view_text.cpp

bin_PROGRAMS += chinwag
chinwag_SOURCES = \
	gui/application.hpp gui/application.cpp \
	gui/main_window.hpp gui/main_window.cpp \
	gui/conversation_view.hpp gui/conversation_view.cpp \
	gui/dialogs.hpp gui/dialogs.cpp \
	gui/c_signal.hpp
GUI_CPPFLAGS = $(AM_CPPFLAGS) $(GUI_CFLAGS) -DLOCALEDIR=\"$(localedir)\"
chinwag_CPPFLAGS = $(GUI_CPPFLAGS)
# gtkmm + adwaita.h preprocess to ~286,000 lines per file: one precompiled header for all.
chinwag_CXXFLAGS = $(AM_CXXFLAGS) -include gui/pch.hpp -Winvalid-pch
chinwag_LDADD = libcw_gui_text.a $(CORE_LIBS_ALL) $(GUI_LIBS) $(LIBINTL)
EXTRA_DIST += gui/pch.hpp

# Same flags as the objects (minus -include), or GCC silently ignores the .gch.
gui/pch.hpp.gch: $(srcdir)/gui/pch.hpp config.h
	@$(MKDIR_P) gui
	$(AM_V_CXX)$(CXX) $(DEFS) $(DEFAULT_INCLUDES) $(INCLUDES) $(chinwag_CPPFLAGS) $(CPPFLAGS) \
		$(AM_CXXFLAGS) $(CXXFLAGS) -x c++-header -o $@ $(srcdir)/gui/pch.hpp
$(chinwag_OBJECTS): gui/pch.hpp.gch
CLEANFILES += gui/pch.hpp.gch
