/* tests/mpi/test_dist.c -- libdh_mpi sharded search, range search and evaluation
 * against one index / one dh_eval_all holding every row (run under mpirun with 1, 2
 * and 4 ranks; ctest label "mpi").
 *
 * Every rank builds the same whole database (the reference) and keeps its shard:
 * shards of unequal size, rank 1 empty when there are two ranks or more. Cases:
 * random and heavily tied codes, k = 1 .. more than the total, root 0 and
 * DH_DIST_ALL, range search, shards opened from files (one per rank, and rows r::P
 * of one file with removed rows), a missing shard file and a K mismatch (every rank
 * fails, nothing hangs), and dh_dist_eval equal to dh_eval_all. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dh_mpi.h"

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

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

typedef struct db {
    uint32_t bits;
    size_t n, cb;
    uint8_t *codes;
    int64_t *ids;
    dh_index *all, *mine; /* the whole database; this rank's consecutive block */
    size_t lo, hi;        /* rows of this rank */
} db;

/* Rank r's share of n: weights r + 1, rank 1 empty (when size > 1). */
static void block(size_t n, int r, size_t *lo, size_t *hi)
{
    size_t w = 0, before = 0;
    for (int p = 0; p < g_size; p++) {
        size_t wp = (p == 1) ? 0 : (size_t)p + 1;
        if (p < r) before += wp;
        w += wp;
    }
    size_t wr = (r == 1) ? 0 : (size_t)r + 1;
    *lo = n * before / w;
    *hi = n * (before + wr) / w;
}

/* n codes of `bits`; `distinct` > 0 draws every code from that many patterns (ties). */
static void make_db(db *d, uint32_t bits, size_t n, int distinct)
{
    d->bits = bits, d->n = n, d->cb = bits / 8;
    d->codes = malloc(n * d->cb);
    d->ids = malloc(n * sizeof *d->ids);
    uint8_t pat[8][512];
    for (int p = 0; p < 8; p++)
        for (size_t b = 0; b < d->cb; b++) pat[p][b] = (uint8_t)next();
    for (size_t i = 0; i < n; i++) {
        for (size_t b = 0; b < d->cb; b++)
            d->codes[i * d->cb + b] = distinct ? pat[next() % (uint64_t)distinct][b]
                                               : (uint8_t)next();
        d->ids[i] = (int64_t)(5 * i + 3);
    }
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = bits;
    dh_index_create(&o, &d->all);
    dh_index_add_with_ids(d->all, d->codes, n, d->ids);
    block(n, g_rank, &d->lo, &d->hi);
    dh_index_create(&o, &d->mine);
    dh_index_add_with_ids(d->mine, d->codes + d->lo * d->cb, d->hi - d->lo, d->ids + d->lo);
}

static void free_db(db *d)
{
    dh_index_free(d->all);
    dh_index_free(d->mine);
    free(d->codes);
    free(d->ids);
}

static uint8_t *make_queries(const db *d, size_t nq)
{
    uint8_t *q = malloc(nq * d->cb);
    for (size_t i = 0; i < nq; i++) /* half copies of database rows (distance 0 ties) */
        for (size_t b = 0; b < d->cb; b++)
            q[i * d->cb + b] = i % 2 ? d->codes[(i * 37 % d->n) * d->cb + b] : (uint8_t)next();
    return q;
}

static void check_knn(const char *what, const dh_dist_shard *s, const dh_index *ref,
                      const uint8_t *q, size_t nq, uint32_t k, int root)
{
    int32_t *D0 = malloc(nq * k * 4), *D1 = malloc(nq * k * 4);
    int64_t *I0 = malloc(nq * k * 8), *I1 = malloc(nq * k * 8);
    dh_status st = dh_index_search(ref, q, nq, k, D0, I0);
    CHECK(st == DH_OK, "%s: reference search", what);
    memset(I1, 0x55, nq * k * 8);
    st = dh_dist_search(s, root == DH_DIST_ALL || root == g_rank ? q : NULL, nq, k, root,
                        D1, I1);
    CHECK(st == DH_OK, "%s: dh_dist_search k=%u root=%d", what, k, root);
    if (st == DH_OK && (root == DH_DIST_ALL || root == g_rank)) {
        CHECK(!memcmp(I0, I1, nq * k * 8), "%s: ids differ (k=%u root=%d)", what, k, root);
        CHECK(!memcmp(D0, D1, nq * k * 4), "%s: distances differ (k=%u)", what, k);
    }
    free(D0), free(D1), free(I0), free(I1);
}

