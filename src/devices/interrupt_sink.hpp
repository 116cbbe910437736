// InterruptSink: how a device raises an interrupt line without knowing the engine.
#pragma once

#include <cstdint>

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
