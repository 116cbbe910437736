// Tests for the CR4 bits each CPU model offers and their names in error messages.
#include "engine/soft/cr4_bits.hpp"

#include <gtest/gtest.h>

#include "engine/soft/cpu_model.hpp"

namespace vessel::soft {
namespace {

constexpr std::uint64_t cr4_umip = 1u << 11;
constexpr std::uint64_t cr4_fsgsbase = 1u << 16;
constexpr std::uint64_t cr4_osxsave = 1u << 18;
constexpr std::uint64_t cr4_smep = 1u << 20;
constexpr std::uint64_t cr4_smap = 1u << 21;
constexpr std::uint64_t cr4_pke = 1u << 22;

TEST(Cr4Bits, EachModelOffersTheBitsOfItsFeatures) {
    const std::uint64_t baseline = cr4_bits_offered(model_features(CpuModel::Baseline));
    const std::uint64_t v2 = cr4_bits_offered(model_features(CpuModel::V2));
    const std::uint64_t v3 = cr4_bits_offered(model_features(CpuModel::V3));
    const std::uint64_t max = cr4_bits_offered(model_features(CpuModel::Max));
    EXPECT_EQ(baseline & (cr4_osxsave | cr4_smep | cr4_smap | cr4_pke | cr4_umip), 0u);
    EXPECT_EQ(v2, baseline);
    EXPECT_EQ(v3, baseline | cr4_osxsave | cr4_smep | cr4_smap);
    EXPECT_EQ(max, v3 | cr4_umip | cr4_pke);
    EXPECT_EQ(max & cr4_fsgsbase, 0u) << "the software CPU has no rdfsbase/wrfsbase";
}

TEST(Cr4Bits, NamesSetBitsInOrderAndReservedOnesByNumber) {
    EXPECT_EQ(cr4_bit_names(cr4_smep | cr4_pke), "SMEP (bit 20), PKE (bit 22)");
    EXPECT_EQ(cr4_bit_names(cr4_fsgsbase), "FSGSBASE (bit 16)");
    EXPECT_EQ(cr4_bit_names((1u << 15) | (std::uint64_t{1} << 40)), "bit 15, bit 40");
    EXPECT_EQ(cr4_bit_names(0), "");
}

} // namespace
} // namespace vessel::soft
