// MappedRegion: mmap/munmap ownership.
#include "base/mapped_region.hpp"

#include <cerrno>
#include <cstring>
#include <sys/mman.h>

namespace vessel {

Result<MappedRegion> MappedRegion::anonymous(std::size_t size) {
    void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (data == MAP_FAILED)
        return make_error("cannot map {} bytes of memory: {}", size, std::strerror(errno));
    return MappedRegion(static_cast<std::uint8_t*>(data), size);
}

Result<MappedRegion> MappedRegion::reserved(std::size_t size) {
    void* data =
        ::mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (data == MAP_FAILED)
        return make_error("cannot reserve {} bytes of address space: {}", size,
                          std::strerror(errno));
    return MappedRegion(static_cast<std::uint8_t*>(data), size);
}

Result<MappedRegion> MappedRegion::file_private(int fd, std::size_t size) {
    if (size == 0) return MappedRegion();
    void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
    if (data == MAP_FAILED) return make_error("cannot map file: {}", std::strerror(errno));
    return MappedRegion(static_cast<std::uint8_t*>(data), size);
}

Result<MappedRegion> MappedRegion::file_shared(int fd, std::size_t size) {
    if (size == 0) return MappedRegion();
    void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (data == MAP_FAILED) return make_error("cannot map file: {}", std::strerror(errno));
    return MappedRegion(static_cast<std::uint8_t*>(data), size);
}

Result<MappedRegion> MappedRegion::file_read_only(int fd, std::size_t size) {
    if (size == 0) return MappedRegion();
    void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) return make_error("cannot map file: {}", std::strerror(errno));
    return MappedRegion(static_cast<std::uint8_t*>(data), size);
}

MappedRegion& MappedRegion::operator=(MappedRegion&& other) noexcept {
    if (this != &other) {
        unmap();
        m_data = std::exchange(other.m_data, nullptr);
        m_size = std::exchange(other.m_size, 0);
    }
    return *this;
}

MappedRegion::~MappedRegion() {
    unmap();
}

void MappedRegion::unmap() {
    if (m_data != nullptr) ::munmap(m_data, m_size);
    m_data = nullptr;
    m_size = 0;
}

} // namespace vessel
