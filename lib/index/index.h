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

#include "core/core.h"
#include "core/hamming.h"

#include <pthread.h>

#define DH__INDEX_MAX_BITS ((uint32_t)DH_MAX_BITS) /* the one code-length rule, dh.h */
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
    int map_fd;         /* with map: the file, kept open to see whether it changed */
    int64_t map_mtime_ns; /* with map: its modification time when validated */
    char *map_path;     /* with map: its path, for messages */
    pthread_rwlock_t lock; /* readers: search/save/export; writer: add/remove/compact */
    struct dh__mih *mih;   /* multi-index tables (lib/index/mih.h), or NULL */
    int32_t mih_want;      /* tables kept up to date: 0 none, -1 auto m, else m */
    int32_t search_mode;   /* DH__SEARCH_AUTO / _SCAN / _MIH (mih.h) */
};

/* ---- locking (the lock lives in a const object: searches take it for reading) ---- */
void dh__index_rdlock(const dh_index *ix);
void dh__index_wrlock(dh_index *ix);
void dh__index_unlock(const dh_index *ix);
/** Allocate the shell of an index (no rows); used by create and load. */
dh_status dh__index_new(uint32_t n_bits, dh_index **out);
/** A mapped index (dh_index_load_mmap) whose file was truncated, grown or rewritten
 *  since it was validated: DH_E_IO naming `fn`, the file and the sizes, instead of a
 *  SIGBUS on the lost pages or reads of unvalidated bytes. DH_OK for other indexes.
 *  Every entry point that reads rows calls it (index_io.c). */
dh_status dh__index_map_check(const dh_index *ix, const char *fn);
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

/* ---- kernels: the Hamming layer, lib/core/hamming.h (dh__kernels, dh__scan_fn,
 * dh__tomb_get / dh__tomb_bits8, DH__SCAN_MIN_SPACE). Old names kept as aliases. */
#define dh__index_kernels(isa) dh__hamming_kernels(isa)
#define dh__index_kernels_current() dh__hamming_kernels_current()

/* ---- file I/O (index_io.c) ---- */
/** Load an index from a buffer. With `borrow`, the index points into `buf` (which
 *  must outlive it, 8-byte aligned) and is read-only; otherwise it copies. */
dh_status dh__index_load_buffer(const uint8_t *buf, size_t len, int borrow, const char *what,
                                dh_index **out);

/* ---- FAISS binary index files (faiss_io.c) ---- */
/** Parse a FAISS IndexBinaryFlat / IDMap / IDMap2 file image (`path` names it in
 *  messages) into a new index. */
dh_status dh__index_import_faiss_buffer(const uint8_t *buf, size_t len, const char *path,
                                        dh_index **out);

#endif
