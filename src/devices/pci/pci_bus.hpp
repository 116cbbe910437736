// PciBus: PCI bus 0 behind configuration mechanism #1 (ports 0xcf8/0xcfc), BAR mapping, INTx.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>

#include "base/result.hpp"
#include "base/state_archive.hpp"
#include "devices/bus.hpp"
#include "devices/interrupt_sink.hpp"
#include "devices/pci/pci_device.hpp"

namespace vessel::pci {

/// Bus 0 with up to 32 single-function devices. Configuration accesses go through the
/// CONFIG_ADDRESS / CONFIG_DATA ports (PCI Local Bus 3.0 §3.2.2.3.2); BARs are placed like
/// firmware would in the 32-bit MMIO window and put on the MMIO bus while the guest enables
/// memory decoding, following every move. Slot s's INTA# reaches GSI 16 + s % 8 (the DSDT's
/// _PRT says the same, see intx_gsi()).
class PciBus {
  public:
    static constexpr std::uint16_t config_address_port = 0xcf8; ///< §3.2.2.3.2, 32-bit only
    static constexpr std::uint16_t config_data_port = 0xcfc;    ///< §3.2.2.3.2, 0xcfc-0xcff
    static constexpr std::uint32_t slot_count = 32;
    static constexpr std::uint64_t mmio_window_start = 0xc000'0000;
    static constexpr std::uint64_t mmio_window_end = 0xfe00'0000; ///< guest-signal page above
    static constexpr std::uint32_t first_intx_gsi = 16;           ///< IOAPIC pins 16-23 are PCI's
    static constexpr std::uint32_t intx_gsi_count = 8;

    /// GSI of slot's interrupt pin (0 = INTA#) after the usual swizzle.
    static constexpr std::uint32_t intx_gsi(std::uint32_t slot, std::uint32_t pin) {
        return first_intx_gsi + (slot + pin) % intx_gsi_count;
    }

    PciBus(Bus& mmio_bus, InterruptSink* interrupts);
    ~PciBus();

    /// Puts device in the next free slot, assigns its BARs, connects INTA#; returns the slot.
    /// device must outlive the bus.
    Result<std::uint32_t> add(PciDevice& device);

    /// Register on the port I/O bus at config_address_port (length 1: 0xcf9 stays the reset
    /// register) and config_data_port (length 4).
    BusDevice& address_port() { return m_address_port; }
    BusDevice& data_port() { return m_data_port; }

    /// A configuration access by bus/device/function/register; absent functions read ~0.
    std::uint32_t config_read(std::uint32_t bus, std::uint32_t slot, std::uint32_t function,
                              std::uint32_t offset, unsigned size);
    void config_write(std::uint32_t bus, std::uint32_t slot, std::uint32_t function,
                      std::uint32_t offset, unsigned size, std::uint32_t value);

    /// Snapshot state: the CONFIG_ADDRESS latch.
    void save_state(StateWriter& writer);
    void load_state(StateReader& reader);
    /// Maps every device's BARs as its restored configuration space says.
    void remap_all();

  private:
    class AddressPort final : public BusDevice {
      public:
        explicit AddressPort(PciBus& bus) : m_bus(bus) {}
        std::string_view name() const override { return "pci config address"; }
        void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
        void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

      private:
        PciBus& m_bus;
    };
    class DataPort final : public BusDevice {
      public:
        explicit DataPort(PciBus& bus) : m_bus(bus) {}
        std::string_view name() const override { return "pci config data"; }
        void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
        void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

      private:
        PciBus& m_bus;
    };
    struct Slot {
        PciDevice* device{nullptr};
        /// Where each BAR is on the MMIO bus now, if mapped.
        std::array<std::optional<std::uint64_t>, config::bar_count> mapped{};
        /// The bus window of each mapped BAR, kept so that the destructor never calls into a
        /// device (an owner may destroy its devices before the bus).
        std::array<BusDevice*, config::bar_count> windows{};
    };

    /// Brings the MMIO bus in line with slot's BARs and Memory Space bit. Caller holds m_mutex.
    void update_mappings(Slot& slot);

    Bus& m_mmio_bus;
    InterruptSink* m_interrupts;
    AddressPort m_address_port{*this};
    DataPort m_data_port{*this};
    std::mutex m_mutex;
    std::uint32_t m_config_address{0};
    std::array<Slot, slot_count> m_slots{};
    std::uint32_t m_used_slots{0};
    std::uint64_t m_next_bar_address{mmio_window_start};
};

} // namespace vessel::pci
