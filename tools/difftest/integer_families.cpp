// SequenceGenerator: the general-purpose integer instruction families and their flag rules
// (Intel SDM Vol. 2 "Flags Affected"; flags an instruction leaves undefined are not compared).
#include "sequence_generator.hpp"

namespace vessel::difftest {

namespace {

using namespace flag;

constexpr std::uint8_t lock_prefix = 0xf0;
constexpr unsigned rax_register = 0, rcx_register = 1, rdx_register = 2, rsi_register = 6,
                   rdi_register = 7;

std::uint8_t by_size(unsigned size, std::uint8_t byte_opcode) {
    return static_cast<std::uint8_t>(size == 1 ? byte_opcode : byte_opcode + 1);
}

unsigned immediate_size(unsigned size) {
    return size == 8 ? 4 : size;
}

bool uses_register(const RegisterOrMemory& operand, unsigned reg) {
    return operand.is_memory ? operand.index == reg : operand.reg == reg;
}

} // namespace

void SequenceGenerator::arithmetic_logic() {
    // add or adc sbb and sub xor cmp: opcode group 0-7 (Intel SDM Vol. 2, Table A-6).
    const auto operation = static_cast<unsigned>(random(8));
    const unsigned size = pick_size();
    const bool legacy = chance(50);
    const bool reads_carry = operation == 2 || operation == 3;
    const bool logic = operation == 1 || operation == 4 || operation == 6;
    Encoding encoding;
    const std::uint64_t form = random(4);
    if (form == 0) { // r/m, reg
        encoding = sized(size, {by_size(size, static_cast<std::uint8_t>(operation * 8))}, legacy);
        encoding.rm = operation == 7 ? source(size, legacy) : destination(size, legacy);
        encoding.reg_field = source_register(size, legacy);
    } else if (form == 1) { // reg, r/m
        encoding =
            sized(size, {by_size(size, static_cast<std::uint8_t>(operation * 8 + 2))}, legacy);
        encoding.rm = source(size, legacy);
        encoding.reg_field =
            operation == 7 ? source_register(size, legacy) : destination_register(size, legacy);
    } else if (form == 2) { // r/m, imm (80/81/83)
        const bool short_immediate = size != 1 && chance(50);
        encoding = sized(size,
                         {size == 1         ? std::uint8_t{0x80}
                          : short_immediate ? std::uint8_t{0x83}
                                            : std::uint8_t{0x81}},
                         legacy);
        encoding.rm = operation == 7 ? source(size, legacy) : destination(size, legacy);
        encoding.reg_field = operation;
        encoding.immediate_size = short_immediate ? 1 : immediate_size(size);
        encoding.immediate = interesting(encoding.immediate_size);
    } else { // al/ax/eax/rax, imm (04/05 + 8 * operation)
        if (reads_carry) require_flags(cf);
        note();
        if (size == 2) m_code->push_back(0x66);
        if (size == 8) m_code->push_back(0x48);
        m_code->push_back(by_size(size, static_cast<std::uint8_t>(operation * 8 + 4)));
        const std::uint64_t value = interesting(immediate_size(size));
        for (unsigned i = 0; i < immediate_size(size); ++i)
            m_code->push_back(static_cast<std::uint8_t>(value >> (8 * i)));
        writes_flags(logic ? af : 0);
        return;
    }
    // lock is legal only with a memory destination (#UD otherwise, Intel SDM Vol. 2, LOCK).
    if (form != 1 && encoding.rm.is_memory && operation != 7 && chance(30))
        encoding.prefixes.insert(encoding.prefixes.begin(), lock_prefix);
    if (reads_carry) require_flags(cf);
    emit(encoding);
    writes_flags(logic ? af : 0);
}

void SequenceGenerator::test_instruction() {
    const unsigned size = pick_size();
    const bool legacy = chance(50);
    Encoding encoding;
    if (chance(50)) {
        encoding = sized(size, {by_size(size, 0x84)}, legacy);
        encoding.reg_field = source_register(size, legacy);
    } else {
        encoding = sized(size, {by_size(size, 0xf6)}, legacy);
        encoding.reg_field = 0;
        encoding.immediate_size = immediate_size(size);
        encoding.immediate = interesting(encoding.immediate_size);
    }
    encoding.rm = source(size, legacy);
    emit(encoding);
    writes_flags(af);
}

void SequenceGenerator::unary() {
    // inc dec (FE/FF /0 /1), not neg (F6/F7 /2 /3).
    const unsigned size = pick_size();
    const bool legacy = chance(50);
    const auto kind = static_cast<unsigned>(random(4));
    const bool increment = kind < 2;
    Encoding encoding = sized(size, {by_size(size, increment ? 0xfe : 0xf6)}, legacy);
    encoding.reg_field = kind; // /0 inc, /1 dec, /2 not, /3 neg
    encoding.rm = destination(size, legacy);
    if (encoding.rm.is_memory && chance(30))
        encoding.prefixes.insert(encoding.prefixes.begin(), lock_prefix);
    emit(encoding);
    if (increment) m_undefined &= cf; // inc/dec keep CF
    if (kind == 3) writes_flags(0);
}

void SequenceGenerator::multiply() {
    const std::uint64_t form = random(4);
    if (form < 2) { // mul / imul r/m (F6/F7 /4 /5)
        const unsigned size = pick_size();
        const bool legacy = chance(50);
        Encoding encoding = sized(size, {by_size(size, 0xf6)}, legacy);
        encoding.reg_field = form == 0 ? 4 : 5;
        encoding.rm = source(size, legacy);
        emit(encoding);
    } else if (form == 2) { // imul reg, r/m (0F AF)
        const unsigned size = pick_wide_size();
        Encoding encoding = sized(size, {0x0f, 0xaf}, false);
        encoding.rm = source(size, false);
        encoding.reg_field = destination_register(size, false);
        emit(encoding);
    } else { // imul reg, r/m, imm (69 / 6B)
        const unsigned size = pick_wide_size();
        const bool short_immediate = chance(50);
        Encoding encoding =
            sized(size, {short_immediate ? std::uint8_t{0x6b} : std::uint8_t{0x69}}, false);
        encoding.rm = source(size, false);
        encoding.reg_field = destination_register(size, false);
        encoding.immediate_size = short_immediate ? 1 : immediate_size(size);
        encoding.immediate = interesting(encoding.immediate_size);
        emit(encoding);
    }
    writes_flags(sf | zf | af | pf);
}

void SequenceGenerator::divide() {
    // div / idiv r/m (F6/F7 /6 /7). Mostly guarded so the quotient fits; the rest may raise #DE,
    // which both sides must then report at the same instruction with the same state.
    const unsigned size = pick_size();
    const bool is_signed = chance(50);
    const bool guarded = chance(80);
    const bool legacy = true;
    Encoding encoding = sized(size, {by_size(size, 0xf6)}, size == 1 && legacy);
    encoding.reg_field = is_signed ? 7 : 6;
    if (!guarded) {
        encoding.rm = source(size, size == 1);
        emit(encoding);
        writes_flags(arithmetic);
        return;
    }
    const std::uint64_t mask = size == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << 8 * size) - 1;
    std::uint64_t divisor = interesting(size) & mask;
    if (divisor == 0) divisor = 1 + random(mask < 1000 ? mask : 1000);
    if (chance(50)) {
        // Divisor in memory, stored by a mov from a scratch register.
        encoding.rm = memory_operand(size, size == 1);
        unsigned scratch;
        do
            scratch = destination_register(8, false);
        while (scratch == rax_register || scratch == rdx_register ||
               uses_register(encoding.rm, scratch));
        set_register(scratch, divisor);
        Encoding store = sized(size, {by_size(size, 0x88)}, scratch < 4);
        store.reg_field = scratch;
        store.rm = encoding.rm;
        emit(store);
    } else {
        unsigned reg;
        if (size == 1) {
            do
                reg = static_cast<unsigned>(random(8));
            while (reg == rax_register || reg > 3); // cl, dl or bl (ch..bh are not rcx..rbx)
        } else {
            do
                reg = destination_register(size, false);
            while (reg == rax_register || reg == rdx_register);
        }
        set_register(reg, divisor);
        encoding.rm = RegisterOrMemory::register_operand(reg);
    }
    if (is_signed) {
        // Sign-extend rAX into the high half: cbw / cwd / cdq / cqo.
        if (size == 1)
            raw({0x66, 0x98});
        else if (size == 2)
            raw({0x66, 0x99});
        else if (size == 4)
            raw({0x99});
        else
            raw({0x48, 0x99});
    } else {
        const std::uint64_t high = random(divisor);
        if (size == 1)
            set_register(rax_register, (high << 8) | random(256));
        else
            set_register(rdx_register, high);
    }
    emit(encoding);
    writes_flags(arithmetic);
}

