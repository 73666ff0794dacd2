/* lib/eval/engine.c -- runs an evaluation: queries in a fixed number of blocks
 * (OpenMP over blocks), one database pass per query, per-block partial sums that are
 * added in block order at the end (so the result is the same for any thread count),
 * progress reports from the calling thread. */
#include "eval/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define MAX_BLOCKS 256
#define ACC_BUDGET ((size_t)64 << 20) /* bytes of per-block partial sums, at most */

/* Partial sums of one block of queries. */
typedef struct block_acc {
    double map_sum;
    uint64_t map_count;
    uint64_t count;      /* queries counted by the metrics other than mAP */
    double ball_p, ball_r;
    uint64_t ball_empty;
    double *vec;         /* p_at_n [n_ns], r_at_n [n_ns], pr_p [K+1], pr_r [K+1] */
} block_acc;

/* Per-thread scratch. */
/* Per-thread scratch. (Handling several queries at once, to interleave their AP sums,
 * measured slower: the extra rank arrays cost more in cache than the overlap gains.) */
typedef struct scratch {
    uint32_t *cnt, *rcnt, *nlt, *rstart; /* [K + 1] each */
    uint64_t *rel;                       /* [n_db] scan output */
    uint32_t *ranks;                     /* [n_db] */
    double *hits;                        /* [n_ns] */
} scratch;

typedef struct ctx {
    const dh__eval_data *d;
    const dh__eval_request *rq;
    dh__eval_scan_fn scan;
    uint64_t *ns_sorted;  /* [n_ns] ascending */
    size_t *ns_perm;      /* ns_sorted[i] = rq->ns[ns_perm[i]] */
    size_t vec_len, n_blocks;
    int need_ranks;
    double *ap_out;
} ctx;

/* Ranks (1-based, ascending) of the relevant items under database-order ties: item j
 * at distance h and bucket position pos has rank N_<h + pos + 1; a counting sort by h
 * keeps database order inside each bucket, which is rank order. */
static void build_ranks(const ctx *c, scratch *s, const uint32_t *cnt, const uint32_t *rcnt,
                        uint64_t R, uint32_t *ranks)
{
    uint32_t n_acc = 0, r_acc = 0;
    for (uint32_t h = 0; h <= c->d->n_bits; h++) {
        s->nlt[h] = n_acc;
        s->rstart[h] = r_acc;
        n_acc += cnt[h];
        r_acc += rcnt[h];
    }
    for (uint64_t j = 0; j < R; j++) {
        uint32_t h = (uint32_t)(s->rel[j] >> 32);
        ranks[s->rstart[h]++] = s->nlt[h] + (uint32_t)s->rel[j] + 1;
    }
}

static int counted(int32_t policy, int has_relevant, int labeled)
{
    switch (policy) {
    case DH_NO_RELEVANT_SKIP: return has_relevant;
    case DH_NO_RELEVANT_SKIP_UNLABELED: return labeled;
    default: return 1;
    }
}

/* Precision-recall by radius and the Hamming ball, from cumulative counts. */
static void radius_metrics(const ctx *c, const uint32_t *cnt, const uint32_t *rcnt, uint64_t R,
                           block_acc *a)
{
    const uint32_t K = c->d->n_bits;
    double *pr_p = NULL, *pr_r = NULL;
    if (c->rq->want_pr) {
        pr_p = a->vec + 2 * c->rq->n_ns;
        pr_r = pr_p + K + 1;
    }
    uint64_t n_in = 0, r_in = 0;
    for (uint32_t h = 0; h <= K; h++) {
        n_in += cnt[h];
        r_in += rcnt[h];
        double prec = n_in ? (double)r_in / (double)n_in : 0.0;
        double rec = R ? (double)r_in / (double)R : 0.0;
        if (pr_p) {
            pr_p[h] += prec;
            pr_r[h] += rec;
        }
        if (c->rq->want_ball && h == c->rq->radius) {
            a->ball_p += prec;
            a->ball_r += rec;
            a->ball_empty += n_in == 0;
        }
    }
}

