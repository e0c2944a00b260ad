// Unit tests for src/crypto: real keys on disk, real GnuTLS handshakes in memory and over a
// socketpair(AF_UNIX).
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "crypto/fingerprint.hpp"
#include "crypto/identity.hpp"
#include "crypto/tls_channel.hpp"

// Last: check.h defines macros (fail) that clash with C++ headers.
#include <check.h>

using chinwag::Error;
using chinwag::crypto::Identity;
using chinwag::crypto::TlsChannel;
namespace crypto = chinwag::crypto;

// ck_assert_str_eq keeps only the char pointer, which dangles for temporaries' c_str().
#define expect_str_eq(a, b)                                                                       \
    do {                                                                                          \
        const std::string x_ = (a), y_ = (b);                                                     \
        ck_assert_msg(x_ == y_, "%s == %s failed: \"%s\" vs \"%s\"", #a, #b, x_.c_str(), y_.c_str()); \
    } while (0)
#define expect_str_ne(a, b)                                                                       \
    do {                                                                                          \
        const std::string x_ = (a), y_ = (b);                                                     \
        ck_assert_msg(x_ != y_, "%s != %s failed: both \"%s\"", #a, #b, x_.c_str());            \
    } while (0)

namespace {

// sha256("a") and sha256("b"): arbitrary but fixed fingerprints.
const std::string kFpA = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
const std::string kFpB = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d";

std::string make_temp_dir()
{
    char tmpl[] = "/tmp/chinwag-crypto-test-XXXXXX";
    char* d = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(d);
    return d;
}

void remove_tree(const std::string& dir)
{
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            std::string name = e->d_name;
            if (name != "." && name != "..")
                unlink((dir + "/" + name).c_str());
        }
        closedir(d);
    }
    rmdir(dir.c_str());
}

int count_entries(const std::string& dir)
{
    int n = 0;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d))
            if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
                ++n;
        closedir(d);
    }
    return n;
}

std::string read_all(const std::string& path)
{
    std::string s;
    FILE* f = std::fopen(path.c_str(), "rb");
    ck_assert_ptr_nonnull(f);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        s.append(buf, n);
    std::fclose(f);
    return s;
}

Identity ephemeral(const std::string& cn)
{
    auto id = Identity::create_ephemeral(cn);
    ck_assert_msg(id.ok(), "create_ephemeral: %s", id.ok() ? "" : id.error().message.c_str());
    return std::move(*id);
}

std::unique_ptr<TlsChannel> channel(const Identity& self, TlsChannel::Role role, const std::string& expected)
{
    auto ch = TlsChannel::create(self, role, expected);
    ck_assert_msg(ch.ok(), "TlsChannel::create: %s", ch.ok() ? "" : ch.error().message.c_str());
    return std::move(*ch);
}

// One end of an in-memory connection: what it decrypted and how it failed.
struct End {
    TlsChannel* ch;
    std::string received;
    std::optional<Error> error;
};

void deliver(End& to, const std::string& data)
{
    // Chunks well under TlsChannel::kMaxBufferedInput, and odd-sized to split records.
    const std::size_t chunk = 65521;
    for (std::size_t off = 0; off < data.size() && !to.error; off += chunk) {
        auto r = to.ch->feed(std::string_view(data).substr(off, chunk));
        if (r)
            to.received += *r;
        else
            to.error = r.error();
    }
}

// Moves ciphertext both ways until neither side has anything more to say.
void pump(End& a, End& b)
{
    for (int i = 0; i < 100000; ++i) {
        std::string ab = a.ch->take_output();
        std::string ba = b.ch->take_output();
        if (ab.empty() && ba.empty())
            return;
        if (!b.error)
            deliver(b, ab);
        if (!a.error)
            deliver(a, ba);
    }
    ck_abort_msg("pump did not settle");
}

std::string pattern(std::size_t n, unsigned seed)
{
    std::string s(n, '\0');
    unsigned x = seed;
    for (auto& c : s) {
        x = x * 1103515245u + 12345u;
        c = static_cast<char>(x >> 16);
    }
    return s;
}

}  // namespace

