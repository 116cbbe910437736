// PcSoftPlatform: IRQ routing, interrupt acknowledge, timer polling and idle sleeping.
#include "platform/pc/pc_soft_platform.hpp"

#include <algorithm>
#include <chrono>

#include "base/log.hpp"
#include "platform/pc/msi_message.hpp"

namespace vessel::pc {

namespace {

constexpr std::uint32_t isa_irq_count = 16;
constexpr std::uint32_t pit_irq = 0;
constexpr std::uint32_t pit_ioapic_pin = 2; ///< ACPI MADT interrupt source override IRQ0 -> GSI2
constexpr std::uint32_t cascade_irq = 2;    ///< the PIC cascade; no device drives it
constexpr std::uint64_t ns_per_second = 1'000'000'000;

std::optional<std::uint64_t> earliest(std::optional<std::uint64_t> a,
                                      std::optional<std::uint64_t> b) {
    if (!a) return b;
    if (!b) return a;
    return std::min(*a, *b);
}

} // namespace

PcSoftPlatform::PcSoftPlatform(MonotonicClock clock)
    : m_clock(std::move(clock)), m_origin(m_clock()) {}

Result<std::unique_ptr<PcSoftPlatform>>
PcSoftPlatform::create(Bus& io_bus, Bus& mmio_bus, std::uint32_t cpu_count, MonotonicClock clock) {
    if (cpu_count == 0 || cpu_count > max_cpus)
        return make_error("soft platform: cpu count {} is outside 1-{}", cpu_count, max_cpus);
    if (!clock) return make_error("soft platform: no clock given");
    std::unique_ptr<PcSoftPlatform> platform(new PcSoftPlatform(std::move(clock)));
    TRY_CONTEXT(platform->build(io_bus, mmio_bus, cpu_count), "soft platform");
    return platform;
}

soft::SoftPlatformFactory PcSoftPlatform::factory(bool halted_processors_wait) {
    return [halted_processors_wait](
               Bus& io_bus, Bus& mmio_bus,
               std::uint32_t cpu_count) -> Result<std::unique_ptr<soft::SoftPlatform>> {
        auto platform = TRY(create(io_bus, mmio_bus, cpu_count, steady_clock_ns));
        platform->m_halted_processors_wait = halted_processors_wait;
        return std::unique_ptr<soft::SoftPlatform>(std::move(platform));
    };
}

Result<void> PcSoftPlatform::build(Bus& io_bus, Bus& mmio_bus, std::uint32_t cpu_count) {
    const MonotonicClock device_clock = [this] { return now(); };
    m_pic = std::make_unique<Pic8259>();
    // CPU 0 sleeps until the PIT deadline; another CPU reprogramming the PIT must wake it.
    m_pit = std::make_unique<Pit8254>(IrqLine(this, pit_irq), device_clock, [this] { wake(0); });
    m_ioapic = std::make_unique<IoApic>(
        [this](const ApicMessage& message) { return deliver(message, std::nullopt); });
    for (std::uint32_t cpu = 0; cpu < cpu_count; ++cpu) {
        LocalApic::Hooks hooks;
        hooks.send_ipi = [this, cpu](const ApicMessage& message) { deliver(message, cpu); };
        hooks.eoi_broadcast = [this](std::uint8_t vector) { m_ioapic->end_of_interrupt(vector); };
        m_apics.push_back(std::make_unique<LocalApic>(cpu, cpu == 0, guest_tsc_frequency_hz,
                                                      device_clock, std::move(hooks)));
        m_sleepers.push_back(std::make_unique<Sleeper>());
    }
    TRY(io_bus.insert(m_pic->master_window(), Pic8259::master_base, Pic8259::window_length));
    TRY(io_bus.insert(m_pic->slave_window(), Pic8259::slave_base, Pic8259::window_length));
    TRY(io_bus.insert(m_pic->elcr_window(), Pic8259::elcr_base, Pic8259::window_length));
    TRY(io_bus.insert(m_pit->counter_window(), Pit8254::base, Pit8254::window_length));
    TRY(io_bus.insert(m_pit->port_b_window(), Pit8254::port_b, 1));
    TRY(mmio_bus.insert(*m_ioapic, IoApic::base, IoApic::window_length));
    return {};
}

std::uint64_t PcSoftPlatform::now() const {
    return m_clock() - m_origin;
}

std::uint64_t PcSoftPlatform::tsc() const {
    return static_cast<std::uint64_t>(static_cast<unsigned __int128>(now()) *
                                      guest_tsc_frequency_hz / ns_per_second);
}

// ---- interrupt routing ----

void PcSoftPlatform::set_irq_level(std::uint32_t gsi, bool level) {
    if (gsi < isa_irq_count) {
        m_pic->set_irq_level(gsi, level);
        if (gsi == pit_irq)
            m_ioapic->set_pin_level(pit_ioapic_pin, level);
        else if (gsi != cascade_irq)
            m_ioapic->set_pin_level(gsi, level);
        if (level && pic_reaches(0) && m_pic->has_interrupt()) wake(0);
    } else if (gsi < IoApic::pin_count) {
        m_ioapic->set_pin_level(gsi, level);
    }
    // The IOAPIC path wakes its targets in deliver(); other GSIs do not exist here.
}

void PcSoftPlatform::signal_msi(std::uint64_t address, std::uint32_t data) {
    const auto message = decode_msi(address, data);
    if (!message) {
        log::debug("soft platform: dropped MSI address {:#x} data {:#x}", address, data);
        return;
    }
    deliver(*message, std::nullopt);
}

bool PcSoftPlatform::deliver(const ApicMessage& message, std::optional<std::uint32_t> source) {
    const auto count = static_cast<std::uint32_t>(m_apics.size());
    std::vector<std::uint32_t> targets;
    using Shorthand = ApicMessage::Shorthand;
    switch (message.shorthand) {
    case Shorthand::Self:
        if (source) targets.push_back(*source);
        break;
    case Shorthand::AllIncludingSelf:
    case Shorthand::AllExcludingSelf:
        for (std::uint32_t cpu = 0; cpu < count; ++cpu)
            if (message.shorthand == Shorthand::AllIncludingSelf || cpu != source)
                targets.push_back(cpu);
        break;
    case Shorthand::None:
        for (std::uint32_t cpu = 0; cpu < count; ++cpu)
            if (m_apics[cpu]->matches_destination(message.destination, message.logical_destination,
                                                  message.wide_destination))
                targets.push_back(cpu);
        // Lowest priority: the one APIC with the lowest PPR takes it (SDM 11.6.2.4).
        if (message.delivery_mode == ApicMessage::DeliveryMode::LowestPriority &&
            targets.size() > 1) {
            const auto lowest =
                std::min_element(targets.begin(), targets.end(), [this](auto a, auto b) {
                    return m_apics[a]->processor_priority() < m_apics[b]->processor_priority();
                });
            targets = {*lowest};
        }
        break;
    }
    bool accepted = false;
    for (std::uint32_t cpu : targets) {
        if (!m_apics[cpu]->accept(message)) continue;
        accepted = true;
        wake(cpu);
    }
    return accepted;
}

bool PcSoftPlatform::pic_reaches(std::uint32_t cpu) const {
    return cpu == 0 && m_apics[0]->accepts_pic_interrupts();
}

bool PcSoftPlatform::has_interrupt(std::uint32_t cpu) {
    if (cpu >= m_apics.size()) return false;
    // ExtINT from the PIC is served before the APIC's own vectors, as in KVM.
    if (pic_reaches(cpu) && m_pic->has_interrupt()) return true;
    return m_apics[cpu]->has_interrupt();
}

std::uint8_t PcSoftPlatform::acknowledge_interrupt(std::uint32_t cpu) {
    if (cpu >= m_apics.size()) return 0xff;
    if (pic_reaches(cpu) && m_pic->has_interrupt()) return m_pic->acknowledge();
    return m_apics[cpu]->acknowledge();
}

// ---- time and idling ----

void PcSoftPlatform::poll(std::uint32_t cpu) {
    if (cpu >= m_apics.size()) return;
    const std::uint64_t time = now();
    if (cpu == 0) m_pit->update(time);
    m_apics[cpu]->update(time);
}

std::optional<std::uint64_t> PcSoftPlatform::next_deadline(std::uint32_t cpu) const {
    std::optional<std::uint64_t> deadline = m_apics[cpu]->next_deadline();
    if (cpu == 0) deadline = earliest(deadline, m_pit->next_deadline());
    return deadline;
}

bool PcSoftPlatform::has_work(std::uint32_t cpu) {
    return has_interrupt(cpu) || m_apics[cpu]->has_nmi() || m_apics[cpu]->has_startup_request();
}

void PcSoftPlatform::wait_for_interrupt(std::uint32_t cpu) {
    if (cpu >= m_apics.size()) return;
    Sleeper& sleeper = *m_sleepers[cpu];
    for (;;) {
        poll(cpu);
        const bool work = has_work(cpu);
        const std::optional<std::uint64_t> deadline = next_deadline(cpu);
        std::unique_lock lock(sleeper.mutex);
        // Anything raised after has_work() ran has called wake(), so `woken` covers the gap.
        if (work || sleeper.woken) break;
        if (!deadline) {
            sleeper.wakeup.wait(lock, [&] { return sleeper.woken; });
            break;
        }
        const std::uint64_t time = now();
        if (*deadline <= time) continue;
        if (sleeper.wakeup.wait_for(lock, std::chrono::nanoseconds(*deadline - time),
                                    [&] { return sleeper.woken; }))
            break;
        // The deadline passed: poll the timers and look again.
    }
    std::lock_guard lock(sleeper.mutex);
    sleeper.woken = false;
}

void PcSoftPlatform::wake(std::uint32_t cpu) {
    if (cpu >= m_sleepers.size()) return;
    Sleeper& sleeper = *m_sleepers[cpu];
    {
        std::lock_guard lock(sleeper.mutex);
        sleeper.woken = true;
    }
    sleeper.wakeup.notify_one();
}

// ---- local APIC access ----

std::uint64_t PcSoftPlatform::apic_base(std::uint32_t cpu) const {
    return cpu < m_apics.size() ? m_apics[cpu]->apic_base() : 0;
}

bool PcSoftPlatform::set_apic_base(std::uint32_t cpu, std::uint64_t value) {
    return cpu < m_apics.size() && m_apics[cpu]->set_apic_base(value);
}

std::uint32_t PcSoftPlatform::apic_mmio_read(std::uint32_t cpu, std::uint32_t offset) {
    if (cpu >= m_apics.size() || m_apics[cpu]->mode() != LocalApic::Mode::XApic) return 0;
    return m_apics[cpu]->mmio_read(offset);
}

void PcSoftPlatform::apic_mmio_write(std::uint32_t cpu, std::uint32_t offset, std::uint32_t value) {
    if (cpu >= m_apics.size() || m_apics[cpu]->mode() != LocalApic::Mode::XApic) return;
    m_apics[cpu]->mmio_write(offset, value);
}

bool PcSoftPlatform::x2apic_msr_read(std::uint32_t cpu, std::uint32_t msr, std::uint64_t& value) {
    value = 0;
    return cpu < m_apics.size() && m_apics[cpu]->msr_read(msr, value);
}

std::optional<std::uint8_t> PcSoftPlatform::task_priority(std::uint32_t cpu) {
    if (cpu >= m_apics.size() || m_apics[cpu]->mode() == LocalApic::Mode::Disabled)
        return std::nullopt;
    return m_apics[cpu]->task_priority();
}

void PcSoftPlatform::set_task_priority(std::uint32_t cpu, std::uint8_t value) {
    if (cpu >= m_apics.size() || m_apics[cpu]->mode() == LocalApic::Mode::Disabled) return;
    m_apics[cpu]->set_task_priority(value);
}

bool PcSoftPlatform::x2apic_msr_write(std::uint32_t cpu, std::uint32_t msr, std::uint64_t value) {
    return cpu < m_apics.size() && m_apics[cpu]->msr_write(msr, value);
}

std::uint64_t PcSoftPlatform::tsc_deadline(std::uint32_t cpu) const {
    return cpu < m_apics.size() ? m_apics[cpu]->tsc_deadline() : 0;
}

void PcSoftPlatform::set_tsc_deadline(std::uint32_t cpu, std::uint64_t value) {
    if (cpu < m_apics.size()) m_apics[cpu]->set_tsc_deadline(value);
}

std::optional<soft::StartupRequest> PcSoftPlatform::take_startup_request(std::uint32_t cpu) {
    return cpu < m_apics.size() ? m_apics[cpu]->take_startup_request() : std::nullopt;
}

bool PcSoftPlatform::take_nmi(std::uint32_t cpu) {
    return cpu < m_apics.size() && m_apics[cpu]->take_nmi();
}

bool PcSoftPlatform::wait_for_startup(std::uint32_t cpu) {
    if (cpu >= m_apics.size() || !m_halted_processors_wait) return false;
    // Checked before the sleeper's lock: whatever is raised after this has called wake(),
    // so `woken` covers the gap. Maskable interrupts and timers do not end this halt.
    const bool pending = m_apics[cpu]->has_nmi() || m_apics[cpu]->has_startup_request();
    Sleeper& sleeper = *m_sleepers[cpu];
    std::unique_lock lock(sleeper.mutex);
    if (!pending) sleeper.wakeup.wait(lock, [&] { return sleeper.woken; });
    sleeper.woken = false;
    return true;
}

bool PcSoftPlatform::wait_for_sipi(std::uint32_t cpu) {
    if (cpu >= m_apics.size()) return false;
    // As wait_for_startup, but a pending NMI does not end this wait: wait-for-SIPI blocks NMIs
    // (Intel SDM Vol. 3C, 26.6.2), which stay pending in the local APIC until start-up. Every
    // platform of a VM can wait so, whether or not its halted processors wait for start-up.
    const bool pending = m_apics[cpu]->has_startup_request();
    Sleeper& sleeper = *m_sleepers[cpu];
    std::unique_lock lock(sleeper.mutex);
    if (!pending) sleeper.wakeup.wait(lock, [&] { return sleeper.woken; });
    sleeper.woken = false;
    return true;
}

void PcSoftPlatform::reset_cpu(std::uint32_t cpu) {
    if (cpu < m_apics.size()) m_apics[cpu]->power_on_reset();
}

} // namespace vessel::pc
