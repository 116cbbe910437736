// A software vCPU's snapshot state carries its CPU model, XCR0, the YMM upper halves and PKRU
// (layout CPU4): a restore takes them from it, an unknown model is refused, and older CPU1, CPU2
// and CPU3 states restore (as baseline, with XCR0 = x87 and zero upper halves, with PKRU = 0).
#include <gtest/gtest.h>

#include "base/state_archive.hpp"
#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::CpuModel;
using vessel::soft::testing::SoftTestMachine;

namespace {

/// Bytes after the model in a CPU3 state: XCR0 and 16 upper halves; a CPU4 state adds PKRU.
constexpr std::size_t avx_fields = 8 + 16 * 16;
constexpr std::size_t pkru_fields = 4;

std::vector<std::uint8_t> saved_state(CpuModel model) {
    SoftTestMachine machine;
    machine.soft_vcpu().core().set_cpu_model(model);
    if (model == CpuModel::Max || model == CpuModel::V3) {
        machine.soft_vcpu().core().xcr0 = 7;
        machine.soft_vcpu().core().fpu.ymm_upper[9].q[1] = 0x1234'5678'9abc'def0;
    }
    EXPECT_TRUE(machine.vcpu->set_state(machine.state));
    StateWriter writer;
    EXPECT_TRUE(machine.soft_vcpu().save_snapshot(writer));
    return writer.take();
}

} // namespace

TEST(SoftVcpuSnapshot, RestoreTakesTheSavedCpuModel) {
    const std::vector<std::uint8_t> bytes = saved_state(CpuModel::V2);
    SoftTestMachine restored;
    ASSERT_EQ(restored.soft_vcpu().core().cpu_model, soft::default_cpu_model());
    StateReader reader(bytes);
    ASSERT_TRUE(restored.soft_vcpu().load_snapshot(reader));
    EXPECT_EQ(reader.remaining(), 0u);
    EXPECT_EQ(restored.soft_vcpu().core().cpu_model, CpuModel::V2);
    const auto leaf1 = x86::find_cpuid_entry(restored.soft_vcpu().core().cpuid_table, 1, 0);
    EXPECT_TRUE(leaf1.ecx & (1u << 20)) << "SSE4.2";
    EXPECT_FALSE(leaf1.ecx & (1u << 22)) << "no MOVBE on x86-64-v2";
}

TEST(SoftVcpuSnapshot, AnUnknownCpuModelIsRefused) {
    std::vector<std::uint8_t> bytes = saved_state(CpuModel::Max);
    bytes[bytes.size() - pkru_fields - avx_fields - 1] = 7; // followed by XCR0, YMM, PKRU
    SoftTestMachine restored;
    StateReader reader(bytes);
    const auto loaded = restored.soft_vcpu().load_snapshot(reader);
    ASSERT_FALSE(loaded);
    EXPECT_NE(loaded.error().message.find("CPU model"), std::string::npos)
        << loaded.error().message;
}

TEST(SoftVcpuSnapshot, AnOlderLayoutRestoresAsBaseline) {
    std::vector<std::uint8_t> bytes = saved_state(CpuModel::Max);
    bytes.resize(bytes.size() - pkru_fields - avx_fields - 1); // CPU1: no model, XCR0, YMM, PKRU
    bytes[0] = '1'; // "CPU4" -> "CPU1" (little-endian u32: the digit comes first)
    SoftTestMachine restored;
    StateReader reader(bytes);
    ASSERT_TRUE(restored.soft_vcpu().load_snapshot(reader));
    EXPECT_EQ(restored.soft_vcpu().core().cpu_model, CpuModel::Baseline);
}