void SequenceGenerator::shift_rotate() {
    // C0/C1 ib, D0/D1 (by 1), D2/D3 (by CL): /0 rol /1 ror /2 rcl /3 rcr /4 shl /5 shr /7 sar.
    static const unsigned operations[] = {0, 1, 2, 3, 4, 5, 7};
    const unsigned operation = operations[random(7)];
    const unsigned size = pick_size();
    const bool legacy = chance(50);
    const unsigned bits = 8 * size;
    unsigned count;
    switch (random(6)) {
    case 0:
        count = 1;
        break;
    case 1:
        count = 0;
        break;
    case 2:
        count = bits - 1 + static_cast<unsigned>(random(3));
        break;
    default:
        count = static_cast<unsigned>(random(chance(80) ? 64 : 256));
    }
    const std::uint64_t form = count == 1 ? random(3) : 1 + random(2);
    Encoding encoding;
    if (form == 0) {
        encoding = sized(size, {by_size(size, 0xd0)}, legacy);
    } else if (form == 1) {
        encoding = sized(size, {by_size(size, 0xc0)}, legacy);
        encoding.immediate_size = 1;
        encoding.immediate = count;
    } else {
        encoding = sized(size, {by_size(size, 0xd2)}, legacy);
    }
    encoding.reg_field = operation;
    encoding.rm = destination(size, legacy);
    if (form == 2) {
        while (uses_register(encoding.rm, rcx_register))
            encoding.rm = memory_operand(size, legacy);
        raw({0xb1, static_cast<std::uint8_t>(count)}); // mov cl, imm8
    }
    const unsigned masked = count & (size == 8 ? 63 : 31);
    const bool through_carry = operation == 2 || operation == 3;
    if (through_carry && masked != 0) require_flags(cf);
    emit(encoding);
    if (masked == 0) return; // flags unchanged
    if (operation < 4) {
        m_undefined &= ~cf;
        if (masked == 1)
            m_undefined &= ~of;
        else
            m_undefined |= of;
        return;
    }
    std::uint64_t undefined = af | (masked == 1 ? 0 : of);
    if (operation != 7 && masked >= bits) undefined |= cf; // shl/shr by the width or more
    writes_flags(undefined);
}

