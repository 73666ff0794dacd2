/* lib/index/topk.c -- exact k-NN search: O(n) per query with a running k-th-distance
 * bound, queries tiled against cache-sized database blocks, OpenMP over query groups
 * (or over database chunks when queries are few), deterministic tie order.
 *
 * Per (query, database range) a candidate list holds rows in row order with a
 * histogram of their distances (0..K). The kernel appends rows whose distance is
 * below `bound`; the driver then lowers the bound to T, the smallest distance with k
 * kept rows at or below it, as soon as k rows lie below the old one. A later row at
 * distance T loses the tie to the earlier ones, so only d < T can still enter. When
 * the list fills with rows that fell out, it is cut back to k (no sorting anywhere;
 * the output is a counting sort). The result is the unique k smallest (d, row) pairs,
 * whatever the kernel, block size, chunking or thread count. */
#include "index/index.h"
#include "index/mih.h"
#include "index/search.h"

#include <string.h>

dh_status dh__cand_init(dh__cand *c, size_t cap, uint32_t n_bits)
{
    memset(c, 0, sizeof *c);
    c->pos = dh__alloc(cap * sizeof *c->pos);
    c->d = dh__alloc(cap * sizeof *c->d);
    c->hist = n_bits ? dh__calloc((size_t)n_bits + 1, sizeof *c->hist) : NULL;
    c->cap = cap;
    c->bound = n_bits + 1;
    if (c->pos && c->d && (c->hist || !n_bits)) return DH_OK;
    dh__cand_free(c);
    return DH_E_NO_MEMORY;
}

void dh__cand_reset(dh__cand *c, uint32_t n_bits)
{
    c->count = 0;
    c->below = 0;
    c->bound = n_bits + 1;
    memset(c->hist, 0, ((size_t)n_bits + 1) * sizeof *c->hist);
}

void dh__cand_free(dh__cand *c)
{
    dh__free(c->pos);
    dh__free(c->d);
    dh__free(c->hist);
    memset(c, 0, sizeof *c);
}

/* Take the entries [from, count) a kernel call appended (it used an older, looser
 * bound): keep those below the current bound and lower the bound as soon as k kept
 * entries lie below it, to T = the smallest distance with k entries at or below it.
 * Entries at T beyond the first k stay until the next cut. */
static void cand_take(dh__cand *c, size_t from, uint32_t k)
{
    size_t j = from;
    for (size_t i = from; i < c->count; i++) {
        uint16_t d = c->d[i];
        if (d >= c->bound) continue;
        c->pos[j] = c->pos[i];
        c->d[j] = d;
        j++;
        c->hist[d]++;
        if (++c->below >= k) {
            do {
                c->bound--;
                c->below -= c->hist[c->bound];
            } while (c->below >= k);
        }
    }
    c->count = j;
}

/* Drop entries that can no longer be among the k best: those above the bound, and
 * those at the bound after the first k - below of them (later rows lose ties). */
static void cand_cut(dh__cand *c, uint32_t k)
{
    size_t keep_t = k > c->below ? k - c->below : 0, j = 0, at_t = 0;
    for (size_t i = 0; i < c->count; i++) {
        uint16_t d = c->d[i];
        if (d > c->bound || (d == c->bound && at_t == keep_t)) continue;
        at_t += d == c->bound;
        c->pos[j] = c->pos[i];
        c->d[j] = d;
        j++;
    }
    c->count = j;
    c->hist[c->bound] = (uint32_t)at_t;
}

/* Kernel calls return after at most this many new entries, so the bound tightens
 * often while it is still falling fast (the first few thousand rows). */
#define DH__TAKE_WINDOW ((size_t)256)

void dh__cand_scan(const dh__search *s, const uint64_t *q, dh__cand *c, size_t r, size_t r_end,
                   const uint64_t *tb, size_t base)
{
    const dh_index *ix = s->ix;
    while (r < r_end && c->bound > 0) {
        if (c->cap - c->count < DH__SCAN_MIN_SPACE) cand_cut(c, s->k);
        size_t room = c->cap - c->count, from = c->count, got = 0;
        if (room > DH__TAKE_WINDOW) room = DH__TAKE_WINDOW;
        if (tb)
            r = s->kn->scan_t(q, tb, ix->n_words, base, r, r_end, c->bound, s->tomb,
                              c->pos + from, c->d + from, room, &got);
        else
            r = s->kn->scan(q, ix->codes, ix->n_words, r, r_end, c->bound, s->tomb,
                            c->pos + from, c->d + from, room, &got);
        c->count += got;
        if (got) cand_take(c, from, s->k);
    }
}

