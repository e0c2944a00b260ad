noinst_LIBRARIES += libcw_core.a
libcw_core_a_SOURCES = \
	src/core/profile.hpp src/core/profile.cpp \
	src/core/messenger.hpp src/core/messenger.cpp
