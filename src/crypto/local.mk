# crypto: identity keys, fingerprints, pinned TLS 1.3 (the only GnuTLS user).
noinst_LIBRARIES += libcw_crypto.a
libcw_crypto_a_SOURCES = \
	src/crypto/gnutls_handle.hpp \
	src/crypto/fingerprint.hpp src/crypto/fingerprint.cpp \
	src/crypto/identity.hpp src/crypto/identity.cpp \
	src/crypto/tls_channel.hpp src/crypto/tls_channel.cpp \
	src/crypto/sasl_client.hpp src/crypto/sasl_client.cpp

check_PROGRAMS += tests/unit/test_crypto
TESTS += tests/unit/test_crypto
tests_unit_test_crypto_SOURCES = tests/unit/test_crypto.cpp
tests_unit_test_crypto_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_crypto_LDADD = libcw_crypto.a libcw_util.a $(CORE_LIBS) $(CHECK_LIBS)
