// Boot GDT: descriptors encoded from the same SegmentRegister values the loaders put in CpuState.
#pragma once

#include <cstdint>
#include <span>

#include "arch/x86/cpu_state.hpp"
#include "base/result.hpp"
#include "memory/guest_memory.hpp"

namespace vessel::x86 {

/// Segment descriptor types (Intel SDM Vol. 3, 3.4.5.1 and 3.5).
constexpr std::uint8_t code_execute_read_accessed = 0xb;
constexpr std::uint8_t data_read_write_accessed = 0x3;
constexpr std::uint8_t tss_busy = 0xb; ///< 32-bit / 64-bit busy TSS (system segment)
constexpr std::uint8_t ldt_type = 0x2;

/// Encodes a segment's descriptor cache as an 8-byte descriptor (Intel SDM Vol. 3, 3.4.5).
/// A 64-bit system descriptor's upper half is just base >> 32 (3.5, figure 7-4).
std::uint64_t encode_segment_descriptor(const SegmentRegister& segment);

/// A busy TSS segment for TR: the CPU requires a valid TR on VM entry, and nothing uses it
/// before the guest loads its own.
SegmentRegister boot_tss_segment(std::uint16_t selector, std::uint64_t base);
/// An unusable LDT (selector 0).
SegmentRegister unusable_ldt_segment();

/// Writes the descriptors at `address` and returns the matching GDTR.
Result<DescriptorTable> write_gdt(GuestMemory& memory, std::uint64_t address,
                                  std::span<const std::uint64_t> descriptors);

} // namespace vessel::x86
