// StateComparison: field-by-field comparison and report formatting.
#include "state_comparison.hpp"

#include <Zydis/Zydis.h>
#include <fmt/format.h>

namespace vessel::difftest {

namespace {

constexpr const char* register_names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                            "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
constexpr std::size_t max_reported_bytes = 16;

const char* outcome_name(Outcome outcome) {
    switch (outcome) {
    case Outcome::Completed:
        return "completed";
    case Outcome::Faulted:
        return "faulted";
    default:
        return "crashed";
    }
}

std::string describe_state(const MachineState& state) {
    std::string text = fmt::format("  {}", outcome_name(state.outcome));
    if (state.outcome == Outcome::Faulted) text += fmt::format(" (vector {})", state.vector);
    if (!state.message.empty()) text += ": " + state.message;
    text += fmt::format("\n  rip={:#x} rflags={:#x} mxcsr={:#x}\n", state.rip, state.rflags,
                        state.mxcsr);
    for (int i = 0; i < 16; ++i)
        text += fmt::format("  {:>3}={:016x}{}", register_names[i], state.gpr[i],
                            i % 4 == 3 ? "\n" : "");
    for (int i = 0; i < 16; ++i)
        text += fmt::format("  xmm{:<2}={:016x}{:016x}{}", i, state.xmm[i][1], state.xmm[i][0],
                            i % 2 == 1 ? "\n" : "");
    return text;
}

} // namespace

std::uint64_t dead_flags_at(const Sequence& sequence, std::uint64_t address) {
    ZydisDecoder decoder;
    ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    std::uint64_t unknown = flag::arithmetic, dead = 0;
    std::uint64_t offset = address - sequence.initial.rip;
    while (offset < sequence.code.size() && unknown != 0) {
        ZydisDecodedInstruction instruction;
        ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
        if (ZYAN_FAILED(ZydisDecoderDecodeFull(&decoder, sequence.code.data() + offset,
                                               sequence.code.size() - offset, &instruction,
                                               operands)) ||
            instruction.cpu_flags == nullptr)
            break;
        const ZydisAccessedFlags& flags = *instruction.cpu_flags;
        unknown &= ~static_cast<std::uint64_t>(flags.tested); // read first: live
        const auto written = static_cast<std::uint64_t>(flags.modified | flags.set_0 | flags.set_1 |
                                                        flags.undefined);
        const bool repeated =
            (instruction.attributes &
             (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE)) != 0;
        if (repeated) break; // a count of 0 writes nothing: what follows cannot be judged
        dead |= unknown & written;
        unknown &= ~written;
        offset += instruction.length;
    }
    return dead; // whatever the sequence's end reaches is live
}

std::vector<std::string> compare_states(const Sequence& sequence, const MachineState& native,
                                        const MachineState& engine, bool dead_flags_may_differ) {
    std::vector<std::string> differences;
    if (native.outcome == Outcome::Crashed || engine.outcome == Outcome::Crashed) {
        differences.push_back(fmt::format("run did not finish: native {} {}, engine {} {}",
                                          outcome_name(native.outcome), native.message,
                                          outcome_name(engine.outcome), engine.message));
        return differences;
    }
    if (native.outcome != engine.outcome ||
        (native.outcome == Outcome::Faulted && native.vector != engine.vector))
        differences.push_back(fmt::format("outcome: native {} vector {}, engine {} vector {}",
                                          outcome_name(native.outcome), native.vector,
                                          outcome_name(engine.outcome), engine.vector));
    if (native.rip != engine.rip)
        differences.push_back(
            fmt::format("rip: native {:#x}, engine {:#x}", native.rip, engine.rip));
    for (int i = 0; i < 16; ++i)
        if (native.gpr[i] != engine.gpr[i])
            differences.push_back(fmt::format("{}: native {:#x}, engine {:#x}", register_names[i],
                                              native.gpr[i], engine.gpr[i]));
    std::uint64_t mask = flag::compared & ~sequence.undefined_flags_at(native.rip);
    if (dead_flags_may_differ && native.outcome == Outcome::Faulted)
        mask &= ~dead_flags_at(sequence, native.rip);
    if ((native.rflags ^ engine.rflags) & mask)
        differences.push_back(fmt::format("rflags (compared bits {:#x}): native {:#x}, engine "
                                          "{:#x}, differing {:#x}",
                                          mask, native.rflags & mask, engine.rflags & mask,
                                          (native.rflags ^ engine.rflags) & mask));
    for (int i = 0; i < 16; ++i)
        if (native.xmm[i] != engine.xmm[i])
            differences.push_back(fmt::format("xmm{}: native {:016x}{:016x}, engine {:016x}{:016x}",
                                              i, native.xmm[i][1], native.xmm[i][0],
                                              engine.xmm[i][1], engine.xmm[i][0]));
    for (int i = 0; i < 16; ++i)
        if (native.ymm_upper[i] != engine.ymm_upper[i])
            differences.push_back(
                fmt::format("ymm{} bits 128-255: native {:016x}{:016x}, engine {:016x}{:016x}", i,
                            native.ymm_upper[i][1], native.ymm_upper[i][0], engine.ymm_upper[i][1],
                            engine.ymm_upper[i][0]));
    if (native.mxcsr != engine.mxcsr)
        differences.push_back(
            fmt::format("mxcsr: native {:#x}, engine {:#x}", native.mxcsr, engine.mxcsr));
    std::size_t reported = 0;
    for (std::size_t i = 0; i < layout::data_size; ++i) {
        if (native.data[i] == engine.data[i]) continue;
        if (++reported > max_reported_bytes) {
            differences.push_back("memory: more bytes differ");
            break;
        }
        differences.push_back(fmt::format("memory {:#x}: native {:02x}, engine {:02x}",
                                          layout::data_address + i, native.data[i],
                                          engine.data[i]));
    }
    return differences;
}

std::string disassemble(const Sequence& sequence) {
    std::string text;
    std::size_t offset = 0;
    while (offset < sequence.code.size()) {
        ZydisDisassembledInstruction instruction;
        const std::uint64_t address = layout::code_address + offset;
        if (!ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, address,
                                                sequence.code.data() + offset,
                                                sequence.code.size() - offset, &instruction))) {
            text += fmt::format("  {:x}: {:02x}  (undecodable)\n", address, sequence.code[offset]);
            ++offset;
            continue;
        }
        std::string bytes;
        for (unsigned i = 0; i < instruction.info.length; ++i)
            bytes += fmt::format("{:02x} ", sequence.code[offset + i]);
        text += fmt::format("  {:x}: {:<36} {}   [undefined flags {:#x}]\n", address, bytes,
                            instruction.text, sequence.undefined_flags_at(address));
        offset += instruction.info.length;
    }
    return text;
}

std::string describe_divergence(std::uint64_t seed, std::uint64_t index, unsigned max_length,
                                const Sequence& sequence, const MachineState& native,
                                const MachineState& engine,
                                const std::vector<std::string>& differences) {
    std::string text = fmt::format(
        "DIVERGENCE seed {} sequence {} (reproduce: vessel_difftest --seed {} --first {} "
        "--count 1 --max-length {} --verbose)\ncode:\n{}",
        seed, index, seed, index, max_length, disassemble(sequence));
    text += "initial state:\n" + describe_state(sequence.initial);
    text += "native end state:\n" + describe_state(native);
    text += "engine end state:\n" + describe_state(engine);
    text += "differences:\n";
    for (const std::string& difference : differences)
        text += "  " + difference + "\n";
    return text;
}

} // namespace vessel::difftest
