/* tests/check_train.c -- the trainer: learning happens, runs are deterministic,
 * checkpoints resume bit-exactly, callbacks stop runs, bad input is rejected.
 * Uses an MLP on synthetic class-clustered feature rows so the suite stays fast. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

enum { N = 1200, D = 24, C = 6 };

static float *g_x;
static int32_t g_y[N];

/* Class c shifts coordinates c, c+C, ... by +1.2; uniform noise of width 3. */
static void make_data(void)
{
    if (g_x) return;
    g_x = malloc((size_t)N * D * sizeof(float));
    uint64_t s = 7;
    for (int i = 0; i < N; i++) {
        g_y[i] = i % C;
        for (int d = 0; d < D; d++) {
            double u = (double)(dh_test_rand(&s) >> 11) / 9007199254740992.0;
            g_x[i * D + d] = (float)((d % C == g_y[i] ? 1.2 : 0.0) + (u - 0.5) * 3.0);
        }
    }
}

typedef struct run {
    dh_dataset *ds;
    dh_model *m;
    dh_loss *loss;
    dh_trainer *t;
} run;

static dh_status setup(run *r, const char *method, uint32_t K, dh_trainer_options *to)
{
    make_data();
    memset(r, 0, sizeof *r);
    DH_TRY_T(dh_dataset_from_features(g_x, N, D, g_y, NULL, C, &r->ds));
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = "mlp:24-48";
    mo.n_bits = K;
    dh_loss_options lo;
    dh_loss_options_init(&lo);
    lo.n_bits = K;
    lo.n_classes = C;
    lo.n_train = N;
    DH_TRY_T(dh_loss_create(method, &lo, &r->loss));
    int32_t act;
    DH_TRY_T(dh_loss_head_hint(r->loss, &act, NULL));
    mo.head = act;
    DH_TRY_T(dh_model_create(&mo, &r->m));
    return dh_trainer_create(r->m, r->loss, r->ds, to, &r->t);
}

static void teardown(run *r)
{
    dh_trainer_free(r->t);
    dh_loss_free(r->loss);
    dh_model_free(r->m);
    dh_dataset_free(r->ds);
}

typedef struct epoch_log {
    double loss[64];
    int n_epochs, stop_after, batches;
} epoch_log;

static int32_t on_progress(const dh_train_progress *p, void *user)
{
    epoch_log *l = user;
    ck_assert_uint_ge(p->struct_size, sizeof *p);
    if (p->event == DH_TRAIN_EVENT_BATCH) {
        l->batches++;
        ck_assert(isfinite(p->loss) && p->eta_s >= 0 && p->batch < p->batches);
    }
    if (p->event == DH_TRAIN_EVENT_EPOCH) {
        l->loss[l->n_epochs++] = p->loss;
        if (l->stop_after && l->n_epochs == l->stop_after) return 1;
    }
    return 0;
}

static void codes_of(run *r, uint8_t *codes)
{
    ck_assert_dh_ok(dh_model_encode_dataset(r->m, r->ds, codes, NULL));
}

static double map_of(const uint8_t *codes, uint32_t K)
{
    dh_eval_options eo;
    dh_eval_options_init(&eo);
    eo.n_bits = K;
    double map = 0;
    ck_assert_dh_ok(dh_eval_map(&eo, codes, g_y, N, codes, g_y, N, &map, NULL));
    return map;
}

START_TEST(test_train_run_loss_falls_and_map_beats_chance)
{
    const char *methods[] = {"dch", "csq", "hashnet"};
    for (size_t mi = 0; mi < 3; mi++) {
        dh_trainer_options to;
        dh_trainer_options_init(&to);
        to.epochs = 10;
        to.batch_size = 100;
        to.optimizer = DH_OPTIM_ADAM; /* the papers' recipes assume pretrained CNNs */
        to.lr = 1e-3;
        epoch_log log = {0};
        to.callback = on_progress;
        to.callback_user = &log;
        run r;
        ck_assert_dh_ok(setup(&r, methods[mi], 32, &to));
        uint8_t before[N * 4], after[N * 4];
        codes_of(&r, before);
        ck_assert_dh_ok(dh_trainer_run(r.t));
        codes_of(&r, after);
        ck_assert_int_eq(log.n_epochs, 10);
        ck_assert_int_eq(log.batches, 10 * (N / 100));
        /* DPSH's loss is measured against a memory bank of codes that moves with the
         * network, so only the in-batch methods must show a falling epoch loss */
        if (mi > 0)
            ck_assert_msg(log.loss[9] < 0.9 * log.loss[0], "%s: loss %g -> %g", methods[mi],
                          log.loss[0], log.loss[9]);
        double m0 = map_of(before, 32), m1 = map_of(after, 32);
        if (getenv("DH_VERBOSE")) printf("%s: mAP %.3f -> %.3f\n", methods[mi], m0, m1);
        ck_assert_msg(m1 > 0.5 && m1 > m0 + 0.2, "%s: mAP %g -> %g (chance ~%g)", methods[mi],
                      m0, m1, 1.0 / C);
        teardown(&r);
    }
}
END_TEST

