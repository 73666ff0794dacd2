/* bench/popcount_mix.c -- issue 17's "scalar POPCNT beside the vector LUT" question at
 * K = 64: per step L rows by the AVX2 LUT (lib/core/hamming_simd.h) and S rows by scalar
 * POPCNT, a running minimum and the bound check per step (as the k-NN kernel does), over
 * an L2-resident 256 KiB block of random codes; one thread; prints G codes/s per thread
 * for each (L, S) twice. Benchmark only (docs/benchmarks.md quotes it).
 *
 *   cc -O2 -Iinclude -Ilib bench/popcount_mix.c -o /tmp/mix && /tmp/mix */
#include "core/hamming_simd.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
#define T __attribute__((target("avx2,popcnt")))
#define INL static inline __attribute__((always_inline)) T
INL __m256i d4(const uint64_t *p, __m256i qv) {
    return dh__pc64_avx2(
        _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)p), qv));
}
/* L vector rows (multiple of 4) + S scalar rows per step; counts steps where any < bound */
#define KER(L, S)                                                                                  \
    T static size_t k_##L##_##S(const uint64_t *x, size_t n, uint64_t q, uint32_t bound) {         \
        __m256i qv = _mm256_set1_epi64x((long long)q), bv = _mm256_set1_epi64x(bound);             \
        size_t hits = 0;                                                                           \
        for (size_t r = 0; r + (L) + (S) <= n; r += (L) + (S)) {                                   \
            __m256i mn = _mm256_set1_epi64x(255);                                                  \
            for (int g = 0; g < (L) / 4; g++)                                                      \
                mn = _mm256_min_epi32(mn, d4(x + r + 4 * g, qv));                                  \
            uint32_t sm = 255;                                                                     \
            for (int t = 0; t < (S); t++) {                                                        \
                uint32_t d = (uint32_t)__builtin_popcountll(x[r + (L) + t] ^ q);                   \
                sm = d < sm ? d : sm;                                                              \
            }                                                                                      \
            hits += (_mm256_movemask_epi8(_mm256_cmpgt_epi32(bv, mn)) != 0) | (sm < bound);        \
        }                                                                                          \
        return hits;                                                                               \
    }
KER(32, 0)
KER(0, 8) KER(0, 16) KER(32, 8) KER(32, 16) KER(16, 8) KER(16, 16) KER(24, 8) KER(32, 24)
    KER(32, 32) KER(8, 8) typedef size_t (*fn)(const uint64_t *, size_t, uint64_t, uint32_t);
int main(void) {
    size_t n = (256u << 10) / 8;
    uint64_t *x = aligned_alloc(64, n * 8);
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < n; i++)
        x[i] = (s ^= s << 13, s ^= s >> 7, s ^= s << 17);
    struct {
        const char *nm;
        fn f;
    } ks[] = {{"32+0", k_32_0},   {"0+8", k_0_8},     {"0+16", k_0_16},   {"32+8", k_32_8},
              {"32+16", k_32_16}, {"16+8", k_16_8},   {"16+16", k_16_16}, {"24+8", k_24_8},
              {"32+24", k_32_24}, {"32+32", k_32_32}, {"8+8", k_8_8}};
    volatile size_t sink = 0;
    for (int round = 0; round < 2; round++)
        for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++) {
            double best = 1e30;
            for (int rep = 0; rep < 5; rep++) {
                double t = now();
                for (int p = 0; p < 100; p++)
                    sink += ks[k].f(x, n, s + p, 10);
                t = now() - t;
                t /= (100.0 * n);
                if (t < best)
                    best = t;
            }
            printf("%s %-6s %.3f Gcodes/s/thread\n", round ? "B" : "A", ks[k].nm, 1e-9 / best);
        }
    return (int)(sink & 0);
}
