/* lib/eval/scan.c -- the per-query pass over the database: Hamming distance,
 * relevance, per-distance counts, and the in-bucket position of each relevant item.
 *
 * This is the only O(n_db) work per query, so it is specialised by code width
 * (1, 2, 4 words or any), relevance kind (class id, one mask word, several) and
 * kernel set: the same body compiled portable (SWAR popcount from libgcc), with
 * POPCNT, and with AVX-512 VPOPCNTDQ (distances of 8 rows per instruction). The
 * histogram update `pos = cnt[d]++` is the running position of the item inside its
 * distance bucket, which is what database-order tie breaking needs; relevant items
 * are appended branch-free (the store always happens, the count only advances for
 * relevant items). */
#include "eval.h"

#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define DH__EVAL_X86 1
#include <immintrin.h>
#endif

#define MAX_WORDS 64 /* 4096 bits */

static inline uint64_t ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Relevance of database row i to the query: class ids compare equal (and the query
 * has a label), masks share a bit. */
#define REL_CLASS(i) ((uint32_t)(db_ids[i] == qid) & qlab)
#define REL_MASK1(i) ((uint32_t)((db_mask[i] & qm[0]) != 0))

static inline __attribute__((always_inline)) uint32_t
rel_maskn(const uint64_t *row, const uint64_t *qm, uint32_t lw)
{
    uint64_t acc = 0;
    for (uint32_t w = 0; w < lw; w++) acc |= row[w] & qm[w];
    return acc != 0;
}

static inline __attribute__((always_inline)) uint32_t
dist_words(const uint64_t *qw, const uint8_t *row, uint32_t nw)
{
    uint32_t dist = 0;
    for (uint32_t w = 0; w < nw; w++)
        dist += (uint32_t)__builtin_popcountll(qw[w] ^ ld64(row + 8 * w));
    return dist;
}

/* The generic body: nw and kind are compile-time constants at every call site, so
 * each instantiation is a tight loop. */
static inline __attribute__((always_inline)) uint32_t
scan_body(const dh__eval_data *d, size_t q, uint32_t *cnt, uint16_t *rel_h, uint32_t *rel_pos,
          uint32_t nw, int kind, int one_mask_word)
{
    uint64_t qw[MAX_WORDS];
    const uint8_t *qrow = d->q_codes + q * d->q_stride;
    for (uint32_t w = 0; w < nw; w++) qw[w] = ld64(qrow + 8 * w);
    const uint8_t *db = d->db_codes;
    const size_t stride = d->db_stride, n = d->n_db;
    uint32_t nr = 0;
    if (kind == DH__REL_CLASS) {
        const int32_t *db_ids = d->db_ids;
        const int32_t qid = d->q_ids[q];
        const uint32_t qlab = qid >= 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t h = dist_words(qw, db + i * stride, nw);
            rel_h[nr] = (uint16_t)h;
            rel_pos[nr] = cnt[h]++;
            nr += REL_CLASS(i);
        }
    } else if (one_mask_word) {
        const uint64_t *db_mask = d->db_mask;
        const uint64_t *qm = d->q_mask + q;
        for (size_t i = 0; i < n; i++) {
            uint32_t h = dist_words(qw, db + i * stride, nw);
            rel_h[nr] = (uint16_t)h;
            rel_pos[nr] = cnt[h]++;
            nr += REL_MASK1(i);
        }
    } else {
        const uint32_t lw = d->label_words;
        const uint64_t *qm = d->q_mask + q * lw;
        for (size_t i = 0; i < n; i++) {
            uint32_t h = dist_words(qw, db + i * stride, nw);
            rel_h[nr] = (uint16_t)h;
            rel_pos[nr] = cnt[h]++;
            nr += rel_maskn(d->db_mask + i * lw, qm, lw);
        }
    }
    return nr;
}

/* Instantiate the 3 relevance kinds for a code width; `nw` a constant or d->words. */
#define DH__SCAN_FAMILY(attr, sfx, wname, nwexpr)                                          \
    attr static uint32_t scan_##sfx##_##wname##_class(const dh__eval_data *d, size_t q,    \
                                                       uint32_t *c, uint16_t *h, uint32_t *p) \
    {                                                                                      \
        return scan_body(d, q, c, h, p, nwexpr, DH__REL_CLASS, 0);                         \
    }                                                                                      \
    attr static uint32_t scan_##sfx##_##wname##_mask1(const dh__eval_data *d, size_t q,    \
                                                       uint32_t *c, uint16_t *h, uint32_t *p) \
    {                                                                                      \
        return scan_body(d, q, c, h, p, nwexpr, DH__REL_MASK, 1);                          \
    }                                                                                      \
    attr static uint32_t scan_##sfx##_##wname##_maskn(const dh__eval_data *d, size_t q,    \
                                                       uint32_t *c, uint16_t *h, uint32_t *p) \
    {                                                                                      \
        return scan_body(d, q, c, h, p, nwexpr, DH__REL_MASK, 0);                          \
    }

#define DH__SCAN_ISA(attr, sfx)                                                            \
    DH__SCAN_FAMILY(attr, sfx, w1, 1)                                                      \
    DH__SCAN_FAMILY(attr, sfx, w2, 2)                                                      \
    DH__SCAN_FAMILY(attr, sfx, w4, 4)                                                      \
    DH__SCAN_FAMILY(attr, sfx, wn, d->words)                                               \
    static const dh__eval_scan_fn table_##sfx[4][3] = {                                   \
        {scan_##sfx##_w1_class, scan_##sfx##_w1_mask1, scan_##sfx##_w1_maskn},             \
        {scan_##sfx##_w2_class, scan_##sfx##_w2_mask1, scan_##sfx##_w2_maskn},             \
        {scan_##sfx##_w4_class, scan_##sfx##_w4_mask1, scan_##sfx##_w4_maskn},             \
        {scan_##sfx##_wn_class, scan_##sfx##_wn_mask1, scan_##sfx##_wn_maskn}};

DH__SCAN_ISA(, portable)
#ifdef DH__EVAL_X86
DH__SCAN_ISA(__attribute__((target("popcnt"))), popcnt)
#endif

static int width_slot(uint32_t words)
{
    return words == 1 ? 0 : words == 2 ? 1 : words == 4 ? 2 : 3;
}

static int kind_slot(const dh__eval_data *d)
{
    if (d->rel_kind == DH__REL_CLASS) return 0;
    return d->label_words == 1 ? 1 : 2;
}

uint32_t dh__eval_scan_ref(const dh__eval_data *d, size_t q, uint32_t *cnt, uint16_t *rel_h,
                           uint32_t *rel_pos)
{
    return table_portable[3][kind_slot(d)](d, q, cnt, rel_h, rel_pos);
}

dh__eval_scan_fn dh__eval_scan_select(const dh__eval_data *d)
{
    int w = width_slot(d->words), k = kind_slot(d);
#ifdef DH__EVAL_X86
    int32_t isa = dh__isa();
    if (isa >= DH_ISA_AVX2) return table_popcnt[w][k]; /* every such CPU has POPCNT */
#endif
    return table_portable[w][k];
}
