// open_block_backend: picks the io_uring back-end for a disk image, or the synchronous one.
#include "backends/block/block_backend_factory.hpp"

#include "backends/block/io_uring_backend.hpp"
#include "backends/block/sync_file_backend.hpp"
#include "base/log.hpp"

namespace vessel {

Result<std::unique_ptr<BlockBackend>> open_block_backend(const std::string& path, bool read_only,
                                                         BlockEngine engine) {
    if (engine != BlockEngine::sync) {
        if (auto available = IoUringBackend::probe(); available) {
            auto ring = TRY(IoUringBackend::open(path, read_only));
            log::info("disk {}: io_uring back-end", path);
            return std::unique_ptr<BlockBackend>(std::move(ring));
        } else if (engine == BlockEngine::io_uring) {
            return make_error("disk {}: {}", path, available.error().message);
        } else {
            log::info("disk {}: {}; using synchronous I/O", path, available.error().message);
        }
    }
    auto file = TRY(SyncFileBackend::open(path, read_only));
    log::debug("disk {}: synchronous back-end", path);
    return std::unique_ptr<BlockBackend>(std::move(file));
}

} // namespace vessel
