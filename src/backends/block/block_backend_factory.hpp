// open_block_backend: picks the io_uring back-end for a disk image, or the synchronous one.
#pragma once

#include <memory>
#include <string>

#include "backends/block/block_backend.hpp"

namespace vessel {

/// Which BlockBackend implementation to use.
enum class BlockEngine { automatic, io_uring, sync };

/// What the guest's flush requests do (Firecracker's drive cache_type).
enum class BlockCache {
    writeback, ///< FLUSH is offered; a flush syncs the image (fdatasync) before it completes
    unsafe,    ///< FLUSH is not offered; a flush the guest sends anyway completes without a sync
};

/// Opens a raw image. Automatic tries io_uring and falls back to synchronous I/O when the
/// kernel refuses a ring (logged); errors about the file itself are returned as they are.
Result<std::unique_ptr<BlockBackend>>
open_block_backend(const std::string& path, bool read_only,
                   BlockEngine engine = BlockEngine::automatic);

} // namespace vessel
