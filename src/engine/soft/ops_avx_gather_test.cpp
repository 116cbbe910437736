// AVX2 gathers: the selected elements load through VSIB addresses (negative indexes included),
// the others merge, the mask ends zero; the dq/qd shapes; #UD on overlapping registers and
// without a SIB byte; a page fault in the middle leaves the lower elements done and restarts.
#include <gtest/gtest.h>

#include <cstring>

#include "engine/soft/avx_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::AvxTestMachine;

namespace {

constexpr std::uint64_t table = 0x40000; ///< eax: the gathers' base
constexpr std::uint64_t page_directory = 0x30000, page_table = 0x31000;

struct GatherMachine : AvxTestMachine {
    explicit GatherMachine(SoftTier tier = SoftTier::Translator) : AvxTestMachine(tier) {
        state.gpr[x86::rax] = table;
        for (std::uint32_t i = 0; i < 64; ++i) // dword i of the table (from table - 0x80) = i
            EXPECT_TRUE(memory.write<std::uint32_t>(table - 0x80 + 4 * i, 0x1000 + i));
        install_gdt();
        for (unsigned vector : {6u, 14u}) {
            set_idt_gate(vector, 0x2000 + 0x10 * vector);
            load(0x2000 + 0x10 * vector, {0xf4});
        }
    }
    /// The destination ymm0 holds `expected` (lane 0 first) and the mask ymm2 ended zero.
    void expect_gathered(const std::uint32_t (&expected)[8]) {
        for (unsigned i = 0; i < 8; ++i) {
            EXPECT_EQ(lane(0, i), expected[i]) << "lane " << i;
            EXPECT_EQ(lane(2, i), 0u) << "mask lane " << i;
        }
    }
    /// Runs from state.rip (the YMM registers as set through fpu()); returns the exception
    /// vector taken (its handler halts) or -1 when the code reached its own hlt.
    int run_code() {
        EXPECT_TRUE(vcpu->set_state(state));
        EXPECT_EQ(vcpu->run().kind, VcpuExit::Kind::Halted);
        state = vcpu->state().value();
        if (state.rip >= 0x2000 && state.rip < 0x2100)
            return static_cast<int>((state.rip - 0x2001) / 0x10);
        return -1;
    }
    /// 32-bit paging with 4 KiB pages over the first 4 MiB, the page at `absent` not present.
    void enable_paging(std::uint64_t absent) {
        EXPECT_TRUE(memory.write<std::uint32_t>(page_directory, page_table | 0x3));
        for (std::uint32_t i = 0; i < 1024; ++i)
            set_page(i << 12, (i << 12) != absent);
        state.cr3 = page_directory;
        state.cr0 |= x86::cr0::pg;
    }
    void set_page(std::uint64_t address, bool present) {
        EXPECT_TRUE(memory.write<std::uint32_t>(page_table + 4 * (address >> 12),
                                                static_cast<std::uint32_t>(address) |
                                                    (present ? 0x3u : 0x2u)));
    }
};

constexpr std::uint32_t on = 0x8000'0000;

// vpgatherdd ymm0, [eax + ymm1*4], ymm2; hlt
constexpr std::initializer_list<std::uint8_t> gather_dd = {0xc4, 0xe2, 0x6d, 0x90,
                                                           0x04, 0x88, 0xf4};

} // namespace

