// InstructionEmitter: encodes x86-64 instructions (prefixes, REX, opcode, ModRM/SIB, immediate).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

namespace vessel::difftest {

/// A register or a memory operand for the ModRM r/m field.
struct RegisterOrMemory {
    bool is_memory{false};
    unsigned reg{0}; ///< register number (0-15) when not memory
    // Memory: [base + index * scale + displacement], or [rip + target - next instruction].
    bool rip_relative{false};
    std::optional<unsigned> base;
    std::optional<unsigned> index; ///< never 4 (rsp cannot be an index)
    unsigned scale{1};
    std::int64_t displacement{0}; ///< for rip_relative: the absolute target address

    static RegisterOrMemory register_operand(unsigned number) {
        RegisterOrMemory operand;
        operand.reg = number;
        return operand;
    }
    static RegisterOrMemory absolute(std::uint64_t address) {
        RegisterOrMemory operand;
        operand.is_memory = true;
        operand.displacement = static_cast<std::int64_t>(address);
        return operand;
    }
    static RegisterOrMemory rip_target(std::uint64_t address) {
        RegisterOrMemory operand = absolute(address);
        operand.rip_relative = true;
        return operand;
    }
    static RegisterOrMemory based(unsigned base_register, std::int64_t displacement) {
        RegisterOrMemory operand;
        operand.is_memory = true;
        operand.base = base_register;
        operand.displacement = displacement;
        return operand;
    }
};

/// A three-byte VEX prefix (Intel SDM Vol. 2, 2.3.5): it replaces REX and the 0F escapes.
struct Vex {
    unsigned map;     ///< 1: 0F, 2: 0F 38, 3: 0F 3A
    unsigned pp;      ///< implied prefix: 0 none, 1 66, 2 F3, 3 F2
    bool l{false};    ///< 256-bit vector length
    unsigned vvvv{0}; ///< the extra register operand (stored inverted)
};

/// One instruction in the common "prefixes [REX] opcode ModRM [SIB] [disp] [imm]" shape.
struct Encoding {
    std::vector<std::uint8_t> prefixes; ///< legacy prefixes (66, F2, F3, F0, 67), in order
    bool rex_w{false};
    bool force_rex{false}; ///< emit REX even when no bit is set (spl/bpl/sil/dil)
    std::vector<std::uint8_t> opcode;
    unsigned reg_field{0}; ///< register number or opcode extension (/digit)
    RegisterOrMemory rm;
    unsigned immediate_size{0}; ///< bytes
    std::uint64_t immediate{0};
    /// VEX-encoded: `opcode` is the byte after the VEX prefix; rex_w is VEX.W.
    std::optional<Vex> vex;
};

class InstructionEmitter {
  public:
    InstructionEmitter(std::vector<std::uint8_t>& code, std::uint64_t code_address)
        : m_code(code), m_code_address(code_address) {}

    /// The address the next instruction will start at.
    std::uint64_t next_address() const { return m_code_address + m_code.size(); }

    void emit(const Encoding& encoding);
    /// "prefixes [REX] opcode+reg [imm]" forms (push/pop/bswap/mov r,imm/xchg eax,r).
    void emit_register_in_opcode(std::initializer_list<std::uint8_t> prefixes, bool rex_w,
                                 std::uint8_t opcode, unsigned reg, unsigned immediate_size = 0,
                                 std::uint64_t immediate = 0, bool force_rex = false);
    void raw(std::initializer_list<std::uint8_t> bytes) {
        m_code.insert(m_code.end(), bytes.begin(), bytes.end());
    }

  private:
    void immediate(unsigned size, std::uint64_t value);

    std::vector<std::uint8_t>& m_code;
    std::uint64_t m_code_address;
};

} // namespace vessel::difftest
