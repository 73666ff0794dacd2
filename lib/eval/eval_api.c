/* lib/eval/eval_api.c -- public dh_eval_* functions: options, argument checks and the
 * common path (inputs built by data.c, scanned by engine.c). */
#include "eval/eval.h"

#include <string.h>

#define MAX_CLASSES 65536u

void dh_eval_options_init(dh_eval_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    opts->ties = DH_TIES_INDEX_ORDER;
    opts->topk = 0;
    opts->no_relevant = DH_NO_RELEVANT_ZERO;
    opts->radius = 2;
    opts->label_type = DH_LABELS_CLASS_I32;
}

dh_status dh__eval_read_options(const char *fn, const dh_eval_options *opts,
                                dh_eval_options *o)
{
    DH_CHECK_ARG_MSG(opts != NULL,
                     "%s: opts is NULL (fill it with dh_eval_options_init and set n_bits)", fn);
    dh_eval_options_init(o);
    dh_status st = dh__options_copy(o, sizeof *o, opts, "dh_eval_options");
    if (st != DH_OK) {
        dh__error_prefix("%s", fn);
        return st;
    }
    DH_TRY(dh__check_bits(o->n_bits, fn)); /* any K in 1..DH_MAX_BITS */
    DH_CHECK_ARG_MSG(o->ties == DH_TIES_INDEX_ORDER || o->ties == DH_TIES_EXPECTED,
                     "%s: opts->ties = %d is not a DH_TIES_* value", fn, o->ties);
    DH_CHECK_ARG_MSG(o->no_relevant >= DH_NO_RELEVANT_ZERO &&
                         o->no_relevant <= DH_NO_RELEVANT_SKIP_UNLABELED,
                     "%s: opts->no_relevant = %d is not a DH_NO_RELEVANT_* value", fn,
                     o->no_relevant);
    DH_CHECK_ARG_MSG(o->label_type >= DH_LABELS_CLASS_I32 &&
                         o->label_type <= DH_LABELS_MULTIHOT_F32,
                     "%s: opts->label_type = %d is not a DH_LABELS_* value", fn, o->label_type);
    DH_CHECK_ARG_MSG(o->label_type == DH_LABELS_CLASS_I32 ||
                         (o->n_classes >= 1 && o->n_classes <= MAX_CLASSES),
                     "%s: opts->n_classes = %u; multi-hot labels need 1..%u columns", fn,
                     o->n_classes, MAX_CLASSES);
    DH_CHECK_ARG_MSG(o->reserved0 == 0, "%s: opts->reserved0 must be 0", fn);
    return DH_OK;
}

/* The common path of every public function. `rq` arrives with the metric choice. */
static dh_status evaluate(const char *fn, const dh_eval_options *opts, const uint8_t *qc,
                          const void *ql, size_t nq, const uint8_t *dc, const void *dl,
                          size_t nd, dh__eval_request *rq, dh__eval_result *res)
{
    dh_eval_options o;
    DH_TRY(dh__eval_read_options(fn, opts, &o));
    if (rq->want_map)
        DH_CHECK_ARG_MSG(o.topk <= nd, "%s: opts->topk = %llu exceeds n_db = %zu", fn,
                         (unsigned long long)o.topk, nd);
    if (rq->want_ball)
        DH_CHECK_ARG_MSG(o.radius <= o.n_bits, "%s: opts->radius = %u exceeds n_bits = %u",
                         fn, o.radius, o.n_bits);
    DH_CHECK_ARG_MSG(rq->n_ns == 0 || rq->ns != NULL, "%s: ns is NULL", fn);
    for (size_t i = 0; i < rq->n_ns; i++)
        DH_CHECK_ARG_MSG(rq->ns[i] >= 1 && rq->ns[i] <= nd,
                         "%s: ns[%zu] = %llu is outside 1..n_db (%zu)", fn, i,
                         (unsigned long long)rq->ns[i], nd);
    rq->topk = o.topk;
    rq->radius = o.radius;
    rq->ties = o.ties;
    rq->no_relevant = o.no_relevant;
    rq->progress = o.progress;
    rq->progress_user = o.progress_user;
    rq->n_threads = o.n_threads ? (int)(o.n_threads > 4096 ? 4096 : o.n_threads)
                                : dh__num_threads();
    dh__eval_data d;
    dh_status st = dh__eval_data_init(&d, &o, qc, ql, nq, dc, dl, nd);
    if (st != DH_OK) {
        dh__error_prefix("%s", fn);
        return st;
    }
    st = dh__eval_run(&d, rq, res);
    dh__eval_data_free(&d);
    return st;
}

dh_status dh_eval_map(const dh_eval_options *opts, const uint8_t *query_codes,
                      const void *query_labels, size_t n_queries, const uint8_t *db_codes,
                      const void *db_labels, size_t n_db, double *out_map, double *out_ap)
{
    DH_CHECK_ARG_MSG(out_map != NULL, "dh_eval_map: out_map is NULL");
    dh__eval_request rq = {.want_map = 1};
    dh__eval_result res = {.ap = out_ap};
    DH_TRY(evaluate("dh_eval_map", opts, query_codes, query_labels, n_queries, db_codes,
                    db_labels, n_db, &rq, &res));
    *out_map = res.map;
    return DH_OK;
}

