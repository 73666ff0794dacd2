/* lib/eval/scan_avx2.c -- the per-query pass on AVX2 (DH_ISA_AVX2, and AVX-512 CPUs for
 * the shapes scan_avx512.c does not cover); same output as scan.c's kernels.
 *
 * The database goes by in chunks of 64 rows, as in scan_avx512.c. Per chunk: the 64
 * distances (the Hamming layer's LUT popcount, lib/core/hamming_simd.h; one, two or four
 * words per row in registers, scalar POPCNT for other widths), kept as bytes when
 * K <= 128 and as 16-bit values above; a 64-bit relevance mask from vector compares of
 * the labels; then for each relevant row j only, its position inside its distance
 * bucket = (count of that distance before the chunk) + (rows before j in the chunk at
 * the same distance: a vector compare of the chunk's distances and a popcount); then
 * the chunk's rows enter SUB interleaved sub-histograms (a single histogram makes
 * increments of the same counter wait for each other's stores). */
#include "eval/scan_isa.h"

#include "core/hamming_simd.h"

#ifdef DH__HAVE_X86_KERNELS
#include <string.h>

#define TGT DH__TGT_AVX2
#define INL static inline __attribute__((always_inline)) TGT
#define CHUNK 64
#define SUB 4
#define BINS 257 /* sub-histograms for K <= 256; wider codes count in cnt directly */

