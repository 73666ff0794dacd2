/* lib/index/search.h -- state shared by k-NN (topk.c) and range search (radius.c). */
#ifndef DH_INDEX_SEARCH_H
#define DH_INDEX_SEARCH_H

#include "index/index.h"

/** Result of dh_index_range_search (radius.c; filled by mih_search.c too). */
struct dh_range_result {
    size_t nq;
    size_t *lims;  /* [nq + 1] */
    int64_t *ids;  /* [lims[nq]] */
    int32_t *dist; /* [lims[nq]] */
};

/** Candidate rows of one query over one database range, in row order. */
typedef struct dh__cand {
    uint64_t *pos;   /* [cap] row numbers */
    uint16_t *d;     /* [cap] distances */
    size_t count, cap;
    uint32_t bound;  /* rows enter only if their distance is below this */
    size_t below;    /* k-NN: entries with d < bound */
    uint32_t *hist;  /* k-NN: [K + 1] entries per distance (valid for d <= bound) */
} dh__cand;

/** One search call: the plan (threads, chunks, blocks) and its buffers. */
typedef struct dh__search {
    const dh_index *ix;
    const dh__kernels *kn;
    const uint64_t *tomb; /* NULL when nothing is removed */
    uint64_t *queries;    /* [nq, n_words], owned */
    size_t nq;
    uint32_t k;           /* k-NN only */
    int32_t *out_dist;    /* k-NN only */
    int64_t *out_ids;     /* k-NN only */
    int n_threads;
    size_t n_chunks;      /* > 1: the database is split among threads (few queries) */
    size_t chunk_rows;
    size_t block_rows;    /* rows per cache block */
    size_t cap;           /* k-NN: candidate list capacity */
    size_t group;         /* k-NN: queries per task */
} dh__search;

/** Allocate a list of `cap` entries, with a histogram of n_bits + 1 counters if
 *  n_bits > 0 (k-NN); empty, bound n_bits + 1. */
dh_status dh__cand_init(dh__cand *c, size_t cap, uint32_t n_bits);
void dh__cand_reset(dh__cand *c, uint32_t n_bits);
void dh__cand_free(dh__cand *c);
/** k-NN scan of rows [r, r_end) into c (from the transposed block tb that starts at
 *  row `base` when tb is not NULL), cutting the list to s->k when it fills. */
void dh__cand_scan(const dh__search *s, const uint64_t *q, dh__cand *c, size_t r, size_t r_end,
                   const uint64_t *tb, size_t base);

/** Convert the queries and plan the work (s->ix, nq set; the read lock held). */
dh_status dh__search_prepare(dh__search *s, const uint8_t *queries, const char *fn);
void dh__search_release(dh__search *s);

#endif
