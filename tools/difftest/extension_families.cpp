// SequenceGenerator: the x86-64-v2 and later families the software CPU's "max" model implements:
// popcnt/lzcnt/tzcnt, movbe, BMI1/BMI2 (VEX), and SSE3, SSSE3, SSE4.1, SSE4.2 (crc32 and the
// string compares included). Each family is drawn only when the host CPU has the extension.
#include "sequence_generator.hpp"

namespace vessel::difftest {

namespace {

constexpr unsigned any = 1, aligned = 16;
constexpr std::uint64_t cf = flag::cf, pf = flag::pf, af = flag::af, sf = flag::sf, of = flag::of;

/// A legacy-SSE form with a mandatory prefix and an opcode after 0F (one or two bytes).
struct ExtensionForm {
    std::uint8_t prefix;
    std::uint8_t escape; ///< 0x38, 0x3a, or 0 for a two-byte 0F xx opcode
    std::uint8_t opcode;
    unsigned memory_size; ///< 0: registers only
    unsigned alignment;
    unsigned immediate_bound{0}; ///< imm8 drawn below this; 0: no immediate
    bool memory_only{false};
    bool writes_flags{false}; ///< ptest, pcmpXstrX: every arithmetic flag defined
};

const ExtensionForm forms[] = {
    // SSE3
    {0xf2, 0, 0x7c, 16, aligned},      // haddps
    {0x66, 0, 0x7c, 16, aligned},      // haddpd
    {0xf2, 0, 0x7d, 16, aligned},      // hsubps
    {0x66, 0, 0x7d, 16, aligned},      // hsubpd
    {0xf2, 0, 0xd0, 16, aligned},      // addsubps
    {0x66, 0, 0xd0, 16, aligned},      // addsubpd
    {0xf2, 0, 0x12, 8, any},           // movddup
    {0xf3, 0, 0x16, 16, aligned},      // movshdup
    {0xf3, 0, 0x12, 16, aligned},      // movsldup
    {0xf2, 0, 0xf0, 16, any, 0, true}, // lddqu
    // SSSE3
    {0x66, 0x38, 0x00, 16, aligned},      // pshufb
    {0x66, 0x38, 0x01, 16, aligned},      // phaddw
    {0x66, 0x38, 0x02, 16, aligned},      // phaddd
    {0x66, 0x38, 0x03, 16, aligned},      // phaddsw
    {0x66, 0x38, 0x04, 16, aligned},      // pmaddubsw
    {0x66, 0x38, 0x05, 16, aligned},      // phsubw
    {0x66, 0x38, 0x06, 16, aligned},      // phsubd
    {0x66, 0x38, 0x07, 16, aligned},      // phsubsw
    {0x66, 0x38, 0x08, 16, aligned},      // psignb
    {0x66, 0x38, 0x09, 16, aligned},      // psignw
    {0x66, 0x38, 0x0a, 16, aligned},      // psignd
    {0x66, 0x38, 0x0b, 16, aligned},      // pmulhrsw
    {0x66, 0x38, 0x1c, 16, aligned},      // pabsb
    {0x66, 0x38, 0x1d, 16, aligned},      // pabsw
    {0x66, 0x38, 0x1e, 16, aligned},      // pabsd
    {0x66, 0x3a, 0x0f, 16, aligned, 256}, // palignr
    // SSE4.1
    {0x66, 0x38, 0x10, 16, aligned},                 // pblendvb (xmm0)
    {0x66, 0x38, 0x14, 16, aligned},                 // blendvps
    {0x66, 0x38, 0x15, 16, aligned},                 // blendvpd
    {0x66, 0x38, 0x17, 16, aligned, 0, false, true}, // ptest
    {0x66, 0x38, 0x20, 8, any},                      // pmovsxbw
    {0x66, 0x38, 0x21, 4, any},                      // pmovsxbd
    {0x66, 0x38, 0x22, 2, any},                      // pmovsxbq
    {0x66, 0x38, 0x23, 8, any},                      // pmovsxwd
    {0x66, 0x38, 0x24, 4, any},                      // pmovsxwq
    {0x66, 0x38, 0x25, 8, any},                      // pmovsxdq
    {0x66, 0x38, 0x28, 16, aligned},                 // pmuldq
    {0x66, 0x38, 0x29, 16, aligned},                 // pcmpeqq
    {0x66, 0x38, 0x2a, 16, aligned, 0, true},        // movntdqa
    {0x66, 0x38, 0x2b, 16, aligned},                 // packusdw
    {0x66, 0x38, 0x30, 8, any},                      // pmovzxbw
    {0x66, 0x38, 0x31, 4, any},                      // pmovzxbd
    {0x66, 0x38, 0x32, 2, any},                      // pmovzxbq
    {0x66, 0x38, 0x33, 8, any},                      // pmovzxwd
    {0x66, 0x38, 0x34, 4, any},                      // pmovzxwq
    {0x66, 0x38, 0x35, 8, any},                      // pmovzxdq
    {0x66, 0x38, 0x37, 16, aligned},                 // pcmpgtq (SSE4.2)
    {0x66, 0x38, 0x38, 16, aligned},                 // pminsb
    {0x66, 0x38, 0x39, 16, aligned},                 // pminsd
    {0x66, 0x38, 0x3a, 16, aligned},                 // pminuw
    {0x66, 0x38, 0x3b, 16, aligned},                 // pminud
    {0x66, 0x38, 0x3c, 16, aligned},                 // pmaxsb
    {0x66, 0x38, 0x3d, 16, aligned},                 // pmaxsd
    {0x66, 0x38, 0x3e, 16, aligned},                 // pmaxuw
    {0x66, 0x38, 0x3f, 16, aligned},                 // pmaxud
    {0x66, 0x38, 0x40, 16, aligned},                 // pmulld
    {0x66, 0x38, 0x41, 16, aligned},                 // phminposuw
    {0x66, 0x3a, 0x08, 16, aligned, 16},             // roundps
    {0x66, 0x3a, 0x09, 16, aligned, 16},             // roundpd
    {0x66, 0x3a, 0x0a, 4, any, 16},                  // roundss
    {0x66, 0x3a, 0x0b, 8, any, 16},                  // roundsd
    {0x66, 0x3a, 0x0c, 16, aligned, 256},            // blendps
    {0x66, 0x3a, 0x0d, 16, aligned, 256},            // blendpd
    {0x66, 0x3a, 0x0e, 16, aligned, 256},            // pblendw
    {0x66, 0x3a, 0x21, 4, any, 256},                 // insertps
    {0x66, 0x3a, 0x40, 16, aligned, 256},            // dpps
    {0x66, 0x3a, 0x41, 16, aligned, 256},            // dppd
    {0x66, 0x3a, 0x42, 16, aligned, 256},            // mpsadbw
    // SSE4.2 string compares (any alignment)
    {0x66, 0x3a, 0x60, 16, any, 128, false, true}, // pcmpestrm
    {0x66, 0x3a, 0x61, 16, any, 128, false, true}, // pcmpestri
    {0x66, 0x3a, 0x62, 16, any, 128, false, true}, // pcmpistrm
    {0x66, 0x3a, 0x63, 16, any, 128, false, true}, // pcmpistri
};

Encoding form_encoding(const ExtensionForm& form) {
    Encoding encoding;
    encoding.prefixes.push_back(form.prefix);
    encoding.opcode = {0x0f};
    if (form.escape != 0) encoding.opcode.push_back(form.escape);
    encoding.opcode.push_back(form.opcode);
    return encoding;
}

} // namespace

bool SequenceGenerator::host_has(const char* feature) {
    __builtin_cpu_init();
    // __builtin_cpu_supports wants a literal; the few names used here are listed.
    const std::string_view name{feature};
    if (name == "popcnt") return __builtin_cpu_supports("popcnt");
    if (name == "lzcnt") return __builtin_cpu_supports("abm") || __builtin_cpu_supports("lzcnt");
    if (name == "bmi") return __builtin_cpu_supports("bmi");
    if (name == "bmi2") return __builtin_cpu_supports("bmi2");
    if (name == "movbe") return __builtin_cpu_supports("movbe");
    if (name == "sse4.2") return __builtin_cpu_supports("sse4.2");
    if (name == "ssse3") return __builtin_cpu_supports("ssse3");
    if (name == "avx2") return __builtin_cpu_supports("avx2");
    if (name == "fma") return __builtin_cpu_supports("fma");
    if (name == "f16c") {
        unsigned eax = 1, ebx = 0, ecx = 0, edx = 0;
        asm volatile("cpuid" : "+a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "c"(0));
        return __builtin_cpu_supports("avx") && ((ecx >> 29) & 1);
    }
    return false;
}

void SequenceGenerator::bit_count() {
    // popcnt F3 0F B8, tzcnt F3 0F BC, lzcnt F3 0F BD.
    static const std::uint8_t opcodes[] = {0xb8, 0xbc, 0xbd};
    const std::uint8_t opcode = opcodes[random(3)];
    const unsigned size = pick_wide_size();
    Encoding encoding = sized(size, {0x0f, opcode}, false);
    encoding.prefixes.push_back(0xf3); // the mandatory prefix goes last, after 66
    encoding.rm = source(size, false);
    encoding.reg_field = destination_register(size, false);
    emit(encoding);
    writes_flags(opcode == 0xb8 ? 0 : of | sf | af | pf);
}

void SequenceGenerator::byte_swapping_move() {
    // movbe r, m (0F 38 F0) and movbe m, r (0F 38 F1).
    const unsigned size = pick_wide_size();
    const bool load = chance(50);
    Encoding encoding =
        sized(size, {0x0f, 0x38, static_cast<std::uint8_t>(load ? 0xf0 : 0xf1)}, false);
    encoding.reg_field = load ? destination_register(size, false) : source_register(size, false);
    encoding.rm = memory_operand(size, false);
    emit(encoding);
}

void SequenceGenerator::bit_manipulation() {
    // VEX.LZ.0F38 (map 2) / 0F3A (map 3) GPR forms (Intel SDM Vol. 2, BMI1/BMI2).
    struct VexForm {
        std::uint8_t map, pp, opcode;
        int extension; ///< ModRM.reg opcode extension (blsi/blsmsk/blsr) or -1
        bool vvvv_destination, vvvv_used, immediate;
        std::uint64_t undefined;
    };
    static const VexForm bmi_forms[] = {
        {2, 0, 0xf2, -1, false, true, false, af | pf},      // andn r, v, r/m
        {2, 0, 0xf7, -1, false, true, false, af | sf | pf}, // bextr r, r/m, v
        {2, 0, 0xf3, 3, true, true, false, af | pf},        // blsi v, r/m
        {2, 0, 0xf3, 2, true, true, false, af | pf},        // blsmsk v, r/m
        {2, 0, 0xf3, 1, true, true, false, af | pf},        // blsr v, r/m
        {2, 0, 0xf5, -1, false, true, false, af | pf},      // bzhi r, r/m, v
        {2, 3, 0xf5, -1, false, true, false, 0},            // pdep r, v, r/m
        {2, 2, 0xf5, -1, false, true, false, 0},            // pext r, v, r/m
        {2, 3, 0xf6, -1, true, true, false, 0},             // mulx r, v, r/m (rdx)
        {3, 3, 0xf0, -1, false, false, true, 0},            // rorx r, r/m, imm8
        {2, 2, 0xf7, -1, false, true, false, 0},            // sarx r, r/m, v
        {2, 1, 0xf7, -1, false, true, false, 0},            // shlx r, r/m, v
        {2, 3, 0xf7, -1, false, true, false, 0},            // shrx r, r/m, v
    };
    const VexForm& form = bmi_forms[random(std::size(bmi_forms))];
    const bool bmi1 =
        form.opcode == 0xf2 || form.opcode == 0xf3 || (form.opcode == 0xf7 && form.pp == 0);
    if (!host_has(bmi1 ? "bmi" : "bmi2")) return;
    const unsigned size = chance(50) ? 8 : 4;
    Encoding encoding;
    encoding.rex_w = size == 8;
    encoding.opcode = {form.opcode};
    encoding.vex = Vex{form.map, form.pp, false,
                       form.vvvv_used ? (form.vvvv_destination ? destination_register(size, false)
                                                               : source_register(size, false))
                                      : 0};
    encoding.reg_field = form.extension >= 0 ? static_cast<unsigned>(form.extension)
                                             : destination_register(size, false);
    encoding.rm = source(size, false);
    if (form.immediate) {
        encoding.immediate_size = 1;
        encoding.immediate = random(256);
    }
    emit(encoding);
    // The flag-writing forms are the ones without an implied prefix: andn, bextr, bls*, bzhi.
    if (form.pp == 0) writes_flags(form.undefined);
}

void SequenceGenerator::sse_extension() {
    if (chance(15)) {
        // crc32 r32/r64, r/m8 (F2 0F 38 F0) or r/m16/32/64 (F2 [66] 0F 38 F1).
        const unsigned size = pick_size();
        Encoding encoding =
            sized(size, {0x0f, 0x38, static_cast<std::uint8_t>(size == 1 ? 0xf0 : 0xf1)}, false);
        encoding.prefixes.push_back(0xf2);
        if (size == 1 && chance(50)) encoding.rex_w = true; // crc32 r64, r/m8
        encoding.reg_field = destination_register(encoding.rex_w ? 8 : 4, false);
        encoding.rm = source(size, false);
        emit(encoding);
        return;
    }
    if (chance(15)) {
        // pextrb/w/d/q, extractps (66 0F 3A 14-17) and pinsrb/d/q (20, 22).
        static const std::uint8_t opcodes[] = {0x14, 0x15, 0x16, 0x17, 0x20, 0x22};
        const std::uint8_t opcode = opcodes[random(std::size(opcodes))];
        const bool wide = (opcode == 0x16 || opcode == 0x22) && chance(50);
        const unsigned size = opcode == 0x14 || opcode == 0x20 ? 1
                              : opcode == 0x15                 ? 2
                              : wide                           ? 8
                                                               : 4;
        Encoding encoding = form_encoding({0x66, 0x3a, opcode, 0, 0});
        encoding.rex_w = wide;
        encoding.reg_field = static_cast<unsigned>(random(16));
        const bool insert = opcode >= 0x20;
        if (chance(40))
            encoding.rm = memory_operand(size, false);
        else
            encoding.rm = RegisterOrMemory::register_operand(
                insert ? source_register(8, false) : destination_register(8, false));
        encoding.immediate_size = 1;
        encoding.immediate = random(256);
        emit(encoding);
        return;
    }
    const ExtensionForm& form = forms[random(std::size(forms))];
    Encoding encoding = form_encoding(form);
    encoding.reg_field = static_cast<unsigned>(random(16));
    encoding.rm = form.memory_only || chance(30)
                      ? memory_operand(form.memory_size, false, form.alignment)
                      : RegisterOrMemory::register_operand(static_cast<unsigned>(random(16)));
    if (form.immediate_bound != 0) {
        encoding.immediate_size = 1;
        encoding.immediate = random(form.immediate_bound);
    }
    if ((form.opcode == 0x60 || form.opcode == 0x61) && form.escape == 0x3a && chance(50))
        encoding.rex_w = true; // pcmpestr with 64-bit lengths
    emit(encoding);
    if (form.writes_flags) writes_flags(0);
}

} // namespace vessel::difftest
