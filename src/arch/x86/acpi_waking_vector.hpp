// The FACS firmware waking vector: where a VM resumes from ACPI S3 (ACPI 6.5, 5.2.10 and 16.3).
#pragma once

#include <cstdint>

#include "arch/x86/cpu_state.hpp"
#include "base/result.hpp"
#include "memory/guest_memory.hpp"

namespace vessel::x86 {

/// FACS field offsets (ACPI 6.5, table 5.14).
namespace facs {
constexpr std::uint64_t firmware_waking_vector = 12;   ///< 4 bytes: real-mode entry
constexpr std::uint64_t x_firmware_waking_vector = 24; ///< 8 bytes: protected-mode entry
constexpr std::uint64_t minimum_length = 64;
} // namespace facs

/// The bootstrap processor's state when the platform leaves S3, as firmware builds it from the
/// FACS at `facs_address`: a nonzero X_Firmware_Waking_Vector is entered in 32-bit protected
/// mode, flat segments, paging off (Vessel offers no 64-bit wake environment); otherwise the
/// 32-bit Firmware_Waking_Vector is entered in real mode with CS = vector >> 4 and
/// IP = vector & 0xf. Fails, naming the problem, when the FACS is missing or both vectors are 0.
Result<CpuState> acpi_waking_state(const GuestMemory& memory, std::uint64_t facs_address);

} // namespace vessel::x86
