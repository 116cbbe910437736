// Kernels and handler templates of the VEX instructions: each kernel is the instruction itself run
// on the host's AVX unit (inline assembly with the guest's mnemonic, so operand order, NaN
// propagation and rounding are the hardware's), on 128-bit (%x operands) or 256-bit operands.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#include "engine/soft/avx_operands.hpp"
#include "engine/soft/sse_host_float.hpp"

// Only these kernels and handlers use AVX2, FMA and F16C: the CPU models that reach them need a
// host with them (cpu_model.cpp), while the rest of Vessel stays baseline x86-64.
#pragma GCC push_options
#pragma GCC target("avx,avx2,fma,f16c")

namespace vessel::soft::avx {

/// Kernels take and return host ymm registers; a 128-bit kernel uses only their low halves.
using Kernel1 = __m256i (*)(__m256i);
using Kernel2 = __m256i (*)(__m256i, __m256i);
using Kernel3 = __m256i (*)(__m256i, __m256i, __m256i);

inline __m256i load(const Vec& value) {
    __m256i result;
    std::memcpy(&result, value.q, 32);
    sse_host::pin(result);
    return result;
}
inline Vec store(__m256i value) {
    Vec result;
    std::memcpy(result.q, &value, 32);
    return result;
}

/// sse_host::under_guest_mxcsr compiled for AVX (a template takes the target of the place it is
/// defined in, and a 256-bit value crosses it here): runs compute() with the guest's rounding,
/// DAZ and FTZ and every exception masked, adds the flags it raised to the guest's MXCSR, and
/// raises #XM (#UD without CR4.OSXMMEXCPT) for an unmasked one before any result is written.
template <typename Compute> auto under_guest_mxcsr(CpuCore& cpu, Compute&& compute) {
    using namespace sse_host;
    const std::uint32_t host = _mm_getcsr();
    _mm_setcsr((cpu.fpu.mxcsr & ~mxcsr_flags) | mxcsr_masks);
    auto result = compute();
    pin(result);
    const std::uint32_t raised = _mm_getcsr() & mxcsr_flags;
    _mm_setcsr(host);
    cpu.fpu.mxcsr |= raised;
    if (raised & ~(cpu.fpu.mxcsr >> mxcsr_mask_shift))
        cpu.raise(cpu.cr4 & x86::cr4::osxmmexcpt ? x86::vector::simd_error
                                                 : x86::vector::invalid_opcode);
    return result;
}

/// Runs `compute` as integer code or, for `Float`, under the guest's MXCSR.
template <bool Float, typename Compute> __m256i run(CpuCore& cpu, Compute&& compute) {
    if constexpr (Float)
        return under_guest_mxcsr(cpu, compute);
    else
        return compute();
}

/// Bytes the destination register takes: a VEX.128 write zeroes bits 128-255.
inline unsigned destination_bytes(const DecodedOp& op) {
    return op.operands[0].size == 32 ? 32 : 16;
}

/// The feature of the instruction's length: F128 for VEX.128, F256 for VEX.256.
template <std::uint32_t F128, std::uint32_t F256>
bool check_length(CpuCore& cpu, const DecodedOp& op) {
    const bool wide = op.operand_size == 32;
    check_avx_state(cpu, wide ? F256 : F128);
    return wide;
}

/// dest = K(src) (operand 1).
template <std::uint32_t F128, std::uint32_t F256, Kernel1 K128, Kernel1 K256, bool Float>
void op_unary(CpuCore& cpu, const DecodedOp& op) {
    const bool wide = check_length<F128, F256>(cpu, op);
    const __m256i a = load(read_vector(cpu, op, 1));
    const __m256i result = run<Float>(cpu, [&] { return wide ? K256(a) : K128(a); });
    write_vector(cpu, op, 0, store(result), destination_bytes(op));
}

/// dest = K(src1, src2) (operands 1 and 2).
template <std::uint32_t F128, std::uint32_t F256, Kernel2 K128, Kernel2 K256, bool Float>
void op_binary(CpuCore& cpu, const DecodedOp& op) {
    const bool wide = check_length<F128, F256>(cpu, op);
    const __m256i a = load(read_vector(cpu, op, 1));
    const __m256i b = load(read_vector(cpu, op, 2));
    const __m256i result = run<Float>(cpu, [&] { return wide ? K256(a, b) : K128(a, b); });
    write_vector(cpu, op, 0, store(result), destination_bytes(op));
}

/// Shift by an immediate (dest = vvvv, source = r/m): the shift-by-xmm kernel with the count.
template <std::uint32_t F128, std::uint32_t F256, Kernel2 K128, Kernel2 K256>
void op_shift_immediate(CpuCore& cpu, const DecodedOp& op) {
    const bool wide = check_length<F128, F256>(cpu, op);
    const __m256i a = load(read_vector(cpu, op, 1));
    Vec count;
    count.q[0] = op.immediate & 0xff;
    const __m256i b = load(count);
    write_vector(cpu, op, 0, store(wide ? K256(a, b) : K128(a, b)), destination_bytes(op));
}

/// dest = K(dest, src1, src2): FMA (the kernel is the guest's form, which reads the destination).
template <std::uint32_t F, Kernel3 K128, Kernel3 K256>
void op_ternary(CpuCore& cpu, const DecodedOp& op) {
    const bool wide = check_length<F, F>(cpu, op);
    const __m256i d = load(read_vector(cpu, op, 0));
    const __m256i a = load(read_vector(cpu, op, 1));
    const __m256i b = load(read_vector(cpu, op, 2));
    const __m256i result = run<true>(cpu, [&] { return wide ? K256(d, a, b) : K128(d, a, b); });
    write_vector(cpu, op, 0, store(result), destination_bytes(op));
}

/// dest = K(src1, src2, src3) with src3 the register of the is4 byte (vblendvps, vpblendvb).
template <std::uint32_t F128, std::uint32_t F256, Kernel3 K128, Kernel3 K256>
void op_blend_variable(CpuCore& cpu, const DecodedOp& op) {
    const bool wide = check_length<F128, F256>(cpu, op);
    const __m256i a = load(read_vector(cpu, op, 1));
    const __m256i b = load(read_vector(cpu, op, 2));
    const __m256i mask = load(read_ymm(cpu, op.immediate & 15));
    write_vector(cpu, op, 0, store(wide ? K256(a, b, mask) : K128(a, b, mask)),
                 destination_bytes(op));
}

/// One kernel per immediate value (the host instruction takes it from the code). A struct, not
/// std::array: the vector type's attributes do not survive a template argument.
template <std::size_t N> struct KernelTable1 {
    Kernel1 entries[N];
    Kernel1 operator[](std::size_t i) const { return entries[i]; }
};
template <std::size_t N> struct KernelTable2 {
    Kernel2 entries[N];
    Kernel2 operator[](std::size_t i) const { return entries[i]; }
};

/// dest = table[imm % N](src) (operand 1).
template <std::uint32_t F128, std::uint32_t F256, std::size_t N, const KernelTable1<N>& T128,
          const KernelTable1<N>& T256, bool Float>
void op_unary_immediate(CpuCore& cpu, const DecodedOp& op) {
    const bool wide = check_length<F128, F256>(cpu, op);
    const __m256i a = load(read_vector(cpu, op, 1));
    const Kernel1 kernel = wide ? T256[op.immediate % N] : T128[op.immediate % N];
    const __m256i result = run<Float>(cpu, [&] { return kernel(a); });
    write_vector(cpu, op, 0, store(result), destination_bytes(op));
}

/// dest = table[imm % N](src1, src2).
template <std::uint32_t F128, std::uint32_t F256, std::size_t N, const KernelTable2<N>& T128,
          const KernelTable2<N>& T256, bool Float>
void op_binary_immediate(CpuCore& cpu, const DecodedOp& op) {
    const bool wide = check_length<F128, F256>(cpu, op);
    const __m256i a = load(read_vector(cpu, op, 1));
    const __m256i b = load(read_vector(cpu, op, 2));
    const Kernel2 kernel = wide ? T256[op.immediate % N] : T128[op.immediate % N];
    const __m256i result = run<Float>(cpu, [&] { return kernel(a, b); });
    write_vector(cpu, op, 0, store(result), destination_bytes(op));
}

} // namespace vessel::soft::avx

