/* lib/core/hamming_avx512vpopcnt.c -- Hamming kernels on AVX-512 VPOPCNTDQ (one
 * instruction per eight 64-bit popcounts). Compiled for that target only; called only
 * when CPUID reports it (dh__index_kernels). */
#include "core/hamming_simd.h"

#ifdef DH__HAVE_X86_KERNELS
#define DH__TGT DH__TGT_AVX512VP
#define DH__KERNELS_NAME dh__kernels_avx512vpopcnt
#define DH__KERNELS_ISA DH_ISA_AVX512VPOPCNT

static inline __attribute__((always_inline)) DH__TGT __m512i popcnt64(__m512i v)
{
    return dh__pc64_avx512vp(v);
}

#include "core/hamming_avx512.h"
#endif
