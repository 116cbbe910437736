// CpuModel: names, feature sets and the host check of the software CPU's models.
#include "engine/soft/cpu_model.hpp"

namespace vessel::soft {

namespace {

constexpr std::uint32_t v2_features =
    isa::sse3 | isa::ssse3 | isa::sse41 | isa::sse42 | isa::popcnt;
/// Executed on the host's AVX2, FMA and F16C units (ops_avx*.cpp).
constexpr std::uint32_t avx_features = isa::avx | isa::avx2 | isa::fma | isa::f16c;
/// SMEP and SMAP are no part of the x86-64-v3 ISA level, but every CPU of that level has them
/// (Intel from Broadwell, Haswell SMEP only; AMD from Zen), and Linux uses them where offered:
/// the model of such a CPU.
constexpr std::uint32_t supervisor_protection_features = isa::smep | isa::smap;
constexpr std::uint32_t v3_features = v2_features | isa::lzcnt | isa::movbe | isa::bmi1 |
                                      isa::bmi2 | isa::xsave | avx_features |
                                      supervisor_protection_features;
/// The supervisor protections and system instructions the v3 model does not include.
constexpr std::uint32_t beyond_v3_features = isa::rdtscp | isa::umip | isa::pku | isa::rdrand |
                                             isa::rdseed | isa::rdpid | isa::clflushopt | isa::clwb;
constexpr std::uint32_t max_features = v3_features | beyond_v3_features;

/// Highest first: default_cpu_model() takes the first one the host can run.
constexpr CpuModel all_models[] = {CpuModel::Max, CpuModel::V3, CpuModel::V2, CpuModel::Baseline};

/// CPUID.1:ECX.F16C (bit 29); __builtin_cpu_supports has no name for it. AVX being usable
/// (checked by the caller) already says the OS saves YMM state.
bool host_has_f16c() {
    unsigned eax = 1, ebx = 0, ecx = 0, edx = 0;
    asm volatile("cpuid" : "+a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "c"(0));
    return (ecx >> 29) & 1;
}

} // namespace

std::uint32_t model_features(CpuModel model) {
    switch (model) {
    case CpuModel::Baseline:
        return 0;
    case CpuModel::V2:
        return v2_features;
    case CpuModel::V3:
        return v3_features;
    case CpuModel::Max:
        return max_features;
    }
    return 0;
}

std::string_view cpu_model_name(CpuModel model) {
    switch (model) {
    case CpuModel::Baseline:
        return "baseline";
    case CpuModel::V2:
        return "x86-64-v2";
    case CpuModel::V3:
        return "x86-64-v3";
    case CpuModel::Max:
        return "max";
    }
    return "unknown";
}

Result<CpuModel> parse_cpu_model(std::string_view name) {
    for (CpuModel model : all_models)
        if (name == cpu_model_name(model)) return model;
    if (name == "x86-64") return CpuModel::Baseline;
    if (name == "x86-64-v4")
        return make_error("CPU model {}: the software CPU does not implement AVX-512 (known "
                          "models: baseline, x86-64-v2, x86-64-v3, max)",
                          name);
    return make_error("unknown CPU model '{}' (known models: baseline, x86-64-v2, x86-64-v3, max)",
                      name);
}

std::string host_cannot_run(CpuModel model) {
    // SSE3 to SSE4.2 run on the host's own units (ops_sse3.cpp, ops_sse4.cpp); the rest is
    // computed in portable code.
    if (model_features(model) & v2_features) {
        __builtin_cpu_init();
        if (!__builtin_cpu_supports("sse3") || !__builtin_cpu_supports("ssse3") ||
            !__builtin_cpu_supports("sse4.1") || !__builtin_cpu_supports("sse4.2") ||
            !__builtin_cpu_supports("popcnt"))
            return std::string{"CPU model "} + std::string{cpu_model_name(model)} +
                   " needs a host CPU with SSE3, SSSE3, SSE4.1, SSE4.2 and POPCNT";
    }
    if (model_features(model) & avx_features) {
        __builtin_cpu_init();
        if (!__builtin_cpu_supports("avx") || !__builtin_cpu_supports("avx2") ||
            !__builtin_cpu_supports("fma") || !host_has_f16c())
            return std::string{"CPU model "} + std::string{cpu_model_name(model)} +
                   " needs a host CPU with AVX, AVX2, FMA and F16C (and an OS that enabled "
                   "their state)";
    }
    return {};
}

CpuModel default_cpu_model() {
    for (CpuModel model : all_models)
        if (host_cannot_run(model).empty()) return model;
    return CpuModel::Baseline;
}

} // namespace vessel::soft
