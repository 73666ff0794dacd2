/* src/cmd_eval.c -- `dh eval`: retrieval metrics from query/database codes and labels
 * stored as .npy files (mAP, P@N / R@N, PR curve by Hamming radius, P@H<=r). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chart.h"
#include "pictures.h"
#include "cli.h"
#include "cli_mpi.h"
#include "cmd_eval.h"

static const char *CMD = "eval";

/* ---- loading ---------------------------------------------------------------- */

typedef struct side {
    dh_array *codes, *labels;
    uint8_t *packed;  /* owned when the codes were sign rows */
    void *conv;       /* owned converted labels */
    size_t n;
    uint32_t n_bits;
    int32_t label_type;
    uint32_t n_classes;
} side;

static int load(const char *flag, const char *path, dh_array **out)
{
    dh_status st = dh_npy_load(path, out);
    if (st == DH_OK) return 0;
    fprintf(stderr, "dh eval: %s %s: %s (%s)\n", flag, path, dh_last_error(), dh_status_str(st));
    return st == DH_E_NOT_FOUND || st == DH_E_IO ? DH_EXIT_IO : DH_EXIT_FAIL;
}

static int bad_file(const char *flag, const char *path, const char *what)
{
    fprintf(stderr, "dh eval: %s %s: %s\n", flag, path, what);
    return DH_EXIT_FAIL;
}

/* Codes: packed uint8 as they are (K = s->n_bits if set, else 8 x columns; padding
 * bits must be zero, as in every code file libdh reads), sign rows packed by the library. */
static int prepare_codes(const char *flag, const char *path, side *s)
{
    const uint32_t want = s->n_bits;
    int rc = load(flag, path, &s->codes);
    if (rc) return rc;
    const dh_array *c = s->codes;
    int32_t t = dh_array_dtype(c);
    const int64_t min_n = dh_cli_mpi_active() && !strcmp(flag, "--db-codes") ? 0 : 1; /* parts may be empty */
    if (dh_array_ndim(c) != 2 || dh_array_dim(c, 0) < min_n || dh_array_dim(c, 1) < 1)
        return bad_file(flag, path, "expected a 2-D array [n, ceil(K/8)] or [n, K] with n, K >= 1");
    s->n = (size_t)dh_array_dim(c, 0);
    int64_t cols = dh_array_dim(c, 1);
    if (t == DH_DTYPE_UINT8) {
        s->n_bits = want ? want : (uint32_t)(cols * 8 > 65536 ? 65536 : cols * 8);
        if (want && (uint64_t)cols != dh_code_bytes(want))
            return bad_file(flag, path, "packed rows do not have ceil(K/8) bytes for --bits K");
        const uint8_t *b = dh_array_data(c), pad = (uint8_t)(0xFFu << (s->n_bits % 8));
        for (size_t i = 0; s->n_bits % 8 && i < s->n; i++)
            if (b[i * (size_t)cols + (size_t)cols - 1] & pad)
                return bad_file(flag, path, "a row sets padding bits beyond K (is --bits right?)");
        return 0;
    }
    if (want && (uint64_t)cols != want)
        return bad_file(flag, path, "sign rows do not have K = --bits columns");
    if (t != DH_DTYPE_FLOAT32 && t != DH_DTYPE_FLOAT64 && t != DH_DTYPE_INT8)
        return bad_file(flag, path, "codes must be uint8 (packed) or float32/float64/int8 signs");
    s->n_bits = (uint32_t)(cols > 65536 ? 65536 : cols);
    s->packed = malloc(s->n * dh_code_bytes(s->n_bits));
    if (!s->packed) return bad_file(flag, path, "out of memory");
    const void *x = dh_array_data(c);
    dh_status st = t == DH_DTYPE_FLOAT32   ? dh_codes_pack_float(x, s->n, s->n_bits, 0, s->packed)
                   : t == DH_DTYPE_FLOAT64 ? dh_codes_pack_double(x, s->n, s->n_bits, 0, s->packed)
                                           : dh_codes_pack_int8(x, s->n, s->n_bits, 0, s->packed);
    return st == DH_OK ? 0 : bad_file(flag, path, dh_last_error());
}

