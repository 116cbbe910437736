// DebugPoints: insertion checks and the per-vCPU GuestDebug.
#include "gdb/debug_points.hpp"

#include <algorithm>

namespace vessel::gdb {

namespace {

Result<DebugPoint> hardware_point(unsigned type, std::uint64_t address, std::uint64_t length) {
    DebugPoint point{DebugPointKind::Execute, address, 1};
    switch (static_cast<DebugPoints::Type>(type)) {
    case DebugPoints::Type::Hardware:
        return point;
    case DebugPoints::Type::Write:
        point.kind = DebugPointKind::Write;
        break;
    case DebugPoints::Type::Read:
        point.kind = DebugPointKind::Read;
        break;
    case DebugPoints::Type::Access:
        point.kind = DebugPointKind::Access;
        break;
    default:
        return make_error("breakpoint type {} is not one of 0-4", type);
    }
    if (length == 0 || length > DebugPoints::max_watch_length)
        return make_error("watchpoint length {} is not 1-{}", length,
                          DebugPoints::max_watch_length);
    if (address + length < address)
        return make_error("watchpoint {:#x}+{} wraps around", address, length);
    point.length = length;
    return point;
}

} // namespace

Result<void> DebugPoints::insert(unsigned type, std::uint64_t address, std::uint64_t length) {
    const bool full = m_limit && m_software.size() + m_hardware.size() >= *m_limit;
    if (type == static_cast<unsigned>(Type::Software)) {
        if (std::find(m_software.begin(), m_software.end(), address) != m_software.end()) return {};
        if (full) return make_error("all {} hardware debug registers are in use", *m_limit);
        m_software.push_back(address);
        return {};
    }
    const DebugPoint point = TRY(hardware_point(type, address, length));
    if (std::find(m_hardware.begin(), m_hardware.end(), point) != m_hardware.end()) return {};
    if (full) return make_error("all {} hardware debug registers are in use", *m_limit);
    m_hardware.push_back(point);
    return {};
}

Result<void> DebugPoints::remove(unsigned type, std::uint64_t address, std::uint64_t length) {
    if (type == static_cast<unsigned>(Type::Software)) {
        std::erase(m_software, address);
        return {};
    }
    const DebugPoint point = TRY(hardware_point(type, address, length));
    std::erase(m_hardware, point);
    return {};
}

bool DebugPoints::has_breakpoint_at(std::uint64_t address) const {
    if (std::find(m_software.begin(), m_software.end(), address) != m_software.end()) return true;
    return std::any_of(m_hardware.begin(), m_hardware.end(), [address](const DebugPoint& point) {
        return point.kind == DebugPointKind::Execute && point.address == address;
    });
}

void DebugPoints::clear() {
    m_software.clear();
    m_hardware.clear();
}

GuestDebug DebugPoints::guest_debug(bool single_step, bool step_interrupts_off) const {
    GuestDebug debug;
    debug.enabled = single_step || !empty();
    debug.single_step = single_step;
    debug.step_interrupts_off = step_interrupts_off;
    debug.software_breakpoints = m_software;
    debug.hardware_points = m_hardware;
    return debug;
}

} // namespace vessel::gdb
