// VirtioConsole: the virtio console device (virtio 1.2 §5.3) with one port, Linux's hvc0.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <span>

#include "devices/virtio/virtio_device.hpp"

namespace vessel::virtio {

/// A single console port (no VIRTIO_CONSOLE_F_MULTIPORT): receiveq0 carries host input to the
/// guest, transmitq0 guest output to the host. Input arriving before the driver has posted
/// receive buffers waits in a bounded host-side buffer.
class VirtioConsole final : public VirtioDevice {
  public:
    using Output = std::function<void(std::span<const std::uint8_t>)>;

    static constexpr std::uint16_t type = 3;           ///< §5.3.1
    static constexpr std::uint16_t receive_queue = 0;  ///< §5.3.2 receiveq(port0)
    static constexpr std::uint16_t transmit_queue = 1; ///< §5.3.2 transmitq(port0)
    static constexpr std::uint16_t queue_size = 256;
    /// struct virtio_console_config (§5.3.4): le16 cols, le16 rows, le32 max_nr_ports,
    /// le32 emerg_wr.
    static constexpr std::uint32_t config_bytes = 12;
    /// Host input held while the guest has no receive buffer posted (then the caller retries).
    static constexpr std::size_t max_pending_input = 4096;

    /// output receives every byte the guest transmits (called on vCPU threads, serialized).
    explicit VirtioConsole(Output output) : m_output(std::move(output)) {}

    std::string_view name() const override { return "virtio-console"; }
    std::uint16_t device_type() const override { return type; }
    std::uint32_t pci_class_code() const override { return 0x07'80'00; } // other communication
    std::uint64_t features() const override { return 0; }
    std::uint16_t queue_count() const override { return 2; }
    std::uint16_t queue_max_size(std::uint16_t) const override { return queue_size; }
    std::uint32_t config_size() const override { return config_bytes; }
    void read_config(std::uint32_t offset, std::span<std::uint8_t> data) override;
    void write_config(std::uint32_t, std::span<const std::uint8_t>) override {}
    Result<void> activate(const VirtioActivation& activation) override;
    void queue_notify(std::uint16_t index) override;
    void reset() override;

    /// Host side: bytes typed on the console; returns how many were accepted (any thread).
    std::size_t enqueue_input(std::span<const std::uint8_t> bytes);

  private:
    /// Moves pending input into posted receive buffers; m_mutex held.
    void deliver_input_locked();
    /// Passes every posted transmit buffer to the output; m_mutex held.
    void drain_output_locked();

    Output m_output;
    std::mutex m_mutex;
    std::optional<VirtioActivation> m_activation;
    std::deque<std::uint8_t> m_pending_input;
};

} // namespace vessel::virtio
