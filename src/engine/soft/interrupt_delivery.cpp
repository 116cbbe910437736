// Interrupt and exception delivery through the IVT/IDT, #DF escalation, and iret.
#include <fmt/format.h>

#include "engine/soft/cpu_core.hpp"
#include "engine/soft/soft_platform.hpp"

namespace vessel::soft {

namespace {

constexpr std::uint64_t cleared_on_delivery =
    x86::rflags::tf | x86::rflags::nt | x86::rflags::rf | x86::rflags::vm;

} // namespace

void CpuCore::deliver(std::uint8_t vector_number, bool has_error_code, std::uint32_t error_code,
                      bool software) {
    const InterruptEvent event{vector_number, has_error_code, error_code, software};
    ++deliveries;
    if (!protected_mode())
        deliver_real_mode(vector_number);
    else if (long_mode_active())
        deliver_long_mode(event);
    else
        deliver_protected_mode(event);
}

void CpuCore::deliver_real_mode(std::uint8_t vector_number) {
    // IVT of 4-byte far pointers (Intel SDM Vol. 3, 20.1.4).
    const std::uint64_t old_flags = flags();
    if (vector_number * 4u + 3 > idt.limit) raise(x86::vector::general_protection, 0);
    const std::uint64_t entry = idt.base + vector_number * 4u;
    const std::uint64_t offset = read_system<2>(entry);
    const auto selector = static_cast<std::uint16_t>(read_system<2>(entry + 2));
    push(old_flags & 0xffff, 2);
    push(segments[cs].selector, 2);
    push(rip & 0xffff, 2);
    load_code_segment(selector, 0);
    rip = offset;
    set_flags(old_flags & ~(x86::rflags::if_ | x86::rflags::tf | x86::rflags::ac));
}

void CpuCore::deliver_protected_mode(const InterruptEvent& event) {
    const std::uint64_t old_flags = flags();
    const InterruptHandler handler = interrupt_handler(event, false);
    const bool gate32 = handler.gate.type == x86::system_type::interrupt_gate ||
                        handler.gate.type == x86::system_type::trap_gate;
    const bool privilege_change = handler.cpl < cpl;
    InterruptStack stack{segments[ss], gpr[x86::rsp], stack_size(), gate32 ? 4u : 2u};
    if (privilege_change) {
        // The inner stack from the 32-bit TSS (Intel SDM Vol. 3, 7.2.1).
        stack.pointer = read_system<4>(tr.base + x86::tss::esp_offset(handler.cpl));
        const auto stack_selector =
            static_cast<std::uint16_t>(read_system<2>(tr.base + x86::tss::ss_offset(handler.cpl)));
        if (x86::selector::is_null(stack_selector))
            raise(x86::vector::invalid_tss, x86::selector::error_code(stack_selector));
        stack.segment = read_descriptor(stack_selector, x86::vector::invalid_tss);
        if (!stack.segment.present)
            raise(x86::vector::stack_fault, x86::selector::error_code(stack_selector));
        stack.width = stack.segment.default_big ? 4 : 2;
    }
    push_interrupt_frame(event, old_flags, privilege_change, stack, handler.cpl);
    enter_interrupt_handler(handler, stack, old_flags);
}

void CpuCore::deliver_long_mode(const InterruptEvent& event) {
    const std::uint64_t old_flags = flags();
    const InterruptHandler handler = interrupt_handler(event, true);
    const bool privilege_change = handler.cpl < cpl;
    InterruptStack stack{segments[ss], gpr[x86::rsp], 8, 8};
    // An IST slot or, on a privilege change, RSPn of the 64-bit TSS (Intel SDM Vol. 3, 6.14.4
    // and 6.14.5); the frame starts 16-byte aligned.
    if (handler.gate.ist != 0)
        stack.pointer = read_system<8>(tr.base + x86::tss::ist_offset(handler.gate.ist));
    else if (privilege_change)
        stack.pointer = read_system<8>(tr.base + x86::tss::rsp_offset(handler.cpl));
    stack.pointer &= ~std::uint64_t{0xf};
    if (privilege_change) {
        // SS becomes a null selector with the new CPL as its RPL.
        stack.segment = x86::SegmentRegister{};
        stack.segment.selector = static_cast<std::uint16_t>(handler.cpl);
        stack.segment.unusable = true;
        stack.segment.dpl = static_cast<std::uint8_t>(handler.cpl);
    }
    push_interrupt_frame(event, old_flags, true, stack, handler.cpl);
    enter_interrupt_handler(handler, stack, old_flags);
}

CpuCore::InterruptHandler CpuCore::interrupt_handler(const InterruptEvent& event, bool long_mode) {
    using namespace x86::system_type;
    const std::uint32_t idt_error = x86::idt_error_code(event.vector, !event.software);
    const unsigned gate_size = long_mode ? 16 : 8;
    if (event.vector * gate_size + gate_size - 1 > idt.limit)
        raise(x86::vector::general_protection, idt_error);
    const std::uint64_t gate_address = idt.base + event.vector * gate_size;
    const std::uint64_t low = read_system<8>(gate_address);
    const std::uint64_t high = long_mode ? read_system<8>(gate_address + 8) : 0;
    InterruptHandler handler{x86::decode_gate_descriptor(low, high, long_mode), {}, 0};
    const x86::GateDescriptor& gate = handler.gate;

    if (gate.type == task_gate)
        fail(fmt::format("task gate for vector {} is not supported", event.vector));
    const bool gate32 = gate.type == interrupt_gate || gate.type == trap_gate;
    if (!gate32 && !(gate.type == interrupt_gate16 || gate.type == trap_gate16))
        raise(x86::vector::general_protection, idt_error);
    if (long_mode && !gate32) raise(x86::vector::general_protection, idt_error);
    if (event.software && gate.dpl < cpl) raise(x86::vector::general_protection, idt_error);
    if (!gate.present) raise(x86::vector::segment_not_present, idt_error);

    const std::uint32_t selector_error = x86::selector::error_code(gate.selector);
    if (x86::selector::is_null(gate.selector)) raise(x86::vector::general_protection, 0);
    handler.code = read_descriptor(gate.selector, x86::vector::general_protection);
    if (handler.code.system || !(handler.code.type & x86::segment_type::code))
        raise(x86::vector::general_protection, selector_error);
    if (!handler.code.present) raise(x86::vector::segment_not_present, selector_error);
    const bool conforming = handler.code.type & x86::segment_type::conforming;
    handler.cpl = conforming ? cpl : handler.code.dpl;
    if (handler.cpl > cpl) raise(x86::vector::general_protection, selector_error);
    return handler;
}

void CpuCore::push_interrupt_frame(const InterruptEvent& event, std::uint64_t old_flags,
                                   bool with_stack, InterruptStack& stack, unsigned new_cpl) {
    // Build the frame at computed addresses before committing any register.
    std::uint64_t frame[6];
    unsigned count = 0;
    if (with_stack) {
        frame[count++] = segments[ss].selector;
        frame[count++] = gpr[x86::rsp];
    }
    frame[count++] = old_flags;
    frame[count++] = segments[cs].selector;
    frame[count++] = rip;
    if (event.has_error_code) frame[count++] = event.error_code;
    const bool long_mode = long_mode_active();
    const std::uint64_t stack_base = long_mode ? 0 : stack.segment.base;
    const bool user_stack = new_cpl == 3;
    for (unsigned i = 0; i < count; ++i) {
        stack.pointer = (stack.pointer - stack.push_size) & size_mask(stack.width);
        std::uint64_t address = stack_base + stack.pointer;
        if (!long_mode) address &= 0xffff'ffff;
        switch (stack.push_size) {
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
}

void CpuCore::enter_interrupt_handler(const InterruptHandler& handler, const InterruptStack& stack,
                                      std::uint64_t old_flags) {
    segments[ss] = stack.segment;
    if (stack.width == 8)
        gpr[x86::rsp] = stack.pointer;
    else
        set_reg_sized(stack.width, x86::rsp, stack.pointer);
    x86::SegmentRegister code = handler.code;
    code.selector =
        static_cast<std::uint16_t>(x86::selector::error_code(handler.gate.selector) | handler.cpl);
    segments[cs] = code;
    std::uint64_t new_flags = old_flags & ~cleared_on_delivery;
    // Interrupt gates (not trap gates) also mask interrupts (Intel SDM Vol. 3, 6.12.1.3).
    if (handler.gate.type == x86::system_type::interrupt_gate ||
        handler.gate.type == x86::system_type::interrupt_gate16)
        new_flags &= ~x86::rflags::if_;
    set_flags(new_flags);
    update_mode();
    rip = mode == CpuMode::Long64 ? handler.gate.offset
                                  : (handler.gate.offset & size_mask(stack.push_size));
}

void CpuCore::deliver_fault(const GuestFault& fault) {
    // The RFLAGS image of a fault-class exception has RF set, so that returning to the faulting
    // instruction does not take an instruction breakpoint twice (Intel SDM Vol. 3, 17.3.1.1);
    // traps (#DB, #BP, #OF) and #DF leave it as it was. Delivery clears RF again.
    switch (fault.vector) {
    case x86::vector::debug:
    case x86::vector::breakpoint:
    case x86::vector::overflow:
    case x86::vector::double_fault:
        break;
    default:
        flags();
        rflags |= x86::rflags::rf;
        break;
    }
    try {
        deliver(fault.vector, fault.has_error_code, fault.error_code, false);
    } catch (const GuestFault& second) {
        if (fault.vector == x86::vector::double_fault) throw ShutdownSignal{};
        const bool escalate =
            (x86::contributory(fault.vector) && x86::contributory(second.vector)) ||
            (fault.vector == x86::vector::page_fault &&
             (second.vector == x86::vector::page_fault || x86::contributory(second.vector)));
        if (!escalate) {
            deliver_fault(second);
            return;
        }
        try {
            deliver(x86::vector::double_fault, true, 0, false);
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
        const std::uint64_t writable = size == 2 ? 0xffff : (0x3f'7fff & ~(vm | rf));
        set_flags((flags() & ~writable) | (popped & writable));
        nmi_blocked = false;
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
        raise(x86::vector::general_protection, x86::selector::error_code(selector));
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
    // RF is restored: the instruction returned to takes no instruction breakpoint, and the run
    // loop runs it traced (CpuCore::debug_traced), which clears RF once it completes.
    std::uint64_t writable = cf | pf | af | zf | sf | tf | df | of | nt | rf | ac | id;
    if (cpl <= ((old_flags >> 12) & 3)) writable |= if_;
    if (cpl == 0) writable |= iopl | if_;
    if (size == 2) writable &= 0xffff;
    try {
        load_code_segment(selector, new_cpl);
        if (pop_stack) {
            if (x86::selector::is_null(stack_selector) && long_mode && mode == CpuMode::Long64 &&
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
    nmi_blocked = false; // any iret ends NMI blocking, even one of another handler
}

bool CpuCore::interrupt_ready() {
    return m_platform->has_interrupt(m_index);
}

} // namespace vessel::soft
