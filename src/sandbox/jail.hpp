// Jail: Firecracker's jailer for Vessel: a chroot with only the VM's files, new namespaces,
// cgroups, resource limits, an unprivileged uid/gid, then exec.
#pragma once

#include <optional>
#include <string>
#include <sys/resource.h>
#include <sys/types.h>
#include <vector>

#include "base/result.hpp"
#include "sandbox/cgroup.hpp"

namespace vessel::sandbox {

/// A file the jail gets: host path, and where it appears inside the jail (absolute).
struct JailFile {
    std::string host_path;
    std::string jail_path;
};

/// A resource limit (setrlimit) as Firecracker's jailer names them: fsize, no-file, ...
struct ResourceLimit {
    int resource{0};
    rlim_t value{0};
};

struct JailConfig {
    std::string id;        ///< [A-Za-z0-9-]{1,64}: the jail's directory and cgroup name
    std::string exec_file; ///< the Vessel binary to run inside
    uid_t uid{0};
    gid_t gid{0};
    std::string chroot_base_dir{"/srv/jailer"};
    std::string netns; ///< a network namespace file to join (/var/run/netns/NAME)
    bool daemonize{false};
    bool new_pid_ns{false};
    std::optional<CgroupVersion> cgroup_version; ///< unset: as the host has it
    std::vector<CgroupSetting> cgroups;
    std::vector<ResourceLimit> resource_limits;
    std::vector<JailFile> files; ///< owned by uid:gid inside (linked if theirs, else copied)
    std::vector<std::string> exec_arguments; ///< after `--`: Vessel's own arguments
};

/// "fsize=1024" / "no-file=128" into a setrlimit resource and value.
Result<ResourceLimit> parse_resource_limit(std::string_view text);

/// "HOST" (appears as /basename) or "HOST:/JAIL/PATH".
Result<JailFile> parse_jail_file(std::string_view text);

/// `<base>/<exec name>/<id>/root`.
std::string jail_root(const JailConfig& config);

/// Checks the configuration (id, files, uid) without changing anything.
Result<void> check_jail_config(const JailConfig& config);

/// Builds the jail and execs Vessel in it; returns only on error, or, with a new PID
/// namespace and no --daemonize, with the jailed Vessel's exit status once it ends.
Result<int> run_jail(const JailConfig& config);

} // namespace vessel::sandbox
