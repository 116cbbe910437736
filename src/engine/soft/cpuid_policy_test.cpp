#include "engine/soft/cpuid_policy.hpp"

#include <cstring>

#include <gtest/gtest.h>

namespace vessel::soft {
namespace {

TEST(SoftCpuid, ReportsTheSoftwareCpuFeatureSet) {
    const auto entries = cpuid_entries(0, 1);
    const x86::CpuidEntry leaf0 = x86::find_cpuid_entry(entries, 0, 0);
    char vendor[13] = {};
    std::memcpy(vendor, &leaf0.ebx, 4);
    std::memcpy(vendor + 4, &leaf0.edx, 4);
    std::memcpy(vendor + 8, &leaf0.ecx, 4);
    EXPECT_STREQ(vendor, "GenuineIntel");
    EXPECT_EQ(leaf0.eax, 0x16u);
    const x86::CpuidEntry leaf1 = x86::find_cpuid_entry(entries, 1, 0);
    EXPECT_EQ(leaf1.eax, 0x00000f61u);
    EXPECT_EQ(leaf1.ebx, 0x00010800u); // APIC ID 0, one logical CPU, 64-byte clflush
    EXPECT_EQ(leaf1.ecx, (1u << 13) | (1u << 24) | (1u << 31));
    EXPECT_EQ(leaf1.edx, 0x0709a379u | (1u << 7) | (1u << 14) | (1u << 23)); // MCE, MCA, MMX
    EXPECT_EQ(x86::find_cpuid_entry(entries, 0x8000'0001, 0).edx,
              (1u << 11) | (1u << 20) | (1u << 29));
}

TEST(SoftCpuid, TopologyComesFromTheSharedPolicy) {
    const auto entries = cpuid_entries(1, 2);
    const x86::CpuidEntry leaf1 = x86::find_cpuid_entry(entries, 1, 0);
    EXPECT_EQ(leaf1.ebx >> 24, 1u);
    EXPECT_EQ((leaf1.ebx >> 16) & 0xff, 2u);
    EXPECT_NE(leaf1.edx & (1u << 28), 0u); // HTT: the count field is valid
    EXPECT_EQ(x86::find_cpuid_entry(entries, 0xb, 1).ebx, 2u);
    EXPECT_EQ(x86::find_cpuid_entry(entries, 0xb, 0).edx, 1u);
}

TEST(SoftCpuid, UnimplementedLeavesAreZero) {
    const auto entries = cpuid_entries(0, 1);
    const x86::CpuidEntry leaf4 = x86::find_cpuid_entry(entries, 4, 0);
    EXPECT_EQ(leaf4.eax | leaf4.ebx | leaf4.ecx | leaf4.edx, 0u);
    EXPECT_EQ(x86::find_cpuid_entry(entries, 7, 1).ebx, 0u);
    EXPECT_EQ(x86::find_cpuid_entry(entries, 7, 0).ebx, 1u << 1); // TSC_ADJUST
    EXPECT_EQ(x86::find_cpuid_entry(entries, 7, 0).eax, 2u);      // subleaf 2 is the last
    EXPECT_EQ(x86::find_cpuid_entry(entries, 7, 2).edx, 1u << 4); // BHI_CTRL
}

} // namespace
} // namespace vessel::soft
