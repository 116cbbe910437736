// The CR4 bits the software CPU lets a guest set, which depend on its CPU model, and their names
// for error messages (Intel SDM Vol. 3A, 2.5 "Control Registers").
#pragma once

#include <cstdint>
#include <string>

namespace vessel::soft {

/// The CR4 bits a CPU whose model holds `isa_features` (isa:: bits) implements: mov to CR4 with
/// any other bit raises #GP, and a snapshot with another bit set cannot be restored on it.
std::uint64_t cr4_bits_offered(std::uint32_t isa_features);

/// "SMEP (bit 20), PKE (bit 22)": the set bits of `bits` by their SDM names.
std::string cr4_bit_names(std::uint64_t bits);

} // namespace vessel::soft
