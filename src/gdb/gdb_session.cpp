// GdbSession: packet dispatch, registers, memory, debug points and resumption.
#include "gdb/gdb_session.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "base/log.hpp"
#include "gdb/debug_memory.hpp"
#include "gdb/gdb_packet.hpp"
#include "gdb/target_description.hpp"

namespace vessel::gdb {

namespace {

/// errno values GDB shows for E replies.
constexpr unsigned error_fault = 0x0e;    ///< EFAULT: memory not accessible
constexpr unsigned error_invalid = 0x16;  ///< EINVAL: malformed or impossible request
constexpr unsigned error_no_space = 0x1c; ///< ENOSPC: no debug register left
constexpr unsigned signal_interrupt = 2;  ///< SIGINT
constexpr unsigned signal_trap = 5;       ///< SIGTRAP

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

/// Splits `text` at the first `separator`; the second part is empty when it is missing.
std::pair<std::string_view, std::string_view> split(std::string_view text, char separator) {
    const auto at = text.find(separator);
    if (at == std::string_view::npos) return {text, {}};
    return {text.substr(0, at), text.substr(at + 1)};
}

/// `addr,length` as in m, M, X and qXfer.
Result<std::pair<std::uint64_t, std::uint64_t>> parse_range(std::string_view text) {
    auto [address_text, length_text] = split(text, ',');
    const std::uint64_t address = TRY(parse_hex_number(address_text));
    const std::uint64_t length = TRY(parse_hex_number(length_text));
    return std::pair{address, length};
}

std::string_view watch_name(DebugPointKind kind) {
    switch (kind) {
    case DebugPointKind::Read:
        return "rwatch";
    case DebugPointKind::Access:
        return "awatch";
    default:
        return "watch";
    }
}

} // namespace

SessionAction GdbSession::error(unsigned code, std::string_view why) {
    log::debug("gdb: E{:02x}: {}", code, why);
    return reply(fmt::format("E{:02x}", code));
}

std::string GdbSession::exit_reply(int status) {
    return fmt::format("W{:02x}", static_cast<unsigned>(status) & 0xff);
}

SessionAction GdbSession::handle(std::string_view packet) {
    if (packet.empty()) return reply("");
    const char command = packet[0];
    const std::string_view rest = packet.substr(1);
    switch (command) {
    case '?':
        return reply(m_last_stop);
    case 'q':
        return query(packet);
    case 'Q':
        return set_query(packet);
    case 'H':
        return set_thread(rest);
    case 'T': {
        auto thread = parse_thread(rest, false);
        return thread ? reply("OK") : error(error_invalid, thread.error().message);
    }
    case 'g':
        return read_registers();
    case 'G':
        return write_registers(rest);
    case 'p':
        return read_one_register(rest);
    case 'P':
        return write_one_register(rest);
    case 'm':
        return read_memory(rest);
    case 'M':
        return write_memory(rest, false);
    case 'X':
        return write_memory(rest, true);
    case 'Z':
        return debug_point(rest, true);
    case 'z':
        return debug_point(rest, false);
    case 'c':
        return resume_simple(rest, false);
    case 's':
        return resume_simple(rest, true);
    case 'C': // continue with a signal: a VM has no signals to deliver; continue
        return resume_simple({}, false);
    case 'S':
        return resume_simple({}, true);
    case 'v':
        if (packet == "vCont?") return reply("vCont;c;C;s;S");
        if (starts_with(packet, "vCont;")) return resume_vcont(packet.substr(6));
        if (starts_with(packet, "vKill")) return {SessionAction::Kind::Kill, "OK"}; // k: no reply
        return reply(""); // vMustReplyEmpty and every unsupported v packet
    case 'D': {
        m_points.clear();
        std::vector<GuestDebug> none(m_target.vcpu_count());
        if (auto result = m_target.resume(none); !result)
            return error(error_invalid, result.error().message);
        return {SessionAction::Kind::Detach, "OK"};
    }
    case 'k':
        return {SessionAction::Kind::Kill, {}};
    default:
        return reply(""); // unsupported: the empty reply (E.2)
    }
}

SessionAction GdbSession::query(std::string_view packet) {
    if (starts_with(packet, "qSupported"))
        return reply(fmt::format("PacketSize={:x};qXfer:features:read+;vContSupported+",
                                 PacketReader::max_packet_size));
    if (starts_with(packet, "qXfer:features:read:")) return read_features(packet.substr(20));
    if (packet == "qAttached") return reply("1");
    if (packet == "qC") return reply(fmt::format("QC{:x}", m_register_vcpu + 1));
    if (packet == "qfThreadInfo") {
        std::string list = "m";
        for (std::uint32_t vcpu = 0; vcpu < m_target.vcpu_count(); ++vcpu)
            list += fmt::format("{}{:x}", vcpu ? "," : "", vcpu + 1);
        return reply(list);
    }
    if (packet == "qsThreadInfo") return reply("l");
    if (starts_with(packet, "qThreadExtraInfo,")) {
        auto thread = parse_thread(packet.substr(17), false);
        if (!thread) return error(error_invalid, thread.error().message);
        return reply(to_hex(fmt::format("vCPU {}", *thread)));
    }
    if (starts_with(packet, "qRcmd,")) return monitor(packet.substr(6));
    if (packet == "qqemu.sstepbits") return reply(fmt::format("{:x}", m_sstep_bits));
    if (packet == "qqemu.sstep") return reply(fmt::format("0x{:x}", m_sstep_bits));
    if (packet == "qqemu.PhyMemMode") return reply(m_physical ? "1" : "0");
    if (starts_with(packet, "qSymbol")) return reply("OK");
    if (packet == "qOffsets") return reply("Text=0;Data=0;Bss=0");
    return reply("");
}

SessionAction GdbSession::set_query(std::string_view packet) {
    if (starts_with(packet, "Qqemu.sstep=")) {
        auto bits = parse_hex_number(starts_with(packet.substr(12), "0x") ? packet.substr(14)
                                                                          : packet.substr(12));
        if (!bits || *bits > 7) return error(error_invalid, "sstep bits are 0-7");
        m_sstep_bits = static_cast<unsigned>(*bits);
        return reply("OK");
    }
    if (starts_with(packet, "Qqemu.PhyMemMode:")) {
        const std::string_view value = packet.substr(17);
        if (value != "0" && value != "1") return error(error_invalid, "PhyMemMode is 0 or 1");
        m_physical = value == "1";
        return reply("OK");
    }
    return reply("");
}

SessionAction GdbSession::read_features(std::string_view annex_and_range) {
    auto [annex, range_text] = split(annex_and_range, ':');
    if (annex != "target.xml") return error(0, fmt::format("no feature document '{}'", annex));
    auto range = parse_range(range_text);
    if (!range) return error(error_invalid, range.error().message);
    const std::string& xml = target_xml();
    const auto [offset, length] = *range;
    if (offset >= xml.size()) return reply("l");
    const std::size_t count =
        std::min<std::uint64_t>({length, xml.size() - offset, PacketReader::max_packet_size / 2});
    const bool last = offset + count >= xml.size();
    // Sound: any object may be viewed as bytes (unsigned char aliasing).
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(xml.data() + offset);
    return reply((last ? "l" : "m") + escape_binary(std::span(bytes, count)));
}

SessionAction GdbSession::monitor(std::string_view hex_command) {
    auto bytes = from_hex(hex_command);
    if (!bytes) return error(error_invalid, bytes.error().message);
    const std::string command(bytes->begin(), bytes->end());
    std::string output;
    if (command == "phys on" || command == "phys") {
        m_physical = true;
        output = "memory accesses use guest-physical addresses\n";
    } else if (command == "phys off") {
        m_physical = false;
        output = "memory accesses go through the current vCPU's page tables\n";
    } else if (command == "sstep irqs on") {
        m_sstep_bits &= ~(sstep_no_irq | sstep_no_timer);
        output = "single steps may take interrupts\n";
    } else if (command == "sstep irqs off") {
        m_sstep_bits |= sstep_no_irq | sstep_no_timer;
        output = "single steps hold interrupts off\n";
    } else if (command == "help" || command.empty()) {
        output = "Vessel monitor commands:\n"
                 "  phys on|off        memory by guest-physical address / through page tables\n"
                 "  sstep irqs on|off  let single steps take interrupts (default off)\n";
    } else {
        output = fmt::format("unknown monitor command '{}' (try 'monitor help')\n", command);
    }
    return reply(to_hex(output));
}

Result<std::uint32_t> GdbSession::parse_thread(std::string_view text, bool allow_all) const {
    if (starts_with(text, "p")) { // multiprocess form p<pid>.<tid>: one process
        text = split(text.substr(1), '.').second;
        if (text.empty()) return 0u;
    }
    if (text == "-1") {
        if (allow_all) return ~std::uint32_t{0};
        return make_error("thread -1 (all) is not allowed here");
    }
    const std::uint64_t id = TRY(parse_hex_number(text));
    if (id == 0) return 0u; // any thread: the first vCPU
    if (id > m_target.vcpu_count())
        return make_error("thread {} does not exist (vCPUs are threads 1-{})", id,
                          m_target.vcpu_count());
    return static_cast<std::uint32_t>(id - 1);
}

SessionAction GdbSession::set_thread(std::string_view packet) {
    if (packet.empty()) return error(error_invalid, "H without an operation");
    auto thread = parse_thread(packet.substr(1), true);
    if (!thread) return error(error_invalid, thread.error().message);
    if (packet[0] == 'g') {
        m_register_vcpu = *thread == ~std::uint32_t{0} ? 0 : *thread;
    } else if (packet[0] == 'c') {
        m_continue_vcpu = *thread == ~std::uint32_t{0} ? -1 : static_cast<std::int64_t>(*thread);
    } else {
        return error(error_invalid, "H takes g or c");
    }
    return reply("OK");
}

Result<RegisterFile> GdbSession::register_file() {
    RegisterFile registers{TRY(m_target.registers(m_register_vcpu)), std::nullopt};
    if (auto vectors = m_target.vector_registers(m_register_vcpu)) registers.vectors = *vectors;
    return registers;
}

Result<void> GdbSession::set_register_file(const RegisterFile& registers) {
    TRY(m_target.set_registers(m_register_vcpu, registers.state));
    if (registers.vectors) TRY(m_target.set_vector_registers(m_register_vcpu, *registers.vectors));
    return {};
}

SessionAction GdbSession::read_registers() {
    auto registers = register_file();
    if (!registers) return error(error_invalid, registers.error().message);
    return reply(read_all_registers(*registers));
}

SessionAction GdbSession::write_registers(std::string_view hex) {
    auto registers = register_file();
    if (!registers) return error(error_invalid, registers.error().message);
    if (auto result = write_all_registers(*registers, hex); !result)
        return error(error_invalid, result.error().message);
    if (auto result = set_register_file(*registers); !result)
        return error(error_invalid, result.error().message);
    return reply("OK");
}

SessionAction GdbSession::read_one_register(std::string_view packet) {
    auto number = parse_hex_number(packet);
    if (!number) return error(error_invalid, number.error().message);
    auto registers = register_file();
    if (!registers) return error(error_invalid, registers.error().message);
    auto value =
        read_register(*registers, static_cast<unsigned>(std::min<std::uint64_t>(*number, ~0u)));
    if (!value) return error(error_invalid, value.error().message);
    return reply(*value);
}

SessionAction GdbSession::write_one_register(std::string_view packet) {
    auto [number_text, value] = split(packet, '=');
    auto number = parse_hex_number(number_text);
    if (!number) return error(error_invalid, number.error().message);
    auto registers = register_file();
    if (!registers) return error(error_invalid, registers.error().message);
    if (auto result = write_register(
            *registers, static_cast<unsigned>(std::min<std::uint64_t>(*number, ~0u)), value);
        !result)
        return error(error_invalid, result.error().message);
    if (auto result = set_register_file(*registers); !result)
        return error(error_invalid, result.error().message);
    return reply("OK");
}

Result<x86::PagingMode> GdbSession::paging_of_current() {
    if (m_physical) return x86::PagingMode{};
    return x86::PagingMode::of(TRY(m_target.registers(m_register_vcpu)));
}

SessionAction GdbSession::read_memory(std::string_view packet) {
    auto range = parse_range(packet);
    if (!range) return error(error_invalid, range.error().message);
    auto paging = paging_of_current();
    if (!paging) return error(error_invalid, paging.error().message);
    const std::uint64_t length = std::min(range->second, max_memory_transfer);
    if (length == 0) return reply("");
    auto bytes = read_debug_memory(m_target.memory(), *paging, m_physical, range->first, length);
    if (!bytes) return error(error_fault, bytes.error().message);
    return reply(to_hex(*bytes));
}

SessionAction GdbSession::write_memory(std::string_view packet, bool binary) {
    auto [range_text, data_text] = split(packet, ':');
    auto range = parse_range(range_text);
    if (!range) return error(error_invalid, range.error().message);
    auto data = binary ? unescape_binary(data_text) : from_hex(data_text);
    if (!data) return error(error_invalid, data.error().message);
    if (data->size() != range->second)
        return error(error_invalid,
                     fmt::format("length {:#x} but {} data bytes", range->second, data->size()));
    if (data->empty()) return reply("OK"); // X addr,0: GDB probing for binary support
    auto paging = paging_of_current();
    if (!paging) return error(error_invalid, paging.error().message);
    if (auto result =
            write_debug_memory(m_target.memory(), *paging, m_physical, range->first, *data);
        !result)
        return error(error_fault, result.error().message);
    return reply("OK");
}

SessionAction GdbSession::debug_point(std::string_view packet, bool insert) {
    // type,addr,kind[;cond...]: conditions are GDB's business (not announced), ignored.
    auto [fields, conditions] = split(packet, ';');
    (void)conditions;
    auto [type_text, rest] = split(fields, ',');
    auto [address_text, kind_text] = split(rest, ',');
    auto type = parse_hex_number(type_text);
    auto address = parse_hex_number(address_text);
    auto kind = parse_hex_number(kind_text);
    if (!type || !address || !kind || *type > 4)
        return error(error_invalid, fmt::format("malformed Z/z packet '{:.64}'", packet));
    auto result = insert ? m_points.insert(static_cast<unsigned>(*type), *address, *kind)
                         : m_points.remove(static_cast<unsigned>(*type), *address, *kind);
    if (!result) return error(error_no_space, result.error().message);
    return reply("OK");
}

SessionAction GdbSession::resume_simple(std::string_view packet, bool step) {
    if (!packet.empty()) { // c addr / s addr: resume at addr
        auto address = parse_hex_number(packet);
        if (!address) return error(error_invalid, address.error().message);
        auto state = m_target.registers(m_register_vcpu);
        if (!state) return error(error_invalid, state.error().message);
        state->rip = *address;
        if (auto result = m_target.set_registers(m_register_vcpu, *state); !result)
            return error(error_invalid, result.error().message);
    }
    if (!step) return resume(-1);
    return resume(m_continue_vcpu >= 0 ? m_continue_vcpu : m_register_vcpu);
}

SessionAction GdbSession::resume_vcont(std::string_view actions) {
    // Actions apply left to right, the first that names a thread wins (E.2 vCont). Threads
    // without an action run on: Vessel has no way to keep one vCPU stopped while others run.
    std::int64_t stepping = -1;
    while (!actions.empty()) {
        auto [action, rest] = split(actions, ';');
        actions = rest;
        auto [verb, thread_text] = split(action, ':');
        if (verb.empty() || (verb[0] != 'c' && verb[0] != 'C' && verb[0] != 's' && verb[0] != 'S'))
            return error(error_invalid, fmt::format("vCont action '{:.32}'", action));
        if (verb[0] != 's' && verb[0] != 'S') continue;
        std::uint32_t thread =
            m_continue_vcpu >= 0 ? static_cast<std::uint32_t>(m_continue_vcpu) : m_register_vcpu;
        if (!thread_text.empty()) {
            auto parsed = parse_thread(thread_text, true);
            if (!parsed) return error(error_invalid, parsed.error().message);
            if (*parsed != ~std::uint32_t{0}) thread = *parsed;
        }
        if (stepping < 0) stepping = thread;
    }
    return resume(stepping);
}

SessionAction GdbSession::resume(std::int64_t stepping) {
    if (std::string stop = take_stop_reply(); !stop.empty()) return reply(stop);
    const bool quiet = (m_sstep_bits & sstep_no_irq) != 0;
    std::vector<GuestDebug> per_vcpu;
    for (std::uint32_t vcpu = 0; vcpu < m_target.vcpu_count(); ++vcpu)
        per_vcpu.push_back(m_points.guest_debug(stepping == vcpu, quiet));
    if (auto result = m_target.resume(per_vcpu); !result) {
        log::warn("gdb: cannot resume: {}", result.error().message); // the debugger shows E16
        return error(error_invalid, result.error().message);
    }
    return {SessionAction::Kind::Resume, {}};
}

void GdbSession::note_stop(std::uint32_t vcpu, const DebugEvent& event) {
    m_pending.push_back({vcpu, false, event});
}

void GdbSession::note_interrupt() {
    m_pending.push_back({m_register_vcpu, true, {}});
}

std::string GdbSession::stop_text(const PendingStop& stop) const {
    const std::uint32_t thread = stop.vcpu + 1;
    if (stop.interrupt) return fmt::format("T{:02x}thread:{:x};", signal_interrupt, thread);
    if (stop.event.kind == DebugEvent::Kind::Watchpoint)
        return fmt::format("T{:02x}{}:{:x};thread:{:x};", signal_trap,
                           watch_name(stop.event.watch_kind), stop.event.address, thread);
    return fmt::format("T{:02x}thread:{:x};", signal_trap, thread);
}

std::string GdbSession::take_stop_reply() {
    while (!m_pending.empty()) {
        const PendingStop stop = m_pending.front();
        m_pending.pop_front();
        // A breakpoint removed since it was hit is stale: the vCPU has not run the instruction
        // yet and meets it again if GDB puts the breakpoint back.
        if (!stop.interrupt && stop.event.kind == DebugEvent::Kind::Breakpoint &&
            !m_points.has_breakpoint_at(stop.event.address))
            continue;
        m_register_vcpu = stop.vcpu;
        m_last_stop = stop_text(stop);
        return m_last_stop;
    }
    return {};
}

} // namespace vessel::gdb
