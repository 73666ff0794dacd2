/* tests/check_train_checkpoint.c -- issue 19: the trainer checkpoint loader refuses every bad
 * counter, value and tensor with a message naming it, and resuming is all or nothing (a
 * refused checkpoint leaves the model as it was). Inputs are the fuzz seeds of
 * tests/fuzz/corpus/checkpoint (gen_checkpoint_corpus.py: the same trainer as here). */
#include "testutil.h"

#include "core/alloc_budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { N = 16, D = 8, C = 2 };

typedef struct run {
    dh_dataset *ds;
    dh_model *m;
    dh_loss *loss;
    dh_trainer *t;
    char ck[600];
} run;

static void setup(run *r, const char *seed)
{
    static float x[N * D];
    static int32_t y[N];
    for (int i = 0; i < N; i++) {
        y[i] = i % C;
        for (int d = 0; d < D; d++) x[i * D + d] = (float)((i * 7 + d * 3) % 11) / 11.0f - 0.5f;
    }
    memset(r, 0, sizeof *r);
    snprintf(r->ck, sizeof r->ck, "%s/%s", dh_test_tmpdir(), seed);
    char src[600];
    snprintf(src, sizeof src, "%s/tests/fuzz/corpus/checkpoint/%s", DH_SOURCE_DIR, seed);
    FILE *in = fopen(src, "rb"), *out = fopen(r->ck, "wb");
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(out);
    int c;
    while ((c = fgetc(in)) != EOF) fputc(c, out);
    fclose(in);
    fclose(out);
    ck_assert_dh_ok(dh_dataset_from_features(x, N, D, y, NULL, C, &r->ds));
    dh_loss_options lo;
    dh_loss_options_init(&lo);
    lo.n_bits = 8;
    lo.n_classes = C;
    lo.n_train = N;
    ck_assert_dh_ok(dh_loss_create("hashnet", &lo, &r->loss));
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = "mlp:8-16";
    mo.n_bits = 8;
    ck_assert_dh_ok(dh_loss_head_hint(r->loss, &mo.head, NULL));
    ck_assert_dh_ok(dh_model_create(&mo, &r->m));
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    to.epochs = 2;
    to.batch_size = 8;
    to.checkpoint_path = r->ck;
    to.resume = 1;
    to.keep_best = 0;
    ck_assert_dh_ok(dh_trainer_create(r->m, r->loss, r->ds, &to, &r->t));
}

static void teardown(run *r)
{
    dh_trainer_free(r->t);
    dh_model_free(r->m);
    dh_loss_free(r->loss);
    dh_dataset_free(r->ds);
    unlink(r->ck);
}

/* The model's codes for the data set: equal codes before and after means the model's
 * tensors were left alone (with BatchNorm in inference mode). */
static void codes_of(run *r, uint8_t *out)
{
    float x[N * D];
    for (int i = 0; i < N * D; i++) x[i] = (float)((i * 5) % 13) / 13.0f - 0.5f;
    ck_assert_dh_ok(dh_model_encode_float(r->m, x, N, D, out, NULL));
}

static void expect_refused(const char *seed, dh_status want, const char *needle)
{
    run r;
    setup(&r, seed);
    uint8_t before[N], after[N];
    codes_of(&r, before);
    ck_assert_dh_fail(dh_trainer_run(r.t), want);
    ck_assert_msg(strstr(dh_last_error(), needle) && strstr(dh_last_error(), "resume from"),
                  "%s: message '%s' lacks '%s'", seed, dh_last_error(), needle);
    codes_of(&r, after);
    ck_assert_msg(memcmp(before, after, sizeof before) == 0,
                  "%s: a refused checkpoint changed the model", seed);
    teardown(&r);
}

