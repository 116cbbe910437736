// CpuModel: names, the CPUID bits each model advertises, and the host check.
#include <gtest/gtest.h>

#include "engine/soft/cpu_model.hpp"
#include "engine/soft/cpuid_policy.hpp"

using namespace vessel;
using namespace vessel::soft;

namespace {

x86::CpuidEntry leaf(CpuModel model, std::uint32_t function) {
    return x86::find_cpuid_entry(cpuid_entries(0, 1, model), function, 0);
}

} // namespace

TEST(CpuModel, ParsesKnownNamesAndRefusesOthersByName) {
    EXPECT_EQ(parse_cpu_model("baseline").value(), CpuModel::Baseline);
    EXPECT_EQ(parse_cpu_model("x86-64").value(), CpuModel::Baseline);
    EXPECT_EQ(parse_cpu_model("x86-64-v2").value(), CpuModel::V2);
    EXPECT_EQ(parse_cpu_model("max").value(), CpuModel::Max);
    const auto unknown = parse_cpu_model("pentium");
    ASSERT_FALSE(unknown);
    EXPECT_NE(unknown.error().message.find("pentium"), std::string::npos);
    EXPECT_EQ(parse_cpu_model("x86-64-v3").value(), CpuModel::V3);
    const auto v4 = parse_cpu_model("x86-64-v4");
    ASSERT_FALSE(v4);
    EXPECT_NE(v4.error().message.find("AVX-512"), std::string::npos);
}

TEST(CpuModel, CpuidFollowsTheModel) {
    constexpr std::uint32_t sse3 = 1u << 0, ssse3 = 1u << 9, sse41 = 1u << 19, sse42 = 1u << 20,
                            movbe = 1u << 22, popcnt = 1u << 23, cx16 = 1u << 13;
    constexpr std::uint32_t v2 = sse3 | ssse3 | sse41 | sse42 | popcnt;
    EXPECT_EQ(leaf(CpuModel::Baseline, 1).ecx & (v2 | movbe), 0u);
    EXPECT_EQ(leaf(CpuModel::Baseline, 1).ecx & cx16, cx16);
    EXPECT_EQ(leaf(CpuModel::V2, 1).ecx & (v2 | movbe), v2);
    EXPECT_EQ(leaf(CpuModel::Max, 1).ecx & (v2 | movbe), v2 | movbe);
    constexpr std::uint32_t bmi1 = 1u << 3, bmi2 = 1u << 8;
    EXPECT_EQ(leaf(CpuModel::V2, 7).ebx & (bmi1 | bmi2), 0u);
    EXPECT_EQ(leaf(CpuModel::Max, 7).ebx & (bmi1 | bmi2), bmi1 | bmi2);
    constexpr std::uint32_t abm = 1u << 5, rdtscp = 1u << 27, lahf = 1u << 0;
    EXPECT_EQ(leaf(CpuModel::V2, 0x8000'0001).ecx & (abm | lahf), lahf);
    EXPECT_EQ(leaf(CpuModel::Max, 0x8000'0001).ecx & abm, abm);
    EXPECT_EQ(leaf(CpuModel::Max, 0x8000'0001).edx & rdtscp, rdtscp);
    constexpr std::uint32_t fma = 1u << 12, xsave = 1u << 26, avx = 1u << 28, f16c = 1u << 29,
                            avx2 = 1u << 5;
    constexpr std::uint32_t v3 = fma | xsave | avx | f16c;
    EXPECT_EQ(leaf(CpuModel::V2, 1).ecx & v3, 0u);
    EXPECT_EQ(leaf(CpuModel::V2, 7).ebx & avx2, 0u);
    EXPECT_EQ(leaf(CpuModel::V2, 0xd).eax, 0u) << "no XSAVE leaf without XSAVE";
    for (const CpuModel model : {CpuModel::V3, CpuModel::Max}) {
        EXPECT_EQ(leaf(model, 1).ecx & (v2 | movbe | v3), v2 | movbe | v3);
        EXPECT_EQ(leaf(model, 7).ebx & (bmi1 | bmi2 | avx2), bmi1 | bmi2 | avx2);
        EXPECT_EQ(leaf(model, 0x8000'0001).ecx & abm, abm);
        EXPECT_EQ(leaf(model, 0xd).eax, 7u) << "x87, SSE and YMM state";
        EXPECT_EQ(leaf(model, 0xd).ecx, 832u);
    }
    EXPECT_EQ(leaf(CpuModel::V3, 0x8000'0001).edx & rdtscp, 0u) << "RDTSCP is not in x86-64-v3";
}

TEST(CpuModel, TheDefaultIsTheHighestTheHostRuns) {
    EXPECT_TRUE(host_cannot_run(CpuModel::Baseline).empty());
    const CpuModel model = default_cpu_model();
    EXPECT_TRUE(host_cannot_run(model).empty());
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        EXPECT_EQ(model, CpuModel::Max);
    } else if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt")) {
        EXPECT_EQ(model, CpuModel::V2);
    }
}

TEST(CpuModel, EveryModelHasMmx) {
    constexpr std::uint32_t mmx = 1u << 23; // CPUID.1:EDX, part of the x86-64 baseline
    for (const CpuModel model : {CpuModel::Baseline, CpuModel::V2, CpuModel::V3, CpuModel::Max})
        EXPECT_EQ(leaf(model, 1).edx & mmx, mmx);
}

TEST(CpuModel, SmepAndSmapFromV3UmipAndPkuInMaxOnly) {
    // Every CPU of the x86-64-v3 level has SMEP and SMAP (Intel from Broadwell, AMD from Zen),
    // so the v3 model offers them; max stays a superset.
    constexpr std::uint32_t smep = 1u << 7, smap = 1u << 20; // CPUID.(7,0):EBX
    constexpr std::uint32_t umip = 1u << 2, pku = 1u << 3;   // CPUID.(7,0):ECX
    for (const CpuModel model : {CpuModel::Baseline, CpuModel::V2})
        EXPECT_EQ(leaf(model, 7).ebx & (smep | smap), 0u) << cpu_model_name(model);
    for (const CpuModel model : {CpuModel::V3, CpuModel::Max})
        EXPECT_EQ(leaf(model, 7).ebx & (smep | smap), smep | smap) << cpu_model_name(model);
    EXPECT_EQ(leaf(CpuModel::V3, 7).ecx & (umip | pku), 0u);
    EXPECT_EQ(leaf(CpuModel::Max, 7).ecx & (umip | pku), umip | pku);
    EXPECT_EQ(model_features(CpuModel::Max) & model_features(CpuModel::V3),
              model_features(CpuModel::V3));
    EXPECT_NE(model_features(CpuModel::V3) & isa::smap, 0u);
    EXPECT_EQ(model_features(CpuModel::V2) & (isa::smep | isa::smap), 0u);
}
