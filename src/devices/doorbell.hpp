// DoorbellSink: lets an engine take a device's notify register off the vCPU thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "base/result.hpp"

namespace vessel {

/// One registered doorbell. Destroying it unregisters the address; a write that arrived just
/// before is not lost (its ring runs, at the latest, in the destructor).
class Doorbell {
  public:
    virtual ~Doorbell() = default;
};

/// A doorbell is a guest-physical MMIO address whose writes carry no information beyond "look
/// at your queues" (a virtio queue notify, virtio 1.2 §4.1.4.4). An engine that can catch such
/// writes without a VM exit (KVM: ioeventfd) runs ring on its I/O thread instead; an engine
/// that cannot returns nullptr and the write arrives on the MMIO bus as always. Either way the
/// device sees the same call, so it never learns which engine runs.
class DoorbellSink {
  public:
    using Ring = std::function<void()>;
    virtual ~DoorbellSink() = default;
    /// Catches guest writes of exactly width bytes at address; nullptr when unsupported. ring
    /// runs on another thread than the vCPU's and must stay callable until the Doorbell dies.
    virtual Result<std::unique_ptr<Doorbell>> add_doorbell(std::uint64_t address, unsigned width,
                                                           Ring ring) {
        (void)address;
        (void)width;
        (void)ring;
        return std::unique_ptr<Doorbell>();
    }
};

} // namespace vessel
