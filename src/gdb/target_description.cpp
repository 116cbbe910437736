// x86-64 target description and the mapping between GDB's register numbers and CpuState.
#include "gdb/target_description.hpp"

#include <array>

#include <fmt/format.h>

#include "gdb/gdb_packet.hpp"

namespace vessel::gdb {

namespace {

// GDB's amd64 register order (gdb/features/i386/64bit-core.xml, 64bit-sse.xml,
// 64bit-segments.xml), then Vessel's system registers and 64bit-avx.xml; numbers are positions in
// this table.
constexpr std::array<RegisterInfo, 82> register_table{{
    {"rax", 64},     {"rbx", 64},     {"rcx", 64},     {"rdx", 64},     {"rsi", 64},
    {"rdi", 64},     {"rbp", 64},     {"rsp", 64},     {"r8", 64},      {"r9", 64},
    {"r10", 64},     {"r11", 64},     {"r12", 64},     {"r13", 64},     {"r14", 64},
    {"r15", 64},     {"rip", 64},     {"eflags", 32},  {"cs", 32},      {"ss", 32},
    {"ds", 32},      {"es", 32},      {"fs", 32},      {"gs", 32},      {"st0", 80},
    {"st1", 80},     {"st2", 80},     {"st3", 80},     {"st4", 80},     {"st5", 80},
    {"st6", 80},     {"st7", 80},     {"fctrl", 32},   {"fstat", 32},   {"ftag", 32},
    {"fiseg", 32},   {"fioff", 32},   {"foseg", 32},   {"fooff", 32},   {"fop", 32},
    {"xmm0", 128},   {"xmm1", 128},   {"xmm2", 128},   {"xmm3", 128},   {"xmm4", 128},
    {"xmm5", 128},   {"xmm6", 128},   {"xmm7", 128},   {"xmm8", 128},   {"xmm9", 128},
    {"xmm10", 128},  {"xmm11", 128},  {"xmm12", 128},  {"xmm13", 128},  {"xmm14", 128},
    {"xmm15", 128},  {"mxcsr", 32},   {"fs_base", 64}, {"gs_base", 64}, {"cr0", 64},
    {"cr2", 64},     {"cr3", 64},     {"cr4", 64},     {"cr8", 64},     {"efer", 64},
    {"xcr0", 64},    {"ymm0h", 128},  {"ymm1h", 128},  {"ymm2h", 128},  {"ymm3h", 128},
    {"ymm4h", 128},  {"ymm5h", 128},  {"ymm6h", 128},  {"ymm7h", 128},  {"ymm8h", 128},
    {"ymm9h", 128},  {"ymm10h", 128}, {"ymm11h", 128}, {"ymm12h", 128}, {"ymm13h", 128},
    {"ymm14h", 128}, {"ymm15h", 128},
}};

constexpr unsigned first_x87 = 24; ///< st0 .. fop: not kept (shown as unavailable)
constexpr unsigned first_xmm = 40, mxcsr_number = 56; ///< xmm0 .. xmm15, mxcsr: VectorRegisters
constexpr unsigned xcr0_number = 65;                  ///< org.vessel.x86.sys, after efer
constexpr unsigned first_ymm_upper = 66;              ///< ymm0h .. ymm15h (org.gnu.gdb.i386.avx)

/// GDB's register order of the general registers, as CpuState::gpr indexes.
constexpr std::array<int, 16> gpr_order{x86::rax, x86::rbx, x86::rcx, x86::rdx, x86::rsi, x86::rdi,
                                        x86::rbp, x86::rsp, x86::r8,  x86::r9,  x86::r10, x86::r11,
                                        x86::r12, x86::r13, x86::r14, x86::r15};

std::string build_xml() {
    std::string xml = R"(<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target version="1.0">
<architecture>i386:x86-64</architecture>
<feature name="org.gnu.gdb.i386.core">
<flags id="i386_eflags" size="4">
<field name="CF" start="0" end="0"/><field name="" start="1" end="1"/>
<field name="PF" start="2" end="2"/><field name="AF" start="4" end="4"/>
<field name="ZF" start="6" end="6"/><field name="SF" start="7" end="7"/>
<field name="TF" start="8" end="8"/><field name="IF" start="9" end="9"/>
<field name="DF" start="10" end="10"/><field name="OF" start="11" end="11"/>
<field name="NT" start="14" end="14"/><field name="RF" start="16" end="16"/>
<field name="VM" start="17" end="17"/><field name="AC" start="18" end="18"/>
<field name="VIF" start="19" end="19"/><field name="VIP" start="20" end="20"/>
<field name="ID" start="21" end="21"/>
</flags>
)";
    auto add = [&xml](unsigned number, std::string_view type, std::string_view group) {
        const RegisterInfo& info = register_table[number];
        xml += fmt::format(R"(<reg name="{}" bitsize="{}" type="{}" regnum="{}"{}/>)", info.name,
                           info.bits, type, number,
                           group.empty() ? "" : fmt::format(R"( group="{}")", group));
        xml += '\n';
    };
    for (unsigned number = 0; number < 16; ++number)
        add(number, number == 6 || number == 7 ? "data_ptr" : "int64", "");
    add(16, "code_ptr", "");
    add(17, "i386_eflags", "");
    for (unsigned number = 18; number < 24; ++number)
        add(number, "int32", "");
    for (unsigned number = 24; number < 32; ++number)
        add(number, "i387_ext", "");
    for (unsigned number = 32; number < 40; ++number)
        add(number, "int", "float");
    xml += R"(</feature>
<feature name="org.gnu.gdb.i386.sse">
<vector id="v4f" type="ieee_single" count="4"/>
<vector id="v2d" type="ieee_double" count="2"/>
<vector id="v16i8" type="int8" count="16"/>
<vector id="v8i16" type="int16" count="8"/>
<vector id="v4i32" type="int32" count="4"/>
<vector id="v2i64" type="int64" count="2"/>
<union id="vec128"><field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/>
<field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/>
<field name="v4_int32" type="v4i32"/><field name="v2_int64" type="v2i64"/>
<field name="uint128" type="uint128"/></union>
)";
    for (unsigned number = 40; number < 56; ++number)
        add(number, "vec128", "vector");
    add(56, "int", "vector");
    xml += "</feature>\n<feature name=\"org.gnu.gdb.i386.segments\">\n";
    add(57, "int", "");
    add(58, "int", "");
    xml += "</feature>\n<feature name=\"org.vessel.x86.sys\">\n";
    for (unsigned number = 59; number <= xcr0_number; ++number)
        add(number, "uint64", "system");
    // GDB's 64bit-avx.xml: the upper halves, which GDB joins with xmmN into its $ymmN.
    xml += "</feature>\n<feature name=\"org.gnu.gdb.i386.avx\">\n";
    for (unsigned number = first_ymm_upper; number < register_table.size(); ++number)
        add(number, "uint128", "");
    xml += "</feature>\n</target>\n";
    return xml;
}

