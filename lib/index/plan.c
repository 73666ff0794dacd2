/* lib/index/plan.c -- how a search call splits its work: query conversion, threads,
 * database chunks (when queries are too few to keep every thread busy) and the
 * cache-block size of the query x database tiling. */
#include "index/search.h"

/* Rows per cache block: ~32 KiB of codes stay in L1 while a group of queries is
 * scanned over them (measured: 5-10% faster than 64-256 KiB blocks at K = 64). */
#define DH__BLOCK_BYTES ((size_t)32 << 10)
/* A chunk is worth a thread only above this many rows. */
#define DH__MIN_CHUNK_ROWS ((size_t)8192)

dh_status dh__search_prepare(dh__search *s, const uint8_t *queries, const char *fn)
{
    const dh_index *ix = s->ix;
    size_t w = ix->n_words, bytes;
    if (!dh__mul_ok(s->nq, w * 8, &bytes))
        return dh__set_error(DH_E_INVALID_ARG, "%s: %zu queries are too many", fn, s->nq);
    s->queries = dh__alloc_aligned(bytes, 64);
    if (!s->queries) return DH_E_NO_MEMORY;
    dh_status st = dh__rows_to_words(queries, DH_CODE_PACKED, s->nq, ix->n_bits, s->queries, fn);
    if (st != DH_OK) {
        dh__search_release(s);
        return st;
    }
    s->kn = dh__hamming_kernels_current();
    s->tomb = ix->n_removed ? ix->tomb : NULL;
    s->n_threads = ix->n_threads ? (int)ix->n_threads : dh__num_threads();
    size_t block = DH__BLOCK_BYTES / (w * 8);
    s->block_rows = block < 64 ? 64 : block / 64 * 64;
    s->n_chunks = 1;
    s->chunk_rows = ix->n;
    size_t t = (size_t)s->n_threads;
    if (t > 1 && s->nq < 2 * t && ix->n >= 2 * DH__MIN_CHUNK_ROWS) {
        size_t want = 4 * t, rows = (ix->n + want - 1) / want;
        if (rows < DH__MIN_CHUNK_ROWS) rows = DH__MIN_CHUNK_ROWS;
        rows = (rows + 63) / 64 * 64;
        s->chunk_rows = rows;
        s->n_chunks = (ix->n + rows - 1) / rows;
    }
    return DH_OK;
}

void dh__search_release(dh__search *s)
{
    dh__free_aligned(s->queries);
    s->queries = NULL;
}