INL __m256i ld(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

INL uint64_t ld64(const uint64_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Distances of rows 4j..4j+3 of a chunk (w = 1, 2, 4) as four 64-bit lanes. */
INL __m256i dist4(const uint64_t *p, const __m256i *qv, uint32_t w)
{
    if (w == 1) return dh__pc64_avx2(_mm256_xor_si256(ld(p), qv[0]));
    if (w == 2) {
        __m256i x = dh__pc64_avx2(_mm256_xor_si256(ld(p), qv[0]));
        __m256i y = dh__pc64_avx2(_mm256_xor_si256(ld(p + 4), qv[0]));
        __m256i s = _mm256_add_epi64(_mm256_unpacklo_epi64(x, y), _mm256_unpackhi_epi64(x, y));
        return _mm256_permute4x64_epi64(s, 0xD8);
    }
    /* w = 4: byte counts of the 4 rows summed before one VPSADBW per row pair */
    __m256i a = dh__pc8_avx2(_mm256_xor_si256(ld(p), qv[0]));
    __m256i b = dh__pc8_avx2(_mm256_xor_si256(ld(p + 4), qv[0]));
    __m256i c = dh__pc8_avx2(_mm256_xor_si256(ld(p + 8), qv[0]));
    __m256i d = dh__pc8_avx2(_mm256_xor_si256(ld(p + 12), qv[0]));
    const __m256i z = _mm256_setzero_si256();
    __m256i sa = _mm256_sad_epu8(a, z), sb = _mm256_sad_epu8(b, z);
    __m256i sc = _mm256_sad_epu8(c, z), sd = _mm256_sad_epu8(d, z);
    __m256i t0 = _mm256_add_epi64(_mm256_unpacklo_epi64(sa, sb), _mm256_unpackhi_epi64(sa, sb));
    __m256i t1 = _mm256_add_epi64(_mm256_unpacklo_epi64(sc, sd), _mm256_unpackhi_epi64(sc, sd));
    return _mm256_add_epi64(_mm256_permute2x128_si256(t0, t1, 0x20),
                            _mm256_permute2x128_si256(t0, t1, 0x31));
}

/* 32 distances < 256 (eight 4-row vectors, rows in order) as 32 bytes in row order. */
INL __m256i pack32(const __m256i *v)
{
    __m256i e = _mm256_or_si256(v[0], _mm256_slli_epi64(v[1], 32));
    __m256i f = _mm256_or_si256(v[2], _mm256_slli_epi64(v[3], 32));
    __m256i g = _mm256_or_si256(v[4], _mm256_slli_epi64(v[5], 32));
    __m256i h = _mm256_or_si256(v[6], _mm256_slli_epi64(v[7], 32));
    __m256i p = _mm256_packus_epi16(_mm256_packus_epi32(e, f), _mm256_packus_epi32(g, h));
    p = _mm256_permute4x64_epi64(p, 0xD8);
    const __m256i ord = _mm256_setr_epi8(0, 2, 8, 10, 1, 3, 9, 11, 4, 6, 12, 14, 5, 7, 13, 15, 0,
                                         2, 8, 10, 1, 3, 9, 11, 4, 6, 12, 14, 5, 7, 13, 15);
    return _mm256_shuffle_epi8(p, ord);
}

/* 16 distances (four 4-row vectors) as 16-bit values in row order. */
INL __m256i pack16(const __m256i *v)
{
    __m256i e = _mm256_or_si256(v[0], _mm256_slli_epi64(v[1], 32));
    __m256i f = _mm256_or_si256(v[2], _mm256_slli_epi64(v[3], 32));
    __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(e, f), 0xD8);
    const __m256i ord = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15, 0,
                                         1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
    return _mm256_shuffle_epi8(p, ord);
}

/* Relevance bits of a chunk's 64 rows. */
INL uint64_t rel_class(const int32_t *ids, __m256i qid)
{
    uint64_t m = 0;
    for (int k = 0; k < CHUNK / 8; k++)
        m |= (uint64_t)(uint32_t)_mm256_movemask_ps(
                 _mm256_castsi256_ps(_mm256_cmpeq_epi32(ld(ids + 8 * k), qid)))
             << (8 * k);
    return m;
}

INL uint64_t rel_mask1(const uint64_t *masks, __m256i qm)
{
    uint64_t m = 0;
    const __m256i z = _mm256_setzero_si256();
    for (int k = 0; k < CHUNK / 4; k++) {
        __m256i e = _mm256_cmpeq_epi64(_mm256_and_si256(ld(masks + 4 * k), qm), z);
        m |= (uint64_t)(~(uint32_t)_mm256_movemask_pd(_mm256_castsi256_pd(e)) & 15u) << (4 * k);
    }
    return m;
}

INL uint64_t rel_maskn(const uint64_t *masks, const uint64_t *qm, uint32_t lw)
{
    uint64_t m = 0;
    for (int j = 0; j < CHUNK; j++) {
        uint64_t acc = 0;
        for (uint32_t w = 0; w < lw; w++) acc |= masks[(size_t)j * lw + w] & qm[w];
        m |= (uint64_t)(acc != 0) << j;
    }
    return m;
}

/* The body, for code width w (0: any, from d->words), relevance kind and label words.
 * Distances live in hb8 (K <= 128) or hb16 (else); `sub` is used for K <= 256. */
INL uint64_t scan_body(const dh__eval_data *d, size_t q, uint32_t *cnt, uint64_t *rel,
                       uint32_t w, int kind, int one_word)
{
    const uint32_t nw = w ? w : d->words, lw = d->label_words;
    const int narrow = d->n_bits <= 128, use_sub = d->n_bits <= 256;
    const uint64_t *db = (const uint64_t *)(const void *)d->db_codes;
    const uint8_t *qrow = d->q_codes + q * d->q_stride;
    uint64_t qw[DH__EVAL_MAX_WORDS] = {0};
    memcpy(qw, qrow, (size_t)nw * 8);
    __m256i qv[1];
    qv[0] = nw == 1   ? _mm256_set1_epi64x((long long)qw[0])
            : nw == 2 ? _mm256_setr_epi64x((long long)qw[0], (long long)qw[1], (long long)qw[0],
                                           (long long)qw[1])
                      : ld(qw);
    const int32_t qid = kind == DH__REL_CLASS ? d->q_ids[q] : 0;
    const uint64_t *qm = kind == DH__REL_MASK ? d->q_mask + q * lw : NULL;
    const __m256i qidv = _mm256_set1_epi32(qid);
    const __m256i qmv = _mm256_set1_epi64x(kind == DH__REL_MASK ? (long long)qm[0] : 0);
    uint32_t sub[SUB][BINS];
    if (use_sub) memset(sub, 0, sizeof(uint32_t) * BINS * SUB);
    uint8_t hb8[CHUNK] __attribute__((aligned(32)));
    uint16_t hb16[CHUNK] __attribute__((aligned(32)));
    const size_t n = d->n_db;
    uint64_t nr = 0;
    size_t i = 0;
    for (; i + CHUNK <= n; i += CHUNK) {
        const uint64_t *p = db + i * nw;
        const __m256i z = _mm256_setzero_si256();
        __m256i hv[2] = {z, z}, hw[4] = {z, z, z, z};
        if (narrow) { /* w = 1 or 2 */
            for (int h = 0; h < 2; h++) {
                __m256i v[8];
                for (int k = 0; k < 8; k++) v[k] = dist4(p + (size_t)(32 * h + 4 * k) * nw, qv, nw);
                hv[h] = pack32(v);
                _mm256_store_si256((__m256i *)(void *)(hb8 + 32 * h), hv[h]);
            }
        } else {
            if (nw == 4) {
                for (int h = 0; h < 4; h++) {
                    __m256i v[4];
                    for (int k = 0; k < 4; k++)
                        v[k] = dist4(p + (size_t)(16 * h + 4 * k) * 4, qv, 4);
                    hw[h] = pack16(v);
                    _mm256_store_si256((__m256i *)(void *)(hb16 + 16 * h), hw[h]);
                }
            } else {
                for (int j = 0; j < CHUNK; j++) {
                    uint32_t s = 0;
                    for (uint32_t t = 0; t < nw; t++)
                        s += dh__popcount64(qw[t] ^ ld64(p + (size_t)j * nw + t));
                    hb16[j] = (uint16_t)s;
                }
                for (int h = 0; h < 4; h++) hw[h] = ld(hb16 + 16 * h);
            }
        }
        uint64_t m = kind == DH__REL_CLASS ? rel_class(d->db_ids + i, qidv)
                     : one_word            ? rel_mask1(d->db_mask + i, qmv)
                                           : rel_maskn(d->db_mask + i * lw, qm, lw);
        while (m) {
            unsigned j = (unsigned)__builtin_ctzll(m);
            m &= m - 1;
            uint64_t below = (UINT64_C(1) << j) - 1, same;
            uint32_t h;
            if (narrow) {
                h = hb8[j];
                __m256i hb = _mm256_set1_epi8((char)h);
                same = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(hv[0], hb)) |
                       (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(hv[1], hb))
                           << 32;
            } else {
                h = hb16[j];
                __m256i hb = _mm256_set1_epi16((short)h);
                __m256i a = _mm256_packs_epi16(_mm256_cmpeq_epi16(hw[0], hb),
                                               _mm256_cmpeq_epi16(hw[1], hb));
                __m256i b = _mm256_packs_epi16(_mm256_cmpeq_epi16(hw[2], hb),
                                               _mm256_cmpeq_epi16(hw[3], hb));
                a = _mm256_permute4x64_epi64(a, 0xD8);
                b = _mm256_permute4x64_epi64(b, 0xD8);
                same = (uint64_t)(uint32_t)_mm256_movemask_epi8(a) |
                       (uint64_t)(uint32_t)_mm256_movemask_epi8(b) << 32;
            }
            uint32_t before = use_sub ? sub[0][h] + sub[1][h] + sub[2][h] + sub[3][h] : cnt[h];
            rel[nr++] = (uint64_t)h << 32 | (before + dh__popcount64(same & below));
        }
        if (use_sub) {
            for (int k = 0; k < CHUNK; k += SUB)
                for (int s = 0; s < SUB; s++) sub[s][narrow ? hb8[k + s] : hb16[k + s]]++;
        } else {
            for (int k = 0; k < CHUNK; k++) cnt[hb16[k]]++;
        }
    }
    if (use_sub)
        for (uint32_t h = 0; h <= d->n_bits; h++)
            cnt[h] = sub[0][h] + sub[1][h] + sub[2][h] + sub[3][h];
    /* the last n % 64 rows one by one, as the generic kernel does */
    for (; i < n; i++) {
        const uint64_t *row = db + i * nw;
        uint32_t h = 0;
        for (uint32_t t = 0; t < nw; t++) h += dh__popcount64(qw[t] ^ ld64(row + t));
        uint32_t r;
        if (kind == DH__REL_CLASS) r = d->db_ids[i] == qid;
        else if (one_word) r = (d->db_mask[i] & qm[0]) != 0;
        else {
            uint64_t acc = 0;
            for (uint32_t t = 0; t < lw; t++) acc |= d->db_mask[i * lw + t] & qm[t];
            r = acc != 0;
        }
        rel[nr] = (uint64_t)h << 32 | cnt[h]++;
        nr += r;
    }
    return nr;
}

