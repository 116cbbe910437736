// Host extensions: the direct CPUID answer agrees with Xbyak's full CPU detection.
#include "engine/soft/translator/host_extensions.hpp"

#include <gtest/gtest.h>

#include <xbyak/xbyak.h>
#include <xbyak/xbyak_util.h>

#include "engine/soft/cpu_model.hpp"

using namespace vessel;

TEST(HostExtensions, Bmi2FromOneCpuidMatchesXbyak) {
    const Xbyak::util::Cpu cpu;
    EXPECT_EQ(soft::host_has_bmi2(), cpu.has(Xbyak::util::Cpu::tBMI2));
    EXPECT_EQ(soft::host_has_bmi2(), soft::host_has_extension(soft::isa::bmi2));
}
