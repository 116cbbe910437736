// Hypervisor and Vm: the engine interface; devices and the VM builder see only this.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "base/exit_request.hpp"
#include "base/result.hpp"
#include "devices/bus.hpp"
#include "devices/doorbell.hpp"
#include "devices/interrupt_sink.hpp"
#include "engine/vcpu.hpp"
#include "memory/guest_memory.hpp"

namespace vessel {

enum class EngineKind { Kvm, Soft };

std::string_view engine_name(EngineKind kind);

/// What a VM is built from; everything here outlives the Vm.
struct VmContext {
    GuestMemory& memory;
    Bus& io_bus;   ///< port I/O space (16-bit ports)
    Bus& mmio_bus; ///< guest-physical addresses not backed by RAM
    ExitSink& exits;
    std::uint32_t cpu_count;
};

/// What an engine's in-kernel shortcuts did (KVM ioeventfd and irqfd); zero where it has none.
struct EngineCounters {
    std::uint64_t doorbell_rings{0}; ///< device notifies taken without a VM exit (ioeventfd)
    std::uint64_t routed_msis{0};    ///< MSIs raised through an MsiRoute (irqfd)
};

/// One virtual machine of an engine. Acts as the interrupt sink for device IRQ lines (GSIs:
/// 0-15 ISA IRQs through PIC and IOAPIC, 16-23 further IOAPIC pins), for MSIs (with routes
/// where the engine has them) and for device doorbells (where it can catch them).
class Vm : public InterruptSink, public MsiSink, public DoorbellSink {
  public:
    virtual ~Vm() = default;
    virtual EngineKind kind() const = 0;
    /// Creates vCPU `index` (0 is the bootstrap processor).
    virtual Result<std::unique_ptr<Vcpu>> create_vcpu(std::uint32_t index) = 0;
    /// Delivers a PCI MSI / MSI-X message (address 0xfeeXXXXX, data). Any thread.
    void signal_msi(std::uint64_t address, std::uint32_t data) override = 0;
    virtual EngineCounters engine_counters() const { return {}; }

    /// Writes the engine's VM-wide state (interrupt controllers, timers, guest time) for a
    /// snapshot; every vCPU is parked.
    virtual Result<void> save_snapshot(StateWriter&) {
        return make_error("the {} engine cannot take snapshots", engine_name(kind()));
    }
    /// Loads what save_snapshot wrote, before any vCPU runs.
    virtual Result<void> load_snapshot(StateReader&) {
        return make_error("the {} engine cannot restore snapshots", engine_name(kind()));
    }
};

/// An engine: creates VMs.
class Hypervisor {
  public:
    virtual ~Hypervisor() = default;
    virtual EngineKind kind() const = 0;
    virtual Result<std::unique_ptr<Vm>> create_vm(VmContext context) = 0;
};

/// Opens the KVM engine (/dev/kvm); fails with a message naming why it is unavailable.
Result<std::unique_ptr<Hypervisor>> open_kvm_hypervisor();
/// The software engine opens through engine/soft/soft_hypervisor.hpp.

} // namespace vessel
