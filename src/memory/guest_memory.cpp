// GuestMemory: allocation, layout around the 32-bit MMIO hole, checked accessors.
#include "memory/guest_memory.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/resource.h>
#include <unistd.h>

namespace vessel {

namespace {
Result<void> check_size(std::uint64_t size) {
    if (size < (1u << 20))
        return make_error("guest memory size {} is below the 1 MiB minimum", size);
    if (size % GuestMemory::page_size != 0)
        return make_error("guest memory size {} is not a multiple of 4 KiB", size);
    if (size > GuestMemory::max_size) return make_error("guest memory size {} exceeds 1 TiB", size);
    return {};
}

std::vector<MemoryRegion> regions_of(std::uint64_t size) {
    std::vector<MemoryRegion> regions;
    std::uint64_t low = size < GuestMemory::mmio_hole_start ? size : GuestMemory::mmio_hole_start;
    regions.push_back({0, low, 0});
    if (size > low) regions.push_back({GuestMemory::high_ram_start, size - low, low});
    return regions;
}
} // namespace

Result<GuestMemory> GuestMemory::create(std::uint64_t size) {
    TRY(check_size(size));
    auto mapping = TRY(MappedRegion::anonymous(size));
    // Transparent huge pages where the host offers them (a no-op, not an error, where it does
    // not): one fault maps 2 MiB instead of 4 KiB. A stock kernel's boot on the software engine
    // took 45K host page faults, 21K of them in guest RAM; with huge pages 18K in all, and about
    // 0.4 s less CPU time (2 runs each, loaded host). Page sharing and ballooning turn them off
    // again (see enable_page_sharing and discard).
    ::madvise(mapping.data(), size, MADV_HUGEPAGE);
    return GuestMemory(std::move(mapping), regions_of(size));
}

Result<GuestMemory> GuestMemory::create_shared(std::uint64_t size) {
    TRY(check_size(size));
    // A file larger than RLIMIT_FSIZE (a jailer's fsize limit) cannot be made: ftruncate
    // would raise SIGXFSZ, which ends the process.
    rlimit file_size{};
    if (::getrlimit(RLIMIT_FSIZE, &file_size) == 0 && file_size.rlim_cur != RLIM_INFINITY &&
        size > file_size.rlim_cur)
        return make_error("guest RAM of {} bytes is larger than this process's file size limit "
                          "(RLIMIT_FSIZE {})",
                          size, file_size.rlim_cur);
    UniqueFd file(::memfd_create("vessel-guest-ram", MFD_CLOEXEC));
    if (!file.valid())
        return make_error("cannot create the guest RAM file: memfd_create: {}",
                          std::strerror(errno));
    if (::ftruncate(file.get(), static_cast<off_t>(size)) != 0)
        return make_error("cannot size the guest RAM file to {} bytes: {}", size,
                          std::strerror(errno));
    auto mapping = TRY(MappedRegion::file_shared(file.get(), size));
    ::madvise(mapping.data(), size, MADV_HUGEPAGE); // used where shmem_enabled is "advise"
    GuestMemory memory(std::move(mapping), regions_of(size));
    memory.m_file = std::move(file);
    return memory;
}

Result<GuestMemory> GuestMemory::map_file(int fd, std::uint64_t size) {
    if (size < (1u << 20) || size % page_size != 0 || size > max_size)
        return make_error("guest memory size {} is not a multiple of 4 KiB from 1 MiB to 1 TiB",
                          size);
    auto mapping = TRY(MappedRegion::file_private(fd, size));
    return GuestMemory(std::move(mapping), regions_of(size));
}

Result<std::span<std::uint8_t>> GuestMemory::slice(std::uint64_t address,
                                                   std::uint64_t length) const {
    std::uint8_t* pointer = host_pointer(address, length);
    if (pointer == nullptr)
        return make_error("guest range {:#x}+{:#x} is outside guest RAM", address, length);
    return std::span<std::uint8_t>(pointer, length);
}

void GuestMemory::mark_written(std::uint64_t address, std::uint64_t length) const {
    if (length == 0) return;
    const std::uint64_t end = address + length < address ? ~std::uint64_t{0} : address + length;
    for (const auto& region : m_regions) {
        const std::uint64_t first = std::max(address, region.guest_address);
        const std::uint64_t last = std::min(end, region.guest_address + region.size);
        if (first >= last) continue;
        const std::uint64_t host_offset = region.host_offset + (first - region.guest_address);
        m_dirty_pages->mark_range(host_offset, last - first);
        if (m_write_observer != nullptr) m_write_observer->ram_written(host_offset, last - first);
    }
}

Result<void> GuestMemory::read_bytes(std::uint64_t address, std::span<std::uint8_t> out) const {
    auto source = TRY(slice(address, out.size()));
    std::memcpy(out.data(), source.data(), out.size());
    return {};
}

Result<void> GuestMemory::write_bytes(std::uint64_t address, std::span<const std::uint8_t> data) {
    auto target = TRY(slice(address, data.size()));
    std::memcpy(target.data(), data.data(), data.size());
    mark_written(address, data.size());
    return {};
}

Result<void> GuestMemory::fill(std::uint64_t address, std::uint8_t value, std::uint64_t length) {
    auto target = TRY(slice(address, length));
    std::memset(target.data(), value, length);
    mark_written(address, length);
    return {};
}

Result<void> GuestMemory::discard(std::uint64_t address, std::uint64_t length) {
    if (address % page_size != 0 || length % page_size != 0)
        return make_error("guest range {:#x}+{:#x} to discard is not page-aligned", address,
                          length);
    auto target = TRY(slice(address, length));
    if (length == 0) return {};
    // A discard (a balloon inflating) ends huge pages for this VM: khugepaged would otherwise
    // collapse the holes back into huge pages, taking the memory again. Pages already huge are
    // split where discarded. (Once set, the flag makes later calls a quick no-op.)
    ::madvise(m_mapping.data(), m_mapping.size(), MADV_NOHUGEPAGE);
    // A private anonymous mapping: MADV_DONTNEED frees the pages, and the next access maps a
    // fresh zero page at the same host address, so host pointers held elsewhere (virtqueues,
    // the software engine's TLBs) stay valid and see zeros. RAM in a memfd (create_shared):
    // MADV_REMOVE frees the file's pages, for every mapping of them, with the same effect.
    const int advice = m_file.valid() ? MADV_REMOVE : MADV_DONTNEED;
    if (::madvise(target.data(), length, advice) != 0)
        return make_error("discarding guest range {:#x}+{:#x}: madvise: {}", address, length,
                          std::strerror(errno));
    mark_written(address, length);
    return {};
}

Result<void> GuestMemory::enable_page_sharing() {
    if (m_file.valid())
        return make_error("guest memory: page sharing needs private RAM (KSM merges only "
                          "private anonymous pages), and this VM's RAM is a shared file");
    // KSM merges small pages only: a VM that asks for sharing gives up huge pages.
    ::madvise(m_mapping.data(), m_mapping.size(), MADV_NOHUGEPAGE);
    if (::madvise(m_mapping.data(), m_mapping.size(), MADV_MERGEABLE) != 0)
        return make_error("guest memory: madvise(MADV_MERGEABLE) failed: {} (is the host "
                          "kernel built with CONFIG_KSM?)",
                          std::strerror(errno));
    return {};
}

} // namespace vessel