void SequenceGenerator::double_shift() {
    // shld 0F A4 ib / A5 cl, shrd 0F AC ib / AD cl.
    const unsigned size = pick_wide_size();
    const bool left = chance(50), by_cl = chance(40);
    unsigned count = static_cast<unsigned>(random(size == 8 ? 64 : 32));
    if (chance(20)) count = 1;
    if (size == 2 && (count & 31) > 16) count &= 15; // wider counts give undefined results
    Encoding encoding =
        sized(size, {0x0f, static_cast<std::uint8_t>((left ? 0xa4 : 0xac) + by_cl)}, false);
    encoding.rm = destination(size, false);
    encoding.reg_field = source_register(size, false);
    if (by_cl) {
        while (uses_register(encoding.rm, rcx_register))
            encoding.rm = destination(size, false);
        raw({0xb1, static_cast<std::uint8_t>(count)});
    } else {
        encoding.immediate_size = 1;
        encoding.immediate = count;
    }
    emit(encoding);
    const unsigned masked = count & (size == 8 ? 63 : 31);
    if (masked == 0) return;
    writes_flags(af | (masked == 1 ? 0 : of));
}

void SequenceGenerator::bit_test() {
    // bt bts btr btc: 0F A3/AB/B3/BB (r/m, reg) and 0F BA /4-/7 ib.
    const auto operation = static_cast<unsigned>(random(4));
    const unsigned size = pick_wide_size();
    Encoding encoding;
    if (chance(50)) {
        encoding = sized(size, {0x0f, 0xba}, false);
        encoding.reg_field = 4 + operation;
        encoding.immediate_size = 1;
        encoding.immediate = random(256);
        encoding.rm = operation == 0 ? source(size, false) : destination(size, false);
    } else {
        static const std::uint8_t opcodes[] = {0xa3, 0xab, 0xb3, 0xbb};
        encoding = sized(size, {0x0f, opcodes[operation]}, false);
        encoding.rm = operation == 0 ? source(size, false) : destination(size, false);
        if (encoding.rm.is_memory) {
            // A register bit offset reaches outside the operand: keep it within +-64 bytes.
            unsigned offset_register;
            do
                offset_register = destination_register(8, false);
            while (uses_register(encoding.rm, offset_register));
            set_register(offset_register,
                         static_cast<std::uint64_t>(static_cast<std::int64_t>(random(768)) - 256));
            encoding.reg_field = offset_register;
        } else {
            encoding.reg_field = source_register(size, false);
        }
    }
    if (operation != 0 && encoding.rm.is_memory && chance(30))
        encoding.prefixes.insert(encoding.prefixes.begin(), lock_prefix);
    emit(encoding);
    // CF is the bit; Intel leaves ZF alone, AMD calls it undefined: compare only CF.
    m_undefined = (m_undefined & ~cf) | of | sf | zf | af | pf;
}

