// txt_watch: the mDNS floor for a status change. A bare avahi record browser on one
// service's TXT record (class IN, type TXT, name "INSTANCE._presence._tcp.local"), printing
// every event the moment avahi-daemon reports it: the new TXT record arrives with the
// cache-flush bit (RFC 6762 §10.2) and is reported at once, the old one a second later as
// removed. No Chinwag code, no GLib: avahi's simple poll loop only.
//
// Owns its avahi client, the record browser and the poll loop.
//   txt_watch INSTANCE [SERVICE_TYPE]     (default type _presence._tcp, domain local)
// stdout, one JSON object per line, flushed:
//   {"event":"new"|"remove","iface":N,"proto":"IPv4"|"IPv6","txt":["key=value",...]}
//   {"event":"all-for-now"}, {"event":"failure","error":"..."}
// Runs until killed (SIGTERM) or the daemon goes away.
#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-common/defs.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/simple-watch.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

AvahiSimplePoll* g_poll = nullptr;

// JSON string of arbitrary bytes: ASCII as is, anything else as \u00XX (enough to compare).
std::string json_string(const unsigned char* p, std::size_t n)
{
    std::string out = "\"";
    char buf[8];
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else if (c >= 0x20 && c < 0x7F) {
            out.push_back(static_cast<char>(c));
        } else {
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        }
    }
    return out + "\"";
}

void line(const std::string& s)
{
    std::fputs(s.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

void on_record(AvahiRecordBrowser*, AvahiIfIndex iface, AvahiProtocol proto, AvahiBrowserEvent event,
               const char*, uint16_t, uint16_t, const void* rdata, size_t size, AvahiLookupResultFlags,
               void* userdata)
{
    auto* client = static_cast<AvahiClient*>(userdata);
    switch (event) {
    case AVAHI_BROWSER_NEW:
    case AVAHI_BROWSER_REMOVE: {
        // RFC 1035 §3.3.14: length-prefixed strings.
        std::string items;
        const auto* p = static_cast<const unsigned char*>(rdata);
        for (std::size_t i = 0; p && i < size;) {
            std::size_t len = p[i];
            if (len > size - i - 1)
                len = size - i - 1;
            items += (items.empty() ? "" : ",") + json_string(p + i + 1, len);
            i += 1 + len;
        }
        line(std::string("{\"event\":\"") + (event == AVAHI_BROWSER_NEW ? "new" : "remove") +
             "\",\"iface\":" + std::to_string(iface) + ",\"proto\":\"" +
             (proto == AVAHI_PROTO_INET6 ? "IPv6" : "IPv4") + "\",\"txt\":[" + items + "]}");
        break;
    }
    case AVAHI_BROWSER_ALL_FOR_NOW:
        line("{\"event\":\"all-for-now\"}");
        break;
    case AVAHI_BROWSER_FAILURE: {
        const char* why = avahi_strerror(avahi_client_errno(client));
        line("{\"event\":\"failure\",\"error\":" +
             json_string(reinterpret_cast<const unsigned char*>(why), std::string(why).size()) + "}");
        avahi_simple_poll_quit(g_poll);
        break;
    }
    case AVAHI_BROWSER_CACHE_EXHAUSTED:
        break;
    }
}

void on_client(AvahiClient*, AvahiClientState state, void*)
{
    if (state == AVAHI_CLIENT_FAILURE)
        avahi_simple_poll_quit(g_poll);
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s INSTANCE [SERVICE_TYPE]\n", argv[0]);
        return 2;
    }
    const char* type = argc > 2 ? argv[2] : "_presence._tcp";
    char name[AVAHI_DOMAIN_NAME_MAX];
    if (int r = avahi_service_name_join(name, sizeof name, argv[1], type, "local"); r < 0) {
        std::fprintf(stderr, "txt_watch: %s\n", avahi_strerror(r));
        return 2;
    }
    g_poll = avahi_simple_poll_new();
    int error = 0;
    AvahiClient* client = avahi_client_new(avahi_simple_poll_get(g_poll), AvahiClientFlags(0), on_client,
                                           nullptr, &error);
    if (!client) {
        std::fprintf(stderr, "txt_watch: cannot reach avahi-daemon: %s\n", avahi_strerror(error));
        return 1;
    }
    AvahiRecordBrowser* b = avahi_record_browser_new(client, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, name,
                                                     AVAHI_DNS_CLASS_IN, AVAHI_DNS_TYPE_TXT,
                                                     AvahiLookupFlags(0), on_record, client);
    if (!b) {
        std::fprintf(stderr, "txt_watch: %s\n", avahi_strerror(avahi_client_errno(client)));
        return 1;
    }
    line("{\"event\":\"ready\"}");
    avahi_simple_poll_loop(g_poll);
    avahi_record_browser_free(b);
    avahi_client_free(client);
    avahi_simple_poll_free(g_poll);
    return 0;
}
