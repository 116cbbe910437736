// KvmDoorbell: an ioeventfd on a guest MMIO address, served by the VM's I/O thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "base/event_fd.hpp"
#include "base/event_loop.hpp"
#include "devices/doorbell.hpp"

namespace vessel::kvm {

/// KVM_IOEVENTFD (api.rst 4.59): a guest write of width bytes at address signals an eventfd in
/// the kernel and the vCPU continues without exiting to Vessel; the EventLoop then calls ring.
class KvmDoorbell final : public Doorbell {
  public:
    /// rings counts the rings for the metrics; it, loop and vm_fd outlive the doorbell.
    static Result<std::unique_ptr<KvmDoorbell>> create(int vm_fd, EventLoop& loop,
                                                       std::uint64_t address, unsigned width,
                                                       DoorbellSink::Ring ring,
                                                       std::atomic<std::uint64_t>& rings);
    ~KvmDoorbell() override;

  private:
    KvmDoorbell(int vm_fd, EventLoop& loop, std::uint64_t address, unsigned width,
                DoorbellSink::Ring ring, std::atomic<std::uint64_t>& rings, EventFd event)
        : m_vm_fd(vm_fd), m_loop(loop), m_address(address), m_width(width), m_ring(std::move(ring)),
          m_rings(rings), m_event(std::move(event)) {}
    /// KVM_IOEVENTFD assign or deassign (the kernel matches the same fields on deassign).
    Result<void> ioeventfd(bool assign) const;
    /// Runs ring if the eventfd was signalled.
    void handle();

    int m_vm_fd;
    EventLoop& m_loop;
    std::uint64_t m_address;
    unsigned m_width;
    DoorbellSink::Ring m_ring;
    std::atomic<std::uint64_t>& m_rings;
    EventFd m_event;
    bool m_assigned{false};
    std::optional<EventLoop::Id> m_watch;
};

} // namespace vessel::kvm
