// GuestMemory: the guest's RAM, one host mapping split into guest-physical regions.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include "base/mapped_region.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "memory/dirty_bitmap.hpp"
#include "memory/ram_write_observer.hpp"

namespace vessel {

/// One contiguous range of guest-physical RAM and where it lives in the host mapping.
struct MemoryRegion {
    std::uint64_t guest_address;
    std::uint64_t size;
    std::uint64_t host_offset; ///< offset into the single host mapping
};

/// Guest RAM. RAM starts at guest-physical 0; above 3 GiB it continues at 4 GiB so the
/// 32-bit MMIO hole (IOAPIC, local APIC, PCI BARs) stays free. Every access is bounds-checked:
/// no guest-supplied address or length can reach host memory outside the mapping.
class GuestMemory {
  public:
    static constexpr std::uint64_t page_size = 4096;
    static constexpr std::uint64_t mmio_hole_start = 0xC000'0000;  ///< 3 GiB
    static constexpr std::uint64_t high_ram_start = 0x1'0000'0000; ///< 4 GiB
    static constexpr std::uint64_t max_size = std::uint64_t{1} << 40;

    /// Allocates `size` bytes of zeroed guest RAM (a multiple of 4 KiB, at least 1 MiB).
    static Result<GuestMemory> create(std::uint64_t size);
    /// Like create, but the RAM is a memfd mapped shared, so that other host mappings of its
    /// pages can be made (file() and file_offset()): the software engine maps user pages a
    /// second time at addresses it computes from the guest's linear address. Such RAM has no
    /// transparent huge pages (shmem's are off by default) and no page sharing (KSM merges
    /// private pages only).
    static Result<GuestMemory> create_shared(std::uint64_t size);
    /// Guest RAM of `size` bytes backed by a snapshot's memory file (the mapping's bytes in
    /// order), mapped privately and lazily: nothing is read before the guest touches it.
    static Result<GuestMemory> map_file(int fd, std::uint64_t size);

    std::uint64_t size() const { return m_mapping.size(); }
    const std::vector<MemoryRegion>& regions() const { return m_regions; }
    std::uint8_t* host_base() const { return m_mapping.data(); }
    /// The memfd behind RAM made by create_shared, or -1: the byte at host_base() + n is at
    /// offset n of the file.
    int file() const { return m_file.get(); }

    /// Host pointer to [address, address+length) if it lies wholly inside one RAM region.
    std::uint8_t* host_pointer(std::uint64_t address, std::uint64_t length) const {
        for (const auto& region : m_regions) {
            if (address >= region.guest_address && length <= region.size &&
                address - region.guest_address <= region.size - length)
                return m_mapping.data() + region.host_offset + (address - region.guest_address);
        }
        return nullptr;
    }
    bool contains(std::uint64_t address, std::uint64_t length) const {
        return host_pointer(address, length) != nullptr;
    }

    /// Checked span view of guest RAM; fails when the range leaves RAM.
    Result<std::span<std::uint8_t>> slice(std::uint64_t address, std::uint64_t length) const;

    /// Installs the observer told about device writes (nullptr for none). Set it before vCPUs
    /// and devices run; it must outlive this GuestMemory's use.
    void set_write_observer(RamWriteObserver* observer) { m_write_observer = observer; }
    /// Reports that [address, address+length) was written through a host pointer (DMA): the
    /// observer is told and the pages are marked in dirty_pages(). Parts outside RAM are
    /// ignored. write_bytes and fill call it themselves.
    void mark_written(std::uint64_t address, std::uint64_t length) const;

    /// Pages written since the log was last taken (diff snapshots, live migration). Devices
    /// mark it through mark_written; the software engine marks it for vCPU stores.
    DirtyBitmap& dirty_pages() const { return *m_dirty_pages; }

    Result<void> read_bytes(std::uint64_t address, std::span<std::uint8_t> out) const;
    Result<void> write_bytes(std::uint64_t address, std::span<const std::uint8_t> data);
    Result<void> fill(std::uint64_t address, std::uint8_t value, std::uint64_t length);

    /// Gives the host pages of [address, address+length) back to the host (madvise
    /// MADV_DONTNEED): the process's resident memory falls and the pages read as zero when next
    /// touched. The range must be page-aligned and inside one RAM region. Observers are told as
    /// for a write, so decoded code of those pages is dropped. Any thread.
    Result<void> discard(std::uint64_t address, std::uint64_t length);
    /// Marks all of guest RAM mergeable (madvise MADV_MERGEABLE) so the host's KSM may share
    /// identical pages copy-on-write, within this VM and across VMs.
    Result<void> enable_page_sharing();

    template <typename T> Result<T> read(std::uint64_t address) const {
        static_assert(std::is_trivially_copyable_v<T>);
        T value;
        TRY(read_bytes(address, {reinterpret_cast<std::uint8_t*>(&value), sizeof(T)}));
        return value;
    }
    template <typename T> Result<void> write(std::uint64_t address, const T& value) {
        static_assert(std::is_trivially_copyable_v<T>);
        return write_bytes(address, {reinterpret_cast<const std::uint8_t*>(&value), sizeof(T)});
    }

  private:
    GuestMemory(MappedRegion mapping, std::vector<MemoryRegion> regions)
        : m_mapping(std::move(mapping)), m_regions(std::move(regions)),
          m_dirty_pages(std::make_unique<DirtyBitmap>(m_mapping.size() / page_size)) {}

    MappedRegion m_mapping;
    UniqueFd m_file; ///< create_shared's memfd
    std::vector<MemoryRegion> m_regions;
    RamWriteObserver* m_write_observer{nullptr};
    std::unique_ptr<DirtyBitmap> m_dirty_pages; ///< a pointer: GuestMemory moves, atomics do not
};

} // namespace vessel
