// DebugPoints: the breakpoints and watchpoints a debugger inserted (GDB's Z0-Z4 / z0-z4), and
// the GuestDebug set-up they give each vCPU.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "base/result.hpp"
#include "engine/guest_debug.hpp"

namespace vessel::gdb {

class DebugPoints {
  public:
    /// Z packet types (GDB manual, E.2 "Packets", `Z type,addr,kind`).
    enum class Type : unsigned { Software = 0, Hardware = 1, Write = 2, Read = 3, Access = 4 };
    /// The longest watched range accepted (GDB splits bigger watches itself).
    static constexpr std::uint64_t max_watch_length = 4096;

    /// `limit`: at most this many points of any kind at once (KVM's debug registers hold
    /// software breakpoints too); nullopt for no limit.
    explicit DebugPoints(std::optional<std::size_t> limit) : m_limit(limit) {}

    /// Inserts a point (inserting one that exists is not an error); fails naming the problem
    /// (unknown type, a watch length of 0 or too long, the limit).
    Result<void> insert(unsigned type, std::uint64_t address, std::uint64_t length);
    /// Removes a point; removing one that does not exist is not an error (GDB may repeat).
    Result<void> remove(unsigned type, std::uint64_t address, std::uint64_t length);
    bool has_breakpoint_at(std::uint64_t address) const;
    bool empty() const { return m_software.empty() && m_hardware.empty(); }
    void clear();

    /// The set-up for a vCPU: every point, and stepping as asked.
    GuestDebug guest_debug(bool single_step, bool step_interrupts_off) const;

  private:
    std::optional<std::size_t> m_limit;
    std::vector<std::uint64_t> m_software;
    std::vector<DebugPoint> m_hardware;
};

} // namespace vessel::gdb