// ---- fingerprints -------------------------------------------------------------------------

START_TEST(test_fingerprint_normalize)
{
    ck_assert(crypto::is_fingerprint(kFpA));
    ck_assert(!crypto::is_fingerprint(kFpA.substr(1)));
    std::string upper = kFpA;
    for (auto& c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    ck_assert(!crypto::is_fingerprint(upper));
    expect_str_eq(crypto::normalize_fingerprint(upper), kFpA);

    std::string colons;
    for (std::size_t i = 0; i < upper.size(); i += 2)
        colons += (i ? ":" : "") + upper.substr(i, 2);
    expect_str_eq(crypto::normalize_fingerprint(colons), kFpA);
    expect_str_eq(crypto::normalize_fingerprint(" " + crypto::format_fingerprint(kFpA) + " "),
                     kFpA.c_str());

    ck_assert(crypto::normalize_fingerprint("").empty());
    ck_assert(crypto::normalize_fingerprint(kFpA.substr(0, 62)).empty());
    ck_assert(crypto::normalize_fingerprint(kFpA + "00").empty());
    ck_assert(crypto::normalize_fingerprint("g" + kFpA.substr(1)).empty());
    ck_assert(crypto::normalize_fingerprint(kFpA.substr(0, 63) + "-").empty());
}
END_TEST

START_TEST(test_fingerprint_format)
{
    const std::string f = crypto::format_fingerprint(kFpA);
    expect_str_eq(f, "ca97 8112 ca1b bdca fac2 31b3 9a23 dc4d "
                                "a786 eff8 147c 4e72 b980 7785 afee 48bb");
    ck_assert_uint_eq(f.size(), 64 + 15);
    ck_assert(crypto::format_fingerprint("not a fingerprint").empty());
    // spki_fingerprint is SHA-256 in lowercase hex.
    expect_str_eq(crypto::spki_fingerprint("a"), kFpA);
}
END_TEST

START_TEST(test_safety_number)
{
    const std::string ab = crypto::safety_number(kFpA, kFpB);
    const std::string ba = crypto::safety_number(kFpB, kFpA);
    expect_str_eq(ab, ba);
    // Known answer, computed independently with Python's hashlib from the documented formula.
    expect_str_eq(ab, "34163 88355 52757 48725 44219 77199");
    ck_assert_uint_eq(ab.size(), 35);
    int digits = 0;
    for (std::size_t i = 0; i < ab.size(); ++i) {
        if (i % 6 == 5)
            ck_assert_int_eq(ab[i], ' ');
        else {
            ck_assert(ab[i] >= '0' && ab[i] <= '9');
            ++digits;
        }
    }
    ck_assert_int_eq(digits, 30);
    // Formatting of the inputs does not matter.
    expect_str_eq(crypto::safety_number(crypto::format_fingerprint(kFpB), kFpA), ab);

    const std::string fp_c = crypto::spki_fingerprint("c");
    expect_str_ne(crypto::safety_number(kFpA, fp_c), ab);
    expect_str_ne(crypto::safety_number(kFpB, fp_c), ab);
    expect_str_ne(crypto::safety_number(kFpA, kFpA), ab);
    ck_assert(crypto::safety_number(kFpA, "bogus").empty());
}
END_TEST

// ---- identity -----------------------------------------------------------------------------

START_TEST(test_identity_created_private_and_reloaded)
{
    const std::string base = make_temp_dir();
    const std::string dir = base + "/profile";  // load_or_create makes the leaf
    auto first = Identity::load_or_create(dir, "alice@laptop");
    ck_assert_msg(first.ok(), "%s", first.ok() ? "" : first.error().message.c_str());
    ck_assert(crypto::is_fingerprint(first->fingerprint()));

    struct stat st {};
    ck_assert_int_eq(stat((dir + "/identity.key").c_str(), &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(stat(dir.c_str(), &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0700);
    ck_assert_int_eq(count_entries(dir), 2);  // no temp files left behind

    const std::string key_pem = read_all(dir + "/identity.key");
    ck_assert(key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);  // PKCS#8, unencrypted
    const std::string crt_pem = read_all(dir + "/identity.crt");
    expect_str_eq(crt_pem, first->certificate_pem());

    auto second = Identity::load_or_create(dir, "alice@laptop");
    ck_assert(second.ok());
    expect_str_eq(second->fingerprint(), first->fingerprint());
    expect_str_eq(second->certificate_pem(), first->certificate_pem());
    expect_str_eq(read_all(dir + "/identity.key"), key_pem);

    // Independent check of the fingerprint: GnuTLS's SHA-256 key id is over the DER SPKI.
    unsigned char id[32];
    size_t id_len = sizeof id;
    ck_assert_int_eq(gnutls_x509_crt_get_key_id(second->certificate(), GNUTLS_KEYID_USE_SHA256, id, &id_len), 0);
    std::string hex;
    for (size_t i = 0; i < id_len; ++i) {
        char b[3];
        std::snprintf(b, sizeof b, "%02x", id[i]);
        hex += b;
    }
    expect_str_eq(hex, first->fingerprint());

    // The certificate: self-signed Ed25519, CN, key usage, EKUs, validity.
    gnutls_x509_crt_t crt = second->certificate();
    ck_assert_int_eq(gnutls_x509_crt_get_pk_algorithm(crt, nullptr), GNUTLS_PK_EDDSA_ED25519);
    char cn[256];
    size_t cn_len = sizeof cn;
    ck_assert_int_eq(gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cn_len), 0);
    expect_str_eq(cn, "alice@laptop");
    unsigned usage = 0;
    ck_assert_int_ge(gnutls_x509_crt_get_key_usage(crt, &usage, nullptr), 0);
    ck_assert_uint_eq(usage, GNUTLS_KEY_DIGITAL_SIGNATURE);
    bool client_auth = false, server_auth = false;
    for (unsigned i = 0;; ++i) {
        char oid[128];
        size_t oid_len = sizeof oid;
        if (gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &oid_len, nullptr) < 0)
            break;
        client_auth |= std::strcmp(oid, GNUTLS_KP_TLS_WWW_CLIENT) == 0;
        server_auth |= std::strcmp(oid, GNUTLS_KP_TLS_WWW_SERVER) == 0;
    }
    ck_assert(client_auth && server_auth);
    unsigned verify = 0;
    ck_assert_int_eq(gnutls_x509_crt_verify(crt, &crt, 1, 0, &verify), 0);
    ck_assert_uint_eq(verify, 0);
    const time_t now = time(nullptr);
    ck_assert(gnutls_x509_crt_get_activation_time(crt) <= now - 3500);
    ck_assert(gnutls_x509_crt_get_expiration_time(crt) >= now + 19L * 365 * 86400);

    // A second profile is a different person.
    auto other = Identity::load_or_create(dir + "2", "bob");
    ck_assert(other.ok());
    expect_str_ne(other->fingerprint(), first->fingerprint());
    remove_tree(dir + "2");
    remove_tree(dir);
    ck_assert_int_eq(rmdir(base.c_str()), 0);
}
END_TEST

START_TEST(test_identity_insecure_key_refused)
{
    const std::string dir = make_temp_dir();
    ck_assert(Identity::load_or_create(dir, "alice").ok());
    const std::string key = dir + "/identity.key";
    for (mode_t mode : {0644, 0640, 0604, 0620}) {
        ck_assert_int_eq(chmod(key.c_str(), mode), 0);
        auto r = Identity::load_or_create(dir, "alice");
        ck_assert(!r.ok());
        expect_str_eq(r.error().code, "insecure-key-file");
        ck_assert_msg(r.error().message.find("chmod 600 " + key) != std::string::npos, "%s",
                      r.error().message.c_str());
    }
    ck_assert_int_eq(chmod(key.c_str(), 0400), 0);  // stricter than 0600 is fine
    ck_assert(Identity::load_or_create(dir, "alice").ok());
    remove_tree(dir);
}
END_TEST

START_TEST(test_identity_certificate_regenerated)
{
    const std::string dir = make_temp_dir();
    auto first = Identity::load_or_create(dir, "alice");
    ck_assert(first.ok());
    const std::string crt_path = dir + "/identity.crt";

    ck_assert_int_eq(unlink(crt_path.c_str()), 0);
    auto again = Identity::load_or_create(dir, "alice");
    ck_assert(again.ok());
    expect_str_eq(again->fingerprint(), first->fingerprint());
    expect_str_eq(read_all(crt_path), again->certificate_pem());
    // New serial: really a new certificate for the same key.
    expect_str_ne(again->certificate_pem(), first->certificate_pem());

    // A corrupt certificate is replaced too.
    FILE* f = std::fopen(crt_path.c_str(), "wb");
    std::fputs("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n", f);
    std::fclose(f);
    auto third = Identity::load_or_create(dir, "alice");
    ck_assert(third.ok());
    expect_str_eq(third->fingerprint(), first->fingerprint());

    // A certificate for another key is not trusted to describe ours.
    auto stranger = ephemeral("mallory");
    f = std::fopen(crt_path.c_str(), "wb");
    std::fputs(stranger.certificate_pem().c_str(), f);
    std::fclose(f);
    auto fourth = Identity::load_or_create(dir, "alice");
    ck_assert(fourth.ok());
    expect_str_eq(fourth->fingerprint(), first->fingerprint());
    ck_assert_int_eq(count_entries(dir), 2);
    remove_tree(dir);
}
END_TEST

START_TEST(test_identity_bad_key_file)
{
    const std::string dir = make_temp_dir();
    const std::string key = dir + "/identity.key";
    int fd = open(key.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "nonsense\n", 9), 9);
    close(fd);
    auto r = Identity::load_or_create(dir, "alice");
    ck_assert(!r.ok());
    expect_str_eq(r.error().code, "invalid");
    expect_str_eq(read_all(key), "nonsense\n");  // never overwritten
    remove_tree(dir);
}
END_TEST

START_TEST(test_identity_ephemeral)
{
    auto a = ephemeral("a");
    auto b = ephemeral("b");
    ck_assert(crypto::is_fingerprint(a.fingerprint()));
    expect_str_ne(a.fingerprint(), b.fingerprint());
    auto fp = crypto::certificate_fingerprint(a.certificate_pem(), true);
    ck_assert(fp.ok());
    expect_str_eq(fp->c_str(), a.fingerprint());
    Identity moved = std::move(a);
    expect_str_eq(moved.fingerprint(), fp->c_str());
}
END_TEST

// ---- TLS ----------------------------------------------------------------------------------

START_TEST(test_tls_handshake_and_data)
{
    auto alice = ephemeral("alice");
    auto bob = ephemeral("bob");
    auto client = channel(alice, TlsChannel::Role::Client, bob.fingerprint());
    // Upper case with colons is accepted as the pin.
    auto server = channel(bob, TlsChannel::Role::Server, crypto::format_fingerprint(alice.fingerprint()));
    End c{client.get(), {}, {}}, s{server.get(), {}, {}};

    ck_assert(server->start().ok());
    ck_assert(server->take_output().empty());
    ck_assert(client->start().ok());
    ck_assert(!client->handshake_done());
    // Written before the handshake: queued, never sent in the clear.
    ck_assert(client->write("early hello").ok());
    pump(c, s);
    ck_assert(!c.error && !s.error);
    ck_assert(client->handshake_done() && server->handshake_done());
    expect_str_eq(client->peer_fingerprint(), bob.fingerprint());
    expect_str_eq(server->peer_fingerprint(), alice.fingerprint());
    expect_str_eq(s.received, "early hello");

    ck_assert(server->write("hi alice").ok());
    ck_assert(client->write("hi bob").ok());
    pump(c, s);
    expect_str_eq(c.received, "hi alice");
    expect_str_eq(s.received, "early hellohi bob");

    // 1 MiB each way, plus a byte to cross a record boundary.
    const std::string big_c = pattern((1u << 20) + 1, 1), big_s = pattern((1u << 20) + 1, 2);
    c.received.clear();
    s.received.clear();
    ck_assert(client->write(big_c).ok());
    ck_assert(server->write(big_s).ok());
    pump(c, s);
    ck_assert(!c.error && !s.error);
    ck_assert(s.received == big_c);
    ck_assert(c.received == big_s);

    // The ciphertext does not contain the plaintext.
    ck_assert(client->write("secret words").ok());
    std::string wire = client->take_output();
    ck_assert(wire.find("secret words") == std::string::npos);
    deliver(s, wire);
    ck_assert(s.received.find("secret words") != std::string::npos);

    client->close();
    ck_assert(!client->write("after close").ok());
    pump(c, s);
    ck_assert(server->peer_closed());
    ck_assert(!client->peer_closed());
    server->close();
    pump(c, s);
    ck_assert(client->peer_closed());
}
END_TEST

START_TEST(test_tls_byte_at_a_time)
{
    auto alice = ephemeral("alice");
    auto bob = ephemeral("bob");
    auto client = channel(alice, TlsChannel::Role::Client, bob.fingerprint());
    auto server = channel(bob, TlsChannel::Role::Server, alice.fingerprint());
    ck_assert(client->start().ok());
    std::string got;
    bool server_done_seen = false;
    for (int round = 0; round < 10 && !(client->handshake_done() && server->handshake_done()); ++round) {
        for (char byte : client->take_output()) {
            const bool before = server->handshake_done();
            auto r = server->feed(std::string_view(&byte, 1));
            ck_assert_msg(r.ok(), "%s", r.ok() ? "" : r.error().message.c_str());
            server_done_seen |= !before && server->handshake_done();
        }
        for (char byte : server->take_output()) {
            auto r = client->feed(std::string_view(&byte, 1));
            ck_assert(r.ok());
        }
    }
    ck_assert(server_done_seen);
    ck_assert(client->write("split").ok());
    for (char byte : client->take_output()) {
        auto r = server->feed(std::string_view(&byte, 1));
        ck_assert(r.ok());
        got += *r;
    }
    expect_str_eq(got, "split");
}
END_TEST

START_TEST(test_tls_client_pins_wrong_key)
{
    auto alice = ephemeral("alice");
    auto bob = ephemeral("bob");
    auto mallory = ephemeral("mallory");
    // Alice expects Bob, but Mallory answers (with her own valid key).
    auto client = channel(alice, TlsChannel::Role::Client, bob.fingerprint());
    auto server = channel(mallory, TlsChannel::Role::Server, alice.fingerprint());
    End c{client.get(), {}, {}}, s{server.get(), {}, {}};
    ck_assert(client->write("for bob only").ok());
    ck_assert(client->start().ok());
    pump(c, s);
    ck_assert(c.error.has_value());
    expect_str_eq(c.error->code, "peer-key-mismatch");
    const std::string expected_msg = "peer presented key " + crypto::format_fingerprint(mallory.fingerprint()) +
                                     " but " + crypto::format_fingerprint(bob.fingerprint()) + " was expected";
    expect_str_eq(c.error->message, expected_msg);
    ck_assert(!client->handshake_done());
    ck_assert(client->peer_fingerprint().empty());
    ck_assert(s.error.has_value());  // Mallory learns of the abort through the alert
    ck_assert(!server->handshake_done());
    ck_assert(s.received.empty() && c.received.empty());
    // The failure sticks.
    ck_assert(!client->write("x").ok());
    auto again = client->feed("");
    ck_assert(!again.ok());
    expect_str_eq(again.error().code, "peer-key-mismatch");
}
END_TEST

START_TEST(test_tls_server_pins_wrong_key)
{
    auto alice = ephemeral("alice");
    auto bob = ephemeral("bob");
    auto mallory = ephemeral("mallory");
    // Bob expects Alice, but Mallory connects (and pins Bob correctly).
    auto client = channel(mallory, TlsChannel::Role::Client, bob.fingerprint());
    auto server = channel(bob, TlsChannel::Role::Server, alice.fingerprint());
    End c{client.get(), {}, {}}, s{server.get(), {}, {}};
    ck_assert(client->write("pretending to be alice").ok());
    ck_assert(client->start().ok());
    pump(c, s);
    ck_assert(s.error.has_value());
    expect_str_eq(s.error->code, "peer-key-mismatch");
    ck_assert(s.error->message.find(crypto::format_fingerprint(mallory.fingerprint())) != std::string::npos);
    ck_assert(s.error->message.find(crypto::format_fingerprint(alice.fingerprint())) != std::string::npos);
    ck_assert(!server->handshake_done());
    ck_assert(server->peer_fingerprint().empty());
    ck_assert(s.received.empty());
    // Mallory's side sees the TLS alert.
    ck_assert(c.error.has_value());
    expect_str_eq(c.error->code, "tls");
    ck_assert(c.received.empty());
}
END_TEST

namespace {
struct RawBuffers {
    std::string in, out;
    gnutls_session_t session;
};
ssize_t raw_push(gnutls_transport_ptr_t p, const void* d, size_t n)
{
    static_cast<RawBuffers*>(p)->out.append(static_cast<const char*>(d), n);
    return static_cast<ssize_t>(n);
}
ssize_t raw_pull(gnutls_transport_ptr_t p, void* d, size_t n)
{
    auto* b = static_cast<RawBuffers*>(p);
    if (b->in.empty()) {
        gnutls_transport_set_errno(b->session, EAGAIN);
        return -1;
    }
    n = std::min(n, b->in.size());
    std::memcpy(d, b->in.data(), n);
    b->in.erase(0, n);
    return static_cast<ssize_t>(n);
}
}  // namespace

// Drives a plain GnuTLS client (credentials chosen by the test) against `server` in memory;
// the client sends application data as soon as it believes the handshake is done.
// Returns the server's error, if any; `server_plain` gets what the server decrypted.
std::optional<Error> run_raw_client(TlsChannel& server, gnutls_certificate_credentials_t cred,
                                    std::string& server_plain, int& client_recv_rc)
{
    gnutls_session_t session;
    ck_assert_int_eq(gnutls_init(&session, GNUTLS_CLIENT | GNUTLS_NONBLOCK), 0);
    ck_assert_int_eq(gnutls_priority_set_direct(session, "NORMAL:-VERS-ALL:+VERS-TLS1.3", nullptr), 0);
    ck_assert_int_eq(gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cred), 0);
    RawBuffers raw{{}, {}, session};
    gnutls_transport_set_ptr(session, &raw);
    gnutls_transport_set_push_function(session, raw_push);
    gnutls_transport_set_pull_function(session, raw_pull);

    std::optional<Error> server_error;
    int rc = GNUTLS_E_AGAIN;
    for (int i = 0; i < 20; ++i) {
        if (rc == GNUTLS_E_AGAIN)
            rc = gnutls_handshake(session);
        if (rc == 0) {
            // TLS 1.3 clients finish first, before the server has judged their certificate.
            gnutls_record_send(session, "let me in", 9);
            rc = 1;
        }
        if (!raw.out.empty() && !server_error) {
            auto r = server.feed(std::exchange(raw.out, {}));
            if (r)
                server_plain += *r;
            else
                server_error = r.error();
        }
        raw.in += server.take_output();
    }
    // The client must be told (an alert), not left hanging.
    char buf[64];
    client_recv_rc = rc < 0 ? rc : static_cast<int>(gnutls_record_recv(session, buf, sizeof buf));
    gnutls_deinit(session);
    return server_error;
}