static const uint8_t *codes_of(const side *s)
{
    return s->packed ? s->packed : dh_array_data(s->codes);
}

/* Labels: 1-D ids -> int32; 2-D -> uint8 multi-hot (nonzero) or float32 (> 0). */
static int prepare_labels(const char *flag, const char *path, side *s)
{
    int rc = load(flag, path, &s->labels);
    if (rc) return rc;
    const dh_array *l = s->labels;
    int32_t t = dh_array_dtype(l);
    uint32_t nd = dh_array_ndim(l);
    size_t n = nd >= 1 ? (size_t)dh_array_dim(l, 0) : 0, cnt = dh_array_count(l);
    const void *x = dh_array_data(l);
    if (nd != 1 && nd != 2) return bad_file(flag, path, "labels must be 1-D ids or 2-D rows");
    if (n != s->n) {
        fprintf(stderr, "dh eval: %s %s: %zu labels for %zu codes\n", flag, path, n, s->n);
        return DH_EXIT_FAIL;
    }
    s->label_type = nd == 1 ? DH_LABELS_CLASS_I32
                    : (t == DH_DTYPE_FLOAT32 || t == DH_DTYPE_FLOAT64) ? DH_LABELS_MULTIHOT_F32
                                                                       : DH_LABELS_MULTIHOT_U8;
    s->n_classes = nd == 2 ? (uint32_t)dh_array_dim(l, 1) : 0;
    if (nd == 1 && t != DH_DTYPE_INT32 && t != DH_DTYPE_INT64)
        return bad_file(flag, path, "1-D labels must be int32 or int64 class ids");
    if ((nd == 1 && t == DH_DTYPE_INT32) || (nd == 2 && (t == DH_DTYPE_UINT8 ||
                                                         t == DH_DTYPE_FLOAT32)))
        return 0; /* usable as they are */
    size_t esz = s->label_type == DH_LABELS_MULTIHOT_U8 ? 1 : 4;
    s->conv = malloc(cnt * esz + 1);
    if (!s->conv) return bad_file(flag, path, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        if (s->label_type == DH_LABELS_MULTIHOT_F32) {
            ((float *)s->conv)[i] = (float)((const double *)x)[i];
            continue;
        }
        int64_t v = t == DH_DTYPE_INT64 ? ((const int64_t *)x)[i]
                    : t == DH_DTYPE_INT32 ? ((const int32_t *)x)[i]
                                          : ((const int8_t *)x)[i];
        if (nd == 1 && (v > INT32_MAX || v < INT32_MIN)) {
            fprintf(stderr, "dh eval: %s %s: label %zu = %lld does not fit int32\n", flag, path,
                    i, (long long)v);
            return DH_EXIT_FAIL;
        }
        if (nd == 1) ((int32_t *)s->conv)[i] = (int32_t)v;
        else ((uint8_t *)s->conv)[i] = v != 0;
    }
    return 0;
}

static const void *labels_of(const side *s)
{
    return s->conv ? s->conv : dh_array_data(s->labels);
}

static void side_free(side *s)
{
    dh_array_free(s->codes);
    dh_array_free(s->labels);
    free(s->packed);
    free(s->conv);
}

/* ---- output ------------------------------------------------------------------ */

typedef struct results {
    double map, ball_p, ball_r, ball_e;
    double p[64], r[64];
    double *prp, *prr; /* [K + 1] */
} results;

static const char *TIES_NAME[] = {"index", "expected"};
static const char *NOREL_NAME[] = {"zero", "skip", "skip-unlabeled"};

