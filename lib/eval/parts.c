/* lib/eval/parts.c -- evaluation of a database held in parts (shards, chunks): the
 * per-part histograms, the per-part rank sums of database-order ties, and the metrics
 * from their totals (dh.h, "Evaluation over a database held in parts").
 *
 * Item j of part P_i at distance h, at position p of its distance bucket inside the
 * part, has the global rank N_<h + before[h] + p + 1, where N_<h counts the items of
 * every part below distance h and before[h] the items at distance h in the parts
 * before P_i; its place among the relevant items follows the same way from the
 * relevant counts. So per-part sums of j / rank add up to the AP numerator of the
 * whole database, and counts of ranks <= N to its hits at N. */
#include "eval/eval.h"

#include <string.h>

/* Shared argument checks of the per-part functions. */
static dh_status part_begin(const char *fn, const dh_eval_options *opts, dh_eval_options *o,
                            const uint8_t *qc, const void *ql, size_t nq, const uint8_t *dc,
                            const void *dl, size_t n_db, const void *out, dh__eval_data *d)
{
    DH_TRY(dh__eval_read_options(fn, opts, o));
    DH_CHECK_ARG_MSG(out != NULL, "%s: the output array is NULL", fn);
    DH_CHECK_ARG_MSG(nq >= 1 && qc && ql, "%s: %s", fn,
                     nq ? "query_codes or query_labels is NULL" : "n_queries is 0");
    if (n_db == 0) return DH_OK; /* an empty part: nothing to scan */
    dh_status st = dh__eval_data_init(d, o, qc, ql, nq, dc, dl, n_db);
    if (st != DH_OK) dh__error_prefix("%s", fn);
    return st;
}

static int threads_of(const dh_eval_options *o)
{
    return o->n_threads ? (int)(o->n_threads > 4096 ? 4096 : o->n_threads) : dh__num_threads();
}

dh_status dh_eval_part_histograms(const dh_eval_options *opts, const uint8_t *query_codes,
                                  const void *query_labels, size_t n_queries,
                                  const uint8_t *db_codes, const void *db_labels, size_t n_db,
                                  uint32_t *out_hist)
{
    const char *fn = "dh_eval_part_histograms";
    dh_eval_options o;
    dh__eval_data d;
    memset(&d, 0, sizeof d);
    DH_TRY(part_begin(fn, opts, &o, query_codes, query_labels, n_queries, db_codes, db_labels,
                      n_db, out_hist, &d));
    const size_t kb = (size_t)o.n_bits + 1;
    memset(out_hist, 0, n_queries * 2 * kb * sizeof *out_hist);
    if (n_db == 0) return DH_OK;
    dh__eval_scan_fn scan = dh__eval_scan_select(&d);
    dh_status st = DH_OK;
    long long nql = (long long)n_queries;
#pragma omp parallel num_threads(threads_of(&o)) if (n_queries * n_db > 65536)
    {
        uint64_t *rel = dh__alloc(n_db * sizeof *rel);
        if (!rel) {
#pragma omp critical(dh_eval_parts_err)
            st = DH_E_NO_MEMORY;
        }
#pragma omp for schedule(dynamic, 16)
        for (long long q = 0; q < nql; q++) {
            if (!rel) continue;
            uint32_t *cnt = out_hist + (size_t)q * 2 * kb, *rcnt = cnt + kb;
            uint64_t R = scan(&d, (size_t)q, cnt, rel);
            for (uint64_t j = 0; j < R; j++) rcnt[rel[j] >> 32]++;
        }
        dh__free(rel);
    }
    dh__eval_data_free(&d);
    return st == DH_OK ? DH_OK
                       : dh__set_error(st, "%s: out of memory for %zu items", fn, n_db);
}

/* Rank sums of query q (see the header comment); DH_E_SHAPE if the histograms do
 * not contain the part. cnt, lr [kb] scratch; rel [n_db]. */
