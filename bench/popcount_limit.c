/* bench/popcount_limit.c -- the popcount limit of this machine, per kernel set: how many
 * (query, code) distances one thread computes per second when nothing but XOR +
 * popcount + a running minimum is done, over an L2-resident block of codes (256 KiB),
 * with the same per-ISA popcount primitives the library uses (lib/core/hamming_simd.h).
 * bench_index.py / bench_eval.py compile and run it and print "share of limit".
 *
 *   cc -O2 -Iinclude -Ilib bench/popcount_limit.c -o /tmp/pl && /tmp/pl avx2 64
 * Output: "limit isa=avx2 K=64 gcodes_per_s_thread=4.52". Benchmark only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hamming_simd.h"

#define BLOCK_BYTES (256u << 10)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Each function: minimum distance of q against n rows of w words (w = 1, 2, 4, 8). */
static inline __attribute__((always_inline)) uint64_t lim_scalar_w(const uint64_t *x, size_t n,
                                                                  uint32_t w, const uint64_t *q)
{
    uint64_t m0 = ~0ull, m1 = ~0ull;
    for (size_t i = 0; i + 2 <= n; i += 2) {
        uint64_t a = 0, b = 0;
        for (uint32_t j = 0; j < w; j++) {
            a += (uint64_t)__builtin_popcountll(x[i * w + j] ^ q[j]);
            b += (uint64_t)__builtin_popcountll(x[(i + 1) * w + j] ^ q[j]);
        }
        m0 = a < m0 ? a : m0;
        m1 = b < m1 ? b : m1;
    }
    return m0 < m1 ? m0 : m1;
}

#ifdef DH__HAVE_X86_KERNELS
#define DH__TGT_SCALAR __attribute__((target("popcnt")))
#else
#define DH__TGT_SCALAR
#endif
DH__TGT_SCALAR static uint64_t lim_scalar(const uint64_t *x, size_t n, uint32_t w,
                                          const uint64_t *q)
{
    switch (w) { /* constant widths unroll, as in the library's scalar kernels */
    case 1: return lim_scalar_w(x, n, 1, q);
    case 2: return lim_scalar_w(x, n, 2, q);
    case 4: return lim_scalar_w(x, n, 4, q);
    default: return lim_scalar_w(x, n, w, q);
    }
}

#ifdef DH__HAVE_X86_KERNELS
/* Lanes: 4 x 64-bit words per register; the per-word counts are summed over the row's
 * words by vertical adds (rows of w words -> every w-th lane group), min per lane. */
DH__TGT_AVX2 static uint64_t lim_avx2(const uint64_t *x, size_t n, uint32_t w, const uint64_t *q)
{
    __m256i qv[8], m0 = _mm256_set1_epi64x(-1), m1 = m0;
    for (uint32_t j = 0; j < 8; j++) qv[j] = _mm256_set1_epi64x((long long)q[j % w]);
    const __m256i hi = _mm256_set1_epi64x((long long)0x8000000000000000ull);
    size_t words = n * w;
    for (size_t i = 0; i + 8 <= words; i += 8) { /* 8 words: 8/w rows */
        __m256i a = dh__pc64_avx2(_mm256_xor_si256(
            _mm256_loadu_si256((const __m256i *)(const void *)(x + i)), qv[0]));
        __m256i b = dh__pc64_avx2(_mm256_xor_si256(
            _mm256_loadu_si256((const __m256i *)(const void *)(x + i + 4)), qv[1]));
        m0 = _mm256_min_epu8(m0, a); /* distances < 256 per word: a byte min is enough */
        m1 = _mm256_min_epu8(m1, b);
    }
    (void)hi;
    uint64_t t[4];
    _mm256_storeu_si256((__m256i *)(void *)t, _mm256_min_epu8(m0, m1));
    return t[0] ^ t[1] ^ t[2] ^ t[3];
}

