/* lib/dist/dist_range.c -- sharded range search: queries broadcast from root, a local
 * dh_index_range_search per shard, the hit lists gathered (MPI_Gatherv, or
 * MPI_Allgatherv for DH_DIST_ALL) in batches of queries, and merged per query by
 * (distance, global row) -- each shard's list is already in that order. */
#include "dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_QUERIES ((size_t)1024)
#define MAX_HITS ((uint64_t)1 << 27) /* per process and batch (2 GiB of entries) */

dh_status dh__dist_params(const struct dh_dist_shard *s, int root, uint64_t *a, uint64_t *b,
                          const char *fn);

/* Growing CSR output on the receiving processes. */
typedef struct csr {
    size_t *lims;   /* [nq + 1] */
    int64_t *ids;
    int32_t *dist;
    size_t n, cap;
} csr;

static dh_status csr_reserve(csr *c, size_t more)
{
    if (c->n + more <= c->cap) return DH_OK;
    size_t cap = c->cap ? c->cap : 4096;
    while (cap < c->n + more) cap *= 2;
    int64_t *ids = realloc(c->ids, cap * sizeof *ids);
    if (ids) c->ids = ids;
    int32_t *d = ids ? realloc(c->dist, cap * sizeof *d) : NULL;
    if (d) c->dist = d;
    if (!ids || !d) return dh__dist_error(DH_E_NO_MEMORY, "dh_dist_range_search: out of "
                                          "memory for %zu hits", c->n + more);
    c->cap = cap;
    return DH_OK;
}

/* This shard's hits of queries q [nq] as (key, id) entries; counts [nq]. */
static dh_status local_hits(const struct dh_dist_shard *s, const uint8_t *q, size_t nq,
                            uint32_t radius, uint64_t *counts, dh__dist_hit **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    memset(counts, 0, nq * sizeof *counts);
    if (!s->ix || s->count == 0) return DH_OK;
    dh_range_result *r = NULL;
    dh_status st = dh_index_range_search(s->ix, q, nq, radius, &r);
    if (st != DH_OK) return st;
    const size_t *lims = dh_range_result_lims(r), total = dh_range_result_n_hits(r);
    const int64_t *ids = dh_range_result_ids(r);
    const int32_t *d = dh_range_result_distances(r);
    if (total > MAX_HITS) {
        dh_range_result_free(r);
        return dh__dist_error(DH_E_NO_MEMORY, "dh_dist_range_search: %zu hits for one batch "
                              "of %zu queries; lower the radius", total, nq);
    }
    *out = malloc((total ? total : 1) * sizeof **out);
    if (!*out) {
        dh_range_result_free(r);
        return dh__dist_error(DH_E_NO_MEMORY, "dh_dist_range_search: out of memory");
    }
    for (size_t i = 0; i < nq; i++) {
        counts[i] = lims[i + 1] - lims[i];
        for (size_t h = lims[i]; h < lims[i + 1]; h++) {
            uint64_t row;
            dh__dist_locate(s, h - lims[i], ids[h], &row, &(*out)[h].id);
            (*out)[h].key = ((uint64_t)d[h] << DH__DIST_ROW_BITS) | row;
        }
    }
    *n = total;
    dh_range_result_free(r);
    return DH_OK;
}

/* Merge query i's P sorted lists (process p's list starts at head[p]) into c. */
static void merge_query(const dh__dist_hit *all, const uint64_t *cnt, size_t nq, size_t i,
                        int P, size_t *head, csr *c)
{
    size_t left[256], *rem = left; /* per-process remaining, P <= 256 here */
    size_t total = 0;
    for (int p = 0; p < P; p++) total += (rem[p] = cnt[(size_t)p * nq + i]);
    for (size_t t = 0; t < total; t++) {
        int best = -1;
        for (int p = 0; p < P; p++)
            if (rem[p] && (best < 0 || all[head[p]].key < all[head[best]].key)) best = p;
        const dh__dist_hit *h = &all[head[best]++];
        rem[best]--;
        c->ids[c->n] = h->id;
        c->dist[c->n] = (int32_t)(h->key >> DH__DIST_ROW_BITS);
        c->n++;
    }
}