START_TEST(test_tls_client_without_certificate_refused)
{
    auto bob = ephemeral("bob");
    auto server = channel(bob, TlsChannel::Role::Server, bob.fingerprint());
    gnutls_certificate_credentials_t cred;  // no certificate at all
    ck_assert_int_eq(gnutls_certificate_allocate_credentials(&cred), 0);
    std::string plain;
    int client_rc = 0;
    auto err = run_raw_client(*server, cred, plain, client_rc);
    gnutls_certificate_free_credentials(cred);

    ck_assert(err.has_value());
    expect_str_eq(err->code, "peer-key-mismatch");
    ck_assert_msg(err->message.find("presented no key") != std::string::npos, "%s", err->message.c_str());
    ck_assert(!server->handshake_done());
    ck_assert(plain.empty());
    ck_assert_int_lt(client_rc, 0);
    ck_assert_int_ne(client_rc, GNUTLS_E_AGAIN);
}
END_TEST

// Presenting the pinned certificate is not enough: the TLS 1.3 CertificateVerify must be
// signed by its key (RFC 8446 §4.4.3). Mallory sends Bob's certificate with her own key.
START_TEST(test_tls_stolen_certificate_refused)
{
    auto alice = ephemeral("alice");
    auto bob = ephemeral("bob");
    auto mallory = ephemeral("mallory");
    auto server = channel(alice, TlsChannel::Role::Server, bob.fingerprint());
    gnutls_certificate_credentials_t cred;
    ck_assert_int_eq(gnutls_certificate_allocate_credentials(&cred), 0);
    gnutls_certificate_set_flags(cred, GNUTLS_CERTIFICATE_SKIP_KEY_CERT_MATCH);
    gnutls_x509_crt_t bob_crt = bob.certificate();
    ck_assert_int_ge(gnutls_certificate_set_x509_key(cred, &bob_crt, 1, mallory.private_key()), 0);
    std::string plain;
    int client_rc = 0;
    auto err = run_raw_client(*server, cred, plain, client_rc);
    gnutls_certificate_free_credentials(cred);

    ck_assert(err.has_value());
    expect_str_eq(err->code, "tls");
    ck_assert(!server->handshake_done());
    ck_assert(server->peer_fingerprint().empty());
    ck_assert(plain.empty());
}
END_TEST

