// Pic8259: 8259A command decoding (ICW1-4, OCW1-3), priority resolution and the INTA cycle.
#include "platform/pc/pic_8259.hpp"

namespace vessel {

namespace {

constexpr std::uint8_t icw1_select = 0x10;           ///< 8259A datasheet, ICW1 bit D4
constexpr std::uint8_t icw1_need_icw4 = 0x01;        ///< ICW1 IC4
constexpr std::uint8_t icw1_single = 0x02;           ///< ICW1 SNGL (no ICW3)
constexpr std::uint8_t ocw3_select = 0x08;           ///< OCW3 has D4=0, D3=1
constexpr std::uint8_t ocw3_poll = 0x04;             ///< OCW3 P
constexpr std::uint8_t ocw3_read_register = 0x02;    ///< OCW3 RR
constexpr std::uint8_t ocw3_read_isr = 0x01;         ///< OCW3 RIS
constexpr std::uint8_t ocw3_special_mask = 0x40;     ///< OCW3 ESMM
constexpr std::uint8_t ocw3_special_mask_set = 0x20; ///< OCW3 SMM
constexpr std::uint8_t icw4_auto_eoi = 0x02;         ///< ICW4 AEOI
constexpr std::uint8_t icw4_sfnm = 0x10;             ///< ICW4 special fully nested mode
constexpr std::uint8_t poll_valid = 0x80;            ///< poll word: an interrupt was pending
constexpr std::uint32_t cascade_line = 2;            ///< PC wiring: slave INT to master IR2
constexpr std::uint8_t spurious_line = 7;
// PIIX3 datasheet, ELCR1/ELCR2: IRQ0-2 and IRQ8/13 are always edge-triggered.
constexpr std::uint8_t master_elcr_mask = 0xf8;
constexpr std::uint8_t slave_elcr_mask = 0xde;

// OCW2 R/SL/EOI commands (bits 7-5), 8259A datasheet table "Operation Command Word 2".
enum Ocw2 : std::uint8_t {
    rotate_auto_eoi_clear = 0,
    non_specific_eoi = 1,
    specific_eoi = 3,
    rotate_auto_eoi_set = 4,
    rotate_non_specific_eoi = 5,
    set_priority = 6,
    rotate_specific_eoi = 7,
};

} // namespace

Pic8259::Pic8259() {
    m_master.is_master = true;
    m_master.elcr_mask = master_elcr_mask;
    m_slave.elcr_mask = slave_elcr_mask;
}

// ---- one chip ----

void Pic8259::Chip::set_line(std::uint32_t line, bool level) {
    const auto mask = static_cast<std::uint8_t>(1u << line);
    if (elcr & mask) {
        // Level-triggered: the request follows the line.
        if (level)
            irr |= mask;
        else
            irr &= ~mask;
    } else if (level && !(last_level & mask)) {
        irr |= mask; // rising edge latches a request
    }
    if (level)
        last_level |= mask;
    else
        last_level &= ~mask;
}

/// Priority rank (0 highest) of the best line in mask, given the rotation; 8 when empty.
int Pic8259::Chip::priority_of(std::uint8_t mask) const {
    if (mask == 0) return 8;
    int priority = 0;
    while (!(mask & (1u << ((priority + priority_add) & 7))))
        ++priority;
    return priority;
}

/// The line the chip would signal now, or -1: the best unmasked request must outrank every
/// in-service line (fully nested mode), except in special mask mode.
int Pic8259::Chip::pending_line() const {
    const int request = priority_of(irr & ~imr);
    if (request == 8) return -1;
    std::uint8_t in_service = isr;
    if (special_mask) in_service &= ~imr;
    // Special fully nested mode lets the slave interrupt again while line 2 is in service.
    if (special_fully_nested && is_master) in_service &= ~(1u << cascade_line);
    if (request < priority_of(in_service)) return (request + priority_add) & 7;
    return -1;
}

void Pic8259::Chip::acknowledge_line(int line) {
    const auto mask = static_cast<std::uint8_t>(1u << line);
    if (auto_eoi) {
        if (rotate_on_auto_eoi) priority_add = static_cast<std::uint8_t>((line + 1) & 7);
    } else {
        isr |= mask;
    }
    // An edge request is consumed; a level request stays while the line is high.
    if (!(elcr & mask)) irr &= ~mask;
}

void Pic8259::Chip::reset_for_icw1() {
    // 8259A datasheet, "Initialization Command Words": ICW1 clears the IMR, resets edge
    // detection, assigns IR7 the lowest priority and clears special mask mode.
    last_level = 0;
    irr &= elcr;
    imr = 0;
    isr = 0;
    priority_add = 0;
    vector_base = 0;
    read_isr = false;
    poll = false;
    special_mask = false;
    auto_eoi = false;
    rotate_on_auto_eoi = false;
    special_fully_nested = false;
    expect_icw4 = false;
    single = false;
    init_state = 0;
}

// ---- device ----

void Pic8259::update_cascade() {
    m_master.set_line(cascade_line, m_slave.pending_line() >= 0);
}

void Pic8259::set_irq_level(std::uint32_t irq, bool level) {
    if (irq >= line_count) return;
    StateLock lock(*this);
    if (irq < 8)
        m_master.set_line(irq, level);
    else
        m_slave.set_line(irq - 8, level);
    update_cascade();
}

bool Pic8259::has_interrupt() const {
    return m_output.load(std::memory_order_acquire);
}

std::uint8_t Pic8259::acknowledge() {
    StateLock lock(*this);
    std::uint8_t vector = 0;
    const int line = m_master.pending_line();
    if (line < 0) {
        vector = m_master.vector_base + spurious_line; // 8259A: spurious IR7
    } else if (line == static_cast<int>(cascade_line)) {
        const int slave_line = m_slave.pending_line();
        if (slave_line >= 0) {
            m_slave.acknowledge_line(slave_line);
            vector = static_cast<std::uint8_t>(m_slave.vector_base + slave_line);
        } else {
            vector = m_slave.vector_base + spurious_line; // spurious IRQ 15
        }
        m_master.acknowledge_line(line);
    } else {
        m_master.acknowledge_line(line);
        vector = static_cast<std::uint8_t>(m_master.vector_base + line);
    }
    update_cascade();
    return vector;
}

std::uint8_t Pic8259::poll_read(Chip& chip) {
    chip.poll = false;
    const int line = chip.pending_line();
    if (line < 0) return 0;
    chip.acknowledge_line(line);
    update_cascade();
    return static_cast<std::uint8_t>(poll_valid | line);
}

std::uint8_t Pic8259::read_port(Chip& chip, std::uint64_t offset) {
    if (chip.poll) return poll_read(chip);
    if (offset == 0) return chip.read_isr ? chip.isr : chip.irr;
    return chip.imr;
}

void Pic8259::write_port(Chip& chip, std::uint64_t offset, std::uint8_t value) {
    if (offset == 0)
        write_command(chip, value);
    else
        write_data(chip, value);
    update_cascade();
}

void Pic8259::write_command(Chip& chip, std::uint8_t value) {
    if (value & icw1_select) {
        chip.reset_for_icw1();
        chip.init_state = 1;
        chip.expect_icw4 = value & icw1_need_icw4;
        chip.single = value & icw1_single;
        // ICW1 LTIM (level mode for all lines) is not used on PCs, which have the ELCR.
        return;
    }
    if (value & ocw3_select) {
        if (value & ocw3_poll) chip.poll = true;
        if (value & ocw3_read_register) chip.read_isr = value & ocw3_read_isr;
        if (value & ocw3_special_mask) chip.special_mask = value & ocw3_special_mask_set;
        return;
    }
    const int line = value & 7;
    switch (value >> 5) {
    case rotate_auto_eoi_clear:
        chip.rotate_on_auto_eoi = false;
        break;
    case rotate_auto_eoi_set:
        chip.rotate_on_auto_eoi = true;
        break;
    case non_specific_eoi:
    case rotate_non_specific_eoi: {
        const int priority = chip.priority_of(chip.isr);
        if (priority == 8) break;
        const int served = (priority + chip.priority_add) & 7;
        chip.isr &= ~(1u << served);
        if ((value >> 5) == rotate_non_specific_eoi)
            chip.priority_add = static_cast<std::uint8_t>((served + 1) & 7);
        break;
    }
    case specific_eoi:
        chip.isr &= ~(1u << line);
        break;
    case set_priority:
        chip.priority_add = static_cast<std::uint8_t>((line + 1) & 7);
        break;
    case rotate_specific_eoi:
        chip.isr &= ~(1u << line);
        chip.priority_add = static_cast<std::uint8_t>((line + 1) & 7);
        break;
    default:
        break; // 2: no operation
    }
}

void Pic8259::write_data(Chip& chip, std::uint8_t value) {
    switch (chip.init_state) {
    case 0:
        chip.imr = value;
        break; // OCW1
    case 1:    // ICW2: T7-T3 of the vector
        chip.vector_base = value & 0xf8;
        chip.init_state = chip.single ? (chip.expect_icw4 ? 3 : 0) : 2;
        break;
    case 2: // ICW3: cascade wiring, fixed on a PC
        chip.init_state = chip.expect_icw4 ? 3 : 0;
        break;
    default: // ICW4
        chip.auto_eoi = value & icw4_auto_eoi;
        chip.special_fully_nested = value & icw4_sfnm;
        chip.init_state = 0;
        break;
    }
}

// ---- windows ----

std::string_view Pic8259::Window::name() const {
    switch (m_kind) {
    case Kind::Master:
        return "pic master";
    case Kind::Slave:
        return "pic slave";
    default:
        return "pic elcr";
    }
}

void Pic8259::Window::read(std::uint64_t offset, std::span<std::uint8_t> data) {
    StateLock lock(m_pic);
    // Wider accesses read consecutive byte ports, as on the ISA bus.
    for (std::size_t i = 0; i < data.size(); ++i) {
        const std::uint64_t port = offset + i;
        if (port >= window_length) {
            data[i] = 0xff;
        } else if (m_kind == Kind::Elcr) {
            data[i] = port == 0 ? m_pic.m_master.elcr : m_pic.m_slave.elcr;
        } else {
            data[i] =
                m_pic.read_port(m_kind == Kind::Master ? m_pic.m_master : m_pic.m_slave, port);
        }
    }
}

void Pic8259::Window::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    StateLock lock(m_pic);
    for (std::size_t i = 0; i < data.size(); ++i) {
        const std::uint64_t port = offset + i;
        if (port >= window_length) continue;
        if (m_kind == Kind::Elcr) {
            Chip& chip = port == 0 ? m_pic.m_master : m_pic.m_slave;
            chip.elcr = data[i] & chip.elcr_mask;
            m_pic.update_cascade();
        } else {
            m_pic.write_port(m_kind == Kind::Master ? m_pic.m_master : m_pic.m_slave, port,
                             data[i]);
        }
    }
}

} // namespace vessel
