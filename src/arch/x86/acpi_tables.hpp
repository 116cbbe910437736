// ACPI tables Vessel generates for the guest: RSDP, XSDT, FADT (+FACS, DSDT) and MADT.
#pragma once

#include <cstdint>
#include <vector>

#include "base/result.hpp"
#include "memory/guest_memory.hpp"

namespace vessel::x86 {

/// The fixed hardware the tables describe (ports of Vessel's ACPI power-management device).
namespace acpi_hardware {
constexpr std::uint16_t pm1_event_port = 0x600;   ///< PM1a_EVT_BLK: status (2) + enable (2)
constexpr std::uint16_t pm1_control_port = 0x604; ///< PM1a_CNT_BLK: 2 bytes
constexpr std::uint16_t pm_timer_port = 0x608;    ///< PM_TMR_BLK: 4 bytes, 32-bit counter
constexpr std::uint16_t reset_port = 0xcf9;       ///< FADT RESET_REG (PCI reset control)
constexpr std::uint8_t reset_value = 0x06;        ///< hard reset + CPU reset
constexpr std::uint8_t sci_irq = 9;
constexpr std::uint8_t s3_sleep_type = 1; ///< SLP_TYP for suspend to RAM, the DSDT's _S3
constexpr std::uint8_t s5_sleep_type = 5; ///< SLP_TYP for soft-off, as in the DSDT's _S5
/// The FACS sits at a fixed address (right after the RSDP), so a restored VM, whose tables
/// are only in its saved RAM, finds the waking vector where a booted one put it.
constexpr std::uint64_t facs_address = 0xe0040;
constexpr std::uint64_t ioapic_address = 0xfec0'0000;
constexpr std::uint64_t local_apic_address = 0xfee0'0000;
} // namespace acpi_hardware

/// The PCI root bridge the DSDT describes as \_SB.PCI0 (bus 0 through configuration
/// mechanism #1; IO windows around 0xcf8-0xcff).
struct PciRootDescription {
    std::uint32_t mmio_window_start; ///< BARs live in [start, end]
    std::uint32_t mmio_window_end;
    struct Route {
        std::uint8_t slot;
        std::uint8_t pin; ///< 0 = INTA#
        std::uint32_t gsi;
    };
    std::vector<Route> routes; ///< the _PRT: which IOAPIC input each slot's pin reaches
};

/// Where the tables went; rsdp_address is also what boot_params.acpi_rsdp_addr may carry.
struct AcpiTablesLayout {
    std::uint64_t rsdp_address;
    std::uint64_t end_address;
    std::uint64_t facs_address{acpi_hardware::facs_address};
};

/// Builds the tables in the BIOS area (0xE0000-0xFFFFF) for cpu_count vCPUs (APIC IDs 0..n-1),
/// with a PCI root bridge in the DSDT when pci is given.
Result<AcpiTablesLayout> write_acpi_tables(GuestMemory& memory, std::uint32_t cpu_count,
                                           const PciRootDescription* pci = nullptr);

} // namespace vessel::x86
