// Soft engine in real mode: segment:offset addressing, far jumps, int through the IVT, iret, and
// the switch to protected mode (CR0.PE plus a far jump).
#include <gtest/gtest.h>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

namespace {

constexpr std::uint64_t gdtr_address = 0x4f0;
constexpr std::uint64_t handler_address = 0x3000; // 0300:0000
constexpr std::uint64_t far_target = 0x1100;      // 0000:1100
constexpr std::uint64_t protected_entry = 0x1200; // 08:00001200
constexpr std::uint16_t real_stack = 0x8000;

x86::SegmentRegister real_segment(std::uint16_t selector, std::uint8_t type) {
    x86::SegmentRegister segment;
    segment.selector = selector;
    segment.base = std::uint64_t{selector} << 4;
    segment.limit = 0xffff;
    segment.type = type;
    return segment;
}

/// A machine as the CPU comes out of reset, but at 0000:1000 with a GDT ready for the switch.
SoftTestMachine& enter_real_mode(SoftTestMachine& machine) {
    machine.install_gdt();
    machine.state.cr0 = x86::cr0::et;
    machine.state.cs = real_segment(0, 0xb);
    machine.state.ds = machine.state.es = machine.state.ss = machine.state.fs = machine.state.gs =
        real_segment(0, 0x3);
    machine.state.idt = {0, 0x3ff};
    machine.state.rip = SoftTestMachine::code_address;
    machine.state.gpr[x86::rsp] = real_stack;
    // The GDTR image lgdt loads: limit, then base.
    EXPECT_TRUE(machine.memory.write<std::uint16_t>(gdtr_address, machine.state.gdt.limit));
    EXPECT_TRUE(machine.memory.write<std::uint32_t>(
        gdtr_address + 2, static_cast<std::uint32_t>(machine.state.gdt.base)));
    return machine;
}

} // namespace

TEST(SoftRealMode, SegmentsIvtInterruptFarJumpAndSwitchToProtectedMode) {
    SoftTestMachine machine;
    enter_real_mode(machine);
    machine.load(SoftTestMachine::code_address,
                 {
                     0xb8, 0x00, 0x02,                         // mov ax,0x0200
                     0x8e, 0xd8,                               // mov ds,ax
                     0xc7, 0x06, 0x10, 0x00, 0x34, 0x12,       // mov word [0x10],0x1234 (0x2010)
                     0x8b, 0x1e, 0x10, 0x00,                   // mov bx,[0x10]
                     0x31, 0xc0,                               // xor ax,ax
                     0x8e, 0xc0,                               // mov es,ax
                     0x26, 0xc7, 0x06, 0x00, 0x01, 0x00, 0x00, // mov word es:[0x100],0
                     0x26, 0xc7, 0x06, 0x02, 0x01, 0x00, 0x03, // mov word es:[0x102],0x0300
                     0xcd, 0x40,                               // int 0x40
                     0x89, 0xe7,                               // mov di,sp (after iret)
                     0xea, 0x00, 0x11, 0x00, 0x00,             // jmp 0000:1100
                 });
    // int 0x40 handler at 0300:0000: mov cx,0xbeef; mov dx,cs; mov si,sp; iret
    machine.load(handler_address, {0xb9, 0xef, 0xbe, 0x8c, 0xca, 0x89, 0xe6, 0xcf});
    machine.load(far_target,
                 {
                     0x31, 0xc0,                                     // xor ax,ax
                     0x8e, 0xd8,                                     // mov ds,ax
                     0x0f, 0x01, 0x16, 0xf0, 0x04,                   // lgdt [0x4f0]
                     0x0f, 0x20, 0xc0,                               // mov eax,cr0
                     0x0c, 0x01,                                     // or al,1
                     0x0f, 0x22, 0xc0,                               // mov cr0,eax
                     0x66, 0xea, 0x00, 0x12, 0x00, 0x00, 0x08, 0x00, // jmp dword 08:00001200
                 });
    machine.load(protected_entry, {
                                      0x66, 0xb8, 0x10, 0x00,             // mov ax,0x10
                                      0x8e, 0xd8,                         // mov ds,ax
                                      0x8b, 0x2d, 0x10, 0x20, 0x00, 0x00, // mov ebp,[0x2010]
                                      0xf4,                               // hlt
                                  });
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    EXPECT_EQ(machine.reg(x86::rbx) & 0xffff, 0x1234u);        // ds:0x10 is linear 0x2010
    EXPECT_EQ(machine.reg(x86::rcx) & 0xffff, 0xbeefu);        // the handler ran
    EXPECT_EQ(machine.reg(x86::rdx) & 0xffff, 0x0300u);        // with CS from the IVT
    EXPECT_EQ(machine.reg(x86::rsi) & 0xffff, real_stack - 6); // flags, cs, ip pushed
    EXPECT_EQ(machine.reg(x86::rdi) & 0xffff, real_stack);     // and popped by iret
    EXPECT_EQ(machine.reg(x86::rbp), 0x1234u);                 // flat data in protected mode
    EXPECT_TRUE(machine.state.cr0 & x86::cr0::pe);
    EXPECT_EQ(machine.state.cs.selector, 0x08);
    EXPECT_TRUE(machine.state.cs.default_big);
    EXPECT_EQ(machine.state.rip, protected_entry + 13);
    // The interrupt frame in real mode: ip (after int), cs, flags at ss:sp.
    EXPECT_EQ(machine.memory.read<std::uint16_t>(real_stack - 6).value(),
              SoftTestMachine::code_address + 35);
    EXPECT_EQ(machine.memory.read<std::uint16_t>(real_stack - 4).value(), 0u);
}