TEST(SoftVcpuSnapshot, XcrZeroAndYmmUpperHalvesRoundTrip) {
    const std::vector<std::uint8_t> bytes = saved_state(CpuModel::Max);
    SoftTestMachine restored;
    StateReader reader(bytes);
    ASSERT_TRUE(restored.soft_vcpu().load_snapshot(reader));
    EXPECT_EQ(reader.remaining(), 0u);
    EXPECT_EQ(restored.soft_vcpu().core().xcr0, 7u);
    EXPECT_EQ(restored.soft_vcpu().core().fpu.ymm_upper[9].q[1], 0x1234'5678'9abc'def0u);
}

TEST(SoftVcpuSnapshot, ACpu2StateRestoresWithoutYmmState) {
    std::vector<std::uint8_t> bytes = saved_state(CpuModel::Max);
    bytes.resize(bytes.size() - pkru_fields - avx_fields);
    bytes[0] = '2'; // "CPU4" -> "CPU2"
    SoftTestMachine restored;
    restored.soft_vcpu().core().fpu.ymm_upper[9].q[1] = 1;
    StateReader reader(bytes);
    ASSERT_TRUE(restored.soft_vcpu().load_snapshot(reader));
    EXPECT_EQ(restored.soft_vcpu().core().cpu_model, CpuModel::Max);
    EXPECT_EQ(restored.soft_vcpu().core().xcr0, 1u);
    EXPECT_EQ(restored.soft_vcpu().core().fpu.ymm_upper[9].q[1], 0u);
}

TEST(SoftVcpuSnapshot, AnXcrZeroTheModelCannotHoldIsRefused) {
    std::vector<std::uint8_t> bytes = saved_state(CpuModel::Max);
    bytes[bytes.size() - pkru_fields - avx_fields] = 5; // XCR0 = x87 | YMM without SSE
    SoftTestMachine restored;
    StateReader reader(bytes);
    const auto loaded = restored.soft_vcpu().load_snapshot(reader);
    ASSERT_FALSE(loaded);
    EXPECT_NE(loaded.error().message.find("XCR0"), std::string::npos) << loaded.error().message;
}

TEST(SoftVcpuSnapshot, PkruRoundTripsAndACpu3StateHasItAtZero) {
    SoftTestMachine machine;
    machine.soft_vcpu().core().set_cpu_model(CpuModel::Max);
    EXPECT_TRUE(machine.vcpu->set_state(machine.state));
    machine.soft_vcpu().core().pkru = 0x5555'5554;
    StateWriter writer;
    ASSERT_TRUE(machine.soft_vcpu().save_snapshot(writer));
    std::vector<std::uint8_t> bytes = writer.take();
    {
        SoftTestMachine restored;
        StateReader reader(bytes);
        ASSERT_TRUE(restored.soft_vcpu().load_snapshot(reader));
        EXPECT_EQ(reader.remaining(), 0u);
        EXPECT_EQ(restored.soft_vcpu().core().pkru, 0x5555'5554u);
    }
    bytes.resize(bytes.size() - pkru_fields);
    bytes[0] = '3'; // "CPU4" -> "CPU3"
    SoftTestMachine restored;
    restored.soft_vcpu().core().pkru = 12;
    StateReader reader(bytes);
    ASSERT_TRUE(restored.soft_vcpu().load_snapshot(reader));
    EXPECT_EQ(reader.remaining(), 0u);
    EXPECT_EQ(restored.soft_vcpu().core().pkru, 0u);
}

namespace {

/// A CPU4 state of a `model` vCPU whose CR4 is `cr4` (PAE and paging on, in long mode).
std::vector<std::uint8_t> saved_state_with_cr4(CpuModel model, std::uint64_t cr4) {
    SoftTestMachine machine;
    machine.soft_vcpu().core().set_cpu_model(model);
    EXPECT_TRUE(machine.vcpu->set_state(machine.state));
    machine.soft_vcpu().core().cr4 = cr4;
    StateWriter writer;
    EXPECT_TRUE(machine.soft_vcpu().save_snapshot(writer));
    return writer.take();
}

constexpr std::uint64_t cr4_smep = 1u << 20;
constexpr std::uint64_t cr4_pke = 1u << 22;
constexpr std::uint64_t cr4_osxsave = 1u << 18;

} // namespace

TEST(SoftVcpuSnapshot, ACr4BitTheCpuModelLacksIsRefusedNamingTheBitsAndTheModel) {
    // As a max guest's CR4 (SMEP, PKE) in a state whose model is x86-64-v2.
    const std::uint64_t cr4 = x86::cr4::pae | x86::cr4::osfxsr | cr4_smep | cr4_pke;
    const std::vector<std::uint8_t> bytes = saved_state_with_cr4(CpuModel::V2, cr4);
    SoftTestMachine restored;
    StateReader reader(bytes);
    const auto loaded = restored.soft_vcpu().load_snapshot(reader);
    ASSERT_FALSE(loaded) << "a CR4 with SMEP and PKE restored on x86-64-v2";
    const std::string& message = loaded.error().message;
    EXPECT_NE(message.find("CR4"), std::string::npos) << message;
    EXPECT_NE(message.find("SMEP (bit 20), PKE (bit 22)"), std::string::npos) << message;
    EXPECT_NE(message.find("x86-64-v2"), std::string::npos) << message;
}

TEST(SoftVcpuSnapshot, Cr4OsxsaveOnTheBaselineModelIsRefused) {
    const std::vector<std::uint8_t> bytes =
        saved_state_with_cr4(CpuModel::Baseline, x86::cr4::pae | cr4_osxsave);
    SoftTestMachine restored;
    StateReader reader(bytes);
    const auto loaded = restored.soft_vcpu().load_snapshot(reader);
    ASSERT_FALSE(loaded);
    EXPECT_NE(loaded.error().message.find("OSXSAVE (bit 18)"), std::string::npos)
        << loaded.error().message;
    EXPECT_NE(loaded.error().message.find("baseline"), std::string::npos) << loaded.error().message;
}

TEST(SoftVcpuSnapshot, Cr4BitsTheCpuModelOffersRestore) {
    const std::uint64_t cr4 = x86::cr4::pae | cr4_osxsave | cr4_smep | cr4_pke;
    const std::vector<std::uint8_t> bytes = saved_state_with_cr4(CpuModel::Max, cr4);
    SoftTestMachine restored;
    StateReader reader(bytes);
    ASSERT_TRUE(restored.soft_vcpu().load_snapshot(reader));
    EXPECT_EQ(restored.soft_vcpu().core().cr4, cr4);
}

TEST(SoftVcpuSnapshot, AnXcrZeroComponentTheModelLacksIsRefusedNamingTheModel) {
    // YMM state (XCR0 bit 2) in a state whose model is x86-64-v2, which has no AVX.
    SoftTestMachine machine;
    machine.soft_vcpu().core().set_cpu_model(CpuModel::V2);
    EXPECT_TRUE(machine.vcpu->set_state(machine.state));
    machine.soft_vcpu().core().xcr0 = 7;
    StateWriter writer;
    ASSERT_TRUE(machine.soft_vcpu().save_snapshot(writer));
    const std::vector<std::uint8_t> bytes = writer.take();
    SoftTestMachine restored;
    StateReader reader(bytes);
    const auto loaded = restored.soft_vcpu().load_snapshot(reader);
    ASSERT_FALSE(loaded);
    const std::string& message = loaded.error().message;
    EXPECT_NE(message.find("XCR0 (0x7) enables state components 0x4"), std::string::npos)
        << message;
    EXPECT_NE(message.find("x86-64-v2"), std::string::npos) << message;
}