static void print_json_array(FILE *fp, const double *v, size_t n)
{
    fputc('[', fp);
    for (size_t i = 0; i < n; i++) fprintf(fp, "%s%.17g", i ? ", " : "", v[i]);
    fputc(']', fp);
}

static void print_json(const eval_args *a, const side *q, const side *d, uint64_t topk,
                       const results *r)
{
    FILE *fp = dh_cli_report();
    fprintf(fp, "{\"n_queries\": %zu, \"n_db\": %zu, \"n_bits\": %u, \"ties\": \"%s\", "
           "\"no_relevant\": \"%s\", \"topk\": %llu, \"map\": %.17g,\n",
           q->n, d->n, q->n_bits, TIES_NAME[a->ties], NOREL_NAME[a->no_relevant],
           (unsigned long long)topk, r->map);
    fprintf(fp, " \"precision_at_n\": {");
    for (size_t i = 0; i < a->n_at; i++)
        fprintf(fp, "%s\"%llu\": %.17g", i ? ", " : "", (unsigned long long)a->at[i], r->p[i]);
    fprintf(fp, "},\n \"recall_at_n\": {");
    for (size_t i = 0; i < a->n_at; i++)
        fprintf(fp, "%s\"%llu\": %.17g", i ? ", " : "", (unsigned long long)a->at[i], r->r[i]);
    fprintf(fp, "},\n \"radius\": %u, \"ball_precision\": %.17g, \"ball_recall\": %.17g, "
           "\"ball_empty_fraction\": %.17g,\n \"pr_precision\": ",
           a->radius, r->ball_p, r->ball_r, r->ball_e);
    print_json_array(fp, r->prp, q->n_bits + 1);
    fprintf(fp, ",\n \"pr_recall\": ");
    print_json_array(fp, r->prr, q->n_bits + 1);
    fprintf(fp, "}\n");
}

static void print_text(const eval_args *a, const side *q, const side *d, uint64_t topk,
                       const results *r)
{
    FILE *fp = dh_cli_report();
    fprintf(fp, "queries %zu  database %zu  bits %u  labels %s  ties %s  no-relevant %s\n", q->n,
           d->n, q->n_bits, q->label_type == DH_LABELS_CLASS_I32 ? "class-ids" : "multi-hot",
           TIES_NAME[a->ties], NOREL_NAME[a->no_relevant]);
    if (topk == d->n) fprintf(fp, "mAP@all        %.6f\n", r->map);
    else fprintf(fp, "mAP@%-10llu %.6f\n", (unsigned long long)topk, r->map);
    for (size_t i = 0; i < a->n_at; i++)
        fprintf(fp, "P@%-12llu %.6f   R@%llu %.6f\n", (unsigned long long)a->at[i], r->p[i],
               (unsigned long long)a->at[i], r->r[i]);
    fprintf(fp, "P@H<=%-9u %.6f   R@H<=%u %.6f   empty balls %.2f%%\n", a->radius, r->ball_p,
           a->radius, r->ball_r, 100.0 * r->ball_e);
}

static int write_csv(const char *path, const results *r, uint32_t n_bits)
{
    FILE *fp = fopen(path, "w");
    if (!fp) {
        fprintf(stderr, "dh eval: --pr-csv %s: %s\n", path, strerror(errno));
        return DH_EXIT_IO;
    }
    fprintf(fp, "radius,precision,recall\n");
    for (uint32_t h = 0; h <= n_bits; h++) fprintf(fp, "%u,%.17g,%.17g\n", h, r->prp[h], r->prr[h]);
    if (fclose(fp) != 0) {
        fprintf(stderr, "dh eval: --pr-csv %s: %s\n", path, strerror(errno));
        return DH_EXIT_IO;
    }
    return 0;
}

