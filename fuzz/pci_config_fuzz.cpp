// libFuzzer target: a hostile guest on the PCI bus. Two virtio PCI functions (an entropy device
// and a console) sit on a PciBus reached through ports 0xcf8/0xcfc as a guest reaches it; the
// input is a sequence of configuration-space accesses of any width and offset (BARs moved,
// sized, decoding toggled, capabilities and MSI-X control written), BAR accesses relative to
// where BAR 0 decodes now (common config, ISR, device config, notify, MSI-X table and PBA),
// raw MMIO anywhere and guest RAM writes (rings a notify then reads). Nothing may crash, leave
// guest RAM, or leave a device in a state the next access trips on.
#include <array>
#include <cstdint>
#include <cstring>

#include "base/log.hpp"
#include "devices/bus.hpp"
#include "devices/interrupt_sink.hpp"
#include "devices/pci/pci_bus.hpp"
#include "devices/virtio/virtio_console.hpp"
#include "devices/virtio/virtio_pci_device.hpp"
#include "devices/virtio/virtio_rng.hpp"
#include "memory/guest_memory.hpp"

namespace {

using namespace vessel;

constexpr std::uint64_t memory_size = 1 << 20;
constexpr std::size_t step = 8; // operation, selector, offset (2), value (4)

struct Interrupts final : InterruptSink {
    void set_irq_level(std::uint32_t, bool) override {}
};
struct Messages final : MsiSink {
    void signal_msi(std::uint64_t, std::uint32_t) override {}
};

GuestMemory& memory() {
    static GuestMemory instance = [] {
        log::initialize("off");
        return GuestMemory::create(memory_size).value();
    }();
    return instance;
}

std::uint32_t little_endian(const std::uint8_t* bytes, unsigned width) {
    std::uint32_t value = 0;
    for (unsigned i = 0; i < width; ++i)
        value |= std::uint32_t{bytes[i]} << (8 * i);
    return value;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    GuestMemory& ram = memory();
    (void)ram.fill(0, 0, 64 << 10);
    Bus io("fuzz io");
    Bus mmio("fuzz mmio");
    Interrupts interrupts;
    Messages messages;
    // The functions outlive the bus, which unmaps their BARs when it goes.
    virtio::VirtioRng rng;
    virtio::VirtioConsole console([](std::span<const std::uint8_t>) {});
    virtio::VirtioPciDevice rng_function(rng, ram, &messages);
    virtio::VirtioPciDevice console_function(console, ram, &messages);
    pci::PciBus bus(mmio, &interrupts);
    (void)io.insert(bus.address_port(), pci::PciBus::config_address_port, 1);
    (void)io.insert(bus.data_port(), pci::PciBus::config_data_port, 4);
    std::array<std::uint32_t, 2> slots{};
    slots[0] = bus.add(rng_function).value();
    slots[1] = bus.add(console_function).value();

    const auto select = [&](std::uint32_t slot, std::uint32_t offset) {
        std::array<std::uint8_t, 4> bytes{};
        const std::uint32_t address = 0x8000'0000u | (slot << 11) | (offset & 0xfc);
        std::memcpy(bytes.data(), &address, 4);
        io.write(pci::PciBus::config_address_port, bytes);
    };
    const auto bar0 = [&](std::uint32_t slot) -> std::uint64_t {
        select(slot, 0x10);
        std::array<std::uint8_t, 4> bytes{};
        io.read(pci::PciBus::config_data_port, bytes);
        return little_endian(bytes.data(), 4) & ~0xfu;
    };

    for (std::size_t at = 0; at + step <= size; at += step) {
        const std::uint8_t operation = data[at], selector = data[at + 1];
        const std::uint32_t offset = little_endian(data + at + 2, 2);
        std::array<std::uint8_t, 8> value{};
        std::memcpy(value.data(), data + at + 4, 4);
        const unsigned width = 1u << (selector % 4); // 1, 2, 4 or 8 bytes
        const bool write = (operation & 0x80) != 0;
        const std::uint32_t slot = slots[(selector >> 2) & 1];
        switch ((operation & 0x7f) % 6) { // bit 7: write
        case 0: // configuration space of a function (or of an empty slot, or another bus)
            select((selector & 8) ? (selector >> 4) : slot, offset & 0xff);
            if (write)
                io.write(pci::PciBus::config_data_port + (offset & 3),
                         {value.data(), std::min(width, 4u)});
            else
                io.read(pci::PciBus::config_data_port + (offset & 3),
                        {value.data(), std::min(width, 4u)});
            break;
        case 1: // the address register itself, any value (bus, function, disable bit)
            io.write(pci::PciBus::config_address_port, {value.data(), 4});
            break;
        case 2: { // BAR 0, where it decodes now (32 KiB: common, ISR, device, notify, MSI-X)
            const std::uint64_t address = bar0(slot) + (offset & 0x7fff);
            if (write)
                mmio.write(address, {value.data(), width});
            else
                mmio.read(address, {value.data(), width});
            break;
        }
        case 3: { // MMIO anywhere in the 32-bit space
            const std::uint64_t address = little_endian(value.data(), 4);
            if (write)
                mmio.write(address, {value.data(), width});
            else
                mmio.read(address, {value.data(), width});
            break;
        }
        case 4: // guest RAM: rings and buffers in the first 64 KiB
            (void)ram.write_bytes((offset * 4) & 0xffff, {value.data(), 4});
            break;
        case 5: // any port, any width (0xcf8-0xcff at odd widths included)
            if (write)
                io.write(0xcf8 + (offset & 7), {value.data(), std::min(width, 4u)});
            else
                io.read(0xcf8 + (offset & 7), {value.data(), std::min(width, 4u)});
            break;
        }
    }
    return 0;
}
