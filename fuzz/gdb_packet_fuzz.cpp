// libFuzzer target: a hostile debugger. The input is the byte stream a GDB client sends; every
// packet the reader finds goes through GdbSession against a fake two-vCPU target whose first
// 16 KiB of RAM hold page tables built from the input's tail, so memory packets walk hostile
// paging structures. Nothing may crash, hang or touch memory outside guest RAM.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "base/log.hpp"
#include "gdb/fake_debug_target.hpp"
#include "gdb/gdb_packet.hpp"
#include "gdb/gdb_session.hpp"

namespace {

using namespace vessel;

constexpr std::uint64_t memory_size = 1 << 20; // GuestMemory's minimum
constexpr std::size_t image_size = 16 << 10;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = [] {
        log::initialize("off");
        return true;
    }();
    (void)quiet;
    auto memory = GuestMemory::create(memory_size);
    if (!memory) return 0;
    // The last byte picks the paging mode of vCPU 0; up to 16 KiB before it are its tables.
    gdb::FakeDebugTarget target(std::move(*memory), 2,
                                size % 2 ? std::optional<std::size_t>(4) : std::nullopt);
    if (size > 0) {
        const std::uint8_t mode = data[size - 1];
        x86::CpuState& state = target.states[0];
        if (mode & 1) state.cr0 = x86::cr0::pe | x86::cr0::pg;
        if (mode & 2) state.cr4 = x86::cr4::pae | ((mode & 8) ? 1u << 4 : 0);
        if (mode & 4) state.efer = x86::efer::lme | x86::efer::lma;
        state.cr3 = (mode & 0xf0) << 8;
        // The software engine's vector registers (vCPU 1 keeps none, as on KVM).
        if (mode & 0x10) target.vectors.resize(1);
        const std::size_t image = std::min(size - 1, image_size);
        (void)target.memory().write_bytes(0, std::span(data + (size - 1 - image), image));
    }
    gdb::GdbSession session(target);
    gdb::PacketReader reader;
    for (const gdb::Incoming& incoming : reader.feed(std::span(data, size))) {
        if (incoming.kind != gdb::Incoming::Kind::Packet) continue;
        gdb::SessionAction action = session.handle(incoming.payload);
        (void)gdb::frame_packet(action.reply);
        session.note_stop(1, {DebugEvent::Kind::Breakpoint, 0x1000, DebugPointKind::Execute});
        (void)session.take_stop_reply();
    }
    return 0;
}
