// PciHostBridge: device 0 of bus 0, the host bridge Linux's type 1 sanity check looks for.
#pragma once

#include "devices/pci/pci_device.hpp"

namespace vessel::pci {

/// A host bridge with no BARs or interrupts (class 06/00, PCI Code and ID Assignment 1.11).
/// Linux's pci_sanity_check() accepts configuration mechanism #1 once it sees it.
class PciHostBridge final : public PciDevice {
  public:
    static constexpr std::uint16_t vendor_intel = 0x8086;
    static constexpr std::uint16_t device_id_value = 0x0d57;
    static constexpr std::uint32_t class_host_bridge = 0x06'00'00;

    PciHostBridge()
        : PciDevice(PciIdentity{vendor_intel, device_id_value, class_host_bridge, 0, 0, 0}) {}
    std::string_view name() const override { return "pci host bridge"; }
};

} // namespace vessel::pci
