// ApiHandlers: the route table and the handler of each Firecracker endpoint.
#include "api/api_handlers.hpp"

#include <sys/stat.h>

#include "api/device_config.hpp"
#include "api/json_fields.hpp"
#include "api/snapshot_config.hpp"
#include "api/vsock_config.hpp"
#include "base/log.hpp"
#include "vm/host_resources.hpp"
#include "vm/kernel_loading.hpp"
#include "vm/root_initramfs.hpp"

namespace vessel::api {

namespace {

// Endpoints of Firecracker's API that Vessel knows of but does not provide (the devices or
// features behind them do not exist yet): answered with a fault naming the feature.
struct UnsupportedResource {
    std::string_view path_prefix;
    std::string_view feature;
};
constexpr UnsupportedResource unsupported_resources[] = {
    {"/cpu-config", "custom CPU templates"},
    {"/entropy", "the entropy (virtio-rng) device"},
    {"/hotplug/memory", "memory hotplug (virtio-mem)"},
    {"/mmds", "the microVM metadata service (MMDS)"},
    {"/pmem/", "virtio-pmem devices"},
    {"/serial", "serial output redirection"},
};

HttpResponse json_response(const nlohmann::json& json) {
    return HttpResponse::json(200,
                              json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

/// Matches a path against a route pattern: literal, or ending in "{id}", which takes the rest
/// of the path (at least one character; slashes included, so the id check can name it).
std::optional<std::string_view> match_path(std::string_view pattern, std::string_view path) {
    constexpr std::string_view id_marker = "{id}";
    if (!pattern.ends_with(id_marker))
        return pattern == path ? std::optional<std::string_view>(std::string_view{}) : std::nullopt;
    const std::string_view prefix = pattern.substr(0, pattern.size() - id_marker.size());
    if (!path.starts_with(prefix) || path.size() == prefix.size()) return std::nullopt;
    return path.substr(prefix.size());
}

/// Room for one more drive or network interface: together they are bounded by the PCI slots
/// the machine leaves them (max_disks_and_networks), checked before the VM is built so a
/// client cannot pile up devices (and open files) without end.
Result<void> check_device_room(std::string_view resource, std::size_t drives,
                               std::size_t networks) {
    if (drives + networks < max_disks_and_networks) return {};
    return make_error("{}: no room for another device: {} drive(s) and {} network "
                      "interface(s) are configured, and at most {} fit together (each is a "
                      "virtio device on PCI bus 0, whose other 5 slots Vessel's own devices "
                      "keep)",
                      resource, drives, networks, max_disks_and_networks);
}

} // namespace

// Firecracker's endpoints (swagger paths) with the resource names its metrics use.
std::span<const ApiHandlers::Route> ApiHandlers::routes() {
    static constexpr Route table[] = {
        {"GET", "/", "instance_info", &ApiHandlers::get_instance_info},
        {"GET", "/version", "vmm_version", &ApiHandlers::get_version},
        {"GET", "/vm/config", "vm_config", &ApiHandlers::get_vm_config},
        {"GET", "/machine-config", "machine_cfg", &ApiHandlers::get_machine_config},
        {"PUT", "/machine-config", "machine_cfg", &ApiHandlers::put_machine_config},
        {"PATCH", "/machine-config", "machine_cfg", &ApiHandlers::put_machine_config},
        {"PUT", "/boot-source", "boot_source", &ApiHandlers::put_boot_source},
        {"PUT", "/actions", "actions", &ApiHandlers::put_actions},
        {"PATCH", "/vm", "vm", &ApiHandlers::patch_vm},
        {"PUT", "/logger", "logger", &ApiHandlers::put_logger},
        {"PUT", "/metrics", "metrics", &ApiHandlers::put_metrics},
        {"PUT", "/drives/{id}", "drive", &ApiHandlers::put_drive},
        {"PATCH", "/drives/{id}", "drive", &ApiHandlers::patch_drive},
        {"PUT", "/network-interfaces/{id}", "network", &ApiHandlers::put_network_interface},
        {"PATCH", "/network-interfaces/{id}", "network", &ApiHandlers::patch_network_interface},
        {"PUT", "/vsock", "vsock", &ApiHandlers::put_vsock},
        {"PUT", "/snapshot/create", "snapshot_create", &ApiHandlers::put_snapshot_create},
        {"PUT", "/snapshot/load", "snapshot_load", &ApiHandlers::put_snapshot_load},
        // Cloud Hypervisor's live-migration endpoints (without its /api/v1 prefix, as every
        // path here).
        {"PUT", "/vm.send-migration", "migration", &ApiHandlers::put_send_migration},
        {"PUT", "/vm.receive-migration", "migration", &ApiHandlers::put_receive_migration},
        {"PUT", "/balloon", "balloon", &ApiHandlers::put_balloon},
        {"GET", "/balloon", "balloon", &ApiHandlers::get_balloon},
        {"PATCH", "/balloon", "balloon", &ApiHandlers::patch_balloon},
        {"GET", "/balloon/statistics", "balloon", &ApiHandlers::get_balloon_statistics},
        {"PATCH", "/balloon/statistics", "balloon", &ApiHandlers::patch_balloon_statistics},
        // Vessel's own endpoints.
        {"PUT", "/vessel/wake", "vessel_wake", &ApiHandlers::put_vessel_wake},
    };
    return table;
}

HttpResponse ApiHandlers::handle(const HttpRequest& request) {
    std::string_view resource = "unknown";
    auto result = dispatch(request, resource);
    m_metrics.count_request(request.method, resource, !result);
    if (result) {
        log::debug("API: {} {} -> {}", request.method, request.path, result->status);
        return *result;
    }
    log::warn("API: {} {} -> 400: {}", request.method, request.path, result.error().message);
    return HttpResponse::fault(400, result.error().message);
}

Result<HttpResponse> ApiHandlers::dispatch(const HttpRequest& request, std::string_view& resource) {
    for (const Route& route : routes()) {
        auto id = match_path(route.pattern, request.path);
        if (!id) continue;
        resource = route.resource; // a known path with another method still counts under it
        if (route.method == request.method) return (this->*route.handler)(request, *id);
    }
    for (const auto& unsupported : unsupported_resources) {
        if (request.path.starts_with(unsupported.path_prefix))
            return make_error("{} {}: {} is not supported by Vessel", request.method, request.path,
                              unsupported.feature);
    }
    return make_error("Invalid request method and/or path: {} {}", request.method, request.path);
}

// ---- route handlers: the body is checked first, then whether the VM state allows the change ----

Result<HttpResponse> ApiHandlers::get_instance_info(const HttpRequest&, std::string_view) {
    return json_response(instance_info());
}

Result<HttpResponse> ApiHandlers::get_version(const HttpRequest&, std::string_view) {
    return json_response({{"firecracker_version", vessel_version}});
}

Result<HttpResponse> ApiHandlers::get_vm_config(const HttpRequest&, std::string_view) {
    return json_response(full_config());
}

Result<HttpResponse> ApiHandlers::get_machine_config(const HttpRequest&, std::string_view) {
    return json_response(m_machine.to_json());
}

Result<HttpResponse> ApiHandlers::put_machine_config(const HttpRequest& request, std::string_view) {
    auto json = TRY(parse_json(request.body, "machine-config"));
    // PUT replaces the whole configuration, PATCH changes the fields it names.
    auto config = TRY(request.method == "PUT" ? MachineConfiguration::from_json(json)
                                              : m_machine.patched(json));
    TRY(require_not_started("machine-config"));
    m_machine = config;
    return HttpResponse::no_content();
}

Result<HttpResponse> ApiHandlers::put_vsock(const HttpRequest& request, std::string_view) {
    auto json = TRY(parse_json(request.body, "vsock"));
    auto vsock = TRY(parse_vsock(json));
    TRY(require_not_started("vsock"));
    m_vsock = std::move(vsock);
    return HttpResponse::no_content();
}

Result<HttpResponse> ApiHandlers::put_snapshot_create(const HttpRequest& request,
                                                      std::string_view) {
    auto json = TRY(parse_json(request.body, "snapshot/create"));
    const SnapshotCreateRequest create = TRY(parse_snapshot_create(json));
    if (create.diff)
        TRY(m_vm.create_diff_snapshot(create.snapshot_path, create.mem_file_path));
    else
        TRY(m_vm.create_snapshot(create.snapshot_path, create.mem_file_path));
    return HttpResponse::no_content();
}

Result<HttpResponse> ApiHandlers::put_snapshot_load(const HttpRequest& request, std::string_view) {
    auto json = TRY(parse_json(request.body, "snapshot/load"));
    const SnapshotLoadRequest load = TRY(parse_snapshot_load(json));
    TRY(m_vm.load_snapshot(load.snapshot_path, load.mem_file_path, load.resume_vm));
    adopt_restored_balloon();
    return HttpResponse::no_content();
}

Result<HttpResponse> ApiHandlers::put_send_migration(const HttpRequest& request, std::string_view) {
    auto json = TRY(parse_json(request.body, "vm.send-migration"));
    const std::string url = TRY(parse_send_migration(json));
    TRY(m_vm.send_migration(url));
    return HttpResponse::no_content();
}

Result<HttpResponse> ApiHandlers::put_receive_migration(const HttpRequest& request,
                                                        std::string_view) {
    auto json = TRY(parse_json(request.body, "vm.receive-migration"));
    const std::string url = TRY(parse_receive_migration(json));
    TRY(m_vm.receive_migration(url));
    adopt_restored_balloon();
    return HttpResponse::no_content();
}

Result<HttpResponse> ApiHandlers::put_balloon(const HttpRequest& request, std::string_view) {
    auto json = TRY(parse_json(request.body, "balloon"));
    auto balloon = TRY(parse_balloon(json, m_machine.mem_size_mib));
    TRY(require_not_started("balloon"));
    m_balloon = balloon;
    return HttpResponse::no_content();
}

void ApiHandlers::adopt_restored_balloon() {
    // The VM came with its balloon (a snapshot, a migration): GET /balloon describes it.
    if (auto balloon = m_vm.balloon_config())
        m_balloon = BalloonDeviceConfig{balloon->target_mib, balloon->deflate_on_oom,
                                        balloon->stats_interval_s, balloon->free_page_reporting};
}

Result<HttpResponse> ApiHandlers::get_balloon(const HttpRequest&, std::string_view) {
    if (!m_balloon) return make_error("balloon: No balloon device found.");
    return json_response(m_balloon->to_json());
}

Result<HttpResponse> ApiHandlers::patch_balloon(const HttpRequest& request, std::string_view) {
    auto json = TRY(parse_json(request.body, "balloon"));
    const std::uint32_t amount_mib = TRY(parse_balloon_update(json));
    TRY(m_vm.set_balloon_target(amount_mib));
    if (m_balloon) m_balloon->amount_mib = amount_mib;
    return HttpResponse::no_content();
}

Result<HttpResponse> ApiHandlers::get_balloon_statistics(const HttpRequest&, std::string_view) {
    return json_response(balloon_statistics_json(TRY(m_vm.balloon_status())));
}

Result<HttpResponse> ApiHandlers::patch_balloon_statistics(const HttpRequest& request,
                                                           std::string_view) {
    auto json = TRY(parse_json(request.body, "balloon/statistics"));
    const std::uint32_t interval = TRY(parse_balloon_stats_update(json));
    TRY(m_vm.set_balloon_stats_interval(interval));
    if (m_balloon) m_balloon->stats_polling_interval_s = interval;
    return HttpResponse::no_content();
}

Result<HttpResponse> ApiHandlers::put_boot_source(const HttpRequest& request, std::string_view) {
    auto json = TRY(parse_json(request.body, "boot-source"));
    auto source = TRY(BootSource::from_json(json));
    TRY(require_not_started("boot-source"));
    m_boot_source = std::move(source);
    return HttpResponse::no_content();
}

Result<HttpResponse> ApiHandlers::put_actions(const HttpRequest& request, std::string_view) {
    auto json = TRY(parse_json(request.body, "actions"));
    TRY(apply_action(json));
    return HttpResponse::no_content();
}

Result<HttpResponse> ApiHandlers::patch_vm(const HttpRequest& request, std::string_view) {
    auto json = TRY(parse_json(request.body, "vm"));
    TRY(apply_vm_state(json));
    return HttpResponse::no_content();
}

Result<HttpResponse> ApiHandlers::put_vessel_wake(const HttpRequest& request, std::string_view) {
    if (!request.body.empty()) {
        auto json = TRY(parse_json(request.body, "vessel/wake"));
        JsonFields fields = TRY(JsonFields::of(json, "vessel/wake"));
        TRY(fields.finish()); // no fields: an unknown one is an error, not ignored
    }
    TRY(m_vm.wake());
    return HttpResponse::no_content();
}

Result<HttpResponse> ApiHandlers::put_logger(const HttpRequest& request, std::string_view) {
    auto json = TRY(parse_json(request.body, "logger"));
    auto config = TRY(LoggerConfig::from_json(json));
    TRY(require_not_started("logger"));
    TRY(config.apply());
    m_logger = std::move(config);
    return HttpResponse::no_content();
}

Result<HttpResponse> ApiHandlers::put_metrics(const HttpRequest& request, std::string_view) {
    auto json = TRY(parse_json(request.body, "metrics"));
    TRY(apply_metrics(json));
    return HttpResponse::no_content();
}

Result<HttpResponse> ApiHandlers::put_drive(const HttpRequest& request, std::string_view id) {
    auto json = TRY(parse_json(request.body, "drives"));
    auto drive = TRY(parse_drive(id, json));
    TRY(require_not_started(fmt::format("drives/{}", id)));
    TRY(add_drive(std::move(drive)));
    return HttpResponse::no_content();
}

Result<HttpResponse> ApiHandlers::patch_drive(const HttpRequest& request, std::string_view id) {
    TRY(parse_json(request.body, "drives"));
    const bool known = std::any_of(m_drives.begin(), m_drives.end(),
                                   [&](const DriveConfig& d) { return d.drive_id == id; });
    if (!known) return make_error("drives/{}: no such drive", id);
    return make_error("drives/{}: updating a drive is not supported by Vessel", id);
}

Result<HttpResponse> ApiHandlers::put_network_interface(const HttpRequest& request,
                                                        std::string_view id) {
    auto json = TRY(parse_json(request.body, "network-interfaces"));
    auto network = TRY(parse_network_interface(id, json));
    TRY(require_not_started(fmt::format("network-interfaces/{}", id)));
    TRY(add_network_interface(std::move(network)));
    return HttpResponse::no_content();
}

Result<HttpResponse> ApiHandlers::patch_network_interface(const HttpRequest& request,
                                                          std::string_view id) {
    TRY(parse_json(request.body, "network-interfaces"));
    const bool known =
        std::any_of(m_networks.begin(), m_networks.end(),
                    [&](const NetworkInterfaceConfig& n) { return n.iface_id == id; });
    if (!known) return make_error("network-interfaces/{}: no such interface", id);
    return make_error("network-interfaces/{}: updating an interface (rate limiters) is "
                      "not supported by Vessel",
                      id);
}

Result<void> ApiHandlers::require_not_started(std::string_view what) const {
    if (m_vm.state() != VmState::NotStarted)
        return make_error("{}: the requested operation is not supported after starting the "
                          "microVM",
                          what);
    return {};
}

Result<void> ApiHandlers::apply_action(const nlohmann::json& body) {
    JsonFields fields = TRY(JsonFields::of(body, "actions"));
    std::string action = TRY(fields.string("action_type"));
    TRY(fields.finish());
    if (action == "InstanceStart") return start_instance();
    if (action == "SendCtrlAltDel") return m_vm.send_ctrl_alt_del();
    if (action == "FlushMetrics") return m_metrics.flush(m_vm);
    return make_error("actions: field 'action_type' has invalid value '{}' (FlushMetrics, "
                      "InstanceStart, SendCtrlAltDel)",
                      action);
}

Result<void> ApiHandlers::start_instance() {
    TRY(require_not_started("InstanceStart"));
    if (!m_boot_source)
        return make_error("InstanceStart: cannot start the microVM without a kernel "
                          "(PUT /boot-source first)");
    MachineConfig config;
    config.kernel_path = m_boot_source->kernel_image_path;
    config.initrd_path = m_boot_source->initrd_path.value_or("");
    config.command_line = m_boot_source->guest_command_line();
    config.memory_size = m_machine.mem_size_mib << 20;
    config.cpu_count = m_machine.vcpu_count;
    config.engine = m_options.engine;
    // Firecracker's order: the root device first (vda), then the others as they were added;
    // the root device also names the kernel's root= (PARTUUID when given) and ro/rw.
    std::vector<const DriveConfig*> ordered;
    for (const auto& drive : m_drives)
        if (drive.is_root_device) ordered.push_back(&drive);
    for (const auto& drive : m_drives)
        if (!drive.is_root_device) ordered.push_back(&drive);
    for (const DriveConfig* drive : ordered) {
        // Firecracker's io_engine: Async is io_uring, Sync the synchronous back-end.
        const BlockEngine engine = drive->io_engine == "Async"  ? BlockEngine::io_uring
                                   : drive->io_engine == "Sync" ? BlockEngine::sync
                                                                : BlockEngine::automatic;
        // Firecracker's cache_type: Unsafe neither offers nor honours FLUSH. Without the field
        // Vessel keeps Writeback (Firecracker's default is Unsafe): data a guest flushed must be
        // on disk unless the user asked otherwise.
        const BlockCache cache =
            drive->cache_type == "Unsafe" ? BlockCache::unsafe : BlockCache::writeback;
        config.disks.push_back(
            {drive->path_on_host, drive->is_read_only, drive->drive_id, engine, cache});
        if (!drive->is_root_device) continue;
        const std::string root =
            drive->partuuid ? fmt::format("PARTUUID={}", *drive->partuuid) : "/dev/vda";
        // An empty command line would have become the console default: keep it.
        if (config.command_line.empty())
            config.command_line = std::string(linux_console_arguments(config.console));
        config.command_line += fmt::format(" root={} {}", root, drive->is_read_only ? "ro" : "rw");
        // Firecracker's rootfs flow (kernel + root drive, no initrd) on a kernel whose
        // virtio_blk is a module, as Debian's: Vessel's initramfs mounts the root.
        use_root_initramfs(config.initrd_path);
    }
    // Firecracker's interfaces are TAP devices; each gets its own MAC unless one is given
    // (52:54:00:12:34:56, then ...:57, as QEMU numbers its NICs).
    for (std::size_t i = 0; i < m_networks.size(); ++i)
        config.networks.push_back(
            TRY(tap_network(m_networks[i].host_dev_name, m_networks[i].guest_mac, i)));
    if (m_vsock) config.vsock = VsockConfig{m_vsock->guest_cid, m_vsock->uds_path};
    if (m_balloon) {
        if (m_balloon->amount_mib > m_machine.mem_size_mib)
            return make_error("InstanceStart: balloon: Amount of pages requested is too large. "
                              "(amount_mib {} is above mem_size_mib {})",
                              m_balloon->amount_mib, m_machine.mem_size_mib);
        config.balloon =
            BalloonConfig{m_balloon->amount_mib, m_balloon->deflate_on_oom,
                          m_balloon->stats_polling_interval_s, m_balloon->free_page_reporting};
    }
    config.page_sharing = m_machine.page_sharing;
    config.cpu_model = m_machine.cpu_model;
    return m_vm.start(config, m_machine.gdb_socket_path);
}

Result<void> ApiHandlers::add_network_interface(NetworkInterfaceConfig network) {
    const bool replaces =
        std::any_of(m_networks.begin(), m_networks.end(), [&](const NetworkInterfaceConfig& n) {
            return n.iface_id == network.iface_id;
        });
    if (!replaces)
        TRY(check_device_room(fmt::format("network-interfaces/{}", network.iface_id),
                              m_drives.size(), m_networks.size()));
    // Attach to the TAP interface now, as Firecracker does, so a missing interface or missing
    // permission fails this request rather than the boot; the VM attaches again at start.
    TRY_CONTEXT(check_tap_interface(network.host_dev_name),
                fmt::format("network-interfaces/{}", network.iface_id));
    for (auto& existing : m_networks) {
        if (existing.iface_id != network.iface_id &&
            existing.host_dev_name == network.host_dev_name)
            return make_error("network-interfaces/{}: TAP interface '{}' is already used by {}",
                              network.iface_id, network.host_dev_name, existing.iface_id);
    }
    for (auto& existing : m_networks) {
        if (existing.iface_id == network.iface_id) {
            existing = std::move(network);
            return {};
        }
    }
    m_networks.push_back(std::move(network));
    return {};
}

// The drives' images are locked only when the machine opens them, so two drives of this VM on
// one image are caught here, by file identity, with the rule of lock_image: any number of
// read-only users, or one read-write user alone.
Result<void> ApiHandlers::check_image_not_shared(const DriveConfig& drive) const {
    struct stat image {};
    if (stat(drive.path_on_host.c_str(), &image) != 0) return {};
    for (const auto& existing : m_drives) {
        struct stat other {};
        if (existing.drive_id == drive.drive_id || stat(existing.path_on_host.c_str(), &other) != 0)
            continue;
        if (other.st_dev != image.st_dev || other.st_ino != image.st_ino) continue;
        if (existing.is_read_only && drive.is_read_only) continue;
        return make_error("drives/{}: disk {}: the image is locked: another user holds it "
                          "(drive {} of this VM, {}); read-write use needs it alone",
                          drive.drive_id, drive.path_on_host, existing.drive_id,
                          existing.is_read_only ? "read-only" : "read-write");
    }
    return {};
}

Result<void> ApiHandlers::add_drive(DriveConfig drive) {
    const bool replaces = std::any_of(m_drives.begin(), m_drives.end(), [&](const DriveConfig& d) {
        return d.drive_id == drive.drive_id;
    });
    if (!replaces)
        TRY(check_device_room(fmt::format("drives/{}", drive.drive_id), m_drives.size(),
                              m_networks.size()));
    // Open the image now, as Firecracker does, so a bad path fails this request, not the boot.
    TRY_CONTEXT(check_disk_image(drive.path_on_host, drive.is_read_only),
                fmt::format("drives/{}", drive.drive_id));
    for (auto& existing : m_drives) {
        if (existing.drive_id != drive.drive_id && existing.is_root_device && drive.is_root_device)
            return make_error("drives/{}: a root block device already exists ({})", drive.drive_id,
                              existing.drive_id);
    }
    TRY(check_image_not_shared(drive));
    for (auto& existing : m_drives) {
        if (existing.drive_id == drive.drive_id) {
            existing = std::move(drive);
            return {};
        }
    }
    m_drives.push_back(std::move(drive));
    return {};
}

Result<void> ApiHandlers::apply_vm_state(const nlohmann::json& body) {
    JsonFields fields = TRY(JsonFields::of(body, "vm"));
    std::string state = TRY(fields.string("state"));
    TRY(fields.finish());
    if (state == "Paused") return m_vm.pause();
    if (state == "Resumed") return m_vm.resume();
    return make_error("vm: field 'state' has invalid value '{}' (Paused, Resumed)", state);
}

Result<void> ApiHandlers::apply_metrics(const nlohmann::json& body) {
    JsonFields fields = TRY(JsonFields::of(body, "metrics"));
    std::string path = TRY(fields.string("metrics_path"));
    TRY(fields.finish());
    TRY(require_not_started("metrics"));
    return m_metrics.open(path);
}

nlohmann::json ApiHandlers::instance_info() const {
    return {{"id", m_options.instance_id},
            {"state", vm_state_name(m_vm.state())},
            {"vmm_version", vessel_version},
            {"app_name", "Vessel"}};
}

nlohmann::json ApiHandlers::full_config() const {
    nlohmann::json drives = nlohmann::json::array();
    for (const auto& drive : m_drives)
        drives.push_back(drive.to_json());
    nlohmann::json networks = nlohmann::json::array();
    for (const auto& network : m_networks)
        networks.push_back(network.to_json());
    nlohmann::json config = {{"machine-config", m_machine.to_json()},
                             {"drives", drives},
                             {"network-interfaces", networks}};
    config["boot-source"] = m_boot_source ? m_boot_source->to_json() : nlohmann::json();
    config["vsock"] = m_vsock ? m_vsock->to_json() : nlohmann::json();
    config["balloon"] = m_balloon ? m_balloon->to_json() : nlohmann::json();
    config["logger"] = m_logger ? m_logger->to_json() : nlohmann::json();
    auto metrics_path = m_metrics.path();
    config["metrics"] =
        metrics_path ? nlohmann::json{{"metrics_path", *metrics_path}} : nlohmann::json();
    return config;
}

Result<void> ApiHandlers::start_from_config_file(std::string_view text) {
    nlohmann::json config = TRY(parse_json(text, "config file"));
    JsonFields fields = TRY(JsonFields::of(config, "config file"));
    if (auto logger = TRY(fields.optional_object("logger"))) {
        m_logger = TRY(LoggerConfig::from_json(*logger));
        TRY(m_logger->apply());
    }
    if (auto metrics = TRY(fields.optional_object("metrics"))) TRY(apply_metrics(*metrics));
    if (auto machine = TRY(fields.optional_object("machine-config")))
        m_machine = TRY(MachineConfiguration::from_json(*machine));
    auto source = TRY(fields.optional_object("boot-source"));
    if (!source) return make_error("config file: missing required field 'boot-source'");
    m_boot_source = TRY(BootSource::from_json(*source));
    TRY(check_config_devices(fields));
    if (auto vsock = TRY(fields.optional_object("vsock"))) m_vsock = TRY(parse_vsock(*vsock));
    if (auto balloon = TRY(fields.optional_object("balloon")))
        m_balloon = TRY(parse_balloon(*balloon, m_machine.mem_size_mib));
    // Firecracker config files may list absent features as null or []; anything else is
    // a feature Vessel would silently lack, so it is refused.
    for (std::string_view feature :
         {"mmds-config", "entropy", "cpu-config", "pmem", "memory-hotplug", "serial"}) {
        const nlohmann::json* value = fields.raw(feature);
        if (value && !(value->is_array() && value->empty()))
            return make_error("config file: '{}' is not supported by Vessel", feature);
    }
    TRY(fields.finish());
    return start_instance();
}

Result<void> ApiHandlers::check_config_devices(JsonFields& fields) {
    for (std::string_view list : {"drives", "network-interfaces"}) {
        const nlohmann::json* items = fields.raw(list);
        if (!items) continue;
        if (!items->is_array())
            return make_error("config file: field '{}' must be an array, got {}", list,
                              json_type_name(*items));
        bool drives = list == "drives";
        std::string id_field = drives ? "drive_id" : "iface_id";
        for (const auto& item : *items) {
            std::string id;
            if (item.is_object() && item.contains(id_field) && item[id_field].is_string())
                id = item[id_field].get<std::string>();
            if (drives) {
                auto drive = TRY(parse_drive(id, item));
                TRY(add_drive(std::move(drive)));
            } else {
                auto network = TRY(parse_network_interface(id, item));
                TRY(add_network_interface(std::move(network)));
            }
        }
    }
    return {};
}

} // namespace vessel::api
