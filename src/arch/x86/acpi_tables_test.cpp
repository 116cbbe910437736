// ACPI tables: RSDP discoverable by the BIOS-area scan, checksums, MADT contents, FADT links.
#include "arch/x86/acpi_tables.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

using namespace vessel;
using namespace vessel::x86;

namespace {
std::uint8_t sum(const GuestMemory& memory, std::uint64_t address, std::uint64_t length) {
    std::uint8_t total = 0;
    const std::uint8_t* bytes = memory.host_pointer(address, length);
    for (std::uint64_t i = 0; i < length; ++i)
        total = static_cast<std::uint8_t>(total + bytes[i]);
    return total;
}
std::string signature(const GuestMemory& memory, std::uint64_t address) {
    return std::string(reinterpret_cast<const char*>(memory.host_pointer(address, 4)), 4);
}
std::uint32_t length(const GuestMemory& memory, std::uint64_t address) {
    return memory.read<std::uint32_t>(address + 4).value();
}
} // namespace

TEST(AcpiTables, RsdpFoundByScanAndTablesChecksum) {
    auto memory = GuestMemory::create(64 << 20).value();
    auto layout = write_acpi_tables(memory, 3).value();
    // The scan Linux does: 16-byte steps through 0xE0000-0xFFFFF for "RSD PTR ".
    std::uint64_t found = 0;
    for (std::uint64_t at = 0xe0000; at < 0x100000; at += 16) {
        if (std::memcmp(memory.host_pointer(at, 8), "RSD PTR ", 8) == 0) {
            found = at;
            break;
        }
    }
    ASSERT_EQ(found, layout.rsdp_address);
    EXPECT_EQ(sum(memory, found, 20), 0);
    EXPECT_EQ(sum(memory, found, 36), 0);
    std::uint64_t xsdt = memory.read<std::uint64_t>(found + 24).value();
    ASSERT_EQ(signature(memory, xsdt), "XSDT");
    EXPECT_EQ(sum(memory, xsdt, length(memory, xsdt)), 0);
    std::uint32_t entries = (length(memory, xsdt) - 36) / 8;
    ASSERT_EQ(entries, 2u);
    std::uint64_t fadt = memory.read<std::uint64_t>(xsdt + 36).value();
    std::uint64_t madt = memory.read<std::uint64_t>(xsdt + 44).value();
    EXPECT_EQ(signature(memory, fadt), "FACP");
    EXPECT_EQ(sum(memory, fadt, length(memory, fadt)), 0);
    EXPECT_EQ(length(memory, fadt), 276u);
    std::uint64_t dsdt = memory.read<std::uint64_t>(fadt + 140).value();
    EXPECT_EQ(signature(memory, dsdt), "DSDT");
    EXPECT_EQ(sum(memory, dsdt, length(memory, dsdt)), 0);
    EXPECT_EQ(memory.read<std::uint32_t>(fadt + 64).value(), acpi_hardware::pm1_control_port);
    ASSERT_EQ(signature(memory, madt), "APIC");
    EXPECT_EQ(sum(memory, madt, length(memory, madt)), 0);
}

// The PM timer (ACPI 6.5 table 5.9): PM_TMR_BLK and X_PM_TMR_BLK name port 0x608, 4 bytes,
// and TMR_VAL_EXT declares its 32-bit counter.
TEST(AcpiTables, FadtDescribesThe32BitPmTimer) {
    auto memory = GuestMemory::create(64 << 20).value();
    auto layout = write_acpi_tables(memory, 1).value();
    std::uint64_t xsdt = memory.read<std::uint64_t>(layout.rsdp_address + 24).value();
    std::uint64_t fadt = memory.read<std::uint64_t>(xsdt + 36).value();
    ASSERT_EQ(signature(memory, fadt), "FACP");
    EXPECT_EQ(memory.read<std::uint32_t>(fadt + 76).value(), acpi_hardware::pm_timer_port);
    EXPECT_EQ(memory.read<std::uint8_t>(fadt + 91).value(), 4);
    EXPECT_NE(memory.read<std::uint32_t>(fadt + 112).value() & (1u << 8), 0u); // TMR_VAL_EXT
    EXPECT_EQ(memory.read<std::uint8_t>(fadt + 208).value(), 1);               // system I/O space
    EXPECT_EQ(memory.read<std::uint8_t>(fadt + 209).value(), 32);              // register bit width
    EXPECT_EQ(memory.read<std::uint64_t>(fadt + 212).value(), acpi_hardware::pm_timer_port);
    EXPECT_EQ(acpi_hardware::pm_timer_port, 0x608);
}

TEST(AcpiTables, MadtListsEveryCpuAndTheIoapic) {
    auto memory = GuestMemory::create(64 << 20).value();
    auto layout = write_acpi_tables(memory, 4).value();
    std::uint64_t xsdt = memory.read<std::uint64_t>(layout.rsdp_address + 24).value();
    std::uint64_t madt = memory.read<std::uint64_t>(xsdt + 44).value();
    std::uint64_t end = madt + length(memory, madt);
    int cpus = 0, ioapics = 0, overrides = 0;
    for (std::uint64_t at = madt + 44; at < end;) {
        std::uint8_t type = memory.read<std::uint8_t>(at).value();
        std::uint8_t size = memory.read<std::uint8_t>(at + 1).value();
        ASSERT_GT(size, 0);
        if (type == 0) {
            EXPECT_EQ(memory.read<std::uint8_t>(at + 3).value(), cpus); // APIC ID
            ++cpus;
        }
        if (type == 1) {
            ++ioapics;
            EXPECT_EQ(memory.read<std::uint32_t>(at + 4).value(), 0xfec00000u);
        }
        if (type == 2) ++overrides;
        at += size;
    }
    EXPECT_EQ(cpus, 4);
    EXPECT_EQ(ioapics, 1);
    EXPECT_EQ(overrides, 2);
}

TEST(AcpiTables, RejectsImpossibleCpuCounts) {
    auto memory = GuestMemory::create(64 << 20).value();
    EXPECT_FALSE(write_acpi_tables(memory, 0));
    EXPECT_FALSE(write_acpi_tables(memory, 300));
}

TEST(AcpiTables, DsdtDescribesThePciRootBridgeWhenGiven) {
    auto memory = vessel::GuestMemory::create(16 << 20).value();
    vessel::x86::PciRootDescription pci{0xc0000000, 0xfdffffff, {{1, 0, 17}, {2, 3, 21}}};
    auto layout = vessel::x86::write_acpi_tables(memory, 1, &pci).value();
    std::vector<std::uint8_t> bytes(layout.end_address - layout.rsdp_address);
    ASSERT_TRUE(memory.read_bytes(layout.rsdp_address, bytes));
    const std::string text(bytes.begin(), bytes.end());
    for (const char* needle : {"DSDT", "PCI0", "_HID", "_CRS", "_PRT", "_BBN", "_SEG"})
        EXPECT_NE(text.find(needle), std::string::npos) << needle;
    // _PRT entry for slot 2 pin D: Package { 0x0002FFFF, 3, 0, 21 }.
    const std::string entry = {0x12, 0x0c, 0x04, 0x0c, '\xff', '\xff', 0x02,
                               0x00, 0x0a, 0x03, 0x00, 0x0a,   21};
    EXPECT_NE(text.find(entry), std::string::npos);
}
