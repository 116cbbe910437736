// VirtioPciDevice: the virtio 1.2 modern PCI transport (§4.1) around any VirtioDevice.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "base/state_archive.hpp"
#include "devices/doorbell.hpp"
#include "devices/pci/msix_table.hpp"
#include "devices/pci/pci_device.hpp"
#include "devices/virtio/virtio_device.hpp"
#include "devices/virtio/virtqueue.hpp"

namespace vessel::virtio {

/// BAR 0 layout of Vessel's virtio PCI functions (a 32 KiB memory BAR): the four virtio
/// structures the vendor capabilities point at, then the MSI-X table and PBA (§4.1.4).
namespace pci_layout {
constexpr std::uint32_t bar = 0;
constexpr std::uint32_t bar_size = 0x8000;
constexpr std::uint32_t common_offset = 0x0000;
constexpr std::uint32_t common_size = 0x40;
constexpr std::uint32_t isr_offset = 0x1000;
constexpr std::uint32_t isr_size = 4;
constexpr std::uint32_t device_offset = 0x2000;
constexpr std::uint32_t device_size = 0x1000;
constexpr std::uint32_t notify_offset = 0x3000;
constexpr std::uint32_t notify_multiplier = 4; ///< queue n notifies at notify_offset + 4 n
constexpr std::uint32_t msix_table_offset = 0x4000;
constexpr std::uint32_t msix_pba_offset = 0x6000;
constexpr std::uint16_t max_queues = 1024; ///< fits notify region and MSI-X table
} // namespace pci_layout

/// One virtio PCI function: vendor 0x1af4, device 0x1040 + type, revision 1 (§4.1.2).
/// Handles the status state machine, feature negotiation (VERSION_1 required), reset, queue
/// setup, notifications and interrupts (MSI-X per queue/config, or INTx with the ISR).
///
/// Threads: configuration accesses (under the PciBus lock) and BAR accesses come from vCPU
/// threads; queue notifies also from the engine's I/O thread when a DoorbellSink took the
/// notify addresses; completions from device back-end threads. m_mutex serializes everything
/// that reaches the VirtioDevice; lock order: PciBus, m_doorbell_mutex, (the engine's I/O
/// thread dispatch), m_mutex, queue and MSI-X locks.
class VirtioPciDevice final : public pci::PciDevice, private VirtioInterrupt {
  public:
    static constexpr std::uint16_t vendor_id = 0x1af4; ///< §4.1.2
    static constexpr std::uint16_t device_id_base = 0x1040;
    static constexpr std::uint16_t no_vector = 0xffff; ///< VIRTIO_MSI_NO_VECTOR (§4.1.5.1.2)
    /// Drivers write the 16-bit queue index to notify (§4.1.5.2); other widths still arrive
    /// as BAR writes.
    static constexpr unsigned notify_width = 2;

    /// doorbells may be null (every notify is then a BAR write).
    VirtioPciDevice(VirtioDevice& device, GuestMemory& memory, MsiSink* msi,
                    DoorbellSink* doorbells = nullptr);
    ~VirtioPciDevice() override;

    std::string_view name() const override { return m_device.name(); }
    /// Current device status (for tests and logs).
    std::uint8_t device_status() const { return m_status.load(); }
    /// Registers the queue notify addresses as doorbells where BAR 0 decodes now.
    void bar_mapped(std::uint32_t index, std::optional<std::uint64_t> address) override;

    /// Snapshot state: configuration space, MSI-X table, transport registers, queues and the
    /// device's own state. Loading an activated device activates it again (its back-end
    /// resumes) and puts the rings back where they were. The device must be quiesced first.
    void save_state(StateWriter& writer);
    void load_state(StateReader& reader);

  protected:
    void bar_read(std::uint32_t index, std::uint64_t offset, std::span<std::uint8_t> data) override;
    void bar_write(std::uint32_t index, std::uint64_t offset,
                   std::span<const std::uint8_t> data) override;
    void config_written(std::uint32_t offset, unsigned size) override;
    void config_reading(std::uint32_t offset, unsigned size) override;

  private:
    void signal_used(std::uint16_t queue) override;
    void signal_config() override;
    void add_capabilities();
    /// The driver notified queue (a BAR write or a doorbell ring).
    void notify_queue(std::uint16_t queue);

    std::uint64_t common_read(std::uint64_t offset, unsigned size);
    void common_write(std::uint64_t offset, unsigned size, std::uint32_t value);
    void write_status(std::uint8_t value);
    void reset_locked();
    void activate_locked();
    std::uint8_t read_isr();
    void raise(std::uint16_t vector, std::uint8_t isr_bit);
    /// The device broke a rule of the spec's error state (bad ring): DEVICE_NEEDS_RESET.
    void enter_needs_reset(const std::string& problem);
    Virtqueue* selected_queue() const;
    /// The BAR window VIRTIO_PCI_CAP_PCI_CFG's bar/offset/length select, if valid (§4.1.4.9).
    bool pci_cfg_window(std::uint64_t& offset, unsigned& length) const;

    VirtioDevice& m_device;
    GuestMemory& m_memory;
    pci::MsixTable m_msix;
    std::uint8_t m_msix_capability{0};
    std::uint8_t m_pci_cfg_capability{0}; ///< VIRTIO_PCI_CAP_PCI_CFG: BAR access via config
    std::vector<std::unique_ptr<Virtqueue>> m_queues;
    std::vector<std::atomic<std::uint16_t>> m_queue_vectors;

    std::mutex m_mutex; ///< driver-side register state below, and calls into m_device
    std::uint32_t m_device_feature_select{0};
    std::uint32_t m_driver_feature_select{0};
    std::uint64_t m_driver_features{0};
    std::uint16_t m_queue_select{0};
    std::uint8_t m_config_generation{0};
    bool m_activated{false};
    std::atomic<std::uint8_t> m_status{0};
    std::atomic<std::uint16_t> m_config_vector{no_vector};

    std::mutex m_isr_mutex;
    std::uint8_t m_isr{0};

    DoorbellSink* m_doorbell_sink;
    std::mutex m_doorbell_mutex; ///< m_doorbells (BAR moves against the destructor)
    std::vector<std::unique_ptr<Doorbell>> m_doorbells; ///< one per queue while BAR 0 decodes
};

} // namespace vessel::virtio
