noinst_LIBRARIES += libcw_model.a
libcw_model_a_SOURCES = src/model/types.hpp src/model/types.cpp