/* Scan query q: histograms, and ranks when needed. */
static void scan_query(const ctx *c, scratch *s, size_t q, dh__eval_profile *p)
{
    const dh__eval_data *d = c->d;
    const size_t kb = (size_t)d->n_bits + 1;
    uint32_t *cnt = s->cnt, *rcnt = s->rcnt, *ranks = c->need_ranks ? s->ranks : NULL;
    if (c->rq->part_hist) { /* from parts: the summed histograms are the profile */
        const uint32_t *h = c->rq->part_hist + q * 2 * kb;
        memcpy(cnt, h, kb * sizeof *cnt);
        memcpy(rcnt, h + kb, kb * sizeof *rcnt);
        uint64_t R = 0;
        for (size_t i = 0; i < kb; i++) R += rcnt[i];
        *p = (dh__eval_profile){d->n_bits, d->n_db, R, cnt, rcnt, NULL};
        return;
    }
    memset(cnt, 0, kb * sizeof *cnt);
    memset(rcnt, 0, kb * sizeof *rcnt);
    const uint64_t R = c->scan(d, q, cnt, s->rel);
    for (uint64_t j = 0; j < R; j++) rcnt[s->rel[j] >> 32]++;
    if (ranks) build_ranks(c, s, cnt, rcnt, R, ranks);
    *p = (dh__eval_profile){d->n_bits, d->n_db, R, cnt, rcnt, ranks};
}

/* Every metric of query q from its profile, into the block's sums. */
static void finish_query(const ctx *c, scratch *s, size_t q, const dh__eval_profile *p,
                         block_acc *a)
{
    const dh__eval_request *rq = c->rq;
    int labeled = dh__eval_query_labeled(c->d, q);
    /* from parts under index order: [0] sum of j / rank, [1 + i] hits at ns[i],
     * [n_ns + 1] hits at topk (dh_eval_part_sums) */
    const double *ps = rq->part_sums && rq->ties != DH_TIES_EXPECTED
                           ? rq->part_sums + q * (rq->n_ns + 2) : NULL;
    if (rq->want_map) {
        int has_hits = 0;
        double ap;
        if (ps) {
            has_hits = ps[rq->n_ns + 1] > 0;
            ap = has_hits ? ps[0] / ps[rq->n_ns + 1] : 0.0;
        } else {
            ap = dh__eval_ap(p, rq->ties, rq->topk, &has_hits);
        }
        int in = counted(rq->no_relevant, has_hits, labeled);
        if (in) {
            a->map_sum += ap;
            a->map_count++;
        }
        if (c->ap_out) c->ap_out[q] = in ? ap : NAN;
    }
    const uint64_t R = p->R;
    if (!counted(rq->no_relevant, R > 0, labeled)) return;
    a->count++;
    if (rq->n_ns) {
        if (ps)
            for (size_t i = 0; i < rq->n_ns; i++) s->hits[i] = ps[1 + c->ns_perm[i]];
        else
            dh__eval_hits_at(p, rq->ties, c->ns_sorted, rq->n_ns, s->hits);
        for (size_t i = 0; i < rq->n_ns; i++) {
            a->vec[i] += s->hits[i] / (double)c->ns_sorted[i];
            a->vec[rq->n_ns + i] += R ? s->hits[i] / (double)R : 0.0;
        }
    }
    if (rq->want_pr || rq->want_ball) radius_metrics(c, p->cnt, p->rcnt, R, a);
}

static void process_block(const ctx *c, scratch *s, size_t q0, size_t q1, block_acc *a)
{
    for (size_t q = q0; q < q1; q++) {
        dh__eval_profile p;
        scan_query(c, s, q, &p);
        finish_query(c, s, q, &p, a);
    }
}

static void scratch_free(scratch *s)
{
    dh__free(s->cnt);
    dh__free(s->rel);
    dh__free(s->ranks);
    dh__free(s->hits);
}

