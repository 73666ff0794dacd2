/* lib/core/hamming_neon.c -- Hamming kernels on aarch64 NEON: CNT (vcntq_u8) gives the
 * popcount of each byte; the byte counts of up to 31 vectors are added as bytes before
 * one widening horizontal add. For K = 64 two rows share a register and eight rows
 * are reduced with a minimum, so one compare tells whether any passes. Built only for
 * aarch64 (where NEON is part of the base ISA); tested under qemu-user, speed not
 * measured. */
#include "core/hamming_simd.h"

#ifdef DH__HAVE_NEON_KERNELS

#define N_INL static inline __attribute__((always_inline))

N_INL uint32_t dist_row(const uint64_t *q, const uint64_t *x, uint32_t w)
{
    return dh__dist_neon((const uint8_t *)(const void *)q, (const uint8_t *)(const void *)x, w);
}

N_INL size_t scan_rows(const uint64_t *q, const uint64_t *codes, uint32_t w, size_t r,
                       size_t r_end, uint32_t bound, const uint64_t *tomb, uint64_t *out_pos,
                       uint16_t *out_d, size_t space, size_t c, size_t *n_out)
{
    for (; r < r_end && c < space; r++) {
        uint32_t d = dist_row(q, codes + r * w, w);
        if (d < bound && !dh__tomb_get(tomb, r)) {
            out_pos[c] = r;
            out_d[c] = (uint16_t)d;
            c++;
        }
    }
    *n_out = c;
    return r;
}

/* K = 64: rows r..r+7, eight 64-bit distances in four registers. */
N_INL size_t scan_w1(const uint64_t *q, const uint64_t *codes, size_t r, size_t r_end,
                     uint32_t bound, const uint64_t *tomb, uint64_t *out_pos, uint16_t *out_d,
                     size_t space, size_t *n_out)
{
    const uint64x2_t qv = vdupq_n_u64(q[0]);
    /* distances and the bound in the low 32 bits of each 64-bit lane, high halves 0 */
    const uint32x4_t bv = vreinterpretq_u32_u64(vdupq_n_u64(bound));
    size_t c = 0;
    while (r + 8 <= r_end && c + 8 <= space) {
        const uint64_t *p = codes + r;
        uint64x2_t d[4];
        for (int g = 0; g < 4; g++) d[g] = dh__pc64_neon(veorq_u64(vld1q_u64(p + 2 * g), qv));
        uint32x4_t m01 = vminq_u32(vreinterpretq_u32_u64(d[0]), vreinterpretq_u32_u64(d[1]));
        uint32x4_t m23 = vminq_u32(vreinterpretq_u32_u64(d[2]), vreinterpretq_u32_u64(d[3]));
        uint32x4_t mn = vminq_u32(m01, m23);
        if (DH__UNLIKELY(vmaxvq_u32(vcltq_u32(mn, bv)) != 0)) {
            uint64_t tmp[8];
            uint32_t m = 0;
            for (int g = 0; g < 4; g++) vst1q_u64(tmp + 2 * g, d[g]);
            for (int t = 0; t < 8; t++) m |= (uint32_t)(tmp[t] < bound) << t;
            c = hc_emit8(m & ~dh__tomb_bits8(tomb, r), tmp, r, out_pos, out_d, c);
        }
        r += 8;
    }
    if (r + 8 <= r_end) { /* out of room: the caller cuts the list and calls again */
        *n_out = c;
        return r;
    }
    return scan_rows(q, codes, 1, r, r_end, bound, tomb, out_pos, out_d, space, c, n_out);
}

static size_t k_scan(const uint64_t *q, const uint64_t *codes, uint32_t n_words, size_t r,
                     size_t r_end, uint32_t bound, const uint64_t *tomb, uint64_t *out_pos,
                     uint16_t *out_d, size_t space, size_t *n_out)
{
    switch (n_words) {
    case 1: return scan_w1(q, codes, r, r_end, bound, tomb, out_pos, out_d, space, n_out);
    case 2: return scan_rows(q, codes, 2, r, r_end, bound, tomb, out_pos, out_d, space, 0, n_out);
    case 4: return scan_rows(q, codes, 4, r, r_end, bound, tomb, out_pos, out_d, space, 0, n_out);
    default:
        return scan_rows(q, codes, n_words, r, r_end, bound, tomb, out_pos, out_d, space, 0,
                         n_out);
    }
}

static void k_dist(const uint64_t *q, const uint64_t *codes, uint32_t n_words, size_t n,
                   int32_t *out)
{
    size_t i = 0;
    if (n_words == 1) {
        const uint64x2_t qv = vdupq_n_u64(q[0]);
        for (; i + 2 <= n; i += 2) {
            uint64x2_t d = dh__pc64_neon(veorq_u64(vld1q_u64(codes + i), qv));
            out[i] = (int32_t)vgetq_lane_u64(d, 0);
            out[i + 1] = (int32_t)vgetq_lane_u64(d, 1);
        }
    }
    for (; i < n; i++) out[i] = (int32_t)dist_row(q, codes + i * n_words, n_words);
}

const dh__kernels dh__kernels_neon = {DH_ISA_NEON, k_scan, k_dist, NULL};

#endif
