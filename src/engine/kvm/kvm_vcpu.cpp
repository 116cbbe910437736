// KvmVcpu: register conversion, CPUID/MSR/LAPIC set-up, KVM_RUN and exit dispatch.
#include "engine/kvm/kvm_vcpu.hpp"

#include "base/kvm_uapi.hpp"
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "arch/x86/msr.hpp"
#include "base/log.hpp"

namespace vessel::kvm {

namespace {

// A real-time signal interrupts KVM_RUN on kick; its handler does nothing.
int kick_signal() {
    return SIGRTMIN + 1;
}

void install_kick_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction action {};
        action.sa_handler = [](int) {};
        sigemptyset(&action.sa_mask);
        action.sa_flags = 0; // no SA_RESTART: KVM_RUN must return EINTR
        sigaction(kick_signal(), &action, nullptr);
    });
}

// Local APIC LVT registers and delivery modes (Intel SDM Vol. 3A, 10.5.1).
constexpr std::size_t apic_lvt_lint0 = 0x350;
constexpr std::size_t apic_lvt_lint1 = 0x360;
constexpr std::uint32_t delivery_mode_mask = 0x700;
constexpr std::uint32_t delivery_mode_extint = 0x700;
constexpr std::uint32_t delivery_mode_nmi = 0x400;

kvm_segment to_kvm(const x86::SegmentRegister& segment) {
    kvm_segment result{};
    result.base = segment.base;
    result.limit = segment.limit;
    result.selector = segment.selector;
    result.type = segment.type;
    result.present = segment.present;
    result.dpl = segment.dpl;
    result.db = segment.default_big;
    result.s = !segment.system;
    result.l = segment.long_mode;
    result.g = segment.granularity;
    result.unusable = segment.unusable;
    return result;
}

x86::SegmentRegister from_kvm(const kvm_segment& segment) {
    x86::SegmentRegister result;
    result.base = segment.base;
    result.limit = segment.limit;
    result.selector = segment.selector;
    result.type = segment.type;
    result.present = segment.present;
    result.dpl = segment.dpl;
    result.default_big = segment.db;
    result.system = !segment.s;
    result.long_mode = segment.l;
    result.granularity = segment.g;
    result.unusable = segment.unusable;
    return result;
}

// System segment types (Intel SDM Vol. 3A, table 3-2).
constexpr std::uint8_t type_ldt = 2;
constexpr std::uint8_t type_tss_available = 9;
constexpr std::uint8_t type_tss_busy = 11;

} // namespace

Result<std::unique_ptr<KvmVcpu>> KvmVcpu::create(const KvmSystem& system, VmContext context,
                                                 UniqueFd fd, std::uint32_t index) {
    std::unique_ptr<KvmVcpu> vcpu(new KvmVcpu(context, std::move(fd), index));
    TRY(vcpu->set_up(system));
    return vcpu;
}

KvmVcpu::~KvmVcpu() {
    if (m_run != nullptr) ::munmap(m_run, m_run_size);
}

Result<void> KvmVcpu::set_up(const KvmSystem& system) {
    install_kick_handler();
    m_run_size = system.vcpu_mmap_size();
    void* run = ::mmap(nullptr, m_run_size, PROT_READ | PROT_WRITE, MAP_SHARED, m_fd.get(), 0);
    if (run == MAP_FAILED)
        return make_error("vCPU {}: cannot map kvm_run: {}", m_index, std::strerror(errno));
    m_run = static_cast<kvm_run*>(run);
    TRY(set_cpuid(system));
    TRY(set_boot_msrs());
    TRY(set_local_interrupt_pins());
    return {};
}