START_TEST(test_train_run_is_deterministic)
{
    uint8_t a[N * 2], b[N * 2];
    for (int k = 0; k < 2; k++) {
        dh_trainer_options to;
        dh_trainer_options_init(&to);
        to.epochs = 2;
        to.seed = 42;
        run r;
        ck_assert_dh_ok(setup(&r, "dpsh", 16, &to));
        ck_assert_dh_ok(dh_trainer_run(r.t));
        codes_of(&r, k ? b : a);
        teardown(&r);
    }
    ck_assert(memcmp(a, b, sizeof a) == 0);
}
END_TEST

static void params_of(run *r, const char *path, uint8_t **buf, size_t *len)
{
    ck_assert_dh_ok(dh_model_save(r->m, path));
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    *buf = malloc(*len);
    ck_assert_uint_eq(fread(*buf, 1, *len, fp), *len);
    fclose(fp);
}

START_TEST(test_train_resume_is_bit_exact)
{
    char ck[512], m1[512], m2[512];
    snprintf(ck, sizeof ck, "%s/resume.ckpt", dh_test_tmpdir());
    snprintf(m1, sizeof m1, "%s/straight.dhm", dh_test_tmpdir());
    snprintf(m2, sizeof m2, "%s/resumed.dhm", dh_test_tmpdir());
    unlink(ck);
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    to.epochs = 4;
    to.keep_best = 0;
    run r;
    ck_assert_dh_ok(setup(&r, "hashnet", 16, &to));
    ck_assert_dh_ok(dh_trainer_run(r.t));
    uint8_t *a, *b;
    size_t la, lb;
    params_of(&r, m1, &a, &la);
    teardown(&r);
    /* interrupted after epoch 2 (the checkpoint of epoch 2 is written first) */
    epoch_log log = {0};
    log.stop_after = 2;
    to.callback = on_progress;
    to.callback_user = &log;
    to.checkpoint_path = ck;
    to.resume = 1;
    ck_assert_dh_ok(setup(&r, "hashnet", 16, &to));
    ck_assert_dh_fail(dh_trainer_run(r.t), DH_E_INTERRUPTED);
    teardown(&r);
    ck_assert_int_eq(access(ck, R_OK), 0);
    /* a fresh process-equivalent: new model, loss and trainer resume from the file */
    to.callback = NULL;
    ck_assert_dh_ok(setup(&r, "hashnet", 16, &to));
    ck_assert_dh_ok(dh_trainer_run(r.t));
    dh_train_progress p = {.struct_size = sizeof p};
    ck_assert_dh_ok(dh_trainer_get_progress(r.t, &p));
    ck_assert_int_eq(p.epoch, 3);
    params_of(&r, m2, &b, &lb);
    teardown(&r);
    ck_assert_uint_eq(la, lb);
    ck_assert_msg(memcmp(a, b, la) == 0, "resumed weights differ from the straight run");
    free(a);
    free(b);
}
END_TEST

START_TEST(test_train_resume_rejects_other_model)
{
    char ck[512];
    snprintf(ck, sizeof ck, "%s/other.ckpt", dh_test_tmpdir());
    unlink(ck);
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    to.epochs = 1;
    to.checkpoint_path = ck;
    run r;
    ck_assert_dh_ok(setup(&r, "dpsh", 16, &to));
    ck_assert_dh_ok(dh_trainer_run(r.t));
    teardown(&r);
    to.resume = 1;
    to.epochs = 2;
    ck_assert_dh_ok(setup(&r, "dpsh", 32, &to));
    ck_assert_dh_fail(dh_trainer_run(r.t), DH_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "16"));
    teardown(&r);
    /* a file that is not a checkpoint */
    FILE *fp = fopen(ck, "wb");
    fputs("garbage", fp);
    fclose(fp);
    ck_assert_dh_ok(setup(&r, "dpsh", 32, &to));
    ck_assert_dh_fail(dh_trainer_run(r.t), DH_E_FORMAT);
    teardown(&r);
}
END_TEST

