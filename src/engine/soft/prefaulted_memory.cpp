// Prefaulted memory: MAP_POPULATE anonymous mappings.
#include "engine/soft/prefaulted_memory.hpp"

#include <sys/mman.h>

#include <new>

namespace vessel::soft {

void* allocate_prefaulted(std::size_t size) {
    if (size == 0) size = 1;
    void* mapping = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mapping == MAP_FAILED) throw std::bad_alloc();
    return mapping;
}

void free_prefaulted(void* pointer, std::size_t size) noexcept {
    if (pointer != nullptr) ::munmap(pointer, size == 0 ? 1 : size);
}

} // namespace vessel::soft
