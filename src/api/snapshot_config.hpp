// Snapshot request bodies of Firecracker's API: PUT /snapshot/create and PUT /snapshot/load.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/result.hpp"

namespace vessel::api {

/// SnapshotCreateParams: snapshot_type (Full, or Diff: only the pages written since the last
/// snapshot), snapshot_path, mem_file_path, and the deprecated `version`, accepted and ignored.
struct SnapshotCreateRequest {
    std::string snapshot_path;
    std::string mem_file_path;
    bool diff{false};
};

/// SnapshotLoadParams: snapshot_path, and the memory file either as mem_backend
/// {backend_type: File, backend_path} or as the older mem_file_path (exactly one of them);
/// enable_diff_snapshots (accepted: the software engine always tracks dirty pages), resume_vm
/// (default false).
struct SnapshotLoadRequest {
    std::string snapshot_path;
    std::string mem_file_path;
    bool resume_vm{false};
};

Result<SnapshotCreateRequest> parse_snapshot_create(const nlohmann::json& body);
Result<SnapshotLoadRequest> parse_snapshot_load(const nlohmann::json& body);
/// Cloud Hypervisor's VmSendMigrationData {destination_url} (its `local` option is refused)
/// and VmReceiveMigrationData {receiver_url}: the URL, checked to be unix:PATH or
/// tcp:HOST:PORT.
Result<std::string> parse_send_migration(const nlohmann::json& body);
Result<std::string> parse_receive_migration(const nlohmann::json& body);

} // namespace vessel::api