START_TEST(test_train_create_bad_args)
{
    make_data();
    dh_dataset *ds;
    ck_assert_dh_ok(dh_dataset_from_features(g_x, N, D, g_y, NULL, C, &ds));
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = "mlp:24-48";
    mo.n_bits = 16;
    dh_model *m;
    ck_assert_dh_ok(dh_model_create(&mo, &m));
    dh_loss_options lo;
    dh_loss_options_init(&lo);
    lo.n_bits = 32;
    lo.n_classes = C;
    dh_loss *l32, *l16c;
    ck_assert_dh_ok(dh_loss_create("csq", &lo, &l32));
    lo.n_bits = 16;
    lo.n_classes = C + 1;
    ck_assert_dh_ok(dh_loss_create("csq", &lo, &l16c));
    dh_trainer *t = (dh_trainer *)1;
    ck_assert_dh_fail(dh_trainer_create(NULL, l32, ds, NULL, &t), DH_E_INVALID_ARG);
    ck_assert_ptr_null(t);
    ck_assert_dh_fail(dh_trainer_create(m, l32, ds, NULL, &t), DH_E_SHAPE);
    ck_assert_dh_fail(dh_trainer_create(m, l16c, ds, NULL, &t), DH_E_SHAPE);
    ck_assert_dh_fail(dh_trainer_create(m, l32, ds, NULL, NULL), DH_E_INVALID_ARG);
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    to.resume = 1;
    lo.n_classes = C;
    dh_loss *ok;
    ck_assert_dh_ok(dh_loss_create("csq", &lo, &ok));
    ck_assert_dh_fail(dh_trainer_create(m, ok, ds, &to, &t), DH_E_INVALID_ARG);
    dh_trainer_options_init(&to);
    to.reserved0 = 1;
    ck_assert_dh_fail(dh_trainer_create(m, ok, ds, &to, &t), DH_E_INVALID_ARG);
    struct { dh_trainer_options o; uint64_t future; } big;
    dh_trainer_options_init(&big.o);
    big.o.struct_size = sizeof big;
    big.future = 3;
    ck_assert_dh_fail(dh_trainer_create(m, ok, ds, &big.o, &t), DH_E_VERSION);
    big.future = 0;
    big.o.epochs = 1;
    ck_assert_dh_ok(dh_trainer_create(m, ok, ds, &big.o, &t));
    dh_dataset *other;
    ck_assert_dh_ok(dh_dataset_from_features(g_x, N, D, g_y, NULL, C + 2, &other));
    ck_assert_dh_fail(dh_trainer_set_validation(t, other, other), DH_E_SHAPE);
    ck_assert_dh_fail(dh_trainer_set_validation(t, ds, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh_trainer_set_validation(t, NULL, NULL));
    dh_train_progress p;
    p.struct_size = 0;
    ck_assert_dh_fail(dh_trainer_get_progress(t, &p), DH_E_INVALID_ARG);
    ck_assert_ptr_nonnull(dh_trainer_optimizer(t));
    dh_trainer_free(t);
    dh_trainer_free(NULL);
    ck_assert_dh_fail(dh_model_encode_dataset(m, ds, NULL, NULL), DH_E_INVALID_ARG);
    dh_loss_free(ok);
    dh_loss_free(l32);
    dh_loss_free(l16c);
    dh_model_free(m);
    dh_dataset_free(other);
    dh_dataset_free(ds);
}
END_TEST

START_TEST(test_train_validation_keeps_best)
{
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    to.epochs = 3;
    to.eval_every = 1;
    epoch_log log = {0};
    to.callback = on_progress;
    to.callback_user = &log;
    run r;
    ck_assert_dh_ok(setup(&r, "csq", 16, &to));
    ck_assert_dh_ok(dh_trainer_set_validation(r.t, r.ds, r.ds));
    ck_assert_dh_ok(dh_trainer_run(r.t));
    dh_train_progress p = {.struct_size = sizeof p};
    ck_assert_dh_ok(dh_trainer_get_progress(r.t, &p));
    ck_assert(p.best_epoch >= 0 && p.best_epoch < 3);
    ck_assert(p.best_map >= p.map - 1e-12);
    /* the model now holds the best weights: its mAP equals best_map */
    uint8_t codes[N * 2];
    codes_of(&r, codes);
    ck_assert_double_eq_tol(map_of(codes, 16), p.best_map, 1e-12);
    teardown(&r);
}
END_TEST

static Suite *train_suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("Learn");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_train_run_loss_falls_and_map_beats_chance);
    tcase_add_test(tc, test_train_run_is_deterministic);
    tcase_add_test(tc, test_train_validation_keeps_best);
    suite_add_tcase(s, tc);
    tc = tcase_create("Checkpoint");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_train_resume_is_bit_exact);
    tcase_add_test(tc, test_train_resume_rejects_other_model);
    suite_add_tcase(s, tc);
    tc = tcase_create("Args");
    tcase_add_test(tc, test_train_create_bad_args);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dh_test_run(train_suite()); }
