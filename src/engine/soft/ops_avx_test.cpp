// AVX, AVX2, FMA, F16C and XSAVE: VEX.256 and VEX.128 results (upper-half zeroing), the enabling
// rules (#UD without CR4.OSXSAVE or XCR0.YMM, #GP from xsetbv and CR4), xsave/xrstor of YMM state,
// the dynamic CPUID fields, and that the translator never runs a VEX instruction itself.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "engine/soft/avx_test_machine.hpp"
#include "engine/soft/translator/instruction_classes.hpp"
#include "engine/soft/xsave_state.hpp"

using namespace vessel;
using vessel::soft::testing::AvxTestMachine;

namespace {

constexpr std::uint64_t osxsave = soft::xsave::cr4_osxsave;

struct AvxMachine : AvxTestMachine {
    explicit AvxMachine(soft::CpuModel model = soft::CpuModel::Max, std::uint64_t xcr0 = 7)
        : AvxTestMachine(SoftTier::Translator, model, xcr0) {}
    VcpuExit run_code(std::initializer_list<std::uint8_t> code) {
        load(code_address, code);
        EXPECT_TRUE(vcpu->set_state(state));
        const VcpuExit exit = vcpu->run();
        state = vcpu->state().value();
        return exit;
    }
    /// Runs `code` with a handler (hlt at 0x2000 + 0x10 * vector) for #UD, #NM and #GP; returns
    /// the vector taken, or -1 when the code reached its own hlt.
    int run_expecting_fault(std::initializer_list<std::uint8_t> code) {
        install_gdt();
        for (unsigned vector : {6u, 7u, 13u}) {
            set_idt_gate(vector, 0x2000 + 0x10 * vector);
            load(0x2000 + 0x10 * vector, {0xf4});
        }
        EXPECT_EQ(run_code(code).kind, VcpuExit::Kind::Halted);
        if (state.rip >= 0x2000 && state.rip < 0x2100)
            return static_cast<int>((state.rip - 0x2001) / 0x10);
        return -1;
    }
};

std::uint32_t float_bits(float value) {
    std::uint32_t bits;
    std::memcpy(&bits, &value, 4);
    return bits;
}

} // namespace

TEST(OpsAvx, Vex256AddsEveryLaneVex128ZeroesTheUpperHalfLegacySseKeepsIt) {
    AvxMachine machine;
    machine.set_lanes(1, {1, 2, 3, 4, 5, 6, 7, 8});
    machine.set_lanes(2, {10, 20, 30, 40, 50, 60, 70, 80});
    machine.set_lanes(3, {9, 9, 9, 9, 9, 9, 9, 9});
    machine.set_lanes(4, {1, 1, 1, 1, 0xaa, 0xbb, 0xcc, 0xdd});
    // vpaddd ymm0,ymm1,ymm2; vpaddd xmm3,xmm1,xmm2; paddd xmm4,xmm1; hlt
    ASSERT_EQ(machine
                  .run_code({0xc5, 0xf5, 0xfe, 0xc2, 0xc5, 0xf1, 0xfe, 0xda, 0x66, 0x0f, 0xfe, 0xe1,
                             0xf4})
                  .kind,
              VcpuExit::Kind::Halted);
    for (unsigned i = 0; i < 8; ++i)
        EXPECT_EQ(machine.lane(0, i), 11 * (i + 1)) << "lane " << i;
    for (unsigned i = 0; i < 4; ++i)
        EXPECT_EQ(machine.lane(3, i), 11 * (i + 1)) << "lane " << i;
    for (unsigned i = 4; i < 8; ++i)
        EXPECT_EQ(machine.lane(3, i), 0u) << "VEX.128 zeroes lane " << i;
    EXPECT_EQ(machine.lane(4, 0), 2u);
    EXPECT_EQ(machine.lane(4, 7), 0xddu) << "legacy SSE leaves bits 128-255 alone";
}