START_TEST(test_checkpoint_refuses_bad_counters)
{
    expect_refused("epoch_negative.ckpt", DH_E_FORMAT, "(next epoch) is -5, out of range");
    expect_refused("epoch_2e31.ckpt", DH_E_FORMAT, "(next epoch) is 2147483648");
    expect_refused("step_negative.ckpt", DH_E_FORMAT, "(optimizer step) is -1");
    expect_refused("best_epoch_2e40.ckpt", DH_E_FORMAT, "(best epoch) is 1099511627776");
    expect_refused("beta_nan.ckpt", DH_E_FORMAT, "beta) is nan");
    expect_refused("beta_zero.ckpt", DH_E_FORMAT, "beta) is 0");
    expect_refused("map_7.ckpt", DH_E_FORMAT, "(best mAP) is 7, not in [0, 1]");
    expect_refused("batches_3.ckpt", DH_E_SHAPE, "3 batches per epoch, this run has 2");
    expect_refused("running_var_negative.ckpt", DH_E_FORMAT,
                   "'model.bn1.running_var' element 0 is -1");
}
END_TEST

/* The optimizer's tensors come after the model's: a checkpoint missing one used to be
 * refused after the model's weights had already been overwritten. */
START_TEST(test_checkpoint_all_or_nothing)
{
    expect_refused("missing_optim.ckpt", DH_E_FORMAT, "'optim.fc1.weight.exp_avg' is missing");
    expect_refused("missing_model.ckpt", DH_E_FORMAT, "'model.fc1.weight' is missing");
    expect_refused("bad_format.ckpt", DH_E_FORMAT, "not a libdh checkpoint");
    expect_refused("bad_version.ckpt", DH_E_VERSION, "version '2'");
    expect_refused("other_bits.ckpt", DH_E_SHAPE, "16 bits");
    expect_refused("truncated.ckpt", DH_E_FORMAT, "data section");
}
END_TEST

START_TEST(test_checkpoint_good_seeds_resume)
{
    const char *seeds[2] = {"ok_epoch1.ckpt", "ok_done.ckpt"};
    const int32_t epoch[2] = {1, -1}; /* ok_done: nothing left, no epoch runs */
    for (int i = 0; i < 2; i++) {
        run r;
        setup(&r, seeds[i]);
        ck_assert_dh_ok(dh_trainer_run(r.t));
        dh_train_progress p = {.struct_size = sizeof p};
        ck_assert_dh_ok(dh_trainer_get_progress(r.t, &p));
        if (epoch[i] >= 0) ck_assert_int_eq(p.epoch, epoch[i]);
        teardown(&r);
    }
}
END_TEST

/* Allocation-failure sweep over the resume path (read, parse, check, copy): failing
 * each allocation in turn gives DH_OK or DH_E_NO_MEMORY, never changes the model on
 * failure, and leaks nothing (LeakSanitizer in the sanitizer pass). ok_done.ckpt has
 * no epoch left, so dh_trainer_run does nothing but resume. */
START_TEST(test_checkpoint_resume_allocation_failures)
{
    long n = 1;
    for (; n < 10000; n++) {
        run r;
        setup(&r, "ok_done.ckpt");
        uint8_t before[N], after[N];
        codes_of(&r, before);
        dh__alloc_test_arm(n);
        dh_status st = dh_trainer_run(r.t);
        int failed = dh__alloc_test_failed();
        dh__alloc_test_arm(0);
        ck_assert_msg(st == DH_OK || (failed && st == DH_E_NO_MEMORY),
                      "allocation %ld failed: status %d (%s)", n, st, dh_last_error());
        if (st != DH_OK) {
            codes_of(&r, after);
            ck_assert_msg(memcmp(before, after, sizeof before) == 0,
                          "allocation %ld: a failed resume changed the model", n);
        }
        teardown(&r);
        if (!failed) break; /* fewer than n allocations: every one has been failed */
    }
    ck_assert_int_gt(n, 2); /* the read buffer and the parser's tables at least */
}
END_TEST

Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *t = tcase_create("resume");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_checkpoint_refuses_bad_counters);
    tcase_add_test(t, test_checkpoint_all_or_nothing);
    tcase_add_test(t, test_checkpoint_good_seeds_resume);
    tcase_add_test(t, test_checkpoint_resume_allocation_failures);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(checkpoint_suite()); }
