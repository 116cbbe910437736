/* legacy32: instructions only 16/32-bit code has (daa das aaa aas aam aad salc bound arpl) and
   the x87 beyond the basics (transcendentals, fscale, fxtract, fprem, fxam, fcmov, ficom,
   fnstenv/fldenv, fnsave/frstor, fbld/fbstp), plus #UD for xgetbv without CR4.OSXSAVE.
   The BCD results are checked against the Intel SDM pseudocode written out in C below. */
#include "guest.h"

#define VECTOR_DE 0
#define VECTOR_BR 5
#define VECTOR_UD 6
#define FLAG_CF 0x001u
#define FLAG_PF 0x004u
#define FLAG_AF 0x010u
#define FLAG_ZF 0x040u
#define FLAG_SF 0x080u
#define X87_C0 0x0100u
#define X87_C1 0x0200u
#define X87_C2 0x0400u
#define X87_C3 0x4000u
#define X87_CONDITIONS (X87_C0 | X87_C1 | X87_C2 | X87_C3)

enum adjust { DAA, DAS, AAA, AAS };
static const char* const adjust_names[] = {"daa", "das", "aaa", "aas"};

static uint32_t szp(uint8_t value) {
    uint32_t flags = 0;
    if (value == 0) flags |= FLAG_ZF;
    if (value & 0x80) flags |= FLAG_SF;
    if (!__builtin_parity(value)) flags |= FLAG_PF;
    return flags;
}

/* Intel SDM Vol. 2 pseudocode; returns AX and sets *flags to the defined flags. */
static uint16_t reference_adjust(enum adjust kind, uint16_t ax, uint32_t in_flags,
                                 uint32_t* flags) {
    uint8_t al = (uint8_t)ax, ah = (uint8_t)(ax >> 8);
    bool cf = in_flags & FLAG_CF, af = in_flags & FLAG_AF;
    if (kind == DAA || kind == DAS) {
        uint8_t old_al = al;
        bool old_cf = cf, carry = false, adjust = false;
        if ((al & 0xf) > 9 || af) {
            carry = old_cf || (kind == DAA ? al > 0xf9 : al < 6);
            al = (uint8_t)(kind == DAA ? al + 6 : al - 6);
            adjust = true;
        }
        if (old_al > 0x99 || old_cf) {
            al = (uint8_t)(kind == DAA ? al + 0x60 : al - 0x60);
            carry = true;
        }
        *flags = szp(al) | (carry ? FLAG_CF : 0) | (adjust ? FLAG_AF : 0);
        return (uint16_t)(ah << 8 | al);
    }
    bool adjust = (al & 0xf) > 9 || af;
    if (adjust) {
        if (kind == AAA) {
            ax = (uint16_t)(ax + 0x106);
        } else { /* AX := AX - 6; AH := AH - 1 (the borrow reaches AH too) */
            ax = (uint16_t)(ax - 6);
            ax = (uint16_t)(ax - 0x100);
        }
    }
    ax &= 0xff0f;
    *flags = adjust ? FLAG_CF | FLAG_AF : 0;
    return ax;
}

static uint16_t run_adjust(enum adjust kind, uint16_t ax, uint32_t in_flags, uint32_t* flags) {
    uint32_t eax = ax, out;
    switch (kind) {
    case DAA:
        __asm__ volatile("pushl %2; popfl; daa; pushfl; popl %1"
                         : "+a"(eax), "=r"(out)
                         : "r"(in_flags));
        break;
    case DAS:
        __asm__ volatile("pushl %2; popfl; das; pushfl; popl %1"
                         : "+a"(eax), "=r"(out)
                         : "r"(in_flags));
        break;
    case AAA:
        __asm__ volatile("pushl %2; popfl; aaa; pushfl; popl %1"
                         : "+a"(eax), "=r"(out)
                         : "r"(in_flags));
        break;
    case AAS:
        __asm__ volatile("pushl %2; popfl; aas; pushfl; popl %1"
                         : "+a"(eax), "=r"(out)
                         : "r"(in_flags));
        break;
    }
    *flags = out;
    return (uint16_t)eax;
}

