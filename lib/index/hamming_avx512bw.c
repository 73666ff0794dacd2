/* lib/index/hamming_avx512bw.c -- Hamming kernels on AVX-512BW: popcount by a 4-bit
 * lookup table (VPSHUFB on both nibbles) summed per 64-bit lane with VPSADBW. For
 * CPUs with AVX-512 but without VPOPCNTDQ (Skylake-X, Cascade Lake). */
#include "hamming_common.h"

#ifdef DH__HAVE_X86_KERNELS
#include <immintrin.h>

#define DH__TGT __attribute__((target("avx512f,avx512bw,popcnt")))
#define DH__KERNELS_NAME dh__kernels_avx512bw
#define DH__KERNELS_ISA DH_ISA_AVX512BW

static inline __attribute__((always_inline)) DH__TGT __m512i popcnt64(__m512i v)
{
    const __m512i lut = _mm512_broadcast_i32x4(
        _mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
    const __m512i low = _mm512_set1_epi8(0x0f);
    __m512i lo = _mm512_and_si512(v, low);
    __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
    __m512i cnt = _mm512_add_epi8(_mm512_shuffle_epi8(lut, lo), _mm512_shuffle_epi8(lut, hi));
    return _mm512_sad_epu8(cnt, _mm512_setzero_si512());
}

#include "hamming_avx512.h"
#endif
