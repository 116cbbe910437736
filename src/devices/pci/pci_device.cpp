// PciDevice: configuration header rules (read-only fields, BAR sizing, capability chain).
#include "devices/pci/pci_device.hpp"

#include <algorithm>
#include <bit>

namespace vessel::pci {

namespace {
constexpr std::uint32_t bar_memory_flags_mask = 0xf; ///< §6.2.5.1: bits 3:0 describe the BAR
constexpr std::uint16_t command_writable = config::command_io_space | config::command_memory_space |
                                           config::command_bus_master |
                                           config::command_interrupt_disable;
constexpr std::uint32_t bar_register(std::uint32_t index) {
    return config::bar0 + 4 * index;
}
} // namespace

/// Routes MMIO accesses of one BAR to the device with BAR-relative offsets.
class PciDevice::BarWindow final : public BusDevice {
  public:
    BarWindow(PciDevice& device, std::uint32_t index) : m_device(device), m_index(index) {}
    std::string_view name() const override { return m_device.name(); }
    void read(std::uint64_t offset, std::span<std::uint8_t> data) override {
        m_device.bar_read(m_index, offset, data);
    }
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
        m_device.bar_write(m_index, offset, data);
    }

  private:
    PciDevice& m_device;
    std::uint32_t m_index;
};

PciDevice::PciDevice(const PciIdentity& identity) {
    write16(config::vendor_id, identity.vendor_id);
    write16(config::device_id, identity.device_id);
    write32(config::revision, identity.revision | (identity.class_code << 8));
    write16(config::subsystem_vendor_id, identity.subsystem_vendor_id);
    write16(config::subsystem_id, identity.subsystem_id);
    m_writable[config::command] = static_cast<std::uint8_t>(command_writable);
    m_writable[config::command + 1] = static_cast<std::uint8_t>(command_writable >> 8);
    m_writable[config::interrupt_line] = 0xff;
    for (std::uint32_t index = 0; index < config::bar_count; ++index)
        m_bar_windows[index] = std::make_unique<BarWindow>(*this, index);
}

std::uint16_t PciDevice::read16(std::uint32_t offset) const {
    return static_cast<std::uint16_t>(m_config[offset] | (m_config[offset + 1] << 8));
}
void PciDevice::write16(std::uint32_t offset, std::uint16_t value) {
    m_config[offset] = static_cast<std::uint8_t>(value);
    m_config[offset + 1] = static_cast<std::uint8_t>(value >> 8);
}
std::uint32_t PciDevice::read32(std::uint32_t offset) const {
    return read16(offset) | (std::uint32_t{read16(offset + 2)} << 16);
}
void PciDevice::write32(std::uint32_t offset, std::uint32_t value) {
    write16(offset, static_cast<std::uint16_t>(value));
    write16(offset + 2, static_cast<std::uint16_t>(value >> 16));
}

std::uint32_t PciDevice::config_read(std::uint32_t offset, unsigned size) {
    if (offset < config::space_size && size <= config::space_size - offset)
        config_reading(offset, size);
    std::uint32_t value = 0;
    for (unsigned i = 0; i < size && offset + i < config::space_size; ++i) {
        std::uint8_t byte = m_config[offset + i];
        if (offset + i == config::status) {
            std::lock_guard lock(m_intx_mutex);
            if (m_intx_level) byte |= config::status_interrupt;
        }
        value |= std::uint32_t{byte} << (8 * i);
    }
    return value;
}

