// ACPI table builder (ACPI 6.5 specification, chapter 5.2; field offsets cited per table).
#include "arch/x86/acpi_tables.hpp"

#include <cstring>
#include <string_view>
#include <vector>

#include "arch/x86/aml_builder.hpp"
#include "arch/x86/boot_layout.hpp"

namespace vessel::x86 {

namespace {

constexpr std::size_t header_size = 36; ///< ACPI 6.5, 5.2.6 system description table header

/// A growable little-endian byte buffer for one table.
class TableBuilder {
  public:
    TableBuilder(std::string_view signature, std::uint8_t revision) {
        m_bytes.resize(header_size);
        std::memcpy(m_bytes.data(), signature.data(), 4);
        m_bytes[8] = revision;
        std::memcpy(m_bytes.data() + 10, "VESSEL", 6);   // OEMID
        std::memcpy(m_bytes.data() + 16, "VESSELVM", 8); // OEM table ID
        put32_at(24, 1);                                 // OEM revision
        std::memcpy(m_bytes.data() + 28, "VSSL", 4);     // creator ID
        put32_at(32, 1);                                 // creator revision
    }
    void put8(std::uint8_t value) { m_bytes.push_back(value); }
    void put16(std::uint16_t value) { put(value, 2); }
    void put32(std::uint32_t value) { put(value, 4); }
    void put64(std::uint64_t value) { put(value, 8); }
    void put_bytes(std::initializer_list<std::uint8_t> bytes) {
        m_bytes.insert(m_bytes.end(), bytes);
    }
    void pad_to(std::size_t size) { m_bytes.resize(size, 0); }
    void put32_at(std::size_t offset, std::uint32_t value) {
        for (int i = 0; i < 4; ++i)
            m_bytes[offset + i] = static_cast<std::uint8_t>(value >> (8 * i));
    }
    void put64_at(std::size_t offset, std::uint64_t value) {
        for (int i = 0; i < 8; ++i)
            m_bytes[offset + i] = static_cast<std::uint8_t>(value >> (8 * i));
    }
    /// Generic Address Structure (5.2.3.2) for a system I/O port.
    void put_io_address_at(std::size_t offset, std::uint16_t port, std::uint8_t bit_width) {
        m_bytes[offset] = 1; // system I/O space
        m_bytes[offset + 1] = bit_width;
        m_bytes[offset + 2] = 0;
        m_bytes[offset + 3] = bit_width <= 8 ? 1 : bit_width <= 16 ? 2 : 3; // access size
        put64_at(offset + 4, port);
    }
    std::uint8_t& at(std::size_t offset) { return m_bytes[offset]; }
    /// Fills in length and checksum; the table is complete after this.
    std::vector<std::uint8_t> finish() {
        put32_at(4, static_cast<std::uint32_t>(m_bytes.size()));
        m_bytes[9] = 0;
        std::uint8_t sum = 0;
        for (auto byte : m_bytes)
            sum = static_cast<std::uint8_t>(sum + byte);
        m_bytes[9] = static_cast<std::uint8_t>(-sum);
        return m_bytes;
    }

