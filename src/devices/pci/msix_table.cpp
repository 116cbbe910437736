// MsixTable: entry registers, masking and pending bits.
#include "devices/pci/msix_table.hpp"

#include <algorithm>

#include "devices/bus_device.hpp"

namespace vessel::pci {

MsixTable::MsixTable(std::uint16_t vector_count, MsiSink* sink)
    : m_sink(sink), m_entries(std::clamp<std::uint16_t>(vector_count, 1, msix::max_vectors)) {}

void MsixTable::set_control(std::uint16_t control) {
    std::lock_guard lock(m_mutex);
    m_enabled = (control & msix::control_enable) != 0;
    m_function_masked = (control & msix::control_function_mask) != 0;
    update_routes_locked();
    flush_pending_locked();
}

bool MsixTable::enabled() const {
    std::lock_guard lock(m_mutex);
    return m_enabled;
}

void MsixTable::table_read(std::uint64_t offset, std::span<std::uint8_t> data) const {
    std::fill(data.begin(), data.end(), 0);
    if ((data.size() != 4 && data.size() != 8) || offset % data.size() != 0) return;
    std::lock_guard lock(m_mutex);
    for (std::size_t done = 0; done < data.size(); done += 4) {
        const std::uint64_t at = offset + done;
        if (at / msix::entry_size >= m_entries.size()) return;
        const Entry& entry = m_entries[at / msix::entry_size];
        const std::uint32_t words[4] = {entry.address_low, entry.address_high, entry.data,
                                        entry.control};
        value_to_bytes(words[(at % msix::entry_size) / 4], data.subspan(done, 4));
    }
}

void MsixTable::table_write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    if ((data.size() != 4 && data.size() != 8) || offset % data.size() != 0) return;
    std::lock_guard lock(m_mutex);
    for (std::size_t done = 0; done < data.size(); done += 4) {
        const std::uint64_t at = offset + done;
        if (at / msix::entry_size >= m_entries.size()) return;
        Entry& entry = m_entries[at / msix::entry_size];
        const auto value = static_cast<std::uint32_t>(bytes_to_value(data.subspan(done, 4)));
        switch ((at % msix::entry_size) / 4) {
        case 0:
            entry.address_low = value & ~3u; // bits 1:0 are reserved (§6.8.2.4)
            break;
        case 1:
            entry.address_high = value;
            break;
        case 2:
            entry.data = value;
            break;
        default:
            entry.control = value & msix::vector_control_mask;
            break;
        }
    }
    // One route update per access: an aligned 8-byte write stays within one entry.
    if (offset / msix::entry_size < m_entries.size())
        update_route_locked(m_entries[offset / msix::entry_size]);
    flush_pending_locked();
}

void MsixTable::pba_read(std::uint64_t offset, std::span<std::uint8_t> data) const {
    std::fill(data.begin(), data.end(), 0);
    if ((data.size() != 4 && data.size() != 8) || offset % data.size() != 0) return;
    std::lock_guard lock(m_mutex);
    std::uint64_t bits = 0;
    for (std::size_t bit = 0; bit < 8 * data.size(); ++bit) {
        const std::uint64_t vector = offset * 8 + bit;
        if (vector < m_entries.size() && m_entries[vector].pending) bits |= std::uint64_t{1} << bit;
    }
    value_to_bytes(bits, data);
}

void MsixTable::signal(std::uint16_t vector) {
    std::lock_guard lock(m_mutex);
    if (vector >= m_entries.size()) return;
    Entry& entry = m_entries[vector];
    if (deliverable_locked(entry))
        send_locked(entry);
    else
        entry.pending = true;
}

void MsixTable::reset() {
    std::lock_guard lock(m_mutex);
    for (auto& entry : m_entries) {
        if (entry.routed) entry.route->clear();
        auto route = std::move(entry.route);
        entry = Entry{};
        entry.route = std::move(route);
    }
    m_enabled = false;
    m_function_masked = false;
}

bool MsixTable::deliverable_locked(const Entry& entry) const {
    return m_enabled && !m_function_masked && (entry.control & msix::vector_control_mask) == 0;
}

void MsixTable::update_route_locked(Entry& entry) {
    if (m_sink == nullptr) return;
    if (!deliverable_locked(entry)) {
        // A masked vector never triggers (signal() pends it), so its route can go.
        if (entry.routed) entry.route->clear();
        entry.routed = false;
        return;
    }
    if (entry.routed && entry.routed_address == entry.address() && entry.routed_data == entry.data)
        return;
    if (!entry.route) entry.route = m_sink->create_msi_route();
    if (!entry.route) return; // the sink has no routes: signal_msi it is
    entry.routed = entry.route->set_message(entry.address(), entry.data);
    entry.routed_address = entry.address();
    entry.routed_data = entry.data;
}

void MsixTable::update_routes_locked() {
    for (auto& entry : m_entries)
        update_route_locked(entry);
}

void MsixTable::send_locked(Entry& entry) {
    entry.pending = false;
    if (entry.routed)
        entry.route->trigger();
    else if (m_sink != nullptr)
        m_sink->signal_msi(entry.address(), entry.data);
}

void MsixTable::flush_pending_locked() {
    for (auto& entry : m_entries)
        if (entry.pending && deliverable_locked(entry)) send_locked(entry);
}

} // namespace vessel::pci