void PciDevice::config_write(std::uint32_t offset, unsigned size, std::uint32_t value) {
    if (offset >= config::space_size || size > config::space_size - offset) return;
    for (unsigned i = 0; i < size; ++i) {
        const std::uint32_t at = offset + i;
        const auto byte = static_cast<std::uint8_t>(value >> (8 * i));
        if (at >= config::bar0 && at < bar_register(config::bar_count)) continue;
        m_config[at] =
            static_cast<std::uint8_t>((m_config[at] & ~m_writable[at]) | (byte & m_writable[at]));
    }
    // BARs: the guest writes an address; bits below the size read back as zero, so writing
    // all ones reads back the size mask (§6.2.5.1).
    for (std::uint32_t index = 0; index < config::bar_count; ++index) {
        const std::uint32_t reg = bar_register(index);
        if (offset > reg + 3 || offset + size <= reg || m_bar_sizes[index] == 0) continue;
        std::uint32_t current = read32(reg);
        for (unsigned i = 0; i < size; ++i) {
            const std::uint32_t at = offset + i;
            if (at < reg || at > reg + 3) continue;
            const unsigned shift = 8 * (at - reg);
            current = (current & ~(0xffu << shift)) | (((value >> (8 * i)) & 0xff) << shift);
        }
        const auto size_mask = static_cast<std::uint32_t>(~(m_bar_sizes[index] - 1));
        write32(reg, current & size_mask & ~bar_memory_flags_mask);
    }
    m_command.store(read16(config::command), std::memory_order_relaxed);
    if (offset <= config::command + 1 && offset + size > config::command) {
        std::lock_guard lock(m_intx_mutex);
        drive_intx_locked(); // Interrupt Disable may have changed
    }
    config_written(offset, size);
}

std::uint64_t PciDevice::bar_address(std::uint32_t index) const {
    return read32(bar_register(index)) & ~bar_memory_flags_mask;
}

void PciDevice::set_bar_address(std::uint32_t index, std::uint64_t address) {
    const auto size_mask = static_cast<std::uint32_t>(~(m_bar_sizes.at(index) - 1));
    write32(bar_register(index), static_cast<std::uint32_t>(address) & size_mask);
}

void PciDevice::add_memory_bar(std::uint32_t index, std::uint32_t size) {
    m_bar_sizes.at(index) = std::max<std::uint32_t>(std::bit_ceil(size), 16);
}

BusDevice& PciDevice::bar_window(std::uint32_t index) {
    return *m_bar_windows.at(index);
}

void PciDevice::connect_intx(IrqLine line) {
    m_intx = line;
    m_config[config::interrupt_line] = static_cast<std::uint8_t>(line.gsi());
}

void PciDevice::set_intx_level(bool level) {
    std::lock_guard lock(m_intx_mutex);
    m_intx_level = level;
    drive_intx_locked();
}

void PciDevice::drive_intx_locked() {
    const bool drive = m_intx_level && (command() & config::command_interrupt_disable) == 0;
    if (drive == m_intx_driven) return;
    m_intx_driven = drive;
    m_intx.set_level(drive);
}

std::uint8_t PciDevice::add_capability(std::uint8_t id, std::span<const std::uint8_t> body,
                                       std::span<const std::uint8_t> writable_mask) {
    const std::uint32_t offset = m_next_capability;
    const std::uint32_t length = 2 + static_cast<std::uint32_t>(body.size());
    if (offset + length > config::space_size) return 0; // a device declares few; never happens
    m_config[offset] = id;
    m_config[offset + 1] = 0;
    std::copy(body.begin(), body.end(), m_config.begin() + offset + 2);
    for (std::size_t i = 0; i < writable_mask.size() && i < body.size(); ++i)
        m_writable[offset + 2 + i] = writable_mask[i];
    if (m_last_capability == 0)
        m_config[config::capabilities_pointer] = static_cast<std::uint8_t>(offset);
    else
        m_config[m_last_capability + 1] = static_cast<std::uint8_t>(offset);
    write16(config::status, read16(config::status) | config::status_capabilities_list);
    m_last_capability = static_cast<std::uint8_t>(offset);
    m_next_capability = (offset + length + 3) & ~3u;
    return static_cast<std::uint8_t>(offset);
}

void PciDevice::bar_read(std::uint32_t, std::uint64_t, std::span<std::uint8_t> data) {
    std::fill(data.begin(), data.end(), 0xff);
}
void PciDevice::bar_write(std::uint32_t, std::uint64_t, std::span<const std::uint8_t>) {}
void PciDevice::config_written(std::uint32_t, unsigned) {}
void PciDevice::bar_mapped(std::uint32_t, std::optional<std::uint64_t>) {}
void PciDevice::config_reading(std::uint32_t, unsigned) {}

} // namespace vessel::pci
