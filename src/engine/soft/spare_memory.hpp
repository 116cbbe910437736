// Spare memory: the zeroed rest of the huge page a CpuCore lives in, for the vCPU's other large
// tables that start as all zero bytes (the interpreter's block-cache front and jump cache).
#pragma once

#include <cstddef>
#include <memory>

#include "engine/soft/prefaulted_memory.hpp"

namespace vessel::soft {

class CpuCore;

/// `bytes` of zeroed memory at a 64-byte boundary that lives as long as `core`, taken from the
/// part of the core's 2 MiB mapping (cpu_core_allocation.cpp) that the CpuCore does not fill;
/// nullptr when too little is left. Why: the kernel zeroes the whole huge page in the core's one
/// page fault anyway, so tables placed there cost no mapping and no fault of their own. The
/// interpreter's 416 KiB in their own MAP_POPULATE mappings were 105 page faults, 3 mmaps and
/// 140-360 us of a vCPU's construction (most of it the kernel allocating and zeroing 4 KiB pages,
/// which here costs 4-5 times as much per byte as zeroing the huge page).
void* take_spare_memory(CpuCore& core, std::size_t bytes);

/// Destroys an array made by make_array_in; frees it only when it has a mapping of its own.
template <typename T> struct SpareArrayDeleter {
    std::size_t count{0};
    bool own_mapping{false};
    void operator()(T* first) const noexcept {
        std::destroy_n(first, count);
        if (own_mapping) free_prefaulted(first, count * sizeof(T));
    }
};
template <typename T> using SpareArray = std::unique_ptr<T[], SpareArrayDeleter<T>>;

/// `count` value-initialized T in `zeroed` (memory of all zero bytes, at least count * sizeof(T),
/// outliving the array: take_spare_memory's), left as they are; or, when `zeroed` is nullptr, in
/// a prefaulted mapping of their own (make_prefaulted_array's).
template <typename T> SpareArray<T> make_array_in(void* zeroed, std::size_t count) {
    static_assert(zero_bytes_are_value_initialized<T>,
                  "only a type whose zero bytes are its empty value can use zeroed memory as is");
    const bool own_mapping = zeroed == nullptr;
    T* first = static_cast<T*>(own_mapping ? allocate_prefaulted(count * sizeof(T)) : zeroed);
    return SpareArray<T>(first, SpareArrayDeleter<T>{count, own_mapping});
}

} // namespace vessel::soft
