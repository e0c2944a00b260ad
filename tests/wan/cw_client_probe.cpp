// cw-client-probe: logs in to an XMPP server with transport::ClientStream and reports what
// happened as JSON lines, for the tests in tests/wan/ (a real server, a real client library
// on the other side). The password comes from $CW_PASSWORD, never the command line.
//
//   cw-client-probe --jid J [--host H --port P] [--ca-file F] [--accept SHA256]
//                   [--send TO BODY] [--expect-message SECONDS]
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include <glib.h>

#include "transport/client_stream.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "xmpp/stanzas.hpp"

using namespace chinwag;

namespace {

std::string json_string(const std::string& s)
{
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

}  // namespace

int main(int argc, char** argv)
{
    transport::ClientSettings settings;
    std::string jid, send_to, send_body;
    int expect_seconds = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << "cw-client-probe: " << a << " needs a value\n";
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--jid") jid = next();
        else if (a == "--host") settings.host = next();
        else if (a == "--port") settings.port = static_cast<std::uint16_t>(std::stoi(next()));
        else if (a == "--ca-file") settings.ca_file = next();
        else if (a == "--accept") settings.accepted_certificate = next();
        else if (a == "--resource") settings.resource = next();
        else if (a == "--timeout") settings.open_timeout_ms = static_cast<unsigned>(std::stoi(next())) * 1000;
        else if (a == "--send") { send_to = next(); send_body = next(); }
        else if (a == "--expect-message") expect_seconds = std::stoi(next());
        else {
            std::cerr << "cw-client-probe: unknown option " << a << "\n";
            return 2;
        }
    }
    auto parsed = xmpp::parse_jid(jid);
    if (!parsed) {
        std::cerr << "cw-client-probe: " << parsed.error().message << "\n";
        return 2;
    }
    settings.account = *parsed;
    if (const char* pw = std::getenv("CW_PASSWORD"))
        settings.password = pw;
    

    if (std::getenv("CW_DEBUG"))
        log::set_level(log::Level::Debug);
    GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
    bool opened = false;
    auto stream = std::make_unique<transport::ClientStream>(settings);
    stream->signal_opened().connect([&] {
        opened = true;
        std::cout << "{\"event\":\"open\",\"jid\":" << json_string(stream->bound_jid().full())
                  << ",\"mechanism\":" << json_string(stream->mechanism())
                  << ",\"channelBound\":" << (stream->channel_bound() ? "true" : "false")
                  << ",\"tls\":" << json_string(stream->tls_version())
                  << ",\"certificate\":" << json_string(stream->server_certificate())
                  << ",\"pinned\":" << (stream->certificate_pinned() ? "true" : "false")
                  << ",\"sm\":" << (stream->features().stream_management ? "true" : "false")
                  << ",\"rosterver\":" << (stream->features().roster_versioning ? "true" : "false") << "}"
                  << std::endl;
        stream->send(xmpp::Element("presence"));
        if (!send_to.empty())
            stream->send(xmpp::chat_message("probe-" + random_id(), stream->bound_jid().full(), send_to, send_body));
        if (expect_seconds <= 0) {
            stream->close();
            return;
        }
        g_timeout_add_seconds(static_cast<guint>(expect_seconds), [](gpointer s) -> gboolean {
            static_cast<transport::ClientStream*>(s)->close();
            return G_SOURCE_REMOVE;
        }, stream.get());
    });
    stream->signal_stanza().connect([&](const xmpp::Element& e) {
        if (e.name() != "message")
            return;
        const xmpp::Element* body = e.child("body");
        if (!body)
            return;
        std::cout << "{\"event\":\"message\",\"from\":" << json_string(e.attr("from"))
                  << ",\"body\":" << json_string(body->text()) << "}" << std::endl;
        stream->close();
    });
    stream->signal_closed().connect([&](const transport::ClientClose& c) {
        std::cout << "{\"event\":\"closed\",\"kind\":" << json_string(c.kind) << ",\"detail\":" << json_string(c.detail)
                  << ",\"certificate\":" << json_string(c.certificate)
                  << ",\"opened\":" << (c.opened ? "true" : "false") << "}" << std::endl;
        g_main_loop_quit(loop);
    });
    stream->start();
    g_main_loop_run(loop);
    stream.reset();
    g_main_loop_unref(loop);
    return opened ? 0 : 1;
}