START_TEST(test_tls_tampered_record_fails)
{
    auto alice = ephemeral("alice");
    auto bob = ephemeral("bob");
    auto client = channel(alice, TlsChannel::Role::Client, bob.fingerprint());
    auto server = channel(bob, TlsChannel::Role::Server, alice.fingerprint());
    End c{client.get(), {}, {}}, s{server.get(), {}, {}};
    ck_assert(client->start().ok());
    pump(c, s);
    ck_assert(server->handshake_done());
    ck_assert(client->write("pay 10 coins").ok());
    std::string wire = client->take_output();
    wire[wire.size() - 20] ^= 0x01;
    auto r = server->feed(wire);
    ck_assert(!r.ok());
    expect_str_eq(r.error().code, "tls");
}
END_TEST

START_TEST(test_tls_input_bounded_and_bad_pin)
{
    auto alice = ephemeral("alice");
    auto bad = TlsChannel::create(alice, TlsChannel::Role::Client, "not-a-fingerprint");
    ck_assert(!bad.ok());
    expect_str_eq(bad.error().code, "invalid");

    auto server = channel(alice, TlsChannel::Role::Server, alice.fingerprint());
    auto r = server->feed(std::string(TlsChannel::kMaxBufferedInput + 1, '\x16'));
    ck_assert(!r.ok());
    expect_str_eq(r.error().code, "too-much-input");
    ck_assert(!server->failure().has_value());  // refused, not consumed
}
END_TEST

