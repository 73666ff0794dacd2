/* lib/core/hamming_avx2.c -- Hamming kernels on AVX2: popcount by a 4-bit lookup table
 * (VPSHUFB on both nibbles, Mula's method) summed per 64-bit lane with VPSADBW. Four
 * 64-bit lanes per register; for K = 64/128/256 the distances of four rows are brought
 * into one register; 16 or 32 rows are reduced with a minimum and compared with the
 * bound at once. Transposed blocks (K >= 128): vertical sums, LUT byte counts added
 * over up to 16 words before one VPSADBW. */
#include "core/hamming_simd.h"

#ifdef DH__HAVE_X86_KERNELS
#define DH__TGT DH__TGT_AVX2
#define DH__K_INL static inline __attribute__((always_inline)) DH__TGT

DH__K_INL __m256i popcnt64(__m256i v) { return dh__pc64_avx2(v); }

DH__K_INL __m256i load(const uint64_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

/* Distances of rows r..r+3 as four 64-bit lanes, W = 1, 2 or 4 words. */
DH__K_INL __m256i dist4(const uint64_t *codes, size_t r, __m256i qv, uint32_t w)
{
    const uint64_t *p = codes + r * w;
    if (w == 1) return popcnt64(_mm256_xor_si256(load(p), qv));
    if (w == 2) { /* x = [r0w0 r0w1 r1w0 r1w1], y = rows 2, 3 */
        __m256i x = popcnt64(_mm256_xor_si256(load(p), qv));
        __m256i y = popcnt64(_mm256_xor_si256(load(p + 4), qv));
        __m256i s = _mm256_add_epi64(_mm256_unpacklo_epi64(x, y), _mm256_unpackhi_epi64(x, y));
        return _mm256_permute4x64_epi64(s, 0xD8); /* [r0 r2 r1 r3] -> [r0 r1 r2 r3] */
    }
    __m256i a = popcnt64(_mm256_xor_si256(load(p), qv));
    __m256i b = popcnt64(_mm256_xor_si256(load(p + 4), qv));
    __m256i c = popcnt64(_mm256_xor_si256(load(p + 8), qv));
    __m256i d = popcnt64(_mm256_xor_si256(load(p + 12), qv));
    __m256i t0 = _mm256_add_epi64(_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b));
    __m256i t1 = _mm256_add_epi64(_mm256_unpacklo_epi64(c, d), _mm256_unpackhi_epi64(c, d));
    return _mm256_add_epi64(_mm256_permute2x128_si256(t0, t1, 0x20),
                            _mm256_permute2x128_si256(t0, t1, 0x31));
}

DH__K_INL __m256i query_vec(const uint64_t *q, uint32_t w)
{
    if (w == 1) return _mm256_set1_epi64x((long long)q[0]);
    if (w == 2) return _mm256_set_epi64x((long long)q[1], (long long)q[0], (long long)q[1],
                                         (long long)q[0]);
    return load(q);
}

/* Bit i set where lane i of d is below the bound. */
DH__K_INL uint32_t below(__m256i d, __m256i bv)
{
    return (uint32_t)_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(bv, d)));
}

/* Append rows r..r+7 (distances d0 = rows r..r+3, d1 = r+4..r+7) that are below the
 * bound and not removed. */
DH__K_INL size_t emit8(__m256i d0, __m256i d1, __m256i bv, size_t r, const uint64_t *tomb,
                       uint64_t *out_pos, uint16_t *out_d, size_t c)
{
    uint32_t m = below(d0, bv) | below(d1, bv) << 4;
    if (!m) return c;
    m &= ~dh__tomb_bits8(tomb, r);
    uint64_t tmp[8];
    _mm256_storeu_si256((__m256i *)(void *)tmp, d0);
    _mm256_storeu_si256((__m256i *)(void *)(tmp + 4), d1);
    return hc_emit8(m, tmp, r, out_pos, out_d, c);
}

/* Whether any lane of the 64-bit distance vector mn is below the bound: the distances
 * (< 2^16) and the bound sit in the low 32 bits of each lane, the high halves are 0. */
DH__K_INL int any_below(__m256i mn, __m256i bv)
{
    return _mm256_movemask_epi8(_mm256_cmpgt_epi32(bv, mn)) != 0;
}

DH__K_INL __m256i min4(__m256i a, __m256i b, __m256i c, __m256i d)
{
    return _mm256_min_epi32(_mm256_min_epi32(a, b), _mm256_min_epi32(c, d));
}

/* Fixed-width scan, 40 or 32 rows (K = 64) or 16 rows per iteration: the distance
 * vectors are reduced with a minimum, so one compare, off the dependency chain of the
 * next rows, tells whether any row passes (rare once the bound is low); only then are
 * the 8-row groups compared and emitted. */