static int write_png(const char *path, const results *r, uint32_t n_bits)
{
    dh_chart_series s = {r->prr, r->prp, (size_t)n_bits + 1, "by Hamming radius"};
    if (dh_chart_png(path, "precision-recall", "recall", "precision", &s, 1) != 0) {
        fprintf(stderr, "dh eval: --pr-png %s: could not write the chart\n", path);
        return DH_EXIT_IO;
    }
    return 0;
}

/* PR by rank as DeepHash-pytorch writes it (pr_curve -> {"index", "P", "R"}). */
static int write_pr_rank(const eval_args *a, const dh_eval_options *o, const side *q,
                         const side *d)
{
    static const uint64_t deephash[] = {1, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500,
                                        5000, 5500, 6000, 6500, 7000, 7500, 8000, 8500, 9000,
                                        9500, 10000};
    uint64_t ns[256];
    size_t n = 0;
    const uint64_t *src = a->n_rank_at ? a->rank_at : deephash;
    size_t n_src = a->n_rank_at ? a->n_rank_at : sizeof deephash / sizeof deephash[0];
    for (size_t i = 0; i < n_src; i++) /* capped at the database, as a ranking can't go further */
        if (src[i] <= d->n && (n == 0 || src[i] != ns[n - 1])) ns[n++] = src[i];
    if (!n) ns[n++] = d->n;
    double P[256], R[256];
    dh_status st = dh_eval_precision_at_n(o, codes_of(q), labels_of(q), q->n, codes_of(d),
                                          labels_of(d), d->n, ns, n, P, R);
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    FILE *fp = fopen(a->pr_rank_json, "w");
    if (!fp) {
        fprintf(stderr, "dh eval: --pr-rank-json %s: %s\n", a->pr_rank_json, strerror(errno));
        return DH_EXIT_IO;
    }
    fprintf(fp, "{\"index\": [");
    for (size_t i = 0; i < n; i++) fprintf(fp, "%s%llu", i ? ", " : "", (unsigned long long)ns[i]);
    fprintf(fp, "], \"P\": ");
    print_json_array(fp, P, n);
    fprintf(fp, ", \"R\": ");
    print_json_array(fp, R, n);
    fprintf(fp, "}\n");
    return fclose(fp) ? DH_EXIT_IO : 0;
}

/* A 2-D map (t-SNE or PCA) of the first queries' codes, coloured by their first label. */
static int write_map(const char *path, int pca, const eval_args *a, const side *q)
{
    size_t n = q->n < (a->map_points ? a->map_points : 1000) ? q->n
                                                              : (a->map_points ? a->map_points : 1000);
    int32_t *cls = malloc((n + 1) * sizeof(int32_t));
    if (!cls) return DH_EXIT_FAIL;
    const void *lab = labels_of(q);
    for (size_t i = 0; i < n; i++) {
        cls[i] = -1;
        if (q->label_type == DH_LABELS_CLASS_I32) cls[i] = ((const int32_t *)lab)[i];
        else
            for (uint32_t c = 0; c < q->n_classes && cls[i] < 0; c++) {
                size_t at = i * q->n_classes + c;
                int on = q->label_type == DH_LABELS_MULTIHOT_F32 ? ((const float *)lab)[at] > 0
                                                                  : ((const uint8_t *)lab)[at] != 0;
                if (on) cls[i] = (int32_t)c;
            }
    }
    uint32_t n_names = 0, n_cls = q->n_classes;
    const char *const *names = dh_pic_class_names(a->data, &n_names);
    if (n_cls == 0)
        for (size_t i = 0; i < n; i++)
            if (cls[i] >= 0 && (uint32_t)cls[i] + 1 > n_cls) n_cls = (uint32_t)cls[i] + 1;
    char title[160];
    snprintf(title, sizeof title, "%s of %zu query codes (%u bits)", pca ? "PCA" : "t-SNE", n,
             q->n_bits);
    int rc = dh_pic_code_map(path, title, codes_of(q), n, q->n_bits, cls,
                             n_names >= n_cls ? names : NULL, n_cls, pca, a->seed,
                             isatty(fileno(stderr)) && dh_cli_verbosity() > 0);
    free(cls);
    return rc ? DH_EXIT_IO : 0;
}

