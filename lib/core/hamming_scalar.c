/* lib/core/hamming_scalar.c -- the portable Hamming kernels (the reference every SIMD
 * path is tested against), their POPCNT-instruction twin, and the kernel dispatch. */
#include "core/hamming.h"

uint32_t dh__hamming_ref(const uint64_t *a, const uint64_t *b, uint32_t n_words)
{
    /* Deliberately naive: bit by bit, no builtins. */
    uint32_t d = 0;
    for (uint32_t i = 0; i < n_words; i++) {
        uint64_t x = a[i] ^ b[i];
        for (int t = 0; t < 64; t++) d += (uint32_t)((x >> t) & 1u);
    }
    return d;
}

size_t dh__scan_rows_scalar(const uint64_t *q, const uint64_t *codes, uint32_t n_words,
                            size_t r, size_t r_end, uint32_t bound, const uint64_t *tomb,
                            uint64_t *out_pos, uint16_t *out_d, size_t space, size_t *n_out)
{
    return hc_scan_rows(q, codes, n_words, r, r_end, bound, tomb, out_pos, out_d, space, 0,
                        n_out);
}

/* The word count is a compile-time constant in the common cases (K = 64/128/256, and
 * 32 which is one word), so the inner loop unrolls; other K use the generic loop. */
#define DH__SCALAR_KERNELS(suffix, ATTR)                                                     \
    ATTR static size_t scan_##suffix(const uint64_t *q, const uint64_t *codes,               \
                                     uint32_t n_words, size_t r, size_t r_end,               \
                                     uint32_t bound, const uint64_t *tomb,                   \
                                     uint64_t *out_pos, uint16_t *out_d, size_t space,       \
                                     size_t *n_out)                                          \
    {                                                                                        \
        switch (n_words) {                                                                   \
        case 1:                                                                              \
            return hc_scan_rows(q, codes, 1, r, r_end, bound, tomb, out_pos, out_d, space,   \
                                0, n_out);                                                   \
        case 2:                                                                              \
            return hc_scan_rows(q, codes, 2, r, r_end, bound, tomb, out_pos, out_d, space,   \
                                0, n_out);                                                   \
        case 4:                                                                              \
            return hc_scan_rows(q, codes, 4, r, r_end, bound, tomb, out_pos, out_d, space,   \
                                0, n_out);                                                   \
        default:                                                                             \
            return hc_scan_rows(q, codes, n_words, r, r_end, bound, tomb, out_pos, out_d,    \
                                space, 0, n_out);                                            \
        }                                                                                    \
    }                                                                                        \
    ATTR static void dist_##suffix(const uint64_t *q, const uint64_t *codes, uint32_t n_words, \
                                   size_t n, int32_t *out)                                   \
    {                                                                                        \
        switch (n_words) {                                                                   \
        case 1: hc_dist_rows(q, codes, 1, 0, n, out); break;                                 \
        case 2: hc_dist_rows(q, codes, 2, 0, n, out); break;                                 \
        case 4: hc_dist_rows(q, codes, 4, 0, n, out); break;                                 \
        default: hc_dist_rows(q, codes, n_words, 0, n, out); break;                          \
        }                                                                                    \
    }

DH__SCALAR_KERNELS(portable, )
const dh__kernels dh__kernels_scalar = {DH_ISA_SCALAR, scan_portable, dist_portable, NULL};

#ifdef DH__HAVE_X86_KERNELS
DH__SCALAR_KERNELS(popcnt, __attribute__((target("popcnt"))))
static const dh__kernels kernels_scalar_popcnt = {DH_ISA_SCALAR, scan_popcnt, dist_popcnt,
                                                   NULL};
#endif

void dh__transpose_block(const uint64_t *codes, uint32_t n_words, size_t r0, size_t n_groups,
                         uint64_t *tb)
{
    for (size_t g = 0; g < n_groups; g++)
        for (uint32_t t = 0; t < 8; t++) {
            const uint64_t *row = codes + (r0 + g * 8 + t) * n_words;
            uint64_t *dst = tb + g * 8 * (size_t)n_words + t;
            for (uint32_t i = 0; i < n_words; i++) dst[(size_t)i * 8] = row[i];
        }
}

const dh__kernels *dh__hamming_kernels(int32_t isa)
{
    if (!dh_cpu_has_isa(isa)) return NULL;
    switch (isa) {
    case DH_ISA_SCALAR:
#ifdef DH__HAVE_X86_KERNELS
        if (__builtin_cpu_supports("popcnt")) return &kernels_scalar_popcnt;
#endif
        return &dh__kernels_scalar;
#ifdef DH__HAVE_X86_KERNELS
    case DH_ISA_AVX2: return &dh__kernels_avx2;
    case DH_ISA_AVX512BW: return &dh__kernels_avx512bw;
    case DH_ISA_AVX512VPOPCNT: return &dh__kernels_avx512vpopcnt;
#endif
#ifdef DH__HAVE_NEON_KERNELS
    case DH_ISA_NEON: return &dh__kernels_neon;
#endif
    default: return NULL;
    }
}

const dh__kernels *dh__hamming_kernels_current(void)
{
    const dh__kernels *k = dh__hamming_kernels(dh__isa());
    return k ? k : &dh__kernels_scalar;
}
