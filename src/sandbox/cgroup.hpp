// Cgroup: a jailed VM's control group on cgroup v1 (one hierarchy per controller) or v2.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

#include "base/result.hpp"

namespace vessel::sandbox {

/// A controller file and the value to write to it ("cpu.shares" = "1024").
struct CgroupSetting {
    std::string file; ///< as the kernel names it: cpu.shares, cpu.weight, memory.max, ...
    std::string value;
};

/// "cpu.weight=300" into its file and value; the file must be controller.name.
Result<CgroupSetting> parse_cgroup_setting(std::string_view text);

enum class CgroupVersion { V1, V2 };

/// v2 when the unified hierarchy is mounted at root (cgroup.controllers there), else v1.
CgroupVersion detect_cgroup_version(const std::string& root = "/sys/fs/cgroup");

/// Creates the group `vessel/<id>` for every controller the settings name (v1: under each
/// controller's hierarchy; v2: in the unified one, the controllers enabled on the way down),
/// writes the settings, and moves process pid into it. Errors name the file and the value.
Result<void> apply_cgroup(CgroupVersion version, const std::string& id,
                          const std::vector<CgroupSetting>& settings, pid_t pid,
                          const std::string& root = "/sys/fs/cgroup");

} // namespace vessel::sandbox
