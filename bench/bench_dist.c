/* bench/bench_dist.c -- libdh_mpi throughput under mpirun (driver: bench/bench_dist.py).
 *
 *   mpirun -np P bench_dist search N_DB N_QUERIES K BITS
 *     sharded k-NN (dh_dist_search, root 0) over N_DB random codes split in P
 *     consecutive shards, against the peer in the same run: rank 0 alone searching one
 *     index with every row (dh_index_search). Prints the per-phase times, queries/s of
 *     both, and the bytes that cross the network per query batch.
 *   mpirun -np P bench_dist train N_IMAGES BATCH
 *     one epoch of smallcnn + CSQ (28x28x1, 16 bits), first by rank 0 alone (the
 *     peer), then data parallel over all P ranks; images/s of both.
 * Times are the best of 3 repetitions (the VM is noisy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_mpi.h"

static int g_rank, g_size;
static size_t g_params; /* encoder + head floats: the gradient allreduce per step */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint8_t next8(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint8_t)(rng >> 24);
}

static void die(const char *what, dh_status st)
{
    fprintf(stderr, "rank %d: %s: %s (%s)\n", g_rank, what, dh_last_error(), dh_status_str(st));
    MPI_Abort(MPI_COMM_WORLD, 1);
}

static int bench_search(size_t n, size_t nq, uint32_t k, uint32_t bits)
{
    size_t cb = bits / 8, lo = n * (size_t)g_rank / (size_t)g_size;
    size_t hi = n * ((size_t)g_rank + 1) / (size_t)g_size;
    uint8_t *codes = malloc(n * cb), *q = malloc(nq * cb);
    for (size_t i = 0; i < n * cb; i++) codes[i] = next8();
    for (size_t i = 0; i < nq * cb; i++) q[i] = next8();
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = bits;
    dh_index *mine = NULL, *all = NULL;
    dh_status st = dh_index_create(&o, &mine);
    if (st == DH_OK) st = dh_index_add(mine, codes + lo * cb, hi - lo);
    if (st == DH_OK && g_rank == 0) st = dh_index_create(&o, &all);
    if (st == DH_OK && g_rank == 0) st = dh_index_add(all, codes, n);
    if (st != DH_OK) die("index", st);
    dh_dist_shard *s = NULL;
    if ((st = dh_dist_shard_create(MPI_COMM_WORLD, mine, &s)) != DH_OK) die("shard", st);
    int32_t *D = malloc(nq * k * 4);
    int64_t *I = malloc(nq * k * 8);
    double best_dist = 1e30, best_one = 1e30, best_local = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        if ((st = dh_dist_search(s, q, nq, k, 0, D, I)) != DH_OK) die("dh_dist_search", st);
        double t1 = MPI_Wtime();
        /* this rank's local search alone (the compute part of the distributed call) */
        if ((st = dh_index_search(mine, q, nq, k, D, I)) != DH_OK) die("local", st);
        double t2 = MPI_Wtime(), local = t2 - t1, slowest = 0;
        MPI_Reduce(&local, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        MPI_Barrier(MPI_COMM_WORLD);
        if (g_rank == 0) { /* the peer: one process, one index with every row */
            double t3 = MPI_Wtime();
            if ((st = dh_index_search(all, q, nq, k, D, I)) != DH_OK) die("peer", st);
            double one = MPI_Wtime() - t3;
            if (one < best_one) best_one = one;
        }
        MPI_Barrier(MPI_COMM_WORLD);
        if (t1 - t0 < best_dist) best_dist = t1 - t0;
        if (slowest < best_local) best_local = slowest;
    }
    double dist_all = 0;
    MPI_Reduce(&best_dist, &dist_all, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (g_rank == 0) {
        double bcast = (double)nq * (double)cb;                              /* queries */
        double reduce = (double)(g_size - 1) * (double)nq * k * 16.0;        /* lists */
        printf("search ranks %d n_db %zu queries %zu k %u bits %u: dist %.4f s (%.0f q/s; "
               "slowest local search %.4f s, merge+comm %.4f s) | one process %.4f s "
               "(%.0f q/s) | dist/one speed %.2fx | bytes per batch: bcast %.0f, reduce "
               "%.0f (%.0f per query)\n",
               g_size, n, nq, k, bits, dist_all, (double)nq / dist_all, best_local,
               dist_all - best_local, best_one, (double)nq / best_one, best_one / dist_all,
               bcast, reduce, reduce / (double)nq);
    }
    dh_dist_shard_free(s);
    dh_index_free(mine);
    dh_index_free(all);
    free(codes), free(q), free(D), free(I);
    return 0;
}

static double train_once(const uint8_t *img, const int32_t *cls, size_t n, uint32_t batch,
                         int parallel)
{
    dh_dataset *ds = NULL;
    dh_model *m = NULL;
    dh_loss *loss = NULL;
    dh_trainer *t = NULL;
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = "smallcnn", mo.n_bits = 16, mo.in_channels = 1, mo.in_height = 28;
    dh_loss_options lo;
    dh_loss_options_init(&lo);
    lo.n_bits = 16, lo.n_classes = 10, lo.n_train = n;
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    to.epochs = 1, to.batch_size = batch, to.keep_best = 0;
    dh_status st = dh_dataset_from_images(img, n, 28, 28, 1, cls, NULL, 10, &ds);
    if (st == DH_OK) st = dh_model_create(&mo, &m);
    if (st == DH_OK)
        g_params = dh_encoder_param_count(dh_model_encoder(m)) +
                   (dh_head_in_dim(dh_model_head(m)) + 1) * 16;
    if (st == DH_OK) st = dh_loss_create("csq", &lo, &loss);
    if (st == DH_OK) st = dh_trainer_create(m, loss, ds, &to, &t);
    if (st == DH_OK && parallel) st = dh_trainer_set_comm(t, MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    if (st == DH_OK) st = dh_trainer_run(t);
    double el = MPI_Wtime() - t0;
    if (st != DH_OK) die("train", st);
    dh_trainer_free(t), dh_loss_free(loss), dh_model_free(m), dh_dataset_free(ds);
    return el;
}

static int bench_train(size_t n, uint32_t batch)
{
    uint8_t *img = malloc(n * 784);
    int32_t *cls = malloc(n * sizeof *cls);
    for (size_t i = 0; i < n * 784; i++) img[i] = next8();
    for (size_t i = 0; i < n; i++) cls[i] = (int32_t)(i % 10);
    double one = 1e30, par = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        MPI_Barrier(MPI_COMM_WORLD);
        if (g_rank == 0) {
            double e = train_once(img, cls, n, batch, 0);
            if (e < one) one = e;
        }
        MPI_Barrier(MPI_COMM_WORLD);
        double e = train_once(img, cls, n, batch, 1);
        if (e < par) par = e;
    }
    size_t steps = n / batch;
    if (g_rank == 0)
        printf("train ranks %d images %zu batch %u: data parallel %.2f s (%.0f img/s) | one "
               "process %.2f s (%.0f img/s) | speed %.2fx | per step: allgather U %zu B, "
               "allreduce of %zu gradient floats (%.1f MB), %zu steps\n",
               g_size, n, batch, par, (double)n / par, one, (double)n / one, one / par,
               (size_t)batch * 16 * 4, g_params, (double)g_params * 4 / 1e6, steps);
    free(img), free(cls);
    return 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    int rc = 2;
    if (argc == 6 && !strcmp(argv[1], "search"))
        rc = bench_search(strtoull(argv[2], NULL, 10), strtoull(argv[3], NULL, 10),
                          (uint32_t)atoi(argv[4]), (uint32_t)atoi(argv[5]));
    else if (argc == 4 && !strcmp(argv[1], "train"))
        rc = bench_train(strtoull(argv[2], NULL, 10), (uint32_t)atoi(argv[3]));
    else if (g_rank == 0)
        fprintf(stderr, "usage: bench_dist search N_DB N_QUERIES K BITS | train N BATCH\n");
    MPI_Finalize();
    return rc;
}