static dh_status part_query(const dh__eval_data *d, dh__eval_scan_fn scan, size_t q,
                            const uint32_t *tot, const uint32_t *bef, uint64_t topk,
                            const uint64_t *ns, size_t n_ns, uint32_t *cnt, uint64_t *lr,
                            uint64_t *nlt, uint64_t *rel, double *out)
{
    const size_t kb = (size_t)d->n_bits + 1;
    memset(cnt, 0, kb * sizeof *cnt);
    uint64_t R = scan(d, q, cnt, rel), n_acc = 0, r_acc = 0, n_all = 0;
    for (size_t h = 0; h < kb; h++) n_all += tot[h];
    for (size_t h = 0; h < kb; h++) {
        uint64_t b = bef ? bef[h] : 0, rb = bef ? bef[kb + h] : 0;
        if (b + cnt[h] > tot[h]) return DH_E_SHAPE;
        nlt[h] = n_acc + b;           /* items ranked before this part's bucket h */
        lr[h] = r_acc + rb;           /* relevant items ranked before it */
        n_acc += tot[h];
        r_acc += tot[kb + h];
    }
    const uint64_t k = topk ? topk : n_all;
    memset(out, 0, (n_ns + 2) * sizeof *out);
    for (uint64_t j = 0; j < R; j++) {
        uint32_t h = (uint32_t)(rel[j] >> 32);
        uint64_t rank = nlt[h] + (uint32_t)rel[j] + 1, place = ++lr[h];
        if (rank <= k) {
            out[0] += (double)place / (double)rank;
            out[n_ns + 1] += 1;
        }
        for (size_t i = 0; i < n_ns; i++) out[1 + i] += rank <= ns[i];
    }
    for (size_t h = 0, r_lt = 0; h < kb; r_lt += tot[kb + h], h++)
        if (lr[h] > r_lt + tot[kb + h]) return DH_E_SHAPE; /* more relevant than counted */
    return DH_OK;
}

dh_status dh_eval_part_sums(const dh_eval_options *opts, const uint8_t *query_codes,
                            const void *query_labels, size_t n_queries,
                            const uint8_t *db_codes, const void *db_labels, size_t n_db,
                            const uint32_t *total_hist, const uint32_t *before_hist,
                            const uint64_t *ns, size_t n_ns, double *out_sums)
{
    const char *fn = "dh_eval_part_sums";
    dh_eval_options o;
    dh__eval_data d;
    memset(&d, 0, sizeof d);
    DH_CHECK_ARG_MSG(total_hist != NULL, "%s: total_hist is NULL", fn);
    DH_CHECK_ARG_MSG(n_ns == 0 || ns != NULL, "%s: ns is NULL", fn);
    DH_TRY(part_begin(fn, opts, &o, query_codes, query_labels, n_queries, db_codes, db_labels,
                      n_db, out_sums, &d));
    memset(out_sums, 0, n_queries * (n_ns + 2) * sizeof *out_sums);
    if (n_db == 0 || o.ties == DH_TIES_EXPECTED) { /* histograms alone decide */
        dh__eval_data_free(&d);
        return DH_OK;
    }
    const size_t kb = (size_t)o.n_bits + 1;
    dh__eval_scan_fn scan = dh__eval_scan_select(&d);
    dh_status st = DH_OK;
    long long nql = (long long)n_queries;
#pragma omp parallel num_threads(threads_of(&o)) if (n_queries * n_db > 65536)
    {
        uint64_t *rel = dh__alloc(n_db * sizeof *rel), *lr = dh__alloc(2 * kb * sizeof *lr);
        uint32_t *cnt = dh__alloc(kb * sizeof *cnt);
        dh_status my = rel && lr && cnt ? DH_OK : DH_E_NO_MEMORY;
#pragma omp for schedule(dynamic, 16)
        for (long long q = 0; q < nql; q++) {
            if (my != DH_OK) continue;
            size_t off = (size_t)q * 2 * kb;
            my = part_query(&d, scan, (size_t)q, total_hist + off,
                            before_hist ? before_hist + off : NULL, o.topk, ns, n_ns, cnt, lr,
                            lr + kb, rel, out_sums + (size_t)q * (n_ns + 2));
        }
        if (my != DH_OK) {
#pragma omp critical(dh_eval_parts_err)
            st = my;
        }
        dh__free(rel);
        dh__free(lr);
        dh__free(cnt);
    }
    dh__eval_data_free(&d);
    if (st == DH_E_SHAPE)
        return dh__set_error(st, "%s: total_hist/before_hist do not contain this part's "
                             "items (sum the histograms of every part)", fn);
    return st == DH_OK ? DH_OK : dh__set_error(st, "%s: out of memory", fn);
}

