// XSAVE architecture handlers: xgetbv, xsetbv, xsave, xsaveopt and xrstor in the standard format,
// for the x87, SSE and YMM state components (Intel SDM Vol. 1, chapter 13; Vol. 2, XSAVE).
#include <cstring>

#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"
#include "engine/soft/x87_stack.hpp"
#include "engine/soft/xsave_state.hpp"

namespace vessel::soft {

namespace {

constexpr std::uint32_t mxcsr_writable = 0xffff; ///< the MXCSR_MASK saved in the legacy region
constexpr std::uint32_t mxcsr_initial = 0x1f80;
constexpr std::uint16_t x87_initial_control = 0x37f;
constexpr unsigned area_size = xsave::area_size(xsave::supported_with_avx);

/// #UD unless the model has XSAVE and CR4.OSXSAVE is set (Intel SDM Vol. 2, XGETBV/XSAVE).
void check_osxsave(CpuCore& cpu) {
    cpu.require_feature(isa::xsave);
    if (!(cpu.cr4 & xsave::cr4_osxsave)) cpu.raise(x86::vector::invalid_opcode);
}

/// The components an xsave/xrstor acts on: EDX:EAX & XCR0 (the requested-feature bitmap).
std::uint64_t requested_features(const CpuCore& cpu) {
    const std::uint64_t mask = (cpu.gpr[x86::rdx] << 32) | (cpu.gpr[x86::rax] & 0xffff'ffff);
    return mask & cpu.xcr0;
}

/// Number of XMM registers the legacy region holds in this mode.
unsigned xmm_count(const CpuCore& cpu) {
    return cpu.mode == CpuMode::Long64 ? 16 : 8;
}

/// The 64-byte aligned area of the instruction, after the checks every form makes.
std::uint64_t area_address(CpuCore& cpu, const DecodedOp& op) {
    check_osxsave(cpu);
    if (cpu.cr0 & x86::cr0::ts) cpu.raise(x86::vector::device_not_available);
    const std::uint64_t address = cpu.linear_address(op);
    if (address & 63) cpu.raise(x86::vector::general_protection, 0);
    return address;
}

void op_xgetbv(CpuCore& cpu, const DecodedOp&) {
    check_osxsave(cpu);
    if ((cpu.gpr[x86::rcx] & 0xffff'ffff) != 0) cpu.raise(x86::vector::general_protection, 0);
    cpu.set_reg<4>(x86::rax, cpu.xcr0);
    cpu.set_reg<4>(x86::rdx, cpu.xcr0 >> 32);
}

/// XSETBV: only XCR0; x87 always enabled, YMM only with SSE (Intel SDM Vol. 1, 13.3).
void op_xsetbv(CpuCore& cpu, const DecodedOp&) {
    check_osxsave(cpu);
    require_cpl0(cpu);
    const std::uint64_t value = (cpu.gpr[x86::rdx] << 32) | (cpu.gpr[x86::rax] & 0xffff'ffff);
    const std::uint64_t supported =
        cpu.has_feature(isa::avx) ? xsave::supported_with_avx : (xsave::x87 | xsave::sse);
    if ((cpu.gpr[x86::rcx] & 0xffff'ffff) != 0 || (value & ~supported) || !(value & xsave::x87) ||
        ((value & xsave::ymm) && !(value & xsave::sse)))
        cpu.raise(x86::vector::general_protection, 0);
    cpu.xcr0 = value;
    cpu.exit_block = true;
}

/// XSAVE and XSAVEOPT (which may skip unmodified components; saving them all is one of its
/// allowed outcomes). Every requested component counts as in use: XSTATE_BV gets its bit.
void op_xsave(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t address = area_address(cpu, op);
    const std::uint64_t features = requested_features(cpu);
    std::uint8_t area[area_size];
    const unsigned size = xsave::area_size(cpu.xcr0);
    // The bytes of components not saved stay as they were in memory.
    cpu.read_block(address, area, size);
    if (features & xsave::x87) {
        const std::uint16_t status = x87::status_word(cpu);
        std::memset(area, 0, 24);
        std::memcpy(area + 0, &cpu.fpu.control, 2);
        std::memcpy(area + 2, &status, 2);
        area[4] = cpu.fpu.tag_valid;
        for (unsigned i = 0; i < 8; ++i) {
            std::memset(area + 32 + 16 * i, 0, 16);
            std::memcpy(area + 32 + 16 * i, &x87::st(cpu, i), 10);
        }
    }
    if (features & (xsave::sse | xsave::ymm)) {
        std::memcpy(area + 24, &cpu.fpu.mxcsr, 4);
        std::memcpy(area + 28, &mxcsr_writable, 4);
    }
    if (features & xsave::sse)
        for (unsigned i = 0; i < xmm_count(cpu); ++i)
            std::memcpy(area + 160 + 16 * i, cpu.fpu.xmm[i].q, 16);
    if (features & xsave::ymm)
        for (unsigned i = 0; i < xmm_count(cpu); ++i)
            std::memcpy(area + xsave::ymm_offset + 16 * i, cpu.fpu.ymm_upper[i].q, 16);
    std::uint64_t state_bv;
    std::memcpy(&state_bv, area + xsave::header_offset, 8);
    state_bv = (state_bv & ~features) | features;
    std::memcpy(area + xsave::header_offset, &state_bv, 8);
    cpu.write_block(address, area, size);
}

/// XRSTOR, standard form: a component requested and present in XSTATE_BV is loaded, one requested
/// and absent is put in its initial state (Intel SDM Vol. 1, 13.8.1).
void op_xrstor(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t address = area_address(cpu, op);
    const std::uint64_t features = requested_features(cpu);
    std::uint8_t area[area_size];
    cpu.read_block(address, area, xsave::area_size(cpu.xcr0));
    std::uint64_t header[8];
    std::memcpy(header, area + xsave::header_offset, sizeof header);
    const std::uint64_t state_bv = header[0];
    // XCOMP_BV (header[1]) bit 63 asks for the compacted form, which needs XSAVEC; the rest of
    // the header is reserved and must be zero.
    bool reserved_clear = true;
    for (unsigned i = 1; i < 8; ++i)
        reserved_clear = reserved_clear && header[i] == 0;
    if ((state_bv & ~cpu.xcr0) || !reserved_clear) cpu.raise(x86::vector::general_protection, 0);
    std::uint32_t mxcsr = mxcsr_initial;
    if (features & (xsave::sse | xsave::ymm)) {
        std::memcpy(&mxcsr, area + 24, 4);
        if (mxcsr & ~mxcsr_writable) cpu.raise(x86::vector::general_protection, 0);
    }
    if (features & xsave::x87) {
        if (state_bv & xsave::x87) {
            std::uint16_t status;
            std::memcpy(&cpu.fpu.control, area + 0, 2);
            std::memcpy(&status, area + 2, 2);
            cpu.fpu.top = (status >> x87::status_top_shift) & 7;
            cpu.fpu.status = status & ~(7u << x87::status_top_shift);
            cpu.fpu.tag_valid = area[4];
            for (unsigned i = 0; i < 8; ++i) {
                long double value = 0;
                std::memcpy(&value, area + 32 + 16 * i, 10);
                x87::st(cpu, i) = value;
            }
        } else {
            cpu.fpu.control = x87_initial_control;
            cpu.fpu.status = 0;
            cpu.fpu.top = 0;
            cpu.fpu.tag_valid = 0;
            for (long double& value : cpu.fpu.st)
                value = 0;
        }
    }
    if (features & (xsave::sse | xsave::ymm)) cpu.fpu.mxcsr = mxcsr;
    if (features & xsave::sse)
        for (unsigned i = 0; i < xmm_count(cpu); ++i) {
            if (state_bv & xsave::sse)
                std::memcpy(cpu.fpu.xmm[i].q, area + 160 + 16 * i, 16);
            else
                cpu.fpu.xmm[i] = Xmm{};
        }
    if (features & xsave::ymm)
        for (unsigned i = 0; i < xmm_count(cpu); ++i) {
            if (state_bv & xsave::ymm)
                std::memcpy(cpu.fpu.ymm_upper[i].q, area + xsave::ymm_offset + 16 * i, 16);
            else
                cpu.fpu.ymm_upper[i] = Xmm{};
        }
}

} // namespace

OpHandler select_xsave_handler(const ZydisDecodedInstruction& instruction, DecodedOp&) {
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_XGETBV:
        return &op_xgetbv;
    case ZYDIS_MNEMONIC_XSETBV:
        return &op_xsetbv;
    case ZYDIS_MNEMONIC_XSAVE:
    case ZYDIS_MNEMONIC_XSAVE64:
    case ZYDIS_MNEMONIC_XSAVEOPT:
    case ZYDIS_MNEMONIC_XSAVEOPT64:
        return &op_xsave;
    case ZYDIS_MNEMONIC_XRSTOR:
    case ZYDIS_MNEMONIC_XRSTOR64:
        return &op_xrstor;
    default:
        return nullptr;
    }
}

} // namespace vessel::soft