  private:
    void put(std::uint64_t value, int size) {
        for (int i = 0; i < size; ++i)
            m_bytes.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
    }
    std::vector<std::uint8_t> m_bytes;
};

std::uint8_t checksum(const std::uint8_t* bytes, std::size_t size) {
    std::uint8_t sum = 0;
    for (std::size_t i = 0; i < size; ++i)
        sum = static_cast<std::uint8_t>(sum + bytes[i]);
    return static_cast<std::uint8_t>(-sum);
}

// \_SB.PCI0: a PCI Express-less root bridge (PNP0A03) for bus 0 (ACPI 6.5 §6.1, §6.2, §6.5.3
// _BBN, §6.5.6 _SEG, §6.2.13 _PRT).
aml::Bytes pci_root_bridge(const PciRootDescription& pci) {
    using namespace aml;
    constexpr std::uint16_t config_ports = 0xcf8; // consumed by the bridge itself
    const Bytes resources = ResourceTemplate()
                                .word_bus_number(0, 0xff)
                                .io(config_ports, config_ports, 1, 8)
                                .word_io(0x0000, config_ports - 1)
                                .word_io(config_ports + 8, 0xffff)
                                .dword_memory(pci.mmio_window_start, pci.mmio_window_end)
                                .finish();
    std::vector<Bytes> routes;
    for (const auto& route : pci.routes)
        routes.push_back(package({dword((std::uint32_t{route.slot} << 16) | 0xffff),
                                  integer(route.pin), integer(0), integer(route.gsi)}));
    return scope("\\_SB",
                 {device("PCI0", {name("_HID", eisa_id("PNP0A03")), name("_UID", integer(0)),
                                  name("_SEG", integer(0)), name("_BBN", integer(0)),
                                  name("_CRS", resources), name("_PRT", package(routes))})});
}

// DSDT body in AML (ACPI 6.5, chapter 20; 7.4.2 \_Sx): Name (_S3, Package (4) { 1, 1, 0, 0 })
// and Name (_S5, Package (4) { 5, 5, 0, 0 }) so Linux knows the SLP_TYP values for suspend to
// RAM and power-off, and the PCI root bridge.
std::vector<std::uint8_t> build_dsdt(const PciRootDescription* pci) {
    TableBuilder table("DSDT", 2);
    using namespace aml;
    for (auto byte :
         name("_S3", package({integer(acpi_hardware::s3_sleep_type),
                              integer(acpi_hardware::s3_sleep_type), integer(0), integer(0)})))
        table.put8(byte);
    for (auto byte :
         name("_S5", package({integer(acpi_hardware::s5_sleep_type),
                              integer(acpi_hardware::s5_sleep_type), integer(0), integer(0)})))
        table.put8(byte);
    if (pci != nullptr)
        for (auto byte : pci_root_bridge(*pci))
            table.put8(byte);
    return table.finish();
}

// FACS (5.2.10): 64 bytes, no header checksum; required by non-hardware-reduced ACPI.
std::vector<std::uint8_t> build_facs() {
    std::vector<std::uint8_t> facs(64, 0);
    std::memcpy(facs.data(), "FACS", 4);
    facs[4] = 64; // length
    facs[32] = 2; // version
    return facs;
}

// FADT revision 6 (5.2.9, table 5.9): 276 bytes.
std::vector<std::uint8_t> build_fadt(std::uint64_t facs_address, std::uint64_t dsdt_address) {
    using namespace acpi_hardware;
    TableBuilder table("FACP", 6);
    table.pad_to(276);
    table.put32_at(36, static_cast<std::uint32_t>(facs_address)); // FIRMWARE_CTRL
    table.put32_at(40, static_cast<std::uint32_t>(dsdt_address)); // DSDT
    table.at(46) = sci_irq;                                       // SCI_INT (16-bit)
    // SMI_CMD (48) = 0: no SMM, the hardware is always in ACPI mode.
    table.put32_at(56, pm1_event_port);   // PM1a_EVT_BLK
    table.put32_at(64, pm1_control_port); // PM1a_CNT_BLK
    table.put32_at(76, pm_timer_port);    // PM_TMR_BLK
    table.at(88) = 4;                     // PM1_EVT_LEN
    table.at(89) = 2;                     // PM1_CNT_LEN
    table.at(91) = 4;                     // PM_TMR_LEN
    table.at(108) = 0x32;                 // CENTURY: CMOS index of the century byte
    table.at(109) = 0x03;                 // IAPC_BOOT_ARCH: legacy devices, 8042
    // Flags (table 5.10): WBINVD, PROC_C1, PWR_BUTTON and SLP_BUTTON as control methods (none),
    // TMR_VAL_EXT (a 32-bit PM timer), RESET_REG_SUP.
    table.put32_at(112, (1u << 0) | (1u << 2) | (1u << 4) | (1u << 5) | (1u << 8) | (1u << 10));
    table.put_io_address_at(116, reset_port, 8);        // RESET_REG
    table.at(128) = reset_value;                        // RESET_VALUE
    table.at(131) = 5;                                  // FADT minor version (6.5)
    table.put64_at(132, facs_address);                  // X_FIRMWARE_CTRL
    table.put64_at(140, dsdt_address);                  // X_DSDT
    table.put_io_address_at(148, pm1_event_port, 32);   // X_PM1a_EVT_BLK
    table.put_io_address_at(172, pm1_control_port, 16); // X_PM1a_CNT_BLK
    table.put_io_address_at(208, pm_timer_port, 32);    // X_PM_TMR_BLK
    std::memcpy(&table.at(268), "VESSELVM", 8);         // hypervisor vendor identity
    return table.finish();
}

// MADT (5.2.12): local APICs, the IOAPIC, ISA overrides, LINT1 as NMI.
std::vector<std::uint8_t> build_madt(std::uint32_t cpu_count) {
    using namespace acpi_hardware;
    TableBuilder table("APIC", 5);
    table.put32(static_cast<std::uint32_t>(local_apic_address));
    table.put32(1); // PCAT_COMPAT: dual 8259s present
    for (std::uint32_t cpu = 0; cpu < cpu_count; ++cpu) {
        table.put_bytes({0, 8, static_cast<std::uint8_t>(cpu), static_cast<std::uint8_t>(cpu)});
        table.put32(1); // enabled
    }
    table.put_bytes({1, 12, static_cast<std::uint8_t>(cpu_count), 0}); // IOAPIC after the CPUs' IDs
    table.put32(static_cast<std::uint32_t>(ioapic_address));
    table.put32(0); // GSI base
    // ISA IRQ 0 (PIT) arrives on IOAPIC pin 2; the SCI is level-triggered, active high.
    table.put_bytes({2, 10, 0, 0});
    table.put32(2);
    table.put16(0);
    table.put_bytes({2, 10, 0, sci_irq});
    table.put32(sci_irq);
    table.put16(0x000d);
    table.put_bytes({4, 6, 0xff, 0, 0, 1}); // NMI on LINT1 of every processor
    return table.finish();
}

std::vector<std::uint8_t> build_xsdt(std::initializer_list<std::uint64_t> tables) {
    TableBuilder table("XSDT", 1);
    for (auto address : tables)
        table.put64(address);
    return table.finish();
}

// RSDP (5.2.5.3), ACPI 2.0+ form: 36 bytes.
std::vector<std::uint8_t> build_rsdp(std::uint64_t xsdt_address) {
    std::vector<std::uint8_t> rsdp(36, 0);
    std::memcpy(rsdp.data(), "RSD PTR ", 8);
    std::memcpy(rsdp.data() + 9, "VESSEL", 6);
    rsdp[15] = 2; // revision
    rsdp[20] = 36;
    for (int i = 0; i < 8; ++i)
        rsdp[24 + i] = static_cast<std::uint8_t>(xsdt_address >> (8 * i));
    rsdp[8] = checksum(rsdp.data(), 20);
    rsdp[32] = checksum(rsdp.data(), 36);
    return rsdp;
}

} // namespace

Result<AcpiTablesLayout> write_acpi_tables(GuestMemory& memory, std::uint32_t cpu_count,
                                           const PciRootDescription* pci) {
    if (cpu_count == 0 || cpu_count > 254)
        return make_error("ACPI: {} vCPUs cannot be described (1-254)", cpu_count);
    std::uint64_t next = boot_layout::acpi_tables_start;
    auto place = [&](const std::vector<std::uint8_t>& table,
                     std::uint64_t alignment) -> Result<std::uint64_t> {
        next = (next + alignment - 1) & ~(alignment - 1);
        if (next + table.size() > boot_layout::acpi_tables_end)
            return make_error("ACPI tables do not fit below 1 MiB");
        TRY(memory.write_bytes(next, table));
        std::uint64_t address = next;
        next += table.size();
        return address;
    };
    // The RSDP goes first so a scan of 0xE0000 finds it at once; its XSDT address is patched last.
    std::uint64_t rsdp_address = TRY(place(build_rsdp(0), 16));
    std::uint64_t facs_address = TRY(place(build_facs(), 64));
    if (facs_address != acpi_hardware::facs_address)
        return make_error("ACPI: the FACS landed at {:#x}, not at {:#x}", facs_address,
                          acpi_hardware::facs_address);
    std::uint64_t dsdt_address = TRY(place(build_dsdt(pci), 16));
    std::uint64_t fadt_address = TRY(place(build_fadt(facs_address, dsdt_address), 16));
    std::uint64_t madt_address = TRY(place(build_madt(cpu_count), 16));
    std::uint64_t xsdt_address = TRY(place(build_xsdt({fadt_address, madt_address}), 16));
    TRY(memory.write_bytes(rsdp_address, build_rsdp(xsdt_address)));
    return AcpiTablesLayout{rsdp_address, next, facs_address};
}

} // namespace vessel::x86
