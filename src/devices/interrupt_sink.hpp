// InterruptSink: how a device raises an interrupt line without knowing the engine.
#pragma once

#include <cstdint>
#include <memory>

namespace vessel {

/// Something that accepts interrupt line levels by global system interrupt number (GSI).
/// KVM forwards to the in-kernel irqchip; the software engine to its own PIC/IOAPIC.
class InterruptSink {
  public:
    virtual ~InterruptSink() = default;
    virtual void set_irq_level(std::uint32_t gsi, bool level) = 0;
    /// An edge: raise then lower (ISA devices such as the UART use this).
    void pulse_irq(std::uint32_t gsi) {
        set_irq_level(gsi, true);
        set_irq_level(gsi, false);
    }
};

/// One MSI-X vector's message kept in the engine so that raising it costs one eventfd write
/// from any thread instead of a system call carrying the message (KVM: a GSI routing entry
/// bound to an irqfd). The device keeps masking and pending bits itself: it triggers a route
/// only while the vector is deliverable.
class MsiRoute {
  public:
    virtual ~MsiRoute() = default;
    /// Points the route at (address, data). False when the engine cannot route it now (out of
    /// GSIs, ioctl refused): the caller then sends the message through MsiSink::signal_msi.
    virtual bool set_message(std::uint64_t address, std::uint32_t data) = 0;
    /// Withdraws the message (vector masked or MSI-X disabled); trigger() does nothing after.
    virtual void clear() = 0;
    /// Sends the message set last. Any thread.
    virtual void trigger() = 0;
};

/// Something that accepts message-signalled interrupts (PCI MSI / MSI-X): a 32-bit write of
/// data to address in the 0xfee00000 window (Intel SDM Vol. 3A 11.11). KVM hands the message
/// to the kernel (KVM_SIGNAL_MSI); the software engine decodes it for its local APICs.
class MsiSink {
  public:
    virtual ~MsiSink() = default;
    virtual void signal_msi(std::uint64_t address, std::uint32_t data) = 0;
    /// A route for one vector, or nullptr when the sink has no faster path than signal_msi
    /// (the software engine). The route must not outlive the sink.
    virtual std::unique_ptr<MsiRoute> create_msi_route() { return nullptr; }
};

/// One line of an InterruptSink, handed to a device at construction.
class IrqLine {
  public:
    IrqLine() = default;
    IrqLine(InterruptSink* sink, std::uint32_t gsi) : m_sink(sink), m_gsi(gsi) {}
    void set_level(bool level) const {
        if (m_sink != nullptr) m_sink->set_irq_level(m_gsi, level);
    }
    void pulse() const {
        if (m_sink != nullptr) m_sink->pulse_irq(m_gsi);
    }
    std::uint32_t gsi() const { return m_gsi; }

  private:
    InterruptSink* m_sink{nullptr};
    std::uint32_t m_gsi{0};
};

} // namespace vessel
