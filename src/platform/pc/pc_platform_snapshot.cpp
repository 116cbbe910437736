// Snapshot state of the PC platform: PIC, PIT, IOAPIC, local APICs and the guest time line.
#include "platform/pc/pc_soft_platform.hpp"

namespace vessel {

// ---- 8259 PIC pair ----

template <typename Archive> void Pic8259::persist(Archive& archive) {
    for (Chip* chip : {&m_master, &m_slave}) {
        archive(chip->last_level, chip->irr, chip->imr, chip->isr, chip->priority_add,
                chip->vector_base, chip->elcr, chip->elcr_mask, chip->init_state, chip->read_isr,
                chip->poll, chip->special_mask, chip->auto_eoi, chip->rotate_on_auto_eoi,
                chip->special_fully_nested, chip->expect_icw4, chip->single, chip->is_master);
    }
}

void Pic8259::save_state(StateWriter& writer) {
    StateLock lock(*this);
    persist(writer);
}

void Pic8259::load_state(StateReader& reader) {
    StateLock lock(*this); // its release recomputes the INT output from the loaded state
    persist(reader);
    for (const Chip* chip : {&m_master, &m_slave}) {
        reader.check(chip->priority_add < 8, "PIC priority rotation");
        reader.check(chip->init_state <= 3, "PIC initialization step");
    }
    reader.check(m_master.is_master && !m_slave.is_master, "PIC cascade roles");
}

// ---- 8254 PIT ----

template <typename Archive> void Pit8254::persist(Archive& archive) {
    for (Channel& channel : m_channels) {
        archive(channel.count, channel.mode, channel.access, channel.bcd, channel.gate,
                channel.loaded, channel.null_count, channel.running, channel.awaiting_trigger,
                channel.base_ns, channel.base_ticks, channel.write_low_pending,
                channel.write_high_next, channel.read_high_next, channel.latched_count,
                channel.latched_bytes, channel.latched_high_next, channel.latched_status,
                channel.irq_tick);
    }
    archive(m_port_b);
}

void Pit8254::save_state(StateWriter& writer) {
    std::lock_guard lock(m_mutex);
    persist(writer);
}

void Pit8254::load_state(StateReader& reader) {
    std::lock_guard lock(m_mutex);
    persist(reader);
    for (const Channel& channel : m_channels) {
        reader.check(channel.count >= 1 && channel.count <= 0x10000, "PIT reload value");
        reader.check(channel.mode <= 5, "PIT mode");
        reader.check(channel.access >= 1 && channel.access <= 3, "PIT access mode");
        reader.check(channel.latched_bytes <= 2, "PIT latched count");
    }
}

// ---- IOAPIC ----

template <typename Archive> void IoApic::persist(Archive& archive) {
    archive(m_select, m_id, m_levels, m_redirection);
}

void IoApic::save_state(StateWriter& writer) {
    std::lock_guard lock(m_mutex);
    persist(writer);
}

void IoApic::load_state(StateReader& reader) {
    std::lock_guard lock(m_mutex);
    persist(reader);
    reader.check(m_select <= 0xff, "IOAPIC register select");
}

} // namespace vessel

namespace vessel::pc {

// ---- local APIC ----

template <typename Archive> void LocalApic::persist(Archive& archive) {
    archive(m_base, m_xapic_id, m_tpr, m_ldr, m_dfr, m_svr, m_isr, m_tmr, m_irr, m_esr,
            m_esr_pending, m_icr, m_lvt, m_initial_count, m_divide_config, m_timer_start_ns,
            m_timer_deadline_ns, m_tsc_deadline, m_nmi_pending);
    std::uint32_t requests = static_cast<std::uint32_t>(m_startup_requests.size());
    archive(requests);
    if constexpr (!Archive::saving) {
        archive.check(requests <= 16, "pending INIT/start-up IPIs");
        if (!archive.ok()) return;
        m_startup_requests.resize(requests);
    }
    for (soft::StartupRequest& request : m_startup_requests)
        archive(request.kind, request.vector);
}

void LocalApic::save_state(StateWriter& writer) {
    StateLock lock(*this);
    persist(writer);
}

void LocalApic::load_state(StateReader& reader) {
    StateLock lock(*this); // its release recomputes the interrupt-ready flags
    persist(reader);
    for (const soft::StartupRequest& request : m_startup_requests)
        reader.check(request.kind == soft::StartupRequest::Kind::Init ||
                         request.kind == soft::StartupRequest::Kind::StartUp,
                     "start-up IPI kind");
    // IA32_APIC_BASE holds the mode (EN, EXTD): only disabled, xAPIC and x2APIC exist, and the
    // reserved bits are clear (SDM Vol. 3A 11.4.4, 11.12.5), as set_apic_base enforces.
    constexpr std::uint64_t base_extd = 1u << 10, base_enable = 1u << 11;
    constexpr std::uint64_t base_reserved = 0xfff00000000002ffULL;
    reader.check(!(m_base & base_reserved) && (!(m_base & base_extd) || (m_base & base_enable)),
                 "local APIC base MSR");
    m_published_base.store(m_base, std::memory_order_release);
}

namespace {
constexpr std::uint32_t platform_magic = 0x50435031; // "PCP1": the PC platform, layout 1
}

Result<void> PcSoftPlatform::save_snapshot(StateWriter& writer) {
    const std::uint32_t cpus = static_cast<std::uint32_t>(m_apics.size());
    const std::uint64_t time = now();
    writer(platform_magic, cpus, time);
    m_pic->save_state(writer);
    m_pit->save_state(writer);
    m_ioapic->save_state(writer);
    for (auto& apic : m_apics)
        apic->save_state(writer);
    return {};
}

Result<void> PcSoftPlatform::load_snapshot(StateReader& reader) {
    std::uint32_t magic = 0, cpus = 0;
    std::uint64_t time = 0;
    reader(magic, cpus, time);
    reader.check(magic == platform_magic, "PC platform layout");
    if (reader.ok() && cpus != m_apics.size())
        return make_error("the snapshot has {} local APICs, this VM {}", cpus, m_apics.size());
    // Guest time continues from the saved instant: every timer here counts on now(), so moving
    // the origin keeps the PIT, APIC timers, TSC deadlines and the TSC where they were.
    if (reader.ok()) m_origin = m_clock() - time;
    m_pic->load_state(reader);
    m_pit->load_state(reader);
    m_ioapic->load_state(reader);
    for (auto& apic : m_apics)
        apic->load_state(reader);
    if (!reader.ok()) return make_error("PC platform state: {}", reader.error());
    return {};
}

} // namespace vessel::pc