static dh_status scratch_alloc(const ctx *c, scratch *s)
{
    memset(s, 0, sizeof *s);
    size_t kb = (size_t)c->d->n_bits + 1, n = c->d->n_db;
    s->cnt = dh__calloc(4 * kb, sizeof(uint32_t));
    if (c->rq->part_hist) n = 1; /* no scan */
    s->rel = dh__calloc(n, sizeof(uint64_t));
    s->ranks = c->need_ranks ? dh__calloc(n, sizeof(uint32_t)) : NULL;
    s->hits = dh__calloc(c->rq->n_ns ? c->rq->n_ns : 1, sizeof(double));
    if (!s->cnt || !s->rel || (c->need_ranks && !s->ranks) || !s->hits) {
        scratch_free(s);
        return dh__set_error(DH_E_NO_MEMORY,
                             "dh_eval: out of memory for per-thread scratch (%zu database items)",
                             n);
    }
    s->rcnt = s->cnt + kb;
    s->nlt = s->rcnt + kb;
    s->rstart = s->nlt + kb;
    return DH_OK;
}

typedef struct cutoff {
    uint64_t n;
    size_t index;
} cutoff;

static int cmp_cutoff(const void *a, const void *b)
{
    const cutoff *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Queries of block b: [begin, end). The split depends on n_queries only. */
static void block_range(const ctx *c, size_t b, size_t *begin, size_t *end)
{
    size_t nq = c->d->n_queries, nb = c->n_blocks, base = nq / nb, extra = nq % nb;
    *begin = b * base + (b < extra ? b : extra);
    *end = *begin + base + (b < extra);
}

/* Blocks in waves: one parallel loop per wave, and between waves the calling thread
 * reports progress (callbacks run on the caller's thread) and may stop. Without a
 * callback there is a single wave. */
static dh_status run_blocks(const ctx *c, scratch *scr, int nt, block_acc *acc)
{
    const dh__eval_request *rq = c->rq;
    const size_t nb = c->n_blocks;
    size_t wave = rq->progress ? (size_t)(nt > 2 ? 4 * nt : 8) : nb;
    for (size_t start = 0; start < nb; start += wave) {
        const long b0 = (long)start, b1 = (long)(start + wave < nb ? start + wave : nb);
#pragma omp parallel num_threads(nt)
        {
            int tid = 0;
#ifdef _OPENMP
            tid = omp_get_thread_num();
#endif
#pragma omp for schedule(dynamic, 1)
            for (long b = b0; b < b1; b++) {
                size_t q0, q1;
                block_range(c, (size_t)b, &q0, &q1);
                process_block(c, &scr[tid], q0, q1, &acc[b]);
            }
        }
        if (!rq->progress) continue;
        size_t q_end, unused;
        block_range(c, (size_t)b1 - 1, &unused, &q_end);
        double frac = (double)q_end / (double)c->d->n_queries;
        if (rq->progress(frac, rq->progress_user) != 0 && b1 < (long)nb)
            return dh__set_error(DH_E_INTERRUPTED,
                                 "dh_eval: stopped by the progress callback after %zu of %zu "
                                 "queries",
                                 q_end, c->d->n_queries);
    }
    return DH_OK;
}

/* Add block sums in block order and write the means; vec [vec_len] zeroed. */
static void finish(const ctx *c, const block_acc *acc, double *vec, dh__eval_result *res)
{
    const dh__eval_request *rq = c->rq;
    const size_t kb = (size_t)c->d->n_bits + 1, m = rq->n_ns;
    double map_sum = 0, bp = 0, br = 0;
    uint64_t map_n = 0, n = 0, empty = 0;
    for (size_t b = 0; b < c->n_blocks; b++) {
        map_sum += acc[b].map_sum;
        map_n += acc[b].map_count;
        n += acc[b].count;
        bp += acc[b].ball_p;
        br += acc[b].ball_r;
        empty += acc[b].ball_empty;
        for (size_t i = 0; i < c->vec_len; i++) vec[i] += acc[b].vec[i];
    }
    const double inv = n ? 1.0 / (double)n : 0.0;
    res->map = map_n ? map_sum / (double)map_n : 0.0;
    res->ball_precision = bp * inv;
    res->ball_recall = br * inv;
    res->ball_empty = (double)empty * inv;
    for (size_t i = 0; i < m; i++) {
        if (res->p_at_n) res->p_at_n[c->ns_perm[i]] = vec[i] * inv;
        if (res->r_at_n) res->r_at_n[c->ns_perm[i]] = vec[m + i] * inv;
    }
    for (size_t h = 0; rq->want_pr && h < kb; h++) {
        if (res->pr_precision) res->pr_precision[h] = vec[2 * m + h] * inv;
        if (res->pr_recall) res->pr_recall[h] = vec[2 * m + kb + h] * inv;
    }
}

static dh_status sort_cutoffs(ctx *c)
{
    const size_t m = c->rq->n_ns;
    c->ns_sorted = dh__calloc(m ? m : 1, sizeof(uint64_t));
    c->ns_perm = dh__calloc(m ? m : 1, sizeof(size_t));
    cutoff *tmp = dh__calloc(m ? m : 1, sizeof(cutoff));
    if (!c->ns_sorted || !c->ns_perm || !tmp) {
        dh__free(tmp);
        return DH_E_NO_MEMORY;
    }
    for (size_t i = 0; i < m; i++) tmp[i] = (cutoff){c->rq->ns[i], i};
    qsort(tmp, m, sizeof(cutoff), cmp_cutoff);
    for (size_t i = 0; i < m; i++) {
        c->ns_sorted[i] = tmp[i].n;
        c->ns_perm[i] = tmp[i].index;
    }
    dh__free(tmp);
    return DH_OK;
}

dh_status dh__eval_run(const dh__eval_data *d, const dh__eval_request *rq, dh__eval_result *res)
{
    ctx c = {.d = d, .rq = rq, .scan = dh__eval_scan_select(d), .ap_out = res->ap};
    c.need_ranks = rq->ties != DH_TIES_EXPECTED && (rq->want_map || rq->n_ns) && !rq->part_hist;
    c.vec_len = 2 * rq->n_ns + (rq->want_pr ? 2 * ((size_t)d->n_bits + 1) : 0);
    size_t per_block = sizeof(block_acc) + c.vec_len * sizeof(double);
    size_t nb = d->n_queries < MAX_BLOCKS ? d->n_queries : MAX_BLOCKS;
    while (nb > 16 && nb * per_block > ACC_BUDGET) nb /= 2;
    c.n_blocks = nb;
    int nt = rq->n_threads > 0 ? rq->n_threads : 1;
    if ((size_t)nt > nb) nt = (int)nb;
    if ((double)d->n_queries * (double)d->n_db * d->words < 65536.0)
        nt = 1; /* too little work to be worth a thread team */
    dh_status st = DH_OK;
    block_acc *acc = dh__calloc(nb, sizeof(block_acc));
    /* one vector per block plus one for the totals */
    double *vecs = dh__calloc((nb + 1) * (c.vec_len ? c.vec_len : 1), sizeof(double));
    scratch *scr = dh__calloc((size_t)nt, sizeof(scratch));
    int n_scr = 0;
    if (!acc || !vecs || !scr || sort_cutoffs(&c) != DH_OK) {
        st = dh__set_error(DH_E_NO_MEMORY, "dh_eval: out of memory for %zu result blocks", nb);
        goto done;
    }
    for (size_t b = 0; b < nb; b++) acc[b].vec = vecs + b * c.vec_len;
    for (; n_scr < nt; n_scr++) DH_TRY_GOTO(scratch_alloc(&c, &scr[n_scr]), done);
    DH_TRY_GOTO(run_blocks(&c, scr, nt, acc), done);
    finish(&c, acc, vecs + nb * c.vec_len, res);
done:
    for (int i = 0; scr && i < n_scr; i++) scratch_free(&scr[i]);
    dh__free(scr);
    dh__free(vecs);
    dh__free(acc);
    dh__free(c.ns_sorted);
    dh__free(c.ns_perm);
    return st;
}
