#include "util/log.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <strings.h>
#include <sys/time.h>

namespace chinwag::log {

namespace {

Level initial_level()
{
    const char* env = std::getenv("CHINWAG_LOG");
    if (!env)
        return Level::Info;
    if (strcasecmp(env, "debug") == 0)
        return Level::Debug;
    if (strcasecmp(env, "warning") == 0)
        return Level::Warning;
    if (strcasecmp(env, "error") == 0)
        return Level::Error;
    return Level::Info;
}

Level current = initial_level();

const char* name(Level l)
{
    switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warning: return "warning";
    case Level::Error: return "error";
    }
    return "?";
}

}  // namespace

void set_level(Level l) { current = l; }
Level level() { return current; }

void write(Level l, std::string_view component, std::string_view text)
{
    if (l < current)
        return;
    timeval tv{};
    gettimeofday(&tv, nullptr);
    tm local{};
    localtime_r(&tv.tv_sec, &local);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%H:%M:%S", &local);
    // Control characters from remote input are replaced so one event stays one line.
    std::string clean;
    clean.reserve(text.size());
    for (char c : text)
        clean += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    std::fprintf(stderr, "%s.%03ld chinwag %s [%.*s] %s\n", stamp, static_cast<long>(tv.tv_usec / 1000),
                 name(l), static_cast<int>(component.size()), component.data(), clean.c_str());
    std::fflush(stderr);
}

}  // namespace chinwag::log
