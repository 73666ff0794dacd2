/* src/cmd_demo.c -- `dh demo`: the main job. Train smallcnn + a hash head on the
 * packaged Fashion-MNIST (fashion-mnist protocol) with GreedyHash by default, encode the 60,000-image
 * database into an index, evaluate the 10,000 test queries, print a table and
 * write a PR curve (PNG + CSV) and a retrieval grid (PNG). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "pictures.h"

static const char *CMD = "demo";
static volatile sig_atomic_t g_stop;

typedef struct demo_args {
    const char *out, *data, *method, *augment;
    uint32_t bits, epochs, batch, threads, seed;
    int quick;
    double lr;
} demo_args;

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: dh demo [--out DIR] [--quick] [options]\n"
            "  Train smallcnn + a K-bit GreedyHash head on Fashion-MNIST (1,000 training images per\n"
            "  class), index the 60,000 training images, query with the 10,000 test images,\n"
            "  print mAP@all, mAP@1000, P@100, P@H<=2 and speeds, and write pr_curve.png/.csv,\n"
            "  retrieval_grid.png, tsne.png, metrics.json, model.safetensors and database.dhi into DIR.\n"
            "options:\n"
            "  --out DIR        output folder (default dh-demo)\n"
            "  --data DIR       Fashion-MNIST IDX folder (default: the dataset-fashion-mnist\n"
            "                   package, /usr/share/datasets/fashion-mnist, or $DH_FASHION_MNIST_DIR)\n"
            "  --method NAME    loss (default greedyhash; 'dh train --list-methods' lists all)\n"
            "  --bits K         code length (default 64)\n"
            "  --epochs N       training epochs (default 12)\n"
            "  --augment LIST   crop,flip (default none: on this data set and schedule\n"
            "                   augmentation lowers mAP; see docs/results.md)\n"
            "  --batch-size B   (default 64)   --lr X  learning rate (default: the method's)\n"
            "  --seed S         split/shuffle seed (default 1)\n"
            "  --threads N      threads (default: all cores)\n"
            "  --quick          small run for tests: 2,000 training images, 2 epochs,\n"
            "                   1,000 queries against 10,000 database images\n");
}

static int parse(int argc, char **argv, demo_args *a)
{
    memset(a, 0, sizeof *a);
    a->out = "dh-demo";
    a->method = "greedyhash";
    a->bits = 64;
    a->seed = 1;
    const dh_cli_opt opts[] = {
        {"quick", 0, DH_CLI_SET, &a->quick, 0, 0},
        {"out", 0, DH_CLI_STR, &a->out, 0, 0},
        {"data", 0, DH_CLI_STR, &a->data, 0, 0},
        {"method", 0, DH_CLI_STR, &a->method, 0, 0},
        {"augment", 0, DH_CLI_STR, &a->augment, 0, 0},
        {"bits", 0, DH_CLI_U32, &a->bits, 1, DH_MAX_BITS},
        {"epochs", 0, DH_CLI_U32, &a->epochs, 1, 100000},
        {"batch-size", 0, DH_CLI_U32, &a->batch, 2, 65536},
        {"threads", 0, DH_CLI_U32, &a->threads, 1, 4096},
        {"seed", 0, DH_CLI_U32, &a->seed, 0, 0xFFFFFFFFu},
        {"lr", 0, DH_CLI_F64, &a->lr, 1e-9, 10}};
    const dh_cli_spec spec = {CMD, usage, opts, sizeof opts / sizeof opts[0], NULL};
    int rc = dh_cli_parse(&spec, argc, argv, a, NULL);
    if (rc) return rc;
    if (a->augment && strcmp(a->augment, "none") && strcmp(a->augment, "crop") &&
        strcmp(a->augment, "flip") && strcmp(a->augment, "crop,flip") &&
        strcmp(a->augment, "flip,crop"))
        return dh_cli_usage_error(CMD, "--augment: '%s' is not none, crop, flip or crop,flip",
                                  a->augment);
    if (!a->epochs) a->epochs = a->quick ? 2 : 12;
    return 0;
}

static void on_sigint(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int32_t on_progress(const dh_train_progress *p, void *user)
{
    (void)p;
    (void)user;
    return g_stop ? 1 : 0;
}

/* The protocol's three sets (smaller in --quick mode). */
typedef struct demo_data {
    dh_dataset *train, *query, *db;
} demo_data;

static dh_status take_first(dh_dataset **ds, size_t n)
{
    if (dh_dataset_count(*ds) <= n) return DH_OK;
    int64_t *idx = malloc(n * sizeof(int64_t));
    if (!idx) return DH_E_NO_MEMORY;
    size_t stride = dh_dataset_count(*ds) / n;
    for (size_t i = 0; i < n; i++) idx[i] = (int64_t)(i * stride);
    dh_dataset *sub = NULL;
    dh_status st = dh_dataset_subset(*ds, idx, n, &sub);
    free(idx);
    if (st == DH_OK) {
        dh_dataset_free(*ds);
        *ds = sub;
    }
    return st;
}

