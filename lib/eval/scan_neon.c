/* lib/eval/scan_neon.c -- the per-query pass on aarch64 NEON (DH_ISA_NEON); same output
 * as scan.c's kernels. Distances from the Hamming layer's NEON primitives
 * (lib/core/hamming_simd.h: two 64-bit rows per CNT for K <= 64, dh__dist_neon for
 * wider rows). Row i counts in sub-histogram i % 4 (K <= 256), so increments of the
 * same distance in consecutive rows do not wait for each other's stores; an item's
 * position inside its distance bucket is the sum of the four counters. Tested under
 * qemu-user; speed not measured. */
#include "eval/scan_isa.h"

#include "core/hamming_simd.h"

#ifdef DH__HAVE_NEON_KERNELS
#include <string.h>

#define SUB 4
#define BINS 257

#define N_INL static inline __attribute__((always_inline))

N_INL uint32_t relevant(const dh__eval_data *d, size_t i, int kind, int one_word, int32_t qid,
                        const uint64_t *qm)
{
    if (kind == DH__REL_CLASS) return d->db_ids[i] == qid;
    const uint32_t lw = d->label_words;
    if (one_word) return (d->db_mask[i] & qm[0]) != 0;
    uint64_t acc = 0;
    for (uint32_t t = 0; t < lw; t++) acc |= d->db_mask[i * lw + t] & qm[t];
    return acc != 0;
}

/* Book row i at distance h: its entry (kept only if relevant) and its count. */
N_INL uint64_t book(uint32_t (*sub)[BINS], uint32_t *cnt, int use_sub, size_t i, uint32_t h,
                    uint32_t r, uint64_t *rel, uint64_t nr)
{
    uint32_t pos;
    if (use_sub) {
        pos = sub[0][h] + sub[1][h] + sub[2][h] + sub[3][h];
        sub[i % SUB][h]++;
    } else {
        pos = cnt[h]++;
    }
    rel[nr] = (uint64_t)h << 32 | pos; /* branch-free append */
    return nr + r;
}

N_INL uint64_t scan_body(const dh__eval_data *d, size_t q, uint32_t *cnt, uint64_t *rel,
                         uint32_t w, int kind, int one_word)
{
    const uint32_t nw = w ? w : d->words;
    const int use_sub = d->n_bits < BINS;
    const uint8_t *db = d->db_codes, *qrow = d->q_codes + q * d->q_stride;
    const size_t n = d->n_db, stride = d->db_stride;
    const int32_t qid = kind == DH__REL_CLASS ? d->q_ids[q] : 0;
    const uint64_t *qm = kind == DH__REL_MASK ? d->q_mask + q * d->label_words : NULL;
    uint32_t sub[SUB][BINS];
    if (use_sub) memset(sub, 0, sizeof sub);
    uint64_t nr = 0;
    size_t i = 0;
    if (nw == 1 && stride == 8) { /* two rows per CNT */
        uint64_t qw;
        memcpy(&qw, qrow, 8);
        const uint64x2_t qv = vdupq_n_u64(qw);
        for (; i + 2 <= n; i += 2) {
            uint64x2_t x = vreinterpretq_u64_u8(vld1q_u8(db + 8 * i));
            uint64x2_t dv = dh__pc64_neon(veorq_u64(x, qv));
            uint32_t h0 = (uint32_t)vgetq_lane_u64(dv, 0), h1 = (uint32_t)vgetq_lane_u64(dv, 1);
            nr = book(sub, cnt, use_sub, i, h0, relevant(d, i, kind, one_word, qid, qm), rel, nr);
            nr = book(sub, cnt, use_sub, i + 1, h1, relevant(d, i + 1, kind, one_word, qid, qm),
                      rel, nr);
        }
    }
    for (; i < n; i++) {
        uint32_t h = dh__dist_neon(qrow, db + i * stride, nw);
        nr = book(sub, cnt, use_sub, i, h, relevant(d, i, kind, one_word, qid, qm), rel, nr);
    }
    if (use_sub)
        for (uint32_t h = 0; h <= d->n_bits; h++)
            cnt[h] = sub[0][h] + sub[1][h] + sub[2][h] + sub[3][h];
    return nr;
}

#define FAMILY(wname, wval)                                                                 \
    static uint64_t s_##wname##_class(const dh__eval_data *d, size_t q, uint32_t *c,        \
                                      uint64_t *r)                                          \
    {                                                                                       \
        return scan_body(d, q, c, r, wval, DH__REL_CLASS, 0);                               \
    }                                                                                       \
    static uint64_t s_##wname##_mask1(const dh__eval_data *d, size_t q, uint32_t *c,        \
                                      uint64_t *r)                                          \
    {                                                                                       \
        return scan_body(d, q, c, r, wval, DH__REL_MASK, 1);                                \
    }                                                                                       \
    static uint64_t s_##wname##_maskn(const dh__eval_data *d, size_t q, uint32_t *c,        \
                                      uint64_t *r)                                          \
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

dh__eval_scan_fn dh__eval_scan_neon(const dh__eval_data *d)
{
    int w = d->words == 1 ? 0 : d->words == 2 ? 1 : d->words == 4 ? 2 : 3;
    int k = d->rel_kind == DH__REL_CLASS ? 0 : d->label_words == 1 ? 1 : 2;
    return table[w][k];
}

#else
dh__eval_scan_fn dh__eval_scan_neon(const dh__eval_data *d)
{
    (void)d;
    return NULL;
}
#endif
