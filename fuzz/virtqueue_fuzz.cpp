// libFuzzer target: hostile split virtqueues. The input is the guest memory image plus the
// queue setup; the device side pops and pushes and must never crash or leave guest RAM.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "base/log.hpp"
#include "devices/virtio/virtqueue.hpp"
#include "memory/guest_memory.hpp"

namespace {

using namespace vessel;

constexpr std::uint64_t memory_size = 1 << 20; // GuestMemory's minimum
constexpr std::size_t image_size = 16 << 10;   // the part of RAM the input writes
constexpr std::size_t header_size = 16;

/// Input layout: header (16 bytes), then up to 16 KiB copied to guest-physical 0.
///   0-1  queue size (any value; set_size refuses bad ones)
///   2    flags: bit 0 negotiate INDIRECT_DESC, bit 1 push made-up heads, bit 2 wide ring addresses
///   3    operation count
///   4-15 ring addresses: inside the 16 KiB image, or with bit 2 anywhere in 0-2 MiB (RAM is
///        1 MiB, so rings outside or straddling the end of RAM occur)
struct Header {
    std::uint16_t size;
    std::uint8_t flags;
    std::uint8_t operations;
    std::uint32_t rings[3];
};

GuestMemory& memory() {
    static GuestMemory instance = [] {
        log::initialize("off");
        return GuestMemory::create(memory_size).value();
    }();
    return instance;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < header_size) return 0;
    Header header;
    std::memcpy(&header, data, sizeof(header));
    GuestMemory& ram = memory();
    static std::size_t dirty = 0;
    (void)ram.fill(0, 0, dirty);
    const std::size_t image = std::min(size - header_size, image_size);
    (void)ram.write_bytes(0, {data + header_size, image});
    dirty = image;

    virtio::Virtqueue queue(0, 256);
    queue.set_size(header.size);
    const std::uint32_t mask = (header.flags & 4) != 0 ? 0x1f'ffff : image_size - 1;
    queue.descriptor_address = header.rings[0] & mask;
    queue.driver_address = header.rings[1] & mask;
    queue.device_address = header.rings[2] & mask;
    queue.enabled = true;
    int errors = 0;
    if (!queue.activate(ram, (header.flags & 1) != 0, [&](const std::string&) { ++errors; }))
        return 0;
    // Operations: pop, and push back what was popped (or a made-up head, from the input).
    const std::uint8_t* script = data + header_size + image;
    std::size_t script_left = size - header_size - image;
    for (unsigned step = 0; step < header.operations; ++step) {
        auto chain = queue.pop();
        std::uint16_t head = chain ? chain->head : 0;
        std::uint32_t written = chain ? static_cast<std::uint32_t>(chain->writable_bytes) : 0;
        if (script_left >= 2) {
            if (script[0] & 1) head = static_cast<std::uint16_t>(script[1] | (script[0] << 7));
            script += 2;
            script_left -= 2;
        }
        if (chain || (header.flags & 2) != 0) queue.push(head, written);
        (void)queue.needs_interrupt();
        // Everything popped lies inside RAM: touch it the way a device would.
        if (chain) {
            for (const auto& buffer : chain->readable)
                if (ram.slice(buffer.address, buffer.length)->size() != buffer.length)
                    __builtin_trap();
            for (const auto& buffer : chain->writable)
                (void)ram.fill(buffer.address, 0xab, buffer.length);
        }
    }
    if (errors > 1) __builtin_trap(); // the error is reported once
    return 0;
}
