// SoftPlatform::create: builds the PC platform (PcSoftPlatform) on the host's monotonic clock.
#include "engine/soft/soft_platform.hpp"

#include "engine/soft/pc_soft_platform.hpp"

namespace vessel::soft {

Result<std::unique_ptr<SoftPlatform>> SoftPlatform::create(Bus& io_bus, Bus& mmio_bus,
                                                           std::uint32_t cpu_count) {
    auto platform = TRY(PcSoftPlatform::create(io_bus, mmio_bus, cpu_count, steady_clock_ns));
    return std::unique_ptr<SoftPlatform>(std::move(platform));
}

} // namespace vessel::soft
