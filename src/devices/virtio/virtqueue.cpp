// Virtqueue: ring validation, descriptor chain walking (direct and indirect), used ring updates.
#include "devices/virtio/virtqueue.hpp"

#include <atomic>
#include <bit>
#include <cstring>
#include <utility>

#include "base/log.hpp"

namespace vessel::virtio {

namespace {

// Ring field offsets (virtio 1.2 §2.7.6 available ring, §2.7.8 used ring).
constexpr std::uint64_t ring_flags = 0;
constexpr std::uint64_t ring_index = 2;
constexpr std::uint64_t ring_entries = 4;
constexpr std::uint64_t used_element_size = 8; ///< le32 id, le32 len

constexpr std::uint64_t avail_bytes(std::uint16_t size) {
    return ring_entries + 2ull * size + 2; // + used_event
}
constexpr std::uint64_t used_bytes(std::uint16_t size) {
    return ring_entries + used_element_size * size + 2; // + avail_event
}

// The driver updates ring indices concurrently from its vCPUs; 16-bit aligned atomics (the
// rings are checked to be aligned) give the acquire/release ordering §2.7.13 asks for.
std::uint16_t load_acquire(const std::uint8_t* pointer) {
    // Sound: pointer is 2-byte aligned inside guest RAM (checked in activate()).
    return std::atomic_ref<const std::uint16_t>(*reinterpret_cast<const std::uint16_t*>(pointer))
        .load(std::memory_order_acquire);
}
void store_release(std::uint8_t* pointer, std::uint16_t value) {
    // Sound: as above, for the used ring's idx.
    std::atomic_ref<std::uint16_t>(*reinterpret_cast<std::uint16_t*>(pointer))
        .store(value, std::memory_order_release);
}

} // namespace

Virtqueue::Virtqueue(std::uint16_t index, std::uint16_t max_size)
    : m_index(index), m_max_size(std::bit_floor(
                          std::min(std::max<std::uint16_t>(max_size, 1), ring::max_queue_size))),
      m_size(m_max_size) {}

bool Virtqueue::set_size(std::uint16_t size) {
    std::lock_guard lock(m_mutex);
    // §2.7: the split ring's Queue Size is always a power of 2 (index arithmetic wraps at 2^16).
    if (size == 0 || size > m_max_size || (size & (size - 1)) != 0) return false;
    m_size = size;
    return true;
}

void Virtqueue::reset() {
    std::lock_guard lock(m_mutex);
    m_size = m_max_size;
    descriptor_address = driver_address = device_address = 0;
    enabled = false;
    m_memory = nullptr;
    m_active = m_broken = m_indirect = false;
    m_on_error = nullptr;
    m_next_avail = m_next_used = 0;
    m_descriptors = m_avail = m_used = nullptr;
}

bool Virtqueue::broken() const {
    std::lock_guard lock(m_mutex);
    return m_broken;
}

std::nullopt_t Virtqueue::fail(std::string problem) {
    if (!m_broken) {
        m_broken = true;
        log::warn("virtqueue {}: {}; the queue stops until the driver resets the device", m_index,
                  problem);
        if (m_on_error) m_on_error(problem);
    }
    return std::nullopt;
}

Result<void> Virtqueue::activate(GuestMemory& memory, bool indirect_descriptors,
                                 ErrorHandler on_error) {
    std::lock_guard lock(m_mutex);
    m_memory = &memory;
    m_indirect = indirect_descriptors;
    m_on_error = std::move(on_error);
    // Both ring positions start at 0 (§2.7.6, §2.7.8), or where a loaded snapshot left them:
    // set here, before the device can pop, so no chain is taken twice.
    m_next_avail = std::exchange(m_saved_next_avail, 0);
    m_next_used = std::exchange(m_saved_next_used, 0);
    m_broken = false;
    auto check = [&](const char* what, std::uint64_t address, std::uint64_t length,
                     std::uint64_t alignment) -> Result<std::uint8_t*> {
        if (address % alignment != 0)
            return make_error("{} at {:#x} is not {}-byte aligned", what, address, alignment);
        std::uint8_t* pointer = memory.host_pointer(address, length);
        if (pointer == nullptr)
            return make_error("{} at {:#x}+{:#x} is outside guest RAM", what, address, length);
        return pointer;
    };
    auto descriptors = check("descriptor table", descriptor_address, ring::descriptor_size * m_size,
                             ring::descriptor_alignment);
    auto avail =
        check("available ring", driver_address, avail_bytes(m_size), ring::avail_alignment);
    auto used = check("used ring", device_address, used_bytes(m_size), ring::used_alignment);
    for (auto* result : {&descriptors, &avail, &used}) {
        if (!*result) {
            fail(result->error().message);
            return std::unexpected(result->error());
        }
    }
    m_descriptors = *descriptors;
    m_avail = *avail;
    m_used = *used;
    m_used_guest = device_address;
    m_active = true;
    return {};
}

std::optional<DescriptorChain> Virtqueue::pop() {
    std::lock_guard lock(m_mutex);
    if (!m_active || m_broken) return std::nullopt;
    const std::uint16_t available = load_acquire(m_avail + ring_index);
    const auto pending = static_cast<std::uint16_t>(available - m_next_avail);
    if (pending == 0) return std::nullopt;
    if (pending > m_size)
        return fail(fmt::format("available idx {} is {} entries ahead of the device, queue size {}",
                                available, pending, m_size));
    std::uint16_t head = 0;
    std::memcpy(&head, m_avail + ring_entries + 2ull * (m_next_avail % m_size), sizeof(head));
    DescriptorChain chain;
    chain.head = head;
    if (auto walked = walk(head, chain); !walked) return fail(walked.error().message);
    ++m_next_avail;
    return chain;
}

Result<void> Virtqueue::walk(std::uint16_t head, DescriptorChain& chain) const {
    std::uint16_t index = head;
    // A chain visits each descriptor at most once, so more than m_size steps means a loop.
    for (std::uint32_t steps = 0;; ++steps) {
        if (index >= m_size)
            return make_error("descriptor index {} (chain head {}) is outside queue size {}", index,
                              head, m_size);
        if (steps >= m_size)
            return make_error("descriptor chain from head {} is longer than the queue (loop)",
                              head);
        Descriptor descriptor;
        std::memcpy(&descriptor, m_descriptors + ring::descriptor_size * index, sizeof(descriptor));
        if ((descriptor.flags & ring::descriptor_indirect) != 0) {
            if (!m_indirect)
                return make_error("descriptor {} is indirect but INDIRECT_DESC was not negotiated",
                                  index);
            if ((descriptor.flags & ring::descriptor_next) != 0)
                return make_error("indirect descriptor {} also has NEXT set", index);
            return walk_indirect(descriptor, chain);
        }
        TRY(add_buffer(descriptor, chain));
        if ((descriptor.flags & ring::descriptor_next) == 0) return {};
        index = descriptor.next;
    }
}

Result<void> Virtqueue::walk_indirect(const Descriptor& table, DescriptorChain& chain) const {
    if (!chain.readable.empty() || !chain.writable.empty())
        return make_error("indirect descriptor is not the only descriptor of its chain");
    if (table.length == 0 || table.length % ring::descriptor_size != 0 ||
        table.length / ring::descriptor_size > ring::max_indirect_descriptors)
        return make_error("indirect table length {} is not a multiple of 16 in 16-{}", table.length,
                          ring::descriptor_size * ring::max_indirect_descriptors);
    const std::uint32_t count = table.length / static_cast<std::uint32_t>(ring::descriptor_size);
    const std::uint8_t* entries = m_memory->host_pointer(table.address, table.length);
    if (entries == nullptr)
        return make_error("indirect table at {:#x}+{:#x} is outside guest RAM", table.address,
                          table.length);
    std::uint32_t index = 0;
    for (std::uint32_t steps = 0;; ++steps) {
        if (index >= count)
            return make_error("indirect descriptor index {} is outside its table of {}", index,
                              count);
        if (steps >= count) return make_error("indirect descriptor chain loops");
        Descriptor descriptor;
        std::memcpy(&descriptor, entries + ring::descriptor_size * index, sizeof(descriptor));
        if ((descriptor.flags & ring::descriptor_indirect) != 0)
            return make_error("indirect table entry {} is itself indirect", index);
        TRY(add_buffer(descriptor, chain));
        if ((descriptor.flags & ring::descriptor_next) == 0) return {};
        index = descriptor.next;
    }
}

Result<void> Virtqueue::add_buffer(const Descriptor& descriptor, DescriptorChain& chain) const {
    if (!m_memory->contains(descriptor.address, descriptor.length))
        return make_error("buffer {:#x}+{:#x} is outside guest RAM", descriptor.address,
                          descriptor.length);
    const VirtqueueBuffer buffer{descriptor.address, descriptor.length};
    if ((descriptor.flags & ring::descriptor_write) != 0) {
        chain.writable.push_back(buffer);
        chain.writable_bytes += buffer.length;
    } else {
        // §2.7.4.2: device-readable descriptors come before device-writable ones.
        if (!chain.writable.empty())
            return make_error("device-readable buffer {:#x} follows a device-writable one",
                              descriptor.address);
        chain.readable.push_back(buffer);
        chain.readable_bytes += buffer.length;
    }
    return {};
}

bool Virtqueue::push(std::uint16_t head, std::uint32_t written) {
    std::lock_guard lock(m_mutex);
    if (!m_active || m_broken) return false;
    if (head >= m_size) {
        fail(fmt::format("device pushed head {} outside queue size {}", head, m_size));
        return false;
    }
    std::uint8_t* element = m_used + ring_entries + used_element_size * (m_next_used % m_size);
    const std::uint32_t id = head;
    std::memcpy(element, &id, sizeof(id));
    std::memcpy(element + 4, &written, sizeof(written));
    ++m_next_used;
    store_release(m_used + ring_index, m_next_used);
    m_memory->mark_written(m_used_guest + ring_index,
                           ring_entries - ring_index + used_element_size * m_size);
    return true;
}

bool Virtqueue::needs_interrupt() const {
    std::lock_guard lock(m_mutex);
    if (!m_active || m_broken) return false;
    std::atomic_thread_fence(std::memory_order_seq_cst); // the used idx store before the flag load
    return (load_acquire(m_avail + ring_flags) & ring::avail_no_interrupt) == 0;
}

} // namespace vessel::virtio
