/* tests/check_model_allocfail.c -- issue 19: allocation-failure injection over model
 * create / save / load / encode (see tests/check_alloc_failure.c for the method). */
#include "testutil.h"

#include "core/alloc_budget.h"

#include <stdio.h>
#include <stdlib.h>

static char g_path[700];
static long g_fail_at;

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

static void scenario_model(void)
{
    dh_model *m = NULL, *back = NULL;
    dh_model_options o;
    dh_model_options_init(&o);
    o.encoder = "mlp:12-16";
    o.n_bits = 16;
    o.batch_size = 4;
    float x[3 * 12];
    for (int i = 0; i < 36; i++) x[i] = (float)(i % 7) - 3.0f;
    uint8_t codes[3 * 2];
    float c[3] = {1, 2, 3};
    int64_t shape[1] = {3};
    STEP(dh_model_create(&o, &m));
    STEP(dh_model_set_metadata(m, "note", "allocation sweep"));
    STEP(dh_model_set_tensor(m, "centers", DH_DTYPE_FLOAT32, 1, shape, c));
    STEP(dh_model_save(m, g_path));
    STEP(dh_model_load(g_path, &back));
    STEP(dh_model_encode_float(back, x, 3, 12, codes, NULL));
out:
    dh_model_free(back);
    dh_model_free(m);
}

START_TEST(model_paths_fail_cleanly)
{
    dh_set_num_threads(1); /* allocations on this thread only */
    snprintf(g_path, sizeof g_path, "%s/m.dhm", dh_test_tmpdir());
    dh__alloc_test_arm(0);
    scenario_model();
    long calls = dh__alloc_test_calls();
    dh__alloc_test_arm(-1);
    ck_assert_int_ge(calls, 20);
    long hit = 0;
    for (long i = 1; i <= calls; i++) {
        g_fail_at = i;
        dh__alloc_test_arm(i);
        scenario_model();
        hit += dh__alloc_test_failed();
    }
    dh__alloc_test_arm(-1);
    ck_assert_int_eq(hit, calls);
    fprintf(stderr, "alloc-failure sweep model: %ld allocation sites failed one by one\n", calls);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model_allocfail");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, model_paths_fail_cleanly);
    suite_add_tcase(s, tc);
    return dh_test_run(s);
}
