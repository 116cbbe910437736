// CodeCache: an anonymous read-write-execute mapping used as a bump allocator.
#include "engine/soft/translator/code_cache.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace vessel::soft {

Result<CodeCache> CodeCache::create(std::size_t size) {
    // Read-write-execute: blocks are patched in place when chained. Only this vCPU's thread
    // writes or runs it.
    void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE | PROT_EXEC,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return make_error("translator code cache: cannot map {} MiB of executable memory: {}",
                          size >> 20, std::strerror(errno));
    // Huge pages where the host offers them: a boot fills ~27 MiB of code, 7K page faults of
    // 4 KiB (each costly under nested virtualization) or a dozen of 2 MiB.
    madvise(base, size, MADV_HUGEPAGE);
    return CodeCache(static_cast<std::uint8_t*>(base), size);
}

void CodeCache::release(std::size_t keep) {
    const std::size_t page = 4096;
    const std::size_t from = (keep + page - 1) / page * page;
    if (from < m_size) madvise(m_base + from, m_size - from, MADV_DONTNEED);
}

CodeCache::CodeCache(CodeCache&& other) noexcept
    : m_base(std::exchange(other.m_base, nullptr)), m_size(other.m_size), m_used(other.m_used) {}

CodeCache::~CodeCache() {
    if (m_base != nullptr) munmap(m_base, m_size);
}

} // namespace vessel::soft
