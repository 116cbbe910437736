// KvmMsiRouter: MSI routes of a KVM VM as GSI routing entries bound to irqfds.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "base/result.hpp"
#include "devices/interrupt_sink.hpp"
#include "engine/kvm/gsi_routing_table.hpp"

namespace vessel::kvm {

/// Hands out MsiRoutes: each owns an eventfd bound with KVM_IRQFD (api.rst 4.75) to a GSI whose
/// routing entry carries the vector's message, so a device thread raises an MSI by writing the
/// eventfd and the kernel injects it without Vessel. Thread-safe; outlives its routes.
class KvmMsiRouter {
  public:
    /// vm_fd stays owned by the caller; gsi_limit from KVM_CAP_IRQ_ROUTING.
    KvmMsiRouter(int vm_fd, std::uint32_t gsi_limit) : m_vm_fd(vm_fd), m_table(gsi_limit) {}

    /// A new route, or nullptr when no eventfd can be made.
    std::unique_ptr<MsiRoute> create_route();
    /// Messages sent through routes (eventfd writes), for the metrics.
    std::uint64_t triggered() const { return m_triggered.load(std::memory_order_relaxed); }

  private:
    class Route;
    bool set_message(Route& route, std::uint64_t address, std::uint32_t data);
    void clear(Route& route);
    void release(Route& route);
    /// Installs the whole table (KVM_SET_GSI_ROUTING, api.rst 4.52). Caller holds m_mutex.
    Result<void> commit_locked();

    int m_vm_fd;
    std::mutex m_mutex;
    GsiRoutingTable m_table;
    bool m_warned_full{false};
    std::atomic<std::uint64_t> m_triggered{0};
};

} // namespace vessel::kvm