Result<void> KvmVcpu::set_cpuid(const KvmSystem& system) {
    auto entries = system.supported_cpuid();
    x86::apply_cpuid_policy(entries, m_index, m_context.cpu_count);
    std::size_t bytes = sizeof(kvm_cpuid2) + entries.size() * sizeof(kvm_cpuid_entry2);
    std::unique_ptr<std::uint8_t[]> storage(new std::uint8_t[bytes]());
    // Sound: zeroed storage sized for the header plus entries.size() flexible-array entries.
    auto* cpuid = reinterpret_cast<kvm_cpuid2*>(storage.get());
    cpuid->nent = static_cast<std::uint32_t>(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
        auto& out = cpuid->entries[i];
        out.function = entries[i].function;
        out.index = entries[i].index;
        out.flags = entries[i].significant_index ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
        out.eax = entries[i].eax;
        out.ebx = entries[i].ebx;
        out.ecx = entries[i].ecx;
        out.edx = entries[i].edx;
    }
    TRY(KVM_IOCTL(m_fd.get(), KVM_SET_CPUID2, cpuid));
    return {};
}

Result<void> KvmVcpu::set_boot_msrs() {
    std::uint8_t storage[sizeof(kvm_msrs) + 2 * sizeof(kvm_msr_entry)] = {};
    // Sound: the byte array is large enough for the header and two entries; kvm_msrs has
    // 8-byte members and the array is only accessed through this pointer.
    auto* msrs = reinterpret_cast<kvm_msrs*>(storage);
    msrs->nmsrs = 2;
    msrs->entries[0].index = x86::msr::misc_enable;
    msrs->entries[0].data = x86::msr::misc_enable_fast_strings;
    msrs->entries[1].index = x86::msr::mtrr_def_type;
    msrs->entries[1].data = x86::msr::mtrr_def_type_enable | x86::msr::mtrr_type_write_back;
    int written = TRY(KVM_IOCTL(m_fd.get(), KVM_SET_MSRS, msrs));
    if (written != 2) return make_error("vCPU {}: KVM_SET_MSRS set {} of 2 MSRs", m_index, written);
    return {};
}

Result<void> KvmVcpu::set_local_interrupt_pins() {
    // Virtual-wire mode as a BIOS leaves it: the PIC reaches the CPU through LINT0 and NMIs
    // through LINT1, so PIC-driven guests work before they program the local APIC.
    kvm_lapic_state lapic{};
    TRY(KVM_IOCTL(m_fd.get(), KVM_GET_LAPIC, &lapic));
    auto update = [&](std::size_t offset, std::uint32_t mode) {
        std::uint32_t value;
        std::memcpy(&value, lapic.regs + offset, 4);
        value = (value & ~delivery_mode_mask) | mode;
        std::memcpy(lapic.regs + offset, &value, 4);
    };
    update(apic_lvt_lint0, delivery_mode_extint);
    update(apic_lvt_lint1, delivery_mode_nmi);
    TRY(KVM_IOCTL(m_fd.get(), KVM_SET_LAPIC, &lapic));
    return {};
}

Result<void> KvmVcpu::set_state(const x86::CpuState& state) {
    kvm_sregs sregs{};
    TRY(KVM_IOCTL(m_fd.get(), KVM_GET_SREGS, &sregs));
    sregs.cs = to_kvm(state.cs);
    sregs.ds = to_kvm(state.ds);
    sregs.es = to_kvm(state.es);
    sregs.fs = to_kvm(state.fs);
    sregs.gs = to_kvm(state.gs);
    sregs.ss = to_kvm(state.ss);
    // Keep KVM's reset TR/LDT unless the state carries real system descriptors: VMX entry
    // requires a usable busy TSS.
    if (state.tr.system && (state.tr.type == type_tss_busy || state.tr.type == type_tss_available))
        sregs.tr = to_kvm(state.tr);
    if (state.ldt.system && state.ldt.type == type_ldt) sregs.ldt = to_kvm(state.ldt);
    sregs.gdt.base = state.gdt.base;
    sregs.gdt.limit = state.gdt.limit;
    sregs.idt.base = state.idt.base;
    sregs.idt.limit = state.idt.limit;
    sregs.cr0 = state.cr0;
    sregs.cr2 = state.cr2;
    sregs.cr3 = state.cr3;
    sregs.cr4 = state.cr4;
    sregs.cr8 = state.cr8;
    sregs.efer = state.efer;
    TRY(KVM_IOCTL(m_fd.get(), KVM_SET_SREGS, &sregs));

    kvm_regs regs{};
    using namespace x86;
    regs.rax = state.gpr[rax];
    regs.rbx = state.gpr[rbx];
    regs.rcx = state.gpr[rcx];
    regs.rdx = state.gpr[rdx];
    regs.rsi = state.gpr[rsi];
    regs.rdi = state.gpr[rdi];
    regs.rsp = state.gpr[rsp];
    regs.rbp = state.gpr[rbp];
    regs.r8 = state.gpr[r8];
    regs.r9 = state.gpr[r9];
    regs.r10 = state.gpr[r10];
    regs.r11 = state.gpr[r11];
    regs.r12 = state.gpr[r12];
    regs.r13 = state.gpr[r13];
    regs.r14 = state.gpr[r14];
    regs.r15 = state.gpr[r15];
    regs.rip = state.rip;
    regs.rflags = state.rflags | rflags::fixed1;
    TRY(KVM_IOCTL(m_fd.get(), KVM_SET_REGS, &regs));
    return {};
}

