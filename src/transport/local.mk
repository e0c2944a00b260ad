noinst_LIBRARIES += libcw_transport.a
libcw_transport_a_SOURCES = \
	src/transport/byte_pump.hpp src/transport/byte_pump.cpp \
	src/transport/client_stream.hpp src/transport/client_stream.cpp \
	src/transport/link_local_stream.hpp src/transport/link_local_stream.cpp \
	src/transport/link_local_listener.hpp src/transport/link_local_listener.cpp
