// libFuzzer target: a hostile driver of virtio-rng, virtio-console, virtio-net and virtio-blk at
// the device level. The input picks the device, lays its queues out in a memory-backed guest
// RAM whose first 16 KiB it writes (descriptors, rings, request headers, buffers), then plays
// a script of queue notifies, received frames or console input, config accesses and resets.
// virtio-blk runs on a real 64 KiB image file (SyncFileBackend). Nothing may crash, leave guest
// RAM, hang, or write the image outside its size.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <unistd.h>
#include <vector>

#include "backends/block/sync_file_backend.hpp"
#include "backends/net/net_backend.hpp"
#include "base/log.hpp"
#include "devices/virtio/virtio_block.hpp"
#include "devices/virtio/virtio_console.hpp"
#include "devices/virtio/virtio_net.hpp"
#include "devices/virtio/virtio_rng.hpp"
#include "devices/virtio/virtqueue.hpp"
#include "memory/guest_memory.hpp"

namespace {

using namespace vessel;

constexpr std::uint64_t memory_size = 1 << 20; // GuestMemory's minimum
constexpr std::size_t image_size = 16 << 10;   // the part of RAM the input writes
constexpr std::size_t disk_size = 64 << 10;
constexpr std::size_t max_queues = 3;

/// Input layout (little-endian), then up to 16 KiB copied to guest-physical 0, then the script.
///   0     device: 0 rng, 1 console, 2 net, 3 blk; bit 2 negotiates INDIRECT_DESC, bit 3 EVENT_IDX,
///         bit 4 wide ring addresses (anywhere in 0-2 MiB: RAM is 1 MiB)
///   1     script length (operations, 2 bytes each)
///   2-3   negotiated device feature bits (masked with what the device offers)
///   4-39  per queue (3): size (2 bytes), descriptor, driver, device ring offsets (2 bytes each
///         in the image, or with bit 4 of byte 0 times 32 anywhere in 0-2 MiB) + padding
struct Header {
    std::uint8_t device;
    std::uint8_t operations;
    std::uint16_t features;
    struct Queue {
        std::uint16_t size;
        std::uint16_t rings[3];
        std::uint32_t padding;
    } queues[max_queues];
};
constexpr std::size_t header_size = sizeof(Header);

struct Interrupts final : virtio::VirtioInterrupt {
    void signal_used(std::uint16_t) override {}
    void signal_config() override {}
};

/// A network back-end that swallows transmitted frames and injects received ones.
class LoopbackBackend final : public NetBackend {
  public:
    std::string_view name() const override { return "fuzz"; }
    void inject(std::span<const std::uint8_t> frame) { deliver(frame); }

  protected:
    void transmit(std::span<const std::uint8_t> frame) override {
        if (frame.size() > max_frame_size) __builtin_trap(); // send() must have refused it
    }
};

GuestMemory& memory() {
    static GuestMemory instance = [] {
        log::initialize("off");
        return GuestMemory::create(memory_size).value();
    }();
    return instance;
}

/// The disk image: one temporary file for the whole run, removed at once (the fd keeps it).
const std::string& disk_path() {
    static std::string path = [] {
        char name[] = "/tmp/vessel-fuzz-disk-XXXXXX";
        const int fd = ::mkstemp(name);
        if (fd < 0 || ::ftruncate(fd, disk_size) != 0) std::abort();
        ::close(fd);
        std::atexit([] { ::unlink(disk_path().c_str()); });
        return std::string(name);
    }();
    return path;
}

struct Device {
    std::unique_ptr<virtio::VirtioDevice> device;
    LoopbackBackend* net{nullptr};
    virtio::VirtioConsole* console{nullptr};
};

Device make_device(unsigned kind) {
    Device made;
    switch (kind) {
    case 0:
        made.device = std::make_unique<virtio::VirtioRng>();
        break;
    case 1: {
        auto console =
            std::make_unique<virtio::VirtioConsole>([](std::span<const std::uint8_t>) {});
        made.console = console.get();
        made.device = std::move(console);
        break;
    }
    case 2: {
        auto backend = std::make_unique<LoopbackBackend>();
        made.net = backend.get();
        made.device =
            std::make_unique<virtio::VirtioNet>(std::move(backend), MacAddress::default_guest());
        break;
    }
    default: {
        auto backend = SyncFileBackend::open(disk_path(), false);
        if (!backend) std::abort();
        made.device = std::make_unique<virtio::VirtioBlock>(std::move(*backend), "fuzz-disk");
        break;
    }
    }
    return made;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < header_size) return 0;
    Header header;
    std::memcpy(&header, data, sizeof(header));
    GuestMemory& ram = memory();
    (void)ram.fill(0, 0, 2 * image_size);
    const std::size_t image = std::min(size - header_size, image_size);
    (void)ram.write_bytes(0, {data + header_size, image});
    const std::uint8_t* script = data + header_size + image;
    std::size_t script_left = size - header_size - image;

