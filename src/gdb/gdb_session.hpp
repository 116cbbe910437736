// GdbSession: the GDB remote protocol's commands (GDB manual, E.2 "Packets"), one packet at a
// time, against a DebugTarget. It never blocks: a resume is handed back to the server, which
// reports the next stop through stop_reply().
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "arch/x86/page_walk.hpp"
#include "gdb/debug_points.hpp"
#include "gdb/debug_target.hpp"
#include "gdb/target_description.hpp"

namespace vessel::gdb {

/// What the server does after a packet.
struct SessionAction {
    enum class Kind {
        Reply,  ///< send `reply`
        Resume, ///< the VM runs: send nothing until the next stop
        Detach, ///< send `reply` (OK), the VM runs on without a debugger, close the connection
        Kill,   ///< send `reply` unless empty (vKill wants OK, k nothing), end the VM
    };
    Kind kind{Kind::Reply};
    std::string reply;
};

class GdbSession {
  public:
    /// QEMU's qqemu.sstepbits: bit 0 step enabled, bit 1 no interrupts, bit 2 no timers.
    static constexpr unsigned sstep_enable = 1, sstep_no_irq = 2, sstep_no_timer = 4;

    explicit GdbSession(DebugTarget& target)
        : m_target(target), m_points(target.hardware_point_limit()) {}

    /// Handles one packet's payload (escapes still in it).
    SessionAction handle(std::string_view packet);
    /// A vCPU stopped: queues the stop for reporting.
    void note_stop(std::uint32_t vcpu, const DebugEvent& event);
    /// The VM was stopped on the debugger's Ctrl-C (or its attach): queues a SIGINT stop.
    void note_interrupt();
    /// The next stop reply to send (and makes its vCPU the current thread), or empty when none
    /// is pending (or every pending one went stale).
    std::string take_stop_reply();
    /// W packet for the guest's end with `status`.
    static std::string exit_reply(int status);
    /// Whether memory packets use guest-physical addresses (`monitor phys on`).
    bool physical_mode() const { return m_physical; }

  private:
    struct PendingStop {
        std::uint32_t vcpu;
        bool interrupt;
        DebugEvent event;
    };
    SessionAction reply(std::string text) { return {SessionAction::Kind::Reply, std::move(text)}; }
    SessionAction error(unsigned code, std::string_view why);
    SessionAction query(std::string_view packet);
    SessionAction set_query(std::string_view packet);
    SessionAction read_features(std::string_view annex_and_range);
    SessionAction monitor(std::string_view hex_command);
    SessionAction set_thread(std::string_view packet);
    /// The current vCPU's registers, with its vector registers where the engine offers them.
    Result<RegisterFile> register_file();
    Result<void> set_register_file(const RegisterFile& registers);
    SessionAction read_registers();
    SessionAction write_registers(std::string_view hex);
    SessionAction read_one_register(std::string_view packet);
    SessionAction write_one_register(std::string_view packet);
    SessionAction read_memory(std::string_view packet);
    SessionAction write_memory(std::string_view packet, bool binary);
    SessionAction debug_point(std::string_view packet, bool insert);
    SessionAction resume_simple(std::string_view packet, bool step);
    SessionAction resume_vcont(std::string_view actions);
    /// Resumes with vCPU `stepping` (or none: -1) single-stepping, after any pending stop.
    SessionAction resume(std::int64_t stepping);
    Result<std::uint32_t> parse_thread(std::string_view text, bool allow_all) const;
    Result<x86::PagingMode> paging_of_current();
    std::string stop_text(const PendingStop& stop) const;

    DebugTarget& m_target;
    DebugPoints m_points;
    std::uint32_t m_register_vcpu{0}; ///< Hg thread (registers and memory)
    std::int64_t m_continue_vcpu{-1}; ///< Hc thread (-1: all)
    bool m_physical{false};
    unsigned m_sstep_bits{sstep_enable | sstep_no_irq | sstep_no_timer};
    std::deque<PendingStop> m_pending;
    std::string m_last_stop{"S05"};
};

} // namespace vessel::gdb
