// KvmMsiRouter against the real /dev/kvm: routes install, move, clear and release (skipped
// without /dev/kvm).
#include "engine/kvm/kvm_msi_router.hpp"

#include <gtest/gtest.h>

#include "engine/kvm/kvm_system.hpp"

using namespace vessel;
using namespace vessel::kvm;

namespace {
struct KvmVmFd {
    std::optional<KvmSystem> system;
    UniqueFd vm;
};

/// A bare VM with the in-kernel irqchip (GSI routing needs one), or a reason to skip.
Result<KvmVmFd> open_vm_with_irqchip() {
    KvmVmFd result;
    result.system = TRY(KvmSystem::open());
    result.vm.reset(TRY(KVM_IOCTL(result.system->fd(), KVM_CREATE_VM, 0ul)));
    TRY(KVM_IOCTL(result.vm.get(), KVM_CREATE_IRQCHIP, 0ul));
    if (!result.system->has_capability(KVM_CAP_IRQFD) ||
        result.system->capability_value(KVM_CAP_IRQ_ROUTING) <= 0)
        return make_error("no KVM_CAP_IRQFD / KVM_CAP_IRQ_ROUTING");
    return result;
}
} // namespace

TEST(KvmMsiRouter, RoutesInstallAndReleaseOnARealVm) {
    auto vm = open_vm_with_irqchip();
    if (!vm) GTEST_SKIP() << "KVM unavailable: " << vm.error().message;
    KvmMsiRouter router(vm->vm.get(), 1024);
    auto first = router.create_route();
    auto second = router.create_route();
    ASSERT_NE(first, nullptr);
    ASSERT_NE(second, nullptr);
    EXPECT_TRUE(first->set_message(0xfee00000, 0x50));
    EXPECT_TRUE(second->set_message(0xfee00000, 0x51));
    EXPECT_TRUE(first->set_message(0xfee01000, 0x52)); // moved: same GSI, new entry
    first->trigger(); // an eventfd write; the kernel injects (no vCPU to observe it here)
    EXPECT_EQ(router.triggered(), 1u);
    first->clear();
    EXPECT_TRUE(first->set_message(0xfee00000, 0x53)); // routed again after a mask
    first.reset();                                     // deassigns its irqfd, frees its GSI
    auto third = router.create_route();
    EXPECT_TRUE(third->set_message(0xfee00000, 0x54));
}

TEST(KvmMsiRouter, FallsBackWhenGsisRunOut) {
    auto vm = open_vm_with_irqchip();
    if (!vm) GTEST_SKIP() << "KVM unavailable: " << vm.error().message;
    KvmMsiRouter router(vm->vm.get(), 25); // room for GSI 24 only
    auto first = router.create_route();
    auto second = router.create_route();
    EXPECT_TRUE(first->set_message(0xfee00000, 0x50));
    EXPECT_FALSE(second->set_message(0xfee00000, 0x51)); // caller uses KVM_SIGNAL_MSI
    first.reset();
    EXPECT_TRUE(second->set_message(0xfee00000, 0x51));
}