    Device made = make_device(header.device & 3);
    virtio::VirtioDevice& device = *made.device;
    std::uint64_t features = (device.features() & header.features) | virtio::feature::version_1;
    if (header.device & 4) features |= virtio::feature::ring_indirect_desc;
    if (header.device & 8) features |= virtio::feature::ring_event_idx;
    const bool wide = (header.device & 16) != 0;

    std::vector<std::unique_ptr<virtio::Virtqueue>> queues;
    std::vector<virtio::Virtqueue*> active;
    const auto place = [wide](std::uint16_t value) -> std::uint64_t {
        return wide ? (std::uint64_t{value} * 32) & 0x1f'ffff : value & (image_size - 1);
    };
    for (std::uint16_t index = 0; index < std::min<std::size_t>(device.queue_count(), max_queues);
         ++index) {
        const Header::Queue& setup = header.queues[index];
        auto queue = std::make_unique<virtio::Virtqueue>(index, device.queue_max_size(index));
        queue->set_size(setup.size);
        queue->descriptor_address = place(setup.rings[0]);
        queue->driver_address = place(setup.rings[1]);
        queue->device_address = place(setup.rings[2]);
        queue->enabled = true;
        const bool usable =
            queue->activate(ram, (features & virtio::feature::ring_indirect_desc) != 0,
                            [](const std::string&) {}) &&
            setup.size != 0;
        active.push_back(usable ? queue.get() : nullptr);
        queues.push_back(std::move(queue));
    }
    for (std::size_t index = active.size(); index < device.queue_count(); ++index)
        active.push_back(nullptr);
    Interrupts interrupts;
    const virtio::VirtioActivation activation{ram, active, features, interrupts};
    if (!device.activate(activation)) return 0;

    for (unsigned step = 0; step < header.operations && script_left >= 2; ++step) {
        const std::uint8_t operation = script[0], argument = script[1];
        script += 2;
        script_left -= 2;
        switch (operation % 5) {
        case 0:
        case 1:
            device.queue_notify(static_cast<std::uint16_t>(argument % 4)); // 3: no such queue
            break;
        case 2: { // host input: a received frame or console bytes, taken from the script
            const std::size_t length = std::min<std::size_t>(argument * 8u, script_left);
            const std::span<const std::uint8_t> bytes(script, length);
            if (made.net) made.net->inject(bytes);
            if (made.console) (void)made.console->enqueue_input(bytes);
            script += length;
            script_left -= length;
            break;
        }
        case 3: { // a configuration access of any width at any offset, in range
            std::array<std::uint8_t, 8> value{};
            const std::uint32_t width = 1u << (argument % 4);
            const std::uint32_t offset = argument >> 2;
            if (offset + width <= device.config_size()) {
                if (operation & 0x80)
                    device.write_config(offset, {value.data(), width});
                else
                    device.read_config(offset, {value.data(), width});
            }
            break;
        }
        case 4: // the driver resets the device and sets it up again with the same rings
            device.reset();
            if (!device.activate(activation)) return 0;
            break;
        }
    }
    device.reset();
    return 0;
}
