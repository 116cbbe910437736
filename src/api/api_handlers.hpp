// ApiHandlers: routes API requests to resources and lifecycle actions (Firecracker's paths).
#pragma once

#include <optional>
#include <string>
#include <vector>

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
    Result<HttpResponse> dispatch(const HttpRequest& request, std::string& resource);
    Result<void> put_actions(const nlohmann::json& body);
    Result<void> patch_vm(const nlohmann::json& body);
    Result<void> put_metrics(const nlohmann::json& body);
    /// Adds or replaces a drive (by id); at most one root device (Firecracker's rule).
    Result<void> put_drive(DriveConfig drive);
    /// Refuses a second drive on the image of another drive unless both are read-only.
    Result<void> check_image_not_shared(const DriveConfig& drive) const;
    Result<void> put_network_interface(NetworkInterfaceConfig network);
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
};

} // namespace vessel::api
