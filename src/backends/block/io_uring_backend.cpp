// IoUringBackend: a raw image file driven through io_uring (liburing), completions on a thread.
#include "backends/block/io_uring_backend.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "backends/block/image_lock.hpp"
#include "base/log.hpp"
#include "base/thread_role.hpp"

namespace vessel {

namespace {
constexpr std::uint64_t sector_size = 512;
constexpr unsigned max_iovecs = 1024;    ///< IOV_MAX on Linux
constexpr std::uint64_t stop_marker = 0; ///< user_data of the NOP that ends the reaper
} // namespace

Result<void> IoUringBackend::probe() {
    io_uring ring{};
    if (const int error = io_uring_queue_init(1, &ring, 0); error < 0)
        return make_error("io_uring is unavailable: {}", std::strerror(-error));
    io_uring_queue_exit(&ring);
    return {};
}

Result<std::unique_ptr<IoUringBackend>> IoUringBackend::open(const std::string& path,
                                                             bool read_only) {
    std::unique_ptr<IoUringBackend> backend(new IoUringBackend());
    backend->m_path = path;
    backend->m_read_only = read_only;
    backend->m_fd.reset(::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
    if (!backend->m_fd.valid()) return make_error("disk {}: {}", path, std::strerror(errno));
    TRY(lock_image(backend->m_fd.get(), path, read_only));
    struct stat status {};
    if (fstat(backend->m_fd.get(), &status) != 0)
        return make_error("disk {}: {}", path, std::strerror(errno));
    std::uint64_t size = 0;
    if (S_ISREG(status.st_mode)) {
        size = static_cast<std::uint64_t>(status.st_size);
    } else if (S_ISBLK(status.st_mode)) {
        const off_t end = lseek(backend->m_fd.get(), 0, SEEK_END);
        if (end < 0) return make_error("disk {}: {}", path, std::strerror(errno));
        size = static_cast<std::uint64_t>(end);
    } else {
        return make_error("disk {}: not a regular file or block device", path);
    }
    backend->m_size = size - size % sector_size;
    if (backend->m_size == 0) return make_error("disk {}: smaller than one 512-byte sector", path);
    backend->m_discard = S_ISREG(status.st_mode) && !read_only;

    if (const int error = io_uring_queue_init(ring_entries, &backend->m_ring, 0); error < 0)
        return make_error("disk {}: io_uring_queue_init: {}", path, std::strerror(-error));
    backend->m_ring_ready = true;
    backend->m_reaper = std::thread([raw = backend.get()] {
        enter_thread_role(ThreadRole::Block);
        raw->reap();
    });
    return backend;
}

IoUringBackend::~IoUringBackend() {
    if (!m_ring_ready) return;
    if (m_reaper.joinable()) {
        drain();
        {
            std::lock_guard lock(m_ring_mutex);
            io_uring_sqe* sqe = nullptr;
            while ((sqe = io_uring_get_sqe(&m_ring)) == nullptr)
                io_uring_submit(&m_ring);
            io_uring_prep_nop(sqe);
            io_uring_sqe_set_data64(sqe, stop_marker);
            io_uring_submit(&m_ring);
        }
        m_reaper.join();
    }
    io_uring_queue_exit(&m_ring);
}

void IoUringBackend::read(std::uint64_t offset, std::span<const iovec> buffers, Completion done) {
    submit(std::make_unique<Request>(
        Request{Operation::read, offset, 0, {buffers.begin(), buffers.end()}, 0, std::move(done)}));
}

void IoUringBackend::write(std::uint64_t offset, std::span<const iovec> buffers, Completion done) {
    if (m_read_only) return done(make_error("disk {}: is read-only", m_path));
    submit(std::make_unique<Request>(Request{
        Operation::write, offset, 0, {buffers.begin(), buffers.end()}, 0, std::move(done)}));
}

void IoUringBackend::flush(Completion done) {
    if (m_read_only) return done({});
    submit(std::make_unique<Request>(Request{Operation::flush, 0, 0, {}, 0, std::move(done)}));
}

void IoUringBackend::discard(std::uint64_t offset, std::uint64_t length, Completion done) {
    if (m_read_only) return done(make_error("disk {}: is read-only", m_path));
    if (!m_discard) return done(make_error("disk {}: discard is not supported", m_path));
    submit(std::make_unique<Request>(
        Request{Operation::discard, offset, length, {}, 0, std::move(done)}));
}

void IoUringBackend::drain() {
    std::unique_lock lock(m_pending_mutex);
    m_idle.wait(lock, [this] { return m_pending == 0; });
}

void IoUringBackend::submit(std::unique_ptr<Request> request) {
    // Zero-length buffers would read as "end of file"; drop them up front.
    std::erase_if(request->buffers, [](const iovec& buffer) { return buffer.iov_len == 0; });
    if ((request->operation == Operation::read || request->operation == Operation::write) &&
        request->buffers.empty())
        return request->done({});
    {
        std::lock_guard lock(m_pending_mutex);
        ++m_pending;
    }
    std::lock_guard lock(m_ring_mutex);
    // A full submission queue drains into the kernel as soon as it is submitted.
    while (!prepare(*request))
        io_uring_submit(&m_ring);
    request.release(); // owned by the ring until the reaper finishes it
    io_uring_submit(&m_ring);
}

bool IoUringBackend::prepare(Request& request) {
    io_uring_sqe* sqe = io_uring_get_sqe(&m_ring);
    if (sqe == nullptr) return false;
    const int fd = m_fd.get();
    const auto count = static_cast<unsigned>(
        std::min<std::size_t>(request.buffers.size() - request.first_buffer, max_iovecs));
    iovec* buffers = request.buffers.data() + request.first_buffer;
    switch (request.operation) {
    case Operation::read:
        io_uring_prep_readv(sqe, fd, buffers, count, request.offset);
        break;
    case Operation::write:
        io_uring_prep_writev(sqe, fd, buffers, count, request.offset);
        break;
    case Operation::flush:
        io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
        break;
    case Operation::discard:
        io_uring_prep_fallocate(sqe, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                static_cast<off_t>(request.offset),
                                static_cast<off_t>(request.length));
        break;
    }
    io_uring_sqe_set_data(sqe, &request);
    return true;
}

void IoUringBackend::reap() {
    while (true) {
        io_uring_cqe* cqe = nullptr;
        const int error = io_uring_wait_cqe(&m_ring, &cqe);
        if (error == -EINTR) continue;
        if (error < 0) {
            log::error("disk {}: io_uring_wait_cqe: {}", m_path, std::strerror(-error));
            return;
        }
        const std::uint64_t data = io_uring_cqe_get_data64(cqe);
        const int result = cqe->res;
        io_uring_cqe_seen(&m_ring, cqe);
        if (data == stop_marker) return;
        // Sound: every user_data but the stop marker is a Request this backend released.
        auto* request = reinterpret_cast<Request*>(data);
        if (!complete(*request, result)) {
            std::lock_guard lock(m_ring_mutex);
            while (!prepare(*request))
                io_uring_submit(&m_ring);
            io_uring_submit(&m_ring);
        }
    }
}

bool IoUringBackend::complete(Request& request, int result) {
    const std::string_view name = operation_name(request.operation);
    if (result == -EINTR || result == -EAGAIN) return false; // resubmit as is
    if (result < 0) {
        finish(&request, make_error("disk {}: {} at byte {}: {}", m_path, name, request.offset,
                                    std::strerror(-result)));
        return true;
    }
    if (request.operation == Operation::flush || request.operation == Operation::discard) {
        finish(&request, {});
        return true;
    }
    if (result == 0) {
        finish(&request, make_error("disk {}: {} at byte {} hit the end of the file (was it "
                                    "truncated?)",
                                    m_path, name, request.offset));
        return true;
    }
    // Advance past what moved; anything left is a short transfer to resubmit.
    request.offset += static_cast<std::uint64_t>(result);
    auto left = static_cast<std::size_t>(result);
    while (left > 0 && request.first_buffer < request.buffers.size()) {
        iovec& buffer = request.buffers[request.first_buffer];
        const std::size_t step = std::min(left, buffer.iov_len);
        buffer.iov_base = static_cast<std::uint8_t*>(buffer.iov_base) + step;
        buffer.iov_len -= step;
        left -= step;
        if (buffer.iov_len == 0) ++request.first_buffer;
    }
    if (request.first_buffer < request.buffers.size()) return false;
    finish(&request, {});
    return true;
}

void IoUringBackend::finish(Request* request, Result<void> result) {
    std::unique_ptr<Request> owned(request);
    owned->done(std::move(result));
    std::lock_guard lock(m_pending_mutex);
    if (--m_pending == 0) m_idle.notify_all();
}

std::string_view IoUringBackend::operation_name(Operation operation) const {
    switch (operation) {
    case Operation::read:
        return "read";
    case Operation::write:
        return "write";
    case Operation::flush:
        return "flush";
    case Operation::discard:
        return "discard";
    }
    return "request";
}

void IoUringBackend::release_image_lock() {
    ::fdatasync(m_fd.get()); // the destination reads what this VM wrote
    unlock_image(m_fd.get());
}

Result<void> IoUringBackend::retake_image_lock() {
    return lock_image(m_fd.get(), m_path, m_read_only);
}

} // namespace vessel