/* Sorted output of one query from its candidate lists (one per chunk, in row order). */
static dh_status emit_query(const dh__search *s, dh__cand *parts, size_t n_parts, size_t qi,
                            uint32_t *hist)
{
    uint32_t k = s->k, n_bits = s->ix->n_bits;
    dh__cand all = parts[0], merged = {0};
    if (n_parts > 1) { /* chunk lists in chunk order are in row order: take them again */
        size_t total = 0;
        for (size_t p = 0; p < n_parts; p++) total += parts[p].count;
        DH_TRY(dh__cand_init(&merged, total ? total : 1, n_bits));
        for (size_t p = 0; p < n_parts; p++) {
            size_t from = merged.count;
            memcpy(merged.pos + from, parts[p].pos, parts[p].count * sizeof *merged.pos);
            memcpy(merged.d + from, parts[p].d, parts[p].count * sizeof *merged.d);
            merged.count += parts[p].count;
            cand_take(&merged, from, k);
        }
        all = merged;
    }
    if (all.count > k) cand_cut(&all, k);
    /* Counting sort by distance; stable, so ties stay in row order. */
    memset(hist, 0, ((size_t)n_bits + 2) * sizeof *hist);
    for (size_t i = 0; i < all.count; i++) hist[all.d[i] + 1]++;
    for (uint32_t t = 1; t <= n_bits + 1; t++) hist[t] += hist[t - 1];
    int32_t *dist = s->out_dist ? s->out_dist + qi * k : NULL;
    int64_t *ids = s->out_ids + qi * k;
    for (size_t i = 0; i < all.count; i++) {
        uint32_t o = hist[all.d[i]]++;
        ids[o] = s->ix->ids[all.pos[i]];
        if (dist) dist[o] = all.d[i];
    }
    for (size_t j = all.count; j < k; j++) {
        ids[j] = -1;
        if (dist) dist[j] = INT32_MAX;
    }
    if (n_parts > 1) dh__cand_free(&merged);
    return DH_OK;
}

/* One task: queries [q0, q1) against rows [r0, r1) in blocks; the candidate list of
 * query q is cands[(q - q0) * stride]. With a scratch `tb` and enough queries to share
 * the cost, each block's whole 8-row groups are transposed once for the vertical-sum
 * kernel (K >= 128); the last < 8 rows use the row kernel. */
static void run_task(const dh__search *s, size_t q0, size_t q1, size_t r0, size_t r1,
                     dh__cand *cands, size_t stride, uint64_t *tb)
{
    uint32_t w = s->ix->n_words;
    if (q1 - q0 < 4) tb = NULL;
    for (size_t b = r0; b < r1; b += s->block_rows) {
        size_t be = b + s->block_rows < r1 ? b + s->block_rows : r1;
        size_t full = tb ? b + (be - b) / 8 * 8 : b;
        if (full > b) dh__transpose_block(s->ix->codes, w, b, (full - b) / 8, tb);
        for (size_t q = q0; q < q1; q++) {
            dh__cand *c = &cands[(q - q0) * stride];
            if (full > b) dh__cand_scan(s, s->queries + q * w, c, b, full, tb, b);
            dh__cand_scan(s, s->queries + q * w, c, full, be, NULL, 0);
        }
    }
}

/* Mode 1: threads take groups of queries, each over the whole database. */
static dh_status search_by_queries(const dh__search *s)
{
    size_t n_groups = (s->nq + s->group - 1) / s->group;
    dh_status st = DH_OK;
    long long ng = (long long)n_groups;
#pragma omp parallel num_threads(s->n_threads) if (s->n_threads > 1)
    {
        uint32_t hist[DH__INDEX_MAX_BITS + 2];
        dh__cand *cands = dh__calloc(s->group, sizeof *cands);
        /* Transposed blocks pay from two words per row on (K >= 128). */
        uint64_t *tb = s->kn->scan_t && s->ix->n_words >= 2
                           ? dh__alloc_aligned(s->block_rows * s->ix->n_words * 8, 64)
                           : NULL;
        dh_status my = cands ? DH_OK : DH_E_NO_MEMORY;
        for (size_t i = 0; i < s->group && my == DH_OK; i++)
            my = dh__cand_init(&cands[i], s->cap, s->ix->n_bits);
#pragma omp for schedule(dynamic, 1)
        for (long long g = 0; g < ng; g++) {
            if (my != DH_OK) continue;
            size_t q0 = (size_t)g * s->group;
            size_t q1 = q0 + s->group < s->nq ? q0 + s->group : s->nq;
            for (size_t i = 0; i < q1 - q0; i++) dh__cand_reset(&cands[i], s->ix->n_bits);
            run_task(s, q0, q1, 0, s->ix->n, cands, 1, tb);
            for (size_t q = q0; q < q1 && my == DH_OK; q++)
                my = emit_query(s, &cands[q - q0], 1, q, hist);
        }
        for (size_t i = 0; cands && i < s->group; i++) dh__cand_free(&cands[i]);
        dh__free(cands);
        dh__free_aligned(tb);
        if (my != DH_OK) {
#pragma omp critical(dh_index_search_err)
            st = my;
        }
    }
    return st == DH_OK ? DH_OK : dh__set_error(st, "dh_index_search: out of memory for "
                                               "candidate lists (k = %u)", s->k);
}

/* Mode 2 (few queries): threads take (query, database chunk) pairs; the chunk lists
 * of a query are merged in chunk order, which is row order. */
