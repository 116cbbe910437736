// LocalApic: register semantics of the xAPIC/x2APIC, interrupt acceptance and priority, timer.
#include "platform/pc/local_apic.hpp"

#include <algorithm>
#include <utility>

namespace vessel::pc {

namespace {

// IA32_APIC_BASE (SDM Vol. 3A 11.4.4, Figure 11-5).
constexpr std::uint64_t base_bsp = 1u << 8;
constexpr std::uint64_t base_extd = 1u << 10;                  ///< x2APIC mode
constexpr std::uint64_t base_enable = 1u << 11;                ///< APIC global enable
constexpr std::uint64_t base_reserved = 0xfff00000000002ffULL; ///< bits 0-7, 9, 52-63

// Register offsets (SDM Table 11-1; x2APIC MSR = 0x800 + offset / 16, Table 11-6).
constexpr std::uint32_t reg_id = 0x20;
constexpr std::uint32_t reg_version = 0x30;
constexpr std::uint32_t reg_tpr = 0x80;
constexpr std::uint32_t reg_apr = 0x90;
constexpr std::uint32_t reg_ppr = 0xa0;
constexpr std::uint32_t reg_eoi = 0xb0;
constexpr std::uint32_t reg_rrd = 0xc0;
constexpr std::uint32_t reg_ldr = 0xd0;
constexpr std::uint32_t reg_dfr = 0xe0;
constexpr std::uint32_t reg_svr = 0xf0;
constexpr std::uint32_t reg_isr = 0x100; ///< 8 registers, 0x100-0x170
constexpr std::uint32_t reg_tmr = 0x180;
constexpr std::uint32_t reg_irr = 0x200;
constexpr std::uint32_t reg_esr = 0x280;
constexpr std::uint32_t reg_icr_low = 0x300;
constexpr std::uint32_t reg_icr_high = 0x310;
constexpr std::uint32_t reg_lvt_timer = 0x320; ///< LVT entries at 0x320 + 16 * index
constexpr std::uint32_t reg_lvt_last = 0x370;
constexpr std::uint32_t reg_initial_count = 0x380;
constexpr std::uint32_t reg_current_count = 0x390;
constexpr std::uint32_t reg_divide_config = 0x3e0;
constexpr std::uint32_t reg_self_ipi = 0x3f0; ///< x2APIC only

// LVT indexes and bits (SDM 11.5.1, Figure 11-8).
constexpr std::uint32_t lvt_timer = 0;
constexpr std::uint32_t lvt_lint0 = 3;
constexpr std::uint32_t lvt_error = 5;
constexpr std::uint32_t lvt_mask = 1u << 16;
constexpr std::uint32_t lvt_vector = 0xff;
constexpr std::uint32_t lvt_delivery_mode_shift = 8;
constexpr std::uint32_t lvt_timer_mode_shift = 17;
constexpr std::uint32_t timer_one_shot = 0;
constexpr std::uint32_t timer_periodic = 1;
constexpr std::uint32_t timer_tsc_deadline = 2;
/// Writable bits per LVT entry: timer, thermal, performance, LINT0, LINT1, error.
constexpr std::array<std::uint32_t, 6> lvt_writable = {0x000700ff, 0x000107ff, 0x000107ff,
                                                       0x0001a7ff, 0x0001a7ff, 0x000100ff};
constexpr std::uint32_t extint_mode = 7;

// SVR (SDM 11.9, Figure 11-23).
constexpr std::uint32_t svr_enable = 1u << 8;
constexpr std::uint32_t svr_writable = 0x3ff; ///< vector, enable, focus check
// ESR (SDM 11.5.3, Figure 11-9).
constexpr std::uint32_t esr_send_illegal_vector = 1u << 5;
constexpr std::uint32_t esr_receive_illegal_vector = 1u << 6;
constexpr std::uint32_t esr_illegal_register = 1u << 7;
// ICR (SDM 11.6.1, Figure 11-12).
constexpr std::uint32_t icr_delivery_shift = 8;
constexpr std::uint64_t icr_logical = 1u << 11;
constexpr std::uint64_t icr_assert = 1u << 14;
constexpr std::uint64_t icr_level = 1u << 15;
constexpr std::uint32_t icr_shorthand_shift = 18;
constexpr std::uint64_t icr_writable_low = 0x000ccfff; ///< delivery status (bit 12) is read-only
constexpr std::uint32_t divide_writable = 0xb;

constexpr std::uint64_t ns_per_second = 1'000'000'000;
/// Periodic timer interrupts faster than this are stretched (as KVM's min_timer_period_us).
constexpr std::uint64_t min_periodic_ns = 200'000;
constexpr std::size_t max_startup_requests = 4;

int highest_bit(const std::array<std::uint32_t, 8>& words) {
    for (int word = 7; word >= 0; --word)
        if (words[word] != 0) return word * 32 + 31 - __builtin_clz(words[word]);
    return -1;
}
bool test_bit(const std::array<std::uint32_t, 8>& words, unsigned bit) {
    return words[bit / 32] & (1u << (bit % 32));
}
void set_bit(std::array<std::uint32_t, 8>& words, unsigned bit, bool value) {
    if (value)
        words[bit / 32] |= 1u << (bit % 32);
    else
        words[bit / 32] &= ~(1u << (bit % 32));
}

} // namespace

LocalApic::LocalApic(std::uint32_t id, bool bootstrap, std::uint64_t tsc_frequency_hz,
                     MonotonicClock clock, Hooks hooks)
    : m_initial_id(id), m_bootstrap(bootstrap), m_tsc_frequency_hz(tsc_frequency_hz),
      m_clock(std::move(clock)), m_hooks(std::move(hooks)),
      m_base(default_base | base_enable | (bootstrap ? base_bsp : 0)) {
    m_xapic_id = id << 24;
    StateLock lock(*this); // publishes the summaries of the reset state
    reset();
}

/// Power-up/INIT state (SDM 11.4.7.1, 11.4.7.3); the APIC ID and base MSR are kept.
void LocalApic::reset() {
    m_tpr = 0;
    m_ldr = 0;
    m_dfr = 0xffffffff;
    m_svr = 0xff;
    m_isr.fill(0);
    m_tmr.fill(0);
    m_irr.fill(0);
    m_esr = 0;
    m_esr_pending = 0;
    m_icr = 0;
    m_lvt.fill(lvt_mask);
    // Firmware leaves the BSP in virtual wire mode so the 8259 reaches it (as QEMU and KVM).
    if (m_bootstrap) m_lvt[lvt_lint0] = extint_mode << lvt_delivery_mode_shift;
    m_initial_count = 0;
    m_divide_config = 0;
    m_timer_deadline_ns.reset();
    m_tsc_deadline = 0;
    if (m_base & base_extd) m_ldr = ((m_initial_id >> 4) << 16) | (1u << (m_initial_id & 0xf));
}

void LocalApic::power_on_reset() {
    StateLock lock(*this);
    m_base = default_base | base_enable | (m_bootstrap ? base_bsp : 0);
    m_published_base.store(m_base);
    m_xapic_id = m_initial_id << 24;
    reset();
    m_nmi_pending = false;
    m_startup_requests.clear();
}

std::uint32_t LocalApic::id() const {
    StateLock lock(*this);
    return m_base & base_extd ? m_initial_id : m_xapic_id >> 24;
}

LocalApic::Mode LocalApic::mode() const {
    StateLock lock(*this);
    if (!(m_base & base_enable)) return Mode::Disabled;
    return m_base & base_extd ? Mode::X2Apic : Mode::XApic;
}

bool LocalApic::hardware_enabled() const {
    return m_base & base_enable;
}
bool LocalApic::software_enabled() const {
    return hardware_enabled() && (m_svr & svr_enable);
}

std::uint64_t LocalApic::apic_base() const {
    // Lock-free: every TLB fill of this vCPU asks (the xAPIC page is not RAM).
    return m_published_base.load(std::memory_order_acquire);
}

bool LocalApic::set_apic_base(std::uint64_t value) {
    StateLock lock(*this);
    if (value & base_reserved) return false;
    const bool enable = value & base_enable;
    const bool extd = value & base_extd;
    const bool was_x2apic = (m_base & base_enable) && (m_base & base_extd);
    const bool was_enabled = m_base & base_enable;
    // SDM 11.12.5, Figure 11-27: only disabled <-> xAPIC -> x2APIC -> disabled are legal.
    if (extd && !enable) return false;
    if (was_x2apic && enable && !extd) return false;
    if (!was_enabled && extd) return false;
    value = (value & ~base_bsp) | (m_base & base_bsp); // BSP flag is fixed by the platform
    m_base = value;
    m_published_base.store(value, std::memory_order_release);
    if (!enable && was_enabled) reset(); // SDM 11.4.3: disabling may lose APIC state
    if (extd && !was_x2apic) {
        // Entering x2APIC mode: ID is the full initial ID, LDR derived from it (SDM 11.12.10.2).
        m_ldr = ((m_initial_id >> 4) << 16) | (1u << (m_initial_id & 0xf));
    }
    if (!enable) m_xapic_id = m_initial_id << 24;
    return true;
}

// ---- time ----

std::uint64_t LocalApic::tsc_at(std::uint64_t ns) const {
    return static_cast<std::uint64_t>(static_cast<unsigned __int128>(ns) * m_tsc_frequency_hz /
                                      ns_per_second);
}

std::uint64_t LocalApic::ns_at_tsc(std::uint64_t tsc) const {
    const auto product = static_cast<unsigned __int128>(tsc) * ns_per_second;
    const auto ns = (product + m_tsc_frequency_hz - 1) / m_tsc_frequency_hz;
    return ns > ~std::uint64_t{0} ? ~std::uint64_t{0} : static_cast<std::uint64_t>(ns);
}

std::uint32_t LocalApic::timer_mode() const {
    return (m_lvt[lvt_timer] >> lvt_timer_mode_shift) & 3;
}

/// SDM 11.5.4, Figure 11-10: bits 3,1,0 select divide by 2, 4, ... 128, or 1 (111b).
std::uint64_t LocalApic::timer_divisor() const {
    const std::uint32_t code = (m_divide_config & 3) | ((m_divide_config >> 1) & 4);
    return std::uint64_t{1} << ((code + 1) & 7);
}

std::uint32_t LocalApic::current_count(std::uint64_t now) const {
    if (m_initial_count == 0 || timer_mode() == timer_tsc_deadline) return 0;
    const std::uint64_t ticks = (now - std::min(now, m_timer_start_ns)) / timer_divisor();
    if (timer_mode() == timer_periodic)
        return m_initial_count - static_cast<std::uint32_t>(ticks % m_initial_count);
    return ticks >= m_initial_count ? 0 : m_initial_count - static_cast<std::uint32_t>(ticks);
}

void LocalApic::write_initial_count(std::uint32_t value, std::uint64_t now) {
    if (timer_mode() == timer_tsc_deadline) return; // SDM 11.5.4.1: ignored in that mode
    m_initial_count = value;
    m_timer_start_ns = now;
    if (value == 0)
        m_timer_deadline_ns.reset();
    else
        m_timer_deadline_ns = now + value * timer_divisor();
}

void LocalApic::fire_lvt(std::uint32_t index) {
    const std::uint32_t entry = m_lvt[index];
    if (entry & lvt_mask) return;
    set_irr(static_cast<std::uint8_t>(entry & lvt_vector), false);
}

void LocalApic::update(std::uint64_t now) {
    StateLock lock(*this);
    if (timer_mode() == timer_tsc_deadline) {
        if (m_tsc_deadline != 0 && tsc_at(now) >= m_tsc_deadline) {
            m_tsc_deadline = 0;
            fire_lvt(lvt_timer);
        }
        return;
    }
    if (!m_timer_deadline_ns || now < *m_timer_deadline_ns) return;
    fire_lvt(lvt_timer);
    if (timer_mode() != timer_periodic) {
        m_timer_deadline_ns.reset();
        return;
    }
    // One interrupt however many periods were missed; the next deadline is in the future.
    const std::uint64_t period = std::max(m_initial_count * timer_divisor(), min_periodic_ns);
    const std::uint64_t missed = (now - *m_timer_deadline_ns) / period;
    *m_timer_deadline_ns += (missed + 1) * period;
}

std::optional<std::uint64_t> LocalApic::next_deadline() const {
    StateLock lock(*this);
    if (timer_mode() == timer_tsc_deadline) {
        if (m_tsc_deadline == 0) return std::nullopt;
        return ns_at_tsc(m_tsc_deadline);
    }
    return m_timer_deadline_ns;
}

std::uint64_t LocalApic::tsc_deadline() const {
    StateLock lock(*this);
    return timer_mode() == timer_tsc_deadline ? m_tsc_deadline : 0;
}

void LocalApic::set_tsc_deadline(std::uint64_t value) {
    StateLock lock(*this);
    if (timer_mode() == timer_tsc_deadline) m_tsc_deadline = value;
}

// ---- interrupt state ----

int LocalApic::highest_irr() const {
    return highest_bit(m_irr);
}
int LocalApic::highest_isr() const {
    return highest_bit(m_isr);
}

std::uint8_t LocalApic::processor_priority_locked() const {
    const int in_service = highest_isr();
    const std::uint32_t isrv = in_service < 0 ? 0 : static_cast<std::uint32_t>(in_service);
    if ((m_tpr & 0xf0) >= (isrv & 0xf0)) return static_cast<std::uint8_t>(m_tpr & 0xff);
    return static_cast<std::uint8_t>(isrv & 0xf0);
}

std::uint8_t LocalApic::processor_priority() const {
    StateLock lock(*this);
    return processor_priority_locked();
}

void LocalApic::set_irr(std::uint8_t vector, bool level) {
    if (vector < 16) { // vectors 0-15 are reserved (SDM 11.5.2)
        signal_error(esr_receive_illegal_vector);
        return;
    }
    set_bit(m_irr, vector, true);
    set_bit(m_tmr, vector, level);
}

void LocalApic::signal_error(std::uint32_t bit) {
    const bool first = (m_esr_pending & bit) == 0;
    m_esr_pending |= bit;
    const std::uint32_t entry = m_lvt[lvt_error];
    // Guard against recursion: an illegal error vector would signal another error.
    if (first && !(entry & lvt_mask) && (entry & lvt_vector) >= 16) {
        set_bit(m_irr, entry & lvt_vector, true);
        set_bit(m_tmr, entry & lvt_vector, false);
    }
}

bool LocalApic::has_interrupt() const {
    return m_interrupt_ready.load(std::memory_order_acquire);
}

bool LocalApic::deliverable_locked() const {
    if (!hardware_enabled()) return false;
    const int vector = highest_irr();
    return vector >= 0 &&
           (static_cast<std::uint32_t>(vector) & 0xf0) > (processor_priority_locked() & 0xf0u);
}

bool LocalApic::accepts_pic_locked() const {
    if (!hardware_enabled()) return true;
    const std::uint32_t lint0 = m_lvt[lvt_lint0];
    return !(lint0 & lvt_mask) && ((lint0 >> lvt_delivery_mode_shift) & 7) == extint_mode;
}

LocalApic::StateLock::~StateLock() {
    m_apic.m_interrupt_ready.store(m_apic.deliverable_locked(), std::memory_order_release);
    m_apic.m_pic_ready.store(m_apic.accepts_pic_locked(), std::memory_order_release);
    m_apic.m_mutex.unlock();
}

std::uint8_t LocalApic::acknowledge() {
    StateLock lock(*this);
    const int vector = highest_irr();
    if (!hardware_enabled() || vector < 0 ||
        (static_cast<std::uint32_t>(vector) & 0xf0) <= (processor_priority_locked() & 0xf0u))
        return static_cast<std::uint8_t>(m_svr & 0xff); // spurious (SDM 11.9)
    set_bit(m_irr, static_cast<unsigned>(vector), false);
    set_bit(m_isr, static_cast<unsigned>(vector), true);
    return static_cast<std::uint8_t>(vector);
}

bool LocalApic::accepts_pic_interrupts() const {
    return m_pic_ready.load(std::memory_order_acquire);
}

bool LocalApic::has_nmi() const {
    StateLock lock(*this);
    return m_nmi_pending;
}

bool LocalApic::take_nmi() {
    StateLock lock(*this);
    return std::exchange(m_nmi_pending, false);
}

std::optional<soft::StartupRequest> LocalApic::take_startup_request() {
    StateLock lock(*this);
    if (m_startup_requests.empty()) return std::nullopt;
    const soft::StartupRequest request = m_startup_requests.front();
    m_startup_requests.pop_front();
    return request;
}

bool LocalApic::has_startup_request() const {
    StateLock lock(*this);
    return !m_startup_requests.empty();
}

bool LocalApic::matches_destination(std::uint32_t destination, bool logical, bool wide) const {
    StateLock lock(*this);
    if (!hardware_enabled()) return false;
    const std::uint32_t broadcast = wide ? 0xffffffff : 0xff;
    if (destination == broadcast) return true;
    const bool x2apic = m_base & base_extd;
    if (!logical) return destination == (x2apic ? m_initial_id : m_xapic_id >> 24);
    if (x2apic) // cluster in bits 31:16, member bitmap in 15:0 (SDM 11.12.10.2)
        return (destination >> 16) == (m_ldr >> 16) && (destination & m_ldr & 0xffff) != 0;
    const std::uint32_t logical_id = m_ldr >> 24;
    const std::uint32_t target = destination & 0xff;
    if ((m_dfr >> 28) == 0xf) return (target & logical_id) != 0;                   // flat model
    return (target >> 4) == (logical_id >> 4) && (target & logical_id & 0xf) != 0; // cluster
}

bool LocalApic::accept(const ApicMessage& message) {
    StateLock lock(*this);
    if (!hardware_enabled()) return false;
    using DeliveryMode = ApicMessage::DeliveryMode;
    switch (message.delivery_mode) {
    case DeliveryMode::Fixed:
    case DeliveryMode::LowestPriority:
        // A software-disabled APIC does not take fixed interrupts (SDM 11.4.7.2; KVM too).
        if (!software_enabled()) return false;
        set_irr(message.vector, message.level_triggered);
        return true;
    case DeliveryMode::Nmi:
        m_nmi_pending = true;
        return true;
    case DeliveryMode::Init:
        if (message.level_triggered && !message.assert_level) return true; // INIT de-assert
        reset();
        if (m_startup_requests.size() < max_startup_requests)
            m_startup_requests.push_back({soft::StartupRequest::Kind::Init, 0});
        return true;
    case DeliveryMode::StartUp:
        if (m_startup_requests.size() < max_startup_requests)
            m_startup_requests.push_back({soft::StartupRequest::Kind::StartUp, message.vector});
        return true;
    default:
        return false; // SMI and ExtINT messages are not modelled
    }
}

// ---- registers ----

std::uint32_t LocalApic::read_register(std::uint32_t offset, std::uint64_t now) const {
    const bool x2apic = m_base & base_extd;
    switch (offset) {
    case reg_id:
        return x2apic ? m_initial_id : m_xapic_id;
    case reg_version:
        return version | (max_lvt_entry << 16);
    case reg_tpr:
        return m_tpr;
    case reg_apr:
        return 0;
    case reg_ppr:
        return processor_priority_locked();
    case reg_rrd:
        return 0;
    case reg_ldr:
        return m_ldr;
    case reg_dfr:
        return m_dfr;
    case reg_svr:
        return m_svr;
    case reg_esr:
        return m_esr;
    case reg_icr_low:
        return static_cast<std::uint32_t>(m_icr & ~(1u << 12)); // always idle
    case reg_icr_high:
        return static_cast<std::uint32_t>(m_icr >> 32);
    case reg_initial_count:
        return m_initial_count;
    case reg_current_count:
        return current_count(now);
    case reg_divide_config:
        return m_divide_config;
    default:
        break;
    }
    if (offset >= reg_isr && offset < reg_isr + 0x80) return m_isr[(offset - reg_isr) / 16];
    if (offset >= reg_tmr && offset < reg_tmr + 0x80) return m_tmr[(offset - reg_tmr) / 16];
    if (offset >= reg_irr && offset < reg_irr + 0x80) return m_irr[(offset - reg_irr) / 16];
    if (offset >= reg_lvt_timer && offset <= reg_lvt_last)
        return m_lvt[(offset - reg_lvt_timer) / 16];
    return 0;
}

void LocalApic::write_lvt(std::uint32_t index, std::uint32_t value, std::uint64_t now) {
    value &= lvt_writable[index];
    if (!software_enabled()) value |= lvt_mask; // SDM 11.4.7.2: masks stay set
    if (index == lvt_timer) {
        const std::uint32_t old_mode = timer_mode();
        const std::uint32_t new_mode = (value >> lvt_timer_mode_shift) & 3;
        if ((old_mode == timer_tsc_deadline) != (new_mode == timer_tsc_deadline)) {
            // Switching to or from TSC-deadline mode disarms the timer (SDM 11.5.4.1).
            m_initial_count = 0;
            m_timer_deadline_ns.reset();
            m_tsc_deadline = 0;
        } else if (new_mode != old_mode && m_initial_count != 0) {
            m_timer_start_ns = now;
            m_timer_deadline_ns = now + m_initial_count * timer_divisor();
        }
    }
    m_lvt[index] = value;
}

void LocalApic::end_of_interrupt(Actions& actions) {
    const int vector = highest_isr();
    if (vector < 0) return;
    set_bit(m_isr, static_cast<unsigned>(vector), false);
    if (test_bit(m_tmr, static_cast<unsigned>(vector)))
        actions.eoi_vector = static_cast<std::uint8_t>(vector); // SDM 11.8.5
}

void LocalApic::send_icr(std::uint64_t icr, Actions& actions) {
    ApicMessage message;
    message.vector = static_cast<std::uint8_t>(icr & 0xff);
    message.delivery_mode = static_cast<ApicMessage::DeliveryMode>((icr >> icr_delivery_shift) & 7);
    message.logical_destination = icr & icr_logical;
    message.assert_level = icr & icr_assert;
    message.level_triggered = icr & icr_level;
    message.shorthand = static_cast<ApicMessage::Shorthand>((icr >> icr_shorthand_shift) & 3);
    message.wide_destination = m_base & base_extd;
    message.destination = message.wide_destination ? static_cast<std::uint32_t>(icr >> 32)
                                                   : static_cast<std::uint32_t>(icr >> 56);
    const bool fixed = message.delivery_mode == ApicMessage::DeliveryMode::Fixed ||
                       message.delivery_mode == ApicMessage::DeliveryMode::LowestPriority;
    if (fixed && message.vector < 16) {
        signal_error(esr_send_illegal_vector);
        return;
    }
    actions.ipi = message;
}

void LocalApic::write_register(std::uint32_t offset, std::uint32_t value, std::uint64_t now,
                               Actions& actions) {
    const bool x2apic = m_base & base_extd;
    switch (offset) {
    case reg_id:
        if (!x2apic) m_xapic_id = value & 0xff000000;
        return;
    case reg_tpr:
        m_tpr = value & 0xff;
        return;
    case reg_eoi:
        end_of_interrupt(actions);
        return;
    case reg_ldr:
        if (!x2apic) m_ldr = value & 0xff000000;
        return;
    case reg_dfr:
        if (!x2apic) m_dfr = value | 0x0fffffff;
        return;
    case reg_svr:
        m_svr = value & svr_writable;
        if (!(m_svr & svr_enable))
            for (auto& entry : m_lvt)
                entry |= lvt_mask; // SDM 11.4.7.2
        return;
    case reg_esr: // a write latches the errors seen since the last write (SDM 11.5.3)
        m_esr = m_esr_pending;
        m_esr_pending = 0;
        return;
    case reg_icr_low:
        m_icr = (m_icr & 0xffffffff00000000ULL) | (value & icr_writable_low);
        send_icr(m_icr, actions);
        return;
    case reg_icr_high:
        m_icr = (m_icr & 0xffffffff) | (std::uint64_t{value & 0xff000000} << 32);
        return;
    case reg_initial_count:
        write_initial_count(value, now);
        return;
    case reg_divide_config: {
        // Keep the current count continuous across a divisor change.
        const std::uint32_t count = current_count(now);
        m_divide_config = value & divide_writable;
        if (m_initial_count != 0 && timer_mode() != timer_tsc_deadline && count != 0) {
            m_timer_start_ns = now - (m_initial_count - count) * timer_divisor();
            m_timer_deadline_ns = now + count * timer_divisor();
        }
        return;
    }
    default:
        break;
    }
    if (offset >= reg_lvt_timer && offset <= reg_lvt_last) {
        write_lvt((offset - reg_lvt_timer) / 16, value, now);
        return;
    }
    // Read-only registers (version, PPR, ISR/TMR/IRR, current count) ignore writes.
}

void LocalApic::run(const Actions& actions) {
    if (actions.eoi_vector && m_hooks.eoi_broadcast) m_hooks.eoi_broadcast(*actions.eoi_vector);
    if (actions.ipi && m_hooks.send_ipi) m_hooks.send_ipi(*actions.ipi);
}

std::uint8_t LocalApic::task_priority() const {
    StateLock lock(*this);
    return static_cast<std::uint8_t>(m_tpr);
}

void LocalApic::set_task_priority(std::uint8_t value) {
    StateLock lock(*this);
    m_tpr = value;
}

std::uint32_t LocalApic::mmio_read(std::uint32_t offset) {
    StateLock lock(*this);
    if (offset >= 0x1000 || (offset & 0xf) != 0) return 0;
    const std::uint32_t reg = offset;
    const bool known =
        reg <= reg_divide_config && reg != 0x00 && reg != 0x10 && reg != reg_self_ipi;
    if (!known) return 0;
    return read_register(reg, m_clock());
}

void LocalApic::mmio_write(std::uint32_t offset, std::uint32_t value) {
    Actions actions;
    {
        StateLock lock(*this);
        if (offset >= 0x1000 || (offset & 0xf) != 0) return;
        if (offset > reg_divide_config) {
            signal_error(esr_illegal_register);
            return;
        }
        write_register(offset, value, m_clock(), actions);
    }
    run(actions);
}

bool LocalApic::msr_read(std::uint32_t msr, std::uint64_t& value) {
    StateLock lock(*this);
    value = 0;
    if (!(m_base & base_extd) || msr < x2apic_msr_first || msr > x2apic_msr_last) return false;
    const std::uint32_t reg = (msr - x2apic_msr_first) << 4;
    switch (reg) {
    case reg_icr_low:
        value = m_icr & ~std::uint64_t{1u << 12};
        return true;
    case reg_id:
    case reg_version:
    case reg_tpr:
    case reg_ppr:
    case reg_ldr:
    case reg_svr:
    case reg_esr:
    case reg_initial_count:
    case reg_current_count:
    case reg_divide_config:
        break;
    default:
        // Register arrays and LVT entries; everything else (EOI, SELF IPI, DFR, APR, RRD,
        // ICR high, reserved) raises #GP (SDM Table 11-6).
        if (!(reg >= reg_isr && reg < reg_irr + 0x80) &&
            !(reg >= reg_lvt_timer && reg <= reg_lvt_last))
            return false;
        break;
    }
    value = read_register(reg, m_clock());
    return true;
}

bool LocalApic::msr_write(std::uint32_t msr, std::uint64_t value) {
    Actions actions;
    {
        StateLock lock(*this);
        if (!(m_base & base_extd) || msr < x2apic_msr_first || msr > x2apic_msr_last) return false;
        const std::uint32_t reg = (msr - x2apic_msr_first) << 4;
        const std::uint64_t now = m_clock();
        if (reg == reg_icr_low) {
            m_icr = value & (0xffffffff00000000ULL | icr_writable_low);
            send_icr(m_icr, actions);
        } else if (reg == reg_self_ipi) {
            if (value >> 8) return false;
            ApicMessage message;
            message.vector = static_cast<std::uint8_t>(value);
            message.shorthand = ApicMessage::Shorthand::Self;
            message.wide_destination = true;
            if (message.vector < 16)
                signal_error(esr_send_illegal_vector);
            else
                actions.ipi = message;
        } else {
            if (value >> 32) return false; // reserved bits must be zero
            const auto low = static_cast<std::uint32_t>(value);
            switch (reg) {
            case reg_eoi:
            case reg_esr:
                if (low != 0) return false; // SDM 11.12.1.2: non-zero writes raise #GP
                break;
            case reg_tpr:
            case reg_svr:
            case reg_initial_count:
            case reg_divide_config:
                break;
            default:
                if (!(reg >= reg_lvt_timer && reg <= reg_lvt_last)) return false; // read-only
                break;
            }
            write_register(reg, low, now, actions);
        }
    }
    run(actions);
    return true;
}

} // namespace vessel::pc
