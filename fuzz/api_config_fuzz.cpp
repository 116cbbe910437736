// libFuzzer target: the API's JSON readers. The first byte picks what reads the rest: a whole
// Firecracker config file (every section through the same readers `--config-file` uses, in
// the same order, without applying anything), or one request body (boot-source,
// machine-config, drives, network-interfaces, logger, vsock, balloon and its updates,
// snapshot create/load, migration send/receive). Each must answer a value or an Error with a
// message, never crash, throw or hang; no reader may touch the host (files, sockets, TAPs).
#include <cstdint>
#include <string>
#include <string_view>

#include "api/balloon_config.hpp"
#include "api/boot_source.hpp"
#include "api/device_config.hpp"
#include "api/json_fields.hpp"
#include "api/logger_config.hpp"
#include "api/machine_configuration.hpp"
#include "api/snapshot_config.hpp"
#include "api/vsock_config.hpp"
#include "base/log.hpp"
#include "vm/engine_selection.hpp"

// The CPU-model check asks the host's CPU through the software engine (engine_selection.cpp,
// which would link the whole engine and platform here); the readers only need its answer.
vessel::Result<void> vessel::check_cpu_model(const std::string&) {
    return {};
}

namespace {

using namespace vessel;
using namespace vessel::api;

/// Every error must say something: an empty message is a bug in the reader.
template <typename T> void check(const Result<T>& result) {
    if (!result && result.error().message.empty()) __builtin_trap();
}

/// ApiHandlers::start_from_config_file's reading, section by section.
Result<void> read_config_file(std::string_view text) {
    nlohmann::json config = TRY(parse_json(text, "config file"));
    JsonFields fields = TRY(JsonFields::of(config, "config file"));
    if (auto logger = TRY(fields.optional_object("logger"))) TRY(LoggerConfig::from_json(*logger));
    MachineConfiguration machine;
    if (auto section = TRY(fields.optional_object("machine-config")))
        machine = TRY(MachineConfiguration::from_json(*section));
    auto source = TRY(fields.optional_object("boot-source"));
    if (!source) return make_error("config file: missing required field 'boot-source'");
    TRY(BootSource::from_json(*source));
    if (const nlohmann::json* drives = fields.raw("drives"); drives && drives->is_array())
        for (const auto& drive : *drives) {
            const std::string id =
                drive.is_object() && drive.contains("drive_id") && drive["drive_id"].is_string()
                    ? drive["drive_id"].get<std::string>()
                    : std::string();
            TRY(parse_drive(id, drive));
        }
    if (const nlohmann::json* nics = fields.raw("network-interfaces"); nics && nics->is_array())
        for (const auto& nic : *nics) {
            const std::string id =
                nic.is_object() && nic.contains("iface_id") && nic["iface_id"].is_string()
                    ? nic["iface_id"].get<std::string>()
                    : std::string();
            TRY(parse_network_interface(id, nic));
        }
    if (auto vsock = TRY(fields.optional_object("vsock"))) TRY(parse_vsock(*vsock));
    if (auto balloon = TRY(fields.optional_object("balloon")))
        TRY(parse_balloon(*balloon, machine.mem_size_mib));
    for (std::string_view feature :
         {"mmds-config", "entropy", "cpu-config", "pmem", "memory-hotplug", "serial", "metrics"})
        (void)fields.raw(feature);
    TRY(fields.finish());
    return {};
}

/// One request body; `id` stands for the path's {id}.
Result<void> read_body(unsigned kind, std::string_view id, std::string_view text) {
    nlohmann::json body = TRY(parse_json(text, "request body"));
    switch (kind % 13) {
    case 0:
        TRY(BootSource::from_json(body));
        break;
    case 1:
        TRY(MachineConfiguration::from_json(body));
        break;
    case 2:
        TRY(parse_drive(id, body));
        break;
    case 3:
        TRY(parse_network_interface(id, body));
        break;
    case 4:
        TRY(LoggerConfig::from_json(body));
        break;
    case 5:
        TRY(parse_vsock(body));
        break;
    case 6:
        TRY(parse_balloon(body, 256));
        break;
    case 7:
        TRY(parse_balloon_update(body));
        break;
    case 8:
        TRY(parse_balloon_stats_update(body));
        break;
    case 9:
        TRY(parse_snapshot_create(body));
        break;
    case 10:
        TRY(parse_snapshot_load(body));
        break;
    case 11:
        TRY(parse_send_migration(body));
        break;
    case 12:
        TRY(parse_receive_migration(body));
        break;
    }
    return {};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool initialized = [] {
        log::initialize("off");
        return true;
    }();
    (void)initialized;
    if (size < 2) return 0;
    // Sound: the bytes are read as text, which is what the API receives.
    const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
    if (data[0] == 0) {
        check(read_config_file(text));
    } else {
        // The path id is the body's first data[1] % 16 bytes (ids are checked like paths').
        const std::size_t id_length = std::min<std::size_t>(data[1] % 16, text.size());
        check(read_body(data[0] - 1u, text.substr(0, id_length), text.substr(id_length)));
    }
    return 0;
}
