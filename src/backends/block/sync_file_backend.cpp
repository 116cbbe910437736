// SyncFileBackend: raw image I/O with positioned vector calls, retried until complete.
#include "backends/block/sync_file_backend.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "backends/block/image_lock.hpp"

namespace vessel {

namespace {
constexpr std::uint64_t sector_size = 512;
constexpr int max_iovecs = 1024; ///< IOV_MAX on Linux
} // namespace

Result<std::unique_ptr<SyncFileBackend>> SyncFileBackend::open(const std::string& path,
                                                               bool read_only) {
    UniqueFd fd(::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
    if (!fd.valid()) return make_error("disk {}: {}", path, std::strerror(errno));
    TRY(lock_image(fd.get(), path, read_only));
    struct stat status {};
    if (fstat(fd.get(), &status) != 0) return make_error("disk {}: {}", path, std::strerror(errno));
    std::uint64_t size = 0;
    if (S_ISREG(status.st_mode)) {
        size = static_cast<std::uint64_t>(status.st_size);
    } else if (S_ISBLK(status.st_mode)) {
        const off_t end = lseek(fd.get(), 0, SEEK_END);
        if (end < 0) return make_error("disk {}: {}", path, std::strerror(errno));
        size = static_cast<std::uint64_t>(end);
    } else {
        return make_error("disk {}: not a regular file or block device", path);
    }
    size -= size % sector_size;
    if (size == 0) return make_error("disk {}: smaller than one 512-byte sector", path);
    const bool discard = S_ISREG(status.st_mode) && !read_only;
    return std::unique_ptr<SyncFileBackend>(
        new SyncFileBackend(std::move(fd), path, size, read_only, discard));
}

Result<void> SyncFileBackend::transfer(bool writing, std::uint64_t offset,
                                       std::span<const iovec> buffers) {
    std::vector<iovec> remaining(buffers.begin(), buffers.end());
    std::size_t first = 0;
    while (first < remaining.size()) {
        if (remaining[first].iov_len == 0) {
            ++first;
            continue;
        }
        const int count =
            static_cast<int>(std::min<std::size_t>(remaining.size() - first, max_iovecs));
        const ssize_t moved =
            writing ? pwritev(m_fd.get(), &remaining[first], count, static_cast<off_t>(offset))
                    : preadv(m_fd.get(), &remaining[first], count, static_cast<off_t>(offset));
        if (moved < 0) {
            if (errno == EINTR) continue;
            return make_error("disk {}: {} at byte {}: {}", m_path, writing ? "write" : "read",
                              offset, std::strerror(errno));
        }
        if (moved == 0)
            return make_error("disk {}: {} at byte {} hit the end of the file (was it truncated?)",
                              m_path, writing ? "write" : "read", offset);
        offset += static_cast<std::uint64_t>(moved);
        auto left = static_cast<std::size_t>(moved);
        while (left > 0 && first < remaining.size()) {
            const std::size_t step = std::min(left, remaining[first].iov_len);
            remaining[first].iov_base =
                static_cast<std::uint8_t*>(remaining[first].iov_base) + step;
            remaining[first].iov_len -= step;
            left -= step;
            if (remaining[first].iov_len == 0) ++first;
        }
    }
    return {};
}

void SyncFileBackend::read(std::uint64_t offset, std::span<const iovec> buffers, Completion done) {
    done(transfer(false, offset, buffers));
}

void SyncFileBackend::write(std::uint64_t offset, std::span<const iovec> buffers, Completion done) {
    if (m_read_only) return done(make_error("disk {}: is read-only", m_path));
    done(transfer(true, offset, buffers));
}

void SyncFileBackend::flush(Completion done) {
    if (m_read_only) return done({});
    if (fdatasync(m_fd.get()) != 0)
        return done(make_error("disk {}: fdatasync: {}", m_path, std::strerror(errno)));
    done({});
}

void SyncFileBackend::discard(std::uint64_t offset, std::uint64_t length, Completion done) {
    if (m_read_only) return done(make_error("disk {}: is read-only", m_path));
    if (!m_discard) return done(make_error("disk {}: discard is not supported", m_path));
    if (fallocate(m_fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  static_cast<off_t>(offset), static_cast<off_t>(length)) != 0)
        return done(
            make_error("disk {}: discard at byte {}: {}", m_path, offset, std::strerror(errno)));
    done({});
}

void SyncFileBackend::release_image_lock() {
    ::fdatasync(m_fd.get()); // the destination reads what this VM wrote
    unlock_image(m_fd.get());
}

Result<void> SyncFileBackend::retake_image_lock() {
    return lock_image(m_fd.get(), m_path, m_read_only);
}

} // namespace vessel