DH__K_INL size_t scan_fixed(const uint64_t *q, const uint64_t *codes, uint32_t w, size_t r,
                            size_t r_end, uint32_t bound, const uint64_t *tomb,
                            uint64_t *out_pos, uint16_t *out_d, size_t space, size_t *n_out)
{
    const __m256i qv = query_vec(q, w);
    const __m256i bv = _mm256_set1_epi64x((long long)bound);
    size_t c = 0;
    if (w == 1) {
        /* 40 rows per step: 32 by the vector LUT, the last 8 by scalar POPCNT, which
         * runs on the integer ports beside the vector ones (Zen 4: 0.21 instead of
         * 0.23 ns per row); rows still leave in row order. */
        while (r + 40 <= r_end && c + 40 <= space) {
            __m256i d[8];
            for (int g = 0; g < 8; g++) d[g] = dist4(codes, r + 4 * (size_t)g, qv, 1);
            uint32_t ds[8];
            for (int t = 0; t < 8; t++)
                ds[t] = dh__popcount64(codes[r + 32 + (size_t)t] ^ q[0]);
            uint32_t smin = ds[0];
            for (int t = 1; t < 8; t++) smin = ds[t] < smin ? ds[t] : smin;
            __m256i mn = _mm256_min_epi32(min4(d[0], d[1], d[2], d[3]),
                                          min4(d[4], d[5], d[6], d[7]));
            if (DH__UNLIKELY(any_below(mn, bv) | (smin < bound))) {
                for (int g = 0; g < 4; g++)
                    c = emit8(d[2 * g], d[2 * g + 1], bv, r + 8 * (size_t)g, tomb, out_pos,
                              out_d, c);
                for (int t = 0; t < 8; t++)
                    if (ds[t] < bound && !dh__tomb_get(tomb, r + 32 + (size_t)t)) {
                        out_pos[c] = r + 32 + (size_t)t;
                        out_d[c] = (uint16_t)ds[t];
                        c++;
                    }
            }
            r += 40;
        }
        while (r + 32 <= r_end && c + 32 <= space) {
            __m256i d[8];
            for (int g = 0; g < 8; g++) d[g] = dist4(codes, r + 4 * (size_t)g, qv, 1);
            __m256i mn = _mm256_min_epi32(min4(d[0], d[1], d[2], d[3]),
                                          min4(d[4], d[5], d[6], d[7]));
            if (DH__UNLIKELY(any_below(mn, bv)))
                for (int g = 0; g < 4; g++)
                    c = emit8(d[2 * g], d[2 * g + 1], bv, r + 8 * (size_t)g, tomb, out_pos,
                              out_d, c);
            r += 32;
        }
    } else {
        while (r + 16 <= r_end && c + 16 <= space) {
            __m256i d0 = dist4(codes, r, qv, w), d1 = dist4(codes, r + 4, qv, w);
            __m256i d2 = dist4(codes, r + 8, qv, w), d3 = dist4(codes, r + 12, qv, w);
            if (DH__UNLIKELY(any_below(min4(d0, d1, d2, d3), bv))) {
                c = emit8(d0, d1, bv, r, tomb, out_pos, out_d, c);
                c = emit8(d2, d3, bv, r + 8, tomb, out_pos, out_d, c);
            }
            r += 16;
        }
    }
    if (r + 32 <= r_end) goto out; /* out of room: the caller cuts the list, calls again */
    while (r + 8 <= r_end && c + 8 <= space) {
        c = emit8(dist4(codes, r, qv, w), dist4(codes, r + 4, qv, w), bv, r, tomb, out_pos,
                  out_d, c);
        r += 8;
    }
    if (r + 8 <= r_end) goto out;
    return hc_scan_rows(q, codes, w, r, r_end, bound, tomb, out_pos, out_d, space, c, n_out);
out:
    *n_out = c;
    return r;
}

/* Eight distances of one transposed group (dh__transpose_block) as two vectors, rows
 * 0-3 and 4-7: vertical sums only. The LUT byte counts of up to 16 words are added as
 * bytes (<= 128 each) before one VPSADBW per vector. */
DH__K_INL void dist8_t(const uint64_t *tg, const uint64_t *q, uint32_t w, __m256i *lo,
                       __m256i *hi)
{
    const __m256i z = _mm256_setzero_si256();
    __m256i s0 = z, s1 = z, a0 = z, a1 = z;
    for (uint32_t i = 0; i < w; i++) {
        const __m256i qb = _mm256_set1_epi64x((long long)q[i]);
        a0 = _mm256_add_epi8(a0, dh__pc8_avx2(_mm256_xor_si256(load(tg + 8 * (size_t)i), qb)));
        a1 = _mm256_add_epi8(a1,
                             dh__pc8_avx2(_mm256_xor_si256(load(tg + 8 * (size_t)i + 4), qb)));
        if ((i & 15) == 15 && i + 1 < w) {
            s0 = _mm256_add_epi64(s0, _mm256_sad_epu8(a0, z));
            s1 = _mm256_add_epi64(s1, _mm256_sad_epu8(a1, z));
            a0 = a1 = z;
        }
    }
    *lo = _mm256_add_epi64(s0, _mm256_sad_epu8(a0, z));
    *hi = _mm256_add_epi64(s1, _mm256_sad_epu8(a1, z));
}

