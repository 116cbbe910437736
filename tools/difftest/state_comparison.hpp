// StateComparison: native vs engine end states (registers, defined flags, XMM, MXCSR, memory)
// and the reproducible divergence report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "machine_state.hpp"
#include "sequence_generator.hpp"

namespace vessel::difftest {

/// One line per differing field; empty when the runs agree.
std::vector<std::string> compare_states(const Sequence& sequence, const MachineState& native,
                                        const MachineState& engine);

/// The instructions of a sequence, one "address: bytes  mnemonic operands" line each.
std::string disassemble(const Sequence& sequence);

/// A full report: how to reproduce, the code, the start state, both end states, the differences.
std::string describe_divergence(std::uint64_t seed, std::uint64_t index, unsigned max_length,
                                const Sequence& sequence, const MachineState& native,
                                const MachineState& engine,
                                const std::vector<std::string>& differences);

} // namespace vessel::difftest
