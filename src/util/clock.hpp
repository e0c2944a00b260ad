// Wall-clock time and fresh identifiers.
#pragma once

#include <cstdint>
#include <string>

namespace chinwag {

// Milliseconds since the Unix epoch.
std::int64_t now_ms();

// A random RFC 4122 version-4 UUID string, used for message and stanza ids.
std::string random_id();

}  // namespace chinwag