DH__TGT_AVX512BW static uint64_t lim_avx512bw(const uint64_t *x, size_t n, uint32_t w,
                                              const uint64_t *q)
{
    __m512i m0 = _mm512_set1_epi64(-1), m1 = m0;
    __m512i qv = _mm512_set1_epi64((long long)q[0]);
    (void)w;
    size_t words = n * w;
    for (size_t i = 0; i + 16 <= words; i += 16) {
        m0 = _mm512_min_epu64(m0, dh__pc64_avx512bw(_mm512_xor_si512(_mm512_loadu_si512(x + i), qv)));
        m1 = _mm512_min_epu64(m1, dh__pc64_avx512bw(_mm512_xor_si512(_mm512_loadu_si512(x + i + 8), qv)));
    }
    return (uint64_t)_mm512_reduce_min_epu64(_mm512_min_epu64(m0, m1));
}

DH__TGT_AVX512VP static uint64_t lim_avx512vp(const uint64_t *x, size_t n, uint32_t w,
                                              const uint64_t *q)
{
    __m512i m0 = _mm512_set1_epi64(-1), m1 = m0;
    __m512i qv = _mm512_set1_epi64((long long)q[0]);
    size_t words = n * w;
    for (size_t i = 0; i + 16 <= words; i += 16) {
        m0 = _mm512_min_epu64(m0, dh__pc64_avx512vp(_mm512_xor_si512(_mm512_loadu_si512(x + i), qv)));
        m1 = _mm512_min_epu64(m1, dh__pc64_avx512vp(_mm512_xor_si512(_mm512_loadu_si512(x + i + 8), qv)));
    }
    return (uint64_t)_mm512_reduce_min_epu64(_mm512_min_epu64(m0, m1));
}
#endif

#ifdef DH__HAVE_NEON_KERNELS
static uint64_t lim_neon(const uint64_t *x, size_t n, uint32_t w, const uint64_t *q)
{
    uint8x16_t m = vdupq_n_u8(255);
    uint64x2_t qv = vdupq_n_u64(q[0]);
    size_t words = n * w;
    for (size_t i = 0; i + 2 <= words; i += 2)
        m = vminq_u8(m, vcntq_u8(vreinterpretq_u8_u64(veorq_u64(vld1q_u64(x + i), qv))));
    return vminvq_u8(m);
}
#endif

typedef uint64_t (*lim_fn)(const uint64_t *, size_t, uint32_t, const uint64_t *);

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s scalar|avx2|avx512bw|avx512vpopcnt|neon K\n", argv[0]);
        return 2;
    }
    lim_fn f = NULL;
    int32_t isa = 0;
    if (!strcmp(argv[1], "scalar")) f = lim_scalar, isa = DH_ISA_SCALAR;
#ifdef DH__HAVE_X86_KERNELS
    if (!strcmp(argv[1], "avx2")) f = lim_avx2, isa = DH_ISA_AVX2;
    if (!strcmp(argv[1], "avx512bw")) f = lim_avx512bw, isa = DH_ISA_AVX512BW;
    if (!strcmp(argv[1], "avx512vpopcnt")) f = lim_avx512vp, isa = DH_ISA_AVX512VPOPCNT;
#endif
#ifdef DH__HAVE_NEON_KERNELS
    if (!strcmp(argv[1], "neon")) f = lim_neon, isa = 1;
#endif
    (void)isa;
    uint32_t K = (uint32_t)atoi(argv[2]), w = (K + 63) / 64;
    if (!f || K == 0 || K > 512) {
        fprintf(stderr, "unknown isa or K\n");
        return 2;
    }
    size_t n = BLOCK_BYTES / (8 * w);
    uint64_t *x = aligned_alloc(64, BLOCK_BYTES), q[8];
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < n * w; i++) x[i] = (s ^= s << 13, s ^= s >> 7, s ^= s << 17);
    for (int j = 0; j < 8; j++) q[j] = (s ^= s << 13, s ^= s >> 7, s ^= s << 17);
    volatile uint64_t sink = 0;
    double best = 1e30;
    for (int rep = 0; rep < 7; rep++) {
        size_t passes = 200;
        double t = now();
        for (size_t p = 0; p < passes; p++) {
            q[0] ^= p; /* no hoisting across passes */
            sink += f(x, n, w, q);
        }
        t = now() - t;
        double per = t / (double)(passes * n);
        if (per < best) best = per;
    }
    printf("limit isa=%s K=%u gcodes_per_s_thread=%.3f\n", argv[1], K, 1e-9 / best);
    free(x);
    return (int)(sink & 0);
}