static void check_range(const char *what, const dh_dist_shard *s, const dh_index *ref,
                        const uint8_t *q, size_t nq, uint32_t radius, int root)
{
    dh_range_result *a = NULL, *b = NULL;
    CHECK(dh_index_range_search(ref, q, nq, radius, &a) == DH_OK, "%s: reference", what);
    dh_status st = dh_dist_range_search(s, q, nq, radius, root, &b);
    CHECK(st == DH_OK, "%s: dh_dist_range_search r=%u", what, radius);
    int recv = root == DH_DIST_ALL || root == g_rank;
    CHECK(recv == (b != NULL), "%s: result on the wrong ranks", what);
    if (st == DH_OK && recv && b) {
        size_t n = dh_range_result_n_hits(a);
        CHECK(n == dh_range_result_n_hits(b), "%s: %zu vs %zu hits", what, n,
              dh_range_result_n_hits(b));
        CHECK(!memcmp(dh_range_result_lims(a), dh_range_result_lims(b), (nq + 1) * 8),
              "%s: lims differ", what);
        if (n == dh_range_result_n_hits(b) && n) {
            CHECK(!memcmp(dh_range_result_ids(a), dh_range_result_ids(b), n * 8),
                  "%s: ids differ (r=%u)", what, radius);
            CHECK(!memcmp(dh_range_result_distances(a), dh_range_result_distances(b), n * 4),
                  "%s: distances differ", what);
        }
    }
    dh_range_result_free(a);
    dh_range_result_free(b);
}

static void test_search(const char *what, uint32_t bits, size_t n, int distinct)
{
    db d;
    make_db(&d, bits, n, distinct);
    size_t nq = 37;
    uint8_t *q = make_queries(&d, nq);
    dh_dist_shard *s = NULL;
    CHECK(dh_dist_shard_create(MPI_COMM_WORLD, d.mine, &s) == DH_OK, "%s: shard", what);
    CHECK(dh_dist_shard_total(s) == n, "%s: total %llu", what,
          (unsigned long long)dh_dist_shard_total(s));
    uint32_t ks[] = {1, 10, 100, (uint32_t)n + 7};
    for (int i = 0; i < 4; i++) check_knn(what, s, d.all, q, nq, ks[i], 0);
    check_knn(what, s, d.all, q, nq, 10, DH_DIST_ALL);
    check_knn(what, s, d.all, q, nq, 10, g_size - 1);
    uint32_t radii[] = {0, bits / 3, bits};
    for (int i = 0; i < 3; i++) check_range(what, s, d.all, q, nq, radii[i], 0);
    check_range(what, s, d.all, q, nq, bits / 3, DH_DIST_ALL);
    dh_dist_shard_free(s);
    free(q);
    free_db(&d);
}

