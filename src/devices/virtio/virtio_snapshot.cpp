// Snapshot state of virtio devices: the PCI transport's registers, its queues, and quiescing.
#include <bit>

#include "devices/virtio/virtio_block.hpp"
#include "devices/virtio/virtio_net.hpp"
#include "devices/virtio/virtio_pci_device.hpp"
#include "devices/virtio/virtqueue.hpp"

namespace vessel::virtio {

void Virtqueue::save_state(StateWriter& writer) {
    std::lock_guard lock(m_mutex);
    writer(m_size, descriptor_address, driver_address, device_address, enabled, m_next_avail,
           m_next_used, m_broken);
}

void Virtqueue::load_state(StateReader& reader) {
    std::lock_guard lock(m_mutex);
    std::uint16_t size = 0, next_avail = 0, next_used = 0;
    bool broken = false;
    reader(size, descriptor_address, driver_address, device_address, enabled, next_avail, next_used,
           broken);
    reader.check(size != 0 && size <= m_max_size && std::has_single_bit(size), "queue size");
    if (!reader.ok()) return;
    m_size = size;
    // A queue that was broken is left inactive: the device reported NEEDS_RESET already and
    // the driver has to reset it.
    m_saved_next_avail = next_avail;
    m_saved_next_used = next_used;
    if (broken) enabled = false;
}

void VirtioPciDevice::save_state(StateWriter& writer) {
    save_config_state(writer);
    m_msix.save_state(writer);
    std::lock_guard lock(m_mutex);
    const std::uint8_t isr = [this] {
        std::lock_guard isr_lock(m_isr_mutex);
        return m_isr;
    }();
    writer(m_device.device_type(), static_cast<std::uint16_t>(m_queues.size()),
           m_device_feature_select, m_driver_feature_select, m_driver_features, m_queue_select,
           m_config_generation, m_activated, m_status.load(), m_config_vector.load(), isr);
    for (std::size_t index = 0; index < m_queues.size(); ++index) {
        writer(m_queue_vectors[index].load());
        m_queues[index]->save_state(writer);
    }
    m_device.save_device_state(writer); // nothing for most devices
}

void VirtioPciDevice::load_state(StateReader& reader) {
    load_config_state(reader);
    m_msix.load_state(reader);
    std::lock_guard lock(m_mutex);
    std::uint16_t type = 0, queues = 0, config_vector = 0;
    std::uint8_t status = 0, isr = 0;
    bool activated = false;
    reader(type, queues, m_device_feature_select, m_driver_feature_select, m_driver_features,
           m_queue_select, m_config_generation, activated, status, config_vector, isr);
    if (reader.ok() && (type != m_device.device_type() || queues != m_queues.size())) {
        reader.fail(fmt::format("{}: the snapshot holds a virtio device of type {} with {} "
                                "queues here (another machine's snapshot?)",
                                m_device.name(), type, queues));
        return;
    }
    for (std::size_t index = 0; index < m_queues.size() && reader.ok(); ++index) {
        std::uint16_t vector = 0;
        reader(vector);
        reader.check(vector == no_vector || vector < m_msix.vector_count(), "queue MSI-X vector");
        m_queue_vectors[index].store(vector);
        m_queues[index]->load_state(reader);
    }
    reader.check(config_vector == no_vector || config_vector < m_msix.vector_count(),
                 "configuration MSI-X vector");
    if (!reader.ok()) return;
    // Before the activation below: an activated device starts from its loaded state.
    m_device.load_device_state(reader);
    if (!reader.ok()) return;
    m_status.store(status);
    m_config_vector.store(config_vector);
    {
        std::lock_guard isr_lock(m_isr_mutex);
        m_isr = isr;
    }
    // The device starts again on the restored rings (and its back-end with it); activate()
    // puts each queue at its saved position before the device can pop.
    if (activated) activate_locked();
}

void VirtioBlock::quiesce() {
    m_backend->drain();
}

void VirtioNet::quiesce() {
    // Unregistering waits for a notifier in progress: no frame is written to guest memory after.
    m_backend->set_receive_notifier({});
}

void VirtioNet::resume_io() {
    {
        std::lock_guard lock(m_receive_mutex);
        if (!m_active) return;
    }
    m_backend->set_receive_notifier([this] { receive_frames(); });
    receive_frames(); // frames that arrived meanwhile
}

} // namespace vessel::virtio
