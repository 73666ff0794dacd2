/* lib/core/hamming_avx512.h -- AVX-512 Hamming kernel template, included by
 * hamming_avx512bw.c (nibble-LUT popcount) and hamming_avx512vpopcnt.c (VPOPCNTQ).
 *
 * The includer defines DH__TGT (the target attribute), a function popcnt64(__m512i)
 * giving the popcount of each 64-bit lane, and DH__KERNELS_NAME / DH__KERNELS_ISA.
 * Eight rows are compared per step; for K = 64/128/256 (1, 2, 4 words) the eight
 * distances land in the eight lanes of one register, are compared with the bound in
 * one instruction, and only rows that pass (rare once the k-th distance is small)
 * leave the registers. */

#define DH__K_INL static inline __attribute__((always_inline)) DH__TGT

/* Lane i of the result = a[2i] + a[2i+1] for the 16 lanes of (a, b). */
DH__K_INL __m512i pairsum(__m512i a, __m512i b)
{
    const __m512i even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    return _mm512_add_epi64(_mm512_permutex2var_epi64(a, even, b),
                            _mm512_permutex2var_epi64(a, odd, b));
}

/* Distances of rows r..r+7 as eight 64-bit lanes, W = 1, 2 or 4 words. */
DH__K_INL __m512i dist8(const uint64_t *codes, size_t r, __m512i qv, uint32_t w)
{
    const uint64_t *p = codes + r * w;
    if (w == 1) return popcnt64(_mm512_xor_si512(_mm512_loadu_si512(p), qv));
    if (w == 2) {
        __m512i a = popcnt64(_mm512_xor_si512(_mm512_loadu_si512(p), qv));
        __m512i b = popcnt64(_mm512_xor_si512(_mm512_loadu_si512(p + 8), qv));
        return pairsum(a, b);
    }
    __m512i a = popcnt64(_mm512_xor_si512(_mm512_loadu_si512(p), qv));
    __m512i b = popcnt64(_mm512_xor_si512(_mm512_loadu_si512(p + 8), qv));
    __m512i c = popcnt64(_mm512_xor_si512(_mm512_loadu_si512(p + 16), qv));
    __m512i d = popcnt64(_mm512_xor_si512(_mm512_loadu_si512(p + 24), qv));
    return pairsum(pairsum(a, b), pairsum(c, d));
}

/* Query words repeated across the register: [q0..q(w-1)] * (8 / w). */
DH__K_INL __m512i query_vec(const uint64_t *q, uint32_t w)
{
    if (w == 1) return _mm512_set1_epi64((long long)q[0]);
    if (w == 2) return _mm512_set_epi64((long long)q[1], (long long)q[0], (long long)q[1],
                                        (long long)q[0], (long long)q[1], (long long)q[0],
                                        (long long)q[1], (long long)q[0]);
    return _mm512_set_epi64((long long)q[3], (long long)q[2], (long long)q[1], (long long)q[0],
                            (long long)q[3], (long long)q[2], (long long)q[1], (long long)q[0]);
}

DH__K_INL void emit_vec(__mmask8 m, __m512i d, size_t r0, const uint64_t *tomb,
                        uint64_t *out_pos, uint16_t *out_d, size_t *c)
{
    uint32_t mask = (uint32_t)m & ~dh__tomb_bits8(tomb, r0);
    if (!mask) return;
    uint64_t tmp[8];
    _mm512_storeu_si512(tmp, d);
    *c = hc_emit8(mask, tmp, r0, out_pos, out_d, *c);
}

DH__K_INL void emit_if(__m512i d, __m512i bv, size_t r0, const uint64_t *tomb,
                       uint64_t *out_pos, uint16_t *out_d, size_t *c)
{
    __mmask8 m = _mm512_cmplt_epu64_mask(d, bv);
    if (m) emit_vec(m, d, r0, tomb, out_pos, out_d, c);
}