// The same handshake and data over a real AF_UNIX socketpair, with non-blocking read/write.
START_TEST(test_tls_over_socketpair)
{
    auto alice = ephemeral("alice");
    auto bob = ephemeral("bob");
    int fds[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);

    struct Peer {
        std::unique_ptr<TlsChannel> ch;
        int fd;
        std::string to_send, received;
        bool eof = false;
    } peers[2] = {{channel(alice, TlsChannel::Role::Client, bob.fingerprint()), fds[0], {}, {}},
                  {channel(bob, TlsChannel::Role::Server, alice.fingerprint()), fds[1], {}, {}}};

    const std::string request = "hello over a socket " + pattern(200000, 3);
    const std::string reply = "and back " + pattern(150000, 4);
    ck_assert(peers[0].ch->start().ok());
    ck_assert(peers[0].ch->write(request).ok());
    bool replied = false;

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!(peers[0].eof && peers[1].eof)) {
        ck_assert_msg(std::chrono::steady_clock::now() < deadline, "socketpair exchange timed out");
        pollfd pfd[2];
        for (int i = 0; i < 2; ++i) {
            peers[i].to_send += peers[i].ch->take_output();
            pfd[i] = {peers[i].fd, static_cast<short>(POLLIN | (peers[i].to_send.empty() ? 0 : POLLOUT)), 0};
        }
        ck_assert_int_ge(poll(pfd, 2, 1000), 0);
        for (int i = 0; i < 2; ++i) {
            Peer& p = peers[i];
            if ((pfd[i].revents & POLLOUT) && !p.to_send.empty()) {
                ssize_t n = ::write(p.fd, p.to_send.data(), p.to_send.size());
                if (n > 0)
                    p.to_send.erase(0, static_cast<size_t>(n));
                else
                    ck_assert(errno == EAGAIN || errno == EINTR);
            }
            if (pfd[i].revents & (POLLIN | POLLHUP)) {
                char buf[32768];
                ssize_t n = ::read(p.fd, buf, sizeof buf);
                if (n > 0) {
                    auto r = p.ch->feed(std::string_view(buf, static_cast<size_t>(n)));
                    ck_assert_msg(r.ok(), "feed: %s", r.ok() ? "" : r.error().message.c_str());
                    p.received += *r;
                } else if (n == 0) {
                    p.eof = true;
                } else {
                    ck_assert(errno == EAGAIN || errno == EINTR);
                }
            }
        }
        // Bob answers once the whole request is in, then closes; Alice closes after the reply.
        if (!replied && peers[1].received.size() == request.size()) {
            ck_assert(peers[1].received == request);
            ck_assert(peers[1].ch->write(reply).ok());
            peers[1].ch->close();
            replied = true;
        }
        for (int i = 0; i < 2; ++i) {
            Peer& p = peers[i];
            p.to_send += p.ch->take_output();
            // Shut the socket's write side once our close_notify is out and the peer closed.
            if (p.ch->peer_closed() && p.fd >= 0 && p.to_send.empty() && !p.eof) {
                p.ch->close();
                p.to_send += p.ch->take_output();
                if (p.to_send.empty())
                    shutdown(p.fd, SHUT_WR);
            }
        }
    }
    ck_assert(peers[0].received == reply);
    ck_assert(peers[0].ch->peer_closed() && peers[1].ch->peer_closed());
    expect_str_eq(peers[0].ch->peer_fingerprint(), bob.fingerprint());
    expect_str_eq(peers[1].ch->peer_fingerprint(), alice.fingerprint());
    close(fds[0]);
    close(fds[1]);
}
END_TEST

