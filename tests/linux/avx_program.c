// A program the compiler vectorizes for x86-64-v3 (AVX2, FMA, F16C, BMI1/2):
// tests/linux/run_cpu_model_tests.sh builds it with -march=x86-64-v3 -O3, runs it in the guest on
// the software CPU and compares its output with the host's. Floats are printed as bit patterns,
// so any difference in rounding, FMA contraction or NaN handling shows.
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 4099 // not a multiple of the vector length: the loops have remainders

static int32_t a[N], b[N], c[N];
static int16_t h[N], k[N];
static uint8_t bytes[N], other[N];
static int64_t q[N];
static float x[N], y[N], z[N];
static double d[N], e[N];
static char text[N + 1];

static uint32_t next(uint32_t* state) {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

static uint64_t mix(uint64_t hash, uint64_t value) {
    return (hash ^ value) * 0x100000001b3ull;
}

static uint64_t float_bits(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    return bits;
}

static uint64_t double_bits(double value) {
    uint64_t bits;
    memcpy(&bits, &value, 8);
    return bits;
}

__attribute__((noinline)) static void integer_loops(void) {
    uint64_t hash = 0xcbf29ce484222325ull;
    // vpmulld, vpaddd, vpminsd/vpmaxsd, vpabsd, vpblendvb/compares.
    for (int i = 0; i < N; ++i) {
        int32_t m = a[i] < b[i] ? a[i] : b[i];
        c[i] = a[i] * b[i] + (m > 0 ? m : -m);
    }
    for (int i = 0; i < N; ++i)
        hash = mix(hash, (uint32_t)c[i]);
    int64_t sum = 0;
    for (int i = 0; i < N; ++i)
        sum += c[i];
    // 16-bit saturating and multiply-high ops, shifts (vpmulhw, vpsraw, vpaddsw).
    for (int i = 0; i < N; ++i) {
        int32_t v = ((int32_t)h[i] * k[i]) >> 16;
        int32_t s = h[i] + (k[i] >> 3);
        h[i] = (int16_t)(s > 32767 ? 32767 : s < -32768 ? -32768 : s) ^ (int16_t)v;
    }
    for (int i = 0; i < N; ++i)
        hash = mix(hash, (uint16_t)h[i]);
    // Bytes: vpavgb, vpmaxub, vpsadbw-style sums, vpshufb (reversal).
    uint32_t byte_sum = 0;
    for (int i = 0; i < N; ++i) {
        uint8_t avg = (uint8_t)((bytes[i] + other[i] + 1) >> 1);
        other[i] = avg > bytes[i] ? avg : bytes[i];
        byte_sum += (uint32_t)abs(bytes[i] - other[N - 1 - i]);
    }
    // 64-bit: vpaddq, vpsllvq/vpsrlvq (variable shifts), vpcmpgtq.
    for (int i = 0; i < N; ++i) {
        int64_t v = q[i];
        q[i] = (v << (i & 31)) + ((uint64_t)v >> (b[i] & 31)) + (v > c[i] ? 1 : -1);
    }
    for (int i = 0; i < N; ++i)
        hash = mix(hash, (uint64_t)q[i]);
    // Variable 32-bit shifts (vpsllvd, vpsravd) and a widening multiply.
    int64_t wide = 0;
    for (int i = 0; i < N; ++i) {
        int32_t v = (a[i] << (b[i] & 15)) ^ (c[i] >> (a[i] & 7));
        wide += (int64_t)v * (int64_t)b[i];
    }
    // Conditional counting (vpcmpeqd + vpmovmskb or masked adds).
    int matches = 0;
    for (int i = 0; i < N; ++i)
        matches += ((a[i] & 0xff) == (b[i] & 0xff)) | (c[i] < 0);
    // BMI1/BMI2/LZCNT/TZCNT/POPCNT on scalars.
    uint64_t bits = 0;
    for (int i = 0; i < N; ++i) {
        uint64_t v = (uint64_t)(uint32_t)a[i] << 32 | (uint32_t)c[i];
        bits += (uint64_t)__builtin_popcountll(v) + (v ? __builtin_clzll(v) : 64) +
                (v ? __builtin_ctzll(v) : 64) + (v & (v - 1)) % 977 + (~v & (uint64_t)q[i]) % 1009 +
                ((v >> (i & 63)) & ((1ull << (i & 31)) - 1)) % 4093 + (v & -v) % 61;
    }
    printf("int: sum=%lld hash=%016llx bytes=%u wide=%lld matches=%d bits=%llu\n", (long long)sum,
           (unsigned long long)hash, byte_sum, (long long)wide, matches, (unsigned long long)bits);
}

__attribute__((noinline)) static void float_loops(void) {
    uint64_t hash = 0xcbf29ce484222325ull;
    // FMA contraction (vfmadd231ps), division, square root, min/max.
    for (int i = 0; i < N; ++i) {
        z[i] = x[i] * y[i] + z[i];
        y[i] = sqrtf(fabsf(x[i])) / (1.0f + fabsf(y[i]));
        x[i] = fmaxf(x[i], y[i]) - fminf(z[i], 0.5f);
    }
    for (int i = 0; i < N; ++i)
        hash = mix(hash, float_bits(x[i]) ^ float_bits(y[i]) << 1 ^ float_bits(z[i]) << 2);
    // Doubles: vfmadd/vfmsub, conversions to and from int and float.
    for (int i = 0; i < N; ++i) {
        d[i] = fma(d[i], e[i], -0.25 * e[i]) + (double)c[i] * 1e-9;
        e[i] = (double)(float)d[i] - (double)(int32_t)(d[i] * 0.001);
    }
    double dsum = 0;
    for (int i = 0; i < N; ++i)
        dsum += d[i] * e[i];
    for (int i = 0; i < N; ++i)
        hash = mix(hash, double_bits(d[i]) ^ double_bits(e[i]));
    // A float reduction and a dot product (horizontal adds, vextractf128, shuffles).
    float dot = 0;
    for (int i = 0; i < N; ++i)
        dot += x[i] * y[i];
    // Rounding (vroundps) and float <-> int conversions (vcvttps2dq, vcvtdq2ps).
    int32_t rounded = 0;
    for (int i = 0; i < N; ++i)
        rounded += (int32_t)floorf(z[i] * 3.0f) + (int32_t)nearbyintf(y[i] * 100.0f);
    // F16C: half precision round trips.
    uint64_t halves = 0;
    for (int i = 0; i < N; ++i) {
        _Float16 half = (_Float16)x[i];
        halves = mix(halves, float_bits((float)half));
    }
    printf("float: hash=%016llx dsum=%016llx dot=%08llx rounded=%d halves=%016llx\n",
           (unsigned long long)hash, (unsigned long long)double_bits(dsum),
           (unsigned long long)float_bits(dot), rounded, (unsigned long long)halves);
}

__attribute__((noinline)) static void library_calls(void) {
    // glibc picks its AVX2 string functions from CPUID (vpcmpeqb, vpminub, vpmovmskb, tzcnt,
    // vzeroupper): memcpy, memset, strlen, strchr, memcmp.
    static char copy[N + 64];
    memcpy(copy + 3, text, N + 1);
    memset(copy + N / 2, 'z', 100);
    size_t length = strlen(copy + 3);
    const char* found = strchr(copy + 3, 'q');
    int order = memcmp(copy + 3, text, N);
    double s = 0;
    for (int i = 1; i < 200; ++i)
        s += sin(i * 0.1) * exp(-i * 0.01) + log(i) * pow(1.0001, i);
    printf("libc: length=%zu found=%td order=%d math=%016llx\n", length,
           found ? found - (copy + 3) : (ptrdiff_t)-1,
           order > 0   ? 1
           : order < 0 ? -1
                       : 0,
           (unsigned long long)double_bits(s));
}

int main(void) {
    uint32_t state = 0x9e3779b9;
    for (int i = 0; i < N; ++i) {
        a[i] = (int32_t)next(&state);
        b[i] = (int32_t)next(&state) >> 9;
        h[i] = (int16_t)next(&state);
        k[i] = (int16_t)next(&state);
        bytes[i] = (uint8_t)next(&state);
        other[i] = (uint8_t)next(&state);
        q[i] = (int64_t)((uint64_t)next(&state) << 32 | next(&state));
        x[i] = (float)(int32_t)next(&state) / 1048576.0f;
        y[i] = (float)(int32_t)next(&state) / 16777216.0f;
        z[i] = (float)(next(&state) % 1000) / 7.0f;
        d[i] = (double)next(&state) / 3.0e6;
        e[i] = (double)(int32_t)next(&state) / 1.0e9;
        text[i] = (char)('a' + next(&state) % 16);
    }
    text[N] = 0;
    integer_loops();
    float_loops();
    library_calls();
    return 0;
}
