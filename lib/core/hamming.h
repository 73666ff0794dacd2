/* lib/core/hamming.h -- the Hamming layer: XOR + popcount kernels per ISA and their one
 * dispatch, shared by the index (lib/index: k-NN, radius, distances) and the
 * evaluator (lib/eval: the fused distance + relevance + histogram pass).
 *
 *   ISA choice   dh__isa() (cpu.c): DH_ISA env var / dh_set_isa(), else the best the
 *                CPU has: scalar | avx2 | avx512bw | avx512vpopcnt (x86-64), neon
 *                (aarch64). Nothing else in libdh reads CPUID.
 *   Kernels      dh__hamming_kernels(isa) -> dh__kernels {scan, dist, scan_t}: row
 *                scans against a bound with a skip bitmap (index tombstones), distance
 *                rows, transposed-block scans. One file per ISA: hamming_scalar.c
 *                (portable reference + POPCNT twin + the dispatch), hamming_avx2.c,
 *                hamming_avx512bw.c / hamming_avx512vpopcnt.c (one template,
 *                hamming_avx512.h), hamming_neon.c.
 *   Primitives   this header: scalar inline building blocks (popcount of a word, of a
 *                row of w words, row-scan loop); hamming_simd.h: per-ISA vector
 *                popcount of 64-bit lanes (dh__pc64_avx2, dh__pc64_avx512bw,
 *                dh__pc64_avx512vp, dh__pc64_neon) and the matching target attributes
 *                (DH__TGT_*), for code in other folders that builds its own fused loop
 *                (eval's scan kernels).
 *
 * Every function here is always inlined, so each ISA file compiles it with its own
 * target (the x86 files get the POPCNT instruction for __builtin_popcountll). Layer
 * rule: core includes nothing from index/ or eval/. Row layout: n_words little-endian
 * uint64 per row, bits >= K zero, so popcount(q ^ x) over whole words is the distance. */
#ifndef DH_CORE_HAMMING_H
#define DH_CORE_HAMMING_H

#include "core/core.h"

#define DH__INLINE static inline __attribute__((always_inline))

#if defined(__x86_64__) && defined(__GNUC__)
#define DH__HAVE_X86_KERNELS 1
#endif
#if defined(__aarch64__) && defined(__GNUC__)
#define DH__HAVE_NEON_KERNELS 1
#endif

/* ---- skip bitmap (the index's tombstones): bit r set = row r is skipped ---- */
DH__INLINE int dh__tomb_get(const uint64_t *tomb, size_t r)
{
    return tomb != NULL && ((tomb[r >> 6] >> (r & 63)) & 1u);
}

/** Bits of rows r..r+7 (bit i = row r+i skipped); tomb may be NULL. The bitmap word
 *  of row r+7 must exist. */
DH__INLINE uint32_t dh__tomb_bits8(const uint64_t *tomb, size_t r)
{
    if (!tomb) return 0;
    size_t w = r >> 6;
    unsigned s = (unsigned)(r & 63);
    uint64_t v = tomb[w] >> s;
    if (s > 56) v |= tomb[w + 1] << (64 - s);
    return (uint32_t)(v & 0xffu);
}

/* ---- kernel tables ----
 * scan: visit rows [r, r_end) of `codes` against query `q` and append every row with
 * Hamming distance < bound (and not in `tomb`, which may be NULL) to out_pos/out_d,
 * in row order, writing at most `space` entries. Returns the first row not visited;
 * *n_out receives the entries written. It may stop before r_end once fewer than
 * DH__SCAN_MIN_SPACE entries of room are left, so callers make room (cut or grow the
 * list) whenever less than that is free; with that much room it always advances. */
#define DH__SCAN_MIN_SPACE 32
typedef size_t (*dh__scan_fn)(const uint64_t *q, const uint64_t *codes, uint32_t n_words,
                              size_t r, size_t r_end, uint32_t bound, const uint64_t *tomb,
                              uint64_t *out_pos, uint16_t *out_d, size_t space,
                              size_t *n_out);
/** dist: out[i] = Hamming distance of q and row i, for i in [0, n). */
typedef void (*dh__dist_fn)(const uint64_t *q, const uint64_t *codes, uint32_t n_words,
                            size_t n, int32_t *out);

/** scan over a transposed block (dh__transpose_block): like dh__scan_fn for rows
 *  [r, r_end) of the block that starts at row `base`; r - base and r_end - r are
 *  multiples of 8. Word i of rows base+8g .. base+8g+7 is at tb + (g * n_words + i) * 8,
 *  so eight distances are vertical sums with no horizontal step (K >= 128). */
typedef size_t (*dh__scan_t_fn)(const uint64_t *q, const uint64_t *tb, uint32_t n_words,
                                size_t base, size_t r, size_t r_end, uint32_t bound,
                                const uint64_t *tomb, uint64_t *out_pos, uint16_t *out_d,
                                size_t space, size_t *n_out);

typedef struct dh__kernels {
    int32_t isa;
    dh__scan_fn scan;
    dh__dist_fn dist;
    dh__scan_t_fn scan_t; /* NULL where the transposed layout does not pay */
} dh__kernels;

/** The kernels of `isa` (DH_ISA_*, not AUTO), or NULL if not compiled in / not
 *  supported by this CPU. dh__hamming_kernels_current() follows dh__isa(). */
const dh__kernels *dh__hamming_kernels(int32_t isa);
const dh__kernels *dh__hamming_kernels_current(void);

/* Per-ISA tables (only where compiled). */
extern const dh__kernels dh__kernels_scalar;
#ifdef DH__HAVE_X86_KERNELS
extern const dh__kernels dh__kernels_avx2;
extern const dh__kernels dh__kernels_avx512bw;
extern const dh__kernels dh__kernels_avx512vpopcnt;
#endif
#ifdef DH__HAVE_NEON_KERNELS
extern const dh__kernels dh__kernels_neon;
#endif

/** Transpose rows [r0, r0 + 8 * n_groups) of codes into tb (64-byte aligned,
 *  8 * n_groups * n_words words) for dh__scan_t_fn. */
void dh__transpose_block(const uint64_t *codes, uint32_t n_words, size_t r0, size_t n_groups,
                         uint64_t *tb);

/** Naive reference distance (bit by bit), for tests. */
uint32_t dh__hamming_ref(const uint64_t *a, const uint64_t *b, uint32_t n_words);

/** Scalar scan of rows [r, r_end) one at a time (the reference of dh__scan_fn). */
size_t dh__scan_rows_scalar(const uint64_t *q, const uint64_t *codes, uint32_t n_words,
                            size_t r, size_t r_end, uint32_t bound, const uint64_t *tomb,
                            uint64_t *out_pos, uint16_t *out_d, size_t space, size_t *n_out);

/* ---- scalar primitives (inlined into each ISA's code) ---- */

/** Popcount of one word (POPCNT / CNT where the includer's target has it). */
DH__INLINE uint32_t dh__popcount64(uint64_t x) { return (uint32_t)__builtin_popcountll(x); }

/* Distance of two rows of w words. */
DH__INLINE uint32_t hc_dist(const uint64_t *a, const uint64_t *b, uint32_t w)
{
    uint32_t d = 0;
    for (uint32_t i = 0; i < w; i++) d += dh__popcount64(a[i] ^ b[i]);
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
