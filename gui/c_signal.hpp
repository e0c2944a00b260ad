// Glue for libadwaita's C API from gtkmm: std::function slots on GObject signals, managed
// gtkmm wrappers around C-created widgets, and accessible names where GTK 4.8 gets them wrong.
// Needs gui/pch.hpp (GTK, libadwaita) included first.
#pragma once

#include <functional>
#include <utility>

namespace chinwag::gui {

namespace detail {

using Slot = std::function<void()>;

inline void free_slot(gpointer data, GClosure*)
{
    delete static_cast<Slot*>(data);
}

// Signals whose handlers take (instance, user_data).
inline void call_slot0(gpointer, gpointer data)
{
    (*static_cast<Slot*>(data))();
}

// "notify::..." handlers take (instance, GParamSpec*, user_data).
inline void call_slot1(gpointer, gpointer, gpointer data)
{
    (*static_cast<Slot*>(data))();
}

}  // namespace detail

// Calls fn on `signal` of `instance`, a signal whose handler has no arguments of its own
// ("apply", "clicked", ...). The slot lives as long as the connection.
inline void on_signal(gpointer instance, const char* signal, std::function<void()> fn)
{
    g_signal_connect_data(instance, signal, G_CALLBACK(detail::call_slot0), new detail::Slot(std::move(fn)),
                          detail::free_slot, GConnectFlags(0));
}

// Calls fn when `property` of `instance` changes.
inline void on_notify(gpointer instance, const char* property, std::function<void()> fn)
{
    std::string signal = std::string("notify::") + property;
    g_signal_connect_data(instance, signal.c_str(), G_CALLBACK(detail::call_slot1),
                          new detail::Slot(std::move(fn)), detail::free_slot, GConnectFlags(0));
}

// A managed gtkmm wrapper for a widget created through a C constructor (floating reference),
// so a gtkmm container takes ownership as for Gtk::make_managed.
inline Gtk::Widget* managed(GtkWidget* widget)
{
    return Gtk::manage(Glib::wrap(widget));
}

// Sets the accessible label of an icon-only button (or any widget) for screen readers.
inline void set_accessible_label(Gtk::Widget& w, const Glib::ustring& label)
{
    Glib::Value<Glib::ustring> value;
    value.init(Glib::Value<Glib::ustring>::value_type());
    value.set(label);
    w.update_property(Gtk::Accessible::Property::LABEL, value);
}

// A button labelled with a mnemonic ("_Quit"). GTK 4.8 names such a button for screen readers
// from both its raw label property and its label widget: "_Quit Quit". Without the property the
// label widget alone names it, mnemonic resolved: "Quit".
inline Gtk::Button* mnemonic_button(const Glib::ustring& text)
{
    auto* b = Gtk::make_managed<Gtk::Button>(text, true);
    gtk_accessible_reset_property(GTK_ACCESSIBLE(b->gobj()), GTK_ACCESSIBLE_PROPERTY_LABEL);
    return b;
}

}  // namespace chinwag::gui
