// BlockBackend: where a virtual disk's bytes live on the host (raw image file; io_uring later).
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <span>

#include "base/result.hpp"

namespace vessel {

/// A disk of size() bytes addressed by byte offset. Requests are submitted and complete through
/// a callback, so an implementation may finish them synchronously (inside the submit call, as
/// SyncFileBackend does) or later on its own thread (an io_uring backend).
///
/// Contract for implementations:
/// - The caller checked offsets and lengths against size(); buffers are host memory (guest RAM
///   already translated) that stays valid until the completion runs.
/// - Every submit calls its completion exactly once, with an error naming the host failure
///   (EIO, ENOSPC, short transfer because the image shrank) or success. Never throws.
/// - Completions may run on any thread; write/discard after a flush's completion are ordered
///   after it, nothing else is ordered.
/// - drain() returns once no completion is pending (the device calls it on reset and exit).
class BlockBackend {
  public:
    using Completion = std::function<void(Result<void>)>;

    virtual ~BlockBackend() = default;

    /// Disk size in bytes (fixed when the backend opened the image).
    virtual std::uint64_t size() const = 0;
    virtual bool read_only() const = 0;
    /// Whether discard() can release space (e.g. fallocate PUNCH_HOLE on a regular file).
    virtual bool supports_discard() const = 0;

    /// Fills buffers from [offset, offset + total length).
    virtual void read(std::uint64_t offset, std::span<const iovec> buffers, Completion done) = 0;
    /// Writes buffers at offset. A read-only backend completes with an error.
    virtual void write(std::uint64_t offset, std::span<const iovec> buffers, Completion done) = 0;
    /// Makes completed writes durable on the host (fdatasync for a file).
    virtual void flush(Completion done) = 0;
    /// Drops [offset, offset + length): reads return zeros afterwards.
    virtual void discard(std::uint64_t offset, std::uint64_t length, Completion done) = 0;
    /// Waits until every submitted request has completed.
    virtual void drain() = 0;

    // ---- live migration: the destination Vessel opens the same image before this one ends ----
    /// Makes written data durable and lets go of the image lock (call only drained).
    virtual void release_image_lock() {}
    /// Takes the image lock again (the migration failed and this VM runs on).
    virtual Result<void> retake_image_lock() { return {}; }
};

} // namespace vessel
