// Prefaulted memory: zeroed anonymous mappings whose pages are mapped up front, for the large
// tables a VM and its vCPUs build before their first instruction.
#pragma once

#include <cstddef>
#include <memory>

namespace vessel::soft {

/// `size` bytes of zeroed, page-aligned memory with every page already mapped (MAP_POPULATE).
/// Why: the first touch of a fresh page is a page fault, and under nested virtualization one
/// costs 15-25 us (measured here: 1024 faults took 16-23 ms, populating the same 4 MiB 1-2 ms).
/// The code-page map and the interpreter's caches, written whole when a VM is built, were ~190
/// such faults and most of a snapshot restore's time. Throws std::bad_alloc when out of memory.
void* allocate_prefaulted(std::size_t size);
/// Gives back what allocate_prefaulted(size) returned.
void free_prefaulted(void* pointer, std::size_t size) noexcept;

/// Destroys and frees an array made by make_prefaulted_array.
template <typename T> struct PrefaultedArrayDeleter {
    std::size_t count{0};
    void operator()(T* first) const noexcept {
        std::destroy_n(first, count);
        free_prefaulted(first, count * sizeof(T));
    }
};
template <typename T> using PrefaultedArray = std::unique_ptr<T[], PrefaultedArrayDeleter<T>>;

/// `count` value-initialized T in prefaulted memory.
template <typename T> PrefaultedArray<T> make_prefaulted_array(std::size_t count) {
    T* first = static_cast<T*>(allocate_prefaulted(count * sizeof(T)));
    std::uninitialized_value_construct_n(first, count);
    return PrefaultedArray<T>(first, PrefaultedArrayDeleter<T>{count});
}

} // namespace vessel::soft
