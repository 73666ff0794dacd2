/* lib/index/mih_search.c -- exact k-NN and range search through the multi-index tables
 * (mih.h), the cost model that picks MIH or the linear scan, OpenMP over queries.
 *
 * k-NN (Norouzi et al., TPAMI 2014, Alg. 2): probe (s, t) = (0, 0), (0, 1), ...,
 * (0, m-1), (1, 0), ...: every key at Hamming distance exactly s from the query's key in
 * table t. After (s, t) every code within R = m*s + t is found; the search stops once
 * k codes at distance <= R are known (the k-th smallest found distance T <= R), so the
 * k best (distance, row) pairs are exact, ties in insertion order. Candidates are
 * verified on the full code; a row is taken only at its canonical probe (mih.h), so
 * each is verified once and no per-query set is needed. Range search probes the
 * lexicographic prefix of levels that covers radius r = m*s + t.
 *
 * Cost model (units: one 64-bit word of a linear scan, ~0.1 ns with the SIMD kernels):
 *   scan  = n * W per query;
 *   MIH   = DH__MIH_C_PROBE (150) per bucket probed + (DH__MIH_C_CAND (150) + W) per
 *           candidate (random memory accesses) + W per tail row.
 * Range search knows its probe count in advance (sum_t sum_{s <= level_t} C(h_t, s)); a
 * k-NN query does not, so each MIH query runs under a budget of one scan and falls
 * back to the scan when it passes it. In DH_SEARCH_AUTO the batch switches to the scan
 * for all remaining queries once 16 have been tried and they cost more than half a
 * scan on average. DH_SEARCH_MIH lifts the budget, DH_SEARCH_SCAN skips MIH. */
#include "index/mih.h"
#include "index/search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__POPCNT__)
#pragma GCC target("popcnt")
#define DH__MIH_NEEDS_POPCNT 1
#endif

/* A bucket read and a candidate's code read are random accesses: ~15 ns when the
 * tables are larger than the caches, 150x a scanned word (measured at n = 1M..10M,
 * K = 64: MIH k = 100 took 25x a scan when these were 16 and 24). */
#define DH__MIH_C_PROBE 150.0
#define DH__MIH_C_CAND 150.0
#define DH__MIH_MIN_TRIES 16
#define DH__MIH_PREFETCH 8u

typedef struct mctx {
    const dh_index *ix;
    const dh__mih *mh;
    const uint64_t *tomb;
    uint32_t w, K;
    double budget;
} mctx;

/* Per-thread candidate list: entries (distance << 32 | row), kept while d <= T. */
typedef struct mq {
    uint64_t *e;
    size_t n, cap;
    uint32_t T;    /* k-NN: the k-th smallest distance found (K while fewer than k) */
    size_t le;     /* entries with d <= T */
    uint32_t *hist; /* [K + 1] entries per distance, valid for d <= T */
    double work;
} mq;

/* Full-code distance of a candidate: the Hamming layer's row primitive (lib/core/
 * hamming.h, always inlined, so it gets this file's POPCNT target). */
static inline uint32_t dist(const uint64_t *a, const uint64_t *b, uint32_t w)
{
    return hc_dist(a, b, w);
}

/* 1 if (s, t) is the first probe in (s, t) order that reaches code c (mih.h). */
static inline int canonical(const dh__mih *mh, const uint32_t *qk, const uint64_t *c, uint32_t s,
                            uint32_t t)
{
    for (uint32_t u = 0; u < mh->m; u++) {
        if (u == t) continue;
        uint32_t kd = dh__popcount64(dh__mih_key(&mh->t[u], c) ^ qk[u]);
        if (kd < s + (u < t)) return 0;
    }
    return 1;
}

static int mq_grow(mq *z)
{
    size_t cap = z->cap * 2;
    uint64_t *e = realloc(z->e, cap * sizeof *e);
    if (!e) return 0;
    z->e = e;
    z->cap = cap;
    return 1;
}

