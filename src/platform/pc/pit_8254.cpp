// Pit8254: counters computed from elapsed time, control/latch/read-back decoding, port 0x61.
#include "platform/pc/pit_8254.hpp"

namespace vessel {

namespace {

// 8254 datasheet, "Control Word Format" and "Read-Back Command".
constexpr std::uint8_t control_select_shift = 6; ///< SC1-SC0
constexpr std::uint8_t control_read_back = 3;    ///< SC = 11
constexpr std::uint8_t control_access_shift = 4; ///< RW1-RW0; 00 = counter latch
constexpr std::uint8_t control_mode_shift = 1;   ///< M2-M0
constexpr std::uint8_t control_bcd = 0x01;
constexpr std::uint8_t read_back_no_count = 0x20;  ///< COUNT bit, active low
constexpr std::uint8_t read_back_no_status = 0x10; ///< STATUS bit, active low
constexpr std::uint8_t status_output = 0x80;
constexpr std::uint8_t status_null_count = 0x40;
constexpr std::uint8_t access_low = 1;
constexpr std::uint8_t access_high = 2;
constexpr std::uint8_t access_word = 3;

// IBM PC/AT technical reference, port 0x61 (system control port B).
constexpr std::uint8_t port_b_gate2 = 0x01;         ///< timer 2 gate
constexpr std::uint8_t port_b_writable = 0x0f;      ///< gate, speaker data, parity/IOCHK enables
constexpr std::uint8_t port_b_refresh = 0x10;       ///< toggles with every DRAM refresh cycle
constexpr std::uint8_t port_b_out2 = 0x20;          ///< timer 2 output
constexpr std::uint64_t refresh_period_ns = 15'085; ///< channel 1 programmed to 18 ticks

/// Periodic IRQs faster than this are stretched so a guest cannot flood the host (KVM does
/// the same); counters read back unaffected.
constexpr std::uint64_t min_irq_period_ns = 200'000;
constexpr std::uint64_t ns_per_second = 1'000'000'000;

std::uint64_t ticks_in(std::uint64_t ns) {
    return static_cast<std::uint64_t>(static_cast<unsigned __int128>(ns) * Pit8254::frequency_hz /
                                      ns_per_second);
}

std::uint64_t ns_for(std::uint64_t ticks) {
    const auto product = static_cast<unsigned __int128>(ticks) * ns_per_second;
    return static_cast<std::uint64_t>((product + Pit8254::frequency_hz - 1) /
                                      Pit8254::frequency_hz);
}

std::uint16_t to_bcd(std::uint32_t value) {
    std::uint16_t result = 0;
    for (int digit = 0; digit < 4; ++digit, value /= 10)
        result = static_cast<std::uint16_t>(result | ((value % 10) << (4 * digit)));
    return result;
}

std::uint32_t from_bcd(std::uint32_t value) {
    std::uint32_t result = 0;
    for (int digit = 3; digit >= 0; --digit) {
        // A nibble above 9 is undefined on hardware; clamp it so the count stays in range.
        std::uint32_t nibble = (value >> (4 * digit)) & 0xf;
        result = result * 10 + (nibble > 9 ? 9 : nibble);
    }
    return result;
}

} // namespace

// ---- one counter ----

std::uint64_t Pit8254::Channel::elapsed(std::uint64_t now) const {
    if (!running || now < base_ns) return base_ticks;
    return base_ticks + ticks_in(now - base_ns);
}

std::uint16_t Pit8254::Channel::current_count(std::uint64_t now) const {
    const std::uint64_t ticks = elapsed(now);
    const std::uint32_t wrap = modulus();
    std::uint32_t value = 0;
    switch (mode) {
    case 2:
        value = count - static_cast<std::uint32_t>(ticks % count);
        break;
    case 3:
        value = count - static_cast<std::uint32_t>((2 * ticks) % count);
        break; // by twos
    default:   // 0, 1, 4, 5: one pass, then the counter wraps and keeps counting
        value = static_cast<std::uint32_t>((count + wrap - ticks % wrap) % wrap);
        break;
    }
    value %= wrap;
    return bcd ? to_bcd(value) : static_cast<std::uint16_t>(value);
}

bool Pit8254::Channel::output(std::uint64_t now) const {
    if (!loaded) return mode != 0; // after a control word: low in mode 0, high otherwise
    const std::uint64_t ticks = elapsed(now);
    switch (mode) {
    case 0:
        return ticks >= count; // high at terminal count
    case 1:
        return awaiting_trigger || ticks >= count; // low one-shot pulse
    case 2:
        return !gate || ticks % count != count - 1; // low for the clock at 1
    case 3:
        return !gate || ticks % count < (count + 1) / 2; // square wave
    default:
        return awaiting_trigger || ticks != count; // 4, 5: strobe at 0
    }
}

/// The elapsed tick at which the output next rises after elapsed_ticks (the IRQ 0 edge).
std::optional<std::uint64_t> Pit8254::Channel::next_rising_edge(std::uint64_t elapsed_ticks) const {
    if (!loaded || !running) return std::nullopt;
    switch (mode) {
    case 2:
    case 3: {
        std::uint64_t next = (elapsed_ticks / count + 1) * count;
        const std::uint64_t min_ticks = ticks_in(min_irq_period_ns);
        if (count < min_ticks) next = elapsed_ticks + min_ticks;
        return next;
    }
    case 0:
    case 1:
        return elapsed_ticks < count ? std::optional<std::uint64_t>(count) : std::nullopt;
    default: // 4, 5: the output returns high one clock after the strobe
        return elapsed_ticks <= count ? std::optional<std::uint64_t>(count + 1) : std::nullopt;
    }
}

// ---- device ----

Pit8254::Pit8254(IrqLine irq0, MonotonicClock clock, std::function<void()> reprogrammed)
    : m_irq(irq0), m_clock(std::move(clock)), m_reprogrammed(std::move(reprogrammed)) {
    m_channels[2].gate = false; // port 0x61 bit 0 is clear at reset
}

std::optional<std::uint64_t> Pit8254::next_deadline() const {
    std::lock_guard lock(m_mutex);
    const Channel& channel = m_channels[0];
    if (!channel.irq_tick || !channel.running) return std::nullopt;
    return channel.base_ns + ns_for(*channel.irq_tick - channel.base_ticks);
}

void Pit8254::update(std::uint64_t now) {
    bool fire = false;
    {
        std::lock_guard lock(m_mutex);
        Channel& channel = m_channels[0];
        if (channel.irq_tick && channel.running) {
            const std::uint64_t ticks = channel.elapsed(now);
            if (ticks >= *channel.irq_tick) {
                fire = true;
                channel.irq_tick = channel.next_rising_edge(ticks); // coalesces missed periods
            }
        }
    }
    if (fire) m_irq.pulse(); // outside the lock: the sink may call into PIC/IOAPIC/vCPUs
}

void Pit8254::rearm(Channel& channel, std::uint64_t now) {
    if (&channel != &m_channels[0]) return;
    channel.irq_tick = channel.next_rising_edge(channel.elapsed(now));
}

void Pit8254::load_count(Channel& channel, std::uint32_t value, std::uint64_t now) {
    if (channel.bcd) value = from_bcd(value);
    channel.count = value == 0 ? channel.modulus() : value;
    if (channel.mode >= 2 && channel.mode <= 3 && channel.count == 1)
        channel.count = 2; // count 1 is illegal in modes 2 and 3 (8254 datasheet)
    channel.loaded = true;
    channel.null_count = false;
    channel.base_ticks = 0;
    channel.base_ns = now;
    channel.awaiting_trigger = channel.mode == 1 || channel.mode == 5;
    channel.running = channel.gate && !channel.awaiting_trigger;
    rearm(channel, now);
}

void Pit8254::set_gate(Channel& channel, bool gate, std::uint64_t now) {
    if (channel.gate == gate) return;
    const std::uint64_t ticks = channel.elapsed(now);
    channel.gate = gate;
    if (!channel.loaded) return;
    switch (channel.mode) {
    case 0:
    case 4: // gate low suspends counting; high resumes it
        channel.base_ticks = ticks;
        channel.base_ns = now;
        channel.running = gate;
        break;
    default: // 1, 2, 3, 5: a rising edge (re)starts from the initial count; low stops 2 and 3
        if (gate) {
            channel.base_ticks = 0;
            channel.base_ns = now;
            channel.running = true;
            channel.awaiting_trigger = false;
        } else if (channel.mode == 2 || channel.mode == 3) {
            channel.base_ticks = ticks;
            channel.base_ns = now;
            channel.running = false;
        }
        break;
    }
    rearm(channel, now);
}

void Pit8254::latch_count(Channel& channel, std::uint64_t now) {
    if (channel.latched_bytes != 0) return; // a latch is held until read
    channel.latched_count = channel.current_count(now);
    channel.latched_bytes = channel.access == access_word ? 2 : 1;
    channel.latched_high_next = channel.access == access_high;
}

void Pit8254::write_control(std::uint8_t value, std::uint64_t now) {
    const unsigned select = value >> control_select_shift;
    if (select == control_read_back) {
        read_back(value, now);
        return;
    }
    Channel& channel = m_channels[select];
    const std::uint8_t access = (value >> control_access_shift) & 3;
    if (access == 0) {
        latch_count(channel, now);
        return;
    }
    std::uint8_t mode = (value >> control_mode_shift) & 7;
    if (mode > 5) mode -= 4; // 110 and 111 are modes 2 and 3
    channel.access = access;
    channel.mode = mode;
    channel.bcd = value & control_bcd;
    channel.loaded = false;
    channel.null_count = true;
    channel.running = false;
    channel.awaiting_trigger = false;
    channel.write_high_next = access == access_high;
    channel.read_high_next = access == access_high;
    channel.latched_bytes = 0;
    channel.latched_status.reset();
    channel.irq_tick.reset();
}

void Pit8254::read_back(std::uint8_t value, std::uint64_t now) {
    for (unsigned index = 0; index < m_channels.size(); ++index) {
        if (!(value & (2u << index))) continue;
        Channel& channel = m_channels[index];
        if (!(value & read_back_no_count)) latch_count(channel, now);
        if (!(value & read_back_no_status) && !channel.latched_status) {
            std::uint8_t status = static_cast<std::uint8_t>(
                (channel.access << control_access_shift) | (channel.mode << control_mode_shift) |
                (channel.bcd ? control_bcd : 0));
            if (channel.output(now)) status |= status_output;
            if (channel.null_count) status |= status_null_count;
            channel.latched_status = status;
        }
    }
}

std::uint8_t Pit8254::read_counter(Channel& channel, std::uint64_t now) {
    if (channel.latched_status) {
        const std::uint8_t status = *channel.latched_status;
        channel.latched_status.reset();
        return status;
    }
    if (channel.latched_bytes != 0) {
        const bool high = channel.latched_high_next;
        channel.latched_high_next = !high;
        --channel.latched_bytes;
        return static_cast<std::uint8_t>(high ? channel.latched_count >> 8 : channel.latched_count);
    }
    // Unlatched reads see the live counter; in LSB-then-MSB mode the bytes alternate.
    const std::uint16_t count = channel.current_count(now);
    const bool high = channel.read_high_next;
    if (channel.access == access_word) channel.read_high_next = !high;
    return static_cast<std::uint8_t>(high ? count >> 8 : count);
}

void Pit8254::write_counter(Channel& channel, std::uint8_t value, std::uint64_t now) {
    switch (channel.access) {
    case access_low:
        load_count(channel, value, now);
        break;
    case access_high:
        load_count(channel, std::uint32_t{value} << 8, now);
        break;
    default:
        if (!channel.write_high_next) {
            channel.write_low_pending = value;
            channel.write_high_next = true;
            if (channel.mode == 0) { // datasheet: writing the first byte stops mode 0 counting
                channel.base_ticks = channel.elapsed(now);
                channel.base_ns = now;
                channel.running = false;
                channel.irq_tick.reset();
            }
        } else {
            channel.write_high_next = false;
            load_count(channel, channel.write_low_pending | (std::uint32_t{value} << 8), now);
        }
        break;
    }
}

std::uint8_t Pit8254::read_port_b(std::uint64_t now) const {
    std::uint8_t value = m_port_b;
    if ((now / refresh_period_ns) & 1) value |= port_b_refresh;
    if (m_channels[2].output(now)) value |= port_b_out2;
    return value;
}

void Pit8254::write_port_b(std::uint8_t value, std::uint64_t now) {
    m_port_b = value & port_b_writable;
    set_gate(m_channels[2], value & port_b_gate2, now);
}

void Pit8254::CounterWindow::read(std::uint64_t offset, std::span<std::uint8_t> data) {
    std::lock_guard lock(m_pit.m_mutex);
    const std::uint64_t now = m_pit.m_clock();
    for (std::size_t i = 0; i < data.size(); ++i) {
        const std::uint64_t port = offset + i;
        // The control register (port 3) is write-only; reading it returns nothing useful.
        data[i] = port < 3 ? m_pit.read_counter(m_pit.m_channels[port], now) : 0xff;
    }
}

void Pit8254::CounterWindow::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    {
        std::lock_guard lock(m_pit.m_mutex);
        const std::uint64_t now = m_pit.m_clock();
        for (std::size_t i = 0; i < data.size(); ++i) {
            const std::uint64_t port = offset + i;
            if (port < 3)
                m_pit.write_counter(m_pit.m_channels[port], data[i], now);
            else if (port == 3)
                m_pit.write_control(data[i], now);
        }
    }
    if (m_pit.m_reprogrammed) m_pit.m_reprogrammed(); // outside the lock
}

void Pit8254::PortBWindow::read(std::uint64_t offset, std::span<std::uint8_t> data) {
    std::lock_guard lock(m_pit.m_mutex);
    const std::uint64_t now = m_pit.m_clock();
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = offset + i == 0 ? m_pit.read_port_b(now) : 0xff;
}

void Pit8254::PortBWindow::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    std::lock_guard lock(m_pit.m_mutex);
    if (offset == 0 && !data.empty()) m_pit.write_port_b(data[0], m_pit.m_clock());
}

} // namespace vessel
