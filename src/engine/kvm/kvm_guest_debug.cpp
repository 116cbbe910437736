// Debug-register encoding for KVM_SET_GUEST_DEBUG and decoding of KVM_EXIT_DEBUG.
#include "engine/kvm/kvm_guest_debug.hpp"

namespace vessel::kvm {

namespace {

/// DR7 fields (Intel SDM Vol. 3, 18.2.4).
constexpr std::uint64_t dr7_local_enable(unsigned slot) {
    return 1ull << (2 * slot);
}
constexpr std::uint64_t dr7_global_enable(unsigned slot) {
    return 1ull << (2 * slot + 1);
}
constexpr unsigned dr7_rw_shift(unsigned slot) {
    return 16 + 4 * slot;
}
constexpr unsigned dr7_len_shift(unsigned slot) {
    return 18 + 4 * slot;
}
constexpr std::uint64_t dr7_exact = 3u << 8; ///< LE and GE: exact data breakpoints
constexpr std::uint64_t rw_execute = 0, rw_write = 1, rw_read_write = 3;
constexpr std::uint64_t dr6_single_step = 1u << 14; ///< BS

Result<std::uint64_t> length_code(const DebugPoint& point) {
    switch (point.length) {
    case 1:
        return 0;
    case 2:
        return 1;
    case 8:
        return 2;
    case 4:
        return 3;
    default:
        return make_error("KVM's debug registers watch 1, 2, 4 or 8 bytes, not {} (at {:#x}); "
                          "--engine soft watches any range",
                          point.length, point.address);
    }
}

} // namespace

Result<kvm_guest_debug> encode_guest_debug(const GuestDebug& debug, bool block_interrupts,
                                           DebugRegisterSlots& slots) {
    slots = {};
    kvm_guest_debug out{};
    if (!debug.enabled) return out; // control 0: debugging off
    out.control = KVM_GUESTDBG_ENABLE;
    if (debug.single_step) {
        out.control |= KVM_GUESTDBG_SINGLESTEP;
        if (debug.step_interrupts_off && block_interrupts) out.control |= KVM_GUESTDBG_BLOCKIRQ;
    }
    std::vector<DebugPoint> points;
    for (const std::uint64_t address : debug.software_breakpoints)
        points.push_back({DebugPointKind::Execute, address, 1});
    points.insert(points.end(), debug.hardware_points.begin(), debug.hardware_points.end());
    if (points.size() > slots.size())
        return make_error("KVM has 4 debug registers for breakpoints and watchpoints together, "
                          "{} are set; --engine soft takes any number",
                          points.size());
    if (points.empty()) return out;
    out.control |= KVM_GUESTDBG_USE_HW_BP;
    std::uint64_t dr7 = dr7_exact;
    for (unsigned slot = 0; slot < points.size(); ++slot) {
        const DebugPoint& point = points[slot];
        std::uint64_t rw = rw_execute, length = 0;
        if (point.kind != DebugPointKind::Execute) {
            length = TRY(length_code(point));
            if (point.address % point.length != 0)
                return make_error("KVM's debug registers watch aligned ranges; {:#x} is not "
                                  "aligned to {} bytes",
                                  point.address, point.length);
            // x86 has no read-only watch: reads are watched as reads and writes (18.2.4).
            rw = point.kind == DebugPointKind::Write ? rw_write : rw_read_write;
        }
        out.arch.debugreg[slot] = point.address;
        dr7 |= dr7_local_enable(slot) | dr7_global_enable(slot) | rw << dr7_rw_shift(slot) |
               length << dr7_len_shift(slot);
        slots[slot] = point;
    }
    out.arch.debugreg[7] = dr7;
    return out;
}

DebugEvent decode_debug_exit(const kvm_debug_exit_arch& exit, const DebugRegisterSlots& slots) {
    for (unsigned slot = 0; slot < slots.size(); ++slot) {
        if (!(exit.dr6 & (1u << slot)) || !slots[slot]) continue;
        const DebugPoint& point = *slots[slot];
        if (point.kind == DebugPointKind::Execute)
            return {DebugEvent::Kind::Breakpoint, exit.pc, DebugPointKind::Execute};
        return {DebugEvent::Kind::Watchpoint, point.address, point.kind};
    }
    (void)dr6_single_step; // a step, or an exit with no known cause: both stop as a step
    return {DebugEvent::Kind::Step, exit.pc, DebugPointKind::Execute};
}

} // namespace vessel::kvm
