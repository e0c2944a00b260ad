// cw-discovery-probe: publishes one presence through AvahiDirectory and prints every directory
// event as one line on stdout, for hand checks and scripts on the namespace LAN testbed.
//
//   cw-discovery-probe INSTANCE PORT [STATUS] [FINGERPRINT]
//
// stdout: "state <State> <text>", "up <instance> <details>", "changed <instance> <details>",
//         "down <instance>", "renamed <old> <new>", "resolved <instance> <details>",
//         "resolve-failed <instance> <code> <message>", "peer <instance> <details>".
// stdin:  "status <avail|away|dnd> [message...]", "nick <nick>", "resolve <instance>",
//         "peers", "quit" (EOF, SIGINT and SIGTERM quit too, withdrawing the service).
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <unistd.h>

#include <glib-unix.h>
#include <glibmm/main.h>

#include "discovery/avahi_directory.hpp"

using namespace chinwag::discovery;

namespace {

const char* state_name(DirectoryState s)
{
    switch (s) {
    case DirectoryState::Starting: return "Starting";
    case DirectoryState::Running: return "Running";
    case DirectoryState::DaemonMissing: return "DaemonMissing";
    case DirectoryState::Failure: return "Failure";
    }
    return "?";
}

std::string details(const PeerAnnouncement& p)
{
    std::ostringstream o;
    o << "host=" << p.host << " port=" << p.port << " status=" << p.record.status
      << " fp=" << (p.record.fingerprint.empty() ? "-" : p.record.fingerprint) << " addrs=";
    for (std::size_t i = 0; i < p.addresses.size(); ++i)
        o << (i ? "," : "") << p.addresses[i].ip << "%" << p.addresses[i].ifindex;
    o << " nick=" << p.record.nick << " msg=" << p.record.msg;
    return o.str();
}

void line(const std::string& s)
{
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

gboolean on_unix_signal(gpointer loop)
{
    static_cast<Glib::MainLoop*>(loop)->quit();
    return G_SOURCE_REMOVE;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s INSTANCE PORT [STATUS] [FINGERPRINT]\n", argv[0]);
        return 2;
    }
    const std::string instance = argv[1];
    const auto port = static_cast<std::uint16_t>(std::atoi(argv[2]));
    PresenceRecord record;
    record.port_p2pj = port;
    record.nick = instance;
    record.chinwag_version = "probe";
    if (argc > 3)
        record.status = argv[3];
    if (argc > 4)
        record.fingerprint = argv[4];

    auto loop = Glib::MainLoop::create();
    AvahiDirectory dir(nullptr);
    dir.signal_state().connect([](DirectoryState s, const std::string& text) {
        line(std::string("state ") + state_name(s) + " " + text);
    });
    dir.signal_peer_up().connect([](const PeerAnnouncement& p) { line("up " + p.instance + " " + details(p)); });
    dir.signal_peer_changed().connect(
        [](const PeerAnnouncement& p) { line("changed " + p.instance + " " + details(p)); });
    dir.signal_peer_down().connect([](const std::string& name) { line("down " + name); });
    dir.signal_name_changed().connect(
        [](const std::string& from, const std::string& to) { line("renamed " + from + " " + to); });

    dir.publish(instance, port, record);
    dir.start();

    g_unix_signal_add(SIGINT, on_unix_signal, loop.get());
    g_unix_signal_add(SIGTERM, on_unix_signal, loop.get());

    std::string pending;
    Glib::signal_io().connect(
        [&](Glib::IOCondition) {
            char buf[4096];
            const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
            if (n <= 0) {
                loop->quit();
                return false;
            }
            pending.append(buf, static_cast<std::size_t>(n));
            std::size_t nl;
            while ((nl = pending.find('\n')) != std::string::npos) {
                std::istringstream in(pending.substr(0, nl));
                pending.erase(0, nl + 1);
                std::string cmd, arg;
                in >> cmd;
                if (cmd == "status") {
                    in >> record.status;
                    std::getline(in >> std::ws, record.msg);
                    dir.publish(instance, port, record);
                } else if (cmd == "nick") {
                    std::getline(in >> std::ws, record.nick);
                    dir.publish(instance, port, record);
                } else if (cmd == "resolve") {
                    std::getline(in >> std::ws, arg);
                    dir.resolve_now(arg, [arg](chinwag::Result<PeerAnnouncement> r) {
                        if (r)
                            line("resolved " + arg + " " + details(*r));
                        else
                            line("resolve-failed " + arg + " " + r.error().code + " " +
                                 r.error().message);
                    });
                } else if (cmd == "peers") {
                    for (const auto& p : dir.peers())
                        line("peer " + p.instance + " " + details(p));
                    line("peers-end");
                } else if (cmd == "quit") {
                    loop->quit();
                } else if (!cmd.empty()) {
                    line("error unknown command " + cmd);
                }
            }
            return true;
        },
        STDIN_FILENO, Glib::IOCondition::IO_IN | Glib::IOCondition::IO_HUP);

    loop->run();
    return 0;
}