// ---- kernel generators: NAME_x (128-bit) and NAME_y (256-bit) running `MN` ----

/// dest = MN src1, src2 (AT&T order: src2, src1, dest).
#define VESSEL_AVX_BINARY(name, mn, x_operands, y_operands)                                        \
    __m256i name##_x(__m256i a, __m256i b) {                                                       \
        __m256i r;                                                                                 \
        asm volatile(mn " " x_operands : "=x"(r) : "x"(a), "x"(b));                                \
        return r;                                                                                  \
    }                                                                                              \
    __m256i name##_y(__m256i a, __m256i b) {                                                       \
        __m256i r;                                                                                 \
        asm volatile(mn " " y_operands : "=x"(r) : "x"(a), "x"(b));                                \
        return r;                                                                                  \
    }
#define VESSEL_AVX_UNARY(name, mn, x_operands, y_operands)                                         \
    __m256i name##_x(__m256i a) {                                                                  \
        __m256i r;                                                                                 \
        asm volatile(mn " " x_operands : "=x"(r) : "x"(a));                                        \
        return r;                                                                                  \
    }                                                                                              \
    __m256i name##_y(__m256i a) {                                                                  \
        __m256i r;                                                                                 \
        asm volatile(mn " " y_operands : "=x"(r) : "x"(a));                                        \
        return r;                                                                                  \
    }
