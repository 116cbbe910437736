// What the host CPU runs as is (see host_extensions.hpp).
#include "engine/soft/translator/host_extensions.hpp"

#include <cpuid.h>

#include <utility>

#include <xbyak/xbyak.h>
#include <xbyak/xbyak_util.h>

#include "engine/soft/cpu_model.hpp"

namespace vessel::soft {

/// Whether the host CPU has BMI2 (rorx), asked once: CPUID leaf 7 EBX bit 8 (a general-purpose
/// register extension: no OS support to check). One CPUID, where Xbyak's util::Cpu runs a few
/// dozen (every leaf, the cache hierarchy): the first vCPU's translator asks this while the VM
/// is built or restored, and under nested virtualization each CPUID is a trap (2 us here; the
/// Cpu object took ~40 us of a restore's vCPU phase, measured with perf over 40 builds).
bool host_has_bmi2() {
    static const bool has = [] {
        unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
        if (__get_cpuid_max(0, nullptr) < 7) return false;
        __cpuid_count(7, 0, eax, ebx, ecx, edx);
        return (ebx & (1u << 8)) != 0;
    }();
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
