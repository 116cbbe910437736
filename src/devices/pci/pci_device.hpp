// PciDevice: a PCI function's type 0 configuration space, memory BARs and capability list.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>

#include "base/state_archive.hpp"
#include "devices/bus_device.hpp"
#include "devices/interrupt_sink.hpp"

namespace vessel::pci {

/// Type 0 configuration header offsets and bits (PCI Local Bus 3.0 §6.1, §6.2).
namespace config {
constexpr std::uint32_t space_size = 256;
constexpr std::uint32_t vendor_id = 0x00;
constexpr std::uint32_t device_id = 0x02;
constexpr std::uint32_t command = 0x04;
constexpr std::uint32_t status = 0x06;
constexpr std::uint32_t revision = 0x08; ///< revision, then class code (prog-if, sub, base)
constexpr std::uint32_t header_type = 0x0e;
constexpr std::uint32_t bar0 = 0x10;
constexpr std::uint32_t bar_count = 6;
constexpr std::uint32_t subsystem_vendor_id = 0x2c;
constexpr std::uint32_t subsystem_id = 0x2e;
constexpr std::uint32_t capabilities_pointer = 0x34;
constexpr std::uint32_t interrupt_line = 0x3c;
constexpr std::uint32_t interrupt_pin = 0x3d;
constexpr std::uint32_t first_capability = 0x40; ///< capabilities live after the header

constexpr std::uint16_t command_io_space = 1u << 0;           ///< §6.2.2
constexpr std::uint16_t command_memory_space = 1u << 1;       ///< §6.2.2
constexpr std::uint16_t command_bus_master = 1u << 2;         ///< §6.2.2
constexpr std::uint16_t command_interrupt_disable = 1u << 10; ///< §6.2.2
constexpr std::uint16_t status_interrupt = 1u << 3;           ///< §6.2.3 INTx asserted
constexpr std::uint16_t status_capabilities_list = 1u << 4;   ///< §6.2.3
constexpr std::uint8_t interrupt_pin_a = 1;                   ///< §6.2.4
} // namespace config

/// What identifies a function in its configuration header.
struct PciIdentity {
    std::uint16_t vendor_id;
    std::uint16_t device_id;
    std::uint32_t class_code; ///< base class << 16 | subclass << 8 | programming interface
    std::uint8_t revision{0};
    std::uint16_t subsystem_vendor_id{0};
    std::uint16_t subsystem_id{0};
};

/// One single-function PCI device. The PciBus serializes configuration accesses; BAR accesses
/// come from any vCPU thread through bar_window() and the device locks its own state.
/// BARs are 32-bit, non-prefetchable memory BARs of a power-of-two size (§6.2.5.1).
class PciDevice {
  public:
    explicit PciDevice(const PciIdentity& identity);
    virtual ~PciDevice() = default;
    PciDevice(const PciDevice&) = delete;
    PciDevice& operator=(const PciDevice&) = delete;

    virtual std::string_view name() const = 0;

    /// Configuration read/write of size 1, 2 or 4 at a naturally aligned offset below 256.
    std::uint32_t config_read(std::uint32_t offset, unsigned size);
    void config_write(std::uint32_t offset, unsigned size, std::uint32_t value);

    /// Size of BAR index (0 when unimplemented) and the address the guest programmed.
    std::uint64_t bar_size(std::uint32_t index) const { return m_bar_sizes.at(index); }
    std::uint64_t bar_address(std::uint32_t index) const;
    /// Firmware-style initial placement (before the guest runs).
    void set_bar_address(std::uint32_t index, std::uint64_t address);
    bool memory_decoding() const { return (command() & config::command_memory_space) != 0; }
    std::uint16_t command() const { return m_command.load(std::memory_order_relaxed); }

    /// The window to register on the MMIO bus for BAR index; offsets are BAR-relative.
    BusDevice& bar_window(std::uint32_t index);

    /// Legacy INTx line of pin A (the PciBus picks the GSI); also written to Interrupt Line.
    void connect_intx(IrqLine line);

    /// Told by the PciBus whenever BAR index starts decoding at address, moves, or stops
    /// decoding (nullopt), with the bus's configuration lock held.
    virtual void bar_mapped(std::uint32_t index, std::optional<std::uint64_t> address);

    /// Snapshot state: the configuration space (BARs, command, capabilities as the guest left
    /// them) and the INTx level. Read-only bytes must match this device's (a snapshot of
    /// another machine is refused). The bus remaps BARs afterwards (PciBus::remap_all).
    void save_config_state(StateWriter& writer);
    void load_config_state(StateReader& reader);

  protected:
    /// Declares BAR index as a 32-bit memory BAR of size bytes (a power of two, >= 16).
    void add_memory_bar(std::uint32_t index, std::uint32_t size);
    /// Appends a capability (id, next, body) and links it; returns its offset. The guest may
    /// write the bits set in writable_mask (same layout as body).
    std::uint8_t add_capability(std::uint8_t id, std::span<const std::uint8_t> body,
                                std::span<const std::uint8_t> writable_mask = {});
    /// Enables pin A (interrupt pin register = INTA#).
    void use_interrupt_pin_a() { m_config[config::interrupt_pin] = config::interrupt_pin_a; }

    /// Drives INTx; ignored while the guest set Interrupt Disable. Status shows the level.
    void set_intx_level(bool level);

    /// A BAR access of the guest, BAR-relative. Default: reads all ones, drops writes.
    virtual void bar_read(std::uint32_t index, std::uint64_t offset, std::span<std::uint8_t> data);
    virtual void bar_write(std::uint32_t index, std::uint64_t offset,
                           std::span<const std::uint8_t> data);
    /// Called after the guest wrote [offset, offset+size) of configuration space.
    virtual void config_written(std::uint32_t offset, unsigned size);
    /// Called before the guest reads [offset, offset+size): a device may refresh those bytes.
    virtual void config_reading(std::uint32_t offset, unsigned size);

    std::uint16_t read16(std::uint32_t offset) const;
    void write16(std::uint32_t offset, std::uint16_t value);
    std::uint32_t read32(std::uint32_t offset) const;
    void write32(std::uint32_t offset, std::uint32_t value);

  private:
    class BarWindow;
    void drive_intx_locked();

    std::array<std::uint8_t, config::space_size> m_config{};
    std::array<std::uint8_t, config::space_size> m_writable{}; ///< bits the guest may change
    std::array<std::uint64_t, config::bar_count> m_bar_sizes{};
    std::array<std::unique_ptr<BusDevice>, config::bar_count> m_bar_windows;
    std::uint32_t m_next_capability{config::first_capability};
    std::uint8_t m_last_capability{0};
    IrqLine m_intx;
    mutable std::mutex m_intx_mutex;
    bool m_intx_level{false};                ///< the device's wish, under m_intx_mutex
    bool m_intx_driven{false};               ///< what the line shows, under m_intx_mutex
    std::atomic<std::uint16_t> m_command{0}; ///< copy of Command for any-thread readers
};

} // namespace vessel::pci
