/* tests/mpi/test_dist_train.c -- data-parallel training (dh_trainer_set_comm) with
 * smallcnn + CSQ and + DPSH, one epoch of 4 steps, under mpirun with 1, 2 and 4 ranks.
 *
 * BatchNorm normalises each rank's slice with its own statistics (as DDP does), so a
 * P-rank run equals the one-process run with the same global batch only where every
 * slice has the same batch statistics. The exactness check therefore builds a data
 * set from the trainer's own (deterministic, public) batch order in which the P
 * slices of every global batch hold the same images and labels: per-rank BN then
 * sees the whole batch's statistics, while the loss (CSQ per sample, DPSH over all
 * B x B pairs and its bank) still needs the gathered batch and the gradient sum over
 * ranks -- per-step loss within 1e-5 relative of the one-process
 * run. On random images every rank must see the same per-step losses and end with
 * the same model (outputs compared across ranks bit for bit). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_mpi.h"

#define N 64
#define C 4
#define STEPS_MAX 16
#define NQ 16

static int g_rank, g_size, g_fail;

#define CHECK(cond, ...)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            g_fail++;                                                                        \
            fprintf(stderr, "rank %d: %s:%d: %s: ", g_rank, __FILE__, __LINE__, #cond);      \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fprintf(stderr, " [%s]\n", dh_last_error());                                    \
        }                                                                                    \
    } while (0)

typedef struct run {
    double loss[STEPS_MAX];
    int steps;
    float u[NQ * 16];
} run;

static int32_t on_progress(const dh_train_progress *p, void *user)
{
    run *r = user;
    if (p->event == DH_TRAIN_EVENT_BATCH && r->steps < STEPS_MAX) r->loss[r->steps++] = p->loss;
    return 0;
}

static dh_status train(const char *method, const uint8_t *images, const int32_t *cls,
                       int parallel, run *r)
{
    memset(r, 0, sizeof *r);
    dh_dataset *ds = NULL;
    dh_model *m = NULL;
    dh_loss *loss = NULL;
    dh_trainer *t = NULL;
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = "smallcnn";
    mo.n_bits = 16;
    mo.in_channels = 1;
    mo.in_height = 28;
    dh_loss_options lo;
    dh_loss_options_init(&lo);
    lo.n_bits = 16;
    lo.n_classes = C;
    lo.n_train = N;
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    to.epochs = 1;
    to.batch_size = 16;
    to.seed = 7;
    to.keep_best = 0;
    to.optimizer = DH_OPTIM_SGD; /* scale-sensitive (Adam would hide a wrong gradient sum) */
    to.lr = 0.05;
    to.momentum = 0.9;
    to.augment = 0; /* the slice-replicated rows must stay identical (1.3 augments by default) */
    to.callback = on_progress;
    to.callback_user = r;
    dh_status st = dh_dataset_from_images(images, N, 28, 28, 1, cls, NULL, C, &ds);
    if (st == DH_OK) st = dh_model_create(&mo, &m);
    if (st == DH_OK) st = dh_loss_create(method, &lo, &loss);
    if (st == DH_OK) st = dh_trainer_create(m, loss, ds, &to, &t);
    if (st == DH_OK && parallel) st = dh_trainer_set_comm(t, MPI_COMM_WORLD);
    if (st == DH_OK) st = dh_trainer_run(t);
    if (st == DH_OK) st = dh_model_encode(m, images, NQ, 28, 28, 1, NULL, r->u);
    dh_trainer_free(t);
    dh_loss_free(loss);
    dh_model_free(m);
    dh_dataset_free(ds);
    return st;
}

