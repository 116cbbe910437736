// MsixTable: the MSI-X vector table and pending-bit array of a PCI function (PCI 3.0 §6.8.2).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "base/state_archive.hpp"
#include "devices/interrupt_sink.hpp"

namespace vessel::pci {

/// MSI-X capability layout and table entry format (PCI Local Bus 3.0 §6.8.2).
namespace msix {
constexpr std::uint8_t capability_id = 0x11;
constexpr std::uint16_t control_table_size_mask = 0x07ff; ///< N-1
constexpr std::uint16_t control_function_mask = 1u << 14;
constexpr std::uint16_t control_enable = 1u << 15;
constexpr std::uint32_t entry_size = 16; ///< address lo, address hi, data, vector control
constexpr std::uint32_t entry_vector_control = 12;
constexpr std::uint32_t vector_control_mask = 1u << 0;
constexpr std::uint16_t max_vectors = 2048;
} // namespace msix

/// Vectors start masked with address/data zero. signal() sends a vector's message when MSI-X is
/// enabled and neither the function nor the vector is masked, else sets its pending bit; an
/// unmask with the bit set sends it then (§6.8.2.9). Each deliverable vector keeps an MsiRoute
/// of the sink when it offers one (KVM irqfd), updated whenever the guest rewrites or (un)masks
/// the entry, so signal() is an eventfd write; otherwise signal_msi carries the message.
/// Thread-safe.
class MsixTable {
  public:
    MsixTable(std::uint16_t vector_count, MsiSink* sink);

    std::uint16_t vector_count() const { return static_cast<std::uint16_t>(m_entries.size()); }
    std::uint32_t table_bytes() const { return vector_count() * msix::entry_size; }
    std::uint32_t pba_bytes() const { return ((vector_count() + 63) / 64) * 8; }

    /// The Message Control bits the guest wrote (enable, function mask).
    void set_control(std::uint16_t control);
    bool enabled() const;

    /// Guest access to the table / PBA; offsets relative to their start. Accesses must be 4 or
    /// 8 bytes, naturally aligned (§6.8.2); others read as zero and are dropped.
    void table_read(std::uint64_t offset, std::span<std::uint8_t> data) const;
    void table_write(std::uint64_t offset, std::span<const std::uint8_t> data);
    void pba_read(std::uint64_t offset, std::span<std::uint8_t> data) const;

    /// Fires vector (ignored when out of range).
    void signal(std::uint16_t vector);
    /// Back to power-on state: all masked, no pending bits, disabled.
    void reset();

    /// Snapshot state (docs/SNAPSHOT_FORMAT.md): saved while the VM is paused, loaded before
    /// it runs. The IRQ line is not driven on load: the interrupt controllers' saved state
    /// already holds its level.
    void save_state(StateWriter& writer);
    void load_state(StateReader& reader);

  private:
    struct Entry {
        std::uint32_t address_low{0};
        std::uint32_t address_high{0};
        std::uint32_t data{0};
        std::uint32_t control{msix::vector_control_mask};
        bool pending{false};
        std::unique_ptr<MsiRoute> route; ///< created on first need, kept across reset
        bool routed{false};              ///< route carries (routed_address, routed_data)
        std::uint64_t routed_address{0};
        std::uint32_t routed_data{0};

        std::uint64_t address() const { return (std::uint64_t{address_high} << 32) | address_low; }
    };
    bool deliverable_locked(const Entry& entry) const;
    /// Brings entry's route in line with its message and deliverability.
    void update_route_locked(Entry& entry);
    void update_routes_locked();
    void send_locked(Entry& entry);
    /// Sends whatever became unmasked with its pending bit set.
    void flush_pending_locked();

    MsiSink* m_sink;
    mutable std::mutex m_mutex;
    std::vector<Entry> m_entries;
    bool m_enabled{false};
    bool m_function_masked{false};
};

} // namespace vessel::pci
