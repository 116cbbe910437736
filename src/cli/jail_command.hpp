// `vessel jail`: Firecracker's jailer for Vessel (options; the work is sandbox/jail).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace vessel {

/// The jail options as given; checked and converted by run_jail_command.
struct JailOptions {
    std::string id;
    std::string exec_file;
    unsigned uid{0};
    unsigned gid{0};
    std::string chroot_base_dir{"/srv/jailer"};
    std::string netns;
    bool daemonize{false};
    bool new_pid_ns{false};
    std::string cgroup_version{"auto"};
    std::vector<std::string> cgroups;          ///< --cgroup FILE=VALUE
    std::vector<std::string> resource_limits;  ///< --resource-limit NAME=VALUE
    std::vector<std::string> files;            ///< --file HOST[:/JAIL/PATH]
    std::vector<std::string> vessel_arguments; ///< after `--`
};

/// Declares the `jail` subcommand and its options on app.
CLI::App* add_jail_command(CLI::App& app, JailOptions& options);

/// Builds the jail and runs Vessel in it; returns an exit status when it does not exec.
int run_jail_command(const JailOptions& options);

} // namespace vessel
