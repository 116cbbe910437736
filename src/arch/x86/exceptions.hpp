// Exception vectors and page-fault error code bits (Intel SDM Vol. 3, 6.15 and 4.7).
#pragma once

#include <cstdint>

namespace vessel::x86 {

/// Exception vectors (Intel SDM Vol. 3, 6.15).
namespace vector {
constexpr std::uint8_t divide_error = 0;
constexpr std::uint8_t debug = 1;
constexpr std::uint8_t breakpoint = 3;
constexpr std::uint8_t overflow = 4;
constexpr std::uint8_t bound_range = 5;
constexpr std::uint8_t invalid_opcode = 6;
constexpr std::uint8_t device_not_available = 7;
constexpr std::uint8_t double_fault = 8;
constexpr std::uint8_t invalid_tss = 10;
constexpr std::uint8_t segment_not_present = 11;
constexpr std::uint8_t stack_fault = 12;
constexpr std::uint8_t general_protection = 13;
constexpr std::uint8_t page_fault = 14;
constexpr std::uint8_t x87_error = 16;
constexpr std::uint8_t alignment_check = 17;
constexpr std::uint8_t simd_error = 19;
} // namespace vector

/// A contributory exception: two of them in a row, or one during a page fault's delivery,
/// make a double fault (Intel SDM Vol. 3, 6.15, table 6-5).
constexpr bool contributory(std::uint8_t vector_number) {
    return vector_number == vector::divide_error ||
           (vector_number >= vector::invalid_tss && vector_number <= vector::general_protection);
}

/// Page-fault error code bits (Intel SDM Vol. 3, 4.7).
namespace page_fault_error {
constexpr std::uint32_t present = 1u << 0;  ///< protection violation, not a missing page
constexpr std::uint32_t write = 1u << 1;    ///< the access was a write
constexpr std::uint32_t user = 1u << 2;     ///< the access was made at CPL 3
constexpr std::uint32_t reserved = 1u << 3; ///< a reserved bit was set in a paging entry
constexpr std::uint32_t fetch = 1u << 4;    ///< the access was an instruction fetch
} // namespace page_fault_error

/// Error code for a fault about IDT entry `vector_number` (Intel SDM Vol. 3, 6.13): bit 1 IDT,
/// bit 0 EXT (the event was not a software interrupt).
constexpr std::uint32_t idt_error_code(std::uint8_t vector_number, bool external) {
    return vector_number * 8u + 2 + (external ? 1 : 0);
}

} // namespace vessel::x86
