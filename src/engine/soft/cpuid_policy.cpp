// CpuidPolicy: the feature set of the software CPU (Intel SDM Vol. 2, CPUID).
#include "engine/soft/cpuid_policy.hpp"

#include <cstring>

#include "engine/soft/soft_platform.hpp"
#include "engine/soft/xsave_state.hpp"

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
                                    | (1u << 7)   // mce: machine-check exception (CR4.MCE)
                                    | (1u << 8)   // cx8: cmpxchg8b
                                    | (1u << 9)   // apic: local APIC present
                                    | (1u << 13)  // pge: global pages
                                    | (1u << 14)  // mca: IA32_MCG_CAP and the error banks
                                    | (1u << 15)  // cmov
                                    | (1u << 16)  // pat
                                    | (1u << 19)  // clfsh: clflush (a no-op here)
                                    | (1u << 23)  // mmx (ops_mmx.cpp)
                                    | (1u << 24)  // fxsr: fxsave/fxrstor
                                    | (1u << 25)  // sse
                                    | (1u << 26); // sse2
/// Leaf 1 ECX: cx16 (cmpxchg16b), TSC-deadline APIC timer (so Linux needs no APIC timer
/// calibration) and the hypervisor-present bit.
constexpr std::uint32_t leaf1_ecx = (1u << 13) | (1u << 24) | (1u << 31);
/// Leaf 1 ECX: x2APIC (the local APIC's MSR interface, IA32_APIC_BASE.EXTD).
constexpr std::uint32_t leaf1_ecx_x2apic = 1u << 21;
/// Leaf 7 subleaf 0 EBX: IA32_TSC_ADJUST (MSR 0x3b).
constexpr std::uint32_t leaf7_ebx = 1u << 1;
/// Leaf 7 subleaf 0 EDX: IA32_SPEC_CTRL/IA32_PRED_CMD (26) and IA32_ARCH_CAPABILITIES (29),
/// which declares the CPU immune to transient-execution attacks (see model_specific_registers.cpp).
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

/// Leaf 0xb (extended topology) exists, with subleaves 0 (SMT), 1 (core) and 2 (the end of
/// the list); x86::apply_cpuid_policy fills them in.
constexpr std::uint32_t leaf_extended_topology = 0x0b;
constexpr std::uint32_t extended_topology_levels = 3;

