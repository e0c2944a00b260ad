#include "core/profile.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

namespace chinwag::core {

namespace {

constexpr const char* kGroup = "chinwag";

Result<void> make_private_dir(const std::string& dir)
{
    if (g_mkdir_with_parents(dir.c_str(), 0700) != 0)
        return make_error("io", "cannot create profile directory " + dir + ": " + std::strerror(errno));
    return {};
}

std::string key_string(GKeyFile* file, const char* key)
{
    gchar* v = g_key_file_get_string(file, kGroup, key, nullptr);
    std::string s = v ? v : "";
    g_free(v);
    return s;
}

bool key_bool(GKeyFile* file, const char* key, bool fallback)
{
    GError* error = nullptr;
    gboolean v = g_key_file_get_boolean(file, kGroup, key, &error);
    if (error) {
        g_error_free(error);
        return fallback;
    }
    return v;
}

// DNS-SD labels allow nearly anything, but a readable "user@machine" is XEP-0174 §3.3 practice.
std::string sanitize_label(const std::string& s)
{
    std::string out;
    for (char c : s) {
        unsigned char u = static_cast<unsigned char>(c);
        if (g_ascii_isalnum(c) || c == '-' || c == '_' || c == '.')
            out += static_cast<char>(g_ascii_tolower(c));
        else if (u >= 0x80)
            out += c;
    }
    return out.empty() ? std::string("user") : out;
}

}  // namespace

Profile::Profile(std::string data_dir, std::string config_dir, int lock_fd)
    : data_dir_(std::move(data_dir)), config_dir_(std::move(config_dir)), lock_fd_(lock_fd)
{
}

Profile::~Profile()
{
    if (lock_fd_ >= 0)
        ::close(lock_fd_);  // releases the flock
}

Result<std::unique_ptr<Profile>> Profile::open(const std::optional<std::string>& dir)
{
    std::string data = dir ? *dir : std::string(g_get_user_data_dir()) + "/chinwag";
    std::string config = dir ? *dir : std::string(g_get_user_config_dir()) + "/chinwag";
    for (const auto& d : {data, config})
        if (auto made = make_private_dir(d); !made)
            return made.error();

    const std::string lock_path = data + "/lock";
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return make_error("io", "cannot open " + lock_path + ": " + std::strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        ::close(fd);
        if (err == EWOULDBLOCK)
            return make_error("locked", "profile " + data + " is in use by another chinwag process");
        return make_error("io", "cannot lock " + lock_path + ": " + std::strerror(err));
    }
    std::unique_ptr<Profile> profile(new Profile(data, config, fd));
    if (auto loaded = profile->load(); !loaded)
        return loaded.error();
    return profile;
}

std::string Profile::database_path() const { return data_dir_ + "/chinwag.db"; }

Result<void> Profile::load()
{
    const std::string path = config_dir_ + "/settings.ini";
    if (!g_file_test(path.c_str(), G_FILE_TEST_EXISTS))
        return {};
    GKeyFile* file = g_key_file_new();
    GError* error = nullptr;
    if (!g_key_file_load_from_file(file, path.c_str(), G_KEY_FILE_NONE, &error)) {
        std::string detail = error->message;
        g_error_free(error);
        g_key_file_free(file);
        return make_error("config", "cannot read " + path + ": " + detail);
    }
    Settings s;
    s.nick = key_string(file, "nick");
    s.instance = key_string(file, "instance");
    s.first_name = key_string(file, "first-name");
    s.last_name = key_string(file, "last-name");
    s.email = key_string(file, "email");
    s.publish_name = key_bool(file, "publish-name", false);
    s.publish_email = key_bool(file, "publish-email", false);
    s.show_legacy = key_bool(file, "show-legacy", true);
    s.notifications = key_bool(file, "notifications", true);
    s.status = model::status_from_string(key_string(file, "status")).value_or(model::Status::Available);
    s.status_message = key_string(file, "status-message");
    g_key_file_free(file);
    settings_ = std::move(s);
    return {};
}

Result<void> Profile::save(const Settings& s)
{
    GKeyFile* file = g_key_file_new();
    g_key_file_set_string(file, kGroup, "nick", s.nick.c_str());
    g_key_file_set_string(file, kGroup, "instance", s.instance.c_str());
    g_key_file_set_string(file, kGroup, "first-name", s.first_name.c_str());
    g_key_file_set_string(file, kGroup, "last-name", s.last_name.c_str());
    g_key_file_set_string(file, kGroup, "email", s.email.c_str());
    g_key_file_set_boolean(file, kGroup, "publish-name", s.publish_name);
    g_key_file_set_boolean(file, kGroup, "publish-email", s.publish_email);
    g_key_file_set_boolean(file, kGroup, "show-legacy", s.show_legacy);
    g_key_file_set_boolean(file, kGroup, "notifications", s.notifications);
    g_key_file_set_string(file, kGroup, "status", std::string(model::to_string(s.status)).c_str());
    g_key_file_set_string(file, kGroup, "status-message", s.status_message.c_str());
    const std::string path = config_dir_ + "/settings.ini";
    GError* error = nullptr;
    // g_key_file_save_to_file writes a temporary file and renames it: never half a file.
    gboolean ok = g_key_file_save_to_file(file, path.c_str(), &error);
    g_key_file_free(file);
    if (!ok) {
        std::string detail = error->message;
        g_error_free(error);
        return make_error(g_str_has_suffix(detail.c_str(), "space left on device") ? "disk-full" : "io",
                          "cannot save settings: " + detail);
    }
    settings_ = s;
    return {};
}

std::string Profile::default_nick()
{
    const char* real = g_get_real_name();
    if (real && *real && std::strcmp(real, "Unknown") != 0)
        return real;
    return g_get_user_name();
}

std::string Profile::instance_name() const
{
    if (!settings_.instance.empty())
        return settings_.instance;
    return sanitize_label(g_get_user_name()) + "@" + sanitize_label(g_get_host_name());
}

}  // namespace chinwag::core
