// VirtioPciDevice: capabilities, common configuration registers, status machine, interrupts.
#include "devices/virtio/virtio_pci_device.hpp"

#include <algorithm>

#include "base/log.hpp"

namespace vessel::virtio {

namespace {

/// virtio_pci_cap cfg_type values (virtio 1.2 §4.1.4).
constexpr std::uint8_t cap_common = 1;
constexpr std::uint8_t cap_notify = 2;
constexpr std::uint8_t cap_isr = 3;
constexpr std::uint8_t cap_device = 4;
constexpr std::uint8_t cap_pci_cfg = 5;
// struct virtio_pci_cfg_cap field offsets from the capability start (§4.1.4.9).
constexpr std::uint32_t pci_cfg_bar = 4;
constexpr std::uint32_t pci_cfg_offset = 8;
constexpr std::uint32_t pci_cfg_length = 12;
constexpr std::uint32_t pci_cfg_data = 16;
constexpr std::uint8_t capability_vendor = 0x09; ///< PCI vendor-specific capability ID
constexpr std::uint8_t isr_queue = 1;            ///< §4.1.4.5: bit 0 queue interrupt
constexpr std::uint8_t isr_config = 2;           ///< §4.1.4.5: bit 1 configuration change

/// Common configuration register offsets (§4.1.4.3, struct virtio_pci_common_cfg).
namespace common {
constexpr std::uint64_t device_feature_select = 0x00;
constexpr std::uint64_t device_feature = 0x04;
constexpr std::uint64_t driver_feature_select = 0x08;
constexpr std::uint64_t driver_feature = 0x0c;
constexpr std::uint64_t config_msix_vector = 0x10;
constexpr std::uint64_t num_queues = 0x12;
constexpr std::uint64_t device_status = 0x14;
constexpr std::uint64_t config_generation = 0x15;
constexpr std::uint64_t queue_select = 0x16;
constexpr std::uint64_t queue_size = 0x18;
constexpr std::uint64_t queue_msix_vector = 0x1a;
constexpr std::uint64_t queue_enable = 0x1c;
constexpr std::uint64_t queue_notify_off = 0x1e;
constexpr std::uint64_t queue_desc = 0x20;
constexpr std::uint64_t queue_driver = 0x28;
constexpr std::uint64_t queue_device = 0x30;
constexpr std::uint64_t queue_notify_data = 0x38;
constexpr std::uint64_t queue_reset = 0x3a;
} // namespace common

std::vector<std::uint8_t> vendor_capability(std::uint8_t type, std::uint32_t offset,
                                            std::uint32_t length, bool notify) {
    // Body after (id, next): cap_len, cfg_type, bar, id, padding[2], offset, length [, mult].
    std::vector<std::uint8_t> body{
        static_cast<std::uint8_t>(notify ? 20 : 16), type, pci_layout::bar, 0, 0, 0};
    auto put32 = [&](std::uint32_t value) {
        for (int i = 0; i < 4; ++i)
            body.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
    };
    put32(offset);
    put32(length);
    if (notify) put32(pci_layout::notify_multiplier);
    return body;
}

void put_field(std::span<std::uint8_t> snapshot, std::uint64_t offset, std::uint64_t value,
               unsigned size) {
    value_to_bytes(value, snapshot.subspan(offset, size));
}

} // namespace

VirtioPciDevice::VirtioPciDevice(VirtioDevice& device, GuestMemory& memory, MsiSink* msi,
                                 DoorbellSink* doorbells)
    : PciDevice(pci::PciIdentity{vendor_id,
                                 static_cast<std::uint16_t>(device_id_base + device.device_type()),
                                 device.pci_class_code(), 1, vendor_id, device.device_type()}),
      m_device(device), m_memory(memory),
      m_msix(static_cast<std::uint16_t>(
                 std::min<std::uint32_t>(device.queue_count(), pci_layout::max_queues) + 1),
             msi),
      m_queue_vectors(std::min<std::uint32_t>(device.queue_count(), pci_layout::max_queues)),
      m_doorbell_sink(doorbells) {
    for (std::uint16_t index = 0; index < m_queue_vectors.size(); ++index) {
        m_queues.push_back(std::make_unique<Virtqueue>(index, device.queue_max_size(index)));
        m_queue_vectors[index].store(no_vector);
    }
    add_memory_bar(pci_layout::bar, pci_layout::bar_size);
    use_interrupt_pin_a();
    add_capabilities();
}

VirtioPciDevice::~VirtioPciDevice() {
    {
        // First: no I/O thread may ring into this device once it starts to go away.
        std::lock_guard lock(m_doorbell_mutex);
        m_doorbells.clear();
    }
    std::lock_guard lock(m_mutex);
    if (m_activated) m_device.reset();
}

void VirtioPciDevice::bar_mapped(std::uint32_t index, std::optional<std::uint64_t> address) {
    if (index != pci_layout::bar || m_doorbell_sink == nullptr) return;
    std::lock_guard lock(m_doorbell_mutex);
    m_doorbells.clear(); // deassigns the old addresses (a ring already caught still runs)
    if (!address) return;
    for (std::uint16_t queue = 0; queue < m_queues.size(); ++queue) {
        const std::uint64_t doorbell_address =
            *address + pci_layout::notify_offset + pci_layout::notify_multiplier * queue;
        auto doorbell = m_doorbell_sink->add_doorbell(doorbell_address, notify_width,
                                                      [this, queue] { notify_queue(queue); });
        if (!doorbell) {
            // Overlapping BARs or a full KVM I/O bus: this and later queues exit as before.
            log::warn("{}: queue {} notify stays a BAR write: {}", m_device.name(), queue,
                      doorbell.error().message);
            return;
        }
        if (*doorbell == nullptr) return; // the engine has no doorbells
        m_doorbells.push_back(std::move(*doorbell));
    }
}

void VirtioPciDevice::notify_queue(std::uint16_t queue) {
    std::lock_guard lock(m_mutex);
    if (queue < m_queues.size() && m_activated && m_queues[queue]->enabled)
        m_device.queue_notify(queue);
}

void VirtioPciDevice::add_capabilities() {
    auto add_vendor = [this](std::uint8_t type, std::uint32_t offset, std::uint32_t length,
                             bool notify = false) {
        add_capability(capability_vendor, vendor_capability(type, offset, length, notify));
    };
    add_vendor(cap_common, pci_layout::common_offset, pci_layout::common_size);
    add_vendor(cap_isr, pci_layout::isr_offset, pci_layout::isr_size);
    // Linux rejects a zero-length structure; devices without configuration (rng) have none.
    if (m_device.config_size() != 0)
        add_vendor(cap_device, pci_layout::device_offset,
                   std::min(m_device.config_size(), pci_layout::device_size));
    add_vendor(cap_notify, pci_layout::notify_offset,
               pci_layout::notify_multiplier * std::max<std::uint32_t>(1, m_queues.size()), true);
    // VIRTIO_PCI_CAP_PCI_CFG (§4.1.4.9): the driver picks bar/offset/length, then reads or
    // writes pci_cfg_data to reach BAR 0 through configuration space.
    {
        auto body = vendor_capability(cap_pci_cfg, 0, 0, false);
        body[0] = 20;                  // cap_len: virtio_pci_cap + pci_cfg_data[4]
        body.insert(body.end(), 4, 0); // pci_cfg_data
        std::vector<std::uint8_t> writable(body.size(), 0);
        const std::size_t body_start = 2; // body offsets are capability offsets - 2
        writable[pci_cfg_bar - body_start] = 0xff;
        for (std::uint32_t i = 0; i < 4; ++i) {
            writable[pci_cfg_offset - body_start + i] = 0xff;
            writable[pci_cfg_length - body_start + i] = 0xff;
            writable[pci_cfg_data - body_start + i] = 0xff;
        }
        m_pci_cfg_capability = add_capability(capability_vendor, body, writable);
    }
    // MSI-X (PCI 3.0 §6.8.2.1): Message Control, Table Offset/BIR, PBA Offset/BIR.
    const auto control = static_cast<std::uint16_t>(m_msix.vector_count() - 1);
    const std::uint32_t table = pci_layout::msix_table_offset | pci_layout::bar;
    const std::uint32_t pba = pci_layout::msix_pba_offset | pci_layout::bar;
    const std::uint8_t body[10] = {
        static_cast<std::uint8_t>(control),     static_cast<std::uint8_t>(control >> 8),
        static_cast<std::uint8_t>(table),       static_cast<std::uint8_t>(table >> 8),
        static_cast<std::uint8_t>(table >> 16), static_cast<std::uint8_t>(table >> 24),
        static_cast<std::uint8_t>(pba),         static_cast<std::uint8_t>(pba >> 8),
        static_cast<std::uint8_t>(pba >> 16),   static_cast<std::uint8_t>(pba >> 24)};
    const std::uint8_t writable[10] = {0, 0xc0}; // enable and function mask
    m_msix_capability = add_capability(pci::msix::capability_id, body, writable);
}

void VirtioPciDevice::config_written(std::uint32_t offset, unsigned size) {
    const std::uint32_t control = m_msix_capability + 2u;
    if (offset <= control + 1 && offset + size > control) m_msix.set_control(read16(control));
    const std::uint32_t data = m_pci_cfg_capability + pci_cfg_data;
    std::uint64_t bar_offset = 0;
    unsigned length = 0;
    if (offset <= data + 3 && offset + size > data && pci_cfg_window(bar_offset, length)) {
        std::uint8_t bytes[4];
        value_to_bytes(read32(data), bytes);
        bar_write(pci_layout::bar, bar_offset, std::span(bytes, length));
    }
}

void VirtioPciDevice::config_reading(std::uint32_t offset, unsigned size) {
    const std::uint32_t data = m_pci_cfg_capability + pci_cfg_data;
    std::uint64_t bar_offset = 0;
    unsigned length = 0;
    if (offset <= data + 3 && offset + size > data && pci_cfg_window(bar_offset, length)) {
        std::uint8_t bytes[4] = {};
        bar_read(pci_layout::bar, bar_offset, std::span(bytes, length));
        write32(data, static_cast<std::uint32_t>(bytes_to_value(bytes)));
    }
}

bool VirtioPciDevice::pci_cfg_window(std::uint64_t& offset, unsigned& length) const {
    const std::uint32_t cap = m_pci_cfg_capability;
    length = read32(cap + pci_cfg_length);
    offset = read32(cap + pci_cfg_offset);
    // §4.1.4.9.1: length 1, 2 or 4, offset aligned to it, inside the BAR; else no access.
    return (read16(cap + pci_cfg_bar) & 0xff) == pci_layout::bar &&
           (length == 1 || length == 2 || length == 4) && offset % length == 0 &&
           offset + length <= pci_layout::bar_size;
}

// ---- BAR 0 ----

void VirtioPciDevice::bar_read(std::uint32_t, std::uint64_t offset, std::span<std::uint8_t> data) {
    using namespace pci_layout;
    std::fill(data.begin(), data.end(), 0);
    const auto size = static_cast<unsigned>(data.size());
    if (offset >= common_offset && offset + size <= common_offset + common_size) {
        value_to_bytes(common_read(offset - common_offset, size), data);
    } else if (offset >= isr_offset && offset < isr_offset + isr_size) {
        if (offset == isr_offset) data[0] = read_isr();
    } else if (offset >= device_offset && offset + size <= device_offset + device_size) {
        std::lock_guard lock(m_mutex);
        if (offset - device_offset + size <= m_device.config_size())
            m_device.read_config(static_cast<std::uint32_t>(offset - device_offset), data);
    } else if (offset >= msix_table_offset && offset < msix_table_offset + m_msix.table_bytes()) {
        m_msix.table_read(offset - msix_table_offset, data);
    } else if (offset >= msix_pba_offset && offset < msix_pba_offset + m_msix.pba_bytes()) {
        m_msix.pba_read(offset - msix_pba_offset, data);
    }
}

void VirtioPciDevice::bar_write(std::uint32_t, std::uint64_t offset,
                                std::span<const std::uint8_t> data) {
    using namespace pci_layout;
    const auto size = static_cast<unsigned>(data.size());
    if (offset >= common_offset && offset + size <= common_offset + common_size) {
        common_write(offset - common_offset, size,
                     static_cast<std::uint32_t>(bytes_to_value(data)));
        if (size == 8) // a 64-bit store to a queue address: its upper half too
            common_write(offset - common_offset + 4, 4,
                         static_cast<std::uint32_t>(bytes_to_value(data) >> 32));
    } else if (offset >= device_offset && offset + size <= device_offset + device_size) {
        std::lock_guard lock(m_mutex);
        if (offset - device_offset + size <= m_device.config_size())
            m_device.write_config(static_cast<std::uint32_t>(offset - device_offset), data);
    } else if (offset >= notify_offset &&
               offset < notify_offset + notify_multiplier * m_queues.size()) {
        notify_queue(static_cast<std::uint16_t>((offset - notify_offset) / notify_multiplier));
    } else if (offset >= msix_table_offset && offset < msix_table_offset + m_msix.table_bytes()) {
        m_msix.table_write(offset - msix_table_offset, data);
    }
}

// ---- common configuration ----

Virtqueue* VirtioPciDevice::selected_queue() const {
    return m_queue_select < m_queues.size() ? m_queues[m_queue_select].get() : nullptr;
}

std::uint64_t VirtioPciDevice::common_read(std::uint64_t offset, unsigned size) {
    std::lock_guard lock(m_mutex);
    std::array<std::uint8_t, pci_layout::common_size> snapshot{};
    const std::uint64_t offered =
        m_device.features() | feature::version_1 | feature::ring_indirect_desc;
    put_field(snapshot, common::device_feature_select, m_device_feature_select, 4);
    put_field(snapshot, common::device_feature,
              m_device_feature_select < 2 ? offered >> (32 * m_device_feature_select) : 0, 4);
    put_field(snapshot, common::driver_feature_select, m_driver_feature_select, 4);
    put_field(snapshot, common::driver_feature,
              m_driver_feature_select < 2 ? m_driver_features >> (32 * m_driver_feature_select) : 0,
              4);
    put_field(snapshot, common::config_msix_vector, m_config_vector.load(), 2);
    put_field(snapshot, common::num_queues, m_queues.size(), 2);
    put_field(snapshot, common::device_status, m_status.load(), 1);
    put_field(snapshot, common::config_generation, m_config_generation, 1);
    put_field(snapshot, common::queue_select, m_queue_select, 2);
    if (Virtqueue* queue = selected_queue()) {
        put_field(snapshot, common::queue_size, queue->size(), 2);
        put_field(snapshot, common::queue_msix_vector, m_queue_vectors[m_queue_select].load(), 2);
        put_field(snapshot, common::queue_enable, queue->enabled ? 1 : 0, 2);
        put_field(snapshot, common::queue_notify_off, m_queue_select, 2);
        put_field(snapshot, common::queue_desc, queue->descriptor_address, 8);
        put_field(snapshot, common::queue_driver, queue->driver_address, 8);
        put_field(snapshot, common::queue_device, queue->device_address, 8);
        put_field(snapshot, common::queue_notify_data, m_queue_select, 2);
    }
    return bytes_to_value(std::span(snapshot).subspan(offset, size));
}

void VirtioPciDevice::common_write(std::uint64_t offset, unsigned size, std::uint32_t value) {
    std::lock_guard lock(m_mutex);
    auto set_half = [&](std::uint64_t& field, std::uint64_t base) {
        if (m_activated || size < 4) return; // addresses are fixed once the device runs
        if (offset == base)
            field = (field & ~std::uint64_t{0xffff'ffff}) | value;
        else
            field = (field & 0xffff'ffff) | (std::uint64_t{value} << 32);
    };
    auto checked_vector = [&](std::uint32_t vector) -> std::uint16_t {
        return vector < m_msix.vector_count() ? static_cast<std::uint16_t>(vector) : no_vector;
    };
    Virtqueue* queue = selected_queue();
    switch (offset) {
    case common::device_feature_select:
        m_device_feature_select = value;
        break;
    case common::driver_feature_select:
        m_driver_feature_select = value;
        break;
    case common::driver_feature:
        // Features are frozen once FEATURES_OK is set (§3.1.1).
        if ((m_status.load() & status::features_ok) == 0 && m_driver_feature_select < 2) {
            const unsigned shift = 32 * m_driver_feature_select;
            m_driver_features = (m_driver_features & ~(std::uint64_t{0xffff'ffff} << shift)) |
                                (std::uint64_t{value} << shift);
        }
        break;
    case common::config_msix_vector:
        m_config_vector.store(checked_vector(value & 0xffff));
        break;
    case common::device_status:
        write_status(static_cast<std::uint8_t>(value));
        break;
    case common::queue_select:
        m_queue_select = static_cast<std::uint16_t>(value);
        break;
    case common::queue_size:
        if (queue != nullptr && !m_activated) queue->set_size(static_cast<std::uint16_t>(value));
        break;
    case common::queue_msix_vector:
        if (queue != nullptr) m_queue_vectors[m_queue_select].store(checked_vector(value & 0xffff));
        break;
    case common::queue_enable:
        if (queue != nullptr && !m_activated && (value & 1) != 0) queue->enabled = true;
        break;
    case common::queue_desc:
    case common::queue_desc + 4:
        if (queue != nullptr) set_half(queue->descriptor_address, common::queue_desc);
        break;
    case common::queue_driver:
    case common::queue_driver + 4:
        if (queue != nullptr) set_half(queue->driver_address, common::queue_driver);
        break;
    case common::queue_device:
    case common::queue_device + 4:
        if (queue != nullptr) set_half(queue->device_address, common::queue_device);
        break;
    case common::queue_reset:
        break; // VIRTIO_F_RING_RESET is not offered
    default:
        break; // read-only or reserved
    }
}

void VirtioPciDevice::write_status(std::uint8_t value) {
    if (value == 0) return reset_locked();
    const std::uint8_t old = m_status.load();
    std::uint8_t next = static_cast<std::uint8_t>(value | (old & status::device_needs_reset));
    if ((next & status::features_ok) != 0 && (old & status::features_ok) == 0) {
        const std::uint64_t offered =
            m_device.features() | feature::version_1 | feature::ring_indirect_desc;
        const bool acceptable =
            (m_driver_features & ~offered) == 0 && (m_driver_features & feature::version_1) != 0;
        if (!acceptable) {
            log::warn("{}: driver features {:#x} not acceptable (offered {:#x}); FEATURES_OK "
                      "stays clear",
                      m_device.name(), m_driver_features, offered);
            next = static_cast<std::uint8_t>(next & ~status::features_ok);
        }
    }
    m_status.store(next);
    const bool driver_ok_now = (next & status::driver_ok) != 0 && (old & status::driver_ok) == 0;
    if (driver_ok_now && (next & status::features_ok) != 0 && !m_activated) activate_locked();
}

void VirtioPciDevice::activate_locked() {
    const bool indirect = (m_driver_features & feature::ring_indirect_desc) != 0;
    VirtioActivation activation{m_memory, {}, m_driver_features, *this};
    for (auto& queue : m_queues) {
        if (!queue->enabled) {
            activation.queues.push_back(nullptr);
            continue;
        }
        // A bad ring breaks the queue and calls enter_needs_reset (which takes no m_mutex).
        (void)queue->activate(m_memory, indirect,
                              [this](const std::string& problem) { enter_needs_reset(problem); });
        activation.queues.push_back(queue.get());
    }
    m_activated = true;
    if (auto activated = m_device.activate(activation); !activated)
        enter_needs_reset(activated.error().message);
}

void VirtioPciDevice::reset_locked() {
    if (m_activated) m_device.reset();
    m_activated = false;
    for (std::size_t index = 0; index < m_queues.size(); ++index) {
        m_queues[index]->reset();
        m_queue_vectors[index].store(no_vector);
    }
    m_config_vector.store(no_vector);
    m_device_feature_select = m_driver_feature_select = 0;
    m_driver_features = 0;
    m_queue_select = 0;
    m_status.store(0);
    std::lock_guard lock(m_isr_mutex);
    m_isr = 0;
    set_intx_level(false);
}

void VirtioPciDevice::enter_needs_reset(const std::string& problem) {
    const std::uint8_t old = m_status.fetch_or(status::device_needs_reset);
    if ((old & status::device_needs_reset) != 0) return;
    log::warn("{}: device needs reset: {}", m_device.name(), problem);
    signal_config();
}

// ---- interrupts ----

std::uint8_t VirtioPciDevice::read_isr() {
    std::lock_guard lock(m_isr_mutex);
    const std::uint8_t value = m_isr;
    m_isr = 0; // reading the ISR acknowledges it and lowers INTx (§4.1.4.5)
    set_intx_level(false);
    return value;
}

void VirtioPciDevice::raise(std::uint16_t vector, std::uint8_t isr_bit) {
    if (m_msix.enabled()) {
        if (vector != no_vector) m_msix.signal(vector);
        return;
    }
    std::lock_guard lock(m_isr_mutex);
    m_isr |= isr_bit;
    set_intx_level(true);
}

void VirtioPciDevice::signal_used(std::uint16_t queue) {
    if (queue >= m_queue_vectors.size()) return;
    raise(m_queue_vectors[queue].load(), isr_queue);
}

void VirtioPciDevice::signal_config() {
    raise(m_config_vector.load(), isr_config);
}

} // namespace vessel::virtio
