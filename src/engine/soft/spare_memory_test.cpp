// Spare memory: the zeroed rest of a CpuCore's huge page, where the interpreter's caches live.
#include "engine/soft/spare_memory.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

namespace {

constexpr std::uintptr_t huge_page = std::uintptr_t{2} << 20;

bool all_zero(const void* memory, std::size_t bytes) {
    const auto* first = static_cast<const std::uint8_t*>(memory);
    return std::all_of(first, first + bytes, [](std::uint8_t byte) { return byte == 0; });
}

} // namespace

// The vCPU's interpreter took its 416 KiB already; what is left is zero, 64-byte aligned, inside
// the core's 2 MiB and after the CpuCore, never handed out twice, and runs out cleanly.
TEST(SpareMemory, IsZeroAlignedDisjointAndInsideTheCoresMapping) {
    SoftTestMachine machine;
    soft::CpuCore& core = static_cast<soft::SoftVcpu&>(*machine.vcpu).core();
    const auto core_start = reinterpret_cast<std::uintptr_t>(&core);
    ASSERT_EQ(core_start % huge_page, 0u);
    const std::uintptr_t spare_start = core_start + sizeof(soft::CpuCore);
    const std::uintptr_t spare_end = core_start + huge_page;
    const std::size_t interpreter_tables = (16384 * 16) + (4096 * 40);
    // More than the rest once the interpreter's tables are out: refused, nothing taken.
    EXPECT_EQ(soft::take_spare_memory(core, spare_end - spare_start - interpreter_tables), nullptr);

    std::vector<std::pair<std::uintptr_t, std::size_t>> taken;
    for (std::size_t bytes : {std::size_t{1}, std::size_t{100}, std::size_t{4096},
                              std::size_t{64 << 10}, std::size_t{3}}) {
        void* memory = soft::take_spare_memory(core, bytes);
        ASSERT_NE(memory, nullptr) << bytes;
        const auto address = reinterpret_cast<std::uintptr_t>(memory);
        EXPECT_EQ(address % 64, 0u);
        EXPECT_GE(address, spare_start + interpreter_tables);
        EXPECT_LE(address + bytes, spare_end);
        EXPECT_TRUE(all_zero(memory, bytes));
        for (const auto& [other, other_bytes] : taken)
            EXPECT_TRUE(address >= other + other_bytes || address + bytes <= other);
        std::fill_n(static_cast<std::uint8_t*>(memory), bytes, 0xa5); // the next must stay zero
        taken.emplace_back(address, bytes);
    }
    // Take the rest in 64 KiB pieces: it ends with nullptr, never beyond the mapping.
    std::size_t pieces = 0;
    while (void* memory = soft::take_spare_memory(core, 64 << 10)) {
        EXPECT_LE(reinterpret_cast<std::uintptr_t>(memory) + (64 << 10), spare_end);
        ASSERT_LT(++pieces, 32u);
    }
    EXPECT_EQ(soft::take_spare_memory(core, 64 << 10), nullptr);
    EXPECT_EQ(soft::take_spare_memory(core, ~std::size_t{0}), nullptr); // no wrap-around
    // Smaller pieces still fit in what the 64 KiB ones left, while there is room.
    void* small = soft::take_spare_memory(core, 64);
    if (small != nullptr) {
        EXPECT_LE(reinterpret_cast<std::uintptr_t>(small) + 64, spare_end);
    }
}

// Without zeroed memory given, an array gets a mapping of its own, value-initialized (zero).
TEST(SpareMemory, ArrayWithoutSpareMemoryMapsItsOwn) {
    auto array = soft::make_array_in<std::uint64_t>(nullptr, 100000);
    EXPECT_TRUE(all_zero(array.get(), 100000 * sizeof(std::uint64_t)));
    array[99999] = 7;
    EXPECT_EQ(array[99999], 7u);
    EXPECT_TRUE(array.get_deleter().own_mapping);
    std::vector<std::uint64_t> zeroed(10);
    auto borrowed = soft::make_array_in<std::uint64_t>(zeroed.data(), zeroed.size());
    EXPECT_EQ(borrowed.get(), zeroed.data());
    EXPECT_FALSE(borrowed.get_deleter().own_mapping);
}

// The interpreter's caches in the spare memory work from the first block on, and after they
// were emptied (an idle vCPU's release of memory) the vCPU decodes and runs the code again.
TEST(SpareMemory, InterpreterCachesThereWorkAndSurviveAnIdleRelease) {
    for (const SoftTier tier : {SoftTier::Interpreter, SoftTier::Translator}) {
        SoftTestMachine machine(tier);
        // 0x1000: mov ecx,1000; loop: add eax,3; dec ecx; jnz loop; hlt
        machine.load(SoftTestMachine::code_address,
                     {0xb9, 0xe8, 0x03, 0x00, 0x00, 0x83, 0xc0, 0x03, 0x49, 0x75, 0xfa, 0xf4});
        VcpuExit exit = machine.run();
        ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
        EXPECT_EQ(machine.reg(x86::rax), 3000u);
        static_cast<soft::SoftVcpu&>(*machine.vcpu).release_idle_memory();
        machine.state.rip = SoftTestMachine::code_address;
        machine.state.gpr[x86::rax] = 1;
        exit = machine.run();
        ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
        EXPECT_EQ(machine.reg(x86::rax), 3001u);
    }
}
