// FwCfg: item table and the selector/data port protocol.
#include "devices/legacy/fw_cfg.hpp"

namespace vessel {

namespace {
std::vector<std::uint8_t> little_endian(std::uint64_t value, std::size_t size) {
    std::vector<std::uint8_t> bytes(size);
    for (std::size_t i = 0; i < size; ++i)
        bytes[i] = static_cast<std::uint8_t>(value >> (8 * i));
    return bytes;
}
} // namespace

FwCfg::FwCfg(std::uint64_t ram_size, std::uint16_t cpu_count) {
    m_items[key_signature] = {'Q', 'E', 'M', 'U'};
    m_items[key_id] = little_endian(1, 4); // bit 0: traditional I/O interface; no DMA
    m_items[key_ram_size] = little_endian(ram_size, 8);
    m_items[key_cpu_count] = little_endian(cpu_count, 2);
    m_items[key_max_cpus] = little_endian(cpu_count, 2);
    m_items[key_file_directory] = {0, 0, 0, 0}; // big-endian count of zero files
}

void FwCfg::set_item(std::uint16_t key, std::vector<std::uint8_t> value) {
    std::lock_guard lock(m_mutex);
    m_items[key] = std::move(value);
}

void FwCfg::read(std::uint64_t offset, std::span<std::uint8_t> data) {
    std::lock_guard lock(m_mutex);
    if (offset != 1) { // the selector port is write-only
        for (auto& byte : data)
            byte = 0xff;
        return;
    }
    auto item = m_items.find(m_selector);
    for (auto& byte : data) {
        byte = 0;
        if (item != m_items.end() && m_position < item->second.size())
            byte = item->second[m_position];
        ++m_position;
    }
}

void FwCfg::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    std::lock_guard lock(m_mutex);
    if (offset == 0 && data.size() >= 2) {
        m_selector = static_cast<std::uint16_t>(bytes_to_value(data.first(2)));
        m_position = 0;
    } else if (offset == 0 && data.size() == 1) {
        // A byte write to the low half of the 16-bit selector port: take it as the low byte.
        m_selector = data[0];
        m_position = 0;
    }
    // Writes to the data port are ignored (read-only since QEMU 2.4).
}

} // namespace vessel
