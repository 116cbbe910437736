// MappedRegion: owns an mmap'ed range and unmaps it once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "base/result.hpp"

namespace vessel {

/// Owner of one anonymous or file-backed mapping; move-only.
class MappedRegion {
  public:
    /// Maps `size` bytes of zeroed anonymous memory, reserved lazily (MAP_NORESERVE).
    static Result<MappedRegion> anonymous(std::size_t size);
    /// Reserves `size` bytes of address space (PROT_NONE, nothing committed), for mappings the
    /// owner later places inside it with MAP_FIXED.
    static Result<MappedRegion> reserved(std::size_t size);
    /// Maps a whole file read-only (for loaders); an empty file gives an empty region.
    static Result<MappedRegion> file_read_only(int fd, std::size_t size);
    /// Maps `size` bytes of a file copy-on-write (MAP_PRIVATE): pages are read from the file
    /// when first touched, and writes stay in this process (snapshot restore).
    static Result<MappedRegion> file_private(int fd, std::size_t size);
    /// Maps `size` bytes of a file shared (MAP_SHARED, reserved lazily): other mappings of the
    /// same file see the same pages (guest RAM aliased by the software engine).
    static Result<MappedRegion> file_shared(int fd, std::size_t size);

    MappedRegion() = default;
    MappedRegion(MappedRegion&& other) noexcept
        : m_data(std::exchange(other.m_data, nullptr)), m_size(std::exchange(other.m_size, 0)) {}
    MappedRegion& operator=(MappedRegion&& other) noexcept;
    MappedRegion(const MappedRegion&) = delete;
    MappedRegion& operator=(const MappedRegion&) = delete;
    ~MappedRegion();

    std::uint8_t* data() const { return m_data; }
    std::size_t size() const { return m_size; }

  private:
    MappedRegion(std::uint8_t* data, std::size_t size) : m_data(data), m_size(size) {}
    void unmap();

    std::uint8_t* m_data{nullptr};
    std::size_t m_size{0};
};

} // namespace vessel
