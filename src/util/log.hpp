// Process-wide log sink: one line per event on stderr. Never pass secrets or message bodies.
#pragma once

#include <string_view>

namespace chinwag::log {

enum class Level { Debug, Info, Warning, Error };

// Lines below this level are dropped. Default Info; CHINWAG_LOG=debug|info|warning|error overrides.
void set_level(Level level);
Level level();

void write(Level level, std::string_view component, std::string_view text);

inline void debug(std::string_view component, std::string_view text) { write(Level::Debug, component, text); }
inline void info(std::string_view component, std::string_view text) { write(Level::Info, component, text); }
inline void warning(std::string_view component, std::string_view text) { write(Level::Warning, component, text); }
inline void error(std::string_view component, std::string_view text) { write(Level::Error, component, text); }

}  // namespace chinwag::log
