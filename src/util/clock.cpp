#include "util/clock.hpp"

#include <glib.h>

namespace chinwag {

std::int64_t now_ms() { return g_get_real_time() / 1000; }

std::string random_id()
{
    gchar* s = g_uuid_string_random();
    std::string id(s);
    g_free(s);
    return id;
}

}  // namespace chinwag
