/* lib/index/radius.c -- range search: every row within Hamming distance r (inclusive)
 * of each query, returned as a CSR result object (lims / ids / distances) because the
 * caller cannot know the number of hits in advance.
 *
 * The same scan kernels run with a fixed bound r + 1; hit lists grow by doubling. Each
 * query's hits are ordered by (distance, row) with a counting sort over 0..K. */
#include "index/mih.h"
#include "index/search.h"

#include <string.h>

static dh_status cand_grow(dh__cand *c)
{
    size_t cap = c->cap < 1024 ? 1024 : c->cap * 2;
    if (cap > SIZE_MAX / sizeof(uint64_t)) return DH_E_NO_MEMORY;
    uint64_t *p = dh__realloc(c->pos, cap * sizeof *p);
    if (!p) return DH_E_NO_MEMORY;
    c->pos = p;
    uint16_t *d = dh__realloc(c->d, cap * sizeof *d);
    if (!d) return DH_E_NO_MEMORY;
    c->d = d;
    c->cap = cap;
    return DH_OK;
}

static dh_status range_scan(const dh__search *s, const uint64_t *q, dh__cand *c, size_t r,
                            size_t r_end)
{
    const dh_index *ix = s->ix;
    while (r < r_end) {
        if (c->cap - c->count < DH__SCAN_MIN_SPACE) DH_TRY(cand_grow(c));
        size_t got = 0;
        r = s->kn->scan(q, ix->codes, ix->n_words, r, r_end, c->bound, s->tomb,
                        c->pos + c->count, c->d + c->count, c->cap - c->count, &got);
        c->count += got;
    }
    return DH_OK;
}

/* Task t = (query group, chunk): scan every query of the group over the chunk, block
 * by block, into cands[q * n_chunks + chunk]. */
static dh_status range_task(const dh__search *s, size_t group, size_t t, dh__cand *cands)
{
    size_t nc = s->n_chunks, g = t / nc, c = t % nc;
    size_t q0 = g * group, q1 = q0 + group < s->nq ? q0 + group : s->nq;
    size_t r0 = c * s->chunk_rows, r1 = r0 + s->chunk_rows;
    if (r1 > s->ix->n) r1 = s->ix->n;
    uint32_t w = s->ix->n_words;
    for (size_t b = r0; b < r1; b += s->block_rows) {
        size_t be = b + s->block_rows < r1 ? b + s->block_rows : r1;
        for (size_t q = q0; q < q1; q++)
            DH_TRY(range_scan(s, s->queries + q * w, &cands[q * nc + c], b, be));
    }
    return DH_OK;
}

/* Hits of query q, from its chunk lists (row order), sorted by distance into res. */
static void range_emit(const dh__search *s, const dh__cand *parts, dh_range_result *res,
                       size_t q, uint32_t *hist)
{
    uint32_t n_bits = s->ix->n_bits;
    size_t base = res->lims[q];
    memset(hist, 0, ((size_t)n_bits + 2) * sizeof *hist);
    for (size_t p = 0; p < s->n_chunks; p++)
        for (size_t i = 0; i < parts[p].count; i++) hist[parts[p].d[i] + 1]++;
    for (uint32_t t = 1; t <= n_bits + 1; t++) hist[t] += hist[t - 1];
    for (size_t p = 0; p < s->n_chunks; p++)
        for (size_t i = 0; i < parts[p].count; i++) {
            size_t o = base + hist[parts[p].d[i]]++;
            res->ids[o] = s->ix->ids[parts[p].pos[i]];
            res->dist[o] = parts[p].d[i];
        }
}

static dh_status range_collect(const dh__search *s, dh__cand *cands, dh_range_result *res)
{
    size_t nc = s->n_chunks, total = 0;
    res->lims[0] = 0;
    for (size_t q = 0; q < s->nq; q++) {
        for (size_t c = 0; c < nc; c++) total += cands[q * nc + c].count;
        res->lims[q + 1] = total;
    }
    if (total > 0) {
        res->ids = dh__alloc(total * sizeof *res->ids);
        res->dist = dh__alloc(total * sizeof *res->dist);
        if (!res->ids || !res->dist)
            return dh__set_error(DH_E_NO_MEMORY, "dh_index_range_search: out of memory for "
                                 "%zu hits", total);
    }
    long long nql = (long long)s->nq;
#pragma omp parallel num_threads(s->n_threads) if (s->n_threads > 1 && total > 65536)
    {
        uint32_t hist[DH__INDEX_MAX_BITS + 2];
#pragma omp for schedule(dynamic, 16)
        for (long long q = 0; q < nql; q++)
            range_emit(s, &cands[(size_t)q * nc], res, (size_t)q, hist);
    }
    return DH_OK;
}

static dh_status range_locked(dh__search *s, const uint8_t *queries, uint32_t radius,
                              dh_range_result *res)
{
    DH_TRY(dh__search_prepare(s, queries, "dh_index_range_search"));
    size_t nc = s->n_chunks, group = 16;
    size_t n_groups = (s->nq + group - 1) / group, n_tasks = n_groups * nc;
    uint32_t bound = radius < s->ix->n_bits ? radius + 1 : s->ix->n_bits + 1;
    dh__cand *cands = dh__calloc(s->nq * nc, sizeof *cands);
    dh_status st = cands ? DH_OK : DH_E_NO_MEMORY;
    for (size_t i = 0; cands && i < s->nq * nc; i++) cands[i].bound = bound;
    long long nt = (long long)n_tasks;
    if (st == DH_OK) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(s->n_threads) if (s->n_threads > 1)
        for (long long t = 0; t < nt; t++) {
            if (range_task(s, group, (size_t)t, cands) != DH_OK) {
#pragma omp critical(dh_index_range_err)
                st = DH_E_NO_MEMORY;
            }
        }
        if (st != DH_OK)
            dh__set_error(st, "dh_index_range_search: out of memory for the hit lists");
    }
    if (st == DH_OK) st = range_collect(s, cands, res);
    for (size_t i = 0; cands && i < s->nq * nc; i++) dh__cand_free(&cands[i]);
    dh__free(cands);
    dh__search_release(s);
    return st;
}

