// CmosRtc: register map after the Motorola MC146818A datasheet.
#include "devices/legacy/cmos_rtc.hpp"

namespace vessel {

namespace {
// Register indexes (MC146818A datasheet, "Address map").
constexpr std::uint8_t seconds = 0x00;
constexpr std::uint8_t seconds_alarm = 0x01;
constexpr std::uint8_t minutes = 0x02;
constexpr std::uint8_t minutes_alarm = 0x03;
constexpr std::uint8_t hours = 0x04;
constexpr std::uint8_t hours_alarm = 0x05;
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
constexpr std::uint8_t interrupt_flags = 0x70; ///< C: PF, AF, UF (and B: PIE, AIE, UIE)
constexpr std::uint8_t alarm_any = 0xc0;       ///< alarm register values 0xc0-0xff match any
constexpr std::time_t alarm_lookback = 24 * 60 * 60;

bool is_alarm_register(std::uint8_t index) {
    return index == seconds_alarm || index == minutes_alarm || index == hours_alarm;
}

bool is_time_register(std::uint8_t index) {
    return (index <= year && !is_alarm_register(index)) || index == century;
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
    m_checked = m_clock();
}

void CmosRtc::read(std::uint64_t offset, std::span<std::uint8_t> data) {
    std::unique_lock lock(m_mutex);
    // A read of register C right at the alarm second sees AF (the guest's IRQ 8 handler).
    const bool fired = offset == 1 && m_index == status_c && check_alarm_locked();
    for (auto& byte : data)
        byte = offset == 1 ? read_register(m_index) : 0xff;
    AlarmHandler handler = fired ? m_alarm_handler : nullptr;
    lock.unlock();
    if (handler) handler();
}

void CmosRtc::set_irq(IrqLine line) {
    std::lock_guard lock(m_mutex);
    m_irq = line;
    m_irq_level = false;
    update_irq_locked();
}

void CmosRtc::set_alarm_handler(AlarmHandler handler) {
    std::lock_guard lock(m_mutex);
    m_alarm_handler = std::move(handler);
}

void CmosRtc::update() {
    std::unique_lock lock(m_mutex);
    if (!check_alarm_locked()) return;
    AlarmHandler handler = m_alarm_handler;
    lock.unlock();
    if (handler) handler();
}

bool CmosRtc::alarm_matches(std::time_t at) const {
    std::tm utc{};
    gmtime_r(&at, &utc);
    auto matches = [this](std::uint8_t alarm, std::uint8_t current) {
        return (alarm & alarm_any) == alarm_any || alarm == current;
    };
    std::uint8_t hour = encode(utc.tm_hour);
    if (!(m_memory[status_b] & status_b_24_hour))
        hour = static_cast<std::uint8_t>(encode(utc.tm_hour % 12 == 0 ? 12 : utc.tm_hour % 12) |
                                         (utc.tm_hour >= 12 ? 0x80 : 0));
    return matches(m_memory[seconds_alarm], encode(utc.tm_sec)) &&
           matches(m_memory[minutes_alarm], encode(utc.tm_min)) &&
           matches(m_memory[hours_alarm], hour);
}

bool CmosRtc::check_alarm_locked() {
    const std::time_t now = m_clock() + m_offset;
    if (now <= m_checked) {
        m_checked = now; // the guest set its clock back: look from there
        return false;
    }
    std::time_t from = m_checked + 1;
    if (now - from >= alarm_lookback) from = now - alarm_lookback + 1;
    m_checked = now;
    bool hit = false;
    for (std::time_t at = from; at <= now && !hit; ++at)
        hit = alarm_matches(at);
    if (!hit) return false;
    m_memory[status_c] |= alarm_flag;
    if (!(m_memory[status_b] & alarm_interrupt_enable)) return false;
    update_irq_locked();
    return true;
}

void CmosRtc::update_irq_locked() {
    // IRQF is set while any flag of PF, AF, UF has its enable bit set in register B.
    if (m_memory[status_c] & m_memory[status_b] & interrupt_flags)
        m_memory[status_c] |= interrupt_request_flag;
    else
        m_memory[status_c] &= static_cast<std::uint8_t>(~interrupt_request_flag);
    const bool level = (m_memory[status_c] & interrupt_request_flag) != 0;
    if (level == m_irq_level) return;
    m_irq_level = level;
    m_irq.set_level(level);
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
        update_irq_locked(); // reading C acknowledges the interrupt
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
    if (index == status_b) {
        m_memory[status_b] = value;
        update_irq_locked(); // enabling AIE with AF already set interrupts at once
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
    m_checked = m_clock() + m_offset; // the alarm looks forward from the new time
}

} // namespace vessel