/* ---- the command -------------------------------------------------------------- */

static int32_t show_progress(double f, void *user)
{
    dh_cli_progress *p = user;
    dh_cli_progress_update(p, (size_t)(f * (double)p->total + 0.5));
    return 0;
}

/* Multi-hot rows given as uint8 on one side and float on the other: both as uint8. */
static int unify_multihot(side *s)
{
    const float *x = labels_of(s);
    size_t cnt = s->n * s->n_classes;
    uint8_t *u = malloc(cnt + 1);
    if (!u) return DH_EXIT_FAIL;
    for (size_t i = 0; i < cnt; i++) u[i] = x[i] > 0.0f;
    free(s->conv);
    s->conv = u;
    s->label_type = DH_LABELS_MULTIHOT_U8;
    return 0;
}

static int check_sides(side *q, side *d)
{
    if (q->label_type != d->label_type && q->label_type != DH_LABELS_CLASS_I32 &&
        d->label_type != DH_LABELS_CLASS_I32 && q->n_classes == d->n_classes &&
        unify_multihot(q->label_type == DH_LABELS_MULTIHOT_F32 ? q : d) != 0) {
        fprintf(stderr, "dh eval: out of memory\n");
        return DH_EXIT_FAIL;
    }
    if (q->n_bits != d->n_bits) {
        fprintf(stderr, "dh eval: query codes have %u bits, database codes %u\n", q->n_bits,
                d->n_bits);
        return DH_EXIT_FAIL;
    }
    if (q->label_type != d->label_type || q->n_classes != d->n_classes) {
        fprintf(stderr, "dh eval: query and database labels differ in form (%s%u vs %s%u)\n",
                q->label_type == DH_LABELS_CLASS_I32 ? "ids" : "multi-hot C=", q->n_classes,
                d->label_type == DH_LABELS_CLASS_I32 ? "ids" : "multi-hot C=", d->n_classes);
        return DH_EXIT_FAIL;
    }
    return 0;
}

/* Under mpirun: this rank's part of the database files (one per rank, "%d"). */
static int part_paths(eval_args *a, char bufs[2][4096])
{
    if (!dh_cli_mpi_active()) return 0;
    const char *dc = dh_cli_mpi_path(a->dc, bufs[0], sizeof bufs[0]);
    const char *dl = dh_cli_mpi_path(a->dl, bufs[1], sizeof bufs[1]);
    if (!dc || !dl)
        return dh_cli_usage_error(CMD, "under mpirun --db-codes and --db-labels must name "
                                  "each rank's part with one %%d (e.g. db-%%d.npy)");
    a->dc = dc, a->dl = dl;
    return 0;
}

