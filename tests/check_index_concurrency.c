/* tests/check_index_concurrency.c -- issue 19: the index's lock does not starve
 * writers behind searches (bounded-wait assertion), and search / range search / add /
 * remove / compact / save from several pthreads keep the index consistent. Every index
 * here searches with n_threads = 1 (no OpenMP), so the ThreadSanitizer build
 * (-DDH_SANITIZE=thread, scripts/test.sh) sees only instrumented pthread code. */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SLOW 10
#else
#define SLOW 1
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static dh_index *make_index(uint32_t K, size_t n, uint64_t seed)
{
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = K;
    o.n_threads = 1;
    dh_index *ix;
    ck_assert_dh_ok(dh_index_create(&o, &ix));
    size_t cb = dh_code_bytes(K);
    uint8_t *codes = malloc(n * cb);
    dh_test_fill(codes, n * cb, seed);
    ck_assert_dh_ok(dh_index_add(ix, codes, n));
    free(codes);
    return ix;
}

typedef struct readers {
    dh_index *ix;
    atomic_int stop;
    atomic_long searches;
    size_t nq;
} readers;

static void *reader(void *arg)
{
    readers *r = arg;
    uint32_t K = dh_index_n_bits(r->ix);
    size_t cb = dh_code_bytes(K);
    uint8_t *q = malloc(r->nq * cb);
    int32_t *d = malloc(r->nq * 10 * sizeof *d);
    int64_t *id = malloc(r->nq * 10 * sizeof *id);
    dh_test_fill(q, r->nq * cb, 99);
    while (!atomic_load(&r->stop)) {
        if (dh_index_search(r->ix, q, r->nq, 10, d, id) != DH_OK) break;
        atomic_fetch_add(&r->searches, 1);
    }
    free(q), free(d), free(id);
    return NULL;
}

START_TEST(writer_not_starved_by_readers)
{
    /* each search holds the read lock for a few ms; three readers overlap so that with
     * a reader-preferring lock some reader always holds it */
    readers r = {make_index(256, 20000, 1), 0, 0, 64};
    pthread_t th[3];
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, reader, &r);
    while (atomic_load(&r.searches) < 6) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    uint8_t code[32];
    dh_test_fill(code, sizeof code, 5);
    double worst = 0;
    for (int i = 0; i < 5; i++) {
        double t0 = now();
        ck_assert_dh_ok(dh_index_add(r.ix, code, 1));
        double w = now() - t0;
        if (w > worst) worst = w;
    }
    atomic_store(&r.stop, 1);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    ck_assert_uint_eq(dh_index_count(r.ix), 20005);
    ck_assert_msg(worst < 1.0 * SLOW, "a writer waited %.2f s behind %ld searches", worst,
                  atomic_load(&r.searches));
    dh_index_free(r.ix);
}
END_TEST

/* ---- mixed stress: every operation from several threads ---- */

typedef struct mixed {
    dh_index *ix;
    const char *path;
    atomic_int stop;
    atomic_long ops;
    int64_t next_id;
    pthread_mutex_t id_mu;
} mixed;

static void *mixed_reader(void *arg)
{
    mixed *m = arg;
    uint8_t q[4 * 8];
    int32_t d[4 * 5];
    int64_t id[4 * 5];
    dh_test_fill(q, sizeof q, 3);
    for (int it = 0; !atomic_load(&m->stop); it++) {
        ck_assert_dh_ok(dh_index_search(m->ix, q, 4, 5, d, id));
        for (int j = 0; j < 4 * 5; j++) ck_assert(id[j] >= -1);
        dh_range_result *rr = NULL;
        ck_assert_dh_ok(dh_index_range_search(m->ix, q, 4, 20, &rr));
        dh_range_result_free(rr);
        (void)dh_index_count(m->ix);
        atomic_fetch_add(&m->ops, 1);
    }
    return NULL;
}

static void *mixed_writer(void *arg)
{
    mixed *m = arg;
    uint8_t codes[16 * 8];
    int64_t ids[16];
    for (int it = 0; it < 40 / SLOW + 5; it++) {
        dh_test_fill(codes, sizeof codes, (uint64_t)it + 11);
        pthread_mutex_lock(&m->id_mu);
        for (int j = 0; j < 16; j++) ids[j] = m->next_id++;
        pthread_mutex_unlock(&m->id_mu);
        ck_assert_dh_ok(dh_index_add_with_ids(m->ix, codes, 16, ids));
        size_t removed = 0;
        ck_assert_dh_ok(dh_index_remove_ids(m->ix, ids, 8, &removed));
        ck_assert_uint_eq(removed, 8);
        if (it % 8 == 7) ck_assert_dh_ok(dh_index_compact(m->ix));
        atomic_fetch_add(&m->ops, 1);
    }
    return NULL;
}

static void *mixed_saver(void *arg)
{
    mixed *m = arg;
    for (int it = 0; it < 10 / SLOW + 2; it++) {
        ck_assert_dh_ok(dh_index_save(m->ix, m->path));
        dh_index *back = NULL;
        ck_assert_dh_ok(dh_index_load(m->path, &back));
        dh_index_free(back);
    }
    return NULL;
}

START_TEST(mixed_operations_from_threads)
{
    char path[600];
    snprintf(path, sizeof path, "%s/conc.dhix", dh_test_tmpdir());
    mixed m = {make_index(64, 2000, 2), path, 0, 0, 1000000, PTHREAD_MUTEX_INITIALIZER};
    pthread_t r[2], w[2], s;
    for (int i = 0; i < 2; i++) pthread_create(&r[i], NULL, mixed_reader, &m);
    for (int i = 0; i < 2; i++) pthread_create(&w[i], NULL, mixed_writer, &m);
    pthread_create(&s, NULL, mixed_saver, &m);
    for (int i = 0; i < 2; i++) pthread_join(w[i], NULL);
    pthread_join(s, NULL);
    atomic_store(&m.stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(r[i], NULL);
    /* each writer iteration adds 16 and removes 8 of its own rows */
    size_t iters = 2 * (size_t)(40 / SLOW + 5);
    ck_assert_uint_eq(dh_index_count(m.ix), 2000 + 8 * iters);
    ck_assert_dh_ok(dh_index_compact(m.ix));
    ck_assert_uint_eq(dh_index_count(m.ix), 2000 + 8 * iters);
    dh_index_free(m.ix);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("index_concurrency");
    TCase *tc = tcase_create("locks");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, writer_not_starved_by_readers);
    tcase_add_test(tc, mixed_operations_from_threads);
    suite_add_tcase(s, tc);
    return dh_test_run(s);
}