dh_status dh_eval_precision_at_n(const dh_eval_options *opts, const uint8_t *query_codes,
                                 const void *query_labels, size_t n_queries,
                                 const uint8_t *db_codes, const void *db_labels, size_t n_db,
                                 const uint64_t *ns, size_t n_ns, double *out_precision,
                                 double *out_recall)
{
    DH_CHECK_ARG_MSG(n_ns >= 1, "dh_eval_precision_at_n: n_ns is 0");
    DH_CHECK_ARG_MSG(out_precision || out_recall,
                     "dh_eval_precision_at_n: out_precision and out_recall are both NULL");
    dh__eval_request rq = {.ns = ns, .n_ns = n_ns};
    dh__eval_result res = {.p_at_n = out_precision, .r_at_n = out_recall};
    return evaluate("dh_eval_precision_at_n", opts, query_codes, query_labels, n_queries,
                    db_codes, db_labels, n_db, &rq, &res);
}

dh_status dh_eval_pr_curve(const dh_eval_options *opts, const uint8_t *query_codes,
                           const void *query_labels, size_t n_queries, const uint8_t *db_codes,
                           const void *db_labels, size_t n_db, double *out_precision,
                           double *out_recall)
{
    DH_CHECK_ARG_MSG(out_precision || out_recall,
                     "dh_eval_pr_curve: out_precision and out_recall are both NULL");
    dh__eval_request rq = {.want_pr = 1};
    dh__eval_result res = {.pr_precision = out_precision, .pr_recall = out_recall};
    return evaluate("dh_eval_pr_curve", opts, query_codes, query_labels, n_queries, db_codes,
                    db_labels, n_db, &rq, &res);
}

dh_status dh_eval_hamming_ball(const dh_eval_options *opts, const uint8_t *query_codes,
                               const void *query_labels, size_t n_queries,
                               const uint8_t *db_codes, const void *db_labels, size_t n_db,
                               double *out_precision, double *out_recall,
                               double *out_empty_fraction)
{
    DH_CHECK_ARG_MSG(out_precision || out_recall || out_empty_fraction,
                     "dh_eval_hamming_ball: every output is NULL");
    dh__eval_request rq = {.want_ball = 1};
    dh__eval_result res = {0};
    DH_TRY(evaluate("dh_eval_hamming_ball", opts, query_codes, query_labels, n_queries,
                    db_codes, db_labels, n_db, &rq, &res));
    if (out_precision) *out_precision = res.ball_precision;
    if (out_recall) *out_recall = res.ball_recall;
    if (out_empty_fraction) *out_empty_fraction = res.ball_empty;
    return DH_OK;
}

dh_status dh_eval_all(const dh_eval_options *opts, const uint8_t *query_codes,
                      const void *query_labels, size_t n_queries, const uint8_t *db_codes,
                      const void *db_labels, size_t n_db, const uint64_t *ns, size_t n_ns,
                      double *out_map, double *out_ap, double *out_p_at_n, double *out_r_at_n,
                      double *out_pr_precision, double *out_pr_recall,
                      double *out_ball_precision, double *out_ball_recall,
                      double *out_ball_empty)
{
    int want_n = out_p_at_n || out_r_at_n;
    DH_CHECK_ARG_MSG(out_map || out_ap || want_n || out_pr_precision || out_pr_recall ||
                         out_ball_precision || out_ball_recall || out_ball_empty,
                     "dh_eval_all: every output is NULL");
    DH_CHECK_ARG_MSG(!want_n || n_ns >= 1,
                     "dh_eval_all: out_p_at_n/out_r_at_n given but n_ns is 0");
    dh__eval_request rq = {
        .want_map = out_map || out_ap,
        .ns = want_n ? ns : NULL,
        .n_ns = want_n ? n_ns : 0,
        .want_pr = out_pr_precision || out_pr_recall,
        .want_ball = out_ball_precision || out_ball_recall || out_ball_empty,
    };
    dh__eval_result res = {.ap = out_ap,
                           .p_at_n = out_p_at_n,
                           .r_at_n = out_r_at_n,
                           .pr_precision = out_pr_precision,
                           .pr_recall = out_pr_recall};
    DH_TRY(evaluate("dh_eval_all", opts, query_codes, query_labels, n_queries, db_codes,
                    db_labels, n_db, &rq, &res));
    if (out_map) *out_map = res.map;
    if (out_ball_precision) *out_ball_precision = res.ball_precision;
    if (out_ball_recall) *out_ball_recall = res.ball_recall;
    if (out_ball_empty) *out_ball_empty = res.ball_empty;
    return DH_OK;
}
