/* lib/index/mih.h -- multi-index hashing (Norouzi, Punjani, Fleet, CVPR 2012 / TPAMI
 * 2014) over the bit-packed store: internals shared by mih.c (tables, build, API),
 * mih_search.c (k-NN and range search, cost model) and mih_io.c (file section).
 *
 * A K-bit code is split into m disjoint substrings of contiguous bits (lengths differ
 * by at most one). Table t is keyed by the first h_t <= 26 bits of substring t (h_t =
 * min(len_t, floor(log2 n) - 2) so the direct table has at most n/4 + 1 offsets): a
 * CSR pair offs[2^h_t + 1] (uint32 bucket starts) and rows[] (row numbers of the
 * bucket, ascending, 3 bytes each while n < 2^24, else 4). Rows [0, n_built) are in
 * every table; rows [n_built, n) (appended since the build) form an unsorted tail that
 * searches check one by one. Removed rows stay in the tables and are skipped by their
 * tombstones; compaction renumbers rows and rebuilds the tables.
 *
 * Exactness: d(q, x) >= sum_t keydist_t(q, x), so a code within r = m*s + t of q has
 * keydist <= s in one of tables 0..t or keydist <= s - 1 in one of tables t+1..m-1
 * (pigeonhole). Probing levels in the order (s = 0, t = 0..m-1), (s = 1, ...) finds
 * every code within m*s + t once (s, t) is done. A row is taken only at its canonical
 * probe, the first (s, t) in that order with keydist_t = s, so it is verified once
 * without a per-query set. */
#ifndef DH_INDEX_MIH_H
#define DH_INDEX_MIH_H

#include "index/index.h"

#define DH__MIH_MAX_TABLES 256u
#define DH__MIH_MAX_KEY_BITS 26u
#define DH__MIH_MAX_ROWS ((size_t)UINT32_MAX) /* row numbers are stored in 32 bits */

typedef struct dh__mih_table {
    uint32_t bit_off;    /* first bit of the substring */
    uint32_t len;        /* substring bits */
    uint32_t key_bits;   /* h: bits [bit_off, bit_off + h) are the key; 1 <= h <= len */
    uint32_t reserved;
    const uint32_t *offs; /* [2^h + 1]: bucket b is rows[offs[b] .. offs[b+1]) */
    const uint8_t *rows;  /* [n_built * row_bytes] little-endian row numbers (+ 8 slack) */
} dh__mih_table;

typedef struct dh__mih {
    uint32_t m;
    uint32_t row_bytes; /* 3 or 4 */
    int32_t requested;  /* -1 auto, else the m the user asked for */
    int owned;          /* 0: offs/rows point into a mapped or borrowed file */
    size_t n_built;     /* rows [0, n_built) are in the tables */
    size_t bytes;       /* memory of offs + rows */
    dh__mih_table t[];  /* [m] */
} dh__mih;

/* Search modes (dh_index_set_search_mode). */
#define DH__SEARCH_AUTO 0
#define DH__SEARCH_SCAN 1
#define DH__SEARCH_MIH 2

/** Key of code `c` in table `tb`: bits [bit_off, bit_off + key_bits) of the code. */
static inline uint32_t dh__mih_key(const dh__mih_table *tb, const uint64_t *c)
{
    uint32_t w = tb->bit_off >> 6, sh = tb->bit_off & 63;
    uint64_t v = c[w] >> sh;
    if (sh + tb->key_bits > 64) v |= c[w + 1] << (64 - sh);
    return (uint32_t)(v & ((UINT64_C(1) << tb->key_bits) - 1));
}

/** Row number at position i of a table's row list. */
static inline size_t dh__mih_row(const uint8_t *rows, uint32_t row_bytes, size_t i)
{
    const uint8_t *p = rows + i * row_bytes;
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
    if (row_bytes == 4) v |= (uint32_t)p[3] << 24;
    return v;
}

/** Bytes of one table's row list as stored (n rows, slack for 4-byte reads, 64-aligned). */
static inline size_t dh__mih_rows_bytes(size_t n, uint32_t row_bytes)
{
    return (n * row_bytes + 8 + 63) / 64 * 64;
}

/** Substring layout for K bits in m tables with key bits at most hmax (t[] filled,
 *  no arrays). */
void dh__mih_layout(dh__mih *mh, uint32_t n_bits, uint32_t m, uint32_t hmax);
/** The number of tables `requested` (-1 auto) gives for K bits and n rows. */
uint32_t dh__mih_auto_m(uint32_t n_bits, size_t n, int32_t requested);
/** Key bits cap for n rows: clamp(floor(log2 n) - 2, 4, DH__MIH_MAX_KEY_BITS). */
uint32_t dh__mih_hmax(size_t n);
/** Allocate a table set shell of m tables (offs/rows NULL). */
dh__mih *dh__mih_alloc(uint32_t m);
void dh__mih_free(dh__mih *mh);

/** Build tables for rows [0, ix->n) with `requested` tables (-1 auto); on success
 *  they replace ix->mih. Caller holds the write lock (or owns the index). */
dh_status dh__mih_build_locked(dh_index *ix, int32_t requested);
/** After add (tail grew) or compaction (rows renumbered): rebuild when due. A failed
 *  rebuild drops the tables (searches scan), it never fails the add. */
void dh__mih_maintain_locked(dh_index *ix, int renumbered);

/** MIH-aware k-NN / range search (read lock held; ix->mih not NULL). */
dh_status dh__mih_search_locked(const dh_index *ix, const uint8_t *queries, size_t nq,
                                uint32_t k, int32_t *out_dist, int64_t *out_ids);
struct dh_range_result;
dh_status dh__mih_range_locked(const dh_index *ix, const uint8_t *queries, size_t nq,
                               uint32_t radius, struct dh_range_result *res);

/* ---- file section (mih_io.c) ---- */
typedef void (*dh__put_fn)(void *ctx, const void *p, size_t n);
/** Bytes of the section of `mh`. */
size_t dh__mih_section_bytes(const dh__mih *mh);
/** Write the section through `put` (little-endian). */
void dh__mih_section_write(const dh__mih *mh, dh__put_fn put, void *ctx);
/** Parse the section header at `b` (len bytes available) for an index of K bits and
 *  R rows: its total size in *size. */
dh_status dh__mih_section_size(const uint8_t *b, size_t len, uint32_t n_bits, uint64_t rows,
                               size_t off, size_t *size);
/** Validate the section against the codes and load it (borrow: point into b). */
dh_status dh__mih_section_load(const uint8_t *b, size_t off, const uint64_t *codes,
                               uint32_t n_words, uint32_t n_bits, uint64_t rows, int borrow,
                               dh__mih **out);

/* ---- scan entry points used for the queries MIH does not take (topk.c, radius.c) ---- */
dh_status dh__index_search_scan_locked(const dh_index *ix, const uint8_t *queries, size_t nq,
                                       uint32_t k, int32_t *out_dist, int64_t *out_ids);
dh_status dh__index_range_scan_locked(const dh_index *ix, const uint8_t *queries, size_t nq,
                                      uint32_t radius, struct dh_range_result *res);

#endif
