// CpuState: the architectural x86-64 register state shared by loaders, engines and snapshots.
#pragma once

#include <array>
#include <cstdint>

namespace vessel::x86 {

/// General-purpose register numbers in instruction-encoding order (Intel SDM Vol. 2, 2.1.5).
enum Gpr : int { rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15 };

/// A segment register with its hidden descriptor cache (Intel SDM Vol. 3, 3.4.3).
struct SegmentRegister {
    std::uint64_t base{0};
    std::uint32_t limit{0xffff}; ///< byte granular, already scaled by G
    std::uint16_t selector{0};
    std::uint8_t type{3}; ///< descriptor type field (bits 8-11 of the high dword)
    bool system{false};   ///< S clear: system segment (TSS, LDT)
    std::uint8_t dpl{0};
    bool present{true};
    bool long_mode{false};   ///< L: 64-bit code segment
    bool default_big{false}; ///< D/B: 32-bit operand size / stack
    bool granularity{false};
    bool unusable{false};
};

/// GDTR/IDTR.
struct DescriptorTable {
    std::uint64_t base{0};
    std::uint16_t limit{0xffff};
};

/// Control register and EFER bits used across Vessel (Intel SDM Vol. 3, 2.5 and 2.2.1).
namespace cr0 {
constexpr std::uint64_t pe = 1u << 0;  ///< protection enable
constexpr std::uint64_t mp = 1u << 1;  ///< monitor coprocessor
constexpr std::uint64_t em = 1u << 2;  ///< x87 emulation
constexpr std::uint64_t ts = 1u << 3;  ///< task switched
constexpr std::uint64_t et = 1u << 4;  ///< extension type (fixed 1)
constexpr std::uint64_t ne = 1u << 5;  ///< native x87 errors
constexpr std::uint64_t wp = 1u << 16; ///< write protect in ring 0
constexpr std::uint64_t am = 1u << 18; ///< alignment mask
constexpr std::uint64_t nw = 1u << 29; ///< not write-through
constexpr std::uint64_t cd = 1u << 30; ///< cache disable
constexpr std::uint64_t pg = 1u << 31; ///< paging
} // namespace cr0
namespace cr4 {
constexpr std::uint64_t vme = 1u << 0;         ///< virtual-8086 mode extensions
constexpr std::uint64_t pvi = 1u << 1;         ///< protected-mode virtual interrupts
constexpr std::uint64_t tsd = 1u << 2;         ///< rdtsc only at CPL 0
constexpr std::uint64_t de = 1u << 3;          ///< debugging extensions
constexpr std::uint64_t pse = 1u << 4;         ///< 4 MiB pages in 32-bit paging
constexpr std::uint64_t pae = 1u << 5;         ///< physical address extension
constexpr std::uint64_t mce = 1u << 6;         ///< machine-check enable
constexpr std::uint64_t pge = 1u << 7;         ///< global pages
constexpr std::uint64_t pce = 1u << 8;         ///< rdpmc at any CPL
constexpr std::uint64_t osfxsr = 1u << 9;      ///< FXSAVE/SSE enabled by the OS
constexpr std::uint64_t osxmmexcpt = 1u << 10; ///< unmasked SIMD FP exceptions
} // namespace cr4
namespace efer {
constexpr std::uint64_t sce = 1u << 0;  ///< SYSCALL enable
constexpr std::uint64_t lme = 1u << 8;  ///< long mode enable
constexpr std::uint64_t lma = 1u << 10; ///< long mode active
constexpr std::uint64_t nxe = 1u << 11; ///< no-execute enable
} // namespace efer
namespace rflags {
constexpr std::uint64_t cf = 1u << 0;
constexpr std::uint64_t fixed1 = 1u << 1; ///< reserved, always 1
constexpr std::uint64_t pf = 1u << 2;
constexpr std::uint64_t af = 1u << 4;
constexpr std::uint64_t zf = 1u << 6;
constexpr std::uint64_t sf = 1u << 7;
constexpr std::uint64_t tf = 1u << 8;
constexpr std::uint64_t if_ = 1u << 9;
constexpr std::uint64_t df = 1u << 10;
constexpr std::uint64_t of = 1u << 11;
constexpr std::uint64_t iopl = 3u << 12;
constexpr std::uint64_t nt = 1u << 14;
constexpr std::uint64_t rf = 1u << 16;
constexpr std::uint64_t vm = 1u << 17;
constexpr std::uint64_t ac = 1u << 18;
constexpr std::uint64_t id = 1u << 21;
} // namespace rflags

/// Full register state of one vCPU as loaders set it up and engines report it.
struct CpuState {
    std::array<std::uint64_t, 16> gpr{}; ///< indexed by Gpr
    std::uint64_t rip{0xfff0};
    std::uint64_t rflags{rflags::fixed1};
    SegmentRegister cs, ds, es, fs, gs, ss, tr, ldt;
    DescriptorTable gdt, idt;
    std::uint64_t cr0{cr0::et};
    std::uint64_t cr2{0};
    std::uint64_t cr3{0};
    std::uint64_t cr4{0};
    std::uint64_t cr8{0};
    std::uint64_t efer{0};
};

/// A flat 4 GiB segment for protected-mode entry (type: 0xb code exec/read accessed, 0x3 data).
inline SegmentRegister flat_segment(std::uint16_t selector, std::uint8_t type, bool long_mode) {
    SegmentRegister segment;
    segment.base = 0;
    segment.limit = 0xffff'ffff;
    segment.selector = selector;
    segment.type = type;
    segment.system = false;
    segment.dpl = 0;
    segment.present = true;
    segment.long_mode = long_mode;
    segment.default_big = !long_mode;
    segment.granularity = true;
    return segment;
}

} // namespace vessel::x86