static void decimal_adjust(void) {
    static const uint16_t inputs[] = {0x0000, 0x0009, 0x000a, 0x0f9a, 0x0099, 0x009a,
                                      0x00ff, 0x1234, 0x0a0f, 0x00f9, 0x0005, 0xff06};
    static const uint32_t input_flags[] = {0, FLAG_CF, FLAG_AF, FLAG_CF | FLAG_AF};
    int mismatches = 0;
    for (int kind = DAA; kind <= AAS; ++kind) {
        /* OF is undefined after all four; SF, ZF and PF after aaa/aas. */
        uint32_t defined =
            kind <= DAS ? FLAG_CF | FLAG_AF | FLAG_SF | FLAG_ZF | FLAG_PF : FLAG_CF | FLAG_AF;
        for (unsigned i = 0; i < sizeof inputs / sizeof inputs[0]; ++i) {
            for (unsigned f = 0; f < 4; ++f) {
                uint32_t want_flags, got_flags;
                uint16_t want = reference_adjust(kind, inputs[i], input_flags[f], &want_flags);
                uint16_t got = run_adjust(kind, inputs[i], input_flags[f] | 0x2, &got_flags);
                if (want != got || (want_flags & defined) != (got_flags & defined)) {
                    if (mismatches++ < 4)
                        fail(adjust_names[kind],
                             "ax 0x%x flags 0x%x: got ax 0x%x flags 0x%x, want ax 0x%x flags 0x%x",
                             inputs[i], input_flags[f], got, got_flags & defined, want,
                             want_flags & defined);
                }
            }
        }
    }
    check(mismatches == 0, "daa/das/aaa/aas match the SDM pseudocode");
}

static void ascii_multiply_divide(void) {
    uint32_t eax = 0x00ff;
    __asm__ volatile("aam" : "+a"(eax));
    check_eq("aam: 255 -> AH 25 AL 5", eax & 0xffff, 0x1905);
    eax = 0x00ff;
    __asm__ volatile("aam $16" : "+a"(eax));
    check_eq("aam 16: 0xff -> 0x0f0f", eax & 0xffff, 0x0f0f);
    eax = 0x0907;
    __asm__ volatile("aad" : "+a"(eax));
    check_eq("aad: AH 9 AL 7 -> 97", eax & 0xffff, 97);
    eax = 0x0203;
    __asm__ volatile("aad $16" : "+a"(eax));
    check_eq("aad 16: 0x0203 -> 0x23", eax & 0xffff, 0x23);
    uint32_t al_set, al_clear;
    __asm__ volatile("stc; .byte 0xd6" : "=a"(al_set)); /* salc */
    __asm__ volatile("clc; .byte 0xd6" : "=a"(al_clear));
    check_eq("salc with CF set", al_set & 0xff, 0xff);
    check_eq("salc with CF clear", al_clear & 0xff, 0);

    uint32_t fault_eip;
    trap_reset();
    eax = 0x55;
    __asm__ volatile("movl $1f, %[resume]\n\t"
                     "movl $0f, %[at]\n"
                     "0:\t.byte 0xd4, 0x00\n" /* aam 0 */
                     "1:"
                     : [resume] "=m"(trap_resume_eip), [at] "=m"(fault_eip), "+a"(eax)
                     :
                     : "memory");
    check(trap_last.count == 1 && trap_last.vector == VECTOR_DE && trap_last.eip == fault_eip,
          "aam 0 raises #DE at the instruction");
}

static void bound_and_arpl(void) {
    static volatile int32_t bounds[2] = {-5, 10};
    uint32_t fault_eip;
    trap_reset();
    int32_t index = 10;
    __asm__ volatile("boundl %0, %1" : : "r"(index), "m"(bounds) : "memory");
    index = -5;
    __asm__ volatile("boundl %0, %1" : : "r"(index), "m"(bounds) : "memory");
    check(trap_last.count == 0, "bound within [-5, 10] does not trap");
    index = 11;
    __asm__ volatile("movl $1f, %[resume]\n\t"
                     "movl $0f, %[at]\n"
                     "0:\tboundl %[index], %[bounds]\n"
                     "1:"
                     : [resume] "=m"(trap_resume_eip), [at] "=m"(fault_eip)
                     : [index] "r"(index), [bounds] "m"(bounds)
                     : "memory");
    check(trap_last.count == 1 && trap_last.vector == VECTOR_BR && trap_last.eip == fault_eip,
          "bound 11 outside [-5, 10] raises #BR at the instruction");

    uint16_t selector = 0x0010;
    uint32_t flags;
    __asm__ volatile("arpl %2, %0; pushfl; popl %1"
                     : "+r"(selector), "=r"(flags)
                     : "r"((uint16_t)0x0003));
    check(selector == 0x0013 && (flags & FLAG_ZF), "arpl raises RPL 0 to 3 and sets ZF");
    __asm__ volatile("arpl %2, %0; pushfl; popl %1"
                     : "+r"(selector), "=r"(flags)
                     : "r"((uint16_t)0x0001));
    check(selector == 0x0013 && !(flags & FLAG_ZF), "arpl leaves RPL 3 against 1 and clears ZF");
}

/* Runs `body` (x87 code leaving one value in ST(0)) then scales by `scale` and stores it as a
   rounded 32-bit integer, so the check does not depend on the last bits of the 80-bit result. */
