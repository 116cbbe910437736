// SoftDebugger: breakpoint checks before an instruction, watchpoint and step checks after it.
#include "engine/soft/soft_debugger.hpp"

#include <algorithm>
#include <utility>

#include "arch/x86/page_walk.hpp"

namespace vessel::soft {

namespace {

bool overlaps(const DebugPoint& point, std::uint64_t address, std::uint64_t length) {
    return address < point.address + point.length && point.address < address + length;
}

} // namespace

void SoftDebugger::configure(const GuestDebug& debug) {
    m_debug = debug;
    m_watched.clear();
    m_read_hit.reset();
    bool watches_reads = false;
    for (const DebugPoint& point : m_debug.hardware_points) {
        if (point.kind == DebugPointKind::Execute) continue;
        if (point.kind != DebugPointKind::Write) watches_reads = true;
        if (point.kind != DebugPointKind::Read) m_watched.push_back({point, read_watched(point)});
    }
    const bool watched_before = m_cpu.access_watcher != nullptr;
    m_cpu.access_watcher = m_debug.enabled && watches_reads ? this : nullptr;
    // Entries cached before the watch would let accesses bypass it.
    if (m_cpu.access_watcher != nullptr && !watched_before) m_cpu.flush_tlb(true);
}

std::vector<std::uint8_t> SoftDebugger::read_watched(const DebugPoint& point) const {
    const x86::PagingMode paging{m_cpu.cr0, m_cpu.cr3, m_cpu.cr4, m_cpu.efer};
    std::vector<std::uint8_t> bytes(point.length);
    for (std::uint64_t done = 0; done < point.length;) { // page by page
        const std::uint64_t linear = point.address + done;
        const std::uint64_t chunk = std::min(point.length - done, 4096 - (linear & 0xfff));
        auto physical = x86::translate_linear(m_cpu.memory(), paging, linear);
        if (!physical) return {};
        if (!m_cpu.memory().read_bytes(*physical, std::span(bytes).subspan(done, chunk))) return {};
        done += chunk;
    }
    return bytes;
}

std::optional<DebugEvent> SoftDebugger::before_instruction() {
    m_read_hit.reset();
    const std::uint64_t rip = m_cpu.linear(cs, m_cpu.rip);
    const auto& software = m_debug.software_breakpoints;
    bool hit = std::find(software.begin(), software.end(), rip) != software.end();
    for (const DebugPoint& point : m_debug.hardware_points)
        hit = hit || (point.kind == DebugPointKind::Execute && point.address == rip);
    if (!hit) return std::nullopt;
    return DebugEvent{DebugEvent::Kind::Breakpoint, rip, DebugPointKind::Execute};
}

void SoftDebugger::note_access(std::uint64_t linear, unsigned size, bool write) {
    if (m_read_hit) return;
    for (const DebugPoint& point : m_debug.hardware_points) {
        const bool fires =
            point.kind == DebugPointKind::Access || (point.kind == DebugPointKind::Read && !write);
        if (fires && overlaps(point, linear, size)) {
            m_read_hit = DebugEvent{DebugEvent::Kind::Watchpoint, point.address, point.kind};
            return;
        }
    }
}

std::optional<DebugEvent> SoftDebugger::after_instruction() {
    std::optional<DebugEvent> event = std::exchange(m_read_hit, std::nullopt);
    // A store is seen by its effect: the watched bytes changed (whoever wrote them). GDB's
    // `watch` reports only changes anyway; `awatch` also fires on stores of the same value
    // through the access hook above.
    for (WatchedValue& watched : m_watched) {
        std::vector<std::uint8_t> now = read_watched(watched.point);
        if (now == watched.bytes) continue;
        watched.bytes = std::move(now);
        if (!event)
            event =
                DebugEvent{DebugEvent::Kind::Watchpoint, watched.point.address, watched.point.kind};
    }
    if (event) return event;
    if (m_debug.single_step)
        return DebugEvent{DebugEvent::Kind::Step, m_cpu.linear(cs, m_cpu.rip),
                          DebugPointKind::Execute};
    return std::nullopt;
}

} // namespace vessel::soft
