// CmosRtc: the MC146818 real-time clock and CMOS memory at ports 0x70/0x71, showing host time.
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>

#include "base/state_archive.hpp"
#include "devices/bus_device.hpp"

namespace vessel {

/// Time registers read the host's UTC clock (plus whatever offset the guest set); the rest of
/// the 128 bytes is plain CMOS memory, pre-filled with the memory sizes BIOSes report.
class CmosRtc final : public BusDevice {
  public:
    using Clock = std::function<std::time_t()>;
    static constexpr std::uint16_t base_port = 0x70;
    static constexpr std::uint64_t window_size = 2;

    /// memory_size: guest RAM in bytes, reported in the conventional CMOS size fields.
    explicit CmosRtc(
        std::uint64_t memory_size, Clock clock = [] { return std::time(nullptr); });

    std::string_view name() const override { return "cmos rtc"; }
    void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

    /// Snapshot state (docs/SNAPSHOT_FORMAT.md): saved while the VM is paused, loaded before
    /// it runs. The IRQ line is not driven on load: the interrupt controllers' saved state
    /// already holds its level.
    void save_state(StateWriter& writer);
    void load_state(StateReader& reader);

  private:
    std::uint8_t read_register(std::uint8_t index);
    void write_register(std::uint8_t index, std::uint8_t value);
    std::uint8_t encode(int value) const;
    int decode(std::uint8_t value) const;

    std::mutex m_mutex;
    Clock m_clock;
    std::array<std::uint8_t, 128> m_memory{};
    std::uint8_t m_index{0};
    std::time_t m_offset{0}; ///< guest-set time minus host time
};

} // namespace vessel
