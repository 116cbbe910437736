// The S3 resume entry read from the FACS, and the tables that advertise S3.
#include "arch/x86/acpi_waking_vector.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string_view>

#include "arch/x86/acpi_tables.hpp"

using namespace vessel;
using namespace vessel::x86;

namespace {
GuestMemory memory_with_tables() {
    auto memory = GuestMemory::create(16 << 20).value();
    EXPECT_TRUE(write_acpi_tables(memory, 1).has_value());
    return memory;
}
} // namespace

TEST(AcpiWakingVector, FadtPointsAtTheFixedFacs) {
    auto memory = GuestMemory::create(16 << 20).value();
    auto layout = write_acpi_tables(memory, 2).value();
    EXPECT_EQ(layout.facs_address, acpi_hardware::facs_address);
    const std::uint64_t xsdt = memory.read<std::uint64_t>(layout.rsdp_address + 24).value();
    const std::uint64_t fadt = memory.read<std::uint64_t>(xsdt + 36).value();
    EXPECT_EQ(memory.read<std::uint32_t>(fadt + 36).value(), acpi_hardware::facs_address);
    EXPECT_EQ(memory.read<std::uint64_t>(fadt + 132).value(), acpi_hardware::facs_address);
    EXPECT_EQ(memory.read<std::uint32_t>(layout.facs_address).value(), 0x53434146u); // "FACS"
}

TEST(AcpiWakingVector, DsdtAdvertisesS3WithSleepTypeOne) {
    auto memory = GuestMemory::create(16 << 20).value();
    auto layout = write_acpi_tables(memory, 1).value();
    const std::uint64_t xsdt = memory.read<std::uint64_t>(layout.rsdp_address + 24).value();
    const std::uint64_t fadt = memory.read<std::uint64_t>(xsdt + 36).value();
    const std::uint64_t dsdt = memory.read<std::uint64_t>(fadt + 140).value();
    const std::uint32_t length = memory.read<std::uint32_t>(dsdt + 4).value();
    const std::uint8_t* bytes = memory.host_pointer(dsdt, length);
    // Sound: host_pointer checked [dsdt, dsdt + length) lies in guest RAM.
    const std::string_view aml(reinterpret_cast<const char*>(bytes), length);
    const auto at = aml.find("_S3_");
    ASSERT_NE(at, std::string_view::npos);
    // NameOp "_S3_" PackageOp PkgLength NumElements(4) OneOp OneOp ZeroOp ZeroOp
    ASSERT_GE(aml.size(), at + 11);
    EXPECT_EQ(static_cast<std::uint8_t>(aml[at + 4]), 0x12);
    EXPECT_EQ(static_cast<std::uint8_t>(aml[at + 6]), 4);
    EXPECT_EQ(static_cast<std::uint8_t>(aml[at + 7]), 0x01);
    EXPECT_EQ(static_cast<std::uint8_t>(aml[at + 8]), 0x01);
}

TEST(AcpiWakingVector, RealModeEntryFromThe32BitVector) {
    auto memory = memory_with_tables();
    ASSERT_TRUE(memory
                    .write<std::uint32_t>(
                        acpi_hardware::facs_address + facs::firmware_waking_vector, 0x9a123)
                    .has_value());
    auto state = acpi_waking_state(memory, acpi_hardware::facs_address).value();
    EXPECT_EQ(state.cs.selector, 0x9a12); // CS = vector >> 4
    EXPECT_EQ(state.cs.base, 0x9a120u);
    EXPECT_EQ(state.rip, 0x3u); // IP = vector & 0xf
    EXPECT_EQ(state.cr0 & cr0::pe, 0u);
    EXPECT_EQ(state.efer, 0u);
    EXPECT_EQ(state.rflags, rflags::fixed1); // interrupts off
}

TEST(AcpiWakingVector, ProtectedModeEntryFromTheXVector) {
    auto memory = memory_with_tables();
    ASSERT_TRUE(memory
                    .write<std::uint32_t>(
                        acpi_hardware::facs_address + facs::firmware_waking_vector, 0x9a000)
                    .has_value());
    ASSERT_TRUE(memory
                    .write<std::uint64_t>(
                        acpi_hardware::facs_address + facs::x_firmware_waking_vector, 0x200000)
                    .has_value());
    auto state = acpi_waking_state(memory, acpi_hardware::facs_address).value();
    EXPECT_EQ(state.rip, 0x200000u);
    EXPECT_NE(state.cr0 & cr0::pe, 0u);
    EXPECT_EQ(state.cr0 & cr0::pg, 0u);
    EXPECT_TRUE(state.cs.default_big);
    EXPECT_EQ(state.cs.limit, 0xffffffffu);
}

TEST(AcpiWakingVector, RefusesMissingVectorsAndFacs) {
    auto memory = memory_with_tables();
    auto none = acpi_waking_state(memory, acpi_hardware::facs_address);
    ASSERT_FALSE(none.has_value());
    EXPECT_NE(none.error().message.find("no waking vector"), std::string::npos);
    ASSERT_TRUE(
        memory
            .write<std::uint64_t>(acpi_hardware::facs_address + facs::x_firmware_waking_vector,
                                  std::uint64_t{1} << 40)
            .has_value());
    EXPECT_FALSE(acpi_waking_state(memory, acpi_hardware::facs_address).has_value());
    EXPECT_FALSE(acpi_waking_state(memory, 0x1000).has_value());    // no FACS there
    EXPECT_FALSE(acpi_waking_state(memory, 64u << 20).has_value()); // outside RAM
}
