/* lib/dist/dist_search.c -- sharded k-NN: queries broadcast from root, a local
 * dh_index_search per shard, and the per-shard top-k lists merged by MPI_Reduce with
 * a user operator over (distance, global row) keys.
 *
 * One reduction element is one query's whole list of k (key, id) pairs (a contiguous
 * datatype of k * 16 bytes), so MPI never splits a list. Each shard's list is sorted
 * by key (distance, then row: the local search breaks ties by insertion order, and
 * the shard's global rows are increasing in it), so merging two lists and keeping
 * the first k is the top-k of their union; the operator is commutative because keys
 * are unique, and the result does not depend on the reduction tree. */
#include "dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_BYTES ((size_t)32 << 20) /* candidates per reduction, at most */

/* inout = the k smallest of in and inout (both sorted): count how many come from
 * `in`, then merge from the back, which never overwrites an unread inout entry. */
static void merge_lists(const dh__dist_hit *in, dh__dist_hit *io, size_t k)
{
    size_t a = 0, b = 0;
    while (a + b < k) {
        if (in[a].key < io[b].key) a++;
        else b++;
    }
    size_t p = k;
    while (a > 0) {
        if (b > 0 && io[b - 1].key > in[a - 1].key) io[--p] = io[--b];
        else io[--p] = in[--a];
    }
}

static void merge_op(void *in, void *inout, int *len, MPI_Datatype *dt)
{
    int bytes = 0;
    MPI_Type_size(*dt, &bytes);
    size_t k = (size_t)bytes / sizeof(dh__dist_hit);
    for (int i = 0; i < *len; i++)
        merge_lists((const dh__dist_hit *)in + (size_t)i * k, (dh__dist_hit *)inout + (size_t)i * k,
                    k);
}

/* Broadcast (n_queries, k) from root, or check they agree under DH_DIST_ALL. */
dh_status dh__dist_params(const struct dh_dist_shard *s, int root, uint64_t *a, uint64_t *b,
                          const char *fn)
{
    uint64_t v[2] = {*a, *b};
    if (root >= 0) {
        DH__MPI(MPI_Bcast(v, 2, MPI_UINT64_T, root, s->comm));
    } else {
        uint64_t mn[2], mx[2];
        DH__MPI(MPI_Allreduce(v, mn, 2, MPI_UINT64_T, MPI_MIN, s->comm));
        DH__MPI(MPI_Allreduce(v, mx, 2, MPI_UINT64_T, MPI_MAX, s->comm));
        if (mn[0] != mx[0] || mn[1] != mx[1])
            return dh__dist_error(DH_E_INVALID_ARG, "%s: with DH_DIST_ALL every process must "
                                  "pass the same n_queries and k/radius", fn);
    }
    *a = v[0];
    *b = v[1];
    return DH_OK;
}

/* Local top-k of queries q [nq] as merge entries, in place of `hits` [nq * k]. */
static dh_status local_topk(const struct dh_dist_shard *s, const uint8_t *q, size_t nq,
                            uint32_t k, int32_t *dist, int64_t *ids, dh__dist_hit *hits)
{
    if (s->ix && s->count > 0) {
        dh_status st = dh_index_search(s->ix, q, nq, k, dist, ids);
        if (st != DH_OK) return st;
    } else {
        for (size_t i = 0; i < nq * k; i++) ids[i] = -1;
    }
    for (size_t i = 0; i < nq; i++)
        for (size_t j = 0; j < k; j++) {
            size_t c = i * k + j;
            if (ids[c] < 0) {
                hits[c] = (dh__dist_hit){DH__DIST_EMPTY, -1};
                continue;
            }
            uint64_t row;
            dh__dist_locate(s, j, ids[c], &row, &hits[c].id);
            hits[c].key = ((uint64_t)dist[c] << DH__DIST_ROW_BITS) | row;
        }
    return DH_OK;
}

static dh_status check_args(const struct dh_dist_shard *s, const uint8_t *queries, size_t nq,
                            uint32_t k, int root, const int64_t *out_ids)
{
    const char *fn = "dh_dist_search";
    if (root < DH_DIST_ALL || root >= s->size)
        return dh__dist_error(DH_E_INVALID_ARG, "%s: root %d is not a rank of the %d "
                              "processes or DH_DIST_ALL", fn, root, s->size);
    if (root != DH_DIST_ALL && root != s->rank) return DH_OK;
    if (k == 0 || k > INT_MAX / sizeof(dh__dist_hit))
        return dh__dist_error(DH_E_INVALID_ARG, "%s: k = %u is not in 1..%zu", fn, k,
                              INT_MAX / sizeof(dh__dist_hit));
    if (nq > 0 && (!queries || !out_ids))
        return dh__dist_error(DH_E_INVALID_ARG, "%s: %s is NULL", fn,
                              queries ? "out_ids" : "queries");
    if (nq > SIZE_MAX / k / sizeof(dh__dist_hit))
        return dh__dist_error(DH_E_INVALID_ARG, "%s: n_queries x k overflows", fn);
    return DH_OK;
}

