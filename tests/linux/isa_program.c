// A program the compiler vectorizes for the target's ISA level: tests/linux/run_cpu_model_tests.sh
// builds it with -march=x86-64-v2 (and BMI/LZCNT/MOVBE), runs it in the guest on the software
// CPU and compares its output with the host's.
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 4096

static int32_t a[N], b[N], c[N];
static float x[N], y[N];
static double d[N];
static uint8_t bytes[N];

static uint32_t next(uint32_t* state) {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

int main(void) {
    uint32_t state = 0x12345678;
    for (int i = 0; i < N; ++i) {
        a[i] = (int32_t)next(&state);
        b[i] = (int32_t)next(&state) >> 7;
        x[i] = (float)(int32_t)next(&state) / 65536.0f;
        d[i] = (double)next(&state) / 3.0;
        bytes[i] = (uint8_t)next(&state);
    }
    // pmulld, pminsd/pmaxsd, pabsd, blends.
    int64_t sum = 0;
    for (int i = 0; i < N; ++i) {
        c[i] = a[i] * b[i];
        int32_t m = a[i] < b[i] ? a[i] : b[i];
        c[i] += m > 0 ? m : -m;
        sum += c[i];
    }
    // Sign/zero extension (pmovsx/pmovzx), byte shuffles, horizontal sums.
    uint64_t histogram = 0;
    for (int i = 0; i < N; ++i) histogram += (uint64_t)bytes[i] * (uint64_t)(int8_t)bytes[N - 1 - i];
    // Rounding (roundps/roundsd) and float reductions.
    float fsum = 0;
    for (int i = 0; i < N; ++i) {
        y[i] = floorf(x[i]) + ceilf(x[i] * 0.5f) + truncf(x[i] * 0.25f);
        fsum += y[i];
    }
    double dsum = 0;
    for (int i = 0; i < N; ++i) dsum += nearbyint(d[i]) - floor(d[i] / 7.0);
    // popcnt, lzcnt, tzcnt, bmi (andn/blsr/bextr/pdep via patterns and builtins), movbe, crc32.
    uint64_t bits = 0;
    for (int i = 0; i < N; ++i) {
        uint32_t v = (uint32_t)a[i];
        bits += (uint64_t)__builtin_popcount(v) + (v ? __builtin_clz(v) : 32) +
                (v ? __builtin_ctz(v) : 32) + (v & (v - 1)) % 977 + (~v & (uint32_t)b[i]) % 1009 +
                ((v >> (i & 15)) & 0xff) + __builtin_bswap32(v) % 31;
    }
    uint32_t crc = ~0u;
    for (int i = 0; i < N; ++i) crc = __builtin_ia32_crc32qi(crc, bytes[i]);
    // String functions: glibc picks its SSE4.2/AVX2/EVEX variants from CPUID.
    char text[512];
    for (int i = 0; i < 511; ++i) text[i] = (char)('a' + next(&state) % 26);
    text[511] = 0;
    size_t length = strlen(text), span = strspn(text, "abcdefghijklm");
    const char* found = strstr(text, "qq");
    char copy[512];
    memcpy(copy, text, sizeof copy);
    int compare = memcmp(copy, text, sizeof copy);
    printf("sum=%lld histogram=%llu fsum=%.3f dsum=%.3f bits=%llu crc=%08x\n", (long long)sum,
           (unsigned long long)histogram, fsum, dsum, (unsigned long long)bits, ~crc);
    printf("strlen=%zu strspn=%zu strstr=%td memcmp=%d\n", length, span,
           found ? found - text : (ptrdiff_t)-1, compare);
    return 0;
}
