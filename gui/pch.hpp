// Precompiled header of the desktop app: gtkmm and libadwaita cost about 4 s per translation
// unit otherwise. Passed with -include to every gui/ source; never #include it by hand.

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <gtkmm.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>