void SequenceGenerator::bit_scan() {
    // bsf 0F BC, bsr 0F BD (no F3 prefix: tzcnt/lzcnt are not in the engine's CPUID).
    const unsigned size = pick_wide_size();
    Encoding encoding =
        sized(size, {0x0f, static_cast<std::uint8_t>(chance(50) ? 0xbc : 0xbd)}, false);
    encoding.rm = source(size, false);
    encoding.reg_field = destination_register(size, false);
    emit(encoding);
    writes_flags(cf | of | sf | af | pf);
}

void SequenceGenerator::byte_swap() {
    // bswap r32 / r64 (0F C8+r; REX before the 0F escape).
    const bool wide = chance(50);
    const unsigned reg = destination_register(8, false);
    note();
    if (wide || reg >= 8)
        m_code->push_back(static_cast<std::uint8_t>(0x40 | (wide ? 8 : 0) | (reg >> 3)));
    m_code->push_back(0x0f);
    m_code->push_back(static_cast<std::uint8_t>(0xc8 + (reg & 7)));
}

void SequenceGenerator::extend_move() {
    const std::uint64_t kind = random(5);
    if (kind == 4) { // movsxd r64, r/m32
        Encoding encoding = sized(8, {0x63}, false);
        encoding.rm = source(4, false);
        encoding.reg_field = destination_register(8, false);
        emit(encoding);
        return;
    }
    // movzx 0F B6/B7, movsx 0F BE/BF.
    const bool from_byte = kind % 2 == 0;
    const bool sign = kind >= 2;
    const unsigned size = from_byte ? pick_wide_size() : (chance(50) ? 4 : 8);
    const bool legacy = from_byte && size != 8 && chance(50);
    Encoding encoding =
        sized(size, {0x0f, static_cast<std::uint8_t>((sign ? 0xbe : 0xb6) + !from_byte)}, false);
    encoding.force_rex = from_byte && !legacy;
    encoding.rm = source(from_byte ? 1 : 2, legacy);
    if (legacy) {
        unsigned reg;
        do
            reg = static_cast<unsigned>(random(8));
        while (reg == 4);
        encoding.reg_field = reg;
    } else {
        encoding.reg_field = destination_register(size, false);
    }
    emit(encoding);
}