static int run(eval_args *a, side *q, side *d)
{
    char bufs[2][4096];
    int rc = part_paths(a, bufs);
    q->n_bits = d->n_bits = a->bits; /* 0: from the files */
    if (!rc) rc = prepare_codes("--query-codes", a->qc, q);
    if (!rc) rc = prepare_codes("--db-codes", a->dc, d);
    if (!rc) rc = prepare_labels("--query-labels", a->ql, q);
    if (!rc) rc = prepare_labels("--db-labels", a->dl, d);
    if (!rc) rc = check_sides(q, d);
    if ((rc = dh_cli_mpi_agree(rc)) != 0) return rc; /* a rank that failed has said why */
    const size_t n_part = d->n;
    d->n = (size_t)dh_cli_mpi_sum(d->n); /* the whole database (all parts) */
    if (a->n_at == 0) { /* 100, 1000, capped at the database size */
        a->at[a->n_at++] = d->n < 100 ? d->n : 100;
        if (d->n > 100) a->at[a->n_at++] = d->n < 1000 ? d->n : 1000;
    }
    dh_eval_options o;
    dh_eval_options_init(&o);
    o.n_bits = q->n_bits;
    o.ties = a->ties;
    o.topk = a->topk;
    o.no_relevant = a->no_relevant;
    o.radius = a->radius;
    o.label_type = q->label_type;
    o.n_classes = q->n_classes;
    o.n_threads = a->threads;
    dh_cli_progress p;
    dh_cli_progress_start(&p, CMD, "queries", q->n);
    if (!dh_cli_mpi_active()) o.progress = show_progress, o.progress_user = &p;
    results r = {0};
    r.prp = calloc(2 * ((size_t)q->n_bits + 1), sizeof(double));
    if (!r.prp) return bad_file("--db-codes", a->dc, "out of memory");
    r.prr = r.prp + q->n_bits + 1;
    dh_status st = dh_cli_mpi_active()
                       ? dh_cli_mpi_eval(&o, codes_of(q), labels_of(q), q->n, codes_of(d),
                                         labels_of(d), n_part, a->at, a->n_at, &r.map, NULL,
                                         r.p, r.r, r.prp, r.prr, &r.ball_p, &r.ball_r, &r.ball_e)
                       : dh_eval_all(&o, codes_of(q), labels_of(q), q->n, codes_of(d),
                                     labels_of(d), d->n, a->at, a->n_at, &r.map, NULL, r.p, r.r,
                                     r.prp, r.prr, &r.ball_p, &r.ball_r, &r.ball_e);
    if (st != DH_OK) rc = dh_cli_mpi_active() ? dh_cli_mpi_fail(CMD, st) : dh_cli_fail(CMD, st);
    else if (a->json) print_json(a, q, d, a->topk ? a->topk : d->n, &r);
    else print_text(a, q, d, a->topk ? a->topk : d->n, &r);
    if (!rc && a->pr_csv && dh_cli_mpi_rank() == 0) rc = write_csv(a->pr_csv, &r, q->n_bits);
    if (!rc && a->pr_png && dh_cli_mpi_rank() == 0) rc = write_png(a->pr_png, &r, q->n_bits);
    if (!rc && a->pr_rank_json && !dh_cli_mpi_active()) rc = write_pr_rank(a, &o, q, d);
    if (!rc && a->tsne_png && dh_cli_mpi_rank() == 0) rc = write_map(a->tsne_png, 0, a, q);
    if (!rc && a->pca_png && dh_cli_mpi_rank() == 0) rc = write_map(a->pca_png, 1, a, q);
    if (!rc && dh_cli_mpi_rank() == 0)
        dh_cli_progress_done(&p, "%zu queries against %zu database codes (%u bits) in %.2f s",
                             q->n, d->n, q->n_bits, dh_cli_progress_elapsed(&p));
    free(r.prp);
    return rc;
}

int dh_cmd_eval(int argc, char **argv)
{
    eval_args a;
    int rc = dh__eval_parse_args(argc, argv, &a);
    if (rc) return rc == DH_CLI_HELP ? DH_EXIT_OK : rc;
#ifdef DH_NO_TRAINING
    if (a.model) return dh_cli_usage_error(CMD, "--model needs a libdh built with training");
#else
    char dir[64] = "", paths[4][128];
    if (a.model) {
        if (a.threads) dh_set_num_threads(a.threads);
        rc = dh_cli_eval_model_inputs(CMD, a.model, a.data, a.protocol, a.seed,
                                      dir, paths, &a.topk);
        a.qc = paths[0], a.dc = paths[1], a.ql = paths[2], a.dl = paths[3];
    }
#endif
    side q = {0}, d = {0};
    if (!rc) rc = run(&a, &q, &d);
    side_free(&q);
    side_free(&d);
#ifndef DH_NO_TRAINING
    dh_cli_eval_model_cleanup(dir, paths);
#endif
    return rc;
}
