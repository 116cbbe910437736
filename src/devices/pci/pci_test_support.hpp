// Helpers for PCI and virtio unit tests: a PciBus driven through its real ports, an MSI recorder.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "devices/bus.hpp"
#include "devices/interrupt_sink.hpp"
#include "devices/legacy/test_support.hpp"
#include "devices/pci/pci_bus.hpp"

namespace vessel::testing {

struct RecordingMsiSink final : MsiSink {
    void signal_msi(std::uint64_t address, std::uint32_t data) override {
        messages.push_back({address, data});
    }
    std::vector<std::pair<std::uint64_t, std::uint32_t>> messages;
};

/// An MsiSink with routes, like KVM's irqfd: records what each route carries and what fires.
struct RoutingMsiSink final : MsiSink {
    struct Route final : MsiRoute {
        explicit Route(RoutingMsiSink& owner) : sink(owner) {}
        bool set_message(std::uint64_t address, std::uint32_t data) override {
            if (sink.refuse_routes) return false;
            message = {address, data};
            ++sink.route_updates;
            return true;
        }
        void clear() override { message.reset(); }
        void trigger() override {
            if (message) sink.triggered.push_back(*message);
        }
        RoutingMsiSink& sink;
        std::optional<std::pair<std::uint64_t, std::uint32_t>> message;
    };
    void signal_msi(std::uint64_t address, std::uint32_t data) override {
        signalled.push_back({address, data});
    }
    std::unique_ptr<MsiRoute> create_msi_route() override {
        ++routes_created;
        return std::make_unique<Route>(*this);
    }
    bool refuse_routes{false};
    unsigned routes_created{0};
    unsigned route_updates{0};
    std::vector<std::pair<std::uint64_t, std::uint32_t>> triggered; ///< through a route
    std::vector<std::pair<std::uint64_t, std::uint32_t>> signalled; ///< through signal_msi
};

/// A port I/O bus with a PciBus on 0xcf8/0xcfc, accessed like a guest would.
struct PciHarness {
    Bus io{"io"};
    Bus mmio{"mmio"};
    RecordingInterruptSink irqs;
    pci::PciBus bus{mmio, &irqs};

    PciHarness() {
        (void)io.insert(bus.address_port(), pci::PciBus::config_address_port, 1);
        (void)io.insert(bus.data_port(), pci::PciBus::config_data_port, 4);
    }
    void select(std::uint32_t slot, std::uint32_t offset, std::uint32_t bus_number = 0) {
        std::uint8_t bytes[4];
        value_to_bytes(0x8000'0000u | (bus_number << 16) | (slot << 11) | (offset & 0xfc), bytes);
        io.write(pci::PciBus::config_address_port, bytes);
    }
    std::uint32_t config_read(std::uint32_t slot, std::uint32_t offset, unsigned size = 4) {
        select(slot, offset);
        std::uint8_t bytes[4] = {};
        io.read(pci::PciBus::config_data_port + (offset & 3), {bytes, size});
        return static_cast<std::uint32_t>(bytes_to_value({bytes, size}));
    }
    void config_write(std::uint32_t slot, std::uint32_t offset, std::uint32_t value,
                      unsigned size = 4) {
        select(slot, offset);
        std::uint8_t bytes[4];
        value_to_bytes(value, {bytes, size});
        io.write(pci::PciBus::config_data_port + (offset & 3), {bytes, size});
    }
    std::uint64_t mmio_read(std::uint64_t address, unsigned size) {
        std::uint8_t bytes[8] = {};
        mmio.read(address, {bytes, size});
        return bytes_to_value({bytes, size});
    }
    void mmio_write(std::uint64_t address, std::uint64_t value, unsigned size) {
        std::uint8_t bytes[8];
        value_to_bytes(value, {bytes, size});
        mmio.write(address, {bytes, size});
    }
};

} // namespace vessel::testing