/* Fixed-width scan. 32 rows per step: the four distance vectors are reduced with a
 * minimum, so one comparison tells whether any row passes (rare once the bound is
 * low); only then are the groups compared one by one. */
DH__K_INL size_t scan_fixed(const uint64_t *q, const uint64_t *codes, uint32_t w, size_t r,
                            size_t r_end, uint32_t bound, const uint64_t *tomb,
                            uint64_t *out_pos, uint16_t *out_d, size_t space, size_t *n_out)
{
    const __m512i qv = query_vec(q, w);
    const __m512i bv = _mm512_set1_epi64((long long)bound);
    size_t c = 0;
    while (r + 32 <= r_end && c + 32 <= space) {
        __m512i d0 = dist8(codes, r, qv, w), d1 = dist8(codes, r + 8, qv, w);
        __m512i d2 = dist8(codes, r + 16, qv, w), d3 = dist8(codes, r + 24, qv, w);
        __m512i mn = _mm512_min_epu64(_mm512_min_epu64(d0, d1), _mm512_min_epu64(d2, d3));
        if (DH__UNLIKELY(_mm512_cmplt_epu64_mask(mn, bv) != 0)) {
            emit_if(d0, bv, r, tomb, out_pos, out_d, &c);
            emit_if(d1, bv, r + 8, tomb, out_pos, out_d, &c);
            emit_if(d2, bv, r + 16, tomb, out_pos, out_d, &c);
            emit_if(d3, bv, r + 24, tomb, out_pos, out_d, &c);
        }
        r += 32;
    }
    /* Out of room with rows left: return so the caller cuts the list (and keeps the
     * vector loop), rather than crawling on row by row. */
    if (r + 32 <= r_end) goto out;
    while (r + 8 <= r_end && c + 8 <= space) {
        emit_if(dist8(codes, r, qv, w), bv, r, tomb, out_pos, out_d, &c);
        r += 8;
    }
    if (r + 8 <= r_end) goto out;
    return hc_scan_rows(q, codes, w, r, r_end, bound, tomb, out_pos, out_d, space, c, n_out);
out:
    *n_out = c;
    return r;
}

/* Distance of one row of any width: 8 words per step, a masked load for the rest. */
DH__K_INL uint32_t dist_any(const uint64_t *q, const uint64_t *x, uint32_t w)
{
    __m512i acc = _mm512_setzero_si512();
    uint32_t i = 0;
    for (; i + 8 <= w; i += 8)
        acc = _mm512_add_epi64(acc, popcnt64(_mm512_xor_si512(_mm512_loadu_si512(q + i),
                                                              _mm512_loadu_si512(x + i))));
    if (i < w) {
        __mmask8 m = (__mmask8)((1u << (w - i)) - 1u);
        acc = _mm512_add_epi64(acc, popcnt64(_mm512_xor_si512(_mm512_maskz_loadu_epi64(m, q + i),
                                                              _mm512_maskz_loadu_epi64(m, x + i))));
    }
    return (uint32_t)_mm512_reduce_add_epi64(acc);
}

DH__K_INL size_t scan_any(const uint64_t *q, const uint64_t *codes, uint32_t w, size_t r,
                          size_t r_end, uint32_t bound, const uint64_t *tomb, uint64_t *out_pos,
                          uint16_t *out_d, size_t space, size_t *n_out)
{
    size_t c = 0;
    for (; r < r_end && c < space; r++) {
        uint32_t d = dist_any(q, codes + r * w, w);
        if (d < bound && !dh__tomb_get(tomb, r)) {
            out_pos[c] = r;
            out_d[c] = (uint16_t)d;
            c++;
        }
    }
    *n_out = c;
    return r;
}