#define FAMILY(wname, wval)                                                                 \
    TGT static uint64_t s_##wname##_class(const dh__eval_data *d, size_t q, uint32_t *c,    \
                                          uint64_t *r)                                      \
    {                                                                                       \
        return scan_body(d, q, c, r, wval, DH__REL_CLASS, 0);                               \
    }                                                                                       \
    TGT static uint64_t s_##wname##_mask1(const dh__eval_data *d, size_t q, uint32_t *c,    \
                                          uint64_t *r)                                      \
    {                                                                                       \
        return scan_body(d, q, c, r, wval, DH__REL_MASK, 1);                                \
    }                                                                                       \
    TGT static uint64_t s_##wname##_maskn(const dh__eval_data *d, size_t q, uint32_t *c,    \
                                          uint64_t *r)                                      \
    {                                                                                       \
        return scan_body(d, q, c, r, wval, DH__REL_MASK, 0);                                \
    }
FAMILY(w1, 1)
FAMILY(w2, 2)
FAMILY(w4, 4)
FAMILY(wn, 0)

static const dh__eval_scan_fn table[4][3] = {{s_w1_class, s_w1_mask1, s_w1_maskn},
                                             {s_w2_class, s_w2_mask1, s_w2_maskn},
                                             {s_w4_class, s_w4_mask1, s_w4_maskn},
                                             {s_wn_class, s_wn_mask1, s_wn_maskn}};

dh__eval_scan_fn dh__eval_scan_avx2(const dh__eval_data *d)
{
    if (d->db_stride != (size_t)d->words * 8 || d->words > DH__EVAL_MAX_WORDS) return NULL;
    int w = d->words == 1 ? 0 : d->words == 2 ? 1 : d->words == 4 ? 2 : 3;
    int k = d->rel_kind == DH__REL_CLASS ? 0 : d->label_words == 1 ? 1 : 2;
    return table[w][k];
}

#else
dh__eval_scan_fn dh__eval_scan_avx2(const dh__eval_data *d)
{
    (void)d;
    return NULL;
}
#endif
