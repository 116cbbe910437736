// Segment and gate descriptors, selectors and TSS fields (Intel SDM Vol. 3, 3.4-3.5, 6.11, 7.2).
#pragma once

#include <cstdint>

#include "arch/x86/cpu_state.hpp"

namespace vessel::x86 {

/// Segment selector fields (Intel SDM Vol. 3, 3.4.2).
namespace selector {
constexpr std::uint16_t rpl_mask = 0x3;                            ///< requested privilege level
constexpr std::uint16_t table_local = 0x4;                         ///< TI: the LDT, not the GDT
constexpr std::uint16_t index_mask = ~std::uint16_t{0x7} & 0xffff; ///< byte offset in the table
/// The selector without its RPL: what a fault's error code names.
constexpr std::uint32_t error_code(std::uint16_t value) {
    return value & ~std::uint32_t{rpl_mask};
}
/// A null selector (index 0 in the GDT), whatever its RPL.
constexpr bool is_null(std::uint16_t value) {
    return error_code(value) == 0;
}
} // namespace selector

/// Type field bits of a code or data segment descriptor (S set; Intel SDM Vol. 3, 3.4.5.1).
namespace segment_type {
constexpr std::uint8_t accessed = 1u << 0;
constexpr std::uint8_t readable_or_writable = 1u << 1; ///< code: readable; data: writable
constexpr std::uint8_t conforming = 1u << 2;           ///< code only (data: expand-down)
constexpr std::uint8_t code = 1u << 3;
} // namespace segment_type

/// Type field of system descriptors (S clear; Intel SDM Vol. 3, 3.5, table 3-2).
namespace system_type {
constexpr std::uint8_t tss16_available = 0x1;
constexpr std::uint8_t ldt = 0x2;
constexpr std::uint8_t tss_available = 0x9;
constexpr std::uint8_t tss_busy = 0xb;
constexpr std::uint8_t tss_busy_bit = 0x2; ///< set in an available TSS's type by ltr
constexpr std::uint8_t task_gate = 0x5;
constexpr std::uint8_t interrupt_gate16 = 0x6;
constexpr std::uint8_t trap_gate16 = 0x7;
constexpr std::uint8_t interrupt_gate = 0xe; ///< 32-bit, or 64-bit in long mode
constexpr std::uint8_t trap_gate = 0xf;      ///< 32-bit, or 64-bit in long mode
} // namespace system_type

/// A system descriptor that takes 16 bytes in long mode (LDT and TSS: Intel SDM Vol. 3, 7.2.3).
constexpr bool is_wide_system_descriptor(std::uint8_t type) {
    return type == system_type::ldt ||
           (type & system_type::tss_available) == system_type::tss_available;
}

/// The 8-byte descriptor at the start of a GDT/LDT entry, decoded into a descriptor cache
/// (base bits 0-31 only: the upper half of a 16-byte system descriptor is read separately).
SegmentRegister decode_segment_descriptor(std::uint64_t raw, std::uint16_t selector_value);

/// An IDT gate (Intel SDM Vol. 3, 6.11 and 6.14.1): `low` is its first 8 bytes, `high` the
/// second 8 in long mode (0 otherwise).
struct GateDescriptor {
    std::uint8_t type; ///< system_type::*gate*
    std::uint8_t dpl;  ///< the CPL a software interrupt needs at most
    bool present;
    std::uint16_t selector; ///< the handler's code segment
    std::uint64_t offset;   ///< the handler's address in it
    std::uint8_t ist;       ///< interrupt stack table slot (long mode; 0: none)
};
GateDescriptor decode_gate_descriptor(std::uint64_t low, std::uint64_t high, bool long_mode);

/// Task-state segment fields the CPU reads on a privilege change (Intel SDM Vol. 3, 7.2.1 and 7.7).
namespace tss {
/// 32-bit TSS: ESPn at 4 + 8n, SSn at 8 + 8n.
constexpr std::uint64_t esp_offset(unsigned privilege) {
    return 4 + 8 * privilege;
}
constexpr std::uint64_t ss_offset(unsigned privilege) {
    return 8 + 8 * privilege;
}
/// 64-bit TSS: RSPn at 4 + 8n, ISTn (n from 1) at 0x24 + 8 (n - 1).
constexpr std::uint64_t rsp_offset(unsigned privilege) {
    return 4 + 8 * privilege;
}
constexpr std::uint64_t ist_offset(unsigned slot) {
    return 0x24 + 8 * (slot - 1);
}
/// 32-bit and 64-bit TSS: the I/O permission bitmap's offset, a 16-bit field at 0x66.
constexpr std::uint64_t io_map_base_offset = 0x66;
} // namespace tss

} // namespace vessel::x86
