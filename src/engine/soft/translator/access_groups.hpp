// AccessGroups: memory accesses of one block that go through the same base register (a run of
// pushes, a function's stack slots, the fields of one structure) and share one JIT TLB check.
#pragma once

#include "engine/soft/translator/block_analysis.hpp"
#include "engine/soft/translator/loop_region.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace vessel::soft {

/// Accesses through one guest base register, checked once: the leader's check looks up the
/// whole byte range [low, low + span) (offsets from the base register's value at the leader) in
/// the JIT TLB, and every member then adds its offset to the host address of that value. The
/// range lies in one page, so a member can neither cross into another page nor leave guest RAM.
struct AccessGroup {
    static constexpr unsigned slots = 4;      ///< JitContext::group_host entries
    static constexpr unsigned max_span = 128; ///< bytes one check may cover
    int base{-1};                             ///< guest GPR number
    /// Members addressing [base + index * scale + displacement] with one index register
    /// (guest GPR, -1: none): the group's range is from base + index * scale.
    int index{-1};
    unsigned scale{0};
    std::size_t leader{0}; ///< instruction index of the first member (the check precedes it)
    std::size_t last{0};   ///< instruction index of the last member
    /// Where the group's fallback (its instructions again with a lookup each) joins the main
    /// path: after `last`, or after the end of a group it overlaps whose check it passes over.
    std::size_t fallback_last{0};
    std::int32_t low{0};   ///< lowest offset any member touches
    std::uint32_t span{0}; ///< bytes from `low` the members touch
    bool write{false};     ///< a member writes (the check asks for a writable page)
    unsigned slot{0};      ///< JitContext::group_host index holding host(base at leader)
    /// In a loop region whose instructions never change `base`: checked once before the loop
    /// (Emitter::region), its members served on every pass. Then `leader` is 0 and `last` the
    /// region's last instruction (the group spans the whole loop).
    bool hoisted{false};
    /// A hoisted table lookup (plan_access_groups): its one member reads through a base and a
    /// bounded index; the check covers the first and the last byte's pages, pinned in `slot`
    /// and `second_slot`.
    bool indexed{false};
    unsigned second_slot{0};
};

/// How instruction k's memory access belongs to a group (group < 0: it does not).
struct AccessRole {
    int group{-1};
    int base{-1};                 ///< the guest GPR the access goes through
    std::int64_t displacement{0}; ///< its displacement from that register at instruction k
    std::int32_t offset{0};       ///< its offset from the register's value at the group's leader
    unsigned size{0};
    bool write{false};
    int index{-1};     ///< an indexed group's member: its index register (guest GPR)
    unsigned scale{0}; ///< and that register's scale
};

struct AccessGroupPlan {
    std::vector<AccessGroup> groups;
    std::vector<AccessRole> roles; ///< one per instruction of the block
};

/// A memory access the emitter may take from a group: a push or pop of a 64-bit GPR or
/// immediate, pushfq (rsp-relative, 8 bytes), a near ret's return address (which ends the run:
/// a function's epilogue of pops and its ret share one check), or an instruction with exactly
/// one memory operand that has a base register, 64-bit addressing and no fs/gs segment, and no
/// index or one that lives in a host register as its base does (a[i] read, then written).
struct MemberAccess {
    int base{-1};
    std::int64_t displacement{0};
    unsigned size{0};
    bool write{false};
    int index{-1}; ///< an index register (both it and the base in host registers), or -1
    unsigned scale{0};
};

/// The access instruction `guest` makes that a group could serve, if any.
bool member_access(const GuestInstruction& guest, MemberAccess& out);

/// Plans the block's groups: for every base register (and base and index pair), maximal runs
/// of member accesses while the register's value stays known relative to the run's first
/// access (a pair's: while neither register changes) (rsp moves by push, pop,
/// add/sub of an immediate and lea; any other write ends the run), whose byte range fits in
/// max_span; a run needs two members. Runs are kept while fewer than `slots` kept before them
/// are live at their leader. Fills `plan` (reused from block to block).
/// In a loop region (`links`: its branches that stay in it, loop_region.hpp, which are no
/// barrier) with no other barrier, a group whose base register no instruction changes is
/// hoisted (AccessGroup::hoisted). So is a table lookup there (AccessGroup::indexed): a read
/// through an invariant base register and an index register that the same pass bounded just
/// before it (movzx from a byte or a word, and with a non-negative immediate), both in host
/// registers: every address it may take lies in [base + displacement, + bound * scale + size),
/// at most a page.
void plan_access_groups(std::span<const GuestInstruction> instructions, AccessGroupPlan& plan,
                        std::span<const RegionLink> links = {});

} // namespace vessel::soft