static dh_status search_by_chunks(const dh__search *s)
{
    size_t nc = s->n_chunks, n_tasks = s->nq * nc;
    dh__cand *cands = dh__calloc(n_tasks, sizeof *cands);
    if (!cands) return DH_E_NO_MEMORY;
    dh_status st = DH_OK;
    for (size_t t = 0; t < n_tasks && st == DH_OK; t++)
        st = dh__cand_init(&cands[t], s->cap, s->ix->n_bits);
    long long nt = (long long)n_tasks, nql = (long long)s->nq;
    if (st == DH_OK) {
#pragma omp parallel num_threads(s->n_threads) if (s->n_threads > 1)
        {
            uint32_t hist[DH__INDEX_MAX_BITS + 2];
            dh_status my = DH_OK;
#pragma omp for schedule(dynamic, 1)
            for (long long t = 0; t < nt; t++) {
                size_t q = (size_t)t / nc, c = (size_t)t % nc;
                size_t r0 = c * s->chunk_rows, r1 = r0 + s->chunk_rows;
                if (r1 > s->ix->n) r1 = s->ix->n;
                if (r0 < r1) run_task(s, q, q + 1, r0, r1, &cands[t], 1, NULL);
            }
#pragma omp for schedule(dynamic, 1)
            for (long long q = 0; q < nql; q++)
                if (my == DH_OK) my = emit_query(s, &cands[(size_t)q * nc], nc, (size_t)q, hist);
            if (my != DH_OK) {
#pragma omp critical(dh_index_search_err)
                st = my;
            }
        }
    }
    for (size_t t = 0; t < n_tasks; t++) dh__cand_free(&cands[t]);
    dh__free(cands);
    return st == DH_OK ? DH_OK : dh__set_error(st, "dh_index_search: out of memory merging "
                                               "candidate lists (k = %u)", s->k);
}

static dh_status search_locked(dh__search *s, const uint8_t *queries)
{
    const dh_index *ix = s->ix;
    DH_TRY(dh__search_prepare(s, queries, "dh_index_search"));
    /* Room for k plus slack, so each cut is amortised over >= k + 256 new rows; never
     * more than the rows one list can see (then it never needs cutting). */
    size_t span = s->n_chunks > 1 ? s->chunk_rows : ix->n;
    size_t cap = (size_t)s->k * 2 + 256;
    if (cap > span + DH__SCAN_MIN_SPACE) cap = span + DH__SCAN_MIN_SPACE;
    s->cap = cap;
    /* Query group: as many lists as fit ~4 MiB, up to 32 (128 when blocks are
     * transposed, K >= 128, to share the transposition among more queries), but
     * no more than an even share of the queries per thread. */
    size_t per = cap * (sizeof(uint64_t) + sizeof(uint16_t)) + ((size_t)ix->n_bits + 1) * 4;
    size_t g = ((size_t)4 << 20) / per, gmax = s->kn->scan_t && ix->n_words >= 2 ? 128 : 32;
    size_t share = (s->nq + (size_t)s->n_threads - 1) / (size_t)s->n_threads;
    if (gmax > share) gmax = share;
    s->group = g < 1 ? 1 : g > gmax ? gmax : g;
    dh_status st = s->n_chunks > 1 ? search_by_chunks(s) : search_by_queries(s);
    dh__search_release(s);
    return st;
}

dh_status dh_index_search(const dh_index *ix, const uint8_t *queries, size_t n_queries,
                          uint32_t k, int32_t *out_dist, int64_t *out_ids)
{
    const char *fn = "dh_index_search";
    DH_CHECK_ARG_MSG(ix != NULL, "%s: index is NULL", fn);
    DH_CHECK_ARG_MSG(k > 0, "%s: k must be at least 1", fn);
    DH_CHECK_ARG_MSG(n_queries == 0 || (queries != NULL && out_ids != NULL),
                     "%s: %s is NULL", fn, queries ? "out_ids" : "queries");
    size_t cells;
    if (!dh__mul_ok(n_queries, k, &cells) || cells > SIZE_MAX / sizeof(int64_t))
        return dh__set_error(DH_E_INVALID_ARG, "%s: n_queries %zu x k %u overflows", fn,
                             n_queries, k);
    if (n_queries == 0) return DH_OK;
    DH_TRY(dh__index_map_check(ix, fn));
    dh__index_rdlock(ix);
    dh_status st = ix->mih ? dh__mih_search_locked(ix, queries, n_queries, k, out_dist, out_ids)
                           : dh__index_search_scan_locked(ix, queries, n_queries, k, out_dist,
                                                          out_ids);
    dh__index_unlock(ix);
    return st;
}

dh_status dh__index_search_scan_locked(const dh_index *ix, const uint8_t *queries, size_t nq,
                                       uint32_t k, int32_t *out_dist, int64_t *out_ids)
{
    dh__search s = {0};
    s.ix = ix;
    s.nq = nq;
    s.k = k;
    s.out_dist = out_dist;
    s.out_ids = out_ids;
    return search_locked(&s, queries);
}