#define X87_SCALED(body, scale, out)                                                               \
    do {                                                                                           \
        static volatile int32_t scale_value = (scale);                                             \
        __asm__ volatile("fninit\n\t" body "\n\tfimull %1\n\tfistpl %0"                            \
                         : "=m"(out)                                                               \
                         : "m"(scale_value), [half] "m"(half), [two] "m"(two), [one] "m"(one),     \
                           [three] "m"(three), [ten] "m"(ten), [quarter] "m"(quarter)              \
                         : "memory");                                                              \
    } while (0)

static volatile float quarter = 0.25f, half = 0.5f, two = 2.0f, one = 1.0f, three = 3.0f,
                      ten = 10.0f;

static void x87_transcendentals(void) {
    int32_t result;
    X87_SCALED("flds %[half]\n\tfsin", 1000000000, result);
    check_eq("fsin(0.5) * 1e9", (uint32_t)result, 479425539);
    X87_SCALED("flds %[half]\n\tfcos", 1000000000, result);
    check_eq("fcos(0.5) * 1e9", (uint32_t)result, 877582562);
    X87_SCALED("flds %[half]\n\tfsincos\n\tfstp %%st(0)", 1000000000, result); /* drop cos */
    check_eq("fsincos(0.5): sin below cos", (uint32_t)result, 479425539);
    X87_SCALED("flds %[half]\n\tfptan\n\tfstp %%st(0)", 1000000000, result); /* drop 1.0 */
    check_eq("fptan(0.5) * 1e9", (uint32_t)result, 546302490);
    X87_SCALED("flds %[one]\n\tflds %[two]\n\tfpatan", 1000000000, result);
    check_eq("fpatan(1 / 2) * 1e9", (uint32_t)result, 463647609);
    X87_SCALED("flds %[half]\n\tf2xm1", 1000000000, result);
    check_eq("f2xm1(0.5) * 1e9", (uint32_t)result, 414213562);
    X87_SCALED("flds %[three]\n\tflds %[ten]\n\tfyl2x", 1000000, result);
    check_eq("fyl2x: 3 * log2(10) * 1e6", (uint32_t)result, 9965784);
    /* fyl2xp1 is defined for |ST(0)| < 1 - sqrt(2)/2 only. */
    X87_SCALED("flds %[one]\n\tflds %[quarter]\n\tfyl2xp1", 1000000000, result);
    check_eq("fyl2xp1: log2(1.25) * 1e9", (uint32_t)result, 321928095);
    X87_SCALED("flds %[three]\n\tflds %[ten]\n\tfscale\n\tfstp %%st(1)", 1, result);
    check_eq("fscale: 10 * 2^3", (uint32_t)result, 80);
    X87_SCALED("flds %[ten]\n\tfxtract\n\tfstp %%st(0)", 1, result); /* drop significand */
    check_eq("fxtract(10): exponent 3", (uint32_t)result, 3);
    X87_SCALED("flds %[ten]\n\tfxtract", 1000, result);
    check_eq("fxtract(10): significand 1.25", (uint32_t)result, 1250);
    X87_SCALED("flds %[three]\n\tflds %[ten]\n\tfprem\n\tfstp %%st(1)", 1, result);
    check_eq("fprem: 10 mod 3", (uint32_t)result, 1);
    X87_SCALED("flds %[three]\n\tflds %[ten]\n\tfprem1\n\tfstp %%st(1)", 1, result);
    check_eq("fprem1: 10 rem 3", (uint32_t)result, 1);
    X87_SCALED("flds %[three]\n\tflds %[two]\n\tfprem1\n\tfstp %%st(1)", 1, result);
    check_eq("fprem1: 2 rem 3 rounds the quotient to 1", (uint32_t)result, (uint32_t)-1);
}

static uint16_t fxam_of(const char* what) {
    uint16_t status = 0;
    if (string_equal(what, "zero"))
        __asm__ volatile("fninit; fldz; fxam; fnstsw %0" : "=a"(status));
    else if (string_equal(what, "-one"))
        __asm__ volatile("fninit; fld1; fchs; fxam; fnstsw %0" : "=a"(status));
    else if (string_equal(what, "empty"))
        __asm__ volatile("fninit; fxam; fnstsw %0" : "=a"(status));
    else if (string_equal(what, "infinity"))
        __asm__ volatile("fninit; fld1; fldz; fdivrp; fxam; fnstsw %0" : "=a"(status));
    return status & (X87_C0 | X87_C1 | X87_C2 | X87_C3);
}