static dh_status load_data(const demo_args *a, demo_data *d)
{
    dh_dataset *tr = NULL, *te = NULL;
    dh_status st = dh_dataset_load_fashion_mnist(a->data, 0, &tr);
    if (st == DH_OK) st = dh_dataset_load_fashion_mnist(a->data, 1, &te);
    if (st == DH_OK) st = dh_protocol_split("fashion-mnist", tr, te, a->seed, &d->train, &d->query, &d->db);
    dh_dataset_free(tr);
    dh_dataset_free(te);
    if (st == DH_OK && a->quick) {
        st = take_first(&d->train, 2000);
        if (st == DH_OK) st = take_first(&d->query, 1000);
        if (st == DH_OK) st = take_first(&d->db, 10000);
    }
    return st;
}

typedef struct demo_result {
    double map_all, map_all_ties, map_1000, p_at_100, ball_p, ball_empty;
    double train_s, train_ips, encode_ips, search_qps;
    double *pr_p, *pr_r;
    int64_t *grid_ids;
    int32_t *grid_dist;
    const uint8_t *qc; /* query codes (borrowed) */
} demo_result;

static dh_status train(const demo_args *a, demo_data *d, dh_model **out_m, demo_result *res)
{
    dh_loss_options lo;
    dh_loss_options_init(&lo);
    lo.n_bits = a->bits;
    lo.n_classes = dh_dataset_n_classes(d->train);
    lo.n_train = dh_dataset_count(d->train);
    lo.seed = a->seed;
    dh_loss *loss = NULL;
    dh_model *m = NULL;
    dh_trainer *t = NULL;
    dh_status st = dh_loss_create(a->method, &lo, &loss);
    int32_t act = DH_LOSS_HEAD_TANH;
    if (st == DH_OK) st = dh_loss_head_hint(loss, &act, NULL);
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = "smallcnn";
    mo.n_bits = a->bits;
    mo.head = act; /* DH_LOSS_HEAD_* and DH_HEAD_* share their values */
    mo.mean[0] = 0.2860f; /* Fashion-MNIST pixel statistics */
    mo.std[0] = 0.3530f;
    mo.seed = a->seed;
    mo.batch_size = 256;
    if (st == DH_OK) st = dh_model_create(&mo, &m);
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    to.epochs = a->epochs;
    to.batch_size = a->batch ? a->batch : 64;
    to.optimizer = DH_OPTIM_ADAM; /* from scratch: Adam 1e-3, cosine to 1e-5 */
    to.lr = a->lr > 0 ? a->lr : 1e-3;
    to.weight_decay = 1e-5;
    to.seed = a->seed;
    to.augment = 0;
    to.crop_padding = 4;                  /* the demo's own recipe, not the table's: */
    to.lr_min_ratio = 0.01;               /* 4 px crops, cosine to lr/100, no decay on */
    to.decay_scope = DH_DECAY_WEIGHTS;    /* biases and norm layers (libdh 1.2's run) */
    if (a->augment && strstr(a->augment, "crop")) to.augment |= DH_AUG_RANDOM_CROP;
    if (a->augment && strstr(a->augment, "flip")) to.augment |= DH_AUG_FLIP;
    to.verbose = dh_cli_verbosity() > 0;
    to.callback = on_progress;
    if (st == DH_OK) st = dh_trainer_create(m, loss, d->train, &to, &t);
    double t0 = dh_cli_now();
    if (st == DH_OK) st = dh_trainer_run(t);
    res->train_s = dh_cli_now() - t0;
    res->train_ips = (double)dh_dataset_count(d->train) * a->epochs / res->train_s;
    dh_trainer_free(t);
    dh_loss_free(loss);
    if (st != DH_OK) {
        dh_model_free(m);
        m = NULL;
    }
    *out_m = m;
    return st;
}

