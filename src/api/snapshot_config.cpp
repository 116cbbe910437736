// Snapshot request bodies: the fields Firecracker's swagger defines, checked strictly.
#include "api/snapshot_config.hpp"

#include "api/json_fields.hpp"
#include "vm/migration/migration_url.hpp"

namespace vessel::api {
namespace {

Result<std::string> non_empty_path(JsonFields& fields, std::string_view name) {
    std::string path = TRY(fields.string(name));
    if (path.empty()) return make_error("{}: {} must not be empty", fields.what(), name);
    return path;
}

} // namespace

Result<SnapshotCreateRequest> parse_snapshot_create(const nlohmann::json& body) {
    JsonFields fields = TRY(JsonFields::of(body, "snapshot/create"));
    SnapshotCreateRequest request;
    request.snapshot_path = TRY(non_empty_path(fields, "snapshot_path"));
    request.mem_file_path = TRY(non_empty_path(fields, "mem_file_path"));
    const std::string type = TRY(fields.optional_string("snapshot_type")).value_or("Full");
    request.diff = type == "Diff";
    if (type != "Full" && type != "Diff")
        return make_error("snapshot/create: snapshot_type must be Full or Diff, not '{}'", type);
    (void)TRY(fields.optional_string("version")); // deprecated in Firecracker, ignored there too
    TRY(fields.finish());
    return request;
}

Result<SnapshotLoadRequest> parse_snapshot_load(const nlohmann::json& body) {
    JsonFields fields = TRY(JsonFields::of(body, "snapshot/load"));
    SnapshotLoadRequest request;
    request.snapshot_path = TRY(non_empty_path(fields, "snapshot_path"));
    auto backend = TRY(fields.optional_object("mem_backend"));
    auto mem_file_path = TRY(fields.optional_string("mem_file_path"));
    if (backend && mem_file_path)
        return make_error("snapshot/load: give either mem_backend or mem_file_path, not both");
    if (!backend && !mem_file_path)
        return make_error("snapshot/load: mem_backend (or the older mem_file_path) is required");
    if (backend) {
        JsonFields backend_fields = TRY(JsonFields::of(*backend, "snapshot/load mem_backend"));
        const std::string type = TRY(backend_fields.string("backend_type"));
        request.mem_file_path = TRY(non_empty_path(backend_fields, "backend_path"));
        TRY(backend_fields.finish());
        if (type == "Uffd")
            return make_error("snapshot/load: mem_backend backend_type Uffd is not supported by "
                              "Vessel; use File");
        if (type != "File")
            return make_error("snapshot/load: mem_backend backend_type must be File or Uffd, "
                              "not '{}'",
                              type);
    } else {
        if (mem_file_path->empty())
            return make_error("snapshot/load: mem_file_path must not be empty");
        request.mem_file_path = *mem_file_path;
    }
    // Firecracker's switch for dirty-page tracking; Vessel's software engine always tracks.
    (void)TRY(fields.optional_bool("enable_diff_snapshots"));
    request.resume_vm = TRY(fields.optional_bool("resume_vm")).value_or(false);
    TRY(fields.finish());
    return request;
}

Result<std::string> parse_send_migration(const nlohmann::json& body) {
    JsonFields fields = TRY(JsonFields::of(body, "vm.send-migration"));
    std::string url = TRY(non_empty_path(fields, "destination_url"));
    if (TRY(fields.optional_bool("local")).value_or(false))
        return make_error("vm.send-migration: local (memory handed over as file descriptors) is "
                          "not supported by Vessel; pages go over the stream");
    TRY(fields.finish());
    (void)TRY_CONTEXT(migration::parse_migration_url(url), "vm.send-migration: destination_url");
    return url;
}

Result<std::string> parse_receive_migration(const nlohmann::json& body) {
    JsonFields fields = TRY(JsonFields::of(body, "vm.receive-migration"));
    std::string url = TRY(non_empty_path(fields, "receiver_url"));
    TRY(fields.finish());
    (void)TRY_CONTEXT(migration::parse_migration_url(url), "vm.receive-migration: receiver_url");
    return url;
}

} // namespace vessel::api
