// IoUringBackend: a raw image file driven through io_uring (liburing), completions on a thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <liburing.h>

#include "backends/block/block_backend.hpp"
#include "base/unique_fd.hpp"

namespace vessel {

/// The asynchronous BlockBackend: submit calls queue readv/writev/fsync/fallocate requests on
/// one io_uring and return; a completion thread reaps them, resubmits the rest of a short
/// transfer, and runs each request's completion. Submissions from several vCPU threads share
/// the ring under a lock.
class IoUringBackend final : public BlockBackend {
  public:
    /// Ring entries; more requests in flight than this wait for submission space.
    static constexpr unsigned ring_entries = 256;

    /// Whether this kernel lets Vessel set up a ring (io_uring_queue_init on a tiny ring).
    static Result<void> probe();
    /// Opens path as SyncFileBackend does and sets up the ring; fails (so the caller can fall
    /// back) when io_uring is unavailable (old kernel, seccomp, io_uring_disabled sysctl).
    static Result<std::unique_ptr<IoUringBackend>> open(const std::string& path, bool read_only);
    ~IoUringBackend() override;

    std::uint64_t size() const override { return m_size; }
    bool read_only() const override { return m_read_only; }
    void release_image_lock() override;
    Result<void> retake_image_lock() override;
    bool supports_discard() const override { return m_discard; }
    void read(std::uint64_t offset, std::span<const iovec> buffers, Completion done) override;
    void write(std::uint64_t offset, std::span<const iovec> buffers, Completion done) override;
    void flush(Completion done) override;
    void discard(std::uint64_t offset, std::uint64_t length, Completion done) override;
    void drain() override;

  private:
    enum class Operation { read, write, flush, discard };
    /// One request in flight; owns its iovec array, which must outlive the submission.
    struct Request {
        Operation operation;
        std::uint64_t offset;
        std::uint64_t length; ///< discard length
        std::vector<iovec> buffers;
        std::size_t first_buffer{0}; ///< buffers before this one are done (short transfers)
        Completion done;
    };

    IoUringBackend() = default;
    void submit(std::unique_ptr<Request> request);
    /// Queues one SQE for request (ring lock held); false when the ring has no room.
    bool prepare(Request& request);
    void reap();
    /// Applies a completion result; returns true when the request is finished.
    bool complete(Request& request, int result);
    void finish(Request* request, Result<void> result);
    std::string_view operation_name(Operation operation) const;

    UniqueFd m_fd;
    std::string m_path;
    std::uint64_t m_size{0};
    bool m_read_only{false};
    bool m_discard{false};
    io_uring m_ring{};
    bool m_ring_ready{false};
    std::mutex m_ring_mutex; ///< the submission queue
    std::mutex m_pending_mutex;
    std::condition_variable m_idle;
    std::uint64_t m_pending{0}; ///< requests submitted whose completion has not run
    std::thread m_reaper;
};

} // namespace vessel