void SequenceGenerator::conditional() {
    const auto condition = static_cast<std::uint8_t>(random(16));
    require_flags(arithmetic);
    if (chance(50)) { // cmovcc 0F 40+cc
        const unsigned size = pick_wide_size();
        Encoding encoding = sized(size, {0x0f, static_cast<std::uint8_t>(0x40 + condition)}, false);
        encoding.rm = source(size, false);
        encoding.reg_field = destination_register(size, false);
        emit(encoding);
    } else { // setcc 0F 90+cc
        const bool legacy = chance(50);
        Encoding encoding = sized(1, {0x0f, static_cast<std::uint8_t>(0x90 + condition)}, legacy);
        encoding.rm = destination(1, legacy);
        emit(encoding);
    }
}

void SequenceGenerator::load_effective_address() {
    const unsigned size = pick_wide_size();
    Encoding encoding = sized(size, {0x8d}, false);
    encoding.reg_field = destination_register(size, false);
    RegisterOrMemory address;
    address.is_memory = true;
    if (chance(10)) {
        address.rip_relative = true;
        address.displacement = static_cast<std::int64_t>(layout::code_address + random(1u << 20));
    } else {
        if (chance(85)) address.base = static_cast<unsigned>(random(16));
        if (chance(60)) {
            unsigned index;
            do
                index = static_cast<unsigned>(random(16));
            while (index == 4);
            address.index = index;
            address.scale = 1u << random(4);
        }
        address.displacement = chance(50) ? static_cast<std::int8_t>(random(256))
                                          : static_cast<std::int32_t>(m_random());
    }
    encoding.rm = address;
    if (chance(15) && !address.rip_relative) encoding.prefixes.push_back(0x67); // 32-bit address
    emit(encoding);
}

void SequenceGenerator::exchange() {
    const std::uint64_t kind = random(4);
    const unsigned size = pick_size();
    const bool legacy = chance(50);
    if (kind == 0) { // xchg 86/87
        Encoding encoding = sized(size, {by_size(size, 0x86)}, legacy);
        encoding.rm = destination(size, legacy);
        encoding.reg_field = destination_register(size, legacy);
        emit(encoding);
        return;
    }
    if (kind == 1 && size != 1) { // xchg rAX, reg (90+r; 90 itself is nop)
        const unsigned reg = destination_register(size, false);
        emit_register_in_opcode(size == 2 ? std::initializer_list<std::uint8_t>{0x66}
                                          : std::initializer_list<std::uint8_t>{},
                                size == 8, 0x90, reg);
        return;
    }
    // xadd 0F C0/C1, cmpxchg 0F B0/B1.
    const bool is_xadd = kind != 3;
    Encoding encoding = sized(size, {0x0f, by_size(size, is_xadd ? 0xc0 : 0xb0)}, legacy);
    encoding.rm = destination(size, legacy);
    encoding.reg_field = destination_register(size, legacy);
    if (!is_xadd && chance(40) && encoding.rm.is_memory) {
        // Make the compare succeed sometimes: load rAX from the operand first.
        Encoding load = sized(size, {by_size(size, 0x8a)}, legacy);
        load.rm = encoding.rm;
        load.reg_field = rax_register;
        emit(load);
    }
    if (encoding.rm.is_memory && chance(50))
        encoding.prefixes.insert(encoding.prefixes.begin(), lock_prefix);
    emit(encoding);
    writes_flags(0);
}