std::uint64_t* system_register(x86::CpuState& state, unsigned number) {
    switch (number) {
    case 57:
        return &state.fs.base;
    case 58:
        return &state.gs.base;
    case 59:
        return &state.cr0;
    case 60:
        return &state.cr2;
    case 61:
        return &state.cr3;
    case 62:
        return &state.cr4;
    case 63:
        return &state.cr8;
    case 64:
        return &state.efer;
    default:
        return nullptr;
    }
}

x86::SegmentRegister* segment_register(x86::CpuState& state, unsigned number) {
    switch (number) {
    case 18:
        return &state.cs;
    case 19:
        return &state.ss;
    case 20:
        return &state.ds;
    case 21:
        return &state.es;
    case 22:
        return &state.fs;
    case 23:
        return &state.gs;
    default:
        return nullptr;
    }
}

/// The 128-bit vector register `number` stands for (xmmN or ymmNh), or nullptr.
std::array<std::uint64_t, 2>* vector_register(VectorRegisters& vectors, unsigned number) {
    if (number >= first_xmm && number < first_xmm + 16) return &vectors.xmm[number - first_xmm];
    if (number >= first_ymm_upper && number < first_ymm_upper + 16)
        return &vectors.ymm_upper[number - first_ymm_upper];
    return nullptr;
}

bool is_vector_state(unsigned number) {
    return (number >= first_xmm && number <= mxcsr_number) || number == xcr0_number ||
           number >= first_ymm_upper;
}

} // namespace

std::span<const RegisterInfo> registers() {
    return register_table;
}

