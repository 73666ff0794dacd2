/* lib/dist/dist_eval.c -- evaluation over a database in parts, one part per process in
 * rank order: per-query Hamming histograms summed (MPI_Allreduce) and prefixed
 * (MPI_Exscan), rank sums of database-order ties summed, then dh_eval_from_parts on
 * every process (dh.h, "Evaluation over a database held in parts"). */
#include "dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct eval_args {
    const dh_eval_options *opts;
    const uint8_t *qc;
    const void *ql;
    size_t nq;
    const uint8_t *dc;
    const void *dl;
    size_t n_db;
    const uint64_t *ns;
    size_t n_ns;
    int need_sums;
} eval_args;

/* Histograms of this part, their total and the prefix of lower ranks. */
static dh_status histograms(MPI_Comm comm, const eval_args *a, size_t cells, uint32_t *hist,
                            uint32_t *total, uint32_t *before)
{
    dh_status st = dh_eval_part_histograms(a->opts, a->qc, a->ql, a->nq, a->dc, a->dl, a->n_db,
                                           hist);
    DH_TRY_DIST(dh__dist_agree(comm, st));
    DH__MPI(MPI_Allreduce(hist, total, (int)cells, MPI_UINT32_T, MPI_SUM, comm));
    if (before) DH__MPI(MPI_Exscan(hist, before, (int)cells, MPI_UINT32_T, MPI_SUM, comm));
    return DH_OK;
}

static dh_status run(MPI_Comm comm, const eval_args *a, double **outs)
{
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    const size_t kb = (size_t)a->opts->n_bits + 1, cells = a->nq * 2 * kb;
    const size_t n_sums = a->nq * (a->n_ns + 2);
    uint32_t *hist = malloc(cells * sizeof *hist), *total = malloc(cells * sizeof *total);
    uint32_t *before = a->need_sums ? malloc(cells * sizeof *before) : NULL;
    double *sums = a->need_sums ? malloc(n_sums * sizeof *sums) : NULL;
    double *sum_all = a->need_sums ? malloc(n_sums * sizeof *sum_all) : NULL;
    dh_status st = !hist || !total || (a->need_sums && (!before || !sums || !sum_all))
                       ? dh__dist_error(DH_E_NO_MEMORY, "dh_dist_eval: out of memory for "
                                        "%zu x %zu histograms", a->nq, 2 * kb)
                       : DH_OK;
    st = dh__dist_agree(comm, st);
    if (st == DH_OK) st = histograms(comm, a, cells, hist, total, before);
    if (st == DH_OK && a->need_sums) {
        st = dh_eval_part_sums(a->opts, a->qc, a->ql, a->nq, a->dc, a->dl, a->n_db, total,
                               rank == 0 ? NULL : before, a->ns, a->n_ns, sums);
        st = dh__dist_agree(comm, st);
        if (st == DH_OK &&
            MPI_Allreduce(sums, sum_all, (int)n_sums, MPI_DOUBLE, MPI_SUM, comm) != MPI_SUCCESS)
            st = dh__dist_error(DH_E_BACKEND, "dh_dist_eval: MPI_Allreduce of the sums failed");
    }
    if (st == DH_OK)
        st = dh_eval_from_parts(a->opts, a->ql, a->nq, total, sum_all, a->ns, a->n_ns, outs[0],
                                outs[1], outs[2], outs[3], outs[4], outs[5], outs[6], outs[7],
                                outs[8]);
    free(hist), free(total), free(before), free(sums), free(sum_all);
    return dh__dist_agree(comm, st); /* from_parts runs everywhere on the same totals */
}

dh_status dh_dist_eval(MPI_Comm comm, const dh_eval_options *opts, const uint8_t *query_codes,
                       const void *query_labels, size_t n_queries, const uint8_t *db_codes,
                       const void *db_labels, size_t n_db, const uint64_t *ns, size_t n_ns,
                       double *out_map, double *out_ap, double *out_p_at_n, double *out_r_at_n,
                       double *out_pr_precision, double *out_pr_recall,
                       double *out_ball_precision, double *out_ball_recall,
                       double *out_ball_empty)
{
    MPI_Comm c;
    DH_TRY_DIST(dh__dist_dup(comm, &c));
    dh_status st = DH_OK;
    if (!opts || opts->n_bits < 8 || opts->n_bits > 4096)
        st = dh__dist_error(DH_E_INVALID_ARG, "dh_dist_eval: opts is NULL or n_bits unset");
    int want_n = out_p_at_n || out_r_at_n;
    eval_args a = {opts, query_codes, query_labels, n_queries, db_codes, db_labels, n_db,
                   want_n ? ns : NULL, want_n ? n_ns : 0, 0};
    if (st == DH_OK) {
        a.need_sums = opts->ties != DH_TIES_EXPECTED && (out_map || out_ap || want_n);
        size_t kb = (size_t)opts->n_bits + 1;
        if (n_queries == 0 || n_queries > (size_t)INT_MAX / (2 * kb) ||
            n_queries > (size_t)INT_MAX / (a.n_ns + 2))
            st = dh__dist_error(DH_E_INVALID_ARG, "dh_dist_eval: n_queries %zu is 0 or too "
                                "large for one reduction", n_queries);
    }
    st = dh__dist_agree(c, st);
    double *outs[9] = {out_map, out_ap, out_p_at_n, out_r_at_n, out_pr_precision,
                       out_pr_recall, out_ball_precision, out_ball_recall, out_ball_empty};
    if (st == DH_OK) st = run(c, &a, outs);
    MPI_Comm_free(&c);
    return st;
}
