// LinkLocalListener: owns the TCP listening sockets (IPv4 and IPv6) that peers connect to.
#pragma once

#include <cstdint>
#include <functional>

#include <gio/gio.h>

#include "util/result.hpp"

namespace chinwag::transport {

class LinkLocalListener {
public:
    using Incoming = std::function<void(GSocketConnection*)>;

    explicit LinkLocalListener(Incoming on_incoming);
    ~LinkLocalListener();
    LinkLocalListener(const LinkLocalListener&) = delete;
    LinkLocalListener& operator=(const LinkLocalListener&) = delete;

    // Listens on a free port on every address (advertised later in the SRV record).
    Result<std::uint16_t> start();
    std::uint16_t port() const { return port_; }

private:
    static gboolean on_incoming(GSocketService* service, GSocketConnection* connection, GObject* source, gpointer self);

    Incoming on_incoming_;
    GSocketService* service_ = nullptr;
    std::uint16_t port_ = 0;
};

}  // namespace chinwag::transport
