/* lib/core/hamming_simd.h -- per-ISA vector popcount primitives of the Hamming layer
 * (see hamming.h), for the kernels in lib/core and for fused loops built elsewhere
 * (lib/eval/scan_*.c). Each primitive is always inlined and carries its target, so a
 * caller uses it from a function with the same DH__TGT_* attribute. */
#ifndef DH_CORE_HAMMING_SIMD_H
#define DH_CORE_HAMMING_SIMD_H

#include "core/hamming.h"

#ifdef DH__HAVE_X86_KERNELS
#include <immintrin.h>

#define DH__TGT_AVX2 __attribute__((target("avx2,popcnt")))
#define DH__TGT_AVX512BW __attribute__((target("avx512f,avx512bw,popcnt")))
#define DH__TGT_AVX512VP __attribute__((target("avx512f,avx512bw,avx512vpopcntdq,popcnt")))

/** Bytewise popcount by a 4-bit lookup table (VPSHUFB on both nibbles, Mula). */
static inline __attribute__((always_inline)) DH__TGT_AVX2 __m256i dh__pc8_avx2(__m256i v)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1,
                                         2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_and_si256(v, low);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

/** Popcount of each 64-bit lane: the byte counts summed with VPSADBW. */
static inline __attribute__((always_inline)) DH__TGT_AVX2 __m256i dh__pc64_avx2(__m256i v)
{
    return _mm256_sad_epu8(dh__pc8_avx2(v), _mm256_setzero_si256());
}

static inline __attribute__((always_inline)) DH__TGT_AVX512BW __m512i dh__pc64_avx512bw(__m512i v)
{
    const __m512i lut = _mm512_broadcast_i32x4(
        _mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
    const __m512i low = _mm512_set1_epi8(0x0f);
    __m512i lo = _mm512_and_si512(v, low);
    __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
    __m512i cnt = _mm512_add_epi8(_mm512_shuffle_epi8(lut, lo), _mm512_shuffle_epi8(lut, hi));
    return _mm512_sad_epu8(cnt, _mm512_setzero_si512());
}

/** One instruction per eight 64-bit popcounts (VPOPCNTQ). */
static inline __attribute__((always_inline)) DH__TGT_AVX512VP __m512i dh__pc64_avx512vp(__m512i v)
{
    return _mm512_popcnt_epi64(v);
}
#endif

#ifdef DH__HAVE_NEON_KERNELS
#include <arm_neon.h>

#define DH__TGT_NEON /* NEON is part of the aarch64 base ISA */

/** Popcount of each 64-bit lane: CNT per byte, then pairwise widening adds. */
static inline __attribute__((always_inline)) uint64x2_t dh__pc64_neon(uint64x2_t v)
{
    return vpaddlq_u32(vpaddlq_u16(vpaddlq_u8(vcntq_u8(vreinterpretq_u8_u64(v)))));
}

/** Distance of two rows of w words (any alignment): the byte counts of up to 31
 *  vectors added as bytes (<= 248) before one widening horizontal add. */
static inline __attribute__((always_inline)) uint32_t dh__dist_neon(const uint8_t *a,
                                                                    const uint8_t *b, uint32_t w)
{
    uint32_t i = 0, d = 0;
    while (i + 2 <= w) {
        uint8x16_t acc = vdupq_n_u8(0);
        uint32_t stop = w - i > 62 ? i + 62 : w;
        for (; i + 2 <= stop; i += 2)
            acc = vaddq_u8(acc, vcntq_u8(veorq_u8(vld1q_u8(a + 8 * i), vld1q_u8(b + 8 * i))));
        d += vaddlvq_u8(acc);
    }
    if (i < w) {
        uint64_t x, y;
        __builtin_memcpy(&x, a + 8 * i, 8);
        __builtin_memcpy(&y, b + 8 * i, 8);
        d += dh__popcount64(x ^ y);
    }
    return d;
}
#endif

#endif
