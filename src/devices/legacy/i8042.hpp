// I8042: the PS/2 keyboard controller, enough for Linux to probe it and for guests to reset.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>

#include "base/exit_request.hpp"
#include "base/state_archive.hpp"
#include "devices/bus_device.hpp"
#include "devices/interrupt_sink.hpp"

namespace vessel {

/// Ports 0x60 (data) and 0x64 (status/command), offsets 0 and 4 from 0x60. Port 0x61 between
/// them belongs to the PIT's port B, so the bus gets two one-port windows: data_port() and
/// command_port(). Command 0xfe (pulse reset line) ends the VM with status 0.
class I8042 final : public BusDevice {
  public:
    static constexpr std::uint16_t data_port_number = 0x60;
    static constexpr std::uint16_t command_port_number = 0x64;
    static constexpr std::uint32_t keyboard_irq = 1;

    I8042(IrqLine irq, ExitSink& exits) : m_irq(irq), m_exits(exits) {}

    /// One port of the controller as its own bus window.
    class Port final : public BusDevice {
      public:
        Port(I8042& controller, std::uint64_t offset)
            : m_controller(controller), m_offset(offset) {}
        std::string_view name() const override { return "i8042"; }
        void read(std::uint64_t, std::span<std::uint8_t> data) override {
            m_controller.read(m_offset, data);
        }
        void write(std::uint64_t, std::span<const std::uint8_t> data) override {
            m_controller.write(m_offset, data);
        }

      private:
        I8042& m_controller;
        std::uint64_t m_offset;
    };
    Port& data_port() { return m_data_port; }
    Port& command_port() { return m_command_port; }

    std::string_view name() const override { return "i8042"; }
    void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

    /// Queues a Ctrl+Alt+Del key sequence (set 1 scan codes) for the guest.
    void send_ctrl_alt_del();

    /// Snapshot state (docs/SNAPSHOT_FORMAT.md): saved while the VM is paused, loaded before
    /// it runs. The IRQ line is not driven on load: the interrupt controllers' saved state
    /// already holds its level.
    void save_state(StateWriter& writer);
    void load_state(StateReader& reader);

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
    std::uint8_t m_control{
        0x45}; ///< controller configuration byte: kbd IRQ, system flag, translate
    std::uint8_t m_pending_command{0}; ///< command awaiting its data byte on port 0x60
    std::uint8_t m_output_port{0x01};
    Port m_data_port{*this, 0};
    Port m_command_port{*this, 4};
};

} // namespace vessel