void SequenceGenerator::compare_exchange_wide() {
    // cmpxchg8b m64 / cmpxchg16b m128 (0F C7 /1; 16b needs 16-byte alignment).
    const bool wide = chance(50);
    const unsigned size = wide ? 16 : 8;
    Encoding encoding;
    encoding.rex_w = wide;
    encoding.opcode = {0x0f, 0xc7};
    encoding.reg_field = 1;
    encoding.rm = memory_operand(size, false, size);
    if (encoding.rm.index) { // keep rdx:rax / rcx:rbx free of the index register
        encoding.rm.index = std::nullopt;
        encoding.rm.scale = 1;
        encoding.rm.displacement = static_cast<std::int64_t>(data_target(size, size)) -
                                   static_cast<std::int64_t>(layout::data_base_register_value);
    }
    if (chance(50)) {
        // rdx:rax = the operand, so the exchange happens.
        Encoding load = sized(wide ? 8 : 4, {0x8b}, false);
        load.rm = encoding.rm;
        load.reg_field = rax_register;
        emit(load);
        load.rm.displacement += wide ? 8 : 4;
        load.reg_field = rdx_register;
        emit(load);
    }
    if (chance(50)) encoding.prefixes.push_back(lock_prefix);
    emit(encoding);
    m_undefined &= ~zf;
}

void SequenceGenerator::sign_extend_accumulator() {
    const std::uint64_t size = random(3);
    const std::uint8_t opcode = chance(50) ? 0x98 : 0x99;
    if (size == 0)
        raw({0x66, opcode});
    else if (size == 1)
        raw({opcode});
    else
        raw({0x48, opcode});
}

void SequenceGenerator::string_operation() {
    // movs A4, cmps A6, stos AA, lods AC, scas AE (+1 for 16/32/64-bit).
    static const std::uint8_t opcodes[] = {0xa4, 0xa6, 0xaa, 0xac, 0xae};
    const auto which = static_cast<unsigned>(random(5));
    const unsigned size = pick_size();
    const bool compares = which == 1 || which == 4;
    const bool repeat = chance(70);
    const unsigned count = static_cast<unsigned>(random(chance(20) ? 3 : 24));
    set_register(rsi_register, data_target(8, 1));
    set_register(rdi_register, data_target(8, 1));
    std::vector<std::uint8_t> bytes;
    if (repeat) {
        set_register(rcx_register, count);
        bytes.push_back(compares && chance(50) ? 0xf2 : 0xf3);
    }
    if (size == 2) bytes.push_back(0x66);
    if (size == 8) bytes.push_back(0x48);
    bytes.push_back(by_size(size, opcodes[which]));
    note();
    m_code->insert(m_code->end(), bytes.begin(), bytes.end());
    if (compares && (!repeat || count != 0)) writes_flags(0);
}

void SequenceGenerator::push_pop() {
    const std::uint64_t kind = random(7);
    switch (kind) {
    case 0: // push r64 / r16
        emit_register_in_opcode(chance(20) ? std::initializer_list<std::uint8_t>{0x66}
                                           : std::initializer_list<std::uint8_t>{},
                                false, 0x50, static_cast<unsigned>(random(16)));
        break;
    case 1: // push imm8 / imm32
        if (chance(50))
            raw({0x6a, static_cast<std::uint8_t>(random(256))});
        else {
            const std::uint64_t value = interesting(4);
            raw({0x68, static_cast<std::uint8_t>(value), static_cast<std::uint8_t>(value >> 8),
                 static_cast<std::uint8_t>(value >> 16), static_cast<std::uint8_t>(value >> 24)});
        }
        break;
    case 2: { // push m64 (FF /6)
        Encoding encoding;
        encoding.opcode = {0xff};
        encoding.reg_field = 6;
        encoding.rm = memory_operand(8, false);
        emit(encoding);
        break;
    }
    case 3: { // pop m64 (8F /0)
        Encoding encoding;
        encoding.opcode = {0x8f};
        encoding.rm = memory_operand(8, false);
        emit(encoding);
        break;
    }
    default: // pop r64 / r16
        emit_register_in_opcode(chance(20) ? std::initializer_list<std::uint8_t>{0x66}
                                           : std::initializer_list<std::uint8_t>{},
                                false, 0x58, destination_register(8, false));
        break;
    }
}

