/* lib/index/hamming_avx512vpopcnt.c -- Hamming kernels on AVX-512 VPOPCNTDQ (one
 * instruction per eight 64-bit popcounts). Compiled for that target only; called only
 * when CPUID reports it (dh__index_kernels). */
#include "hamming_common.h"

#ifdef DH__HAVE_X86_KERNELS
#include <immintrin.h>

#define DH__TGT __attribute__((target("avx512f,avx512bw,avx512vpopcntdq,popcnt")))
#define DH__KERNELS_NAME dh__kernels_avx512vpopcnt
#define DH__KERNELS_ISA DH_ISA_AVX512VPOPCNT

static inline __attribute__((always_inline)) DH__TGT __m512i popcnt64(__m512i v)
{
    return _mm512_popcnt_epi64(v);
}

#include "hamming_avx512.h"
#endif