/* Drop entries above T; grow when the survivors still fill half the list. */
static int knn_cut(mq *z)
{
    size_t j = 0;
    for (size_t i = 0; i < z->n; i++)
        if ((uint32_t)(z->e[i] >> 32) <= z->T) z->e[j++] = z->e[i];
    z->n = j;
    return j * 2 <= z->cap || mq_grow(z);
}

static inline int knn_add(mq *z, uint32_t d, size_t row, uint32_t k)
{
    if (d > z->T) return 1;
    if (z->n == z->cap && !knn_cut(z)) return 0;
    z->e[z->n++] = (uint64_t)d << 32 | row;
    z->hist[d]++;
    z->le++;
    while (z->T > 0 && z->le - z->hist[z->T] >= k) {
        z->le -= z->hist[z->T];
        z->hist[z->T] = 0;
        z->T--;
    }
    return 1;
}

static inline int range_add(mq *z, uint32_t d, size_t row)
{
    if (d > z->T) return 1;
    if (z->n == z->cap && !mq_grow(z)) return 0;
    z->e[z->n++] = (uint64_t)d << 32 | row;
    return 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void sort_entries(uint64_t *e, size_t n)
{
    if (n > 24) {
        qsort(e, n, sizeof *e, cmp_u64);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        uint64_t v = e[i];
        size_t j = i;
        for (; j > 0 && e[j - 1] > v; j--) e[j] = e[j - 1];
        e[j] = v;
    }
}

/* Verify the rows of bucket `key` of table t at level s. Returns 0 on no memory. */
static int probe(const mctx *x, mq *z, const uint64_t *q, const uint32_t *qk, uint32_t s,
                 uint32_t t, uint32_t key, uint32_t k, int knn)
{
    const dh__mih *mh = x->mh;
    const dh__mih_table *tb = &mh->t[t];
    uint32_t lo = tb->offs[key], hi = tb->offs[key + 1];
    z->work += DH__MIH_C_PROBE + (double)(hi - lo) * (DH__MIH_C_CAND + x->w);
    /* The codes of a bucket's rows are random reads: prefetch a few rows ahead. */
    for (uint32_t i = lo; i < hi && i < lo + DH__MIH_PREFETCH; i++)
        __builtin_prefetch(x->ix->codes + dh__mih_row(tb->rows, mh->row_bytes, i) * x->w);
    for (uint32_t i = lo; i < hi; i++) {
        if (i + DH__MIH_PREFETCH < hi)
            __builtin_prefetch(x->ix->codes +
                               dh__mih_row(tb->rows, mh->row_bytes, i + DH__MIH_PREFETCH) * x->w);
        size_t row = dh__mih_row(tb->rows, mh->row_bytes, i);
        if (dh__tomb_get(x->tomb, row)) continue;
        const uint64_t *c = x->ix->codes + row * x->w;
        if (mh->m > 1 && !canonical(mh, qk, c, s, t)) continue;
        uint32_t d = dist(q, c, x->w);
        if (!(knn ? knn_add(z, d, row, k) : range_add(z, d, row))) return 0;
    }
    return 1;
}

/* Probe every key at distance exactly s in table t (Gosper's next-combination).
 * Returns -1 on no memory, 0 past the budget, 1 done. */
static int probe_level(const mctx *x, mq *z, const uint64_t *q, const uint32_t *qk, uint32_t s,
                       uint32_t t, uint32_t k, int knn)
{
    uint32_t h = x->mh->t[t].key_bits, lim = (uint32_t)1 << h;
    if (s == 0) return probe(x, z, q, qk, 0, t, qk[t], k, knn) ? 1 : -1;
    for (uint32_t mask = ((uint32_t)1 << s) - 1; mask < lim;) {
        if (!probe(x, z, q, qk, s, t, qk[t] ^ mask, k, knn)) return -1;
        if (z->work > x->budget) return 0;
        uint32_t c = mask & (0u - mask), r = mask + c;
        mask = (((r ^ mask) >> 2) / c) | r;
    }
    return 1;
}

/* Rows added since the build, one by one. */
static int scan_tail(const mctx *x, mq *z, const uint64_t *q, uint32_t k, int knn)
{
    const dh_index *ix = x->ix;
    z->work += (double)(ix->n - x->mh->n_built) * x->w;
    for (size_t r = x->mh->n_built; r < ix->n; r++) {
        if (dh__tomb_get(x->tomb, r)) continue;
        uint32_t d = dist(q, ix->codes + r * x->w, x->w);
        if (!(knn ? knn_add(z, d, r, k) : range_add(z, d, r))) return 0;
    }
    return 1;
}

static void query_keys(const dh__mih *mh, const uint64_t *q, uint32_t *qk)
{
    for (uint32_t t = 0; t < mh->m; t++) qk[t] = dh__mih_key(&mh->t[t], q);
}

/* One k-NN query. Returns 1 done (D/I written), 0 past the budget, -1 no memory. */
static int knn_one(const mctx *x, mq *z, const uint64_t *q, uint32_t k, int32_t *D, int64_t *I)
{
    const dh__mih *mh = x->mh;
    uint32_t qk[DH__MIH_MAX_TABLES];
    z->n = 0;
    z->le = 0;
    z->T = x->K;
    z->work = 0;
    memset(z->hist, 0, ((size_t)x->K + 1) * sizeof *z->hist);
    query_keys(mh, q, qk);
    if (!scan_tail(x, z, q, k, 1)) return -1;
    for (uint32_t s = 0, done = 0; !done; s++) {
        for (uint32_t t = 0; t < mh->m && !done; t++) {
            if (s > mh->t[t].key_bits) { /* table t has listed every row */
                done = 1;
                break;
            }
            int rc = probe_level(x, z, q, qk, s, t, k, 1);
            if (rc <= 0) return rc;
            if (z->le >= k && z->T <= mh->m * s + t) done = 1;
        }
    }
    if (!knn_cut(z)) return -1;
    sort_entries(z->e, z->n);
    size_t got = z->n < k ? z->n : k;
    for (size_t j = 0; j < got; j++) {
        I[j] = x->ix->ids[(size_t)(z->e[j] & 0xffffffffu)];
        if (D) D[j] = (int32_t)(z->e[j] >> 32);
    }
    for (size_t j = got; j < k; j++) {
        I[j] = -1;
        if (D) D[j] = INT32_MAX;
    }
    return 1;
}

/* One range query: sorted entries with d <= radius left in z. Returns as knn_one. */
static int range_one(const mctx *x, mq *z, const uint64_t *q, uint32_t radius)
{
    const dh__mih *mh = x->mh;
    uint32_t qk[DH__MIH_MAX_TABLES];
    z->n = 0;
    z->T = radius;
    z->work = 0;
    query_keys(mh, q, qk);
    if (!scan_tail(x, z, q, 0, 0)) return -1;
    uint32_t sr = radius / mh->m, tr = radius % mh->m;
    for (uint32_t s = 0; s <= sr; s++)
        for (uint32_t t = 0; t < mh->m && (s < sr || t <= tr); t++) {
            if (s > mh->t[t].key_bits) continue;
            int rc = probe_level(x, z, q, qk, s, t, 0, 0);
            if (rc <= 0) return rc;
        }
    sort_entries(z->e, z->n);
    return 1;
}

static int mq_init(mq *z, size_t cap, uint32_t K)
{
    z->cap = cap < 64 ? 64 : cap;
    z->e = malloc(z->cap * sizeof *z->e);
    z->hist = calloc((size_t)K + 1, sizeof *z->hist);
    z->n = 0;
    return z->e && z->hist;
}

static void mq_free(mq *z)
{
    free(z->e);
    free(z->hist);
}

/* ---- batch drivers ---- */

typedef struct batch {
    mctx x;
    uint64_t *qw;       /* [nq, W] queries as words */
    uint8_t *failed;    /* [nq]: 1 = run by the scan */
    int mode, n_threads;
    double scan_units;  /* cost of scanning one query */
    int give_up;        /* AUTO: MIH does not pay for this batch */
    long tried;
    double spent;
} batch;

static int cpu_ok(void)
{
#ifdef DH__MIH_NEEDS_POPCNT
    return __builtin_cpu_supports("popcnt");
#else
    return 1;
#endif
}

static dh_status batch_init(batch *b, const dh_index *ix, const uint8_t *queries, size_t nq,
                            const char *fn)
{
    memset(b, 0, sizeof *b);
    b->x.ix = ix;
    b->x.mh = ix->mih;
    b->x.tomb = ix->n_removed ? ix->tomb : NULL;
    b->x.w = ix->n_words;
    b->x.K = ix->n_bits;
    b->mode = ix->search_mode;
    b->scan_units = (double)ix->n * ix->n_words;
    b->x.budget = b->mode == DH__SEARCH_MIH ? INFINITY : b->scan_units;
    b->n_threads = ix->n_threads ? (int)ix->n_threads : dh__num_threads();
    /* Threads only pay for several queries each (a MIH query takes microseconds). */
    if ((size_t)b->n_threads > nq / 4) b->n_threads = nq / 4 > 1 ? (int)(nq / 4) : 1;
    b->qw = dh__alloc_aligned(nq * ix->n_words * 8, 64);
    b->failed = dh__calloc(nq, 1);
    if (!b->qw || !b->failed) return DH_E_NO_MEMORY;
    return dh__rows_to_words(queries, DH_CODE_PACKED, nq, ix->n_bits, b->qw, fn);
}

static void batch_free(batch *b)
{
    dh__free_aligned(b->qw);
    dh__free(b->failed);
}

/* Account one query; in AUTO mode decide whether MIH still pays. */
static void batch_note(batch *b, double work)
{
    long tried;
    double spent;
#pragma omp atomic capture
    tried = ++b->tried;
#pragma omp atomic capture
    spent = b->spent += work;
    if (b->mode == DH__SEARCH_AUTO && tried >= DH__MIH_MIN_TRIES &&
        spent > 0.5 * b->scan_units * (double)tried) {
#pragma omp atomic write
        b->give_up = 1;
    }
}

static int batch_skip(batch *b)
{
    int g;
#pragma omp atomic read
    g = b->give_up;
    return g;
}

/* Gather the failed queries (bytes), or *nf = 0. */
static dh_status gather_failed(const batch *b, const uint8_t *queries, size_t nq, size_t cb,
                               uint8_t **sub, size_t *nf)
{
    size_t c = 0;
    for (size_t q = 0; q < nq; q++) c += b->failed[q];
    *nf = c;
    *sub = NULL;
    if (!c) return DH_OK;
    *sub = dh__alloc(c * cb);
    if (!*sub) return DH_E_NO_MEMORY;
    for (size_t q = 0, j = 0; q < nq; q++)
        if (b->failed[q]) memcpy(*sub + cb * j++, queries + cb * q, cb);
    return DH_OK;
}

static dh_status knn_rest(const batch *b, const uint8_t *queries, size_t nq, uint32_t k,
                          int32_t *D, int64_t *I)
{
    const dh_index *ix = b->x.ix;
    size_t cb = dh_code_bytes(ix->n_bits), nf;
    uint8_t *sub;
    DH_TRY(gather_failed(b, queries, nq, cb, &sub, &nf));
    if (!nf) return DH_OK;
    int32_t *D2 = D ? dh__alloc(nf * k * sizeof *D2) : NULL;
    int64_t *I2 = dh__alloc(nf * k * sizeof *I2);
    dh_status st = (D && !D2) || !I2 ? DH_E_NO_MEMORY
                                     : dh__index_search_scan_locked(ix, sub, nf, k, D2, I2);
    for (size_t q = 0, j = 0; st == DH_OK && q < nq; q++) {
        if (!b->failed[q]) continue;
        memcpy(I + q * k, I2 + j * k, k * sizeof *I);
        if (D) memcpy(D + q * k, D2 + j * k, k * sizeof *D);
        j++;
    }
    dh__free(sub);
    dh__free(D2);
    dh__free(I2);
    return st;
}

/* AUTO: is MIH worth trying at all for this k? */
static int knn_worth(const dh_index *ix, uint32_t k)
{
    const dh__mih *mh = ix->mih;
    size_t live = ix->n - ix->n_removed;
    return mh->n_built >= 256 && ix->n - mh->n_built <= ix->n / 4 && (size_t)k * 8 <= live;
}

dh_status dh__mih_search_locked(const dh_index *ix, const uint8_t *queries, size_t nq,
                                uint32_t k, int32_t *out_dist, int64_t *out_ids)
{
    if (ix->search_mode == DH__SEARCH_SCAN || !cpu_ok() ||
        (ix->search_mode == DH__SEARCH_AUTO && !knn_worth(ix, k)))
        return dh__index_search_scan_locked(ix, queries, nq, k, out_dist, out_ids);
    batch b;
    dh_status st = batch_init(&b, ix, queries, nq, "dh_index_search");
    long long nql = (long long)nq;
    if (st == DH_OK) {
#pragma omp parallel num_threads(b.n_threads) if (b.n_threads > 1)
        {
            mq z;
            int ok = mq_init(&z, (size_t)k * 2 + 256, ix->n_bits);
#pragma omp for schedule(dynamic, 4)
            for (long long q = 0; q < nql; q++) {
                size_t qi = (size_t)q;
                if (!ok || batch_skip(&b)) {
                    b.failed[qi] = 1;
                    continue;
                }
                int rc = knn_one(&b.x, &z, b.qw + qi * ix->n_words, k,
                                 out_dist ? out_dist + qi * k : NULL, out_ids + qi * k);
                b.failed[qi] = rc != 1;
                batch_note(&b, rc == 1 ? z.work : b.scan_units);
            }
            mq_free(&z);
        }
        st = knn_rest(&b, queries, nq, k, out_dist, out_ids);
    }
    batch_free(&b);
    return st;
}

/* ---- range search ---- */

static double binom(uint32_t n, uint32_t r)
{
    double v = 1;
    for (uint32_t i = 1; i <= r; i++) v = v * (double)(n - r + i) / (double)i;
    return v;
}

/* Buckets a range query of this radius probes. */
static double range_probes(const dh__mih *mh, uint32_t radius)
{
    uint32_t sr = radius / mh->m, tr = radius % mh->m;
    double p = 0;
    for (uint32_t t = 0; t < mh->m; t++) {
        uint32_t top = t <= tr ? sr : sr - (sr > 0);
        if (t > tr && sr == 0) continue;
        for (uint32_t s = 0; s <= top && s <= mh->t[t].key_bits; s++)
            p += binom(mh->t[t].key_bits, s);
    }
    return p;
}

typedef struct rlist {
    uint64_t *e;
    size_t n;
} rlist;

static dh_status range_assemble(const batch *b, rlist *lists, size_t nq,
                                const dh_range_result *sub, dh_range_result *res)
{
    const dh_index *ix = b->x.ix;
    size_t total = 0, j = 0;
    res->lims[0] = 0;
    for (size_t q = 0; q < nq; q++) {
        total += b->failed[q] ? sub->lims[j + 1] - sub->lims[j] : lists[q].n;
        j += b->failed[q];
        res->lims[q + 1] = total;
    }
    if (total) {
        res->ids = dh__alloc(total * sizeof *res->ids);
        res->dist = dh__alloc(total * sizeof *res->dist);
        if (!res->ids || !res->dist)
            return dh__set_error(DH_E_NO_MEMORY, "dh_index_range_search: out of memory for "
                                 "%zu hits", total);
    }
    j = 0;
    for (size_t q = 0; q < nq; q++) {
        size_t o = res->lims[q];
        if (b->failed[q]) {
            size_t a = sub->lims[j], c = sub->lims[j + 1] - a;
            if (c) {
                memcpy(res->ids + o, sub->ids + a, c * sizeof *res->ids);
                memcpy(res->dist + o, sub->dist + a, c * sizeof *res->dist);
            }
            j++;
            continue;
        }
        for (size_t i = 0; i < lists[q].n; i++) {
            res->ids[o + i] = ix->ids[(size_t)(lists[q].e[i] & 0xffffffffu)];
            res->dist[o + i] = (int32_t)(lists[q].e[i] >> 32);
        }
    }
    return DH_OK;
}

static dh_status range_rest(batch *b, const uint8_t *queries, size_t nq, uint32_t radius,
                            rlist *lists, dh_range_result *res)
{
    const dh_index *ix = b->x.ix;
    size_t cb = dh_code_bytes(ix->n_bits), nf;
    uint8_t *subq;
    DH_TRY(gather_failed(b, queries, nq, cb, &subq, &nf));
    dh_range_result sub = {0};
    sub.nq = nf;
    sub.lims = dh__calloc(nf + 1, sizeof *sub.lims);
    dh_status st = sub.lims ? DH_OK : DH_E_NO_MEMORY;
    if (st == DH_OK && nf) st = dh__index_range_scan_locked(ix, subq, nf, radius, &sub);
    if (st == DH_OK) st = range_assemble(b, lists, nq, &sub, res);
    dh__free(subq);
    dh__free(sub.lims);
    dh__free(sub.ids);
    dh__free(sub.dist);
    return st;
}

dh_status dh__mih_range_locked(const dh_index *ix, const uint8_t *queries, size_t nq,
                               uint32_t radius, dh_range_result *res)
{
    if (radius > ix->n_bits) radius = ix->n_bits;
    const dh__mih *mh = ix->mih;
    double scan = (double)ix->n * ix->n_words;
    int worth = mh->n_built >= 256 && ix->n - mh->n_built <= ix->n / 4 &&
                range_probes(mh, radius) * DH__MIH_C_PROBE < 0.5 * scan;
    if (ix->search_mode == DH__SEARCH_SCAN || !cpu_ok() ||
        (ix->search_mode == DH__SEARCH_AUTO && !worth))
        return dh__index_range_scan_locked(ix, queries, nq, radius, res);
    batch b;
    dh_status st = batch_init(&b, ix, queries, nq, "dh_index_range_search");
    rlist *lists = dh__calloc(nq, sizeof *lists);
    if (st == DH_OK && !lists) st = DH_E_NO_MEMORY;
    long long nql = (long long)nq;
    if (st == DH_OK) {
#pragma omp parallel num_threads(b.n_threads) if (b.n_threads > 1)
        {
            mq z;
            int ok = mq_init(&z, 1024, 0);
#pragma omp for schedule(dynamic, 4)
            for (long long q = 0; q < nql; q++) {
                size_t qi = (size_t)q;
                b.failed[qi] = 1;
                if (!ok || batch_skip(&b)) continue;
                int rc = range_one(&b.x, &z, b.qw + qi * ix->n_words, radius);
                batch_note(&b, rc == 1 ? z.work : b.scan_units);
                if (rc != 1) continue;
                lists[qi].e = malloc((z.n ? z.n : 1) * sizeof *z.e);
                if (!lists[qi].e) continue;
                memcpy(lists[qi].e, z.e, z.n * sizeof *z.e);
                lists[qi].n = z.n;
                b.failed[qi] = 0;
            }
            mq_free(&z);
        }
        st = range_rest(&b, queries, nq, radius, lists, res);
    }
    for (size_t q = 0; lists && q < nq; q++) free(lists[q].e);
    dh__free(lists);
    batch_free(&b);
    return st;
}
