// Snapshot state of a software-engine vCPU: the architectural registers of docs/SNAPSHOT_FORMAT.md
// (section cpu.N). Decoded blocks, translated code and TLBs are caches, not state.
#include "engine/soft/cr4_bits.hpp"
#include "engine/soft/soft_vcpu.hpp"
#include "engine/soft/xsave_state.hpp"

namespace vessel::soft {
namespace {

constexpr std::uint32_t cpu_magic = 0x43505531; // "CPU1": the x86-64 vCPU layout, version 1
/// "CPU2": version 1 followed by the CPU model (u8, cpu_model.hpp), which a restore must provide.
constexpr std::uint32_t cpu_magic_with_model = 0x43505532;
/// "CPU3": version 2 followed by XCR0 (u64) and the upper halves of ymm0-ymm15 (16 x 2 u64).
constexpr std::uint32_t cpu_magic_with_avx = 0x43505533;
/// "CPU4": version 3 followed by PKRU (u32), the protection-key rights (not an XSAVE component).
constexpr std::uint32_t cpu_magic_with_pkru = 0x43505534;

template <typename Archive> void persist_segment(Archive& archive, x86::SegmentRegister& segment) {
    archive(segment.base, segment.limit, segment.selector, segment.type, segment.system,
            segment.dpl, segment.present, segment.long_mode, segment.default_big,
            segment.granularity, segment.unusable);
}

template <typename Archive> void persist_table(Archive& archive, x86::DescriptorTable& table) {
    archive(table.base, table.limit);
}

/// The architectural state in the order the format document lists it. `rflags` is passed
/// separately: the core keeps arithmetic flags lazily, the file holds their values.
template <typename Archive>
void persist_core(Archive& archive, CpuCore& core, std::uint64_t& rflags, bool& waiting) {
    archive(core.gpr, core.rip, rflags);
    for (x86::SegmentRegister& segment : core.segments) // es, cs, ss, ds, fs, gs
        persist_segment(archive, segment);
    persist_segment(archive, core.tr);
    persist_segment(archive, core.ldt);
    persist_table(archive, core.gdt);
    persist_table(archive, core.idt);
    archive(core.cr0, core.cr2, core.cr3, core.cr4, core.cr8, core.efer, core.dr);
    // MSRs the CPU keeps itself (the APIC base and TSC deadline are the platform's).
    archive(core.star, core.lstar, core.cstar, core.sfmask, core.kernel_gs_base, core.tsc_aux,
            core.sysenter_cs, core.sysenter_esp, core.sysenter_eip, core.pat, core.misc_enable,
            core.mtrr_def_type, core.spec_ctrl, core.tsc_offset);
    // x87 (physical registers R0-R7, control, status, top, tag) and SSE.
    archive(core.fpu.st, core.fpu.control, core.fpu.status, core.fpu.top, core.fpu.tag_valid);
    for (Xmm& xmm : core.fpu.xmm)
        archive(xmm.q);
    archive(core.fpu.mxcsr);
    // Pending events: the interrupt shadow (sti / mov ss), hlt, a pending shutdown, and
    // whether an application processor still waits for its start-up IPI.
    archive(core.interrupt_shadow, core.halted, core.pending_shutdown, waiting);
}

} // namespace

Result<void> SoftVcpu::save_snapshot(StateWriter& writer) {
    std::uint64_t rflags = m_core->flags();
    bool waiting = m_waiting_for_startup;
    writer(cpu_magic_with_pkru);
    persist_core(writer, *m_core, rflags, waiting);
    writer(static_cast<std::uint8_t>(m_core->cpu_model));
    writer(m_core->xcr0);
    for (Xmm& upper : m_core->fpu.ymm_upper)
        writer(upper.q);
    writer(m_core->pkru);
    return {};
}

Result<void> SoftVcpu::load_snapshot(StateReader& reader) {
    std::uint32_t magic = 0;
    reader(magic);
    reader.check(magic == cpu_magic || magic == cpu_magic_with_model ||
                     magic == cpu_magic_with_avx || magic == cpu_magic_with_pkru,
                 "vCPU state layout");
    if (!reader.ok()) return make_error("vCPU {}: {}", m_index, reader.error());
    std::uint64_t rflags = 0;
    bool waiting = false;
    CpuCore& core = *m_core;
    persist_core(reader, core, rflags, waiting);
    // A CPU1 snapshot comes from a software CPU that was always the baseline model.
    std::uint8_t model = static_cast<std::uint8_t>(CpuModel::Baseline);
    if (magic != cpu_magic) reader(model);
    // Older layouts: XCR0 at its reset value (x87 only) and YMM upper halves zero.
    core.xcr0 = xsave::x87;
    for (Xmm& upper : core.fpu.ymm_upper)
        upper = Xmm{};
    if (magic == cpu_magic_with_avx || magic == cpu_magic_with_pkru) {
        reader(core.xcr0);
        for (Xmm& upper : core.fpu.ymm_upper)
            reader(upper.q);
    }
    // Older layouts: PKRU at its reset value, 0.
    core.pkru = 0;
    if (magic == cpu_magic_with_pkru) reader(core.pkru);
    reader.check(model <= last_cpu_model_value, "CPU model");
    if (!reader.ok()) return make_error("vCPU {}: {}", m_index, reader.error());
    const auto cpu_model = static_cast<CpuModel>(model);
    if (const std::string problem = host_cannot_run(cpu_model); !problem.empty())
        return make_error("vCPU {}: the snapshot's {}: this host cannot restore it", m_index,
                          problem);
    core.set_cpu_model(cpu_model);
    const std::uint64_t xcr0_allowed =
        core.has_feature(isa::avx) ? xsave::supported_with_avx : (xsave::x87 | xsave::sse);
    reader.check((core.xcr0 & xsave::x87) &&
                     (!(core.xcr0 & xsave::ymm) || (core.xcr0 & xsave::sse)),
                 "XCR0 (x87 off, or YMM without SSE)");
    reader.check(core.fpu.top < 8, "x87 stack top");
    reader.check((core.efer & x86::efer::lma) == 0 || (core.cr0 & x86::cr0::pg) != 0,
                 "EFER.LMA without paging");
    if (!reader.ok()) return make_error("vCPU {}: {}", m_index, reader.error());
    if (const std::uint64_t extra = core.xcr0 & ~xcr0_allowed; extra != 0)
        return make_error("vCPU {}: the snapshot's XCR0 ({:#x}) enables state components {:#x}, "
                          "which the CPU model '{}' does not offer (it offers {:#x}): this "
                          "snapshot cannot be restored",
                          m_index, core.xcr0, extra, cpu_model_name(cpu_model), xcr0_allowed);
    // As mov to CR4 would raise #GP: a guest of another model (a hand-edited or corrupt file)
    // must not run with protections or state this model lacks (its CPUID says they are absent).
    if (const std::uint64_t extra = core.cr4 & ~cr4_bits_offered(core.isa_features); extra != 0)
        return make_error("vCPU {}: the snapshot's CR4 ({:#x}) has {} set, which the CPU model "
                          "'{}' does not offer: this snapshot cannot be restored",
                          m_index, core.cr4, cr4_bit_names(extra), cpu_model_name(cpu_model));
    core.set_flags(rflags);
    core.cr0 |= x86::cr0::et;
    m_waiting_for_startup = waiting;
    core.flush_tlb(true);
    core.update_mode();
    core.data_breakpoints = 0;
    core.update_breakpoints(); // DR7's data breakpoints keep their accesses off the TLB
    return {};
}

} // namespace vessel::soft
