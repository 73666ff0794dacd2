/* lib/index/index.h -- internals of the bit-packed Hamming index (not public).
 *
 * Storage: row i of the index is n_words = ceil(K/64) little-endian uint64 words at
 * codes + i * n_words; bit j of a code is bit (j % 64) of word (j / 64), which is the
 * same bit as bit (j % 8) of byte (j / 8) of the packed LSB-first code on a
 * little-endian machine. Bits >= K are always zero, so popcount(q ^ x) over whole
 * words is the Hamming distance. Removed rows are marked in a tombstone bitmap and
 * dropped by compaction; positions (row numbers) are insertion order and are what
 * ties are broken by. */
#ifndef DH_INDEX_H
#define DH_INDEX_H

#include "../core/core.h"

#include <pthread.h>

#define DH__INDEX_MAX_BITS 4096u
#define DH__INDEX_MAX_WORDS (DH__INDEX_MAX_BITS / 64u)

struct dh_index {
    uint32_t n_bits;
    uint32_t n_words;   /* uint64 words per row */
    uint32_t n_threads; /* 0 = dh__num_threads() */
    int readonly;       /* memory-mapped: add/remove/compact refused */
    size_t n;           /* rows stored, including removed ones */
    size_t cap;         /* rows allocated (owned storage only) */
    size_t n_removed;   /* rows marked in `tomb` */
    uint64_t next_id;   /* id dh_index_add gives the next row: 1 + largest id, <= 2^63 */
    uint64_t *codes;    /* [n, n_words] (64-byte aligned when owned) */
    int64_t *ids;       /* [n] */
    uint64_t *tomb;     /* [ceil(cap/64)] bitmap of removed rows, or NULL if none yet */
    void *map;          /* mmap'ed file (read-only index), else NULL */
    size_t map_len;
    pthread_rwlock_t lock; /* readers: search/save/export; writer: add/remove/compact */
};

static inline int dh__tomb_get(const uint64_t *tomb, size_t r)
{
    return tomb != NULL && ((tomb[r >> 6] >> (r & 63)) & 1u);
}

/* ---- locking (the lock lives in a const object: searches take it for reading) ---- */
void dh__index_rdlock(const dh_index *ix);
void dh__index_wrlock(dh_index *ix);
void dh__index_unlock(const dh_index *ix);
/** Allocate the shell of an index (no rows); used by create and load. */
dh_status dh__index_new(uint32_t n_bits, dh_index **out);
/** Grow owned storage to hold at least `rows` rows. */
dh_status dh__index_reserve(dh_index *ix, size_t rows);
/** Drop removed rows, keeping the order of the others (caller holds the write lock). */
void dh__index_compact_locked(dh_index *ix);

/* ---- packing (pack.c) ---- */
/** Convert n rows of `format` (DH_CODE_*) into n_words-word rows (zero padded). */
dh_status dh__rows_to_words(const void *rows, int32_t format, size_t n, uint32_t n_bits,
                            uint64_t *out, const char *what);
/** Convert n word rows into `format`. */
dh_status dh__words_to_rows(const uint64_t *words, size_t n, uint32_t n_bits, int32_t format,
                            void *out);
/** Bytes of one row of `format` for K bits, 0 for an unknown format. */
size_t dh__code_row_bytes(int32_t format, uint32_t n_bits);

/* ---- kernels (hamming_*.c) ----
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

/** Transpose rows [r0, r0 + 8 * n_groups) of codes into tb (64-byte aligned,
 *  8 * n_groups * n_words words) for dh__scan_t_fn. */
void dh__transpose_block(const uint64_t *codes, uint32_t n_words, size_t r0, size_t n_groups,
                         uint64_t *tb);

/** The kernels of `isa` (DH_ISA_*, not AUTO), or NULL if not compiled in / not
 *  supported by this CPU. dh__index_kernels_current() follows dh__isa(). */
const dh__kernels *dh__index_kernels(int32_t isa);
const dh__kernels *dh__index_kernels_current(void);

/* Per-ISA tables (NULL-free only where compiled). */
extern const dh__kernels dh__kernels_scalar;
#if defined(__x86_64__) && defined(__GNUC__)
#define DH__HAVE_X86_KERNELS 1
extern const dh__kernels dh__kernels_avx2;
extern const dh__kernels dh__kernels_avx512bw;
extern const dh__kernels dh__kernels_avx512vpopcnt;
#endif

/** Naive reference distance (bytewise), for tests. */
uint32_t dh__hamming_ref(const uint64_t *a, const uint64_t *b, uint32_t n_words);

/** Scalar tail helper shared by the kernels: rows [r, r_end) one at a time. */
size_t dh__scan_rows_scalar(const uint64_t *q, const uint64_t *codes, uint32_t n_words,
                            size_t r, size_t r_end, uint32_t bound, const uint64_t *tomb,
                            uint64_t *out_pos, uint16_t *out_d, size_t space, size_t *n_out);

/** Tombstone bits of rows r..r+7 (bit i = row r+i removed); tomb may be NULL. Rows
 *  r..r+7 must all be stored (the bitmap word of row r+7 must exist). */
static inline uint32_t dh__tomb_bits8(const uint64_t *tomb, size_t r)
{
    if (!tomb) return 0;
    size_t w = r >> 6;
    unsigned s = (unsigned)(r & 63);
    uint64_t v = tomb[w] >> s;
    if (s > 56) v |= tomb[w + 1] << (64 - s);
    return (uint32_t)(v & 0xffu);
}

/* ---- file I/O (index_io.c) ---- */
/** Load an index from a buffer. With `borrow`, the index points into `buf` (which
 *  must outlive it, 8-byte aligned) and is read-only; otherwise it copies. */
dh_status dh__index_load_buffer(const uint8_t *buf, size_t len, int borrow, const char *what,
                                dh_index **out);

#endif