dh_status dh__index_range_scan_locked(const dh_index *ix, const uint8_t *queries, size_t nq,
                                      uint32_t radius, dh_range_result *res)
{
    dh__search s = {0};
    s.ix = ix;
    s.nq = nq;
    return range_locked(&s, queries, radius, res);
}

dh_status dh_index_range_search(const dh_index *ix, const uint8_t *queries, size_t n_queries,
                                uint32_t radius, dh_range_result **out)
{
    const char *fn = "dh_index_range_search";
    DH_CHECK_ARG_MSG(out != NULL, "%s: out is NULL", fn);
    *out = NULL;
    DH_CHECK_ARG_MSG(ix != NULL, "%s: index is NULL", fn);
    DH_CHECK_ARG_MSG(queries != NULL || n_queries == 0, "%s: queries is NULL", fn);
    if (n_queries > SIZE_MAX / sizeof(size_t) - 1)
        return dh__set_error(DH_E_INVALID_ARG, "%s: n_queries %zu is too large", fn, n_queries);
    if (n_queries > 0) DH_TRY(dh__index_map_check(ix, fn));
    dh_range_result *res = dh__calloc(1, sizeof *res);
    if (!res) return DH_E_NO_MEMORY;
    res->nq = n_queries;
    res->lims = dh__calloc(n_queries + 1, sizeof *res->lims);
    if (!res->lims) {
        dh_range_result_free(res);
        return DH_E_NO_MEMORY;
    }
    dh_status st = DH_OK;
    if (n_queries > 0) {
        dh__index_rdlock(ix);
        st = ix->mih ? dh__mih_range_locked(ix, queries, n_queries, radius, res)
                     : dh__index_range_scan_locked(ix, queries, n_queries, radius, res);
        dh__index_unlock(ix);
    }
    if (st != DH_OK) {
        dh_range_result_free(res);
        return st;
    }
    *out = res;
    return DH_OK;
}

size_t dh_range_result_n_queries(const dh_range_result *r) { return r ? r->nq : 0; }
size_t dh_range_result_n_hits(const dh_range_result *r) { return r ? r->lims[r->nq] : 0; }
const size_t *dh_range_result_lims(const dh_range_result *r) { return r ? r->lims : NULL; }
const int64_t *dh_range_result_ids(const dh_range_result *r) { return r ? r->ids : NULL; }
const int32_t *dh_range_result_distances(const dh_range_result *r) { return r ? r->dist : NULL; }

dh_status dh_range_result_create(size_t n_queries, const size_t *lims, const int64_t *ids,
                                 const int32_t *distances, dh_range_result **out)
{
    const char *fn = "dh_range_result_create";
    DH_CHECK_ARG_MSG(out != NULL, "%s: out is NULL", fn);
    *out = NULL;
    DH_CHECK_ARG_MSG(lims != NULL, "%s: lims is NULL", fn);
    DH_CHECK_ARG_MSG(n_queries <= SIZE_MAX / sizeof(size_t) - 1, "%s: n_queries %zu is too "
                     "large", fn, n_queries);
    DH_CHECK_ARG_MSG(lims[0] == 0, "%s: lims[0] = %zu, not 0", fn, lims[0]);
    for (size_t q = 0; q < n_queries; q++)
        DH_CHECK_ARG_MSG(lims[q + 1] >= lims[q], "%s: lims[%zu] < lims[%zu]", fn, q + 1, q);
    size_t total = lims[n_queries];
    DH_CHECK_ARG_MSG(total == 0 || (ids && distances), "%s: %s is NULL", fn,
                     ids ? "distances" : "ids");
    DH_CHECK_ARG_MSG(total <= SIZE_MAX / sizeof(int64_t), "%s: %zu hits is too many", fn, total);
    dh_range_result *res = dh__calloc(1, sizeof *res);
    if (!res) return DH_E_NO_MEMORY;
    res->nq = n_queries;
    res->lims = dh__alloc((n_queries + 1) * sizeof *res->lims);
    res->ids = total ? dh__alloc(total * sizeof *res->ids) : NULL;
    res->dist = total ? dh__alloc(total * sizeof *res->dist) : NULL;
    if (!res->lims || (total && (!res->ids || !res->dist))) {
        dh_range_result_free(res);
        return dh__set_error(DH_E_NO_MEMORY, "%s: out of memory for %zu hits", fn, total);
    }
    memcpy(res->lims, lims, (n_queries + 1) * sizeof *res->lims);
    if (total) {
        memcpy(res->ids, ids, total * sizeof *res->ids);
        memcpy(res->dist, distances, total * sizeof *res->dist);
    }
    *out = res;
    return DH_OK;
}

void dh_range_result_free(dh_range_result *r)
{
    if (!r) return;
    dh__free(r->lims);
    dh__free(r->ids);
    dh__free(r->dist);
    dh__free(r);
}
