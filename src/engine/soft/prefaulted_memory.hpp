// Prefaulted memory: zeroed anonymous mappings whose pages are mapped up front, for the large
// tables a VM and its vCPUs build before their first instruction.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <type_traits>

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

/// Whether a T whose bytes are all zero is a value-initialized T: integers, and lock-free
/// atomics of integers (which hold just the integer).
/// A type may say so too (`static constexpr bool zero_bytes_are_value_initialized = true`: every
/// default member initializer is zero, and all zero bytes are its empty state).
template <typename T>
concept declares_zero_bytes_value_initialized = requires {
    requires T::zero_bytes_are_value_initialized;
};
template <typename T>
inline constexpr bool zero_bytes_are_value_initialized =
    std::is_integral_v<T> || declares_zero_bytes_value_initialized<T>;
template <typename T>
inline constexpr bool zero_bytes_are_value_initialized<std::atomic<T>> =
    std::is_integral_v<T>&& std::atomic<T>::is_always_lock_free &&
    sizeof(std::atomic<T>) == sizeof(T);

/// `count` value-initialized T in prefaulted memory. For T that are zero when value-initialized
/// (zero_bytes_are_value_initialized), the fresh mapping's zeros are left as they are: a pass
/// writing them again was the first user-space touch of every page while the VM was built, a
/// fault each under nested virtualization even though populated (shadow page tables), and the
/// largest part of the "engine and VM" phase of a restore (320 KiB of code-page map for 256
/// MiB). Untouched, a page's first touch comes when the guest uses it.
template <typename T> PrefaultedArray<T> make_prefaulted_array(std::size_t count) {
    T* first = static_cast<T*>(allocate_prefaulted(count * sizeof(T)));
    if constexpr (!zero_bytes_are_value_initialized<T>)
        std::uninitialized_value_construct_n(first, count);
    return PrefaultedArray<T>(first, PrefaultedArrayDeleter<T>{count});
}

} // namespace vessel::soft
