// tls_echo: the bare baseline for Chinwag's link-local streams. A GnuTLS TLS 1.3 echo over
// TCP with the same Ed25519 identity files as a Chinwag profile (DIR/identity.key and
// DIR/identity.crt), both sides presenting certificates and each pinning the other's
// SHA-256 SubjectPublicKeyInfo fingerprint, as crypto::TlsChannel does; no XMPP, no
// storage, no main loop. Blocking sockets, one connection at a time.
//
// Owns its listening socket (server) or one connection (client) and their sessions.
//   tls_echo server PORT PROFILE_DIR PEER_FP           prints "ready" then serves forever
//   tls_echo rtt HOST PORT PROFILE_DIR PEER_FP N PAYLOAD      N round trips on one session
//   tls_echo burst HOST PORT PROFILE_DIR PEER_FP N PAYLOAD    N lines out, all echoes back
//   tls_echo handshake HOST PORT PROFILE_DIR PEER_FP N PAYLOAD  N x (connect, handshake, 1 echo)
// Client modes print one JSON object on stdout (times in milliseconds).
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

[[noreturn]] void die(const std::string& what)
{
    std::fprintf(stderr, "tls_echo: %s\n", what.c_str());
    std::exit(1);
}

std::string g_expected_fp;

// SHA-256 of the peer certificate's SubjectPublicKeyInfo must equal the pin.
int verify(gnutls_session_t session)
{
    unsigned count = 0;
    const gnutls_datum_t* certs = gnutls_certificate_get_peers(session, &count);
    if (!certs || count == 0) return -1;
    gnutls_pubkey_t key;
    gnutls_pubkey_init(&key);
    if (gnutls_pubkey_import_x509_raw(key, &certs[0], GNUTLS_X509_FMT_DER, 0) < 0) {
        gnutls_pubkey_deinit(key);
        return -1;
    }
    gnutls_datum_t spki{};
    int rc = gnutls_pubkey_export2(key, GNUTLS_X509_FMT_DER, &spki);
    gnutls_pubkey_deinit(key);
    if (rc < 0) return -1;
    unsigned char digest[32];
    gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size, digest);
    gnutls_free(spki.data);
    char hex[65];
    for (int i = 0; i < 32; ++i) std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return g_expected_fp == hex ? 0 : -1;
}

gnutls_certificate_credentials_t load_credentials(const std::string& dir)
{
    gnutls_certificate_credentials_t cred;
    gnutls_certificate_allocate_credentials(&cred);
    int rc = gnutls_certificate_set_x509_key_file(cred, (dir + "/identity.crt").c_str(),
                                                  (dir + "/identity.key").c_str(), GNUTLS_X509_FMT_PEM);
    if (rc < 0) die(std::string("cannot load the identity: ") + gnutls_strerror(rc));
    return cred;
}

gnutls_session_t new_session(gnutls_certificate_credentials_t cred, bool server, int fd)
{
    gnutls_session_t s;
    gnutls_init(&s, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_TICKETS);
    gnutls_priority_set_direct(s, "NORMAL:-VERS-ALL:+VERS-TLS1.3", nullptr);
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
    if (server) gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
    gnutls_session_set_verify_function(s, verify);
    gnutls_transport_set_int(s, fd);
    int rc;
    do rc = gnutls_handshake(s);
    while (rc < 0 && !gnutls_error_is_fatal(rc));
    if (rc < 0) {
        gnutls_deinit(s);
        return nullptr;
    }
    return s;
}

void nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int serve(int port, gnutls_certificate_credentials_t cred)
{
    int ls = socket(AF_INET6, SOCK_STREAM, 0);
    int one = 1, zero = 0;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(ls, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    a.sin6_addr = in6addr_any;
    if (bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || listen(ls, 16) < 0) die("cannot listen");
    std::printf("ready\n");
    std::fflush(stdout);
    std::vector<char> buf(65536);
    for (;;) {
        int fd = accept(ls, nullptr, nullptr);
        if (fd < 0) continue;
        nodelay(fd);
        gnutls_session_t s = new_session(cred, true, fd);
        if (s) {
            for (;;) {
                ssize_t n = gnutls_record_recv(s, buf.data(), buf.size());
                if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) continue;
                if (n <= 0) break;
                if (gnutls_record_send(s, buf.data(), static_cast<size_t>(n)) < 0) break;
            }
            gnutls_bye(s, GNUTLS_SHUT_WR);
            gnutls_deinit(s);
        }
        close(fd);
    }
}

