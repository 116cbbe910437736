// VirtioRng: the virtio entropy device (virtio 1.2 §5.4), fed by the host's getrandom(2).
#pragma once

#include <mutex>
#include <optional>

#include "devices/virtio/virtio_device.hpp"

namespace vessel::virtio {

/// One request queue; every device-writable buffer the driver posts is filled with random
/// bytes. No features, no configuration space.
class VirtioRng final : public VirtioDevice {
  public:
    static constexpr std::uint16_t type = 4; ///< §5.4.1
    static constexpr std::uint16_t queue_size = 256;

    std::string_view name() const override { return "virtio-rng"; }
    std::uint16_t device_type() const override { return type; }
    std::uint64_t features() const override { return 0; }
    std::uint16_t queue_count() const override { return 1; }
    std::uint16_t queue_max_size(std::uint16_t) const override { return queue_size; }
    std::uint32_t config_size() const override { return 0; }
    void read_config(std::uint32_t, std::span<std::uint8_t> data) override;
    void write_config(std::uint32_t, std::span<const std::uint8_t>) override {}
    Result<void> activate(const VirtioActivation& activation) override;
    void queue_notify(std::uint16_t index) override;
    void reset() override;

  private:
    std::optional<VirtioActivation> m_activation;
};

} // namespace vessel::virtio
