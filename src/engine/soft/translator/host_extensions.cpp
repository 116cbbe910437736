// What the host CPU runs as is (see host_extensions.hpp).
#include "engine/soft/translator/host_extensions.hpp"

#include <utility>

#include <xbyak/xbyak.h>
#include <xbyak/xbyak_util.h>

#include "engine/soft/cpu_model.hpp"

namespace vessel::soft {

/// Whether the host CPU has BMI2 (rorx), asked once.
bool host_has_bmi2() {
    static const bool has = Xbyak::util::Cpu().has(Xbyak::util::Cpu::tBMI2);
    return has;
}

/// Whether the host runs the instructions of extension `bit` (an isa:: bit), asked once.
bool host_has_extension(std::uint32_t bit) {
    static const std::uint32_t host = [] {
        const Xbyak::util::Cpu cpu;
        using C = Xbyak::util::Cpu;
        std::uint32_t bits = 0;
        const std::pair<std::uint32_t, Xbyak::util::Cpu::Type> table[] = {
            {isa::sse3, C::tSSE3},   {isa::ssse3, C::tSSSE3},   {isa::sse41, C::tSSE41},
            {isa::sse42, C::tSSE42}, {isa::popcnt, C::tPOPCNT}, {isa::movbe, C::tMOVBE},
            {isa::bmi1, C::tBMI1},   {isa::lzcnt, C::tLZCNT},   {isa::bmi2, C::tBMI2},
            {isa::avx, C::tAVX},     {isa::avx2, C::tAVX2}};
        for (const auto& [isa_bit, type] : table)
            if (cpu.has(type)) bits |= isa_bit;
        return bits;
    }();
    return (host & bit) == bit;
}

/// Whether the host runs tzcnt (BMI1) or lzcnt (LZCNT) as such.
bool host_counts(ZydisMnemonic mnemonic) {
    return host_has_extension(mnemonic == ZYDIS_MNEMONIC_TZCNT ? isa::bmi1 : isa::lzcnt);
}

} // namespace vessel::soft