/* Database size of the summed histograms: the same for every query. */
static dh_status parts_total(const char *fn, const uint32_t *hist, size_t nq, size_t kb,
                             uint64_t *n_db)
{
    for (size_t q = 0; q < nq; q++) {
        uint64_t n = 0;
        for (size_t h = 0; h < kb; h++) {
            n += hist[q * 2 * kb + h];
            if (hist[q * 2 * kb + kb + h] > hist[q * 2 * kb + h])
                return dh__set_error(DH_E_INVALID_ARG, "%s: total_hist query %zu distance %zu "
                                     "has more relevant items than items", fn, q, h);
        }
        if (q == 0) *n_db = n;
        else if (n != *n_db)
            return dh__set_error(DH_E_INVALID_ARG, "%s: total_hist counts %llu items for "
                                 "query %zu but %llu for query 0", fn, (unsigned long long)n,
                                 q, (unsigned long long)*n_db);
    }
    if (*n_db < 1 || *n_db > UINT32_MAX)
        return dh__set_error(DH_E_INVALID_ARG, "%s: the database has %llu items; it must "
                             "have 1..4294967295", fn, (unsigned long long)*n_db);
    return DH_OK;
}

dh_status dh_eval_from_parts(const dh_eval_options *opts, const void *query_labels,
                             size_t n_queries, const uint32_t *total_hist, const double *sums,
                             const uint64_t *ns, size_t n_ns, double *out_map, double *out_ap,
                             double *out_p_at_n, double *out_r_at_n, double *out_pr_precision,
                             double *out_pr_recall, double *out_ball_precision,
                             double *out_ball_recall, double *out_ball_empty)
{
    const char *fn = "dh_eval_from_parts";
    dh_eval_options o;
    DH_TRY(dh__eval_read_options(fn, opts, &o));
    int want_n = out_p_at_n || out_r_at_n;
    dh__eval_request rq = {
        .want_map = out_map || out_ap,
        .ns = want_n ? ns : NULL,
        .n_ns = want_n ? n_ns : 0,
        .want_pr = out_pr_precision || out_pr_recall,
        .want_ball = out_ball_precision || out_ball_recall || out_ball_empty,
        .topk = o.topk, .radius = o.radius, .ties = o.ties, .no_relevant = o.no_relevant,
        .progress = o.progress, .progress_user = o.progress_user,
        .n_threads = threads_of(&o), .part_hist = total_hist, .part_sums = sums,
    };
    DH_CHECK_ARG_MSG(rq.want_map || want_n || rq.want_pr || rq.want_ball,
                     "%s: every output is NULL", fn);
    DH_CHECK_ARG_MSG(!want_n || (n_ns >= 1 && ns != NULL), "%s: P@N outputs need ns and n_ns",
                     fn);
    DH_CHECK_ARG_MSG(total_hist != NULL && n_queries >= 1, "%s: %s", fn,
                     total_hist ? "n_queries is 0" : "total_hist is NULL");
    DH_CHECK_ARG_MSG(sums || o.ties == DH_TIES_EXPECTED || !(rq.want_map || want_n),
                     "%s: sums is NULL (needed for mAP and P@N under DH_TIES_INDEX_ORDER)", fn);
    const size_t kb = (size_t)o.n_bits + 1;
    uint64_t n_db = 0;
    DH_TRY(parts_total(fn, total_hist, n_queries, kb, &n_db));
    DH_CHECK_ARG_MSG(!rq.want_map || o.topk <= n_db, "%s: opts->topk = %llu exceeds n_db = %llu",
                     fn, (unsigned long long)o.topk, (unsigned long long)n_db);
    DH_CHECK_ARG_MSG(!rq.want_ball || o.radius <= o.n_bits,
                     "%s: opts->radius = %u exceeds n_bits = %u", fn, o.radius, o.n_bits);
    for (size_t i = 0; i < rq.n_ns; i++)
        DH_CHECK_ARG_MSG(ns[i] >= 1 && ns[i] <= n_db, "%s: ns[%zu] = %llu is outside 1..n_db "
                         "(%llu)", fn, i, (unsigned long long)ns[i], (unsigned long long)n_db);
    dh__eval_data d;
    dh_status st = dh__eval_query_labels_init(&d, &o, query_labels, n_queries);
    if (st != DH_OK) {
        dh__error_prefix("%s", fn);
        return st;
    }
    d.n_db = (size_t)n_db;
    dh__eval_result res = {.ap = out_ap, .p_at_n = out_p_at_n, .r_at_n = out_r_at_n,
                           .pr_precision = out_pr_precision, .pr_recall = out_pr_recall};
    st = dh__eval_run(&d, &rq, &res);
    dh__eval_data_free(&d);
    if (st != DH_OK) return st;
    if (out_map) *out_map = res.map;
    if (out_ball_precision) *out_ball_precision = res.ball_precision;
    if (out_ball_recall) *out_ball_recall = res.ball_recall;
    if (out_ball_empty) *out_ball_empty = res.ball_empty;
    return DH_OK;
}