static void x87_control(void) {
    check_eq("fxam +0: C3", fxam_of("zero"), X87_C3);
    check_eq("fxam -1: normal, C1 sign", fxam_of("-one"), X87_C2 | X87_C1);
    check_eq("fxam empty: C3|C0", fxam_of("empty") & ~X87_C1, X87_C3 | X87_C0);
    check_eq("fxam +inf: C2|C0", fxam_of("infinity"), X87_C2 | X87_C0);

    int32_t result;
    /* fcmovb takes ST(1) when CF is set. */
    __asm__ volatile("fninit; flds %1; fldz; stc; fcmovb %%st(1), %%st; fistpl %0; fstp %%st(0)"
                     : "=m"(result)
                     : "m"(ten)
                     : "memory");
    check_eq("fcmovb with CF set", (uint32_t)result, 10);
    __asm__ volatile("fninit; flds %1; fldz; stc; fcmovnb %%st(1), %%st; fistpl %0; fstp %%st(0)"
                     : "=m"(result)
                     : "m"(ten)
                     : "memory");
    check_eq("fcmovnb with CF set", (uint32_t)result, 0);

    static volatile int32_t seven = 7;
    uint16_t status;
    __asm__ volatile("fninit; flds %1; ficoml %2; fnstsw %0" : "=a"(status) : "m"(ten), "m"(seven));
    check_eq("ficom 10 > 7", status & (X87_C0 | X87_C2 | X87_C3), 0);
    __asm__ volatile("fninit; flds %1; ficoml %2; fnstsw %0"
                     : "=a"(status)
                     : "m"(three), "m"(seven));
    check_eq("ficom 3 < 7", status & (X87_C0 | X87_C2 | X87_C3), X87_C0);

    uint8_t environment[28];
    uint16_t control;
    __asm__ volatile("fninit; fld1; fnstenv %1; fnstcw %0"
                     : "=m"(control), "=m"(environment)
                     :
                     : "memory");
    check_eq("fnstenv masks every exception afterwards", control & 0x3f, 0x3f);
    check_eq("fnstenv image: control word", (uint32_t)(environment[0] | environment[1] << 8),
             0x37f);
    check_eq("fnstenv image: TOP 7 after one push", (uint32_t)((environment[5] >> 3) & 7), 7);
    check_eq("fnstenv image: tags (ST0 valid, rest empty)",
             (uint32_t)(environment[8] | environment[9] << 8), 0x3fff);
    environment[0] = 0x7f;
    environment[1] = 0x0b; /* 0x0b7f: rounding control 10b (up), precision control 11b */
    __asm__ volatile("fldenv %1; fnstcw %0" : "=m"(control) : "m"(environment) : "memory");
    check_eq("fldenv loads the control word", control, 0x0b7f);

    uint8_t state[108];
    static volatile int32_t forty_two = 42;
    __asm__ volatile("fninit; fildl %1; fld1; fnsave %0" : "=m"(state) : "m"(forty_two) : "memory");
    __asm__ volatile("fnstsw %0" : "=a"(status));
    check_eq("fnsave reinitializes: TOP 0", (status >> 11) & 7, 0);
    __asm__ volatile("frstor %1; fstp %%st(0); fistpl %0" : "=m"(result) : "m"(state) : "memory");
    check_eq("frstor brings back ST(1) = 42", (uint32_t)result, 42);

    static const uint8_t bcd_in[10] = {0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 0, 0, 0x80};
    uint8_t bcd_out[10];
    __asm__ volatile("fninit; fbld %1; fistpl %0" : "=m"(result) : "m"(bcd_in) : "memory");
    check_eq("fbld -123456789", (uint32_t)result, (uint32_t)-123456789);
    __asm__ volatile("fninit; fbld %1; fbstp %0" : "=m"(bcd_out) : "m"(bcd_in) : "memory");
    check(memory_equal(bcd_in, bcd_out, sizeof bcd_out), "fbstp writes back the same packed BCD");
}

static void xgetbv_is_undefined(void) {
    uint32_t fault_eip;
    trap_reset();
    __asm__ volatile("movl $1f, %[resume]\n\t"
                     "movl $0f, %[at]\n\t"
                     "xorl %%ecx, %%ecx\n"
                     "0:\txgetbv\n"
                     "1:"
                     : [resume] "=m"(trap_resume_eip), [at] "=m"(fault_eip)
                     :
                     : "eax", "ecx", "edx", "memory");
    check(trap_last.count == 1 && trap_last.vector == VECTOR_UD && trap_last.eip == fault_eip,
          "xgetbv without CR4.OSXSAVE raises #UD");
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    (void)info;
    idt_init();
    trap_record_vector(VECTOR_DE);
    trap_record_vector(VECTOR_BR);
    trap_record_vector(VECTOR_UD);
    decimal_adjust();
    ascii_multiply_divide();
    bound_and_arpl();
    x87_transcendentals();
    x87_control();
    xgetbv_is_undefined();
    if (failure_count() == 0) pass("legacy32");
}
