#include "storage/account_store.hpp"

#include <glib.h>

#include <memory>

#include "util/clock.hpp"

namespace chinwag::storage {

namespace {

constexpr std::string_view kSubject = "the account";
constexpr const char* kColumns =
    "id, jid, jid_typed, host, port, cert_sha256, enabled, roster_version, created_ms";
// RFC 7622 §3.2 and §3.3: each part is 1 to 1023 octets once prepared.
constexpr std::size_t kMaxPartBytes = 1023;

struct GFreeDeleter {
    void operator()(gchar* p) const { g_free(p); }
};
using GCharPtr = std::unique_ptr<gchar, GFreeDeleter>;

bool has_control_or_space(std::string_view s)
{
    for (unsigned char c : s)
        if (c <= 0x20 || c == 0x7f) return true;
    return false;
}

// NFC then Unicode lower case: the width-insensitive parts of PRECIS are left out, so two
// spellings that differ only in full-width forms stay two keys (a refusal, never a merge).
Result<std::string> fold(std::string_view part, std::string_view what)
{
    GCharPtr nfc(g_utf8_normalize(part.data(), static_cast<gssize>(part.size()), G_NORMALIZE_NFC));
    if (!nfc) return make_error("invalid", std::string(what) + " is not valid UTF-8");
    GCharPtr lower(g_utf8_strdown(nfc.get(), -1));
    std::string out(lower.get());
    if (out.empty() || out.size() > kMaxPartBytes)
        return make_error("invalid", std::string(what) + " must be 1 to 1023 bytes long");
    return out;
}

Result<std::string> normalize_fingerprint(std::string_view typed)
{
    std::string out;
    for (char c : typed) {
        if (c == ':' || c == ' ') continue;
        if (!g_ascii_isxdigit(c))
            return make_error("invalid", "a certificate fingerprint is 64 hexadecimal digits (SHA-256)");
        out += static_cast<char>(g_ascii_tolower(c));
    }
    if (!out.empty() && out.size() != 64)
        return make_error("invalid", "a certificate fingerprint is 64 hexadecimal digits (SHA-256)");
    return out;
}

Result<void> check_host(std::string_view host)
{
    if (host.empty()) return {};
    if (host.size() > kMaxPartBytes || has_control_or_space(host) ||
        !g_utf8_validate(host.data(), static_cast<gssize>(host.size()), nullptr))
        return make_error("invalid", "the server host name is not valid");
    return {};
}

Account read_account(const Statement& st)
{
    Account a;
    a.id = st.int64(0);
    a.jid = st.text(1);
    a.jid_typed = st.text(2);
    a.host = st.text(3);
    a.port = static_cast<std::uint16_t>(st.int64(4));  // CHECK keeps it in 0..65535
    a.pinned_cert_sha256 = st.text(5);
    a.enabled = st.int64(6) != 0;
    a.roster_version = st.text(7);
    a.created_ms = st.int64(8);
    return a;
}

Result<std::vector<Account>> collect(Result<Statement>& st)
{
    if (!st) return st.error();
    std::vector<Account> out;
    for (;;) {
        auto row = st->step();
        if (!row) return row.error();
        if (!*row) break;
        out.push_back(read_account(*st));
    }
    return out;
}

Result<std::optional<Account>> first_of(Result<std::vector<Account>> rows)
{
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<Account>();
    return std::optional<Account>(std::move(rows->front()));
}

}  // namespace

Result<std::string> normalize_bare_jid(std::string_view typed)
{
    if (!g_utf8_validate(typed.data(), static_cast<gssize>(typed.size()), nullptr))
        return make_error("invalid", "the address is not valid UTF-8");
    if (typed.find('/') != std::string_view::npos)
        return make_error("invalid", "an account address has no resource: write it as name@server");
    const auto at = typed.find('@');
    if (at == std::string_view::npos || at == 0)
        return make_error("invalid", "an account address looks like name@server");
    std::string_view local = typed.substr(0, at);
    std::string_view domain = typed.substr(at + 1);
    // RFC 7622 §3.2: a trailing dot is not part of the domain.
    if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
    if (domain.empty()) return make_error("invalid", "an account address looks like name@server");
    if (has_control_or_space(typed))
        return make_error("invalid", "an account address has no spaces or control characters");
    // RFC 7622 §3.3.1: these are forbidden in a localpart; '@' also in a domainpart.
    for (char c : local)
        if (std::string_view("\"&'/:<>@").find(c) != std::string_view::npos)
            return make_error("invalid", std::string("the name before @ may not contain ") + c);
    if (domain.find('@') != std::string_view::npos)
        return make_error("invalid", "an account address has one @");
    auto l = fold(local, "the name before @");
    if (!l) return l.error();
    auto d = fold(domain, "the server name");
    if (!d) return d.error();
    return *l + "@" + *d;
}

Result<Account> AccountStore::add(const Account& in)
{
    auto jid = normalize_bare_jid(in.jid);
    if (!jid) return jid.error();
    auto fp = normalize_fingerprint(in.pinned_cert_sha256);
    if (!fp) return fp.error();
    if (auto h = check_host(in.host); !h) return h.error();

    Account a = in;
    a.jid = *jid;
    a.jid_typed = in.jid_typed.empty() ? in.jid : in.jid_typed;
    a.pinned_cert_sha256 = *fp;
    a.created_ms = now_ms();

    auto st = db_.prepare("INSERT INTO accounts (jid, jid_typed, host, port, cert_sha256, enabled, "
                          "roster_version, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                          kSubject);
    if (!st) return st.error();
    st->bind(1, a.jid)
        .bind(2, a.jid_typed)
        .bind(3, a.host)
        .bind(4, static_cast<std::int64_t>(a.port))
        .bind(5, a.pinned_cert_sha256)
        .bind(6, static_cast<std::int64_t>(a.enabled ? 1 : 0))
        .bind(7, a.roster_version)
        .bind(8, a.created_ms);
    if (auto r = st->run(); !r) {
        // The UNIQUE index on jid is the one check, so two adds cannot both pass a lookup.
        if (r.error().code == "duplicate")
            return make_error("duplicate", "an account for " + a.jid + " already exists");
        return r.error();
    }
    a.id = db_.last_insert_rowid();
    return a;
}

Result<void> AccountStore::remove(std::int64_t id)
{
    auto st = db_.prepare("DELETE FROM accounts WHERE id = ?1", kSubject);
    if (!st) return st.error();
    st->bind(1, id);
    if (auto r = st->run(); !r) return r;
    if (db_.changes() == 0) return make_error("not-found", "no such account");
    return {};
}

Result<std::optional<Account>> AccountStore::find(std::int64_t id)
{
    auto st = db_.prepare(std::string("SELECT ") + kColumns + " FROM accounts WHERE id = ?1", kSubject);
    if (st) st->bind(1, id);
    return first_of(collect(st));
}

Result<std::optional<Account>> AccountStore::find_by_jid(std::string_view typed)
{
    auto jid = normalize_bare_jid(typed);
    if (!jid) return jid.error();
    auto st = db_.prepare(std::string("SELECT ") + kColumns + " FROM accounts WHERE jid = ?1", kSubject);
    if (st) st->bind(1, *jid);
    return first_of(collect(st));
}

Result<std::vector<Account>> AccountStore::list()
{
    auto st = db_.prepare(std::string("SELECT ") + kColumns + " FROM accounts ORDER BY id", kSubject);
    return collect(st);
}

Result<void> AccountStore::update(const Account& a)
{
    auto fp = normalize_fingerprint(a.pinned_cert_sha256);
    if (!fp) return fp.error();
    if (auto h = check_host(a.host); !h) return h.error();
    auto stored = find(a.id);
    if (!stored) return stored.error();
    if (!*stored) return make_error("not-found", "no such account");
    if (!a.jid.empty()) {
        auto jid = normalize_bare_jid(a.jid);
        if (!jid) return jid.error();
        if (*jid != (*stored)->jid)
            return make_error("invalid", "the address of an account cannot change; remove " + (*stored)->jid +
                                             " and add " + *jid + " instead");
    }
    auto st = db_.prepare("UPDATE accounts SET host = ?1, port = ?2, cert_sha256 = ?3, enabled = ?4, "
                          "roster_version = ?5 WHERE id = ?6",
                          kSubject);
    if (!st) return st.error();
    st->bind(1, a.host)
        .bind(2, static_cast<std::int64_t>(a.port))
        .bind(3, *fp)
        .bind(4, static_cast<std::int64_t>(a.enabled ? 1 : 0))
        .bind(5, a.roster_version)
        .bind(6, a.id);
    if (auto r = st->run(); !r) return r;
    if (db_.changes() == 0) return make_error("not-found", "no such account");
    return {};
}

}  // namespace chinwag::storage
