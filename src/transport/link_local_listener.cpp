#include "transport/link_local_listener.hpp"

#include "util/log.hpp"

namespace chinwag::transport {

LinkLocalListener::LinkLocalListener(Incoming on_incoming) : on_incoming_(std::move(on_incoming)) {}

LinkLocalListener::~LinkLocalListener()
{
    if (service_) {
        g_signal_handlers_disconnect_by_data(service_, this);
        g_socket_service_stop(service_);
        g_socket_listener_close(G_SOCKET_LISTENER(service_));
        g_object_unref(service_);
    }
}

Result<std::uint16_t> LinkLocalListener::start()
{
    service_ = g_socket_service_new();
    GError* error = nullptr;
    guint16 port = g_socket_listener_add_any_inet_port(G_SOCKET_LISTENER(service_), nullptr, &error);
    if (port == 0) {
        std::string detail = error ? error->message : "unknown error";
        g_clear_error(&error);
        return make_error("listen", "cannot listen for peers: " + detail);
    }
    port_ = port;
    g_signal_connect(service_, "incoming", G_CALLBACK(&LinkLocalListener::on_incoming), this);
    g_socket_service_start(service_);
    log::info("listener", "listening for peers on TCP port " + std::to_string(port_));
    return std::uint16_t(port_);
}

gboolean LinkLocalListener::on_incoming(GSocketService*, GSocketConnection* connection, GObject*, gpointer data)
{
    auto* self = static_cast<LinkLocalListener*>(data);
    self->on_incoming_(connection);
    return TRUE;
}

}  // namespace chinwag::transport
