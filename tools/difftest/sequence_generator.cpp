// SequenceGenerator: start states, operand choice and the undefined-flag bookkeeping.
#include "sequence_generator.hpp"

#include <cstring>

namespace vessel::difftest {

namespace {

constexpr unsigned rsp_register = 4;
constexpr unsigned data_base_register = 15; ///< holds layout::data_base_register_value
constexpr std::uint8_t operand_size_prefix = 0x66;
constexpr std::uint8_t ud2_bytes[] = {0x0f, 0x0b};

/// splitmix64: spreads (seed, index) into independent generator seeds.
std::uint64_t mix(std::uint64_t value) {
    value += 0x9e3779b97f4a7c15;
    value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9;
    value = (value ^ (value >> 27)) * 0x94d049bb133111eb;
    return value ^ (value >> 31);
}

std::uint64_t float_pattern(std::mt19937_64& random, bool is_double) {
    static const double doubles[] = {0.0, -0.0, 1.0,   -1.5,     3.25,    1e10,          -1e-10,
                                     0.1, 2.5,  1e300, 4.9e-324, 65536.0, -2147483648.0, 0.5};
    static const float floats[] = {0.0f, -0.0f, 1.0f,  -1.5f,  3.25f,    1e10f,          -1e-10f,
                                   0.1f, 2.5f,  1e38f, 1e-45f, 65536.0f, -2147483648.0f, 0.5f};
    const std::uint64_t choice = random() % 20;
    if (is_double) {
        if (choice < 14) {
            std::uint64_t bits;
            std::memcpy(&bits, &doubles[choice], 8);
            return bits;
        }
        if (choice < 16)
            return 0x7ff0000000000000 | (choice == 15 ? 0x8000000000001 : 0); // inf, NaN
        return random();
    }
    std::uint64_t result = 0;
    for (unsigned half = 0; half < 2; ++half) {
        std::uint32_t bits;
        const std::uint64_t pick = random() % 20;
        if (pick < 14)
            std::memcpy(&bits, &floats[pick], 4);
        else if (pick < 16)
            bits = 0x7f800000 | (pick == 15 ? 0x400001 : 0);
        else
            bits = static_cast<std::uint32_t>(random());
        result |= std::uint64_t{bits} << (32 * half);
    }
    return result;
}

} // namespace

std::uint64_t Sequence::undefined_flags_at(std::uint64_t address) const {
    for (const auto& [start, undefined] : undefined_flags)
        if (start == address) return undefined;
    return flag::arithmetic; // not an instruction boundary: compare nothing we cannot trust
}

std::uint64_t SequenceGenerator::interesting(unsigned size) {
    const std::uint64_t mask = size >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << 8 * size) - 1;
    const std::uint64_t sign = std::uint64_t{1} << (8 * size - 1);
    switch (random(10)) {
    case 0:
        return 0;
    case 1:
        return 1;
    case 2:
        return mask;
    case 3:
        return sign;
    case 4:
        return sign - 1;
    case 5:
        return random(256);
    case 6:
        return random(64);
    default:
        return m_random() & mask;
    }
}

unsigned SequenceGenerator::pick_size() {
    static const unsigned sizes[] = {1, 2, 4, 8};
    return sizes[random(4)];
}

unsigned SequenceGenerator::pick_wide_size() {
    static const unsigned sizes[] = {2, 4, 8};
    return sizes[random(3)];
}

unsigned SequenceGenerator::destination_register(unsigned size, bool legacy_bytes) {
    if (size == 1 && legacy_bytes) return static_cast<unsigned>(random(8)); // al..bh
    for (;;) {
        const auto reg = static_cast<unsigned>(random(16));
        if (reg != rsp_register && reg != data_base_register) return reg;
    }
}

unsigned SequenceGenerator::source_register(unsigned size, bool legacy_bytes) {
    return static_cast<unsigned>(size == 1 && legacy_bytes ? random(8) : random(16));
}

std::uint64_t SequenceGenerator::data_target(unsigned size, unsigned alignment) {
    // Stay 64 bytes inside the buffer so bit-string and string setups have room around it.
    const std::uint64_t span = layout::data_size - 128 - size;
    std::uint64_t offset = 64 + random(span);
    if (alignment > 1) offset &= ~std::uint64_t{alignment - 1};
    return layout::data_address + offset;
}

