// FwCfg: QEMU's firmware configuration device, legacy I/O interface (selector 0x510, data 0x511).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/state_archive.hpp"
#include "devices/bus_device.hpp"

namespace vessel {

/// Items keyed by 16-bit selector; reads of the data port walk the selected item byte by byte
/// and return 0 past its end (QEMU docs/specs/fw_cfg.rst).
class FwCfg final : public BusDevice {
  public:
    static constexpr std::uint16_t base_port = 0x510;
    static constexpr std::uint64_t window_size = 2;
    // Selector keys (QEMU include/standard-headers/linux/qemu_fw_cfg.h).
    static constexpr std::uint16_t key_signature = 0x00;
    static constexpr std::uint16_t key_id = 0x01;
    static constexpr std::uint16_t key_ram_size = 0x03;
    static constexpr std::uint16_t key_cpu_count = 0x05;
    static constexpr std::uint16_t key_max_cpus = 0x0f;
    static constexpr std::uint16_t key_file_directory = 0x19;

    /// A device with the signature, ID (traditional interface only), RAM size and CPU counts.
    FwCfg(std::uint64_t ram_size, std::uint16_t cpu_count);

    std::string_view name() const override { return "fw_cfg"; }
    void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

    /// Adds or replaces an item.
    void set_item(std::uint16_t key, std::vector<std::uint8_t> value);

    /// Snapshot state (docs/SNAPSHOT_FORMAT.md): saved while the VM is paused, loaded before
    /// it runs. The IRQ line is not driven on load: the interrupt controllers' saved state
    /// already holds its level.
    void save_state(StateWriter& writer);
    void load_state(StateReader& reader);

  private:
    std::mutex m_mutex;
    std::map<std::uint16_t, std::vector<std::uint8_t>> m_items;
    std::uint16_t m_selector{0};
    std::size_t m_position{0};
};

} // namespace vessel
