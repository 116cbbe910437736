// ApiHandlers: routes API requests to resources and lifecycle actions (Firecracker's paths).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/balloon_config.hpp"
#include "api/boot_source.hpp"
#include "api/device_config.hpp"
#include "api/http_request.hpp"
#include "api/http_response.hpp"
#include "api/json_fields.hpp"
#include "api/logger_config.hpp"
#include "api/machine_configuration.hpp"
#include "api/metrics.hpp"
#include "api/vm_controller.hpp"
#include "api/vsock_config.hpp"
#include "base/version.hpp"
#include "vm/machine_config.hpp"

namespace vessel::api {

/// The pre-boot resources and the request handlers. Handlers never run concurrently (the
/// server handles one request at a time) and every failure is a 400 with a fault message
/// naming the resource and field, as Firecracker answers. Configuration options Vessel cannot
/// honour are refused by name, never silently ignored.
class ApiHandlers {
  public:
    struct Options {
        std::string instance_id{"anonymous-instance"};
        EngineChoice engine{EngineChoice::Auto};
    };

    ApiHandlers(Options options, VmController& vm, Metrics& metrics)
        : m_options(std::move(options)), m_vm(vm), m_metrics(metrics) {}

    HttpResponse handle(const HttpRequest& request);

    /// Applies a Firecracker config file (the JSON of GET /vm/config) and starts the VM.
    Result<void> start_from_config_file(std::string_view text);
    /// The InstanceStart action.
    Result<void> start_instance();

  private:
    /// A route handler gets the request and the path's {id} (empty for literal paths).
    using Handler = Result<HttpResponse> (ApiHandlers::*)(const HttpRequest&, std::string_view);
    /// One endpoint: method and path pattern (literal, or ending in "{id}") to its handler.
    struct Route {
        std::string_view method;
        std::string_view pattern;
        std::string_view resource; ///< the name the metrics count requests under
        Handler handler;
    };
    static std::span<const Route> routes();

    /// Runs the handler of the route matching method and path; `resource` becomes the route's
    /// name once the path matches one.
    Result<HttpResponse> dispatch(const HttpRequest& request, std::string_view& resource);
    Result<HttpResponse> get_instance_info(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> get_version(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> get_vm_config(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> get_machine_config(const HttpRequest& request, std::string_view id);
    /// PUT and PATCH /machine-config.
    Result<HttpResponse> put_machine_config(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> put_boot_source(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> put_actions(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> patch_vm(const HttpRequest& request, std::string_view id);
    /// Vessel extension: wakes a guest suspended to RAM (ACPI S3). Body empty or {}.
    Result<HttpResponse> put_vessel_wake(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> put_logger(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> put_metrics(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> put_vsock(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> put_snapshot_create(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> put_snapshot_load(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> put_send_migration(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> put_receive_migration(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> put_balloon(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> get_balloon(const HttpRequest& request, std::string_view id);
    /// After a snapshot load or a received migration: the VM's balloon becomes m_balloon.
    void adopt_restored_balloon();
    Result<HttpResponse> patch_balloon(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> get_balloon_statistics(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> patch_balloon_statistics(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> put_drive(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> patch_drive(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> put_network_interface(const HttpRequest& request, std::string_view id);
    Result<HttpResponse> patch_network_interface(const HttpRequest& request, std::string_view id);

    Result<void> apply_action(const nlohmann::json& body);
    Result<void> apply_vm_state(const nlohmann::json& body);
    Result<void> apply_metrics(const nlohmann::json& body);
    /// Adds or replaces a drive (by id); at most one root device (Firecracker's rule).
    Result<void> add_drive(DriveConfig drive);
    /// Refuses a second drive on the image of another drive unless both are read-only.
    Result<void> check_image_not_shared(const DriveConfig& drive) const;
    Result<void> add_network_interface(NetworkInterfaceConfig network);
    Result<void> check_config_devices(JsonFields& fields);
    Result<void> require_not_started(std::string_view what) const;
    nlohmann::json instance_info() const;
    nlohmann::json full_config() const;

    Options m_options;
    VmController& m_vm;
    Metrics& m_metrics;
    std::optional<BootSource> m_boot_source;
    MachineConfiguration m_machine;
    std::optional<LoggerConfig> m_logger;
    std::vector<DriveConfig> m_drives; ///< in attach order; the root device goes first at start
    std::vector<NetworkInterfaceConfig> m_networks; ///< in attach order (PCI slot order)
    std::optional<VsockDeviceConfig> m_vsock;
    std::optional<BalloonDeviceConfig> m_balloon; ///< amount_mib follows PATCH /balloon
};

} // namespace vessel::api
