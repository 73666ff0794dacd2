/* lib/index/hamming_common.h -- scalar building blocks of the Hamming kernels.
 *
 * Included by every hamming_<isa>.c; the functions are always inlined, so each kernel
 * file compiles them with its own target (the x86 files get the POPCNT instruction
 * for __builtin_popcountll). */
#ifndef DH_HAMMING_COMMON_H
#define DH_HAMMING_COMMON_H

#include "index.h"

#define DH__INLINE static inline __attribute__((always_inline))

/* Distance of two rows of w words. */
DH__INLINE uint32_t hc_dist(const uint64_t *a, const uint64_t *b, uint32_t w)
{
    uint32_t d = 0;
    for (uint32_t i = 0; i < w; i++) d += (uint32_t)__builtin_popcountll(a[i] ^ b[i]);
    return d;
}

/* Scan rows [r, r_end) one at a time (see dh__scan_fn). `c` entries are already
 * written; returns the first row not visited and leaves the total count in *n_out. */
DH__INLINE size_t hc_scan_rows(const uint64_t *q, const uint64_t *codes, uint32_t w, size_t r,
                               size_t r_end, uint32_t bound, const uint64_t *tomb,
                               uint64_t *out_pos, uint16_t *out_d, size_t space, size_t c,
                               size_t *n_out)
{
    for (; r < r_end && c < space; r++) {
        uint32_t d = hc_dist(q, codes + r * w, w);
        if (d < bound && !dh__tomb_get(tomb, r)) {
            out_pos[c] = r;
            out_d[c] = (uint16_t)d;
            c++;
        }
    }
    *n_out = c;
    return r;
}

/* Append the rows of an 8-row group selected by `mask` (bit i = row r0 + i) with their
 * distances d[i]. The caller guarantees room for 8 entries. */
DH__INLINE size_t hc_emit8(uint32_t mask, const uint64_t *d, size_t r0, uint64_t *out_pos,
                           uint16_t *out_d, size_t c)
{
    while (mask) {
        unsigned i = (unsigned)__builtin_ctz(mask);
        out_pos[c] = r0 + i;
        out_d[c] = (uint16_t)d[i];
        c++;
        mask &= mask - 1;
    }
    return c;
}

/* dist kernel, scalar form: out[i] = distance of q and row i. */
DH__INLINE void hc_dist_rows(const uint64_t *q, const uint64_t *codes, uint32_t w, size_t i,
                             size_t n, int32_t *out)
{
    for (; i < n; i++) out[i] = (int32_t)hc_dist(q, codes + i * w, w);
}

#endif