Result<x86::CpuState> KvmVcpu::state() {
    kvm_regs regs{};
    kvm_sregs sregs{};
    TRY(KVM_IOCTL(m_fd.get(), KVM_GET_REGS, &regs));
    TRY(KVM_IOCTL(m_fd.get(), KVM_GET_SREGS, &sregs));
    x86::CpuState state;
    using namespace x86;
    state.gpr[rax] = regs.rax;
    state.gpr[rbx] = regs.rbx;
    state.gpr[rcx] = regs.rcx;
    state.gpr[rdx] = regs.rdx;
    state.gpr[rsi] = regs.rsi;
    state.gpr[rdi] = regs.rdi;
    state.gpr[rsp] = regs.rsp;
    state.gpr[rbp] = regs.rbp;
    state.gpr[r8] = regs.r8;
    state.gpr[r9] = regs.r9;
    state.gpr[r10] = regs.r10;
    state.gpr[r11] = regs.r11;
    state.gpr[r12] = regs.r12;
    state.gpr[r13] = regs.r13;
    state.gpr[r14] = regs.r14;
    state.gpr[r15] = regs.r15;
    state.rip = regs.rip;
    state.rflags = regs.rflags;
    state.cs = from_kvm(sregs.cs);
    state.ds = from_kvm(sregs.ds);
    state.es = from_kvm(sregs.es);
    state.fs = from_kvm(sregs.fs);
    state.gs = from_kvm(sregs.gs);
    state.ss = from_kvm(sregs.ss);
    state.tr = from_kvm(sregs.tr);
    state.ldt = from_kvm(sregs.ldt);
    state.gdt = {sregs.gdt.base, sregs.gdt.limit};
    state.idt = {sregs.idt.base, sregs.idt.limit};
    state.cr0 = sregs.cr0;
    state.cr2 = sregs.cr2;
    state.cr3 = sregs.cr3;
    state.cr4 = sregs.cr4;
    state.cr8 = sregs.cr8;
    state.efer = sregs.efer;
    return state;
}

std::uint64_t KvmVcpu::current_rip() {
    kvm_regs regs{};
    if (::ioctl(m_fd.get(), KVM_GET_REGS, &regs) < 0) return 0;
    return regs.rip;
}

Result<void> KvmVcpu::set_guest_debug(const GuestDebug& debug) {
    DebugRegisterSlots slots;
    // KVM_GUESTDBG_BLOCKIRQ needs KVM_CAP_SET_GUEST_DEBUG2 (Linux 5.15); asked for, it either
    // works or the ioctl fails with EINVAL, and then the step runs with interrupts allowed.
    kvm_guest_debug control = TRY(encode_guest_debug(debug, true, slots));
    if (::ioctl(m_fd.get(), KVM_SET_GUEST_DEBUG, &control) < 0) {
        if (!(control.control & KVM_GUESTDBG_BLOCKIRQ))
            return make_error("KVM_SET_GUEST_DEBUG: {}", std::strerror(errno));
        control.control &= ~KVM_GUESTDBG_BLOCKIRQ;
        if (::ioctl(m_fd.get(), KVM_SET_GUEST_DEBUG, &control) < 0)
            return make_error("KVM_SET_GUEST_DEBUG: {}", std::strerror(errno));
    }
    m_debug_slots = slots;
    return {};
}

