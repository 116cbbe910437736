// acpi_waking_state: the FACS's waking vectors turned into the BSP's resume state.
#include "arch/x86/acpi_waking_vector.hpp"

#include <array>
#include <cstring>

namespace vessel::x86 {

Result<CpuState> acpi_waking_state(const GuestMemory& memory, std::uint64_t facs_address) {
    std::array<std::uint8_t, 4> signature{};
    TRY_CONTEXT(memory.read_bytes(facs_address, signature), "ACPI wake: FACS");
    if (std::memcmp(signature.data(), "FACS", 4) != 0)
        return make_error("ACPI wake: no FACS signature at {:#x} (the guest overwrote it)",
                          facs_address);
    const auto vector = TRY_CONTEXT(
        memory.read<std::uint32_t>(facs_address + facs::firmware_waking_vector), "ACPI wake");
    const auto x_vector = TRY_CONTEXT(
        memory.read<std::uint64_t>(facs_address + facs::x_firmware_waking_vector), "ACPI wake");
    CpuState state; // reset values: real mode, segments of base 0 and limit 0xffff
    state.rflags = rflags::fixed1;
    if (x_vector != 0) {
        if (x_vector > 0xffff'ffff)
            return make_error("ACPI wake: X_Firmware_Waking_Vector {:#x} is above 4 GiB and "
                              "Vessel offers no 64-bit wake environment",
                              x_vector);
        state.cr0 = cr0::pe | cr0::et;
        state.cs = flat_segment(0x08, 0xb, false);
        state.ds = state.es = state.fs = state.gs = state.ss = flat_segment(0x10, 0x3, false);
        state.rip = x_vector;
        return state;
    }
    if (vector == 0)
        return make_error("ACPI wake: the guest left no waking vector in the FACS at {:#x}",
                          facs_address);
    if (vector > 0xf'ffff)
        return make_error("ACPI wake: Firmware_Waking_Vector {:#x} is not a real-mode address",
                          vector);
    state.cs.selector = static_cast<std::uint16_t>(vector >> 4);
    state.cs.base = std::uint64_t{state.cs.selector} << 4;
    state.rip = vector & 0xf;
    return state;
}

} // namespace vessel::x86