/* Encode database + queries, index the database, search and evaluate. */
static dh_status evaluate(const demo_args *a, dh_model *m, demo_data *d, demo_result *res,
                          uint8_t **out_qc, dh_index **out_ix)
{
    size_t nq = dh_dataset_count(d->query), nd = dh_dataset_count(d->db);
    size_t cb = dh_code_bytes(a->bits);
    uint8_t *qc = malloc(nq * cb), *dc = malloc(nd * cb);
    int32_t *ql = malloc(nq * sizeof(int32_t)), *dl = malloc(nd * sizeof(int32_t));
    res->pr_p = calloc(a->bits + 1, sizeof(double));
    res->pr_r = calloc(a->bits + 1, sizeof(double));
    dh_status st = (qc && dc && ql && dl && res->pr_p && res->pr_r) ? DH_OK : DH_E_NO_MEMORY;
    double t0 = dh_cli_now();
    if (st == DH_OK) st = dh_model_encode_dataset(m, d->db, dc, NULL);
    if (st == DH_OK) st = dh_model_encode_dataset(m, d->query, qc, NULL);
    res->encode_ips = (double)(nq + nd) / (dh_cli_now() - t0);
    if (st == DH_OK) st = dh_dataset_get_class_ids(d->query, 0, nq, ql);
    if (st == DH_OK) st = dh_dataset_get_class_ids(d->db, 0, nd, dl);
    dh_index *ix = NULL;
    dh_index_options io;
    dh_index_options_init(&io);
    io.n_bits = a->bits;
    if (st == DH_OK) st = dh_index_create(&io, &ix);
    if (st == DH_OK) st = dh_index_add(ix, dc, nd);
    /* top-100 for every query: the index's speed on this database */
    uint32_t k = nd < 100 ? (uint32_t)nd : 100;
    int32_t *dist = malloc(nq * k * sizeof(int32_t));
    res->grid_ids = malloc(nq * k * sizeof(int64_t));
    if (st == DH_OK && (!dist || !res->grid_ids)) st = DH_E_NO_MEMORY;
    t0 = dh_cli_now();
    if (st == DH_OK) st = dh_index_search(ix, qc, nq, k, dist, res->grid_ids);
    res->search_qps = (double)nq / (dh_cli_now() - t0);
    res->grid_dist = dist;
    dh_eval_options eo;
    dh_eval_options_init(&eo);
    eo.n_bits = a->bits;
    uint64_t ns[1] = {100};
    double pn = 0, rn = 0, bp = 0, br = 0;
    if (st == DH_OK)
        st = dh_eval_all(&eo, qc, ql, nq, dc, dl, nd, ns, 1, &res->map_all, NULL, &pn, &rn,
                         res->pr_p, res->pr_r, &bp, &br, &res->ball_empty);
    res->p_at_100 = pn;
    res->ball_p = bp;
    eo.ties = DH_TIES_EXPECTED;
    if (st == DH_OK) st = dh_eval_map(&eo, qc, ql, nq, dc, dl, nd, &res->map_all_ties, NULL);
    eo.ties = DH_TIES_INDEX_ORDER;
    eo.topk = nd < 1000 ? nd : 1000;
    if (st == DH_OK) st = dh_eval_map(&eo, qc, ql, nq, dc, dl, nd, &res->map_1000, NULL);
    free(dc);
    free(ql);
    free(dl);
    *out_qc = qc;
    *out_ix = ix;
    return st;
}

static int write_outputs(const demo_args *a, dh_model *m, dh_index *ix, demo_data *d,
                         demo_result *r)
{
    char p1[4096], p2[4096];
    int rc = 0;
    snprintf(p1, sizeof p1, "%s/pr_curve.csv", a->out);
    snprintf(p2, sizeof p2, "%s/pr_curve.png", a->out);
    char title[128];
    snprintf(title, sizeof title, "Fashion-MNIST, %s, %u bits: mAP %.3f", a->method, a->bits,
             r->map_all);
    rc |= dh_pic_pr_curve(p1, p2, title, r->pr_p, r->pr_r, a->bits);
    size_t rows[8];
    size_t nq = dh_dataset_count(d->query);
    uint32_t k = dh_dataset_count(d->db) < 100 ? (uint32_t)dh_dataset_count(d->db) : 100;
    int64_t ids[8 * 10];
    int32_t dists[8 * 10];
    for (size_t q = 0; q < 8; q++) {
        rows[q] = (q * 1237 + 11) % nq;
        for (uint32_t j = 0; j < 10; j++) {
            ids[q * 10 + j] = j < k ? r->grid_ids[rows[q] * k + j] : -1;
            dists[q * 10 + j] = j < k ? r->grid_dist[rows[q] * k + j] : -1;
        }
    }
    snprintf(p1, sizeof p1, "%s/retrieval_grid.png", a->out);
    uint32_t n_names = 0;
    const char *const *names = dh_pic_class_names("fashion-mnist", &n_names);
    rc |= dh_pic_retrieval_grid(p1, d->query, rows, 8, d->db, ids, dists, 10, names, n_names);
    /* t-SNE map of the codes of the first queries (Hamming geometry), as the survey's Fig. 3 */
    size_t nt = nq < 1000 ? nq : 1000;
    int32_t *cls = malloc(nt * sizeof(int32_t));
    if (cls && dh_dataset_get_class_ids(d->query, 0, nt, cls) == DH_OK) {
        snprintf(p1, sizeof p1, "%s/tsne.png", a->out);
        snprintf(title, sizeof title, "t-SNE of %zu query codes (%s, %u bits)", nt, a->method,
                 a->bits);
        rc |= dh_pic_code_map(p1, title, r->qc, nt, a->bits, cls, names, n_names, 0, 1,
                              isatty(2));
    }
    free(cls);
    snprintf(p1, sizeof p1, "%s/model.safetensors", a->out);
    dh_status st = dh_model_save(m, p1);
    snprintf(p2, sizeof p2, "%s/database.dhi", a->out);
    if (st == DH_OK) st = dh_index_save(ix, p2);
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    snprintf(p1, sizeof p1, "%s/metrics.json", a->out);
    FILE *fp = fopen(p1, "w");
    if (!fp) return DH_EXIT_IO;
    fprintf(fp,
            "{\"dataset\": \"fashion-mnist\", \"quick\": %s, \"method\": \"%s\", \"bits\": %u, "
            "\"epochs\": %u,\n \"map_all\": %.6f, \"map_all_tie_aware\": %.6f, \"map_1000\": %.6f, "
            "\"p_at_100\": %.6f, \"p_h2\": %.6f, \"h2_empty_fraction\": %.6f,\n"
            " \"train_seconds\": %.2f, \"train_images_per_s\": %.1f, "
            "\"encode_images_per_s\": %.1f, \"search_queries_per_s\": %.1f}\n",
            a->quick ? "true" : "false", a->method, a->bits, a->epochs, r->map_all,
            r->map_all_ties, r->map_1000, r->p_at_100, r->ball_p, r->ball_empty, r->train_s,
            r->train_ips, r->encode_ips, r->search_qps);
    return (fclose(fp) || rc) ? DH_EXIT_IO : 0;
}

