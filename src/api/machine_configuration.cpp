// MachineConfiguration: validation against the swagger definition and Vessel's abilities.
#include "api/machine_configuration.hpp"

#include <unistd.h>

#include "api/json_fields.hpp"
#include "memory/host_memory.hpp"
#include "vm/engine_selection.hpp"

namespace vessel::api {

namespace {

constexpr std::string_view what = "machine-config";

// Reads the fields Vessel accepts only at their default values.
Result<void> check_unsupported_options(JsonFields& fields) {
    if (TRY(fields.optional_bool("smt")).value_or(false))
        return make_error("{}: smt=true is not supported by Vessel (simultaneous multithreading "
                          "is not emulated)",
                          what);
    if (TRY(fields.optional_bool("track_dirty_pages")).value_or(false))
        return make_error("{}: track_dirty_pages=true is not supported by Vessel (no snapshots)",
                          what);
    if (auto template_name = TRY(fields.optional_string("cpu_template"))) {
        static constexpr std::string_view known[] = {"C3", "T2", "T2S", "T2CL", "T2A", "V1N1"};
        if (*template_name != "None") {
            if (std::find(std::begin(known), std::end(known), *template_name) == std::end(known))
                return make_error("{}: cpu_template '{}' is not one of C3, T2, T2S, T2CL, T2A, "
                                  "V1N1, None",
                                  what, *template_name);
            return make_error("{}: cpu_template '{}' is not supported by Vessel (no CPU "
                              "templates)",
                              what, *template_name);
        }
    }
    if (auto huge_pages = TRY(fields.optional_string("huge_pages"))) {
        if (*huge_pages == "Transparent" || *huge_pages == "2M")
            return make_error("{}: huge_pages '{}' is not supported by Vessel (guest memory uses "
                              "4 KiB pages)",
                              what, *huge_pages);
        if (*huge_pages != "None")
            return make_error("{}: huge_pages '{}' is not one of None, Transparent, 2M", what,
                              *huge_pages);
    }
    return {};
}

Result<void> apply_sizes(JsonFields& fields, MachineConfiguration& config) {
    if (auto count =
            TRY(fields.optional_unsigned("vcpu_count", MachineConfiguration::max_vcpu_count))) {
        if (*count == 0) return make_error("{}: vcpu_count must be at least 1", what);
        config.vcpu_count = static_cast<std::uint32_t>(*count);
    }
    if (auto size =
            TRY(fields.optional_unsigned("mem_size_mib", MachineConfiguration::max_mem_size_mib))) {
        if (*size == 0) return make_error("{}: mem_size_mib must be at least 1", what);
        TRY_CONTEXT(check_guest_memory_on_host(*size << 20),
                    fmt::format("{}: mem_size_mib {}", what, *size));
        config.mem_size_mib = *size;
    }
    if (auto sharing = TRY(fields.optional_bool("vessel_page_sharing")))
        config.page_sharing = *sharing;
    if (auto model = TRY(fields.optional_string("vessel_cpu_model"))) {
        TRY_CONTEXT(check_cpu_model(*model), std::string(what));
        config.cpu_model = *model;
    }
    return {};
}

} // namespace

// gdb_socket_path: the stub's Unix socket; like vsock's uds_path it must not exist yet.
Result<void> apply_gdb_socket(JsonFields& fields, MachineConfiguration& config) {
    auto path = TRY(fields.optional_string("gdb_socket_path"));
    if (!path) return {};
    if (path->empty() || path->size() > 107)
        return make_error("{}: gdb_socket_path must be 1-107 bytes (a Unix socket path)", what);
    if (::access(path->c_str(), F_OK) == 0)
        return make_error("{}: gdb_socket_path {} exists (remove it, or pick another path)", what,
                          *path);
    config.gdb_socket_path = *path;
    return {};
}

Result<MachineConfiguration> MachineConfiguration::from_json(const nlohmann::json& body) {
    JsonFields fields = TRY(JsonFields::of(body, std::string(what)));
    if (!fields.has("vcpu_count"))
        return make_error("{}: missing required field 'vcpu_count'", what);
    if (!fields.has("mem_size_mib"))
        return make_error("{}: missing required field 'mem_size_mib'", what);
    MachineConfiguration config;
    TRY(apply_sizes(fields, config));
    TRY(apply_gdb_socket(fields, config));
    TRY(check_unsupported_options(fields));
    TRY(fields.finish());
    return config;
}

Result<MachineConfiguration> MachineConfiguration::patched(const nlohmann::json& body) const {
    JsonFields fields = TRY(JsonFields::of(body, std::string(what)));
    MachineConfiguration config = *this;
    TRY(apply_sizes(fields, config));
    TRY(apply_gdb_socket(fields, config));
    TRY(check_unsupported_options(fields));
    TRY(fields.finish());
    return config;
}

nlohmann::json MachineConfiguration::to_json() const {
    nlohmann::json json = {{"vcpu_count", vcpu_count},
                           {"mem_size_mib", mem_size_mib},
                           {"smt", false},
                           {"track_dirty_pages", false},
                           {"huge_pages", "None"},
                           {"vessel_page_sharing", page_sharing}};
    if (!gdb_socket_path.empty()) json["gdb_socket_path"] = gdb_socket_path;
    if (!cpu_model.empty()) json["vessel_cpu_model"] = cpu_model;
    return json;
}

} // namespace vessel::api
