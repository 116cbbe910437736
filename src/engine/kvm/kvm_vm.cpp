// KvmVm: VM creation, memory slots, irqchip and PIT set-up, IRQ lines.
#include "engine/kvm/kvm_vm.hpp"

#include "base/kvm_uapi.hpp"

#include "base/log.hpp"
#include "engine/kvm/kvm_doorbell.hpp"
#include "engine/kvm/kvm_vcpu.hpp"

namespace vessel::kvm {

namespace {
// Three pages below the 4 GiB boundary, inside the MMIO hole, that Intel VMX needs for its
// real-mode TSS and identity page table (KVM API 4.48 KVM_SET_TSS_ADDR, 4.51).
constexpr std::uint64_t tss_address = 0xfffb'd000;
constexpr std::uint64_t identity_map_address = 0xfffb'c000;
} // namespace

Result<std::unique_ptr<KvmVm>> KvmVm::create(std::shared_ptr<KvmSystem> system, VmContext context) {
    int fd = TRY(KVM_IOCTL(system->fd(), KVM_CREATE_VM, 0ul));
    std::unique_ptr<KvmVm> vm(new KvmVm(std::move(system), context, UniqueFd(fd)));
    TRY(vm->set_up());
    return vm;
}

Result<void> KvmVm::set_up() {
    std::uint64_t identity_map = identity_map_address;
    TRY(KVM_IOCTL(m_fd.get(), KVM_SET_IDENTITY_MAP_ADDR, &identity_map));
    TRY(KVM_IOCTL(m_fd.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(tss_address)));
    TRY(KVM_IOCTL(m_fd.get(), KVM_CREATE_IRQCHIP, 0ul));
    kvm_pit_config pit{};
    pit.flags = KVM_PIT_SPEAKER_DUMMY; // port 0x61 handled in the kernel too
    TRY(KVM_IOCTL(m_fd.get(), KVM_CREATE_PIT2, &pit));
    std::uint32_t slot = 0;
    for (const auto& region : m_context.memory.regions()) {
        kvm_userspace_memory_region memory_region{};
        memory_region.slot = slot++;
        memory_region.guest_phys_addr = region.guest_address;
        memory_region.memory_size = region.size;
        memory_region.userspace_addr =
            reinterpret_cast<std::uint64_t>(m_context.memory.host_base() + region.host_offset);
        TRY(KVM_IOCTL(m_fd.get(), KVM_SET_USER_MEMORY_REGION, &memory_region));
    }
    const int gsi_limit = m_system->capability_value(KVM_CAP_IRQ_ROUTING);
    if (m_system->has_capability(KVM_CAP_IRQFD) && gsi_limit > 0)
        m_msi_router = std::make_unique<KvmMsiRouter>(m_fd.get(), gsi_limit);
    else
        log::info("KVM: no irqfd or GSI routing; MSIs go through KVM_SIGNAL_MSI");
    if (m_system->has_capability(KVM_CAP_IOEVENTFD))
        m_io_loop = TRY(EventLoop::create("vessel-io"));
    else
        log::info("KVM: no ioeventfd; device notifies exit to the vCPU thread");
    return {};
}

Result<std::unique_ptr<Vcpu>> KvmVm::create_vcpu(std::uint32_t index) {
    int fd = TRY(KVM_IOCTL(m_fd.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(index)));
    auto vcpu = TRY(KvmVcpu::create(*m_system, m_context, UniqueFd(fd), index));
    return std::unique_ptr<Vcpu>(std::move(vcpu));
}

void KvmVm::set_irq_level(std::uint32_t gsi, bool level) {
    kvm_irq_level irq{};
    irq.irq = gsi;
    irq.level = level ? 1 : 0;
    auto result = KVM_IOCTL(m_fd.get(), KVM_IRQ_LINE, &irq);
    if (!result) log::warn("irq {}: {}", gsi, result.error().message);
}

// KVM_SIGNAL_MSI (api.rst 4.71): the in-kernel local APICs take the message. Returns > 0 when
// delivered, 0 when the guest blocked it. The path for messages without an MsiRoute.
void KvmVm::signal_msi(std::uint64_t address, std::uint32_t data) {
    kvm_msi msi{};
    msi.address_lo = static_cast<std::uint32_t>(address);
    msi.address_hi = static_cast<std::uint32_t>(address >> 32);
    msi.data = data;
    auto result = KVM_IOCTL(m_fd.get(), KVM_SIGNAL_MSI, &msi);
    if (!result) log::warn("MSI {:#x}/{:#x}: {}", address, data, result.error().message);
}

std::unique_ptr<MsiRoute> KvmVm::create_msi_route() {
    return m_msi_router ? m_msi_router->create_route() : nullptr;
}

Result<std::unique_ptr<Doorbell>> KvmVm::add_doorbell(std::uint64_t address, unsigned width,
                                                      Ring ring) {
    if (!m_io_loop) return std::unique_ptr<Doorbell>();
    auto doorbell = TRY(KvmDoorbell::create(m_fd.get(), *m_io_loop, address, width, std::move(ring),
                                            m_doorbell_rings));
    return std::unique_ptr<Doorbell>(std::move(doorbell));
}

EngineCounters KvmVm::engine_counters() const {
    return {m_doorbell_rings.load(std::memory_order_relaxed),
            m_msi_router ? m_msi_router->triggered() : 0};
}

} // namespace vessel::kvm