DH__TGT static size_t k_scan(const uint64_t *q, const uint64_t *codes, uint32_t n_words,
                             size_t r, size_t r_end, uint32_t bound, const uint64_t *tomb,
                             uint64_t *out_pos, uint16_t *out_d, size_t space, size_t *n_out)
{
    switch (n_words) {
    case 1: return scan_fixed(q, codes, 1, r, r_end, bound, tomb, out_pos, out_d, space, n_out);
    case 2: return scan_fixed(q, codes, 2, r, r_end, bound, tomb, out_pos, out_d, space, n_out);
    case 4: return scan_fixed(q, codes, 4, r, r_end, bound, tomb, out_pos, out_d, space, n_out);
    default:
        return scan_any(q, codes, n_words, r, r_end, bound, tomb, out_pos, out_d, space, n_out);
    }
}

DH__TGT static void k_dist(const uint64_t *q, const uint64_t *codes, uint32_t n_words, size_t n,
                           int32_t *out)
{
    size_t i = 0;
    if (n_words == 1 || n_words == 2 || n_words == 4) {
        const __m512i qv = query_vec(q, n_words);
        for (; i + 8 <= n; i += 8) {
            __m512i d = dist8(codes, i, qv, n_words);
            _mm256_storeu_si256((__m256i *)(void *)(out + i), _mm512_cvtepi64_epi32(d));
        }
        hc_dist_rows(q, codes, n_words, i, n, out);
        return;
    }
    for (; i < n; i++) out[i] = (int32_t)dist_any(q, codes + i * n_words, n_words);
}

/* Eight distances of one transposed group: vertical sums only. */
DH__K_INL __m512i dist8_t(const uint64_t *tg, const uint64_t *q, uint32_t w)
{
    __m512i acc =
        popcnt64(_mm512_xor_si512(_mm512_load_si512(tg), _mm512_set1_epi64((long long)q[0])));
    for (uint32_t i = 1; i < w; i++)
        acc = _mm512_add_epi64(acc, popcnt64(_mm512_xor_si512(_mm512_load_si512(tg + 8 * i),
                                                              _mm512_set1_epi64((long long)q[i]))));
    return acc;
}

DH__K_INL size_t scan_t_w(const uint64_t *q, const uint64_t *tb, uint32_t w, size_t base, size_t r,
                          size_t r_end, uint32_t bound, const uint64_t *tomb, uint64_t *out_pos,
                          uint16_t *out_d, size_t space, size_t *n_out)
{
    const __m512i bv = _mm512_set1_epi64((long long)bound);
    const size_t gw = 8 * (size_t)w; /* words per group */
    size_t c = 0;
    while (r + 32 <= r_end && c + 32 <= space) {
        const uint64_t *tg = tb + (r - base) / 8 * gw;
        __m512i d0 = dist8_t(tg, q, w), d1 = dist8_t(tg + gw, q, w);
        __m512i d2 = dist8_t(tg + 2 * gw, q, w), d3 = dist8_t(tg + 3 * gw, q, w);
        __m512i mn = _mm512_min_epu64(_mm512_min_epu64(d0, d1), _mm512_min_epu64(d2, d3));
        if (DH__UNLIKELY(_mm512_cmplt_epu64_mask(mn, bv) != 0)) {
            emit_if(d0, bv, r, tomb, out_pos, out_d, &c);
            emit_if(d1, bv, r + 8, tomb, out_pos, out_d, &c);
            emit_if(d2, bv, r + 16, tomb, out_pos, out_d, &c);
            emit_if(d3, bv, r + 24, tomb, out_pos, out_d, &c);
        }
        r += 32;
    }
    if (r + 32 > r_end) /* the last < 4 groups; out of room otherwise */
        for (; r + 8 <= r_end && c + 8 <= space; r += 8)
            emit_if(dist8_t(tb + (r - base) / 8 * gw, q, w), bv, r, tomb, out_pos, out_d, &c);
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
    default:
        return scan_t_w(q, tb, n_words, base, r, r_end, bound, tomb, out_pos, out_d, space, n_out);
    }
}

const dh__kernels DH__KERNELS_NAME = {DH__KERNELS_ISA, k_scan, k_dist, k_scan_t};
