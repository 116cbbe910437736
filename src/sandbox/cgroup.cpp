// Cgroup: a jailed VM's control group, v1 or v2, made the way Firecracker's jailer makes it.
#include "sandbox/cgroup.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

namespace vessel::sandbox {
namespace {

constexpr const char* group_parent = "vessel"; // every jailed VM's group: <root>/vessel/<id>

Result<void> write_file(const std::filesystem::path& path, const std::string& value) {
    std::ofstream file(path);
    if (!file) return make_error("cgroup {}: cannot open: {}", path.string(), std::strerror(errno));
    file << value;
    file.flush();
    if (!file)
        return make_error("cgroup {}: writing '{}' failed: {}", path.string(), value,
                          std::strerror(errno));
    return {};
}

Result<void> make_group(const std::filesystem::path& path) {
    std::error_code error;
    std::filesystem::create_directories(path, error);
    if (error) return make_error("cgroup {}: {}", path.string(), error.message());
    return {};
}

std::string controller_of(const std::string& file) {
    return file.substr(0, file.find('.'));
}

// v1 keeps cpu and cpuacct (and others) in one hierarchy with a joined name: find the
// mounted directory that serves the controller.
Result<std::filesystem::path> v1_hierarchy(const std::filesystem::path& root,
                                           const std::string& controller) {
    if (std::filesystem::is_directory(root / controller)) return root / controller;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(root, error)) {
        const std::string name = entry.path().filename().string();
        std::size_t start = 0;
        while (start <= name.size()) {
            std::size_t end = name.find(',', start);
            if (end == std::string::npos) end = name.size();
            if (name.substr(start, end - start) == controller && entry.is_directory())
                return entry.path();
            start = end + 1;
        }
    }
    return make_error("cgroup v1: no hierarchy for controller '{}' under {}", controller,
                      root.string());
}

Result<void> apply_v1(const std::filesystem::path& root, const std::string& id,
                      const std::vector<CgroupSetting>& settings, pid_t pid) {
    std::set<std::filesystem::path> groups;
    for (const auto& setting : settings) {
        const auto hierarchy = TRY(v1_hierarchy(root, controller_of(setting.file)));
        const auto group = hierarchy / group_parent / id;
        TRY(make_group(group));
        // cpuset groups start empty: inherit the parent's CPUs and memory nodes first.
        if (controller_of(setting.file) == "cpuset" && !groups.contains(group)) {
            for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
                for (const auto& level : {hierarchy / group_parent, group}) {
                    std::ifstream current(level / file);
                    std::string value;
                    std::getline(current, value);
                    if (!value.empty()) continue;
                    std::ifstream parent(level.parent_path() / file);
                    std::getline(parent, value);
                    TRY(write_file(level / file, value));
                }
            }
        }
        groups.insert(group);
        TRY(write_file(group / setting.file, setting.value));
    }
    for (const auto& group : groups)
        TRY(write_file(group / "cgroup.procs", std::to_string(pid)));
    return {};
}

Result<void> apply_v2(const std::filesystem::path& root, const std::string& id,
                      const std::vector<CgroupSetting>& settings, pid_t pid) {
    const auto parent = root / group_parent;
    const auto group = parent / id;
    TRY(make_group(group));
    std::set<std::string> controllers;
    for (const auto& setting : settings)
        controllers.insert(controller_of(setting.file));
    // A controller's files appear in a group only once its parent enables it for children.
    for (const auto& controller : controllers) {
        for (const auto& level : {root, parent})
            TRY(write_file(level / "cgroup.subtree_control", "+" + controller));
    }
    for (const auto& setting : settings)
        TRY(write_file(group / setting.file, setting.value));
    TRY(write_file(group / "cgroup.procs", std::to_string(pid)));
    return {};
}

} // namespace

Result<CgroupSetting> parse_cgroup_setting(std::string_view text) {
    const auto equals = text.find('=');
    if (equals == std::string_view::npos || equals == 0 || equals + 1 == text.size())
        return make_error("--cgroup {}: expected FILE=VALUE (e.g. cpu.weight=300)", text);
    std::string file(text.substr(0, equals));
    const auto dot = file.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == file.size() ||
        file.find('/') != std::string::npos || file.starts_with("cgroup."))
        return make_error("--cgroup {}: '{}' is not a controller file (controller.name, e.g. "
                          "cpu.weight, memory.max)",
                          text, file);
    return CgroupSetting{std::move(file), std::string(text.substr(equals + 1))};
}

CgroupVersion detect_cgroup_version(const std::string& root) {
    return std::filesystem::exists(std::filesystem::path(root) / "cgroup.controllers")
               ? CgroupVersion::V2
               : CgroupVersion::V1;
}

Result<void> apply_cgroup(CgroupVersion version, const std::string& id,
                          const std::vector<CgroupSetting>& settings, pid_t pid,
                          const std::string& root) {
    if (settings.empty()) return {};
    return version == CgroupVersion::V2 ? apply_v2(root, id, settings, pid)
                                        : apply_v1(root, id, settings, pid);
}

} // namespace vessel::sandbox