/* One batch: broadcast the queries, search, reduce, and write the receiver's output. */
static dh_status run_batch(const struct dh_dist_shard *s, const uint8_t *q, size_t nq,
                           uint32_t k, int root, uint8_t *qbuf, int32_t *dist, int64_t *ids,
                           dh__dist_hit *hits, MPI_Datatype list, MPI_Op op, int32_t *out_dist,
                           int64_t *out_ids)
{
    const size_t cb = dh_code_bytes(s->n_bits);
    const int recv = root == DH_DIST_ALL || root == s->rank;
    if (root >= 0) {
        if (s->rank == root) memcpy(qbuf, q, nq * cb);
        DH__MPI(MPI_Bcast(qbuf, (int)(nq * cb), MPI_BYTE, root, s->comm));
        q = qbuf;
    }
    dh_status st = dh__dist_agree(s->comm, local_topk(s, q, nq, k, dist, ids, hits));
    if (st != DH_OK) return st;
    if (root >= 0)
        DH__MPI(MPI_Reduce(recv ? MPI_IN_PLACE : hits, hits, (int)nq, list, op, root, s->comm));
    else
        DH__MPI(MPI_Allreduce(MPI_IN_PLACE, hits, (int)nq, list, op, s->comm));
    if (!recv) return DH_OK;
    for (size_t c = 0; c < nq * k; c++) {
        int empty = hits[c].key == DH__DIST_EMPTY;
        out_ids[c] = empty ? -1 : hits[c].id;
        if (out_dist)
            out_dist[c] = empty ? INT32_MAX : (int32_t)(hits[c].key >> DH__DIST_ROW_BITS);
    }
    return DH_OK;
}

dh_status dh_dist_search(const dh_dist_shard *s, const uint8_t *queries, size_t n_queries,
                         uint32_t k, int root, int32_t *out_dist, int64_t *out_ids)
{
    const char *fn = "dh_dist_search";
    if (!s) return dh__dist_error(DH_E_INVALID_ARG, "%s: shard is NULL", fn);
    dh_status st = dh__dist_agree(s->comm, check_args(s, queries, n_queries, k, root, out_ids));
    uint64_t nq = n_queries, kk = k;
    if (st == DH_OK) st = dh__dist_params(s, root, &nq, &kk, fn);
    if (st != DH_OK || nq == 0) return st;
    k = (uint32_t)kk;
    const size_t cb = dh_code_bytes(s->n_bits), per = (size_t)k * sizeof(dh__dist_hit);
    size_t batch = BATCH_BYTES / per;
    if (batch < 1) batch = 1;
    if (batch > nq) batch = (size_t)nq;
    if (batch > INT_MAX / (cb > 1 ? cb : 1)) batch = INT_MAX / cb;
    uint8_t *qbuf = root >= 0 ? malloc(batch * cb) : NULL;
    int32_t *dist = malloc(batch * k * sizeof *dist);
    int64_t *ids = malloc(batch * k * sizeof *ids);
    dh__dist_hit *hits = malloc(batch * per);
    st = (root >= 0 && !qbuf) || !dist || !ids || !hits
             ? dh__dist_error(DH_E_NO_MEMORY, "%s: out of memory for %zu x %u results", fn,
                              batch, k)
             : DH_OK;
    st = dh__dist_agree(s->comm, st);
    MPI_Datatype list = MPI_DATATYPE_NULL;
    MPI_Op op = MPI_OP_NULL;
    if (st == DH_OK && (MPI_Type_contiguous((int)per, MPI_BYTE, &list) != MPI_SUCCESS ||
                        MPI_Type_commit(&list) != MPI_SUCCESS ||
                        MPI_Op_create(merge_op, 1, &op) != MPI_SUCCESS))
        st = dh__dist_error(DH_E_BACKEND, "%s: cannot create the merge datatype/operator", fn);
    const int recv = root == DH_DIST_ALL || root == s->rank;
    for (size_t q0 = 0; st == DH_OK && q0 < nq; q0 += batch) {
        size_t m = nq - q0 < batch ? (size_t)(nq - q0) : batch;
        st = run_batch(s, recv || root < 0 ? queries + q0 * cb : NULL, m, k, root, qbuf, dist,
                       ids, hits, list, op, out_dist && recv ? out_dist + q0 * k : NULL,
                       recv ? out_ids + q0 * k : NULL);
    }
    if (op != MPI_OP_NULL) MPI_Op_free(&op);
    if (list != MPI_DATATYPE_NULL) MPI_Type_free(&list);
    free(qbuf), free(dist), free(ids), free(hits);
    return st;
}
