// SequenceGenerator: random but valid user-mode x86-64 instruction sequences with their start
// state, and which arithmetic flags the SDM leaves undefined after each instruction.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "instruction_emitter.hpp"
#include "machine_state.hpp"

namespace vessel::difftest {

/// Arithmetic flag bits (Intel SDM Vol. 1, 3.4.3.1).
namespace flag {
constexpr std::uint64_t cf = 1u << 0, pf = 1u << 2, af = 1u << 4, zf = 1u << 6, sf = 1u << 7,
                        of = 1u << 11;
constexpr std::uint64_t arithmetic = cf | pf | af | zf | sf | of;
constexpr std::uint64_t df = 1u << 10, if_ = 1u << 9, iopl = 3u << 12, nt = 1u << 14, id = 1u << 21;
/// The RFLAGS bits compared between native and engine (minus undefined ones): RF and the
/// VM/VIF/VIP bits are left out (the kernel may set RF in a signal frame after a fault).
constexpr std::uint64_t compared = arithmetic | df | if_ | iopl | nt | id;
} // namespace flag

struct Sequence {
    std::vector<std::uint8_t> code; ///< ends with the terminating ud2
    std::uint64_t terminator_address{0};
    MachineState initial;
    /// Address of each instruction and the arithmetic flags undefined before it runs; the
    /// terminator's entry holds the flags undefined at the end.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> undefined_flags;

    std::uint64_t undefined_flags_at(std::uint64_t address) const;
};

/// A VEX vector instruction form (avx_families.cpp).
struct AvxVectorForm;

class SequenceGenerator {
  public:
    explicit SequenceGenerator(unsigned max_length) : m_max_length(max_length) {}

    /// The sequence for (seed, index): the same pair always gives the same sequence.
    Sequence generate(std::uint64_t seed, std::uint64_t index);
    /// Draws only the family called `name` (family_counts() lists the names); false when there
    /// is none by that name or the host cannot run it.
    bool restrict_to(const std::string& name);
    /// How often each family was drawn (one or a few instructions each) in the sequences so far.
    std::vector<std::pair<const char*, std::uint64_t>> family_counts() const;

  private:
    using Family = void (SequenceGenerator::*)();

    // ---- randomness ----
    std::uint64_t random(std::uint64_t bound) { return bound == 0 ? 0 : m_random() % bound; }
    bool chance(unsigned percent) { return random(100) < percent; }
    std::uint64_t interesting(unsigned size);
    unsigned pick_size();
    unsigned pick_wide_size(); ///< 2, 4 or 8

    // ---- operands ----
    /// Byte operands without REX can name ah..bh; with REX, spl..dil and r8b..r15b.
    unsigned destination_register(unsigned size, bool legacy_bytes);
    unsigned source_register(unsigned size, bool legacy_bytes);
    std::uint64_t data_target(unsigned size, unsigned alignment);
    RegisterOrMemory memory_operand(unsigned size, bool legacy_bytes, unsigned alignment = 1);
    RegisterOrMemory destination(unsigned size, bool legacy_bytes, unsigned alignment = 1);
    RegisterOrMemory source(unsigned size, bool legacy_bytes, unsigned alignment = 1);
    Encoding sized(unsigned size, std::vector<std::uint8_t> opcode, bool legacy_bytes);
    void set_register(unsigned reg, std::uint64_t value); ///< mov r64, imm64

    // ---- emission with undefined-flag bookkeeping ----
    void note();
    void emit(const Encoding& encoding);
    void emit_register_in_opcode(std::initializer_list<std::uint8_t> prefixes, bool rex_w,
                                 std::uint8_t opcode, unsigned reg, unsigned immediate_size = 0,
                                 std::uint64_t immediate = 0, bool force_rex = false);
    void raw(std::initializer_list<std::uint8_t> bytes);
    /// Makes the flags in `read` defined (emits a cmp) before an instruction that reads them.
    void require_flags(std::uint64_t read);
    /// The instruction writes every arithmetic flag; `undefined` ones get undefined values.
    void writes_flags(std::uint64_t undefined) { m_undefined = undefined; }

    // ---- instruction families (sequence_generator.cpp, integer_families.cpp, sse_families.cpp)
    void arithmetic_logic();
    void test_instruction();
    void unary();
    void multiply();
    void divide();
    void shift_rotate();
    void double_shift();
    void bit_test();
    void bit_scan();
    void byte_swap();
    void extend_move();
    void conditional();
    void load_effective_address();
    void exchange();
    void compare_exchange_wide();
    void sign_extend_accumulator();
    void string_operation();
    void push_pop();
    void flag_operation();
    void move();
    void sse_move();
    void sse_integer();
    void sse_shift_shuffle();
    void sse_float();
    void sse_convert();
    // extension_families.cpp (x86-64-v2 and later; drawn only where the host has them)
    void bit_count();
    void byte_swapping_move();
    void bit_manipulation();
    void sse_extension();
    // avx_families.cpp (x86-64-v3: VEX.128 and VEX.256, YMM upper halves, vzeroupper)
    void avx_vector();
    void fma_vector();
    void f16c_vector();
    void emit_avx(const AvxVectorForm& form);
    // avx_scalar_families.cpp (VEX forms with GPR or scalar operands, masked moves, gathers)
    void avx_scalar();
    void avx_masked_move();
    void avx_gather();
    // mmx_families.cpp (mm registers: MMX, the SSE/SSE2 mm forms, SSSE3's)
    void mmx_vector();
    void load_mm(unsigned reg);  ///< movd/movq from a general register or memory
    void store_mm(unsigned reg); ///< movd/movq/movntq/movq2dq to a register or memory
    /// Whether the host CPU has `feature` (popcnt, lzcnt, bmi, bmi2, movbe, sse4.2).
    static bool host_has(const char* feature);

    struct FamilyEntry {
        Family family;
        unsigned weight; ///< 0: not drawn (the host lacks the extension)
        const char* name;
    };
    static const std::vector<FamilyEntry>& families();
    std::vector<std::uint64_t> m_family_counts;
    std::string m_only_family; ///< restrict_to(); empty: every family

    unsigned m_max_length;
    std::mt19937_64 m_random;
    std::vector<std::uint8_t>* m_code{nullptr};
    InstructionEmitter* m_emitter{nullptr};
    Sequence* m_sequence{nullptr};
    std::uint64_t m_undefined{0};
};

} // namespace vessel::difftest
