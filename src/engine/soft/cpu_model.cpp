// CpuModel: names, feature sets and the host check of the software CPU's models.
#include "engine/soft/cpu_model.hpp"

namespace vessel::soft {

namespace {

constexpr std::uint32_t v2_features =
    isa::sse3 | isa::ssse3 | isa::sse41 | isa::sse42 | isa::popcnt;
constexpr std::uint32_t max_features =
    v2_features | isa::lzcnt | isa::movbe | isa::bmi1 | isa::bmi2 | isa::rdtscp;

constexpr CpuModel all_models[] = {CpuModel::Max, CpuModel::V2, CpuModel::Baseline};

} // namespace

std::uint32_t model_features(CpuModel model) {
    switch (model) {
    case CpuModel::Baseline:
        return 0;
    case CpuModel::V2:
        return v2_features;
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
    case CpuModel::Max:
        return "max";
    }
    return "unknown";
}

Result<CpuModel> parse_cpu_model(std::string_view name) {
    for (CpuModel model : all_models)
        if (name == cpu_model_name(model)) return model;
    if (name == "x86-64") return CpuModel::Baseline;
    if (name == "x86-64-v3" || name == "x86-64-v4")
        return make_error("CPU model {}: the software CPU does not implement AVX yet (known "
                          "models: baseline, x86-64-v2, max)",
                          name);
    return make_error("unknown CPU model '{}' (known models: baseline, x86-64-v2, max)", name);
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
    return {};
}

CpuModel default_cpu_model() {
    for (CpuModel model : all_models)
        if (host_cannot_run(model).empty()) return model;
    return CpuModel::Baseline;
}

} // namespace vessel::soft
