// libFuzzer target: a hostile virtio-balloon driver. The input is the guest memory image (the
// four queues' rings, PFN lists, free page ranges, statistics) plus the negotiated features
// and the order of queue notifies; the device must never crash, free memory outside guest RAM
// or count more inflated pages than RAM has.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "base/log.hpp"
#include "devices/virtio/balloon/virtio_balloon.hpp"
#include "devices/virtio/virtqueue.hpp"
#include "memory/guest_memory.hpp"

namespace {

using namespace vessel;
using namespace vessel::virtio;

constexpr std::uint64_t memory_size = 1 << 20; // GuestMemory's minimum
constexpr std::size_t image_size = 16 << 10;   // the part of RAM the input writes
constexpr std::size_t header_size = 4;

/// Input layout: header (4 bytes), then up to 16 KiB copied to guest-physical 0.
///   0    negotiated feature bits (balloon bits 0-5; bit 7 INDIRECT_DESC)
///   1    queue size for all four queues (set_size refuses bad ones)
///   2-3  notify script: 2 bits per notify, queue index 0-3, 8 notifies
/// Queue q has its descriptors at 0x1000 q, its available ring at +0x400, its used ring at
/// +0x800, all inside the image; every other field (PFNs, lengths, addresses) is the input's.
struct Header {
    std::uint8_t features;
    std::uint8_t queue_size;
    std::uint16_t script;
};

struct NullInterrupt final : VirtioInterrupt {
    void signal_used(std::uint16_t) override {}
    void signal_config() override {}
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
    (void)ram.discard(0, memory_size); // every run starts from zeroed RAM
    const std::size_t image = std::min(size - header_size, image_size);
    (void)ram.write_bytes(0, {data + header_size, image});

    // All features offered; an hour's statistics interval keeps the timer out of the run.
    VirtioBalloon balloon({0, true, 3600, true}, memory_size);
    NullInterrupt interrupt;
    Virtqueue queues[4] = {{0, VirtioBalloon::queue_size},
                           {1, VirtioBalloon::queue_size},
                           {2, VirtioBalloon::queue_size},
                           {3, VirtioBalloon::queue_size}};
    VirtioActivation activation{ram, {}, header.features & 0x3fu, interrupt};
    for (std::uint16_t index = 0; index < 4; ++index) {
        Virtqueue& queue = queues[index];
        queue.set_size(header.queue_size);
        queue.descriptor_address = 0x1000u * index;
        queue.driver_address = 0x1000u * index + 0x400;
        queue.device_address = 0x1000u * index + 0x800;
        queue.enabled = true;
        const bool activated =
            queue.activate(ram, (header.features & 0x80) != 0, [](const std::string&) {})
                .has_value();
        activation.queues.push_back(activated ? &queue : nullptr);
    }
    if (!balloon.activate(activation)) return 0;
    for (unsigned step = 0; step < 8; ++step)
        balloon.queue_notify(static_cast<std::uint16_t>((header.script >> (2 * step)) & 3));
    balloon.set_target_pages(header.script);
    (void)balloon.statistics();
    const BalloonCounters counters = balloon.counters();
    if (counters.inflated_pages - counters.deflated_pages > memory_size / VirtioBalloon::page_size)
        __builtin_trap(); // more pages in the balloon than the guest has
    balloon.reset();
    return 0;
}
