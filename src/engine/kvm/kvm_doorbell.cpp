// KvmDoorbell: ioeventfd assignment and the ring on the I/O thread.
#include "engine/kvm/kvm_doorbell.hpp"

#include "base/kvm_uapi.hpp"
#include "base/log.hpp"
#include "engine/kvm/kvm_system.hpp"

namespace vessel::kvm {

Result<std::unique_ptr<KvmDoorbell>> KvmDoorbell::create(int vm_fd, EventLoop& loop,
                                                         std::uint64_t address, unsigned width,
                                                         DoorbellSink::Ring ring,
                                                         std::atomic<std::uint64_t>& rings) {
    auto event = TRY(EventFd::create());
    std::unique_ptr<KvmDoorbell> doorbell(
        new KvmDoorbell(vm_fd, loop, address, width, std::move(ring), rings, std::move(event)));
    TRY_CONTEXT(doorbell->ioeventfd(true), fmt::format("doorbell {:#x}", address));
    doorbell->m_assigned = true;
    doorbell->m_watch =
        TRY(loop.add(doorbell->m_event.fd(), [raw = doorbell.get()] { raw->handle(); }));
    log::debug("KVM: ioeventfd doorbell at {:#x} ({} bytes)", address, width);
    return doorbell;
}

KvmDoorbell::~KvmDoorbell() {
    if (m_assigned) {
        if (auto result = ioeventfd(false); !result)
            log::warn("doorbell {:#x}: {}", m_address, result.error().message);
    }
    if (m_watch) m_loop.remove(*m_watch); // waits for a ring in progress
    handle(); // a write that reached the eventfd before the deassign still counts
}

Result<void> KvmDoorbell::ioeventfd(bool assign) const {
    kvm_ioeventfd request{};
    request.addr = m_address;
    request.len = m_width;
    request.fd = m_event.fd();
    request.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN; // MMIO, no datamatch
    TRY(KVM_IOCTL(m_vm_fd, KVM_IOEVENTFD, &request));
    return {};
}

void KvmDoorbell::handle() {
    if (!m_event.consume()) return;
    m_rings.fetch_add(1, std::memory_order_relaxed);
    m_ring();
}

} // namespace vessel::kvm