RegisterOrMemory SequenceGenerator::memory_operand(unsigned size, bool legacy_bytes,
                                                   unsigned alignment) {
    const std::uint64_t target = data_target(size, alignment);
    const std::uint64_t form = random(legacy_bytes ? 2 : 4);
    if (form == 0) return RegisterOrMemory::absolute(target);
    if (form == 1) return RegisterOrMemory::rip_target(target);
    const auto displacement = static_cast<std::int64_t>(target) -
                              static_cast<std::int64_t>(layout::data_base_register_value);
    if (form == 2) return RegisterOrMemory::based(data_base_register, displacement);
    // [r15 + index * scale + disp] with the index register set just before.
    unsigned index = destination_register(8, false);
    if (chance(2)) {
        // Now and then a non-canonical address (#GP on hardware): bit 63 set over the target's
        // offset, often at page 0 (an empty JIT TLB entry's tag once matched 1 << 63's page,
        // reaching a host page).
        const std::uint64_t page = chance(50) ? 0 : random(std::uint64_t{1} << 36) << 12;
        const std::uint64_t address = (std::uint64_t{1} << 63) | page | (target & 0xfff);
        set_register(index, address - layout::data_base_register_value);
        RegisterOrMemory operand = RegisterOrMemory::based(data_base_register, 0);
        operand.index = index;
        operand.scale = 1;
        return operand;
    }
    const unsigned scale = 1u << random(4);
    const auto index_value = static_cast<std::int64_t>(random(32)) - 16;
    set_register(index, static_cast<std::uint64_t>(index_value));
    RegisterOrMemory operand =
        RegisterOrMemory::based(data_base_register, displacement - index_value * scale);
    operand.index = index;
    operand.scale = scale;
    return operand;
}

RegisterOrMemory SequenceGenerator::destination(unsigned size, bool legacy_bytes,
                                                unsigned alignment) {
    if (chance(40)) return memory_operand(size, legacy_bytes, alignment);
    return RegisterOrMemory::register_operand(destination_register(size, legacy_bytes));
}

RegisterOrMemory SequenceGenerator::source(unsigned size, bool legacy_bytes, unsigned alignment) {
    if (chance(40)) return memory_operand(size, legacy_bytes, alignment);
    return RegisterOrMemory::register_operand(source_register(size, legacy_bytes));
}

Encoding SequenceGenerator::sized(unsigned size, std::vector<std::uint8_t> opcode,
                                  bool legacy_bytes) {
    Encoding encoding;
    if (size == 2) encoding.prefixes.push_back(operand_size_prefix);
    encoding.rex_w = size == 8;
    encoding.force_rex = size == 1 && !legacy_bytes;
    encoding.opcode = std::move(opcode);
    return encoding;
}

void SequenceGenerator::set_register(unsigned reg, std::uint64_t value) {
    emit_register_in_opcode({}, true, 0xb8, reg, 8, value); // mov r64, imm64
}

void SequenceGenerator::note() {
    m_sequence->undefined_flags.emplace_back(m_emitter->next_address(), m_undefined);
}

void SequenceGenerator::emit(const Encoding& encoding) {
    note();
    m_emitter->emit(encoding);
}

void SequenceGenerator::emit_register_in_opcode(std::initializer_list<std::uint8_t> prefixes,
                                                bool rex_w, std::uint8_t opcode, unsigned reg,
                                                unsigned immediate_size, std::uint64_t immediate,
                                                bool force_rex) {
    note();
    m_emitter->emit_register_in_opcode(prefixes, rex_w, opcode, reg, immediate_size, immediate,
                                       force_rex);
}

void SequenceGenerator::raw(std::initializer_list<std::uint8_t> bytes) {
    note();
    m_emitter->raw(bytes);
}

void SequenceGenerator::require_flags(std::uint64_t read) {
    if ((m_undefined & read) == 0) return;
    // cmp r64, r64 (39 /r) defines all six arithmetic flags.
    Encoding encoding = sized(8, {0x39}, false);
    encoding.reg_field = source_register(8, false);
    encoding.rm = RegisterOrMemory::register_operand(source_register(8, false));
    emit(encoding);
    writes_flags(0);
}

