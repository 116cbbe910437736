// KvmMsiRouter: GSI allocation, KVM_SET_GSI_ROUTING and KVM_IRQFD.
#include "engine/kvm/kvm_msi_router.hpp"

#include <optional>

#include "base/event_fd.hpp"
#include "base/log.hpp"
#include "engine/kvm/kvm_system.hpp"

namespace vessel::kvm {

class KvmMsiRouter::Route final : public MsiRoute {
  public:
    Route(KvmMsiRouter& router, EventFd event) : m_router(router), m_event(std::move(event)) {}
    ~Route() override { m_router.release(*this); }

    bool set_message(std::uint64_t address, std::uint32_t data) override {
        return m_router.set_message(*this, address, data);
    }
    void clear() override { m_router.clear(*this); }
    void trigger() override {
        m_router.m_triggered.fetch_add(1, std::memory_order_relaxed);
        m_event.signal();
    }

  private:
    friend class KvmMsiRouter;
    KvmMsiRouter& m_router;
    EventFd m_event;
    std::optional<std::uint32_t> m_gsi; ///< allocated on the first message, kept until release
    bool m_bound{false};                ///< the irqfd is assigned to m_gsi
};

std::unique_ptr<MsiRoute> KvmMsiRouter::create_route() {
    auto event = EventFd::create();
    if (!event) {
        log::warn("MSI route: {}", event.error().message);
        return nullptr;
    }
    return std::make_unique<Route>(*this, std::move(*event));
}

bool KvmMsiRouter::set_message(Route& route, std::uint64_t address, std::uint32_t data) {
    std::lock_guard lock(m_mutex);
    if (!route.m_gsi) {
        route.m_gsi = m_table.allocate();
        if (!route.m_gsi) {
            if (!std::exchange(m_warned_full, true))
                log::warn("KVM: out of GSIs for MSI routes; further vectors use KVM_SIGNAL_MSI");
            return false;
        }
    }
    m_table.set_msi(*route.m_gsi, address, data);
    if (auto committed = commit_locked(); !committed) {
        log::warn("MSI route GSI {}: {}", *route.m_gsi, committed.error().message);
        m_table.clear_msi(*route.m_gsi);
        return false;
    }
    if (!route.m_bound) {
        kvm_irqfd irqfd{};
        irqfd.fd = static_cast<std::uint32_t>(route.m_event.fd());
        irqfd.gsi = *route.m_gsi;
        if (auto bound = KVM_IOCTL(m_vm_fd, KVM_IRQFD, &irqfd); !bound) {
            log::warn("MSI route GSI {}: {}", *route.m_gsi, bound.error().message);
            return false;
        }
        route.m_bound = true;
    }
    log::debug("KVM: GSI {} routes MSI {:#x}/{:#x}", *route.m_gsi, address, data);
    return true;
}

void KvmMsiRouter::clear(Route& route) {
    std::lock_guard lock(m_mutex);
    if (!route.m_gsi) return;
    // The irqfd stays bound: a GSI without a route injects nothing, and the vector's owner
    // does not trigger it while cleared anyway.
    m_table.clear_msi(*route.m_gsi);
    if (auto committed = commit_locked(); !committed)
        log::warn("MSI route GSI {}: {}", *route.m_gsi, committed.error().message);
}

void KvmMsiRouter::release(Route& route) {
    std::lock_guard lock(m_mutex);
    if (!route.m_gsi) return;
    if (route.m_bound) {
        kvm_irqfd irqfd{};
        irqfd.fd = static_cast<std::uint32_t>(route.m_event.fd());
        irqfd.gsi = *route.m_gsi;
        irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
        if (auto unbound = KVM_IOCTL(m_vm_fd, KVM_IRQFD, &irqfd); !unbound)
            log::warn("MSI route GSI {}: {}", *route.m_gsi, unbound.error().message);
    }
    m_table.release(*route.m_gsi);
    if (auto committed = commit_locked(); !committed)
        log::warn("MSI route GSI {}: {}", *route.m_gsi, committed.error().message);
}

Result<void> KvmMsiRouter::commit_locked() {
    auto argument = m_table.ioctl_argument();
    TRY(KVM_IOCTL(m_vm_fd, KVM_SET_GSI_ROUTING, argument.get()));
    return {};
}

} // namespace vessel::kvm
