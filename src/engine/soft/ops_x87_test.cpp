// x87 handlers: small programs on the software engine (both tiers) against the host's long double.
// Not covered because the engine does not model them yet: stack overflow/underflow (IE with SF
// and C1 in the status word, the indefinite loaded) and the other exception flags (PE, ZE, ...).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

namespace {

constexpr std::uint64_t data_address = 0x4000;   ///< inputs the programs load
constexpr std::uint64_t result_address = 0x5000; ///< what the programs store
constexpr std::uint16_t control_default = 0x37f; ///< fninit state (Intel SDM Vol. 1, table 8-1)
constexpr std::uint16_t status_c0 = 1u << 8;
constexpr std::uint16_t status_c2 = 1u << 10;
constexpr std::uint16_t status_c3 = 1u << 14;
constexpr std::uint16_t status_conditions = status_c0 | status_c2 | status_c3;
constexpr unsigned status_top_shift = 11;

/// x87 code for 32-bit protected mode with memory operands as [disp32].
struct Program {
    std::vector<std::uint8_t> bytes;

    Program& op(std::initializer_list<std::uint8_t> code) {
        bytes.insert(bytes.end(), code.begin(), code.end());
        return *this;
    }
    /// `opcode` followed by ModRM mod=00 reg=`reg` rm=101 and the 32-bit address.
    Program& mem(std::initializer_list<std::uint8_t> opcode, unsigned reg, std::uint64_t address) {
        op(opcode);
        bytes.push_back(static_cast<std::uint8_t>(reg << 3 | 5));
        for (unsigned shift = 0; shift < 32; shift += 8)
            bytes.push_back(static_cast<std::uint8_t>(address >> shift));
        return *this;
    }
    Program& fld_double(std::uint64_t address) { return mem({0xdd}, 0, address); }
    Program& fstp_extended(std::uint64_t address) { return mem({0xdb}, 7, address); }
    Program& fnstsw(std::uint64_t address) { return mem({0xdd}, 7, address); }
    /// pushfd; pop dword [address]: EFLAGS to memory.
    Program& store_flags(std::uint64_t address) { return op({0x9c}).mem({0x8f}, 0, address); }
};

class X87Test : public ::testing::TestWithParam<SoftTier> {
  protected:
    SoftTestMachine machine{GetParam()};

    void SetUp() override { machine.state.cr4 |= x86::cr4::osfxsr; } // fxsave