/* Shards from files: one per rank ("%d"), and rows r::P of one file with removed rows. */
static void test_files(const char *dir)
{
    db d;
    make_db(&d, 64, 3001, 3);
    size_t nq = 25;
    uint8_t *q = make_queries(&d, nq);
    char path[512], pattern[512];
    snprintf(path, sizeof path, "%s/shard-%d.dhi", dir, g_rank);
    CHECK(dh_index_save(d.mine, path) == DH_OK, "save shard");
    MPI_Barrier(MPI_COMM_WORLD);
    snprintf(pattern, sizeof pattern, "%s/shard-%%d.dhi", dir);
    dh_dist_shard *s = NULL;
    CHECK(dh_dist_shard_open(MPI_COMM_WORLD, pattern, &s) == DH_OK, "open %s", pattern);
    CHECK(dh_dist_shard_layout(s) == DH_DIST_CONTIGUOUS, "layout");
    check_knn("files", s, d.all, q, nq, 20, 0);
    check_range("files", s, d.all, q, nq, 0, 0);
    dh_dist_shard_free(s);
    /* one file, removed rows: the reference is the same index */
    int64_t gone[] = {3, 8, 5 * 1000 + 3, 5 * 3000 + 3};
    dh_index_remove_ids(d.all, gone, 4, NULL);
    snprintf(path, sizeof path, "%s/all.dhi", dir);
    if (g_rank == 0) CHECK(dh_index_save(d.all, path) == DH_OK, "save all");
    MPI_Barrier(MPI_COMM_WORLD);
    CHECK(dh_dist_shard_open(MPI_COMM_WORLD, path, &s) == DH_OK, "open %s", path);
    CHECK(dh_dist_shard_layout(s) == DH_DIST_STRIDED, "layout");
    CHECK(dh_dist_shard_total(s) == 3001 - 4, "strided total");
    check_knn("strided", s, d.all, q, nq, 20, 0);
    check_knn("strided", s, d.all, q, nq, 4000, DH_DIST_ALL);
    check_range("strided", s, d.all, q, nq, 5, 0);
    dh_dist_shard_free(s);
    /* a missing shard on the last rank (every shard when alone): all ranks fail */
    snprintf(pattern, sizeof pattern, "%s/%s-%%d.dhi", dir, g_size > 1 ? "part" : "none");
    if (g_size > 1 && g_rank < g_size - 1) {
        snprintf(path, sizeof path, "%s/part-%d.dhi", dir, g_rank);
        dh_index_save(d.mine, path);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    s = NULL;
    dh_status st = dh_dist_shard_open(MPI_COMM_WORLD, pattern, &s);
    char want[32];
    snprintf(want, sizeof want, "rank %d: ", g_size - 1);
    CHECK(st == DH_E_NOT_FOUND && s == NULL, "missing shard: status %d", st);
    CHECK(strstr(dh_last_error(), want) != NULL, "missing shard: message names %s", want);
    free(q);
    free_db(&d);
}

/* Different K on the last rank: DH_E_SHAPE everywhere; bad root: everywhere. */
static void test_mismatch(void)
{
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = g_rank == g_size - 1 && g_size > 1 ? 32 : 64;
    dh_index *ix = NULL;
    dh_index_create(&o, &ix);
    dh_dist_shard *s = NULL;
    dh_status st = dh_dist_shard_create(MPI_COMM_WORLD, ix, &s);
    if (g_size > 1) CHECK(st == DH_E_SHAPE && !s, "K mismatch: status %d", st);
    else CHECK(st == DH_OK, "one rank: status %d", st);
    if (st == DH_OK) {
        int64_t I[4];
        uint8_t qq[8] = {0};
        st = dh_dist_search(s, qq, 1, 4, g_rank == 0 ? 99 : 0, NULL, I); /* rank 0 says 99 */
        CHECK(st == DH_E_INVALID_ARG, "bad root on rank 0: status %d", st);
        CHECK(dh_dist_search(s, qq, 1, 4, 0, NULL, I) == DH_OK, "empty database");
        CHECK(g_rank != 0 || I[0] == -1, "empty database pads with -1");
    }
    dh_dist_shard_free(s);
    dh_index_free(ix);
}

static int close_rel(double a, double b, double tol)
{
    return fabs(a - b) <= tol * (fabs(a) > 1 ? fabs(a) : 1);
}

static void test_eval(uint32_t bits, int32_t ties, uint64_t topk, int multihot)
{
    db d;
    make_db(&d, bits, 1500, 0);
    size_t nq = 40, C = 6;
    uint8_t *q = make_queries(&d, nq);
    int32_t *qy = malloc(nq * 4), *dy = malloc(d.n * 4);
    uint8_t *qm = malloc(nq * C), *dm = malloc(d.n * C);
    for (size_t i = 0; i < nq; i++) qy[i] = (int32_t)(next() % C) - (i == 3); /* one unlabeled */
    for (size_t i = 0; i < d.n; i++) dy[i] = (int32_t)(next() % C);
    for (size_t i = 0; i < nq * C; i++) qm[i] = next() % 3 == 0;
    for (size_t i = 0; i < d.n * C; i++) dm[i] = next() % 3 == 0;
    dh_eval_options o;
    dh_eval_options_init(&o);
    o.n_bits = bits, o.ties = ties, o.topk = topk, o.radius = bits / 8;
    if (multihot) o.label_type = DH_LABELS_MULTIHOT_U8, o.n_classes = (uint32_t)C;
    const void *ql = multihot ? (const void *)qm : qy;
    const void *dl = multihot ? (const void *)(dm) : dy;
    const void *dl_mine = multihot ? (const void *)(dm + d.lo * C) : dy + d.lo;
    uint64_t ns[3] = {1, 10, 700};
    size_t kb = bits + 1;
    double m0, m1, ap0[40], ap1[40], p0[3], p1[3], r0[3], r1[3], b0[3], b1[3];
    double *pr0 = calloc(4 * kb, 8), *pr1 = pr0 + 2 * kb;
    dh_status st = dh_eval_all(&o, q, ql, nq, d.codes, dl, d.n, ns, 3, &m0, ap0, p0, r0, pr0,
                               pr0 + kb, &b0[0], &b0[1], &b0[2]);
    CHECK(st == DH_OK, "eval reference");
    st = dh_dist_eval(MPI_COMM_WORLD, &o, q, ql, nq, d.codes + d.lo * d.cb, dl_mine,
                      d.hi - d.lo, ns, 3, &m1, ap1, p1, r1, pr1, pr1 + kb, &b1[0], &b1[1],
                      &b1[2]);
    CHECK(st == DH_OK, "dh_dist_eval K=%u ties=%d", bits, ties);
    if (st == DH_OK) {
        CHECK(close_rel(m0, m1, 1e-12), "mAP %.17g vs %.17g (K=%u ties=%d topk=%llu)", m0, m1,
              bits, ties, (unsigned long long)topk);
        for (size_t i = 0; i < nq; i++)
            CHECK((isnan(ap0[i]) && isnan(ap1[i])) || close_rel(ap0[i], ap1[i], 1e-12),
                  "AP[%zu] %.17g vs %.17g", i, ap0[i], ap1[i]);
        CHECK(!memcmp(p0, p1, sizeof p0) && !memcmp(r0, r1, sizeof r0), "P@N/R@N differ "
              "(%.17g vs %.17g)", p0[1], p1[1]);
        CHECK(!memcmp(pr0, pr1, 2 * kb * 8), "PR curve differs");
        CHECK(!memcmp(b0, b1, sizeof b0), "Hamming ball differs");
    }
    free(pr0), free(q), free(qy), free(dy), free(qm), free(dm);
    free_db(&d);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    char dir[256] = "/tmp/dh_mpi_XXXXXX";
    if (g_rank == 0 && !mkdtemp(dir)) dir[0] = '\0';
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    test_search("random", 64, 2000, 0);
    test_search("tied", 128, 1200, 4);
    test_search("tied-k8", 8, 700, 0);
    if (dir[0]) test_files(dir);
    test_mismatch();
    test_eval(64, DH_TIES_INDEX_ORDER, 0, 0);
    test_eval(8, DH_TIES_INDEX_ORDER, 100, 0); /* K = 8: nearly everything ties */
    test_eval(8, DH_TIES_EXPECTED, 0, 1);
    test_eval(16, DH_TIES_INDEX_ORDER, 0, 1);
    int fails = 0;
    MPI_Allreduce(&g_fail, &fails, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    if (g_rank == 0 && dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
        printf("test_dist: %d ranks, %d failures\n", g_size, fails);
    }
    MPI_Finalize();
    return fails ? 1 : 0;
}
