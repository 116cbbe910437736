// SequenceGenerator: the VEX instructions between vectors and GPRs or scalars (vmovd/vmovq,
// vpinsr*, vpextr*, vextractps, vpmovmskb/vmovmskps/pd, vcomis/vucomis, the GPR conversions),
// the masked moves (vpmaskmov*, vmaskmov*: loads and stores, also across the end of the data
// buffer, where a masked-off element must not fault) and the AVX2 gathers (VSIB addressing).
#include "sequence_generator.hpp"

namespace vessel::difftest {

namespace {

constexpr unsigned data_base_register = 15; ///< holds layout::data_base_register_value

/// A VEX form with a GPR or scalar operand: the ModRM fields' roles differ per instruction.
struct AvxScalarForm {
    std::uint8_t map, pp, opcode;
    int w;            ///< VEX.W: 0, 1, or -1 (either: the GPR width where it matters)
    unsigned lengths; ///< 1: VEX.128 only (VEX.L = 0), 3: either
    enum Role : std::uint8_t {
        XmmFromRm,       ///< reg = xmm destination, r/m = GPR or memory source (vmovd xmm, r/m)
        RmFromXmm,       ///< r/m = GPR or memory destination, reg = xmm source (vmovd r/m, xmm)
        XmmVvvvRm,       ///< reg = xmm destination, vvvv = xmm, r/m = GPR or memory (vpinsr*)
        GprFromXmm,      ///< reg = GPR destination, r/m = xmm register (vpmovmskb, vpextrw C5)
        GprFromXmmOrMem, ///< reg = GPR destination, r/m = xmm or memory (vcvtss2si)
        Flags,           ///< reg = xmm, r/m = xmm or memory; writes ZF PF CF (vcomiss)
    } role;
    unsigned memory_size; ///< bytes of the memory form; 0: the W width (4 or 8)
    unsigned immediate_bound{0};
};

using Role = AvxScalarForm::Role;

const AvxScalarForm scalar_forms[] = {
    {1, 1, 0x6e, -1, 1, Role::XmmFromRm, 0},       // vmovd/vmovq xmm, r/m32|64
    {1, 1, 0x7e, -1, 1, Role::RmFromXmm, 0},       // vmovd/vmovq r/m32|64, xmm
    {1, 2, 0x7e, -1, 1, Role::XmmFromRm, 8},       // vmovq xmm, xmm/m64 (F3 7E)
    {1, 1, 0xd6, -1, 1, Role::RmFromXmm, 8},       // vmovq xmm/m64, xmm (66 D6)
    {3, 1, 0x20, 0, 1, Role::XmmVvvvRm, 1, 256},   // vpinsrb
    {1, 1, 0xc4, 0, 1, Role::XmmVvvvRm, 2, 256},   // vpinsrw
    {3, 1, 0x22, -1, 1, Role::XmmVvvvRm, 0, 256},  // vpinsrd/q
    {3, 1, 0x14, 0, 1, Role::RmFromXmm, 1, 256},   // vpextrb
    {3, 1, 0x15, 0, 1, Role::RmFromXmm, 2, 256},   // vpextrw r/m16
    {1, 1, 0xc5, 0, 1, Role::GprFromXmm, 0, 256},  // vpextrw r32, xmm (C5)
    {3, 1, 0x16, -1, 1, Role::RmFromXmm, 0, 256},  // vpextrd/q
    {3, 1, 0x17, 0, 1, Role::RmFromXmm, 4, 256},   // vextractps
    {1, 1, 0xd7, -1, 3, Role::GprFromXmm, 0},      // vpmovmskb
    {1, 0, 0x50, -1, 3, Role::GprFromXmm, 0},      // vmovmskps
    {1, 1, 0x50, -1, 3, Role::GprFromXmm, 0},      // vmovmskpd
    {1, 0, 0x2f, -1, 1, Role::Flags, 4},           // vcomiss
    {1, 0, 0x2e, -1, 1, Role::Flags, 4},           // vucomiss
    {1, 1, 0x2f, -1, 1, Role::Flags, 8},           // vcomisd
    {1, 1, 0x2e, -1, 1, Role::Flags, 8},           // vucomisd
    {1, 2, 0x2a, -1, 1, Role::XmmVvvvRm, 0},       // vcvtsi2ss xmm, xmm, r/m32|64
    {1, 3, 0x2a, -1, 1, Role::XmmVvvvRm, 0},       // vcvtsi2sd
    {1, 2, 0x2d, -1, 1, Role::GprFromXmmOrMem, 4}, // vcvtss2si
    {1, 2, 0x2c, -1, 1, Role::GprFromXmmOrMem, 4}, // vcvttss2si
    {1, 3, 0x2d, -1, 1, Role::GprFromXmmOrMem, 8}, // vcvtsd2si
    {1, 3, 0x2c, -1, 1, Role::GprFromXmmOrMem, 8}, // vcvttsd2si
};

} // namespace

void SequenceGenerator::avx_scalar() {
    if (chance(20)) return avx_masked_move();
    const AvxScalarForm& form = scalar_forms[random(std::size(scalar_forms))];
    Encoding encoding;
    encoding.rex_w = form.w == 1 || (form.w == -1 && chance(50));
    const unsigned width = encoding.rex_w ? 8 : 4;
    const unsigned memory_size = form.memory_size != 0 ? form.memory_size : width;
    encoding.opcode = {form.opcode};
    const bool l = form.lengths == 3 && chance(50);
    encoding.vex = Vex{form.map, form.pp, l, 0};
    const auto xmm = [this] { return static_cast<unsigned>(random(16)); };
    const bool memory = chance(35);
    switch (form.role) {
    case Role::XmmFromRm:
        encoding.reg_field = xmm();
        encoding.rm = memory ? memory_operand(memory_size, false)
                      : form.memory_size == 8
                          ? RegisterOrMemory::register_operand(xmm())
                          : RegisterOrMemory::register_operand(source_register(8, false));
        break;
    case Role::RmFromXmm:
        encoding.reg_field = xmm();
        encoding.rm = memory ? memory_operand(memory_size, false)
                      : form.opcode == 0xd6
                          ? RegisterOrMemory::register_operand(xmm())
                          : RegisterOrMemory::register_operand(destination_register(8, false));
        break;
    case Role::XmmVvvvRm:
        encoding.reg_field = xmm();
        encoding.vex->vvvv = xmm();
        encoding.rm = memory ? memory_operand(memory_size, false)
                             : RegisterOrMemory::register_operand(source_register(8, false));
        break;
    case Role::GprFromXmm:
        encoding.reg_field = destination_register(8, false);
        encoding.rm = RegisterOrMemory::register_operand(xmm());
        break;
    case Role::GprFromXmmOrMem:
        encoding.reg_field = destination_register(8, false);
        encoding.rm =
            memory ? memory_operand(memory_size, false) : RegisterOrMemory::register_operand(xmm());
        break;
    case Role::Flags:
        encoding.reg_field = xmm();
        encoding.rm =
            memory ? memory_operand(memory_size, false) : RegisterOrMemory::register_operand(xmm());
        break;
    }
    if (form.immediate_bound != 0) {
        encoding.immediate_size = 1;
        encoding.immediate = random(form.immediate_bound);
    }
    emit(encoding);
    if (form.role == Role::Flags) writes_flags(0);
}

void SequenceGenerator::avx_masked_move() {
    // vpmaskmovd/q (VEX.66.0F38 8C load, 8E store; W: d/q) and vmaskmovps/pd (2C/2D load,
    // 2E/2F store; W0): vvvv is the mask, r/m the memory operand.
    static const std::uint8_t opcodes[] = {0x8c, 0x8e, 0x2c, 0x2d, 0x2e, 0x2f};
    const std::uint8_t opcode = opcodes[random(std::size(opcodes))];
    const bool integer = opcode == 0x8c || opcode == 0x8e;
    Encoding encoding;
    encoding.rex_w = integer && chance(50);
    const unsigned element = integer ? (encoding.rex_w ? 8 : 4) : (opcode & 1 ? 8 : 4);
    const bool l = chance(50);
    const unsigned length = l ? 32 : 16;
    encoding.opcode = {opcode};
    encoding.vex = Vex{2, 1, l, static_cast<unsigned>(random(16))};
    encoding.reg_field = static_cast<unsigned>(random(16));
    if (chance(30)) {
        // Across the end of the data buffer: the elements past it are on an unmapped page, so
        // they fault when selected and must not when masked off.
        const unsigned inside = element * (1 + static_cast<unsigned>(random(length / element - 1)));
        const std::uint64_t target = layout::data_address + layout::data_size - inside;
        encoding.rm = RegisterOrMemory::based(
            data_base_register,
            static_cast<std::int64_t>(target - layout::data_base_register_value));
    } else {
        encoding.rm = memory_operand(length, false);
    }
    emit(encoding);
}

void SequenceGenerator::avx_gather() {
    // vpgatherdd/dq/qd/qq (VEX.66.0F38 90, 91) and vgatherdps/dpd/qps/qpd (92, 93); W picks the
    // data element size, the opcode's low bit the index size (Intel SDM Vol. 2, VPGATHERDD).
    const std::uint8_t opcode = static_cast<std::uint8_t>(0x90 + random(4));
    const bool qword_data = chance(50), qword_index = opcode & 1;
    const bool l = chance(50);
    unsigned destination = static_cast<unsigned>(random(16)), mask, index;
    do
        mask = static_cast<unsigned>(random(16));
    while (mask == destination);
    do
        index = static_cast<unsigned>(random(16));
    while (index == destination || index == mask);
    if (chance(3)) index = chance(50) ? destination : mask; // #UD
    // Small indexes: vpsrad by 24 leaves -128..127 in each dword; vpmovsxdq widens them.
    const bool wide_index = qword_index && l;
    const bool index_256 = !qword_index ? l && !qword_data : wide_index;
    Encoding shift;
    shift.opcode = {0x72};
    shift.vex = Vex{1, 1, index_256, index};
    shift.reg_field = 4;
    shift.rm = RegisterOrMemory::register_operand(index);
    shift.immediate_size = 1;
    shift.immediate = 24 + random(8);
    emit(shift);
    if (qword_index) {
        Encoding widen; // vpmovsxdq
        widen.opcode = {0x25};
        widen.vex = Vex{2, 1, wide_index, 0};
        widen.reg_field = index;
        widen.rm = RegisterOrMemory::register_operand(index);
        emit(widen);
    }
    Encoding gather;
    gather.rex_w = qword_data;
    gather.opcode = {opcode};
    gather.vex = Vex{2, 1, l, mask};
    gather.reg_field = destination;
    // [r15 + index * scale + disp]: offsets within +-0x400 of the displacement, which stays
    // within +-0x800 of r15 (the data buffer spans r15 - 0x1000 to r15 + 0x3000).
    RegisterOrMemory memory;
    memory.is_memory = true;
    if (chance(85)) memory.base = data_base_register;
    memory.index = index;
    memory.scale = 1u << random(4);
    const auto offset = static_cast<std::int64_t>(random(0x1000)) - 0x800;
    memory.displacement =
        memory.base ? offset : static_cast<std::int64_t>(layout::data_base_register_value) + offset;
    gather.rm = memory;
    // A 67 prefix: 32-bit address size, the sum (a negative index included) taken modulo 2^32
    // (the buffer lies below 4 GiB).
    if (chance(15)) gather.prefixes.push_back(0x67);
    emit(gather);
}

} // namespace vessel::difftest