/// dest = MN dest, src1, src2 (FMA: the destination is also a source).
#define VESSEL_AVX_TERNARY(name, mn, y_operands)                                                   \
    __m256i name##_x(__m256i d, __m256i a, __m256i b) {                                            \
        asm volatile(mn " %x2, %x1, %x0" : "+x"(d) : "x"(a), "x"(b));                              \
        return d;                                                                                  \
    }                                                                                              \
    __m256i name##_y(__m256i d, __m256i a, __m256i b) {                                            \
        asm volatile(mn " " y_operands : "+x"(d) : "x"(a), "x"(b));                                \
        return d;                                                                                  \
    }
/// dest = MN src1, src2, src3 (is4 blends).
#define VESSEL_AVX_BLEND(name, mn)                                                                 \
    __m256i name##_x(__m256i a, __m256i b, __m256i c) {                                            \
        __m256i r;                                                                                 \
        asm volatile(mn " %x3, %x2, %x1, %x0" : "=x"(r) : "x"(a), "x"(b), "x"(c));                 \
        return r;                                                                                  \
    }                                                                                              \
    __m256i name##_y(__m256i a, __m256i b, __m256i c) {                                            \
        __m256i r;                                                                                 \
        asm volatile(mn " %3, %2, %1, %0" : "=x"(r) : "x"(a), "x"(b), "x"(c));                     \
        return r;                                                                                  \
    }
/// name##_x_table / name##_y_table: N kernels `MN $I, src1, src2, dest`.
#define VESSEL_AVX_BINARY_IMMEDIATE(name, N, mn, x_operands, y_operands)                           \
    template <int I> __m256i name##_x_kernel(__m256i a, __m256i b) {                               \
        __m256i r;                                                                                 \
        asm volatile(mn " " x_operands : "=x"(r) : "x"(a), "x"(b), "i"(I));                        \
        return r;                                                                                  \
    }                                                                                              \
    template <int I> __m256i name##_y_kernel(__m256i a, __m256i b) {                               \
        __m256i r;                                                                                 \
        asm volatile(mn " " y_operands : "=x"(r) : "x"(a), "x"(b), "i"(I));                        \
        return r;                                                                                  \
    }                                                                                              \
    template <std::size_t... I>                                                                    \
    constexpr avx::KernelTable2<N> name##_x_of(std::index_sequence<I...>) {                        \
        return {{&name##_x_kernel<static_cast<int>(I)>...}};                                       \
    }                                                                                              \
    template <std::size_t... I>                                                                    \
    constexpr avx::KernelTable2<N> name##_y_of(std::index_sequence<I...>) {                        \
        return {{&name##_y_kernel<static_cast<int>(I)>...}};                                       \
    }                                                                                              \
    constexpr avx::KernelTable2<N> name##_x_table = name##_x_of(std::make_index_sequence<N>());    \
    constexpr avx::KernelTable2<N> name##_y_table = name##_y_of(std::make_index_sequence<N>());
#define VESSEL_AVX_UNARY_IMMEDIATE(name, N, mn, x_operands, y_operands)                            \
    template <int I> __m256i name##_x_kernel(__m256i a) {                                          \
        __m256i r;                                                                                 \
        asm volatile(mn " " x_operands : "=x"(r) : "x"(a), "i"(I));                                \
        return r;                                                                                  \
    }                                                                                              \
    template <int I> __m256i name##_y_kernel(__m256i a) {                                          \
        __m256i r;                                                                                 \
        asm volatile(mn " " y_operands : "=x"(r) : "x"(a), "i"(I));                                \
        return r;                                                                                  \
    }                                                                                              \
    template <std::size_t... I>                                                                    \
    constexpr avx::KernelTable1<N> name##_x_of(std::index_sequence<I...>) {                        \
        return {{&name##_x_kernel<static_cast<int>(I)>...}};                                       \
    }                                                                                              \
    template <std::size_t... I>                                                                    \
    constexpr avx::KernelTable1<N> name##_y_of(std::index_sequence<I...>) {                        \
        return {{&name##_y_kernel<static_cast<int>(I)>...}};                                       \
    }                                                                                              \
    constexpr avx::KernelTable1<N> name##_x_table = name##_x_of(std::make_index_sequence<N>());    \
    constexpr avx::KernelTable1<N> name##_y_table = name##_y_of(std::make_index_sequence<N>());

#pragma GCC pop_options
