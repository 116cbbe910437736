// System instruction handlers: control/segment registers, descriptor tables, MSRs, CPUID, I/O, hlt,
// syscall.
#include "arch/x86/canonical.hpp"
#include "engine/soft/cpuid_policy.hpp"
#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"
#include "engine/soft/protection_bits.hpp"
#include "engine/soft/soft_platform.hpp"
#include "engine/soft/xsave_state.hpp"

namespace vessel::soft {

namespace {

/// Writes a value to operand 0 at the op's size (register destinations of 16-bit moves from
/// segment registers are zero-extended when the operand size is 32/64).
void write_sized_operand(CpuCore& cpu, const DecodedOp& op, unsigned index, std::uint64_t value) {
    switch (op.operands[index].kind == OperandKind::Memory ? 2 : op.operand_size) {
    case 2:
        write_operand<2>(cpu, op, index, value);
        break;
    case 4:
        write_operand<4>(cpu, op, index, value);
        break;
    default:
        write_operand<8>(cpu, op, index, value);
        break;
    }
}

// ---- moves to and from system registers ----

void op_mov_from_segment(CpuCore& cpu, const DecodedOp& op) {
    write_sized_operand(cpu, op, 0, cpu.segments[op.operands[1].index].selector);
}

void op_mov_to_segment(CpuCore& cpu, const DecodedOp& op) {
    const unsigned segment = op.operands[0].index;
    if (segment == cs) cpu.raise(x86::vector::invalid_opcode);
    cpu.load_segment(segment, static_cast<std::uint16_t>(read_operand<2>(cpu, op, 1)));
    if (segment == ss) cpu.interrupt_shadow = cpu.ss_shadow = true;
    cpu.exit_block = true;
}

void op_mov_from_control(CpuCore& cpu, const DecodedOp& op) {
    require_cpl0(cpu);
    std::uint64_t value = 0;
    switch (op.operands[1].index) {
    case 0:
        value = cpu.cr0;
        break;
    case 2:
        value = cpu.cr2;
        break;
    case 3:
        value = cpu.cr3;
        break;
    case 4:
        value = cpu.cr4;
        break;
    case 8: // the APIC's TPR bits 7:4 in xAPIC and x2APIC mode alike (SDM 10.8.6.1)
        if (const auto tpr = cpu.platform()->task_priority(cpu.index())) cpu.cr8 = *tpr >> 4;
        value = cpu.cr8;
        break;
    default:
        cpu.raise(x86::vector::invalid_opcode);
    }
    cpu.set_reg_sized(cpu.mode == CpuMode::Long64 ? 8 : 4, op.operands[0].index, value);
}

void op_mov_to_control(CpuCore& cpu, const DecodedOp& op) {
    require_cpl0(cpu);
    std::uint64_t value = cpu.gpr[op.operands[1].index];
    if (cpu.mode != CpuMode::Long64) value &= 0xffff'ffff;
    switch (op.operands[0].index) {
    case 0:
        cpu.set_cr0(value);
        break;
    case 2:
        cpu.cr2 = value;
        break;
    case 3:
        cpu.set_cr3(value);
        break;
    case 4:
        cpu.set_cr4(value);
        break;
    case 8:
        if ((value & ~std::uint64_t{0xf}) != 0) cpu.raise(x86::vector::general_protection, 0);
        cpu.cr8 = value;
        cpu.platform()->set_task_priority(cpu.index(), static_cast<std::uint8_t>(value << 4));
        break;
    default:
        cpu.raise(x86::vector::invalid_opcode);
    }
    cpu.exit_block = true;
}

/// The debug register a mov names (Intel SDM Vol. 3, 18.2): DR4 and DR5 are DR6 and DR7 unless
/// CR4.DE is set, which makes them #UD, as is any number above 7 (REX.R).
unsigned debug_register(CpuCore& cpu, unsigned number) {
    if (number > 7) cpu.raise(x86::vector::invalid_opcode);
    if (number == 4 || number == 5) {
        if (cpu.cr4 & x86::cr4::de) cpu.raise(x86::vector::invalid_opcode);
        number += 2;
    }
    return number;
}

/// DR6 and DR7 bits software can change; the others read as fixed values (DR6 0xffff0ff0 with
/// no RTM, DR7 bit 10 set; Intel SDM Vol. 3, 18.2.3-18.2.4).
constexpr std::uint64_t dr6_volatile = 0xe00f, dr6_fixed1 = 0xffff0ff0;
constexpr std::uint64_t dr7_volatile = 0xffff2bff, dr7_fixed1 = 0x400;

/// DR7.GD (general detect): a mov to or from any debug register is a fault-class #DB with DR6.BD,
/// and delivering it clears GD so the handler can use the registers (Intel SDM Vol. 3, 18.2.4).
void check_general_detect(CpuCore& cpu) {
    constexpr std::uint64_t dr7_general_detect = 1u << 13, dr6_debug_register_access = 1u << 13;
    if (!(cpu.dr[7] & dr7_general_detect)) return;
    cpu.dr[6] |= dr6_debug_register_access;
    cpu.dr[7] &= ~dr7_general_detect;
    cpu.raise(x86::vector::debug);
}

void op_mov_from_debug(CpuCore& cpu, const DecodedOp& op) {
    require_cpl0(cpu);
    const unsigned number = debug_register(cpu, op.operands[1].index);
    check_general_detect(cpu);
    cpu.set_reg_sized(cpu.mode == CpuMode::Long64 ? 8 : 4, op.operands[0].index, cpu.dr[number]);
}

void op_mov_to_debug(CpuCore& cpu, const DecodedOp& op) {
    require_cpl0(cpu);
    const unsigned number = debug_register(cpu, op.operands[0].index);
    check_general_detect(cpu);
    std::uint64_t value = cpu.gpr[op.operands[1].index];
    if (cpu.mode != CpuMode::Long64) value &= 0xffff'ffff;
    switch (number) {
    case 6:
        if (value >> 32) cpu.raise(x86::vector::general_protection, 0); // MBZ in 64-bit mode
        cpu.dr[6] = (value & dr6_volatile) | dr6_fixed1;
        break;
    case 7:
        if (value >> 32) cpu.raise(x86::vector::general_protection, 0);
        cpu.dr[7] = (value & dr7_volatile) | dr7_fixed1;
        cpu.update_breakpoints();
        cpu.exit_block = true; // the run loop decides again whether to trace
        break;
    default:
        cpu.dr[number] = value;
        break;
    }
}

// ---- descriptor tables ----

void op_load_table(CpuCore& cpu, const DecodedOp& op) {
    require_cpl0(cpu);
    const std::uint64_t address = cpu.linear_address(op);
    const auto limit = static_cast<std::uint16_t>(cpu.read<2>(address));
    std::uint64_t base =
        cpu.mode == CpuMode::Long64 ? cpu.read<8>(address + 2) : cpu.read<4>(address + 2);
    if (op.operand_size == 2 && cpu.mode != CpuMode::Long64) base &= 0xff'ffff;
    // A 64-bit base must be canonical (#GP(0), as hardware and KVM's emulator check).
    if (cpu.mode == CpuMode::Long64 && !x86::is_canonical(base))
        cpu.raise(x86::vector::general_protection, 0);
    x86::DescriptorTable& table = op.mnemonic == ZYDIS_MNEMONIC_LGDT ? cpu.gdt : cpu.idt;
    table.base = base;
    table.limit = limit;
}

/// CR4.UMIP: sgdt, sidt, sldt, smsw and str are #GP(0) above CPL 0 (Intel SDM Vol. 3, 2.5).
void check_umip(CpuCore& cpu) {
    if ((cpu.cr4 & protection::cr4_umip) && cpu.cpl > 0)
        cpu.raise(x86::vector::general_protection, 0);
}

void op_store_table(CpuCore& cpu, const DecodedOp& op) {
    check_umip(cpu);
    const std::uint64_t address = cpu.linear_address(op);
    const x86::DescriptorTable& table = op.mnemonic == ZYDIS_MNEMONIC_SGDT ? cpu.gdt : cpu.idt;
    cpu.write<2>(address, table.limit);
    if (cpu.mode == CpuMode::Long64)
        cpu.write<8>(address + 2, table.base);
    else
        cpu.write<4>(address + 2, table.base);
}

void op_lldt(CpuCore& cpu, const DecodedOp& op) {
    require_cpl0(cpu);
    const auto selector = static_cast<std::uint16_t>(read_operand<2>(cpu, op, 0));
    const std::uint32_t error_code = x86::selector::error_code(selector);
    if (x86::selector::is_null(selector)) {
        cpu.ldt = x86::SegmentRegister{};
        cpu.ldt.unusable = true;
        cpu.ldt.selector = selector;
        return;
    }
    if (selector & x86::selector::table_local)
        cpu.raise(x86::vector::general_protection, error_code);
    x86::SegmentRegister table = cpu.read_descriptor(selector, x86::vector::general_protection);
    if (!table.system || table.type != x86::system_type::ldt)
        cpu.raise(x86::vector::general_protection, error_code);
    if (!table.present) cpu.raise(x86::vector::segment_not_present, error_code);
    // A 16-byte descriptor's 64-bit base must be canonical.
    if (cpu.long_mode_active() && !x86::is_canonical(table.base))
        cpu.raise(x86::vector::general_protection, error_code);
    cpu.ldt = table;
}

void op_ltr(CpuCore& cpu, const DecodedOp& op) {
    using namespace x86::system_type;
    require_cpl0(cpu);
    const auto selector = static_cast<std::uint16_t>(read_operand<2>(cpu, op, 0));
    const std::uint32_t error_code = x86::selector::error_code(selector);
    if (x86::selector::is_null(selector) || (selector & x86::selector::table_local))
        cpu.raise(x86::vector::general_protection, error_code);
    x86::SegmentRegister task = cpu.read_descriptor(selector, x86::vector::general_protection);
    // Only an available 16/32-bit TSS (Intel SDM Vol. 3, 3.5).
    if (!task.system || (task.type != tss_available && task.type != tss16_available))
        cpu.raise(x86::vector::general_protection, error_code);
    if (!task.present) cpu.raise(x86::vector::segment_not_present, error_code);
    if (cpu.long_mode_active() && !x86::is_canonical(task.base))
        cpu.raise(x86::vector::general_protection, error_code);
    const std::uint64_t address = cpu.descriptor_address(selector, x86::vector::general_protection);
    // Mark it busy: the type field is the low nibble of descriptor byte 5.
    cpu.write_system<1>(address + 5, cpu.read_system<1>(address + 5) | tss_busy_bit);
    task.type |= tss_busy_bit;
    cpu.tr = task;
}

void op_sldt(CpuCore& cpu, const DecodedOp& op) {
    check_umip(cpu);
    write_sized_operand(cpu, op, 0, cpu.ldt.selector);
}
void op_str(CpuCore& cpu, const DecodedOp& op) {
    check_umip(cpu);
    write_sized_operand(cpu, op, 0, cpu.tr.selector);
}

void op_smsw(CpuCore& cpu, const DecodedOp& op) {
    check_umip(cpu);
    write_sized_operand(cpu, op, 0, cpu.cr0 & 0xffff'ffff);
}

void op_lmsw(CpuCore& cpu, const DecodedOp& op) {
    require_cpl0(cpu);
    const std::uint64_t value = read_operand<2>(cpu, op, 0) & 0xf;
    // lmsw sets PE but never clears it.
    cpu.set_cr0((cpu.cr0 & ~std::uint64_t{0xe}) | value | (cpu.cr0 & x86::cr0::pe));
}

void op_clts(CpuCore& cpu, const DecodedOp&) {
    require_cpl0(cpu);
    cpu.cr0 &= ~x86::cr0::ts;
}

void op_invlpg(CpuCore& cpu, const DecodedOp& op) {
    require_cpl0(cpu);
    cpu.flush_tlb_page(cpu.linear_address(op));
}

void op_privileged_nop(CpuCore& cpu, const DecodedOp&) {
    require_cpl0(cpu);
}

/// lar/lsl: access rights or limit of a descriptor; ZF says whether it was readable.
template <bool Limit> void op_load_descriptor_field(CpuCore& cpu, const DecodedOp& op) {
    const auto selector = static_cast<std::uint16_t>(read_operand<2>(cpu, op, 1));
    std::uint64_t flags = cpu.flags() & ~x86::rflags::zf;
    if (!x86::selector::is_null(selector)) {
        try {
            const std::uint64_t address =
                cpu.descriptor_address(selector, x86::vector::general_protection);
            const std::uint64_t raw = cpu.read_system<8>(address);
            const x86::SegmentRegister segment = x86::decode_segment_descriptor(raw, selector);
            // Every code segment skips the privilege check here, as this handler always did
            // (the SDM exempts only conforming code segments).
            const bool code_segment = !segment.system && (segment.type & x86::segment_type::code);
            if (code_segment ||
                (segment.dpl >= cpu.cpl && segment.dpl >= (selector & x86::selector::rpl_mask))) {
                // lsl: the limit scaled by G; lar: the access-rights bytes of the high dword.
                const std::uint64_t value = Limit ? segment.limit : (raw >> 32) & 0x00ff'ff00;
                write_sized_operand(cpu, op, 0, value);
                flags |= x86::rflags::zf;
            }
        } catch (const GuestFault& fault) {
            if (fault.vector != x86::vector::general_protection) throw;
        }
    }
    cpu.set_flags(flags);
}

/// verr/verw: ZF says whether the selector's segment is readable/writable at the current CPL.
template <bool Write> void op_verify(CpuCore& cpu, const DecodedOp& op) {
    const auto selector = static_cast<std::uint16_t>(read_operand<2>(cpu, op, 0));
    std::uint64_t flags = cpu.flags() & ~x86::rflags::zf;
    if (!x86::selector::is_null(selector)) {
        try {
            using namespace x86::segment_type;
            const x86::SegmentRegister segment =
                x86::decode_segment_descriptor(cpu.read_system<8>(cpu.descriptor_address(
                                                   selector, x86::vector::general_protection)),
                                               selector);
            const bool is_code = segment.type & code;
            const bool accessible = segment.type & readable_or_writable;
            const bool allowed = Write ? (!is_code && accessible) : (!is_code || accessible);
            const bool privileged =
                (is_code && (segment.type & conforming)) ||
                (segment.dpl >= cpu.cpl && segment.dpl >= (selector & x86::selector::rpl_mask));
            if (!segment.system && allowed && privileged) flags |= x86::rflags::zf;
        } catch (const GuestFault& fault) {
            if (fault.vector != x86::vector::general_protection) throw;
        }
    }
    cpu.set_flags(flags);
}

/// lds/les/lfs/lgs/lss r, m16:xx.
void op_load_far_pointer(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t address = cpu.linear_address(op);
    const std::uint64_t offset = cpu.read_sized(address, op.operand_size);
    const auto selector = static_cast<std::uint16_t>(cpu.read<2>(address + op.operand_size));
    unsigned segment = ds;
    switch (op.mnemonic) {
    case ZYDIS_MNEMONIC_LES:
        segment = es;
        break;
    case ZYDIS_MNEMONIC_LFS:
        segment = fs;
        break;
    case ZYDIS_MNEMONIC_LGS:
        segment = gs;
        break;
    case ZYDIS_MNEMONIC_LSS:
        segment = ss;
        break;
    default:
        break;
    }
    cpu.load_segment(segment, selector);
    cpu.set_reg_sized(op.operand_size, op.operands[0].index, offset);
    if (segment == ss) cpu.interrupt_shadow = true;
    cpu.exit_block = true;
}

// ---- MSRs, CPUID, TSC ----

void op_rdmsr(CpuCore& cpu, const DecodedOp&) {
    require_cpl0(cpu);
    std::uint64_t value = 0;
    if (!cpu.read_msr(static_cast<std::uint32_t>(cpu.gpr[x86::rcx]), value))
        cpu.raise(x86::vector::general_protection, 0);
    cpu.set_reg<4>(x86::rax, value);
    cpu.set_reg<4>(x86::rdx, value >> 32);
}

void op_wrmsr(CpuCore& cpu, const DecodedOp&) {
    require_cpl0(cpu);
    const std::uint64_t value = (cpu.gpr[x86::rax] & 0xffff'ffff) | (cpu.gpr[x86::rdx] << 32);
    if (!cpu.write_msr(static_cast<std::uint32_t>(cpu.gpr[x86::rcx]), value))
        cpu.raise(x86::vector::general_protection, 0);
    cpu.exit_block = true;
}

void op_cpuid(CpuCore& cpu, const DecodedOp&) {
    const x86::CpuidEntry result =
        x86::find_cpuid_entry(cpu.cpuid_table, static_cast<std::uint32_t>(cpu.gpr[x86::rax]),
                              static_cast<std::uint32_t>(cpu.gpr[x86::rcx]));
    std::uint32_t ebx = result.ebx, ecx = result.ecx;
    // The fields that follow the OS's settings: CPUID.1:ECX.OSXSAVE mirrors CR4.OSXSAVE, and
    // CPUID.(0DH,0):EBX is the XSAVE area size for the components enabled in XCR0.
    if (result.function == 1 && cpu.has_feature(isa::xsave) && (cpu.cr4 & xsave::cr4_osxsave))
        ecx |= 1u << 27;
    if (result.function == 0xd && result.index == 0 && cpu.has_feature(isa::xsave))
        ebx = xsave::area_size(cpu.xcr0);
    // CPUID.(07H,0):ECX.OSPKE (bit 4) mirrors CR4.PKE.
    if (result.function == 7 && result.index == 0 && (cpu.cr4 & protection::cr4_pke))
        ecx |= 1u << 4;
    cpu.set_reg<4>(x86::rax, result.eax);
    cpu.set_reg<4>(x86::rbx, ebx);
    cpu.set_reg<4>(x86::rcx, ecx);
    cpu.set_reg<4>(x86::rdx, result.edx);
}

void op_rdtsc(CpuCore& cpu, const DecodedOp& op) {
    if (op.mnemonic == ZYDIS_MNEMONIC_RDTSCP) cpu.require_feature(isa::rdtscp);
    if ((cpu.cr4 & (1u << 2)) && cpu.cpl != 0)
        cpu.raise(x86::vector::general_protection, 0); // CR4.TSD
    const std::uint64_t value = cpu.tsc();
    cpu.set_reg<4>(x86::rax, value);
    cpu.set_reg<4>(x86::rdx, value >> 32);
    if (op.mnemonic == ZYDIS_MNEMONIC_RDTSCP) cpu.set_reg<4>(x86::rcx, cpu.tsc_aux);
}

// ---- interrupts flag, halt, ports ----

void op_cli(CpuCore& cpu, const DecodedOp&) {
    if (cpu.protected_mode() && cpu.cpl > ((cpu.rflags >> 12) & 3))
        cpu.raise(x86::vector::general_protection, 0);
    cpu.rflags &= ~x86::rflags::if_;
}

void op_sti(CpuCore& cpu, const DecodedOp&) {
    if (cpu.protected_mode() && cpu.cpl > ((cpu.rflags >> 12) & 3))
        cpu.raise(x86::vector::general_protection, 0);
    if (!(cpu.rflags & x86::rflags::if_)) cpu.interrupt_shadow = true; // Intel SDM Vol. 2, STI
    cpu.rflags |= x86::rflags::if_;
    // The block goes on unless an interrupt waits: the run loop takes it (after the shadow's
    // instruction) where the block ends. One that arrives later is taken at the next block
    // boundary the run loop sees, as for any instruction.
    if (cpu.interrupt_ready()) cpu.exit_block = true;
}

void op_hlt(CpuCore& cpu, const DecodedOp&) {
    require_cpl0(cpu);
    cpu.halted = true;
    cpu.exit_block = true;
}

void op_in(CpuCore& cpu, const DecodedOp& op) {
    const auto port = static_cast<std::uint16_t>(op.operands[1].kind == OperandKind::Immediate
                                                     ? op.immediate & 0xff
                                                     : cpu.gpr[x86::rdx] & 0xffff);
    const unsigned size = op.operands[0].size;
    cpu.check_io_privilege(port, size);
    const std::uint64_t value = cpu.port_in(port, size);
    if (size == 1)
        cpu.set_reg<1>(x86::rax, value);
    else if (size == 2)
        cpu.set_reg<2>(x86::rax, value);
    else
        cpu.set_reg<4>(x86::rax, value);
    cpu.exit_block = true; // devices may have raised interrupts
}

void op_out(CpuCore& cpu, const DecodedOp& op) {
    const auto port = static_cast<std::uint16_t>(op.operands[0].kind == OperandKind::Immediate
                                                     ? op.immediate & 0xff
                                                     : cpu.gpr[x86::rdx] & 0xffff);
    const unsigned size = op.operands[1].size;
    cpu.check_io_privilege(port, size);
    cpu.port_out(port, size, cpu.gpr[x86::rax] & size_mask(size));
    cpu.exit_block = true;
}

void op_ud(CpuCore& cpu, const DecodedOp&) {
    cpu.raise(x86::vector::invalid_opcode);
}

// ---- fast system calls ----

void op_swapgs(CpuCore& cpu, const DecodedOp&) {
    if (cpu.mode != CpuMode::Long64) cpu.raise(x86::vector::invalid_opcode);
    require_cpl0(cpu);
    std::swap(cpu.segments[gs].base, cpu.kernel_gs_base);
    cpu.update_mode();
}

/// Flat segments syscall/sysret load (Intel SDM Vol. 2, SYSCALL).
x86::SegmentRegister flat(std::uint16_t selector, bool code, bool long_mode, unsigned dpl) {
    x86::SegmentRegister segment = x86::flat_segment(selector, code ? 0xb : 0x3, long_mode);
    segment.default_big = !(code && long_mode);
    segment.dpl = static_cast<std::uint8_t>(dpl);
    return segment;
}

void op_syscall(CpuCore& cpu, const DecodedOp&) {
    if (!(cpu.efer & x86::efer::sce) || !cpu.long_mode_active())
        cpu.raise(x86::vector::invalid_opcode);
    const auto selector = static_cast<std::uint16_t>((cpu.star >> 32) & 0xfffc);
    cpu.gpr[x86::rcx] = cpu.rip;
    const std::uint64_t flags = cpu.flags();
    cpu.gpr[x86::r11] = flags & ~x86::rflags::rf;
    const bool from_64 = cpu.mode == CpuMode::Long64;
    cpu.segments[cs] = flat(selector, true, true, 0);
    cpu.segments[ss] = flat(static_cast<std::uint16_t>(selector + 8), false, false, 0);
    cpu.set_flags(flags & ~cpu.sfmask & ~x86::rflags::rf);
    cpu.update_mode();
    cpu.rip = from_64 ? cpu.lstar : cpu.cstar;
    cpu.exit_block = true;
}

void op_sysret(CpuCore& cpu, const DecodedOp& op) {
    if (!(cpu.efer & x86::efer::sce) || !cpu.long_mode_active())
        cpu.raise(x86::vector::invalid_opcode);
    require_cpl0(cpu);
    const auto base = static_cast<std::uint16_t>((cpu.star >> 48) & 0xfffc);
    const bool to_64 = op.operand_size == 8;
    const std::uint64_t target = cpu.gpr[x86::rcx];
    if (to_64 && !x86::is_canonical(target)) cpu.raise(x86::vector::general_protection, 0);
    cpu.segments[cs] =
        flat(static_cast<std::uint16_t>((to_64 ? base + 16 : base) | 3), true, to_64, 3);
    cpu.segments[ss] = flat(static_cast<std::uint16_t>((base + 8) | 3), false, false, 3);
    cpu.set_flags((cpu.gpr[x86::r11] & ~(x86::rflags::rf | x86::rflags::vm)) | x86::rflags::fixed1);
    cpu.update_mode();
    cpu.rip = to_64 ? target : (target & 0xffff'ffff);
    cpu.exit_block = true;
}

} // namespace

OpHandler select_system_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    op.ends_block = true;
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
        if (op.operands[1].kind == OperandKind::Segment) {
            op.ends_block = false;
            return &op_mov_from_segment;
        }
        if (op.operands[0].kind == OperandKind::Segment) return &op_mov_to_segment;
        if (op.operands[1].kind == OperandKind::Control) return &op_mov_from_control;
        if (op.operands[0].kind == OperandKind::Control) return &op_mov_to_control;
        if (op.operands[1].kind == OperandKind::Debug) return &op_mov_from_debug;
        if (op.operands[0].kind == OperandKind::Debug) return &op_mov_to_debug;
        return nullptr;
    case ZYDIS_MNEMONIC_LGDT:
    case ZYDIS_MNEMONIC_LIDT:
        return &op_load_table;
    case ZYDIS_MNEMONIC_SGDT:
    case ZYDIS_MNEMONIC_SIDT:
        return &op_store_table;
    case ZYDIS_MNEMONIC_LLDT:
        return &op_lldt;
    case ZYDIS_MNEMONIC_LTR:
        return &op_ltr;
    case ZYDIS_MNEMONIC_SLDT:
        return &op_sldt;
    case ZYDIS_MNEMONIC_STR:
        return &op_str;
    case ZYDIS_MNEMONIC_SMSW:
        return &op_smsw;
    case ZYDIS_MNEMONIC_LMSW:
        return &op_lmsw;
    case ZYDIS_MNEMONIC_CLTS:
        return &op_clts;
    case ZYDIS_MNEMONIC_INVLPG:
        return &op_invlpg;
    case ZYDIS_MNEMONIC_WBINVD:
    case ZYDIS_MNEMONIC_INVD:
        return &op_privileged_nop;
    case ZYDIS_MNEMONIC_LAR:
        return &op_load_descriptor_field<false>;
    case ZYDIS_MNEMONIC_VERR:
        op.ends_block = false;
        return &op_verify<false>;
    case ZYDIS_MNEMONIC_VERW:
        op.ends_block = false;
        return &op_verify<true>;
    case ZYDIS_MNEMONIC_LSL:
        return &op_load_descriptor_field<true>;
    case ZYDIS_MNEMONIC_LDS:
    case ZYDIS_MNEMONIC_LES:
    case ZYDIS_MNEMONIC_LFS:
    case ZYDIS_MNEMONIC_LGS:
    case ZYDIS_MNEMONIC_LSS:
        return &op_load_far_pointer;
    case ZYDIS_MNEMONIC_RDMSR:
        return &op_rdmsr;
    case ZYDIS_MNEMONIC_WRMSR:
        return &op_wrmsr;
    case ZYDIS_MNEMONIC_CPUID:
        return &op_cpuid;
    // rdtsc(p), cli, sti and swapgs leave the block going: they change nothing translated code
    // or the decoder depends on (the segment bases are read where used); sti ends it itself
    // when an interrupt waits.
    case ZYDIS_MNEMONIC_RDTSC:
    case ZYDIS_MNEMONIC_RDTSCP:
        op.ends_block = false;
        return &op_rdtsc;
    case ZYDIS_MNEMONIC_CLI:
        op.ends_block = false;
        return &op_cli;
    case ZYDIS_MNEMONIC_STI:
        op.ends_block = false;
        return &op_sti;
    case ZYDIS_MNEMONIC_HLT:
        return &op_hlt;
    case ZYDIS_MNEMONIC_IN:
        return &op_in;
    case ZYDIS_MNEMONIC_OUT:
        return &op_out;
    case ZYDIS_MNEMONIC_UD0:
    case ZYDIS_MNEMONIC_UD1:
    case ZYDIS_MNEMONIC_UD2:
        return &op_ud;
    case ZYDIS_MNEMONIC_SWAPGS:
        op.ends_block = false;
        return &op_swapgs;
    case ZYDIS_MNEMONIC_SYSCALL:
        return &op_syscall;
    case ZYDIS_MNEMONIC_SYSRET:
        return &op_sysret;
    default:
        break;
    }
    op.ends_block = false;
    return nullptr;
}

} // namespace vessel::soft
