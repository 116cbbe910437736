// The x86-64 target description GDB reads with qXfer:features:read (GDB manual, Appendix G
// "Target Descriptions", G.5.1 i386 features) and the register numbers it implies for g/G/p/P.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "arch/x86/cpu_state.hpp"
#include "base/result.hpp"

namespace vessel::gdb {

/// One register of the description, in its `g` packet order.
struct RegisterInfo {
    std::string_view name;
    unsigned bits;
};

/// Registers in description order: GDB's amd64 core set, SSE, segment bases, then the control
/// registers and EFER (feature org.vessel.x86.sys).
std::span<const RegisterInfo> registers();
/// The whole target.xml (one document, no includes).
const std::string& target_xml();

/// Register `number` of `state` as GDB's hex (little-endian); `x` digits for a register Vessel
/// does not keep in CpuState (x87, SSE): GDB shows it as unavailable. Fails for a number past
/// the description.
Result<std::string> read_register(const x86::CpuState& state, unsigned number);
/// Sets register `number` from GDB's hex; writes to registers Vessel cannot set (x87, SSE) are
/// ignored, a wrong length or bad hex fails.
Result<void> write_register(x86::CpuState& state, unsigned number, std::string_view hex);
/// The whole `g` reply, and G's inverse (its length must match exactly).
std::string read_all_registers(const x86::CpuState& state);
Result<void> write_all_registers(x86::CpuState& state, std::string_view hex);

} // namespace vessel::gdb
