// Interrupt and exception delivery through the IVT/IDT, #DF escalation, and iret.
#include <fmt/format.h>

#include "engine/soft/cpu_core.hpp"

namespace vessel::soft {

namespace {

/// IDT gate types (Intel SDM Vol. 3, 6.11 and 6.14.1).
constexpr std::uint8_t gate_task = 0x5;
constexpr std::uint8_t gate_interrupt16 = 0x6;
constexpr std::uint8_t gate_interrupt = 0xe;
constexpr std::uint8_t gate_trap = 0xf;

constexpr std::uint64_t cleared_on_delivery =
    x86::rflags::tf | x86::rflags::nt | x86::rflags::rf | x86::rflags::vm;

bool contributory(std::uint8_t vector_number) {
    return vector_number == vector::divide_error || (vector_number >= 10 && vector_number <= 13);
}

} // namespace

void CpuCore::deliver(std::uint8_t vector_number, bool has_error_code, std::uint32_t error_code,
                      bool software) {
    const std::uint64_t old_flags = flags();
    const std::uint32_t idt_error = vector_number * 8u + 2 + (software ? 0 : 1);

    if (!protected_mode()) {
        // Real mode: IVT of 4-byte far pointers (Intel SDM Vol. 3, 20.1.4).
        if (vector_number * 4u + 3 > idt.limit) raise(vector::general_protection, 0);
        const std::uint64_t entry = idt.base + vector_number * 4u;
        const std::uint64_t offset = read_system<2>(entry);
        const auto selector = static_cast<std::uint16_t>(read_system<2>(entry + 2));
        push(old_flags & 0xffff, 2);
        push(segments[cs].selector, 2);
        push(rip & 0xffff, 2);
        load_code_segment(selector, 0);
        rip = offset;
        set_flags(old_flags & ~(x86::rflags::if_ | x86::rflags::tf | x86::rflags::ac));
        return;
    }

    const bool long_mode = long_mode_active();
    const unsigned gate_size = long_mode ? 16 : 8;
    if (vector_number * gate_size + gate_size - 1 > idt.limit)
        raise(vector::general_protection, idt_error);
    const std::uint64_t gate_address = idt.base + vector_number * gate_size;
    const std::uint64_t low = read_system<8>(gate_address);
    const std::uint64_t high = long_mode ? read_system<8>(gate_address + 8) : 0;
    const auto type = static_cast<std::uint8_t>((low >> 40) & 0xf);
    const unsigned gate_dpl = (low >> 45) & 3;
    const bool present = (low >> 47) & 1;
    const auto selector = static_cast<std::uint16_t>(low >> 16);
    std::uint64_t offset = (low & 0xffff) | ((low >> 32) & 0xffff'0000);
    if (long_mode) offset |= high << 32;
    const unsigned ist = long_mode ? (low >> 32) & 7 : 0;

    if (type == gate_task)
        fail(fmt::format("task gate for vector {} is not supported", vector_number));
    const bool gate32 = type == gate_interrupt || type == gate_trap;
    if (!gate32 && !(type == gate_interrupt16 || type == gate_interrupt16 + 1))
        raise(vector::general_protection, idt_error);
    if (long_mode && !gate32) raise(vector::general_protection, idt_error);
    if (software && gate_dpl < cpl) raise(vector::general_protection, idt_error);
    if (!present) raise(vector::segment_not_present, idt_error);

    if ((selector & ~3u) == 0) raise(vector::general_protection, 0);
    x86::SegmentRegister code = read_descriptor(selector, vector::general_protection);
    if (code.system || !(code.type & 8)) raise(vector::general_protection, selector & ~3u);
    if (!code.present) raise(vector::segment_not_present, selector & ~3u);
    const bool conforming = code.type & 4;
    const unsigned new_cpl = conforming ? cpl : code.dpl;
    if (new_cpl > cpl) raise(vector::general_protection, selector & ~3u);
    const bool privilege_change = new_cpl < cpl;

    const unsigned push_size = long_mode ? 8 : (gate32 ? 4 : 2);
    x86::SegmentRegister new_stack = segments[ss];
    std::uint64_t sp = gpr[x86::rsp];
    unsigned stack_width = stack_size();
    if (long_mode) {
        if (ist != 0)
            sp = read_system<8>(tr.base + 0x24 + 8 * (ist - 1));
        else if (privilege_change)
            sp = read_system<8>(tr.base + 4 + 8 * new_cpl);
        sp &= ~std::uint64_t{0xf};
        stack_width = 8;
        if (privilege_change) {
            new_stack = x86::SegmentRegister{};
            new_stack.selector = static_cast<std::uint16_t>(new_cpl);
            new_stack.unusable = true;
            new_stack.dpl = static_cast<std::uint8_t>(new_cpl);
        }
    } else if (privilege_change) {
        // 32-bit TSS: espN at 4 + 8N, ssN at 8 + 8N (Intel SDM Vol. 3, 7.2.1).
        sp = read_system<4>(tr.base + 4 + 8 * new_cpl);
        const auto stack_selector =
            static_cast<std::uint16_t>(read_system<2>(tr.base + 8 + 8 * new_cpl));
        if ((stack_selector & ~3u) == 0) raise(vector::invalid_tss, stack_selector & ~3u);
        new_stack = read_descriptor(stack_selector, vector::invalid_tss);
        if (!new_stack.present) raise(vector::stack_fault, stack_selector & ~3u);
        stack_width = new_stack.default_big ? 4 : 2;
    }

    // Build the frame at computed addresses before committing any register.
    std::uint64_t frame[6];
    unsigned count = 0;
    if (long_mode || privilege_change) {
        frame[count++] = segments[ss].selector;
        frame[count++] = gpr[x86::rsp];
    }
    frame[count++] = old_flags;
    frame[count++] = segments[cs].selector;
    frame[count++] = rip;
    if (has_error_code) frame[count++] = error_code;
    const std::uint64_t stack_base = long_mode ? 0 : new_stack.base;
    const bool user_stack = new_cpl == 3;
    for (unsigned i = 0; i < count; ++i) {
        sp = (sp - push_size) & size_mask(stack_width);
        std::uint64_t address = stack_base + sp;
        if (!long_mode) address &= 0xffff'ffff;
        switch (push_size) {
        case 2:
            write_as<2>(address, frame[i], user_stack);
            break;
        case 4:
            write_as<4>(address, frame[i], user_stack);
            break;
        default:
            write_as<8>(address, frame[i], user_stack);
            break;
        }
    }

    segments[ss] = new_stack;
    if (stack_width == 8)
        gpr[x86::rsp] = sp;
    else
        set_reg_sized(stack_width, x86::rsp, sp);
    code.selector = static_cast<std::uint16_t>((selector & ~3u) | new_cpl);
    segments[cs] = code;
    std::uint64_t new_flags = old_flags & ~cleared_on_delivery;
    if (type == gate_interrupt || type == gate_interrupt16) new_flags &= ~x86::rflags::if_;
    set_flags(new_flags);
    update_mode();
    rip = mode == CpuMode::Long64 ? offset : (offset & size_mask(push_size));
}

void CpuCore::deliver_fault(const GuestFault& fault) {
    try {
        deliver(fault.vector, fault.has_error_code, fault.error_code, false);
    } catch (const GuestFault& second) {
        if (fault.vector == vector::double_fault) throw ShutdownSignal{};
        const bool escalate =
            (contributory(fault.vector) && contributory(second.vector)) ||
            (fault.vector == vector::page_fault &&
             (second.vector == vector::page_fault || contributory(second.vector)));
        if (!escalate) {
            deliver_fault(second);
            return;
        }
        try {
            deliver(vector::double_fault, true, 0, false);
        } catch (const GuestFault&) {
            throw ShutdownSignal{};
        }
    }
}

void CpuCore::interrupt_return(unsigned operand_size) {
    using namespace x86::rflags;
    const unsigned size = operand_size;
    if (!protected_mode()) {
        const std::uint64_t new_ip = pop(size);
        const auto selector = static_cast<std::uint16_t>(pop(size));
        const std::uint64_t popped = pop(size);
        load_code_segment(selector, 0);
        rip = new_ip;
        const std::uint64_t writable = size == 2 ? 0xffff : (0x3f'7fff & ~vm);
        set_flags((flags() & ~writable) | (popped & writable));
        return;
    }
    if (rflags & nt) fail("iret with NT set (task return) is not supported");
    const bool long_mode = long_mode_active();
    const std::uint64_t sp = gpr[x86::rsp];
    const std::uint64_t new_ip = pop(size);
    const auto selector = static_cast<std::uint16_t>(pop(size));
    const std::uint64_t popped = pop(size);
    const unsigned new_cpl = selector & 3;
    if (new_cpl < cpl) {
        gpr[x86::rsp] = sp;
        raise(vector::general_protection, selector & ~3u);
    }
    if (popped & vm) {
        gpr[x86::rsp] = sp;
        fail("iret to virtual-8086 mode is not supported");
    }
    std::uint64_t new_sp = 0;
    std::uint16_t stack_selector = 0;
    const bool pop_stack = long_mode || new_cpl > cpl;
    if (pop_stack) {
        new_sp = pop(size);
        stack_selector = static_cast<std::uint16_t>(pop(size));
    }
    const std::uint64_t old_flags = flags();
    std::uint64_t writable = cf | pf | af | zf | sf | tf | df | of | nt | rf | ac | id;
    if (cpl <= ((old_flags >> 12) & 3)) writable |= if_;
    if (cpl == 0) writable |= iopl | if_;
    if (size == 2) writable &= 0xffff;
    try {
        load_code_segment(selector, new_cpl);
        if (pop_stack) {
            if ((stack_selector & ~3u) == 0 && long_mode && mode == CpuMode::Long64 &&
                new_cpl != 3) {
                segments[ss] = x86::SegmentRegister{};
                segments[ss].selector = stack_selector;
                segments[ss].unusable = true;
                segments[ss].dpl = static_cast<std::uint8_t>(new_cpl);
            } else {
                load_segment(ss, stack_selector);
            }
        }
    } catch (const GuestFault&) {
        gpr[x86::rsp] = sp;
        throw;
    }
    set_flags((old_flags & ~writable) | (popped & writable));
    if (pop_stack) {
        if (mode == CpuMode::Long64)
            gpr[x86::rsp] = new_sp;
        else
            set_reg_sized(segments[ss].default_big ? 4 : 2, x86::rsp, new_sp);
    }
    update_mode();
    rip = mode == CpuMode::Long64 ? new_ip : (new_ip & size_mask(size));
}

} // namespace vessel::soft
