// Decoded-block cache: stores to cached code (other block and the running block) take effect.
#include <gtest/gtest.h>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

TEST(DecoderCache, StoresToCachedCodeInvalidateIt) {
    SoftTestMachine machine;
    // 0x1000: mov eax,1; call 0x1100; mov esi,ebx; mov byte [0x1101],9; call 0x1100;
    //         mov byte [0x1020],0x42; mov ecx,0 (its immediate is at 0x1020); hlt
    machine.load(SoftTestMachine::code_address,
                 {0xb8, 0x01, 0x00, 0x00, 0x00, 0xe8, 0xf6, 0x00, 0x00, 0x00, 0x89, 0xde, 0xc6,
                  0x05, 0x01, 0x11, 0x00, 0x00, 0x09, 0xe8, 0xe8, 0x00, 0x00, 0x00, 0xc6, 0x05,
                  0x20, 0x10, 0x00, 0x00, 0x42, 0xb9, 0x00, 0x00, 0x00, 0x00, 0xf4});
    // 0x1100: mov ebx,7; ret
    machine.load(0x1100, {0xbb, 0x07, 0x00, 0x00, 0x00, 0xc3});
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    EXPECT_EQ(machine.reg(x86::rsi), 7u);    // first call ran the original code
    EXPECT_EQ(machine.reg(x86::rbx), 9u);    // the patched block was decoded again
    EXPECT_EQ(machine.reg(x86::rcx), 0x42u); // patched later in the running block
}

// The caches' empty entries are all zero bytes (left as fresh memory): code at linear address 0
// on a fresh vCPU must still be fetched and decoded, not taken for an empty entry's "block".
TEST(DecoderCache, CodeAtLinearAddressZeroRunsOnAFreshVcpu) {
    for (const SoftTier tier : {SoftTier::Interpreter, SoftTier::Translator}) {
        SoftTestMachine machine(tier);
        machine.load(0, {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xf4}); // mov eax,42; hlt
        machine.state.rip = 0;
        const VcpuExit exit = machine.run();
        ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
        EXPECT_EQ(machine.reg(x86::rax), 42u);
        EXPECT_EQ(machine.state.rip, 6u);
    }
}

TEST(DecoderCache, RepeatedStringInstructions) {
    SoftTestMachine machine;
    for (unsigned i = 0; i < 100; ++i)
        ASSERT_TRUE(machine.memory.write<std::uint8_t>(0x4000 + i, i));
    // cld; esi=0x4000 edi=0x5000 ecx=100 rep movsb; edi=0x6000 eax=0xabcdef01 ecx=8 rep stosd;
    // edi=0x4000 al=0x33 ecx=100 repne scasb; hlt
    machine.load(SoftTestMachine::code_address,
                 {0xfc, 0xbe, 0x00, 0x40, 0x00, 0x00, 0xbf, 0x00, 0x50, 0x00, 0x00, 0xb9, 0x64,
                  0x00, 0x00, 0x00, 0xf3, 0xa4, 0xbf, 0x00, 0x60, 0x00, 0x00, 0xb8, 0x01, 0xef,
                  0xcd, 0xab, 0xb9, 0x08, 0x00, 0x00, 0x00, 0xf3, 0xab, 0xbf, 0x00, 0x40, 0x00,
                  0x00, 0xb0, 0x33, 0xb9, 0x64, 0x00, 0x00, 0x00, 0xf2, 0xae, 0xf4});
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    for (unsigned i = 0; i < 100; ++i)
        EXPECT_EQ(machine.memory.read<std::uint8_t>(0x5000 + i).value(), i);
    EXPECT_EQ(machine.memory.read<std::uint8_t>(0x5064).value(), 0u);
    for (unsigned i = 0; i < 8; ++i)
        EXPECT_EQ(machine.memory.read<std::uint32_t>(0x6000 + 4 * i).value(), 0xabcdef01u);
    EXPECT_EQ(machine.memory.read<std::uint32_t>(0x6020).value(), 0u);
    EXPECT_EQ(machine.reg(x86::rdi), 0x4034u); // one past the match at 0x4033
    EXPECT_EQ(machine.reg(x86::rcx), 48u);
    EXPECT_TRUE(machine.state.rflags & x86::rflags::zf);
}

TEST(DecoderCache, LongRepStopsAndResumesAcrossSlices) {
    SoftTestMachine machine;
    // rep stosb over 64 KiB needs several slices of the run loop; the result must be whole.
    // edi=0x10000 ecx=0x10000 al=0xcc rep stosb hlt
    machine.load(SoftTestMachine::code_address, {0xbf, 0x00, 0x00, 0x01, 0x00, 0xb9, 0x00, 0x00,
                                                 0x01, 0x00, 0xb0, 0xcc, 0xf3, 0xaa, 0xf4});
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    EXPECT_EQ(machine.reg(x86::rcx), 0u);
    EXPECT_EQ(machine.reg(x86::rdi), 0x20000u);
    EXPECT_EQ(machine.memory.read<std::uint8_t>(0x1ffff).value(), 0xccu);
    EXPECT_EQ(machine.memory.read<std::uint8_t>(0x20000).value(), 0u);
}
