// Profile: owns a user's data and config directories, the single-process lock and the settings file.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "model/types.hpp"
#include "util/result.hpp"

namespace chinwag::core {

// What the user chose; stored in <config_dir>/settings.ini.
struct Settings {
    std::string nick;
    std::string instance;         // DNS-SD instance name override; empty = "<name>@<host>"
    std::string first_name, last_name, email;
    bool publish_name = false;    // publish 1st/last on the LAN (off unless the user opts in)
    bool publish_email = false;
    bool show_legacy = true;      // list unencrypted legacy peers
    bool notifications = true;
    model::Status status = model::Status::Available;
    std::string status_message;
};

class Profile {
public:
    // dir: one directory for both data and config (--profile); nullopt = XDG defaults
    // ($XDG_DATA_HOME/chinwag and $XDG_CONFIG_HOME/chinwag). Takes the profile lock:
    // a second process on the same profile gets Error "locked".
    static Result<std::unique_ptr<Profile>> open(const std::optional<std::string>& dir);
    ~Profile();
    Profile(const Profile&) = delete;
    Profile& operator=(const Profile&) = delete;

    const std::string& data_dir() const { return data_dir_; }
    const std::string& config_dir() const { return config_dir_; }
    std::string database_path() const;

    // True once a nickname was chosen (by `init` or the welcome screen).
    bool initialized() const { return !settings_.nick.empty(); }
    const Settings& settings() const { return settings_; }
    Result<void> save(const Settings& settings);

    // The user's real name, else login name: the nickname proposed on first run.
    static std::string default_nick();
    // DNS-SD instance name for these settings: settings.instance or "<login>@<hostname>".
    std::string instance_name() const;

private:
    Profile(std::string data_dir, std::string config_dir, int lock_fd);
    Result<void> load();

    std::string data_dir_, config_dir_;
    int lock_fd_;
    Settings settings_;
};

}  // namespace chinwag::core
