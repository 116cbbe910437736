// CpuidPolicy: the feature set of the software CPU (Intel SDM Vol. 2, CPUID).
#include "engine/soft/cpuid_policy.hpp"

#include <cstring>

#include "engine/soft/soft_platform.hpp"

namespace vessel::soft {

namespace {

constexpr std::uint32_t max_basic_leaf = 0x16;
constexpr std::uint32_t max_extended_leaf = 0x8000'0008;

/// Leaf 1 EDX features implemented by the interpreter.
constexpr std::uint32_t leaf1_edx = (1u << 0)     // fpu: x87
                                    | (1u << 3)   // pse: 4 MiB pages
                                    | (1u << 4)   // tsc
                                    | (1u << 5)   // msr: rdmsr/wrmsr
                                    | (1u << 6)   // pae
                                    | (1u << 8)   // cx8: cmpxchg8b
                                    | (1u << 9)   // apic: local APIC present
                                    | (1u << 13)  // pge: global pages
                                    | (1u << 15)  // cmov
                                    | (1u << 16)  // pat
                                    | (1u << 19)  // clfsh: clflush (a no-op here)
                                    | (1u << 24)  // fxsr: fxsave/fxrstor
                                    | (1u << 25)  // sse
                                    | (1u << 26); // sse2
/// Leaf 1 ECX: cx16 (cmpxchg16b), TSC-deadline APIC timer (so Linux needs no APIC timer
/// calibration) and the hypervisor-present bit.
constexpr std::uint32_t leaf1_ecx = (1u << 13) | (1u << 24) | (1u << 31);
/// Leaf 7 subleaf 0 EBX: IA32_TSC_ADJUST (MSR 0x3b).
constexpr std::uint32_t leaf7_ebx = 1u << 1;
/// Leaf 7 subleaf 0 EDX: IA32_SPEC_CTRL/IA32_PRED_CMD (26) and IA32_ARCH_CAPABILITIES (29),
/// which declares the CPU immune to transient-execution attacks (see system_registers.cpp).
constexpr std::uint32_t leaf7_edx = (1u << 26) | (1u << 29);
/// Leaf 7 subleaf 2 EDX: BHI_CTRL (IA32_SPEC_CTRL.BHI_DIS_S), so that a kernel which assumes a
/// virtual CPU may hide its branch history immunity sets a bit instead of running a BHB clearing
/// loop on every system call.
constexpr std::uint32_t leaf7_2_edx = 1u << 4;
/// Leaf 0x80000007 EDX: invariant TSC (the TSC follows the host's monotonic clock). With
/// TSC_ADJUST it lets Linux trust the TSC without a clocksource watchdog.
constexpr std::uint32_t power_management_edx = 1u << 8;

/// Leaf 0x15 (Intel SDM Vol. 2, CPUID): TSC = crystal * ebx / eax. The 1 GHz "crystal" is the
/// local APIC timer's clock, which Linux derives from this leaf too; 2 GHz TSC.
constexpr std::uint32_t crystal_hz = 1'000'000'000;
constexpr std::uint32_t tsc_ratio_denominator = 1;
constexpr std::uint32_t tsc_ratio_numerator = 2;
/// Leaf 0x16: base and maximum frequency and bus (reference) frequency in MHz.
constexpr std::uint32_t base_mhz = 2000;
constexpr std::uint32_t bus_mhz = 1000;
static_assert(std::uint64_t{crystal_hz} * tsc_ratio_numerator / tsc_ratio_denominator ==
              SoftPlatform::guest_tsc_frequency_hz);
static_assert(crystal_hz == SoftPlatform::apic_bus_frequency_hz);
static_assert(base_mhz * 1'000'000ull == SoftPlatform::guest_tsc_frequency_hz);
/// Leaf 0x80000001: lahf/sahf in 64-bit mode; syscall, nx, long mode.
constexpr std::uint32_t extended_ecx = 1u << 0;
constexpr std::uint32_t extended_edx = (1u << 11) | (1u << 20) | (1u << 29);

/// Family 15, model 6, stepping 1 (the signature QEMU's kvm64 model uses).
constexpr std::uint32_t signature = 0x00000f61;

void put_string(CpuidResult& result, const char* text) {
    std::uint32_t words[4] = {};
    std::memcpy(words, text, std::strlen(text) < 16 ? std::strlen(text) : 16);
    result = {words[0], words[1], words[2], words[3]};
}

} // namespace

CpuidResult cpuid_leaf(std::uint32_t leaf, std::uint32_t subleaf, std::uint32_t cpu_index,
                       std::uint32_t cpu_count) {
    CpuidResult result;
    switch (leaf) {
    case 0:
        result.eax = max_basic_leaf;
        // "GenuineIntel" in EBX, EDX, ECX order.
        result.ebx = 0x756e6547;
        result.edx = 0x49656e69;
        result.ecx = 0x6c65746e;
        break;
    case 1:
        result.eax = signature;
        result.ebx = (cpu_index << 24) | ((cpu_count & 0xff) << 16) | (8u << 8); // clflush 64 B
        result.ecx = leaf1_ecx;
        result.edx = leaf1_edx;
        break;
    case 7:
        if (subleaf == 0) {
            result.eax = 2; // the last subleaf
            result.ebx = leaf7_ebx;
            result.edx = leaf7_edx;
        } else if (subleaf == 2) {
            result.edx = leaf7_2_edx;
        }
        break;
    case 0x15:
        result.eax = tsc_ratio_denominator;
        result.ebx = tsc_ratio_numerator;
        result.ecx = crystal_hz;
        break;
    case 0x16:
        result.eax = base_mhz;
        result.ebx = base_mhz;
        result.ecx = bus_mhz;
        break;
    case 0x4000'0000:
        // Hypervisor leaf: "VesselVessel", no paravirtual interfaces.
        result.eax = 0x4000'0000;
        std::memcpy(&result.ebx, "Vess", 4);
        std::memcpy(&result.ecx, "elVe", 4);
        std::memcpy(&result.edx, "ssel", 4);
        break;
    case 0x8000'0000:
        result.eax = max_extended_leaf;
        break;
    case 0x8000'0001:
        result.ecx = extended_ecx;
        result.edx = extended_edx;
        break;
    case 0x8000'0002:
        put_string(result, "Vessel software ");
        break;
    case 0x8000'0003:
        put_string(result, "CPU");
        break;
    case 0x8000'0004:
        break;
    case 0x8000'0007:
        result.edx = power_management_edx;
        break;
    case 0x8000'0008:
        result.eax = 0x3028;
        break; // 48-bit linear, 40-bit physical addresses
    default:
        break; // leaves 2-6, 8-0x14 and others: all zero
    }
    return result;
}

} // namespace vessel::soft