int connect_to(const std::string& host, const std::string& port)
{
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res) die("cannot resolve " + host);
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (connect(fd, res->ai_addr, res->ai_addrlen) < 0) die("cannot connect to " + host);
    freeaddrinfo(res);
    nodelay(fd);
    return fd;
}

// Reads until `want` bytes of plaintext arrived.
bool read_exactly(gnutls_session_t s, std::size_t want, std::vector<char>& buf)
{
    std::size_t got = 0;
    while (got < want) {
        ssize_t n = gnutls_record_recv(s, buf.data(), buf.size());
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) continue;
        if (n <= 0) return false;
        got += static_cast<std::size_t>(n);
    }
    return true;
}

std::string json_list(const std::vector<double>& v)
{
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
        char b[32];
        std::snprintf(b, sizeof b, "%s%.4f", i ? "," : "", v[i]);
        s += b;
    }
    return s + "]";
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 5) die("usage: see the comment at the top of bench/tls_echo.cpp");
    gnutls_global_init();
    const std::string mode = argv[1];
    if (mode == "server") {
        g_expected_fp = argv[4];
        return serve(std::atoi(argv[2]), load_credentials(argv[3]));
    }
    if (argc < 8) die("usage: MODE HOST PORT PROFILE_DIR PEER_FP N PAYLOAD");
    const std::string host = argv[2], port = argv[3];
    auto cred = load_credentials(argv[4]);
    g_expected_fp = argv[5];
    const int n = std::atoi(argv[6]);
    const std::string line = std::string(argv[7]) + "\n";
    std::vector<char> buf(65536);

    if (mode == "handshake") {
        std::vector<double> ms;
        for (int i = 0; i < n; ++i) {
            auto t0 = Clock::now();
            int fd = connect_to(host, port);
            gnutls_session_t s = new_session(cred, false, fd);
            if (!s) die("handshake failed");
            gnutls_record_send(s, line.data(), line.size());
            if (!read_exactly(s, line.size(), buf)) die("no echo");
            ms.push_back(ms_since(t0));
            gnutls_bye(s, GNUTLS_SHUT_WR);
            gnutls_deinit(s);
            close(fd);
        }
        std::printf("{\"handshake_ms\": %s}\n", json_list(ms).c_str());
        return 0;
    }
    int fd = connect_to(host, port);
    gnutls_session_t s = new_session(cred, false, fd);
    if (!s) die("handshake failed");
    if (mode == "rtt") {
        std::vector<double> ms;
        for (int i = 0; i < n; ++i) {
            auto t0 = Clock::now();
            gnutls_record_send(s, line.data(), line.size());
            if (!read_exactly(s, line.size(), buf)) die("no echo");
            ms.push_back(ms_since(t0));
        }
        std::printf("{\"rtt_ms\": %s}\n", json_list(ms).c_str());
    } else if (mode == "burst") {
        // GnuTLS allows one thread sending while another receives on the same session.
        auto t0 = Clock::now();
        std::thread writer([&] {
            for (int i = 0; i < n; ++i) gnutls_record_send(s, line.data(), line.size());
        });
        bool ok = read_exactly(s, line.size() * static_cast<std::size_t>(n), buf);
        double total = ms_since(t0);
        writer.join();
        if (!ok) die("echo stream ended early");
        std::printf("{\"burst_ms\": %.3f, \"messages\": %d}\n", total, n);
    } else {
        die("unknown mode " + mode);
    }
    gnutls_bye(s, GNUTLS_SHUT_WR);
    gnutls_deinit(s);
    close(fd);
    return 0;
}