const std::vector<SequenceGenerator::FamilyEntry>& SequenceGenerator::families() {
    static const std::vector<FamilyEntry> table = {
        {&SequenceGenerator::arithmetic_logic, 14, "arithmetic_logic"},
        {&SequenceGenerator::test_instruction, 3, "test_instruction"},
        {&SequenceGenerator::unary, 5, "unary"},
        {&SequenceGenerator::multiply, 5, "multiply"},
        {&SequenceGenerator::divide, 4, "divide"},
        {&SequenceGenerator::shift_rotate, 10, "shift_rotate"},
        {&SequenceGenerator::double_shift, 4, "double_shift"},
        {&SequenceGenerator::bit_test, 4, "bit_test"},
        {&SequenceGenerator::bit_scan, 3, "bit_scan"},
        {&SequenceGenerator::byte_swap, 2, "byte_swap"},
        {&SequenceGenerator::extend_move, 3, "extend_move"},
        {&SequenceGenerator::conditional, 5, "conditional"},
        {&SequenceGenerator::load_effective_address, 3, "load_effective_address"},
        {&SequenceGenerator::exchange, 5, "exchange"},
        {&SequenceGenerator::compare_exchange_wide, 2, "compare_exchange_wide"},
        {&SequenceGenerator::sign_extend_accumulator, 2, "sign_extend_accumulator"},
        {&SequenceGenerator::string_operation, 5, "string_operation"},
        {&SequenceGenerator::push_pop, 4, "push_pop"},
        {&SequenceGenerator::flag_operation, 4, "flag_operation"},
        {&SequenceGenerator::move, 4, "move"},
        {&SequenceGenerator::sse_move, 4, "sse_move"},
        {&SequenceGenerator::sse_integer, 5, "sse_integer"},
        {&SequenceGenerator::sse_shift_shuffle, 3, "sse_shift_shuffle"},
        {&SequenceGenerator::sse_float, 5, "sse_float"},
        {&SequenceGenerator::sse_convert, 3, "sse_convert"},
        {&SequenceGenerator::bit_count,
         host_has("popcnt") && host_has("lzcnt") && host_has("bmi") ? 3u : 0u, "bit_count"},
        {&SequenceGenerator::byte_swapping_move, host_has("movbe") ? 1u : 0u, "byte_swapping_move"},
        {&SequenceGenerator::bit_manipulation, host_has("bmi") ? 4u : 0u, "bit_manipulation"},
        {&SequenceGenerator::sse_extension, host_has("sse4.2") ? 8u : 0u, "sse_extension"},
        {&SequenceGenerator::avx_vector, host_has("avx2") ? 10u : 0u, "avx_vector"},
        {&SequenceGenerator::fma_vector, host_has("fma") ? 3u : 0u, "fma_vector"},
        {&SequenceGenerator::f16c_vector, host_has("f16c") ? 1u : 0u, "f16c_vector"},
        {&SequenceGenerator::mmx_vector, 4, "mmx_vector"},
        {&SequenceGenerator::avx_scalar, host_has("avx2") ? 4u : 0u, "avx_scalar"},
        {&SequenceGenerator::avx_gather, host_has("avx2") ? 2u : 0u, "avx_gather"},
    };
    return table;
}

std::vector<std::pair<const char*, std::uint64_t>> SequenceGenerator::family_counts() const {
    std::vector<std::pair<const char*, std::uint64_t>> counts;
    for (std::size_t f = 0; f < families().size(); ++f)
        counts.emplace_back(families()[f].name,
                            f < m_family_counts.size() ? m_family_counts[f] : 0);
    return counts;
}

bool SequenceGenerator::restrict_to(const std::string& name) {
    for (const FamilyEntry& entry : families())
        if (name == entry.name && entry.weight != 0) {
            m_only_family = name;
            return true;
        }
    return false;
}

Sequence SequenceGenerator::generate(std::uint64_t seed, std::uint64_t index) {
    m_random.seed(mix(seed * 0x100000001b3 ^ mix(index)));
    Sequence sequence;
    MachineState& state = sequence.initial;
    for (auto& reg : state.gpr)
        reg = chance(50) ? interesting(8) : m_random();
    state.gpr[rsp_register] = layout::stack_top;
    state.gpr[data_base_register] = layout::data_base_register_value;
    state.rip = layout::code_address;
    state.rflags = 0x202 | (m_random() & flag::arithmetic);
    for (unsigned i = 0; i < 16; ++i) {
        const std::uint64_t kind = random(3);
        for (auto& half : state.xmm[i])
            half = kind == 0 ? m_random() : float_pattern(m_random, kind == 2);
    }
    // The YMM upper halves come from a generator of their own, so that the sequences of the
    // families older than AVX stay what they were for a seed.
    std::mt19937_64 upper_random(mix(seed * 0x100000001b3 ^ mix(index)) ^ 0x594d4d);
    for (auto& upper : state.ymm_upper)
        for (auto& half : upper)
            half = upper_random() % 3 == 0 ? upper_random()
                                           : float_pattern(upper_random, upper_random() % 2);
    for (std::size_t i = 0; i < state.data.size(); i += 8) {
        const std::uint64_t value = chance(30) ? float_pattern(m_random, chance(50)) : m_random();
        std::memcpy(&state.data[i], &value, 8);
    }

    InstructionEmitter emitter(sequence.code, layout::code_address);
    m_code = &sequence.code;
    m_emitter = &emitter;
    m_sequence = &sequence;
    m_undefined = 0;
    const auto weight_of = [this](const FamilyEntry& entry) {
        return m_only_family.empty() || m_only_family == entry.name ? entry.weight : 0u;
    };
    unsigned total_weight = 0;
    for (const FamilyEntry& entry : families())
        total_weight += weight_of(entry);
    const unsigned length = 1 + static_cast<unsigned>(random(m_max_length));
    for (unsigned i = 0; i < length; ++i) {
        auto pick = static_cast<unsigned>(random(total_weight));
        for (std::size_t f = 0; f < families().size(); ++f) {
            const FamilyEntry& entry = families()[f];
            if (pick < weight_of(entry)) {
                (this->*entry.family)();
                if (m_family_counts.size() < families().size())
                    m_family_counts.resize(families().size());
                ++m_family_counts[f];
                break;
            }
            pick -= weight_of(entry);
        }
    }
    sequence.terminator_address = emitter.next_address();
    note();
    emitter.raw({ud2_bytes[0], ud2_bytes[1]});
    return sequence;
}

} // namespace vessel::difftest
