// A software vCPU's snapshot state carries its CPU model (layout CPU2): a restore takes the
// model from it, an unknown model is refused, and an older CPU1 state restores as baseline.
#include <gtest/gtest.h>

#include "base/state_archive.hpp"
#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::CpuModel;
using vessel::soft::testing::SoftTestMachine;

namespace {

std::vector<std::uint8_t> saved_state(CpuModel model) {
    SoftTestMachine machine;
    machine.soft_vcpu().core().set_cpu_model(model);
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
    bytes.back() = 7; // the model is the last field
    SoftTestMachine restored;
    StateReader reader(bytes);
    const auto loaded = restored.soft_vcpu().load_snapshot(reader);
    ASSERT_FALSE(loaded);
    EXPECT_NE(loaded.error().message.find("CPU model"), std::string::npos)
        << loaded.error().message;
}

TEST(SoftVcpuSnapshot, AnOlderLayoutRestoresAsBaseline) {
    std::vector<std::uint8_t> bytes = saved_state(CpuModel::Max);
    bytes.pop_back(); // CPU1 had no model field
    bytes[0] = '1';   // "CPU2" -> "CPU1" (little-endian u32: the digit comes first)
    SoftTestMachine restored;
    StateReader reader(bytes);
    ASSERT_TRUE(restored.soft_vcpu().load_snapshot(reader));
    EXPECT_EQ(restored.soft_vcpu().core().cpu_model, CpuModel::Baseline);
}