static void print_table(const demo_args *a, const demo_data *d, const demo_result *r,
                        double total_s)
{
    printf("\nFashion-MNIST retrieval, smallcnn + %s, %u bits%s\n", a->method, a->bits,
           a->quick ? " (--quick)" : "");
    printf("  train %zu images x %u epochs, %zu queries vs %zu database images\n",
           dh_dataset_count(d->train), a->epochs, dh_dataset_count(d->query),
           dh_dataset_count(d->db));
    printf("  %-34s %8.4f\n", "mAP@all", r->map_all);
    printf("  %-34s %8.4f\n", "mAP@all (tie-aware)", r->map_all_ties);
    printf("  %-34s %8.4f\n", "mAP@1000", r->map_1000);
    printf("  %-34s %8.4f\n", "P@100", r->p_at_100);
    printf("  %-34s %8.4f  (empty ball: %.1f%% of queries)\n", "P@H<=2", r->ball_p,
           100 * r->ball_empty);
    printf("  %-34s %8.1f s  (%.0f images/s)\n", "training", r->train_s, r->train_ips);
    printf("  %-34s %8.0f images/s\n", "encoding (inference)", r->encode_ips);
    printf("  %-34s %8.0f queries/s\n", "index search, top-100", r->search_qps);
    printf("  %-34s %8.1f s\n", "total", total_s);
    printf("wrote %s/{pr_curve.png,pr_curve.csv,retrieval_grid.png,tsne.png,metrics.json,"
           "model.safetensors,database.dhi}\n", a->out);
}

int dh_cmd_demo(int argc, char **argv)
{
    demo_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc == DH_CLI_HELP ? DH_EXIT_OK : rc;
    if (a.threads) dh_set_num_threads(a.threads);
    if ((rc = dh_cli_mkdir(CMD, a.out))) return rc;
    double t0 = dh_cli_now();
    signal(SIGINT, on_sigint);
    demo_data d = {0};
    demo_result r;
    memset(&r, 0, sizeof r);
    dh_model *m = NULL;
    dh_index *ix = NULL;
    uint8_t *qc = NULL;
    dh_status st = load_data(&a, &d);
    if (st == DH_OK) {
        printf("dh demo: Fashion-MNIST: %zu training, %zu query, %zu database images; %u threads\n",
               dh_dataset_count(d.train), dh_dataset_count(d.query), dh_dataset_count(d.db),
               dh_get_num_threads());
        fflush(stdout);
        st = train(&a, &d, &m, &r);
    }
    if (st == DH_OK) st = evaluate(&a, m, &d, &r, &qc, &ix);
    r.qc = qc;
    if (st != DH_OK) rc = dh_cli_fail(CMD, st);
    else rc = write_outputs(&a, m, ix, &d, &r);
    if (rc == 0) print_table(&a, &d, &r, dh_cli_now() - t0);
    free(qc);
    free(r.pr_p);
    free(r.pr_r);
    free(r.grid_ids);
    free(r.grid_dist);
    dh_index_free(ix);
    dh_model_free(m);
    dh_dataset_free(d.train);
    dh_dataset_free(d.query);
    dh_dataset_free(d.db);
    return rc;
}
