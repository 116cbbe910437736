// Handler templates for the SSE3-SSE4.2 instructions, which run on the host's own SSE units: a
// handler checks the extension (#UD when the CPU model lacks it) and SSE availability, reads its
// operands, runs a kernel (one host instruction, under the guest's MXCSR for float arithmetic)
// and writes the result.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <utility>

#include "engine/soft/sse_host_float.hpp"
#include "engine/soft/sse_operands.hpp"

// Only these handlers and their kernels use SSE4.2: the CPU models that reach them need a host
// with it (cpu_model.cpp), while the rest of Vessel stays baseline x86-64.
#pragma GCC push_options
#pragma GCC target("sse3,ssse3,sse4.1,sse4.2,popcnt")

namespace vessel::soft::sse_extension {

using Kernel1 = __m128i (*)(__m128i);
using Kernel2 = __m128i (*)(__m128i, __m128i);
using Kernel3 = __m128i (*)(__m128i, __m128i, __m128i);

/// How the source operand (operand 1) is read.
enum class Source : std::uint8_t {
    Aligned,   ///< xmm or 16-byte memory, #GP unless aligned (legacy SSE rule)
    Unaligned, ///< xmm or 16-byte memory at any address (lddqu, pcmpXstrX)
    Scalar,    ///< xmm or memory of the operand's own size (pmovsx, roundss, movddup)
};

inline Xmm read_kernel_source(CpuCore& cpu, const DecodedOp& op, Source source) {
    const Operand& operand = op.operands[1];
    if (operand.kind != OperandKind::Memory) return read_source(cpu, op, 1, 16);
    switch (source) {
    case Source::Aligned:
        return read_source(cpu, op, 1, 16, true);
    case Source::Unaligned:
        return read_source(cpu, op, 1, 16);
    default:
        return read_source(cpu, op, 1, operand.size);
    }
}

/// Checks `feature` (#UD), then SSE (#UD, #NM).
inline void check_extension(CpuCore& cpu, std::uint32_t feature) {
    cpu.require_feature(feature);
    check_sse(cpu);
}

/// Runs `compute` as integer code or, for `Float`, under the guest's MXCSR.
template <bool Float, typename Compute> __m128i run(CpuCore& cpu, Compute&& compute) {
    if constexpr (Float)
        return sse_host::under_guest_mxcsr(cpu, compute);
    else
        return compute();
}

/// xmm1 = K(xmm2/m): the destination is not read (pabs, pmovsx, movshdup, phminposuw).
template <std::uint32_t Feature, Kernel1 K, Source S = Source::Aligned, bool Float = false>
void op_unary(CpuCore& cpu, const DecodedOp& op) {
    check_extension(cpu, Feature);
    const Xmm b = read_kernel_source(cpu, op, S);
    const __m128i result = run<Float>(cpu, [&] { return K(sse_host::load(b.q)); });
    sse_host::store(xmm(cpu, op.operands[0].index).q, result);
}

/// xmm1 = K(xmm1, xmm2/m).
template <std::uint32_t Feature, Kernel2 K, Source S = Source::Aligned, bool Float = false>
void op_binary(CpuCore& cpu, const DecodedOp& op) {
    check_extension(cpu, Feature);
    const Xmm b = read_kernel_source(cpu, op, S);
    Xmm& a = xmm(cpu, op.operands[0].index);
    const __m128i result =
        run<Float>(cpu, [&] { return K(sse_host::load(a.q), sse_host::load(b.q)); });
    sse_host::store(a.q, result);
}

/// xmm1 = K(xmm1, xmm2/m, xmm0): the variable blends.
template <std::uint32_t Feature, Kernel3 K>
void op_blend_variable(CpuCore& cpu, const DecodedOp& op) {
    check_extension(cpu, Feature);
    const Xmm b = read_kernel_source(cpu, op, Source::Aligned);
    Xmm& a = xmm(cpu, op.operands[0].index);
    const __m128i result =
        K(sse_host::load(a.q), sse_host::load(b.q), sse_host::load(xmm(cpu, 0).q));
    sse_host::store(a.q, result);
}

/// A kernel per immediate value: the host instructions take their immediate from the code.
/// (A struct, not std::array: the vector type's attributes do not survive a template argument.)
template <std::size_t N> struct KernelTable {
    Kernel2 entries[N];
    Kernel2 operator[](std::size_t i) const { return entries[i]; }
};

/// xmm1 = table[imm8 % N](xmm1, xmm2/m).
template <std::uint32_t Feature, std::size_t N, const KernelTable<N>& Table,
          Source S = Source::Aligned, bool Float = false>
void op_binary_immediate(CpuCore& cpu, const DecodedOp& op) {
    check_extension(cpu, Feature);
    const Xmm b = read_kernel_source(cpu, op, S);
    Xmm& a = xmm(cpu, op.operands[0].index);
    const Kernel2 kernel = Table[op.immediate % N];
    const __m128i result =
        run<Float>(cpu, [&] { return kernel(sse_host::load(a.q), sse_host::load(b.q)); });
    sse_host::store(a.q, result);
}

} // namespace vessel::soft::sse_extension

/// Defines `name##_table`: N kernels, `name##_kernel<I>` returning `expression` (of a, b and I).
#define VESSEL_IMMEDIATE_KERNELS(name, N, expression)                                              \
    template <int I> __m128i name##_kernel(__m128i a, __m128i b) {                                 \
        (void)a;                                                                                   \
        return expression;                                                                         \
    }                                                                                              \
    template <std::size_t... I>                                                                    \
    constexpr sse_extension::KernelTable<N> name##_table_of(std::index_sequence<I...>) {           \
        return {{&name##_kernel<static_cast<int>(I)>...}};                                         \
    }                                                                                              \
    constexpr sse_extension::KernelTable<N> name##_table =                                         \
        name##_table_of(std::make_index_sequence<N>());

#pragma GCC pop_options