const std::string& target_xml() {
    static const std::string xml = build_xml();
    return xml;
}

Result<std::string> read_register(const RegisterFile& registers, unsigned number) {
    if (number >= register_table.size())
        return make_error("register {} does not exist (the description has {})", number,
                          register_table.size());
    x86::CpuState state = registers.state; // the lookups below hand out mutable pointers
    const unsigned bytes = register_table[number].bits / 8;
    if (registers.vectors && is_vector_state(number)) {
        VectorRegisters vectors = *registers.vectors;
        if (number == mxcsr_number) return hex_little_endian(vectors.mxcsr, 4);
        if (number == xcr0_number) return hex_little_endian(vectors.xcr0, 8);
        const auto& halves = *vector_register(vectors, number);
        return hex_little_endian(halves[0], 8) + hex_little_endian(halves[1], 8);
    }
    if (number < 16) return hex_little_endian(state.gpr[gpr_order[number]], 8);
    if (number == 16) return hex_little_endian(state.rip, 8);
    if (number == 17) return hex_little_endian(state.rflags, 4);
    if (auto* segment = segment_register(state, number))
        return hex_little_endian(segment->selector, 4);
    if (auto* value = system_register(state, number)) return hex_little_endian(*value, 8);
    return std::string(bytes * 2, 'x'); // x87/SSE: unavailable
}

Result<void> write_register(RegisterFile& registers, unsigned number, std::string_view hex) {
    x86::CpuState& state = registers.state;
    if (number >= register_table.size())
        return make_error("register {} does not exist (the description has {})", number,
                          register_table.size());
    const unsigned bytes = register_table[number].bits / 8;
    if (hex.size() != bytes * 2)
        return make_error("register {} ({}) takes {} hex digits, not {}", number,
                          register_table[number].name, bytes * 2, hex.size());
    if (hex.find('x') != std::string_view::npos) return {};       // "unavailable": unchanged
    if (is_vector_state(number) && !registers.vectors) return {}; // not offered: ignored
    if (number >= first_x87 && number < first_xmm) return {};     // x87: not kept, ignored
    auto data = TRY(from_hex(hex));
    if (is_vector_state(number)) {
        VectorRegisters& vectors = *registers.vectors;
        std::uint64_t low = 0, high = 0;
        for (unsigned i = 0; i < data.size() && i < 16; ++i)
            (i < 8 ? low : high) |= std::uint64_t{data[i]} << (8 * (i % 8));
        if (number == mxcsr_number)
            vectors.mxcsr = static_cast<std::uint32_t>(low);
        else if (number == xcr0_number)
            vectors.xcr0 = low; // the engine refuses a change when the registers are set
        else
            *vector_register(vectors, number) = {low, high};
        return {};
    }
    std::uint64_t value = 0;
    for (unsigned i = 0; i < data.size() && i < 8; ++i)
        value |= std::uint64_t{data[i]} << (8 * i);
    if (number < 16) {
        state.gpr[gpr_order[number]] = value;
    } else if (number == 16) {
        state.rip = value;
    } else if (number == 17) {
        state.rflags = value | x86::rflags::fixed1;
    } else if (auto* segment = segment_register(state, number)) {
        // Only the selector: the descriptor cache stays as the guest loaded it.
        segment->selector = static_cast<std::uint16_t>(value);
    } else if (auto* target = system_register(state, number)) {
        *target = value;
    }
    return {};
}

std::string read_all_registers(const RegisterFile& registers) {
    std::string out;
    for (unsigned number = 0; number < register_table.size(); ++number)
        out += *read_register(registers, number);
    return out;
}

Result<void> write_all_registers(RegisterFile& registers, std::string_view hex) {
    std::size_t expected = 0;
    for (const RegisterInfo& info : register_table)
        expected += info.bits / 4;
    if (hex.size() != expected)
        return make_error("G packet has {} hex digits; the registers take {}", hex.size(),
                          expected);
    RegisterFile updated = registers;
    std::size_t offset = 0;
    for (unsigned number = 0; number < register_table.size(); ++number) {
        const std::size_t digits = register_table[number].bits / 4;
        TRY(write_register(updated, number, hex.substr(offset, digits)));
        offset += digits;
    }
    registers = updated;
    return {};
}

} // namespace vessel::gdb
