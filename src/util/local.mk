noinst_LIBRARIES += libcw_util.a
libcw_util_a_SOURCES = \
	src/util/result.hpp \
	src/util/log.hpp src/util/log.cpp \
	src/util/clock.hpp src/util/clock.cpp