/* Gather one batch's counts and hits to the receivers and merge them into c. */
static dh_status gather_merge(const struct dh_dist_shard *s, int root, size_t nq,
                              const uint64_t *counts, const dh__dist_hit *hits, size_t n,
                              size_t q0, csr *c)
{
    const int P = s->size, recv = root == DH_DIST_ALL || root == s->rank;
    uint64_t *cnt = recv ? malloc((size_t)P * nq * sizeof *cnt) : NULL;
    int *bytes = recv ? malloc((size_t)P * 2 * sizeof *bytes) : NULL;
    int mine = (int)(n * sizeof *hits);
    dh_status st = recv && (!cnt || !bytes) ? DH_E_NO_MEMORY : DH_OK;
    st = dh__dist_agree(s->comm, st);
    if (st == DH_OK) {
        if (root >= 0) {
            DH__MPI(MPI_Gather(counts, (int)nq, MPI_UINT64_T, cnt, (int)nq, MPI_UINT64_T, root,
                               s->comm));
            DH__MPI(MPI_Gather(&mine, 1, MPI_INT, bytes, 1, MPI_INT, root, s->comm));
        } else {
            DH__MPI(MPI_Allgather(counts, (int)nq, MPI_UINT64_T, cnt, (int)nq, MPI_UINT64_T,
                                  s->comm));
            DH__MPI(MPI_Allgather(&mine, 1, MPI_INT, bytes, 1, MPI_INT, s->comm));
        }
    }
    uint64_t sum = 0;
    for (int p = 0; recv && st == DH_OK && p < P; p++) {
        bytes[P + p] = (int)sum; /* displacement */
        sum += (uint64_t)bytes[p];
    }
    dh__dist_hit *all = NULL;
    size_t head[256];
    if (recv && st == DH_OK) {
        all = sum <= INT_MAX ? malloc(sum ? sum : 1) : NULL;
        st = all ? csr_reserve(c, sum / sizeof *all)
                 : dh__dist_error(DH_E_NO_MEMORY, "dh_dist_range_search: %llu bytes of hits "
                                  "in one batch", (unsigned long long)sum);
    }
    st = dh__dist_agree(s->comm, st);
    if (st == DH_OK) {
        if (root >= 0)
            DH__MPI(MPI_Gatherv(hits, mine, MPI_BYTE, all, bytes, bytes + P, MPI_BYTE, root,
                                s->comm));
        else
            DH__MPI(MPI_Allgatherv(hits, mine, MPI_BYTE, all, bytes, bytes + P, MPI_BYTE,
                                   s->comm));
    }
    if (recv && st == DH_OK) {
        for (int p = 0; p < P; p++) head[p] = (size_t)bytes[P + p] / sizeof *all;
        for (size_t i = 0; i < nq; i++) {
            merge_query(all, cnt, nq, i, P, head, c);
            c->lims[q0 + i + 1] = c->n;
        }
    }
    free(all), free(cnt), free(bytes);
    return st;
}

static dh_status check_args(const struct dh_dist_shard *s, const uint8_t *queries, size_t nq,
                            int root, dh_range_result **out)
{
    const char *fn = "dh_dist_range_search";
    if (!out) return dh__dist_error(DH_E_INVALID_ARG, "%s: out is NULL", fn);
    if (root < DH_DIST_ALL || root >= s->size)
        return dh__dist_error(DH_E_INVALID_ARG, "%s: root %d is not a rank of the %d "
                              "processes or DH_DIST_ALL", fn, root, s->size);
    if (s->size > 256)
        return dh__dist_error(DH_E_UNSUPPORTED, "%s: more than 256 processes", fn);
    if ((root == DH_DIST_ALL || root == s->rank) && nq > 0 && !queries)
        return dh__dist_error(DH_E_INVALID_ARG, "%s: queries is NULL", fn);
    return DH_OK;
}

dh_status dh_dist_range_search(const dh_dist_shard *s, const uint8_t *queries, size_t n_queries,
                               uint32_t radius, int root, dh_range_result **out)
{
    const char *fn = "dh_dist_range_search";
    if (out) *out = NULL;
    if (!s) return dh__dist_error(DH_E_INVALID_ARG, "%s: shard is NULL", fn);
    dh_status st = dh__dist_agree(s->comm, check_args(s, queries, n_queries, root, out));
    uint64_t nq = n_queries, rad = radius;
    if (st == DH_OK) st = dh__dist_params(s, root, &nq, &rad, fn);
    if (st != DH_OK) return st;
    const size_t cb = dh_code_bytes(s->n_bits), batch = BATCH_QUERIES;
    const int recv = root == DH_DIST_ALL || root == s->rank;
    csr c = {0};
    uint8_t *qbuf = malloc(batch * cb);
    uint64_t *counts = malloc(batch * sizeof *counts);
    if (recv) c.lims = calloc((size_t)nq + 1, sizeof *c.lims);
    st = !qbuf || !counts || (recv && !c.lims)
             ? dh__dist_error(DH_E_NO_MEMORY, "%s: out of memory", fn) : DH_OK;
    st = dh__dist_agree(s->comm, st);
    for (size_t q0 = 0; st == DH_OK && q0 < nq; q0 += batch) {
        size_t m = nq - q0 < batch ? (size_t)(nq - q0) : batch;
        if (recv) memcpy(qbuf, queries + q0 * cb, m * cb);
        if (root >= 0 && MPI_Bcast(qbuf, (int)(m * cb), MPI_BYTE, root, s->comm) != MPI_SUCCESS)
            st = dh__dist_error(DH_E_BACKEND, "%s: MPI_Bcast of the queries failed", fn);
        dh__dist_hit *hits = NULL;
        size_t n = 0;
        if (st == DH_OK)
            st = dh__dist_agree(s->comm, local_hits(s, qbuf, m, (uint32_t)rad, counts, &hits, &n));
        if (st == DH_OK) st = gather_merge(s, root, m, counts, hits, n, q0, &c);
        free(hits);
    }
    if (st == DH_OK && recv) st = dh_range_result_create((size_t)nq, c.lims, c.ids, c.dist, out);
    free(qbuf), free(counts), free(c.lims), free(c.ids), free(c.dist);
    return st;
}
