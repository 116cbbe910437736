// I8042: the PS/2 keyboard controller, enough for Linux to probe it and for guests to reset.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>

#include "devices/bus_device.hpp"
#include "devices/exit_request.hpp"
#include "devices/interrupt_sink.hpp"

namespace vessel {

/// Ports 0x60 (data) and 0x64 (status/command) in one window at 0x60 of size 5.
/// Command 0xfe (pulse reset line) ends the VM with status 0.
class I8042 final : public BusDevice {
  public:
    static constexpr std::uint16_t base_port = 0x60;
    static constexpr std::uint64_t window_size = 5;
    static constexpr std::uint32_t keyboard_irq = 1;

    I8042(IrqLine irq, ExitSink& exits) : m_irq(irq), m_exits(exits) {}

    std::string_view name() const override { return "i8042"; }
    void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

    /// Queues a Ctrl+Alt+Del key sequence (set 1 scan codes) for the guest.
    void send_ctrl_alt_del();

  private:
    void write_command(std::uint8_t command);
    void write_data(std::uint8_t value);
    void keyboard_command(std::uint8_t command);
    void push_output(std::uint8_t byte);
    void update_interrupt();

    std::mutex m_mutex;
    IrqLine m_irq;
    ExitSink& m_exits;
    std::deque<std::uint8_t> m_output;
    std::uint8_t m_control{0x45}; ///< controller configuration byte: kbd IRQ, system flag, translate
    std::uint8_t m_pending_command{0}; ///< command awaiting its data byte on port 0x60
    std::uint8_t m_output_port{0x01};
};

} // namespace vessel