DH__K_INL size_t scan_t_w(const uint64_t *q, const uint64_t *tb, uint32_t w, size_t base, size_t r,
                          size_t r_end, uint32_t bound, const uint64_t *tomb, uint64_t *out_pos,
                          uint16_t *out_d, size_t space, size_t *n_out)
{
    const __m256i bv = _mm256_set1_epi64x((long long)bound);
    const size_t gw = 8 * (size_t)w; /* words per group */
    size_t c = 0;
    while (r + 32 <= r_end && c + 32 <= space) {
        const uint64_t *tg = tb + (r - base) / 8 * gw;
        __m256i d[8];
        for (int g = 0; g < 4; g++) dist8_t(tg + (size_t)g * gw, q, w, &d[2 * g], &d[2 * g + 1]);
        __m256i mn = _mm256_min_epi32(min4(d[0], d[1], d[2], d[3]), min4(d[4], d[5], d[6], d[7]));
        if (DH__UNLIKELY(any_below(mn, bv)))
            for (int g = 0; g < 4; g++)
                c = emit8(d[2 * g], d[2 * g + 1], bv, r + 8 * (size_t)g, tomb, out_pos, out_d, c);
        r += 32;
    }
    if (r + 32 > r_end) /* the last < 4 groups; out of room otherwise */
        for (; r + 8 <= r_end && c + 8 <= space; r += 8) {
            __m256i lo, hi;
            dist8_t(tb + (r - base) / 8 * gw, q, w, &lo, &hi);
            c = emit8(lo, hi, bv, r, tomb, out_pos, out_d, c);
        }
    *n_out = c;
    return r;
}

DH__TGT static size_t k_scan_t(const uint64_t *q, const uint64_t *tb, uint32_t n_words,
                               size_t base, size_t r, size_t r_end, uint32_t bound,
                               const uint64_t *tomb, uint64_t *out_pos, uint16_t *out_d,
                               size_t space, size_t *n_out)
{
    switch (n_words) { /* constant trip counts for the common widths */
    case 2: return scan_t_w(q, tb, 2, base, r, r_end, bound, tomb, out_pos, out_d, space, n_out);
    case 4: return scan_t_w(q, tb, 4, base, r, r_end, bound, tomb, out_pos, out_d, space, n_out);
    case 8: return scan_t_w(q, tb, 8, base, r, r_end, bound, tomb, out_pos, out_d, space, n_out);
    default:
        return scan_t_w(q, tb, n_words, base, r, r_end, bound, tomb, out_pos, out_d, space, n_out);
    }
}

DH__TGT static size_t k_scan(const uint64_t *q, const uint64_t *codes, uint32_t n_words,
                             size_t r, size_t r_end, uint32_t bound, const uint64_t *tomb,
                             uint64_t *out_pos, uint16_t *out_d, size_t space, size_t *n_out)
{
    switch (n_words) {
    case 1: return scan_fixed(q, codes, 1, r, r_end, bound, tomb, out_pos, out_d, space, n_out);
    case 2: return scan_fixed(q, codes, 2, r, r_end, bound, tomb, out_pos, out_d, space, n_out);
    case 4: return scan_fixed(q, codes, 4, r, r_end, bound, tomb, out_pos, out_d, space, n_out);
    default: /* other widths: one row at a time, 4 words per step */
        return hc_scan_rows(q, codes, n_words, r, r_end, bound, tomb, out_pos, out_d, space, 0,
                            n_out);
    }
}

DH__TGT static void k_dist(const uint64_t *q, const uint64_t *codes, uint32_t n_words, size_t n,
                           int32_t *out)
{
    size_t i = 0;
    if (n_words == 1 || n_words == 2 || n_words == 4) {
        const __m256i qv = query_vec(q, n_words);
        for (; i + 4 <= n; i += 4) {
            uint64_t tmp[4];
            _mm256_storeu_si256((__m256i *)(void *)tmp, dist4(codes, i, qv, n_words));
            for (int t = 0; t < 4; t++) out[i + (size_t)t] = (int32_t)tmp[t];
        }
    }
    hc_dist_rows(q, codes, n_words, i, n, out);
}

const dh__kernels dh__kernels_avx2 = {DH_ISA_AVX2, k_scan, k_dist, k_scan_t};
#endif