    void put_double(std::uint64_t address, double value) {
        ASSERT_TRUE(machine.memory.write_bytes(
            address, {reinterpret_cast<const std::uint8_t*>(&value), sizeof value}));
    }
    void put_word(std::uint64_t address, std::uint16_t value) {
        ASSERT_TRUE(machine.memory.write(address, value));
    }
    /// An 80-bit value as the guest stored it (the host long double has the same format).
    long double extended_at(std::uint64_t address) {
        long double value = 0;
        EXPECT_TRUE(
            machine.memory.read_bytes(address, {reinterpret_cast<std::uint8_t*>(&value), 10}));
        return value;
    }
    template <typename T> T at(std::uint64_t address) {
        return machine.memory.read<T>(address).value();
    }
    /// Runs the program with a final hlt; it must halt.
    void run(Program program) {
        program.op({0xf4});
        machine.load(SoftTestMachine::code_address, program.bytes);
        machine.state.rip = SoftTestMachine::code_address; // a previous run left it past hlt
        const VcpuExit exit = machine.run();
        ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    }
};

/// Bitwise equality of two 80-bit values (the 6 padding bytes of the host type are ignored).
::testing::AssertionResult same_extended(long double actual, long double expected) {
    if (std::memcmp(&actual, &expected, 10) == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << std::hexfloat << "got " << actual << ", expected " << expected;
}

TEST_P(X87Test, ArithmeticMatchesTheHostLongDouble) {
    put_double(data_address, 1.0 / 3.0);
    put_double(data_address + 8, 10.0);
    Program program;
    program
        .fld_double(data_address)      // st0 = x
        .fld_double(data_address + 8)  // st0 = y, st1 = x
        .op({0xd8, 0xc1})              // fadd st0, st1: y + x
        .op({0xd8, 0xc9})              // fmul st0, st1: (y + x) * x
        .fstp_extended(result_address) // pop; st0 = x
        .fld_double(data_address + 8)  // st0 = y, st1 = x
        .op({0xd8, 0xf1})              // fdiv st0, st1: y / x
        .op({0xd9, 0xfa})              // fsqrt
        .fstp_extended(result_address + 16)
        .fld_double(data_address + 8)       // st0 = y, st1 = x
        .op({0xde, 0xe9})                   // fsubp st1, st0: st1 = x - y, pop
        .fstp_extended(result_address + 32) // the stack is empty again
        .fld_double(data_address)
        .fld_double(data_address + 8)
        .op({0xde, 0xf1}) // fdivrp st1, st0: st1 = y / x, pop
        .fstp_extended(result_address + 48)
        .fnstsw(result_address + 64);
    run(program);
    const long double x = 1.0 / 3.0, y = 10.0;
    EXPECT_TRUE(same_extended(extended_at(result_address), (y + x) * x));
    EXPECT_TRUE(same_extended(extended_at(result_address + 16), std::sqrt(y / x)));
    EXPECT_TRUE(same_extended(extended_at(result_address + 32), x - y));
    EXPECT_TRUE(same_extended(extended_at(result_address + 48), y / x));
    // Every push was popped: TOP is back at 0.
    EXPECT_EQ(at<std::uint16_t>(result_address + 64) >> status_top_shift & 7, 0);
}

TEST_P(X87Test, ComparesSetConditionCodesAndFcomiSetsFlags) {
    put_double(data_address, 1.0);
    put_double(data_address + 8, 2.0);
    put_double(data_address + 16, std::numeric_limits<double>::quiet_NaN());
    Program program;
    program.fld_double(data_address + 8).fld_double(data_address); // st0 = 1, st1 = 2
    // Each case: fcom st1; fnstsw [s]; fcomi (or fucomi) st0, st1; flags to [f].
    program.op({0xd8, 0xd1})
        .fnstsw(result_address)
        .op({0xdb, 0xf1})
        .store_flags(result_address + 4);
    program.op({0xd9, 0xc9}); // fxch st1: st0 = 2, st1 = 1
    program.op({0xd8, 0xd1})
        .fnstsw(result_address + 8)
        .op({0xdb, 0xf1})
        .store_flags(result_address + 12);
    program.op({0xd9, 0xc0}); // fld st0: st0 = st1 = 2
    program.op({0xd8, 0xd1})
        .fnstsw(result_address + 16)
        .op({0xdb, 0xf1})
        .store_flags(result_address + 20);
    program.fld_double(data_address + 16); // st0 = NaN
    program.op({0xd8, 0xd1})
        .fnstsw(result_address + 24)
        .op({0xdb, 0xe9})
        .store_flags(result_address + 28);
    run(program);
    constexpr std::uint32_t zf = x86::rflags::zf, pf = x86::rflags::pf, cf = x86::rflags::cf;
    struct Case {
        const char* what;
        std::uint16_t conditions;
        std::uint32_t flags;
        unsigned top;
    };
    const Case cases[] = {{"1 < 2", status_c0, cf, 6},
                          {"2 > 1", 0, 0, 6},
                          {"2 == 2", status_c3, zf, 5},
                          {"NaN unordered", status_c0 | status_c2 | status_c3, zf | pf | cf, 4}};
    for (unsigned index = 0; index < 4; ++index) {
        SCOPED_TRACE(cases[index].what);
        const auto status = at<std::uint16_t>(result_address + 8 * index);
        EXPECT_EQ(status & status_conditions, cases[index].conditions);
        EXPECT_EQ(unsigned{status} >> status_top_shift & 7, cases[index].top);
        EXPECT_EQ(at<std::uint32_t>(result_address + 8 * index + 4) & (zf | pf | cf),
                  cases[index].flags);
    }
}

TEST_P(X87Test, FistRoundsAsTheControlWordSaysAndFisttpTruncates) {
    const double values[] = {2.5, -2.5, 1.75, 3.5};
    for (unsigned index = 0; index < 4; ++index)
        put_double(data_address + 8 * index, values[index]);
    struct Mode {
        const char* what;
        std::uint16_t rounding; ///< RC, control word bits 11:10
        std::int32_t expected[4];
    };
    const Mode modes[] = {{"nearest even", 0, {2, -2, 2, 4}},
                          {"down", 1, {2, -3, 1, 3}},
                          {"up", 2, {3, -2, 2, 4}},
                          {"toward zero", 3, {2, -2, 1, 3}}};
    for (const Mode& mode : modes) {
        SCOPED_TRACE(mode.what);
        put_word(data_address + 0x100,
                 static_cast<std::uint16_t>(control_default | mode.rounding << 10));
        Program program;
        program.mem({0xd9}, 5, data_address + 0x100); // fldcw
        for (unsigned index = 0; index < 4; ++index) {
            program.fld_double(data_address + 8 * index);
            program.mem({0xdb}, 2, result_address + 8 * index);     // fist dword
            program.mem({0xdb}, 1, result_address + 8 * index + 4); // fisttp dword (pops)
        }
        program.mem({0xd9}, 7, result_address + 0x40); // fnstcw
        run(program);
        EXPECT_EQ(at<std::uint16_t>(result_address + 0x40), control_default | mode.rounding << 10);
        for (unsigned index = 0; index < 4; ++index) {
            SCOPED_TRACE(values[index]);
            EXPECT_EQ(at<std::int32_t>(result_address + 8 * index), mode.expected[index]);
            EXPECT_EQ(at<std::int32_t>(result_address + 8 * index + 4),
                      static_cast<std::int32_t>(std::trunc(values[index])));
        }
    }
}

TEST_P(X87Test, FrndintRoundsAsTheControlWordSays) {
    put_double(data_address, -2.5);
    put_double(data_address + 8, 2.5);
    put_word(data_address + 16, control_default | 1u << 10); // down
    put_word(data_address + 18, control_default | 2u << 10); // up
    Program program;
    for (unsigned mode = 0; mode < 3; ++mode) {
        if (mode > 0) program.mem({0xd9}, 5, data_address + 14 + 2 * mode); // fldcw
        for (unsigned index = 0; index < 2; ++index)
            program.fld_double(data_address + 8 * index)
                .op({0xd9, 0xfc}) // frndint
                .fstp_extended(result_address + 32 * mode + 16 * index);
    }
    run(program);
    const long double expected[3][2] = {{-2.0L, 2.0L}, {-3.0L, 2.0L}, {-2.0L, 3.0L}};
    for (unsigned mode = 0; mode < 3; ++mode)
        for (unsigned index = 0; index < 2; ++index)
            EXPECT_TRUE(same_extended(extended_at(result_address + 32 * mode + 16 * index),
                                      expected[mode][index]))
                << "mode " << mode << " value " << index;
}

TEST_P(X87Test, OutOfRangeIntegerStoresGiveTheIntegerIndefinite) {
    put_double(data_address, 40000.0);
    Program program;
    program.fld_double(data_address).mem({0xdf}, 3, result_address);     // fistp word
    program.fld_double(data_address).mem({0xdb}, 3, result_address + 4); // fistp dword
    run(program);
    EXPECT_EQ(at<std::uint16_t>(result_address), 0x8000u);
    EXPECT_EQ(at<std::int32_t>(result_address + 4), 40000);
}

TEST_P(X87Test, TheStackWrapsAfterEightPushesAndFxchSwaps) {
    put_double(data_address, 3.0);
    Program program;
    program.op({0xdb, 0xe3}); // fninit
    for (int index = 0; index < 7; ++index)
        program.op({0xd9, 0xe8});                 // fld1
    program.fld_double(data_address);             // the eighth push: st0 = 3, st1..st7 = 1
    program.op({0xdf, 0xe0});                     // fnstsw ax
    program.op({0xd9, 0xca});                     // fxch st2: st0 = 1, st2 = 3
    program.mem({0x0f, 0xae}, 0, result_address); // fxsave
    run(program);
    // TOP went 0 -> 7 -> ... -> 0; every register is full.
    EXPECT_EQ(machine.reg(x86::rax) >> status_top_shift & 7, 0u);
    EXPECT_EQ(at<std::uint16_t>(result_address), control_default);
    EXPECT_EQ(at<std::uint16_t>(result_address + 2) >> status_top_shift & 7, 0);
    EXPECT_EQ(at<std::uint8_t>(result_address + 4), 0xff);              // abridged tag: all valid
    EXPECT_EQ(at<std::uint32_t>(result_address + 24), 0x1f80u);         // MXCSR
    EXPECT_TRUE(same_extended(extended_at(result_address + 32), 1.0L)); // ST(0)
    EXPECT_TRUE(same_extended(extended_at(result_address + 32 + 32), 3.0L));  // ST(2)
    EXPECT_TRUE(same_extended(extended_at(result_address + 32 + 112), 1.0L)); // ST(7)
}

TEST_P(X87Test, FnsaveReinitializesAndFrstorBringsTheStackBack) {
    put_double(data_address, 1.5);
    put_double(data_address + 8, -4.25);
    put_word(data_address + 16, control_default | 3u << 10);
    Program program;
    program.mem({0xd9}, 5, data_address + 16);                     // fldcw: truncate
    program.fld_double(data_address).fld_double(data_address + 8); // st0 = -4.25, st1 = 1.5
    program.mem({0xdd}, 6, result_address);                        // fnsave (108-byte image)
    program.op({0xdf, 0xe0});                                      // fnstsw ax: fninit state
    program.mem({0xd9}, 7, result_address + 0x100);                // fnstcw
    program.mem({0xdd}, 4, result_address);                        // frstor
    program.fstp_extended(result_address + 0x110).fstp_extended(result_address + 0x120);
    program.mem({0xd9}, 7, result_address + 0x130); // fnstcw
    run(program);
    // The image: control, status (TOP 6), tag word (R6, R7 valid, the rest empty), then ST(i).
    EXPECT_EQ(at<std::uint16_t>(result_address), control_default | 3u << 10);
    EXPECT_EQ(at<std::uint16_t>(result_address + 4) >> status_top_shift & 7, 6);
    EXPECT_EQ(at<std::uint16_t>(result_address + 8), 0x0fff);
    EXPECT_TRUE(same_extended(extended_at(result_address + 28), -4.25L));
    EXPECT_TRUE(same_extended(extended_at(result_address + 38), 1.5L));
    // fnsave left the fninit state behind.
    EXPECT_EQ(machine.reg(x86::rax) & 0xffff, 0u);
    EXPECT_EQ(at<std::uint16_t>(result_address + 0x100), control_default);
    // frstor restored values, order and the control word.
    EXPECT_TRUE(same_extended(extended_at(result_address + 0x110), -4.25L));
    EXPECT_TRUE(same_extended(extended_at(result_address + 0x120), 1.5L));
    EXPECT_EQ(at<std::uint16_t>(result_address + 0x130), control_default | 3u << 10);
}

INSTANTIATE_TEST_SUITE_P(BothTiers, X87Test,
                         ::testing::Values(SoftTier::Translator, SoftTier::Interpreter),
                         [](const auto& tier_info) {
                             return tier_info.param == SoftTier::Translator ? "Translator"
                                                                            : "Interpreter";
                         });

} // namespace