void KvmVcpu::kick() {
    m_kicked.store(true);
    __atomic_store_n(&m_run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (m_thread_known.load()) pthread_kill(m_thread.load(), kick_signal());
}

void KvmVcpu::clear_kick() {
    m_kicked.store(false);
    __atomic_store_n(&m_run->immediate_exit, 0, __ATOMIC_SEQ_CST);
}

void KvmVcpu::handle_port_io() {
    auto& io = m_run->io;
    std::uint64_t total = std::uint64_t{io.size} * io.count;
    if (io.size == 0 || io.size > 4 || io.data_offset > m_run_size ||
        total > m_run_size - io.data_offset) {
        log::warn("vCPU {}: malformed port I/O exit at port {:#x}", m_index, io.port);
        return;
    }
    auto* data = reinterpret_cast<std::uint8_t*>(m_run) + io.data_offset;
    for (std::uint32_t i = 0; i < io.count; ++i) {
        std::span<std::uint8_t> item(data + i * io.size, io.size);
        if (io.direction == KVM_EXIT_IO_OUT)
            m_context.io_bus.write(io.port, item);
        else
            m_context.io_bus.read(io.port, item);
    }
}

void KvmVcpu::handle_mmio() {
    auto& mmio = m_run->mmio;
    std::size_t length = mmio.len <= sizeof(mmio.data) ? mmio.len : sizeof(mmio.data);
    std::span<std::uint8_t> data(mmio.data, length);
    if (mmio.is_write)
        m_context.mmio_bus.write(mmio.phys_addr, data);
    else
        m_context.mmio_bus.read(mmio.phys_addr, data);
}

VcpuExit KvmVcpu::run() {
    m_thread.store(pthread_self());
    m_thread_known.store(true);
    while (true) {
        if (m_kicked.load()) return {VcpuExit::Kind::Kicked, 0, {}};
        if (::ioctl(m_fd.get(), KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return {VcpuExit::Kind::Error, current_rip(),
                    fmt::format("KVM_RUN failed: {}", std::strerror(errno))};
        }
        switch (m_run->exit_reason) {
        case KVM_EXIT_IO:
            handle_port_io();
            break;
        case KVM_EXIT_MMIO:
            handle_mmio();
            break;
        case KVM_EXIT_INTR:
        case KVM_EXIT_IRQ_WINDOW_OPEN:
            break;
        case KVM_EXIT_HLT:
            return {VcpuExit::Kind::Halted, current_rip(), "hlt"};
        case KVM_EXIT_DEBUG:
            return {VcpuExit::Kind::Debug,
                    m_run->debug.arch.pc,
                    {},
                    decode_debug_exit(m_run->debug.arch, m_debug_slots)};
        case KVM_EXIT_SHUTDOWN:
            return {VcpuExit::Kind::Shutdown, current_rip(), "triple fault (shutdown)"};
        case KVM_EXIT_SYSTEM_EVENT:
            return {VcpuExit::Kind::Shutdown, current_rip(),
                    fmt::format("system event {}", m_run->system_event.type)};
        case KVM_EXIT_FAIL_ENTRY:
            return {VcpuExit::Kind::Error, current_rip(),
                    fmt::format("VM entry failed, hardware reason {:#x}",
                                m_run->fail_entry.hardware_entry_failure_reason)};
        case KVM_EXIT_INTERNAL_ERROR:
            if (m_run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
                return {VcpuExit::Kind::Error, current_rip(),
                        "KVM internal error: the host kernel could not emulate the guest's "
                        "instruction (KVM without VT-x/AMD-V emulates guest kernel code and "
                        "lacks some instructions; --engine soft runs it)"};
            return {VcpuExit::Kind::Error, current_rip(),
                    fmt::format("KVM internal error, suberror {}", m_run->internal.suberror)};
        default:
            return {VcpuExit::Kind::Error, current_rip(),
                    fmt::format("unhandled KVM exit reason {}", m_run->exit_reason)};
        }
    }
}

} // namespace vessel::kvm