TEST(OpsAvx, Vfmadd231psRoundsOnce) {
    AvxMachine machine;
    const float a = 1.0f + 0x1p-23f, b = 1.0f - 0x1p-23f, c = -1.0f;
    std::uint32_t av[8], bv[8], cv[8];
    for (unsigned i = 0; i < 8; ++i) {
        av[i] = float_bits(a);
        bv[i] = float_bits(b);
        cv[i] = float_bits(c * static_cast<float>(i + 1));
    }
    machine.set_lanes(1, av);
    machine.set_lanes(2, bv);
    machine.set_lanes(0, cv);
    // vfmadd231ps ymm0,ymm1,ymm2; hlt
    ASSERT_EQ(machine.run_code({0xc4, 0xe2, 0x75, 0xb8, 0xc2, 0xf4}).kind, VcpuExit::Kind::Halted);
    for (unsigned i = 0; i < 8; ++i)
        EXPECT_EQ(machine.lane(0, i), float_bits(std::fma(a, b, c * static_cast<float>(i + 1))))
            << "lane " << i;
    EXPECT_NE(machine.lane(0, 0), float_bits(a * b + c)) << "a separate multiply would round";
}

TEST(OpsAvx, PermutesExtractsAndBlendsCrossLanes) {
    AvxMachine machine;
    machine.set_lanes(0, {0, 0, 0, 0, 0, 0, 0, 0});
    machine.set_lanes(1, {0, 1, 2, 3, 4, 5, 6, 0x8000'0007});
    machine.set_lanes(4, {0x8000'0000, 0, 0x8000'0000, 0, 0, 0, 0, 0x8000'0000});
    // vpermq ymm0,ymm1,0x1b; vpmovmskb eax,ymm0; vextracti128 xmm2,ymm0,1;
    // vperm2i128 ymm3,ymm0,ymm1,0x21; vblendvps ymm5,ymm0,ymm1,ymm4; hlt
    ASSERT_EQ(machine
                  .run_code({0xc4, 0xe3, 0xfd, 0x00, 0xc1, 0x1b, 0xc5, 0xfd, 0xd7, 0xc0,
                             0xc4, 0xe3, 0x7d, 0x39, 0xc2, 0x01, 0xc4, 0xe3, 0x7d, 0x46,
                             0xd9, 0x21, 0xc4, 0xe3, 0x7d, 0x4a, 0xe9, 0x40, 0xf4})
                  .kind,
              VcpuExit::Kind::Halted);
    const std::uint32_t reversed[8] = {6, 0x8000'0007, 4, 5, 2, 3, 0, 1};
    for (unsigned i = 0; i < 8; ++i)
        EXPECT_EQ(machine.lane(0, i), reversed[i]) << "vpermq lane " << i;
    EXPECT_EQ(machine.reg(x86::rax), 0x80u) << "vpmovmskb: the sign of byte 7";
    EXPECT_EQ(machine.lane(2, 0), 2u);
    EXPECT_EQ(machine.lane(2, 4), 0u) << "vextracti128 to xmm zeroes the upper half";
    EXPECT_EQ(machine.lane(3, 0), 2u) << "vperm2i128: low half = ymm0's high half";
    EXPECT_EQ(machine.lane(3, 4), 0u) << "vperm2i128: high half = ymm1's low half";
    const std::uint32_t blended[8] = {0, 0x8000'0007, 2, 5, 2, 3, 0, 0x8000'0007};
    for (unsigned i = 0; i < 8; ++i)
        EXPECT_EQ(machine.lane(5, i), blended[i]) << "vblendvps lane " << i;
}

TEST(OpsAvx, F16cRoundTripsHalfPrecision) {
    AvxMachine machine;
    machine.set_lanes(1, {float_bits(1.5f), float_bits(-2.0f), float_bits(65504.0f),
                          float_bits(1.0f / 3.0f), 0, 0, 0, 0});
    // vcvtps2ph xmm0,xmm1,0; vcvtph2ps xmm2,xmm0; hlt
    ASSERT_EQ(
        machine.run_code({0xc4, 0xe3, 0x79, 0x1d, 0xc8, 0x00, 0xc4, 0xe2, 0x79, 0x13, 0xd0, 0xf4})
            .kind,
        VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.fpu().xmm[0].q[0], 0x3555'7bff'c000'3e00u);
    EXPECT_EQ(machine.lane(2, 0), float_bits(1.5f));
    EXPECT_EQ(machine.lane(2, 3), 0x3eaa'a000u) << "1/3 rounded to 10 mantissa bits";
}

TEST(OpsAvx, AvxIsInvalidUntilTheOsEnablesYmmState) {
    {
        AvxMachine machine(soft::CpuModel::Max, 3); // XCR0 without YMM
        EXPECT_EQ(machine.run_expecting_fault({0xc5, 0xf5, 0xef, 0xc9, 0xf4}), 6);
    }
    {
        AvxMachine machine;
        machine.state.cr4 &= ~osxsave;
        EXPECT_EQ(machine.run_expecting_fault({0xc5, 0xf5, 0xef, 0xc9, 0xf4}), 6);
    }
    {
        AvxMachine machine(soft::CpuModel::V2, 1);
        machine.state.cr4 &= ~osxsave;
        EXPECT_EQ(machine.run_expecting_fault({0xc5, 0xf5, 0xef, 0xc9, 0xf4}), 6) << "no AVX in v2";
    }
    {
        AvxMachine machine;
        machine.state.cr0 |= x86::cr0::ts;
        EXPECT_EQ(machine.run_expecting_fault({0xc5, 0xf5, 0xef, 0xc9, 0xf4}), 7);
    }
    {
        AvxMachine machine;
        EXPECT_EQ(machine.run_expecting_fault({0xc5, 0xf5, 0xef, 0xc9, 0xf4}), -1);
    }
}

TEST(OpsAvx, XsetbvAndCr4FollowTheRules) {
    const auto xsetbv = [](std::uint64_t value, std::uint32_t ecx, soft::CpuModel model) {
        AvxMachine machine(model, 1);
        machine.state.gpr[x86::rax] = value;
        machine.state.gpr[x86::rcx] = ecx;
        return machine.run_expecting_fault({0x0f, 0x01, 0xd1, 0xf4});
    };
    EXPECT_EQ(xsetbv(7, 0, soft::CpuModel::Max), -1);
    EXPECT_EQ(xsetbv(5, 0, soft::CpuModel::Max), 13) << "YMM without SSE";
    EXPECT_EQ(xsetbv(6, 0, soft::CpuModel::Max), 13) << "x87 cleared";
    EXPECT_EQ(xsetbv(0xf, 0, soft::CpuModel::Max), 13) << "an unsupported component";
    EXPECT_EQ(xsetbv(7, 1, soft::CpuModel::Max), 13) << "XCR1";
    {
        AvxMachine machine(soft::CpuModel::V2, 1);
        machine.state.cr4 &= ~osxsave;
        machine.state.gpr[x86::rax] = machine.state.cr4 | osxsave;
        EXPECT_EQ(machine.run_expecting_fault({0x0f, 0x22, 0xe0, 0xf4}), 13)
            << "CR4.OSXSAVE needs XSAVE in the model";
    }
    {
        AvxMachine machine(soft::CpuModel::Max, 1);
        machine.state.cr4 &= ~osxsave;
        EXPECT_EQ(machine.run_expecting_fault({0x0f, 0x01, 0xd0, 0xf4}), 6)
            << "xgetbv without CR4.OSXSAVE";
    }
}

TEST(OpsAvx, XsaveAndXrstorCarryYmmState) {
    AvxMachine machine(soft::CpuModel::Max, 1);
    machine.set_lanes(0, {1, 2, 3, 4, 5, 6, 7, 8});
    machine.set_lanes(7, {0, 0, 0, 0, 0xa, 0xb, 0xc, 0xd});
    machine.state.gpr[x86::rax] = 7; // xsetbv: XCR0 = x87|SSE|YMM; then all of them requested
    machine.state.gpr[x86::rcx] = 0;
    machine.state.gpr[x86::rdx] = 0;
    machine.state.gpr[x86::rbx] = 0x4000;
    // xsetbv; xsave [ebx]; vzeroall; xrstor [ebx]; hlt
    ASSERT_EQ(machine
                  .run_code({0x0f, 0x01, 0xd1, 0x0f, 0xae, 0x23, 0xc5, 0xfc, 0x77, 0x0f, 0xae, 0x2b,
                             0xf4})
                  .kind,
              VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.memory.read<std::uint64_t>(0x4000 + 512).value(), 7u) << "XSTATE_BV";
    EXPECT_EQ(machine.memory.read<std::uint32_t>(0x4000 + 576).value(), 5u) << "ymm0 lane 4";
    EXPECT_EQ(machine.memory.read<std::uint32_t>(0x4000 + 576 + 7 * 16 + 12).value(), 0xdu);
    for (unsigned i = 0; i < 8; ++i)
        EXPECT_EQ(machine.lane(0, i), i + 1) << "restored lane " << i;
    EXPECT_EQ(machine.lane(7, 7), 0xdu);
}

TEST(OpsAvx, XrstorOfAComponentAbsentFromXstateBvInitializesIt) {
    AvxMachine machine;
    machine.set_lanes(2, {1, 1, 1, 1, 1, 1, 1, 1});
    ASSERT_TRUE(machine.memory.write<std::uint64_t>(0x4000 + 512, 3)); // x87 and SSE only
    machine.state.gpr[x86::rax] = 7;
    machine.state.gpr[x86::rdx] = 0;
    machine.state.gpr[x86::rbx] = 0x4000;
    // xrstor [ebx]; hlt
    ASSERT_EQ(machine.run_code({0x0f, 0xae, 0x2b, 0xf4}).kind, VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.lane(2, 7), 0u) << "YMM in its initial state";
    // A reserved header bit is #GP.
    ASSERT_TRUE(machine.memory.write<std::uint64_t>(0x4000 + 512 + 16, 1));
    machine.state.rip = AvxMachine::code_address;
    EXPECT_EQ(machine.run_expecting_fault({0x0f, 0xae, 0x2b, 0xf4}), 13);
}

TEST(OpsAvx, VzeroupperClearsBitsAbove127) {
    AvxMachine machine;
    machine.set_lanes(5, {1, 2, 3, 4, 5, 6, 7, 8});
    ASSERT_EQ(machine.run_code({0xc5, 0xf8, 0x77, 0xf4}).kind, VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.lane(5, 3), 4u);
    EXPECT_EQ(machine.lane(5, 4), 0u);
}

TEST(OpsAvx, CpuidFollowsCr4AndXcr0) {
    const auto cpuid = [](std::uint64_t cr4_extra, std::uint64_t xcr0, std::uint32_t leaf) {
        AvxMachine machine(soft::CpuModel::Max, xcr0);
        machine.state.cr4 = (machine.state.cr4 & ~osxsave) | cr4_extra;
        machine.state.gpr[x86::rax] = leaf;
        machine.state.gpr[x86::rcx] = 0;
        EXPECT_EQ(machine.run_code({0x0f, 0xa2, 0xf4}).kind, VcpuExit::Kind::Halted);
        return machine.state;
    };
    constexpr std::uint32_t leaf1_osxsave = 1u << 27, leaf1_avx = 1u << 28;
    EXPECT_EQ(cpuid(0, 1, 1).gpr[x86::rcx] & (leaf1_osxsave | leaf1_avx), leaf1_avx);
    EXPECT_EQ(cpuid(osxsave, 1, 1).gpr[x86::rcx] & leaf1_osxsave, leaf1_osxsave);
    const x86::CpuState legacy = cpuid(osxsave, 3, 0xd);
    EXPECT_EQ(legacy.gpr[x86::rax], 7u) << "x87, SSE, YMM supported";
    EXPECT_EQ(legacy.gpr[x86::rbx], 576u) << "size for XCR0 = x87|SSE";
    EXPECT_EQ(legacy.gpr[x86::rcx], 832u) << "size for every component";
    EXPECT_EQ(cpuid(osxsave, 7, 0xd).gpr[x86::rbx], 832u);
}

TEST(OpsAvx, TheTranslatorNeverRunsAVexInstructionItself) {
    // Every VEX mnemonic lands in the interpreter, which checks the model and the enabled state;
    // an identity translation would skip both (and drop the upper-half zeroing).
    for (int mnemonic = 0; mnemonic <= ZYDIS_MNEMONIC_MAX_VALUE; ++mnemonic) {
        const char* name = ZydisMnemonicGetString(static_cast<ZydisMnemonic>(mnemonic));
        if (name == nullptr || name[0] != 'v') continue;
        EXPECT_FALSE(soft::identity_mnemonic(static_cast<ZydisMnemonic>(mnemonic))) << name;
        EXPECT_FALSE(soft::floating_point_mnemonic(static_cast<ZydisMnemonic>(mnemonic))) << name;
    }
}
