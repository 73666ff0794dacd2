/* lib/core/hamming_avx512bw.c -- Hamming kernels on AVX-512BW: popcount by a 4-bit
 * lookup table (VPSHUFB on both nibbles) summed per 64-bit lane with VPSADBW. For
 * CPUs with AVX-512 but without VPOPCNTDQ (Skylake-X, Cascade Lake). */
#include "core/hamming_simd.h"

#ifdef DH__HAVE_X86_KERNELS
#define DH__TGT DH__TGT_AVX512BW
#define DH__KERNELS_NAME dh__kernels_avx512bw
#define DH__KERNELS_ISA DH_ISA_AVX512BW

static inline __attribute__((always_inline)) DH__TGT __m512i popcnt64(__m512i v)
{
    return dh__pc64_avx512bw(v);
}

#include "core/hamming_avx512.h"
#endif
