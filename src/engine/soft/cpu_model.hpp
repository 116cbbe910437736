// CpuModel: the named feature sets of the software CPU (x86-64 micro-architecture levels); CPUID
// and instruction availability (#UD when absent) follow the model a VM runs with.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace vessel::soft {

/// Instruction-set extensions beyond the x86-64 baseline that a model may hold (bit set).
namespace isa {
constexpr std::uint32_t sse3 = 1u << 0;   ///< SSE3 (pni)
constexpr std::uint32_t ssse3 = 1u << 1;  ///< supplemental SSE3
constexpr std::uint32_t sse41 = 1u << 2;  ///< SSE4.1
constexpr std::uint32_t sse42 = 1u << 3;  ///< SSE4.2: pcmpgtq, crc32, pcmpXstrX
constexpr std::uint32_t popcnt = 1u << 4; ///< popcnt
constexpr std::uint32_t lzcnt = 1u << 5;  ///< lzcnt (CPUID 0x80000001:ECX.ABM)
constexpr std::uint32_t movbe = 1u << 6;  ///< movbe
constexpr std::uint32_t bmi1 = 1u << 7;   ///< andn, bextr, blsi, blsmsk, blsr, tzcnt
constexpr std::uint32_t bmi2 = 1u << 8;   ///< bzhi, mulx, pdep, pext, rorx, sarx, shlx, shrx
constexpr std::uint32_t rdtscp = 1u << 9; ///< rdtscp and IA32_TSC_AUX
constexpr std::uint32_t xsave = 1u << 10; ///< xsave, xrstor, xsaveopt, xgetbv, xsetbv, CR4.OSXSAVE
constexpr std::uint32_t avx = 1u << 11;   ///< AVX: VEX encoding, YMM registers, float ops
constexpr std::uint32_t avx2 = 1u << 12;  ///< AVX2: 256-bit integer ops, permutes, broadcasts
constexpr std::uint32_t fma = 1u << 13;   ///< FMA3: vfmadd/vfmsub/vfnmadd/vfnmsub
constexpr std::uint32_t f16c = 1u << 14;  ///< vcvtph2ps, vcvtps2ph
// Beyond the x86-64-v3 ISA level; bits from 16 up. SMEP and SMAP are in the v3 model too (every
// CPU of that level has them), the rest in max only.
constexpr std::uint32_t smep = 1u << 16;       ///< CR4.SMEP
constexpr std::uint32_t smap = 1u << 17;       ///< CR4.SMAP, stac, clac
constexpr std::uint32_t umip = 1u << 18;       ///< CR4.UMIP
constexpr std::uint32_t pku = 1u << 19;        ///< CR4.PKE, rdpkru, wrpkru (PKRU not in XSAVE)
constexpr std::uint32_t rdrand = 1u << 20;     ///< rdrand
constexpr std::uint32_t rdseed = 1u << 21;     ///< rdseed
constexpr std::uint32_t rdpid = 1u << 22;      ///< rdpid (IA32_TSC_AUX)
constexpr std::uint32_t clflushopt = 1u << 23; ///< clflushopt
constexpr std::uint32_t clwb = 1u << 24;       ///< clwb
} // namespace isa

/// The models. The values are the snapshot encoding (docs/SNAPSHOT_FORMAT.md), so V3, added
/// later, comes after Max; model_rank() orders them.
enum class CpuModel : std::uint8_t {
    Baseline = 0, ///< x86-64: SSE2, cx8, cmov, fxsr (the original AMD64 set)
    V2 = 1,       ///< x86-64-v2: + SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CX16, LAHF/SAHF
    Max = 2,      ///< everything the software CPU implements: v3 + RDTSCP, UMIP, PKU, RDRAND,
                  ///< RDSEED, RDPID, CLFLUSHOPT, CLWB
    V3 = 3, ///< x86-64-v3: v2 + AVX, AVX2, FMA, F16C, BMI1, BMI2, LZCNT, MOVBE, XSAVE (YMM state),
            ///< and SMEP and SMAP (not in the ISA level, but on every CPU of it)
};
/// The highest snapshot encoding of a model.
constexpr std::uint8_t last_cpu_model_value = 3;

/// Extensions of `model` (isa:: bits).
std::uint32_t model_features(CpuModel model);
/// "baseline", "x86-64-v2", "x86-64-v3", "max".
std::string_view cpu_model_name(CpuModel model);
/// The model called `name`; an error naming it and the known models otherwise.
Result<CpuModel> parse_cpu_model(std::string_view name);
/// Why this host cannot run `model` (its SIMD paths use the host's own instructions), or "".
std::string host_cannot_run(CpuModel model);
/// The highest model this host can run.
CpuModel default_cpu_model();

} // namespace vessel::soft
