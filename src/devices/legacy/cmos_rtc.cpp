// CmosRtc: register map after the Motorola MC146818A datasheet.
#include "devices/legacy/cmos_rtc.hpp"

namespace vessel {

namespace {
// Register indexes (MC146818A datasheet, "Address map").
constexpr std::uint8_t seconds = 0x00;
constexpr std::uint8_t minutes = 0x02;
constexpr std::uint8_t hours = 0x04;
constexpr std::uint8_t day_of_week = 0x06;
constexpr std::uint8_t day_of_month = 0x07;
constexpr std::uint8_t month = 0x08;
constexpr std::uint8_t year = 0x09;
constexpr std::uint8_t status_a = 0x0a; ///< bit 7 update in progress; 0x26 = 32.768 kHz, 1024 Hz
constexpr std::uint8_t status_b = 0x0b; ///< bit 1 24-hour, bit 2 binary (else BCD), bit 7 SET
constexpr std::uint8_t status_c = 0x0c; ///< interrupt flags, cleared on read
constexpr std::uint8_t status_d = 0x0d; ///< bit 7 valid RAM and time
constexpr std::uint8_t century = 0x32;  ///< IBM PC convention
constexpr std::uint8_t status_b_binary = 0x04;
constexpr std::uint8_t status_b_24_hour = 0x02;

bool is_time_register(std::uint8_t index) {
    return index <= year || index == century;
}
} // namespace

CmosRtc::CmosRtc(std::uint64_t memory_size, Clock clock) : m_clock(std::move(clock)) {
    m_memory[status_a] = 0x26;
    m_memory[status_b] = status_b_24_hour;
    m_memory[status_d] = 0x80;
    // Conventional memory size fields (IBM PC/AT CMOS map): base memory in KiB, extended memory
    // between 1 MiB and 64 MiB in KiB, memory above 16 MiB in 64 KiB units.
    m_memory[0x15] = 0x80; // 640 KiB
    m_memory[0x16] = 0x02;
    std::uint64_t extended_kib = memory_size > (1u << 20) ? (memory_size - (1u << 20)) >> 10 : 0;
    if (extended_kib > 0xfc00) extended_kib = 0xfc00;
    m_memory[0x17] = m_memory[0x30] = static_cast<std::uint8_t>(extended_kib);
    m_memory[0x18] = m_memory[0x31] = static_cast<std::uint8_t>(extended_kib >> 8);
    std::uint64_t above_16m = memory_size > (16u << 20) ? (memory_size - (16u << 20)) >> 16 : 0;
    if (above_16m > 0xffff) above_16m = 0xffff;
    m_memory[0x34] = static_cast<std::uint8_t>(above_16m);
    m_memory[0x35] = static_cast<std::uint8_t>(above_16m >> 8);
}

void CmosRtc::read(std::uint64_t offset, std::span<std::uint8_t> data) {
    std::lock_guard lock(m_mutex);
    for (auto& byte : data)
        byte = offset == 1 ? read_register(m_index) : 0xff;
}

void CmosRtc::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    if (data.empty()) return;
    std::lock_guard lock(m_mutex);
    if (offset == 0)
        m_index = data[0] & 0x7f; // bit 7 is the NMI mask, not part of the index
    else if (offset == 1)
        write_register(m_index, data[0]);
}

std::uint8_t CmosRtc::encode(int value) const {
    if (m_memory[status_b] & status_b_binary) return static_cast<std::uint8_t>(value);
    return static_cast<std::uint8_t>(((value / 10) << 4) | (value % 10));
}

int CmosRtc::decode(std::uint8_t value) const {
    if (m_memory[status_b] & status_b_binary) return value;
    return (value >> 4) * 10 + (value & 0x0f);
}

std::uint8_t CmosRtc::read_register(std::uint8_t index) {
    if (index == status_c) {
        std::uint8_t flags = m_memory[status_c];
        m_memory[status_c] = 0;
        return flags;
    }
    if (!is_time_register(index)) return m_memory[index];
    std::time_t now = m_clock() + m_offset;
    std::tm utc{};
    gmtime_r(&now, &utc);
    switch (index) {
    case seconds:
        return encode(utc.tm_sec);
    case minutes:
        return encode(utc.tm_min);
    case hours:
        if (m_memory[status_b] & status_b_24_hour) return encode(utc.tm_hour);
        // 12-hour mode: 1-12 with bit 7 set for PM.
        return static_cast<std::uint8_t>(encode(utc.tm_hour % 12 == 0 ? 12 : utc.tm_hour % 12) |
                                         (utc.tm_hour >= 12 ? 0x80 : 0));
    case day_of_week:
        return encode(utc.tm_wday + 1);
    case day_of_month:
        return encode(utc.tm_mday);
    case month:
        return encode(utc.tm_mon + 1);
    case year:
        return encode(utc.tm_year % 100);
    case century:
        return encode((utc.tm_year + 1900) / 100);
    default:
        return m_memory[index];
    }
}

void CmosRtc::write_register(std::uint8_t index, std::uint8_t value) {
    if (index == status_c || index == status_d) return; // read-only
    if (index == status_a) {
        m_memory[status_a] = value & 0x7f; // update-in-progress is read-only
        return;
    }
    if (!is_time_register(index)) {
        m_memory[index] = value;
        return;
    }
    // Setting the clock: rebuild the guest's notion of now and keep it as an offset.
    std::time_t now = m_clock() + m_offset;
    std::tm utc{};
    gmtime_r(&now, &utc);
    int decoded = decode(value & 0x7f);
    switch (index) {
    case seconds:
        utc.tm_sec = decoded;
        break;
    case minutes:
        utc.tm_min = decoded;
        break;
    case hours:
        utc.tm_hour = decoded;
        break;
    case day_of_month:
        utc.tm_mday = decoded;
        break;
    case month:
        utc.tm_mon = decoded - 1;
        break;
    case year:
        utc.tm_year = (utc.tm_year / 100) * 100 + decoded;
        break;
    default:
        return;
    }
    m_offset = timegm(&utc) - m_clock();
}

} // namespace vessel