TEST(OpsAvxGather, SelectedElementsLoadOthersMergeAndTheMaskEndsZero) {
    for (const auto tier : {SoftTier::Interpreter, SoftTier::Translator}) {
        GatherMachine machine(tier);
        machine.load(AvxTestMachine::code_address, gather_dd);
        machine.set_lanes(0, {0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7});
        machine.set_lanes(1, {0, 1, 0xffff'ffff, 7, 0xffff'ffe0, 3, 2, 9});
        machine.set_lanes(2, {on, on, on, 0x7fff'ffff, on | 1, 0, on, on});
        ASSERT_EQ(machine.run_code(), -1);
        machine.expect_gathered({0x1020, 0x1021, 0x101f, 0xd3, 0x1000, 0xd5, 0x1022, 0x1029});
    }
}

TEST(OpsAvxGather, QuadwordIndexesGatherDwordsIntoAnXmmAndClearTheRest) {
    GatherMachine machine;
    // vpgatherqd xmm0, [eax + ymm1*4], xmm2 (VEX.256: four qword indexes); hlt
    machine.load(AvxTestMachine::code_address, {0xc4, 0xe2, 0x6d, 0x91, 0x04, 0x88, 0xf4});
    machine.set_lanes(0, {1, 2, 3, 4, 5, 6, 7, 8});
    // qword indexes 2, -1, 5, 6
    machine.set_lanes(1, {2, 0, 0xffff'ffff, 0xffff'ffff, 5, 0, 6, 0});
    machine.set_lanes(2, {on, on, 0, on, on, on, on, on});
    ASSERT_EQ(machine.run_code(), -1);
    machine.expect_gathered({0x1022, 0x101f, 3, 0x1026, 0, 0, 0, 0});
}

TEST(OpsAvxGather, DwordIndexesGatherQuadwords) {
    GatherMachine machine;
    // vpgatherdq ymm0, [eax + xmm1*8 + 0x10], ymm2; hlt
    machine.load(AvxTestMachine::code_address, {0xc4, 0xe2, 0xed, 0x90, 0x44, 0xc8, 0x10, 0xf4});
    machine.set_lanes(0, {1, 2, 3, 4, 5, 6, 7, 8});
    machine.set_lanes(1, {0, 0xffff'fffe, 3, 1, 0xaa, 0xbb, 0xcc, 0xdd});
    machine.set_lanes(2, {0, on, 0, on, 0, 0, 0, on});
    ASSERT_EQ(machine.run_code(), -1);
    // Selected quadwords 0, 1, 3 (indexes 0, -2, 1) at table + 0x10 + 8 * index.
    machine.expect_gathered({0x1024, 0x1025, 0x1020, 0x1021, 5, 6, 0x1026, 0x1027});
}

TEST(OpsAvxGather, OverlappingRegistersAndAMissingSibAreInvalid) {
    const std::initializer_list<std::uint8_t> invalid[] = {
        {0xc4, 0xe2, 0x6d, 0x90, 0x04, 0x80, 0xf4}, // index ymm0 = destination
        {0xc4, 0xe2, 0x6d, 0x90, 0x04, 0x90, 0xf4}, // index ymm2 = mask
        {0xc4, 0xe2, 0x7d, 0x90, 0x04, 0x88, 0xf4}, // mask ymm0 = destination
        {0xc4, 0xe2, 0x6d, 0x90, 0x00, 0xf4},       // [eax]: no SIB, no vector index
    };
    for (const auto& code : invalid) {
        GatherMachine machine;
        machine.load(AvxTestMachine::code_address, code);
        machine.set_lanes(1, {0, 1, 2, 3, 4, 5, 6, 7});
        machine.set_lanes(2, {on, on, on, on, on, on, on, on});
        EXPECT_EQ(machine.run_code(), 6) << "#UD";
        EXPECT_EQ(machine.lane(2, 0), on) << "nothing gathered";
    }
}

TEST(OpsAvxGather, APageFaultLeavesTheLowerElementsDoneAndTheRestartFinishes) {
    for (const auto tier : {SoftTier::Interpreter, SoftTier::Translator}) {
        GatherMachine machine(tier);
        machine.load(AvxTestMachine::code_address, gather_dd);
        constexpr std::uint64_t absent = table + 0x1000;
        machine.enable_paging(absent);
        machine.set_lanes(0, {0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7});
        // Element 5 reads the absent page (index 0x400 * 4 = 0x1000); 6 and 7 are mapped.
        machine.set_lanes(1, {0, 1, 2, 3, 4, 0x400, 6, 7});
        machine.set_lanes(2, {on, on, 0, on, on, on, on, on});
        ASSERT_EQ(machine.run_code(), 14) << "#PF";
        EXPECT_EQ(machine.state.cr2, absent);
        for (unsigned i = 0; i < 5; ++i) {
            if (i != 2) {
                EXPECT_EQ(machine.lane(0, i), 0x1020 + i) << "done lane " << i;
            }
            EXPECT_EQ(machine.lane(2, i), 0u) << "mask lane " << i << " cleared";
        }
        EXPECT_EQ(machine.lane(0, 2), 0xd2u) << "unselected lane merges";
        EXPECT_EQ(machine.lane(0, 5), 0xd5u) << "the faulting element is not done";
        EXPECT_NE(machine.lane(2, 5) & on, 0u) << "the faulting element stays selected";

        // Map the page and restart the instruction, as an OS's #PF handler would.
        machine.set_page(absent, true);
        ASSERT_TRUE(machine.memory.write<std::uint32_t>(absent, 0xabcd));
        machine.state.rip = AvxTestMachine::code_address;
        machine.state.gpr[x86::rsp] = AvxTestMachine::stack_top;
        ASSERT_EQ(machine.run_code(), -1);
        const std::uint32_t expected[8] = {0x1020, 0x1021, 0xd2,   0x1023,
                                           0x1024, 0xabcd, 0x1026, 0x1027};
        for (unsigned i = 0; i < 8; ++i) {
            EXPECT_EQ(machine.lane(0, i), expected[i]) << "lane " << i;
            EXPECT_EQ(machine.lane(2, i), 0u) << "mask lane " << i;
        }
    }
}