/// CPUID bits of the model-dependent extensions (Intel SDM Vol. 2, CPUID; AMD APM Vol. 3, E.3).
struct FeatureBit {
    std::uint32_t feature;  ///< isa:: bit
    std::uint32_t function; ///< leaf (subleaf 0)
    unsigned reg;           ///< 1 ebx, 2 ecx, 3 edx
    unsigned bit;
};
constexpr FeatureBit feature_bits[] = {
    {isa::sse3, 1, 2, 0},
    {isa::ssse3, 1, 2, 9},
    {isa::sse41, 1, 2, 19},
    {isa::sse42, 1, 2, 20},
    {isa::movbe, 1, 2, 22},
    {isa::popcnt, 1, 2, 23},
    {isa::fma, 1, 2, 12},
    {isa::xsave, 1, 2, 26},
    {isa::avx, 1, 2, 28},
    {isa::f16c, 1, 2, 29},
    {isa::avx2, 7, 1, 5},
    {isa::bmi1, 7, 1, 3},
    {isa::bmi2, 7, 1, 8},
    {isa::lzcnt, 0x8000'0001, 2, 5},
    {isa::rdtscp, 0x8000'0001, 3, 27},
    {isa::rdrand, 1, 2, 30},
    {isa::smep, 7, 1, 7},
    {isa::rdseed, 7, 1, 18},
    {isa::smap, 7, 1, 20},
    {isa::clflushopt, 7, 1, 23},
    {isa::clwb, 7, 1, 24},
    {isa::umip, 7, 2, 2},
    {isa::pku, 7, 2, 3},
    {isa::rdpid, 7, 2, 22},
};

/// A leaf whose subleaf does not matter.
x86::CpuidEntry leaf(std::uint32_t function, std::uint32_t eax, std::uint32_t ebx,
                     std::uint32_t ecx, std::uint32_t edx) {
    return x86::CpuidEntry{function, 0, false, eax, ebx, ecx, edx};
}

/// Leaf `function` holding 16 bytes of the brand string.
x86::CpuidEntry brand_string(std::uint32_t function, const char* text) {
    std::uint32_t words[4] = {};
    std::memcpy(words, text, std::strlen(text) < 16 ? std::strlen(text) : 16);
    return leaf(function, words[0], words[1], words[2], words[3]);
}

std::uint32_t word(const char* four_characters) {
    std::uint32_t value = 0;
    std::memcpy(&value, four_characters, 4);
    return value;
}

/// Leaf 0xD (Intel SDM Vol. 2, CPUID; Vol. 1, 13.2): subleaf 0 lists the XCR0 components and
/// the area sizes (EBX follows XCR0: op_cpuid fills it in), subleaf 1 the XSAVE variants
/// (XSAVEOPT only: no XSAVEC, XSAVES, XGETBV with ECX=1), subleaf 2 the YMM component.
void append_xsave_leaf(std::vector<x86::CpuidEntry>& entries, std::uint32_t features) {
    const std::uint64_t components =
        (features & isa::avx) ? xsave::supported_with_avx : (xsave::x87 | xsave::sse);
    const unsigned size = xsave::area_size(components);
    entries.push_back(x86::CpuidEntry{0xd, 0, true, static_cast<std::uint32_t>(components),
                                      xsave::area_size(xsave::x87), size, 0});
    entries.push_back(x86::CpuidEntry{0xd, 1, true, 1 /* xsaveopt */, 0, 0, 0});
    if (components & xsave::ymm)
        entries.push_back(x86::CpuidEntry{0xd, 2, true, xsave::ymm_size, xsave::ymm_offset, 0, 0});
}

} // namespace

std::vector<x86::CpuidEntry> supported_cpuid() {
    std::vector<x86::CpuidEntry> entries;
    // "GenuineIntel" in EBX, EDX, ECX order.
    entries.push_back(leaf(0, max_basic_leaf, word("Genu"), word("ntel"), word("ineI")));
    entries.push_back(
        leaf(1, signature, 8u << 8 /* clflush line: 64 bytes */, leaf1_ecx, leaf1_edx));
    // Leaf 7: subleaf 0 (eax: 2 is the last subleaf) and subleaf 2; subleaf 1 is all zero.
    entries.push_back(x86::CpuidEntry{7, 0, true, 2, leaf7_ebx, 0, leaf7_edx});
    entries.push_back(x86::CpuidEntry{7, 2, true, 0, 0, 0, leaf7_2_edx});
    for (std::uint32_t level = 0; level < extended_topology_levels; ++level)
        entries.push_back(x86::CpuidEntry{leaf_extended_topology, level, true, 0, 0, 0, 0});
    entries.push_back(leaf(0x15, tsc_ratio_denominator, tsc_ratio_numerator, crystal_hz, 0));
    entries.push_back(leaf(0x16, base_mhz, base_mhz, bus_mhz, 0));
    // Hypervisor leaves: KVM's paravirtual interface signature with no paravirtual features
    // (leaf 0x40000001 all zero: no kvmclock, no PV EOI/IPI/TLB flush, no hypercalls), what
    // KVM itself shows a guest with every PV feature off. It tells a guest kernel that x2APIC
    // works without interrupt remapping (Linux's x86_init.hyper.x2apic_available(): under an
    // unknown hypervisor it keeps the xAPIC). Vessel still names itself in the brand string
    // and the ACPI tables' OEM fields, and guests see the same signature on the KVM engine.
    entries.push_back(leaf(0x4000'0000, 0x4000'0001, word("KVMK"), word("VMKV"), word("M\0\0\0")));
    entries.push_back(leaf(0x4000'0001, 0, 0, 0, 0));
    entries.push_back(leaf(0x8000'0000, max_extended_leaf, 0, 0, 0));
    entries.push_back(leaf(0x8000'0001, 0, 0, extended_ecx, extended_edx));
    entries.push_back(brand_string(0x8000'0002, "Vessel software "));
    entries.push_back(brand_string(0x8000'0003, "CPU"));
    entries.push_back(leaf(0x8000'0007, 0, 0, 0, power_management_edx));
    entries.push_back(leaf(0x8000'0008, 0x3028, 0, 0, 0)); // 48-bit linear, 40-bit physical
    // Leaves 2-6, 8-0xa, 0xc-0x14, 0x80000004 and others: all zero.
    return entries;
}

std::vector<x86::CpuidEntry> supported_cpuid(CpuModel model) {
    std::vector<x86::CpuidEntry> entries = supported_cpuid();
    const std::uint32_t features = model_features(model);
    for (const FeatureBit& bit : feature_bits) {
        if (!(features & bit.feature)) continue;
        for (x86::CpuidEntry& entry : entries) {
            if (entry.function != bit.function || entry.index != 0) continue;
            std::uint32_t& target = bit.reg == 1 ? entry.ebx : bit.reg == 2 ? entry.ecx : entry.edx;
            target |= 1u << bit.bit;
        }
    }
    if (features & isa::xsave) append_xsave_leaf(entries, features);
    // x2APIC (CPUID.1:ECX bit 21): the processors of the v2 level and later have it (Nehalem
    // onwards); the baseline model stays an xAPIC-only CPU.
    if (model != CpuModel::Baseline)
        for (x86::CpuidEntry& entry : entries)
            if (entry.function == 1) entry.ecx |= leaf1_ecx_x2apic;
    return entries;
}

std::vector<x86::CpuidEntry> cpuid_entries(std::uint32_t cpu_index, std::uint32_t cpu_count) {
    return cpuid_entries(cpu_index, cpu_count, CpuModel::Baseline);
}

std::vector<x86::CpuidEntry> cpuid_entries(std::uint32_t cpu_index, std::uint32_t cpu_count,
                                           CpuModel model) {
    std::vector<x86::CpuidEntry> entries = supported_cpuid(model);
    x86::apply_cpuid_policy(entries, cpu_index, cpu_count);
    return entries;
}

} // namespace vessel::soft
