// Bus: sorted windows, binary-search dispatch.
#include "devices/bus.hpp"

#include <algorithm>
#include <mutex>

#include "base/log.hpp"

namespace vessel {

Result<void> Bus::insert(BusDevice& device, std::uint64_t base, std::uint64_t length) {
    if (length == 0 || base + length < base)
        return make_error("{} bus: invalid window {:#x}+{:#x} for {}", m_name, base, length,
                          device.name());
    std::unique_lock lock(m_mutex);
    auto position = std::lower_bound(m_windows.begin(), m_windows.end(), base,
                                     [](const Window& w, std::uint64_t b) { return w.base < b; });
    if (position != m_windows.end() && position->base < base + length)
        return make_error("{} bus: {} at {:#x} overlaps {}", m_name, device.name(), base,
                          position->device->name());
    if (position != m_windows.begin()) {
        const Window& previous = *(position - 1);
        if (previous.base + previous.length > base)
            return make_error("{} bus: {} at {:#x} overlaps {}", m_name, device.name(), base,
                              previous.device->name());
    }
    m_windows.insert(position, Window{base, length, &device});
    return {};
}

bool Bus::remove(BusDevice& device, std::uint64_t base) {
    std::unique_lock lock(m_mutex);
    auto position = std::lower_bound(m_windows.begin(), m_windows.end(), base,
                                     [](const Window& w, std::uint64_t b) { return w.base < b; });
    if (position == m_windows.end() || position->base != base || position->device != &device)
        return false;
    m_windows.erase(position);
    return true;
}

BusDevice* Bus::find(std::uint64_t address, std::uint64_t* offset) const {
    std::shared_lock lock(m_mutex);
    return find_locked(address, offset);
}

BusDevice* Bus::find_locked(std::uint64_t address, std::uint64_t* offset) const {
    auto position = std::upper_bound(m_windows.begin(), m_windows.end(), address,
                                     [](std::uint64_t a, const Window& w) { return a < w.base; });
    if (position == m_windows.begin()) return nullptr;
    const Window& window = *(position - 1);
    if (address - window.base >= window.length) return nullptr;
    if (offset != nullptr) *offset = address - window.base;
    return window.device;
}

bool Bus::read(std::uint64_t address, std::span<std::uint8_t> data) const {
    m_read_count.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t offset = 0;
    BusDevice* device = find(address, &offset);
    if (device == nullptr) {
        std::fill(data.begin(), data.end(), 0xff);
        log::debug("{} bus: unbacked read at {:#x} ({} bytes)", m_name, address, data.size());
        return false;
    }
    device->read(offset, data);
    return true;
}

bool Bus::write(std::uint64_t address, std::span<const std::uint8_t> data) const {
    m_write_count.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t offset = 0;
    BusDevice* device = find(address, &offset);
    if (device == nullptr) {
        log::debug("{} bus: unbacked write at {:#x} ({} bytes)", m_name, address, data.size());
        return false;
    }
    device->write(offset, data);
    return true;
}

} // namespace vessel