int main()
{
    Suite* s = suite_create("crypto");
    TCase* fp = tcase_create("fingerprint");
    tcase_add_test(fp, test_fingerprint_normalize);
    tcase_add_test(fp, test_fingerprint_format);
    tcase_add_test(fp, test_safety_number);
    suite_add_tcase(s, fp);

    TCase* id = tcase_create("identity");
    tcase_add_test(id, test_identity_created_private_and_reloaded);
    tcase_add_test(id, test_identity_insecure_key_refused);
    tcase_add_test(id, test_identity_certificate_regenerated);
    tcase_add_test(id, test_identity_bad_key_file);
    tcase_add_test(id, test_identity_ephemeral);
    suite_add_tcase(s, id);

    TCase* tls = tcase_create("tls");
    tcase_set_timeout(tls, 60);
    tcase_add_test(tls, test_tls_handshake_and_data);
    tcase_add_test(tls, test_tls_byte_at_a_time);
    tcase_add_test(tls, test_tls_client_pins_wrong_key);
    tcase_add_test(tls, test_tls_server_pins_wrong_key);
    tcase_add_test(tls, test_tls_client_without_certificate_refused);
    tcase_add_test(tls, test_tls_stolen_certificate_refused);
    tcase_add_test(tls, test_tls_tampered_record_fails);
    tcase_add_test(tls, test_tls_input_bounded_and_bad_pin);
    tcase_add_test(tls, test_tls_over_socketpair);
    suite_add_tcase(s, tls);

    SRunner* sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
