/* tests/check_alloc_failure.c -- issue 19: allocation-failure injection. The
 * allocator's test hook (lib/core/alloc_budget.h) fails the Nth allocation; each
 * scenario is run once to count its allocations, then again failing each of them in
 * turn. Every call must return DH_OK or, when the injected failure hit it,
 * DH_E_NO_MEMORY; objects a failed call was given stay usable (checked with the hook
 * off); nothing leaks (the ASan build runs these with LeakSanitizer). */
#include "testutil.h"

#include "core/alloc_budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K 64
#define CB (K / 8)
#define N 200

static char g_dir[600];
static long g_fail_at;
static uint8_t g_codes[N * CB];

static const char *path_of(const char *name)
{
    static char p[4][700];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", g_dir, name);
    return p[k];
}

/* One step of a scenario: DH_OK, or DH_E_NO_MEMORY with the injected failure seen. */
#define STEP(expr)                                                                       \
    do {                                                                                 \
        dh_status s_ = (expr);                                                           \
        if (s_ != DH_OK) {                                                               \
            ck_assert_msg(s_ == DH_E_NO_MEMORY && dh__alloc_test_failed(),               \
                          "%s returned %d (%s) with allocation %ld failing", #expr, s_,  \
                          dh_last_error(), g_fail_at);                                   \
            goto out;                                                                    \
        }                                                                                \
    } while (0)

static dh_index *fresh_index(void)
{
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = K;
    o.n_threads = 1; /* allocations on this thread only */
    dh_index *ix = NULL;
    dh_status st = dh_index_create(&o, &ix);
    return st == DH_OK ? ix : NULL;
}

/* index: create, add, search, range search, save, load, mmap load, remove, compact,
 * npy export; after a failed mutation the index still holds what it held before */
static void scenario_index(void)
{
    dh_index *ix = NULL, *back = NULL, *mapped = NULL;
    dh_range_result *rr = NULL;
    int32_t d[5 * 10];
    int64_t id[5 * 10];
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = K;
    o.n_threads = 1;
    STEP(dh_index_create(&o, &ix));
    STEP(dh_index_add(ix, g_codes, N / 2));
    size_t before = dh_index_count(ix);
    dh_status st = dh_index_add(ix, g_codes + N / 2 * CB, N / 2);
    if (st != DH_OK) { /* a failed add changes nothing */
        ck_assert_int_eq(st, DH_E_NO_MEMORY); /* the one injected failure is spent */
        ck_assert_uint_eq(dh_index_count(ix), before);
        ck_assert_dh_ok(dh_index_search(ix, g_codes, 5, 10, d, id));
        ck_assert_int_eq(id[0], 0);
        goto out;
    }
    STEP(dh_index_search(ix, g_codes, 5, 10, d, id));
    STEP(dh_index_range_search(ix, g_codes, 5, 20, &rr));
    STEP(dh_index_save(ix, path_of("ix.dhix")));
    STEP(dh_index_load(path_of("ix.dhix"), &back));
    STEP(dh_index_load_mmap(path_of("ix.dhix"), &mapped));
    STEP(dh_index_search(mapped, g_codes, 5, 10, d, id));
    int64_t rm[3] = {1, 2, 3};
    size_t n_rm = 0;
    STEP(dh_index_remove_ids(back, rm, 3, &n_rm));
    STEP(dh_index_compact(back));
    STEP(dh_index_export_npy(back, path_of("codes.npy"), DH_CODE_PACKED, path_of("ids.npy")));
out:
    dh_range_result_free(rr);
    dh_index_free(mapped);
    dh_index_free(back);
    dh_index_free(ix);
}

/* npy: save, load, load from a buffer, dataset from npy */
static void scenario_npy(void)
{
    dh_array *a = NULL, *b = NULL;
    dh_dataset *ds = NULL;
    float x[6 * 4];
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    int64_t shape[2] = {6, 4};
    static uint8_t img[512];
    size_t img_len = 0;
    STEP(dh_npy_save(path_of("x.npy"), DH_DTYPE_FLOAT32, 2, shape, x));
    STEP(dh_npy_load(path_of("x.npy"), &a));
    FILE *fp = fopen(path_of("x.npy"), "rb");
    img_len = fread(img, 1, sizeof img, fp);
    fclose(fp);
    STEP(dh_npy_load_buffer(img, img_len, &b));
    STEP(dh_dataset_load_npy(path_of("x.npy"), NULL, &ds));
out:
    dh_dataset_free(ds);
    dh_array_free(b);
    dh_array_free(a);
}

/* Run `scn` with no failure (count its allocations), then failing each in turn. */
static void sweep(void (*scn)(void), const char *name, long min_calls)
{
    dh__alloc_test_arm(0);
    g_fail_at = 0;
    scn();
    dh__alloc_test_arm(0);
    scn(); /* the second run: files exist, same path as the sweep takes */
    long calls = dh__alloc_test_calls();
    dh__alloc_test_arm(-1);
    ck_assert_msg(calls >= min_calls, "%s: only %ld allocations counted", name, calls);
    long hit = 0;
    for (long i = 1; i <= calls; i++) {
        g_fail_at = i;
        dh__alloc_test_arm(i);
        scn();
        hit += dh__alloc_test_failed();
    }
    dh__alloc_test_arm(-1);
    ck_assert_msg(hit == calls, "%s: %ld of %ld injected failures were reached", name, hit,
                  calls);
    fprintf(stderr, "alloc-failure sweep %s: %ld allocation sites failed one by one\n", name,
            calls);
}

START_TEST(index_paths_fail_cleanly)
{
    sweep(scenario_index, "index", 20);
}
END_TEST

START_TEST(npy_paths_fail_cleanly)
{
    sweep(scenario_npy, "npy", 6);
}
END_TEST

START_TEST(budget_refuses_and_nests)
{
    dh__alloc_budget outer, inner;
    dh__alloc_budget_begin(&outer, 1000);
    void *p = dh__alloc(600);
    ck_assert_ptr_nonnull(p);
    dh__alloc_budget_begin(&inner, 100);
    ck_assert_ptr_null(dh__alloc(200));
    ck_assert(inner.hit);
    dh__alloc_budget_end(&inner);
    ck_assert_ptr_null(dh__alloc(600)); /* outer: 600 + 600 > 1000 */
    ck_assert(outer.hit);
    dh__alloc_budget_end(&outer);
    void *q = dh__alloc(600); /* no budget */
    ck_assert_ptr_nonnull(q);
    dh__free(p), dh__free(q);
}
END_TEST

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "%s", dh_test_tmpdir());
    dh_test_fill(g_codes, sizeof g_codes, 42);
    Suite *s = suite_create("alloc_failure");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, index_paths_fail_cleanly);
    tcase_add_test(tc, npy_paths_fail_cleanly);
    tcase_add_test(tc, budget_refuses_and_nests);
    suite_add_tcase(s, tc);
    return dh_test_run(s);
}