/* Every rank holds the same value (bit for bit). */
static int same_everywhere(const double *v, int n)
{
    double mn[STEPS_MAX * 16], mx[STEPS_MAX * 16];
    MPI_Allreduce(v, mn, n, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(v, mx, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return !memcmp(mn, mx, (size_t)n * sizeof *mn);
}

/* The trainer's batches of epoch 0 (its loader: batch 16, shuffle, drop_last, seed 7):
 * order[b * 16 + j] = sample index of row j of batch b. */
static dh_status batch_order(const uint8_t *images, const int32_t *cls, int64_t *order)
{
    dh_dataset *ds = NULL;
    dh_loader *ld = NULL;
    dh_loader_options lo;
    dh_loader_options_init(&lo);
    lo.batch_size = 16, lo.shuffle = 1, lo.drop_last = 1, lo.seed = 7;
    dh_status st = dh_dataset_from_images(images, N, 28, 28, 1, cls, NULL, C, &ds);
    if (st == DH_OK) st = dh_loader_create(ds, &lo, &ld);
    float *x = malloc(16 * 784 * sizeof *x);
    for (size_t b = 0; st == DH_OK && b < N / 16; b++) {
        size_t n = 0;
        st = dh_loader_next(ld, x, NULL, NULL, NULL, order + b * 16, &n);
        if (st == DH_OK && n != 16) st = DH_E_STATE;
    }
    free(x);
    dh_loader_free(ld);
    dh_dataset_free(ds);
    return st;
}

static void test_method(const char *method)
{
    static uint8_t rep[N * 784], rnd[N * 784];
    int32_t cls[N], rep_cls[N];
    int64_t order[N];
    uint64_t x = 12345;
    for (size_t i = 0; i < N * 784; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        rnd[i] = (uint8_t)(x >> 56);
    }
    for (size_t i = 0; i < N; i++) cls[i] = (int32_t)((i * 7 + i / 5) % C);
    CHECK(batch_order(rnd, cls, order) == DH_OK, "batch order");
    /* slice-replicated set: row j of batch b shows image/label b * 16 + j % (16 / P) */
    const size_t slice = 16 / (size_t)g_size;
    for (size_t p = 0; p < N; p++) {
        size_t src = p / 16 * 16 + p % 16 % slice, dst = (size_t)order[p];
        memcpy(rep + dst * 784, rnd + src * 784, 784);
        rep_cls[dst] = cls[src];
    }
    run one, par;
    /* exactness: one process (every rank alone) vs all ranks */
    CHECK(train(method, rep, rep_cls, 0, &one) == DH_OK, "%s: one-process run", method);
    CHECK(train(method, rep, rep_cls, 1, &par) == DH_OK, "%s: %d-rank run", method, g_size);
    CHECK(one.steps == 4 && par.steps == 4, "%s: %d and %d steps", method, one.steps, par.steps);
    for (int s = 0; s < one.steps && s < par.steps; s++)
        CHECK(fabs(one.loss[s] - par.loss[s]) <= 1e-5 * fabs(one.loss[s]),
              "%s step %d: loss %.9g (1 process) vs %.9g (%d ranks)", method, s, one.loss[s],
              par.loss[s], g_size);
    if (g_rank == 0)
        printf("%s slice-replicated batches: step losses 1 process %.7f %.7f %.7f %.7f | %d ranks "
               "%.7f %.7f %.7f %.7f\n", method, one.loss[0], one.loss[1], one.loss[2],
               one.loss[3], g_size, par.loss[0], par.loss[1], par.loss[2], par.loss[3]);
    /* random images: every rank in step */
    CHECK(train(method, rnd, cls, 1, &par) == DH_OK, "%s: random images", method);
    CHECK(same_everywhere(par.loss, 4), "%s: ranks saw different losses", method);
    double u[NQ * 16];
    for (int i = 0; i < NQ * 16; i++) u[i] = par.u[i];
    CHECK(same_everywhere(u, NQ * 16), "%s: ranks ended with different models", method);
    if (g_size == 1) { /* one rank through the MPI path is the plain trainer */
        CHECK(train(method, rnd, cls, 0, &one) == DH_OK, "%s: plain", method);
        CHECK(!memcmp(one.loss, par.loss, sizeof one.loss), "%s: 1-rank run differs", method);
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    if (!dh_has_training()) {
        if (g_rank == 0) printf("test_dist_train: no training in this build; skipped\n");
        MPI_Finalize();
        return 0;
    }
    test_method("csq");
    test_method("dpsh");
    int fails = 0;
    MPI_Allreduce(&g_fail, &fails, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (g_rank == 0) printf("test_dist_train: %d ranks, %d failures\n", g_size, fails);
    MPI_Finalize();
    return fails ? 1 : 0;
}
