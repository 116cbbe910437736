#include "arch/x86/cpuid_policy.hpp"

#include <gtest/gtest.h>

namespace vessel::x86 {
namespace {

constexpr std::uint32_t leaf1_edx_htt = 1u << 28;
constexpr std::uint32_t leaf1_ecx_hypervisor = 1u << 31;

std::vector<CpuidEntry> sample_leaves() {
    return {
        {0x0, 0, false, 0xb, 0x756e6547, 0x6c65746e, 0x49656e69},
        {0x1, 0, false, 0x00000f61, 0x00ff0800, 0x00000020 /* vmx */, leaf1_edx_htt},
        {0x6, 0, false, 1, 2, 3, 4},
        {0xa, 0, false, 1, 2, 3, 4},
        {0xb, 0, true, 9, 9, 9, 9},
        {0xb, 1, true, 9, 9, 9, 9},
        {0xb, 2, true, 9, 9, 9, 9},
    };
}

TEST(CpuidPolicy, Leaf1CarriesTheApicIdAndCountAndHidesVmx) {
    auto entries = sample_leaves();
    apply_cpuid_policy(entries, 3, 4);
    const CpuidEntry leaf1 = find_cpuid_entry(entries, 1, 0);
    EXPECT_EQ(leaf1.ebx, (3u << 24) | (4u << 16) | 0x0800u); // clflush size kept
    EXPECT_EQ(leaf1.ecx, leaf1_ecx_hypervisor);
    EXPECT_EQ(leaf1.edx, leaf1_edx_htt);
}

TEST(CpuidPolicy, OneCpuHasNoHyperThreadingBit) {
    auto entries = sample_leaves();
    apply_cpuid_policy(entries, 0, 1);
    EXPECT_EQ(find_cpuid_entry(entries, 1, 0).edx & leaf1_edx_htt, 0u);
}

TEST(CpuidPolicy, ExtendedTopologyIsOneThreadPerCore) {
    auto entries = sample_leaves();
    apply_cpuid_policy(entries, 2, 3);
    const CpuidEntry smt = find_cpuid_entry(entries, 0xb, 0);
    EXPECT_EQ(smt.eax, 0u);
    EXPECT_EQ(smt.ebx, 1u);
    EXPECT_EQ(smt.ecx, 0x100u);
    EXPECT_EQ(smt.edx, 2u);
    const CpuidEntry core = find_cpuid_entry(entries, 0xb, 1);
    EXPECT_EQ(core.eax, 2u); // two APIC ID bits for three cores
    EXPECT_EQ(core.ebx, 3u);
    EXPECT_EQ(core.ecx, 0x201u);
    const CpuidEntry end = find_cpuid_entry(entries, 0xb, 2);
    EXPECT_EQ(end.eax, 0u);
    EXPECT_EQ(end.ebx, 0u);
    EXPECT_EQ(end.ecx, 2u);
}

TEST(CpuidPolicy, DropsThermalAndPerformanceMonitoringLeaves) {
    auto entries = sample_leaves();
    apply_cpuid_policy(entries, 0, 1);
    EXPECT_EQ(find_cpuid_entry(entries, 0x6, 0).eax, 0u);
    EXPECT_EQ(find_cpuid_entry(entries, 0xa, 0).eax, 0u);
}

TEST(CpuidPolicy, LookupHonoursSignificantIndexAndReturnsZeroForUnlistedLeaves) {
    const auto entries = sample_leaves();
    EXPECT_EQ(find_cpuid_entry(entries, 0, 7).eax, 0xbu); // subleaf ignored
    EXPECT_EQ(find_cpuid_entry(entries, 0xb, 5).eax, 0u); // subleaf not listed
    const CpuidEntry missing = find_cpuid_entry(entries, 0x8000'0000, 0);
    EXPECT_EQ(missing.eax | missing.ebx | missing.ecx | missing.edx, 0u);
}

} // namespace
} // namespace vessel::x86
