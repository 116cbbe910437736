// KVM_SET_GUEST_DEBUG for a GuestDebug: breakpoints and watchpoints in the four debug registers
// (Intel SDM Vol. 3, 18.2), single steps through the trap flag KVM sets, and the DebugEvent a
// KVM_EXIT_DEBUG stands for.
#pragma once

#include <array>
#include <optional>

#include "base/kvm_uapi.hpp"
#include "base/result.hpp"
#include "engine/guest_debug.hpp"

namespace vessel::kvm {

/// What each debug register holds (for reading back which one fired).
using DebugRegisterSlots = std::array<std::optional<DebugPoint>, 4>;

/// The kvm_guest_debug for `debug`: software breakpoints take debug registers too (Vessel does
/// not patch int3 into guest memory), so at most four points of any kind; watched ranges must
/// be 1, 2, 4 or 8 bytes, aligned to their length (18.2.5). `block_interrupts`: the host has
/// KVM_GUESTDBG_BLOCKIRQ (KVM_CAP_SET_GUEST_DEBUG2).
Result<kvm_guest_debug> encode_guest_debug(const GuestDebug& debug, bool block_interrupts,
                                           DebugRegisterSlots& slots);
/// The event of a KVM_EXIT_DEBUG: a debug register's hit (DR6 B0-B3), else a single step (BS).
DebugEvent decode_debug_exit(const kvm_debug_exit_arch& exit, const DebugRegisterSlots& slots);

} // namespace vessel::kvm
