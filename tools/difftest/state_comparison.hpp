// StateComparison: native vs engine end states (registers, defined flags, XMM, MXCSR, memory)
// and the reproducible divergence report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "machine_state.hpp"
#include "sequence_generator.hpp"

namespace vessel::difftest {

/// One line per differing field; empty when the runs agree. With `dead_flags_may_differ` (the
/// translator), an exception's arithmetic flags are compared only where they are live: the
/// translator does not save flags that the rest of the code overwrites before reading them.
std::vector<std::string> compare_states(const Sequence& sequence, const MachineState& native,
                                        const MachineState& engine, bool dead_flags_may_differ);

/// Arithmetic flags that the code from `address` on overwrites before reading them.
std::uint64_t dead_flags_at(const Sequence& sequence, std::uint64_t address);

/// The instructions of a sequence, one "address: bytes  mnemonic operands" line each.
std::string disassemble(const Sequence& sequence);

/// A full report: how to reproduce, the code, the start state, both end states, the differences.
std::string describe_divergence(std::uint64_t seed, std::uint64_t index, unsigned max_length,
                                const Sequence& sequence, const MachineState& native,
                                const MachineState& engine,
                                const std::vector<std::string>& differences);

} // namespace vessel::difftest
