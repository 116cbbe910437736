// SyncFileBackend: a raw image file accessed with preadv/pwritev/fdatasync/fallocate.
#pragma once

#include <string>

#include "backends/block/block_backend.hpp"
#include "base/unique_fd.hpp"

namespace vessel {

/// The portable BlockBackend: every request runs and completes inside the submit call, on the
/// calling (vCPU) thread. Requests of different threads are independent system calls.
class SyncFileBackend final : public BlockBackend {
  public:
    /// Opens path (read-write unless read_only); the disk is the file's size rounded down to
    /// 512-byte sectors. Fails naming the path for a missing file, a directory, no permission.
    static Result<std::unique_ptr<SyncFileBackend>> open(const std::string& path, bool read_only);

    std::uint64_t size() const override { return m_size; }
    bool read_only() const override { return m_read_only; }
    void release_image_lock() override;
    Result<void> retake_image_lock() override;
    bool supports_discard() const override { return m_discard; }
    void read(std::uint64_t offset, std::span<const iovec> buffers, Completion done) override;
    void write(std::uint64_t offset, std::span<const iovec> buffers, Completion done) override;
    void flush(Completion done) override;
    void discard(std::uint64_t offset, std::uint64_t length, Completion done) override;
    void drain() override {}

  private:
    SyncFileBackend(UniqueFd fd, std::string path, std::uint64_t size, bool read_only, bool discard)
        : m_fd(std::move(fd)), m_path(std::move(path)), m_size(size), m_read_only(read_only),
          m_discard(discard) {}
    /// preadv/pwritev until every byte moved; a short transfer (EOF) is an error.
    Result<void> transfer(bool writing, std::uint64_t offset, std::span<const iovec> buffers);

    UniqueFd m_fd;
    std::string m_path;
    std::uint64_t m_size;
    bool m_read_only;
    bool m_discard;
};

} // namespace vessel