void SequenceGenerator::flag_operation() {
    switch (random(9)) {
    case 0:
        raw({0xf8}); // clc
        m_undefined &= ~cf;
        break;
    case 1:
        raw({0xf9}); // stc
        m_undefined &= ~cf;
        break;
    case 2:
        require_flags(cf);
        raw({0xf5}); // cmc
        break;
    case 3:
        raw({chance(50) ? std::uint8_t{0xfc} : std::uint8_t{0xfd}}); // cld / std
        break;
    case 4:
        require_flags(arithmetic);
        raw({0x9f}); // lahf
        break;
    case 5:
        raw({0x9e}); // sahf: SF ZF AF PF CF from AH
        m_undefined &= of;
        break;
    case 6:
        require_flags(arithmetic);
        raw({0x9c}); // pushfq
        break;
    default: {
        // push imm32; popfq. TF and AC stay clear (they would trap or fault natively); IF and IOPL
        // changes are ignored at CPL 3. ID stays clear: the kernel's sigreturn cannot reset it,
        // so a set ID would leak into the native child's next sequence. NT stays clear: the host
        // kernel occasionally clears it in a preempted child (2 in 10^6 sequences), so its native
        // value is not deterministic.
        const std::uint64_t value = (m_random() & (arithmetic | df | if_ | iopl)) | 2;
        raw({0x68, static_cast<std::uint8_t>(value), static_cast<std::uint8_t>(value >> 8),
             static_cast<std::uint8_t>(value >> 16), static_cast<std::uint8_t>(value >> 24)});
        raw({0x9d});
        writes_flags(0);
        break;
    }
    }
}

void SequenceGenerator::move() {
    const unsigned size = pick_size();
    const bool legacy = chance(50);
    switch (random(4)) {
    case 0: { // mov r/m, reg (88/89)
        Encoding encoding = sized(size, {by_size(size, 0x88)}, legacy);
        encoding.rm = destination(size, legacy);
        encoding.reg_field = source_register(size, legacy);
        emit(encoding);
        break;
    }
    case 1: { // mov reg, r/m (8A/8B)
        Encoding encoding = sized(size, {by_size(size, 0x8a)}, legacy);
        encoding.rm = source(size, legacy);
        encoding.reg_field = destination_register(size, legacy);
        emit(encoding);
        break;
    }
    case 2: { // mov r/m, imm (C6/C7 /0)
        Encoding encoding = sized(size, {by_size(size, 0xc6)}, legacy);
        encoding.rm = destination(size, legacy);
        encoding.immediate_size = immediate_size(size);
        encoding.immediate = interesting(encoding.immediate_size);
        emit(encoding);
        break;
    }
    default: { // mov reg, imm (B0+r / B8+r, imm64 with REX.W)
        const unsigned reg = destination_register(size, legacy);
        if (size == 1)
            emit_register_in_opcode({}, false, 0xb0, reg, 1, interesting(1), !legacy);
        else
            emit_register_in_opcode(size == 2 ? std::initializer_list<std::uint8_t>{0x66}
                                              : std::initializer_list<std::uint8_t>{},
                                    size == 8, 0xb8, reg, size, interesting(size));
        break;
    }
    }
}

} // namespace vessel::difftest
