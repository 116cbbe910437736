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
#include "engine/vector_registers.hpp"

namespace vessel::gdb {

/// One register of the description, in its `g` packet order.
struct RegisterInfo {
    std::string_view name;
    unsigned bits;
};

/// What the g/G/p/P packets read and write: the CpuState and, where the engine offers them, the
/// SSE/AVX registers and XCR0.
struct RegisterFile {
    x86::CpuState state;
    std::optional<VectorRegisters> vectors;
};

/// Registers in description order: GDB's amd64 core set, SSE, segment bases, the control
/// registers, EFER and XCR0 (feature org.vessel.x86.sys), then the YMM upper halves
/// (org.gnu.gdb.i386.avx).
std::span<const RegisterInfo> registers();
/// The whole target.xml (one document, no includes).
const std::string& target_xml();

/// Register `number` as GDB's hex (little-endian); `x` digits for a register Vessel does not
/// keep (x87; SSE, AVX and XCR0 without `vectors`): GDB shows it as unavailable. Fails for a
/// number past the description.
Result<std::string> read_register(const RegisterFile& registers, unsigned number);
/// Sets register `number` from GDB's hex; writes to registers Vessel cannot set (x87; the
/// vector ones without `vectors`) are ignored, a wrong length or bad hex fails.
Result<void> write_register(RegisterFile& registers, unsigned number, std::string_view hex);
/// The whole `g` reply, and G's inverse (its length must match exactly).
std::string read_all_registers(const RegisterFile& registers);
Result<void> write_all_registers(RegisterFile& registers, std::string_view hex);

} // namespace vessel::gdb
