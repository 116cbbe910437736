// CpuCore's allocation: 2 MiB-aligned anonymous memory with MADV_HUGEPAGE.
#include <sys/mman.h>

#include <cstdint>
#include <new>

#include "engine/soft/cpu_core.hpp"

namespace vessel::soft {
namespace {

constexpr std::size_t huge_page_size = std::size_t{2} << 20;

std::size_t rounded_size(std::size_t size) {
    return (size + huge_page_size - 1) & ~(huge_page_size - 1);
}

} // namespace

void* CpuCore::operator new(std::size_t size) {
    // Measured on a 2-core host under nested virtualization: constructing a CpuCore in malloc'd
    // memory took 3.5-7.7 ms (one fault per 4 KiB page), in a huge page 0.2-0.3 ms. Without
    // transparent huge pages (or when the kernel has none to give) it is ordinary memory.
    const std::size_t length = rounded_size(size);
    void* mapping = ::mmap(nullptr, length + huge_page_size, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) throw std::bad_alloc();
    const auto start = reinterpret_cast<std::uintptr_t>(mapping);
    const std::uintptr_t aligned = (start + huge_page_size - 1) & ~(huge_page_size - 1);
    // Give back the unaligned head and the tail beyond the rounded length.
    if (aligned > start) ::munmap(mapping, aligned - start);
    const std::uintptr_t end = start + length + huge_page_size;
    if (end > aligned + length)
        ::munmap(reinterpret_cast<void*>(aligned + length), end - (aligned + length));
    ::madvise(reinterpret_cast<void*>(aligned), length, MADV_HUGEPAGE); // a hint: may fail
    return reinterpret_cast<void*>(aligned);
}

void CpuCore::operator delete(void* pointer, std::size_t size) {
    if (pointer != nullptr) ::munmap(pointer, rounded_size(size));
}

} // namespace vessel::soft
