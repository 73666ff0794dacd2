/* lib/eval/scan.c -- the per-query pass over the database: Hamming distance,
 * relevance, per-distance counts, and the in-bucket position of each relevant item.
 *
 * This is the only O(n_db) work per query, so it is specialised by code width
 * (1, 2, 4 words or any), relevance kind (class id, one mask word, several) and
 * kernel set: the same body compiled portable (popcount from libgcc), with POPCNT,
 * and with AVX-512 VPOPCNTDQ (GCC vectorises the per-word popcount of wide codes).
 * The ISA choice (dh__isa()), the popcount primitives and the target attributes come
 * from the Hamming layer, lib/core/hamming.h / hamming_simd.h. The
 * histogram update `pos = cnt[d]++` is the running position of the item inside its
 * distance bucket, which is what database-order tie breaking needs; relevant items
 * are appended branch-free (the store always happens, the count only advances for
 * relevant items). */
#include "eval/scan_isa.h"

#include <string.h>

#include "core/hamming_simd.h"

#ifdef DH__HAVE_X86_KERNELS
#define DH__EVAL_X86 1
#endif

#define MAX_WORDS 64 /* 4096 bits */

static inline uint64_t ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) uint32_t
rel_maskn(const uint64_t *row, const uint64_t *qm, uint32_t lw)
{
    uint64_t acc = 0;
    for (uint32_t w = 0; w < lw; w++) acc |= row[w] & qm[w];
    return acc != 0;
}


/* The generic body; nw, kind and one_word are compile-time constants at every call
 * site, so each instantiation is a tight loop. Everything the loop reads is copied to
 * locals first: the stores into cnt and rel could otherwise alias *d and force reloads.
 * Class ids were normalised by eval_api.c (query without label -2, database without
 * label -1), so equality alone decides relevance. (Interleaving several queries per
 * pass was measured slower for 64-bit codes: the histogram chains compete for
 * registers and store ports.) */
static inline __attribute__((always_inline)) uint64_t
scan_body(const dh__eval_data *d, size_t q, uint32_t *cnt, uint64_t *rel, uint32_t nw, int kind,
          int one_word)
{
    uint64_t qw[MAX_WORDS];
    const size_t n = d->n_db, stride = d->db_stride;
    const uint32_t lw = d->label_words;
    const uint8_t *const db = d->db_codes;
    const int32_t *const db_ids = d->db_ids;
    const uint64_t *const db_mask = d->db_mask;
    const int32_t qid = kind == DH__REL_CLASS ? d->q_ids[q] : 0;
    const uint64_t *const qm = kind == DH__REL_MASK ? d->q_mask + q * lw : NULL;
    const uint64_t qm1 = kind == DH__REL_MASK ? qm[0] : 0;
    const uint8_t *qrow = d->q_codes + q * d->q_stride;
    for (uint32_t w = 0; w < nw; w++) qw[w] = ld64(qrow + 8 * w);
    uint64_t nr = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *row = db + i * stride;
        uint32_t h = 0;
        for (uint32_t w = 0; w < nw; w++)
            h += dh__popcount64(qw[w] ^ ld64(row + 8 * w));
        uint32_t r;
        if (kind == DH__REL_CLASS) r = db_ids[i] == qid;
        else if (one_word) r = (db_mask[i] & qm1) != 0;
        else r = rel_maskn(db_mask + i * lw, qm, lw);
        /* branch-free append: the store always happens, the count moves on only for a
         * relevant item */
        rel[nr] = (uint64_t)h << 32 | cnt[h]++;
        nr += r;
    }
    return nr;
}

/* Instantiate the 3 relevance kinds for a code width. */
#define DH__SCAN_FAMILY(attr, sfx, wname, nwexpr)                                          \
    attr static uint64_t scan_##sfx##_##wname##_class(const dh__eval_data *d, size_t q,    \
                                                       uint32_t *c, uint64_t *r)           \
    {                                                                                      \
        return scan_body(d, q, c, r, nwexpr, DH__REL_CLASS, 0);                            \
    }                                                                                      \
    attr static uint64_t scan_##sfx##_##wname##_mask1(const dh__eval_data *d, size_t q,    \
                                                       uint32_t *c, uint64_t *r)           \
    {                                                                                      \
        return scan_body(d, q, c, r, nwexpr, DH__REL_MASK, 1);                             \
    }                                                                                      \
    attr static uint64_t scan_##sfx##_##wname##_maskn(const dh__eval_data *d, size_t q,    \
                                                       uint32_t *c, uint64_t *r)           \
    {                                                                                      \
        return scan_body(d, q, c, r, nwexpr, DH__REL_MASK, 0);                             \
    }

#define DH__SCAN_ROW(sfx, w)                                                               \
    {scan_##sfx##_##w##_class, scan_##sfx##_##w##_mask1, scan_##sfx##_##w##_maskn}

/* table[width][relevance kind] */
#define DH__SCAN_ISA(attr, sfx)                                                            \
    DH__SCAN_FAMILY(attr, sfx, w1, 1)                                                      \
    DH__SCAN_FAMILY(attr, sfx, w2, 2)                                                      \
    DH__SCAN_FAMILY(attr, sfx, w4, 4)                                                      \
    DH__SCAN_FAMILY(attr, sfx, wn, d->words)                                               \
    static const dh__eval_scan_fn table_##sfx[4][3] = {                                   \
        DH__SCAN_ROW(sfx, w1), DH__SCAN_ROW(sfx, w2), DH__SCAN_ROW(sfx, w4),               \
        DH__SCAN_ROW(sfx, wn)};

DH__SCAN_ISA(, portable)
#ifdef DH__EVAL_X86
DH__SCAN_ISA(__attribute__((target("popcnt"))), popcnt)
/* wide codes: GCC turns the per-word popcount loop into VPOPCNTQ over 8 words */
DH__SCAN_ISA(DH__TGT_EVAL_AVX512VP, avx512)
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

uint64_t dh__eval_scan_ref(const dh__eval_data *d, size_t q, uint32_t *cnt, uint64_t *rel)
{
    return table_portable[3][kind_slot(d)](d, q, cnt, rel);
}

dh__eval_scan_fn dh__eval_scan_select(const dh__eval_data *d)
{
    int w = width_slot(d->words), k = kind_slot(d);
#ifdef DH__EVAL_X86
    int32_t isa = dh__isa();
    if (isa == DH_ISA_AVX512VPOPCNT) {
        /* wider codes: the chunked AVX2 pass beat the vectorised body here (Zen 4:
         * 1.67 vs 1.83 ns per pair at K = 128, 1.92 vs 2.64 at K = 256) */
        dh__eval_scan_fn f = dh__eval_scan_avx512_w1(d);
        if (!f) f = dh__eval_scan_avx2(d);
        return f ? f : table_avx512[w][k];
    }
    if (isa >= DH_ISA_AVX2) {
        dh__eval_scan_fn f = dh__eval_scan_avx2(d);
        return f ? f : table_popcnt[w][k]; /* every such CPU has POPCNT */
    }
#endif
#ifdef DH__HAVE_NEON_KERNELS
    if (dh__isa() == DH_ISA_NEON) return dh__eval_scan_neon(d);
#endif
    return table_portable[w][k];
}
