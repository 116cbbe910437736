// Uart16550: the 16550A serial port (COM1 at 0x3f8, IRQ 4) connecting the guest console.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>

#include "base/state_archive.hpp"
#include "devices/bus_device.hpp"
#include "devices/interrupt_sink.hpp"

namespace vessel {

/// A 16550A UART with FIFOs. Transmitted bytes go to an output callback; received bytes come
/// from enqueue_input(). The IRQ line is held high while an enabled interrupt is pending.
class Uart16550 final : public BusDevice {
  public:
    using Output = std::function<void(std::span<const std::uint8_t>)>;
    static constexpr std::uint16_t com1_base = 0x3f8;
    static constexpr std::uint32_t com1_irq = 4;
    static constexpr std::uint64_t register_count = 8;
    static constexpr std::size_t fifo_size = 64; ///< receive buffer limit before dropping

    Uart16550(IrqLine irq, Output output) : m_irq(irq), m_output(std::move(output)) {}

    std::string_view name() const override { return "uart 16550"; }
    void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

    /// Host side: bytes typed on the console; returns how many were accepted (FIFO space).
    std::size_t enqueue_input(std::span<const std::uint8_t> bytes);
    /// Bytes the guest has transmitted so far (for metrics).
    std::uint64_t transmitted_bytes() const;

    /// Snapshot state (docs/SNAPSHOT_FORMAT.md): saved while the VM is paused, loaded before
    /// it runs. The IRQ line is not driven on load: the interrupt controllers' saved state
    /// already holds its level.
    void save_state(StateWriter& writer);
    void load_state(StateReader& reader);

  private:
    std::uint8_t read_register(std::uint64_t offset);
    void write_register(std::uint64_t offset, std::uint8_t value);
    std::uint8_t interrupt_identification() const;
    void update_interrupt();

    mutable std::mutex m_mutex;
    IrqLine m_irq;
    Output m_output;
    std::deque<std::uint8_t> m_receive;
    std::uint16_t m_divisor{12}; ///< 9600 baud
    std::uint8_t m_interrupt_enable{0};
    std::uint8_t m_line_control{0x03};  ///< 8N1
    std::uint8_t m_modem_control{0x08}; ///< OUT2
    std::uint8_t m_scratch{0};
    bool m_fifo_enabled{false};
    bool m_transmit_interrupt_pending{false};
    bool m_irq_level{false};
    std::uint64_t m_transmitted{0};
};

} // namespace vessel
