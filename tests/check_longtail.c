/* tests/check_longtail.c -- long-tail hashing: effective-number class weights, the
 * LTHNet meta-embedding module (finite-difference gradients, memory refresh), its model
 * integration (parameters, save/load, memory pass, trainer), and the "lthnet" and
 * "dualproxy" losses (finite-difference gradients, weighting, options, bad inputs).
 * The straight-through hash branch of dualproxy is checked against PyTorch in
 * tests/python/test_longtail.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash/hash.h"
#include "model/model.h"
#include "loss/loss.h"
#include "testutil.h"

static void rand_fill(float *x, size_t n, uint64_t seed, float scale)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++)
        x[i] = scale * (float)((double)(dh_test_rand(&s) >> 11) / 9007199254740992.0 * 2 - 1);
}

/* ---- class-balanced weights ---------------------------------------------- */

START_TEST(test_longtail_weights_values)
{
    const int64_t counts[4] = {100, 10, 1, 0};
    float w[4];
    ck_assert_dh_ok(dh_class_balanced_weights(counts, 4, 0.9, w));
    /* E_n = (1 - 0.9^n) / 0.1: 9.99973, 6.51322, 1, (0 -> 1) */
    ck_assert_double_eq_tol(w[0], 1.0 / 9.999734386, 1e-6);
    ck_assert_double_eq_tol(w[1], 1.0 / 6.513215599, 1e-6);
    ck_assert_double_eq_tol(w[2], 1.0, 1e-7);
    ck_assert_double_eq_tol(w[3], 1.0, 1e-7);
    ck_assert_dh_ok(dh_class_balanced_weights(counts, 4, 0.0, w));
    for (int c = 0; c < 4; c++) ck_assert_float_eq(w[c], 1.0f);
    /* beta -> 1: inverse frequency (head class 100x lighter than a 1-sample class) */
    ck_assert_dh_ok(dh_class_balanced_weights(counts, 3, 0.999999, w));
    ck_assert_double_eq_tol(w[0], 0.01, 1e-4);
}
END_TEST

START_TEST(test_longtail_weights_bad_args)
{
    const int64_t counts[2] = {5, -1};
    float w[2];
    ck_assert_dh_fail(dh_class_balanced_weights(NULL, 2, 0.9, w), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_class_balanced_weights(counts, 2, 0.9, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_class_balanced_weights(counts, 0, 0.9, w), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_class_balanced_weights(counts, 1, 1.0, w), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_class_balanced_weights(counts, 1, -0.1, w), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_class_balanced_weights(counts, 1, NAN, w), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_class_balanced_weights(counts, 2, 0.9, w), DH_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "counts[1]"));
}
END_TEST

/* ---- meta-embedding module ----------------------------------------------- */

enum { MN = 5, MD = 6, MC = 3 };

/* L = sum(R (.) v) for the module's current parameters. */
static double meta_objective(dh__meta *t, const float *f, const float *R)
{
    const float *v;
    ck_assert_dh_ok(dh__meta_forward(t, f, MN, 0, &v));
    double s = 0;
    for (size_t i = 0; i < MN * MD; i++) s += (double)R[i] * v[i];
    return s;
}

static void check_fd(const char *what, float *x, size_t n, const float *g, dh__meta *t,
                     const float *f, const float *R)
{
    const float eps = 1e-2f;
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i];
        x[i] = x0 + eps;
        double lp = meta_objective(t, f, R);
        x[i] = x0 - eps;
        double lm = meta_objective(t, f, R);
        x[i] = x0;
        double num = (lp - lm) / (2 * eps);
        if (fabs(num - g[i]) > 2e-3 + 2e-3 * fabs(num))
            ck_abort_msg("%s[%zu]: analytic %g, numeric %g", what, i, (double)g[i], num);
    }
}

START_TEST(test_longtail_meta_gradients)
{
    dh__meta *t;
    ck_assert_dh_ok(dh__meta_create(MC, MD, 7, &t));
    dh__param *p;
    ck_assert_uint_eq(dh__meta_params(t, &p), 5);
    ck_assert_str_eq(p[4].name, "meta.memory");
    ck_assert_int_eq(p[4].is_buffer, 1);
    rand_fill(p[4].data, MC * MD, 3, 1.0f);     /* a non-zero memory */
    rand_fill(p[0].data, MC * MD, 4, 0.8f);     /* a peaky hallucinator */
    float f[MN * MD], R[MN * MD], df[MN * MD];
    rand_fill(f, MN * MD, 5, 1.0f);
    rand_fill(R, MN * MD, 6, 1.0f);
    const float *v, *g;
    dh__meta_zero_grad(t);
    ck_assert_dh_ok(dh__meta_forward(t, f, MN, 1, &v));
    ck_assert_dh_ok(dh__meta_backward(t, R, &g));
    memcpy(df, g, sizeof df);
    ck_assert_dh_fail(dh__meta_backward(t, R, &g), DH_E_STATE); /* consumed */
    float *grads[4];
    for (int i = 0; i < 4; i++) {
        grads[i] = malloc(p[i].n * sizeof(float));
        memcpy(grads[i], p[i].grad, p[i].n * sizeof(float));
    }
    check_fd("df", f, MN * MD, df, t, f, R);
    for (int i = 0; i < 4; i++) check_fd(p[i].name, p[i].data, p[i].n, grads[i], t, f, R);
    for (int i = 0; i < 4; i++) free(grads[i]);
    dh__meta_free(t);
}
END_TEST

START_TEST(test_longtail_meta_zero_memory_is_identity)
{
    dh__meta *t;
    ck_assert_dh_ok(dh__meta_create(MC, MD, 1, &t));
    float f[MN * MD];
    rand_fill(f, MN * MD, 9, 2.0f);
    const float *v;
    ck_assert_dh_ok(dh__meta_forward(t, f, MN, 0, &v));
    for (size_t i = 0; i < MN * MD; i++) ck_assert_float_eq(v[i], f[i]);
    dh__meta_free(t);
    ck_assert_dh_fail(dh__meta_create(0, MD, 1, &t), DH_E_INVALID_ARG);
    ck_assert_ptr_null(t);
    ck_assert_dh_fail(dh__meta_create(MC, 20000, 1, &t), DH_E_INVALID_ARG);
    dh__meta_free(NULL);
}
END_TEST

START_TEST(test_longtail_meta_memory_means)
{
    dh__meta *t;
    ck_assert_dh_ok(dh__meta_create(MC, 2, 1, &t));
    dh__param *p;
    dh__meta_params(t, &p);
    p[4].data[4] = 7.0f, p[4].data[5] = 8.0f; /* class 2 is never seen: keeps its row */
    const float f[4 * 2] = {1, 2, 3, 4, 5, 6, 10, 20};
    /* rows: class 0, class 1, class 0 + 1 (multi-label), class 0 */
    const float Y[4 * MC] = {1, 0, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0};
    dh__meta_memory_begin(t, Y, 4);
    const float *v;
    ck_assert_dh_ok(dh__meta_forward(t, f, 3, 0, &v));      /* delivered in two calls */
    ck_assert_dh_ok(dh__meta_forward(t, f + 6, 1, 0, &v));
    size_t seen = 0;
    ck_assert_uint_eq(dh__meta_memory_commit(t, &seen), 2);
    ck_assert_uint_eq(seen, 4);
    const float want[MC * 2] = {16.0f / 3, 28.0f / 3, 4, 5, 7, 8};
    for (int i = 0; i < MC * 2; i++) ck_assert_float_eq_tol(p[4].data[i], want[i], 1e-5f);
    /* without a pass, forwards do not touch the memory */
    ck_assert_dh_ok(dh__meta_forward(t, f, 4, 0, &v));
    ck_assert_float_eq_tol(p[4].data[0], want[0], 1e-5f);
    dh__meta_free(t);
}
END_TEST

/* ---- model integration ---------------------------------------------------- */

enum { FN = 40, FD = 8, FC = 4, FK = 16 };

static dh_model *make_mlp_model(void)
{
    dh_model_options o;
    dh_model_options_init(&o);
    o.encoder = "mlp:8-12";
    o.n_bits = FK;
    o.batch_size = 16;
    dh_model *m;
    ck_assert_dh_ok(dh_model_create(&o, &m));
    return m;
}

/* Gaussian blobs: class c centred at 2 e_c (+ noise). */
static dh_dataset *make_blobs(size_t n, uint64_t seed, float *x, int32_t *cls)
{
    rand_fill(x, n * FD, seed, 0.5f);
    for (size_t i = 0; i < n; i++) {
        cls[i] = (int32_t)(i % FC);
        x[i * FD + (size_t)cls[i]] += 2.0f;
    }
    dh_dataset *ds;
    ck_assert_dh_ok(dh_dataset_from_features(x, n, FD, cls, NULL, FC, &ds));
    return ds;
}

START_TEST(test_longtail_model_meta_params_and_errors)
{
    dh_model *m = make_mlp_model();
    ck_assert_uint_eq(dh_model_meta_classes(m), 0);
    size_t before = dh__model_params(m, NULL);
    ck_assert_dh_fail(dh_model_add_meta_embedding(NULL, 4), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_model_add_meta_embedding(m, 0), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_model_add_meta_embedding(m, 70000), DH_E_INVALID_ARG);
    float x[FN * FD];
    int32_t cls[FN];
    dh_dataset *ds = make_blobs(FN, 1, x, cls);
    ck_assert_dh_fail(dh_model_update_class_memory(m, ds), DH_E_STATE);
    ck_assert_dh_ok(dh_model_add_meta_embedding(m, FC));
    ck_assert_dh_fail(dh_model_add_meta_embedding(m, FC), DH_E_STATE);
    ck_assert_uint_eq(dh_model_meta_classes(m), FC);
    dh__model_param *mp;
    size_t n = dh__model_params(m, &mp);
    ck_assert_uint_eq(n, before + 5);
    ck_assert_str_eq(mp[n - 1].p.name, "meta.memory");
    ck_assert_int_eq(mp[n - 1].group, DH_PARAM_GROUP_HEAD);
    ck_assert_int_eq((int)mp[n - 3].p.shape[0], 12); /* selector [D, D] */
    ck_assert_dh_fail(dh_model_update_class_memory(m, NULL), DH_E_INVALID_ARG);
    dh_dataset *wrong;
    ck_assert_dh_ok(dh_dataset_from_features(x, FN, FD, cls, NULL, FC + 1, &wrong));
    ck_assert_dh_fail(dh_model_update_class_memory(m, wrong), DH_E_SHAPE);
    ck_assert_uint_eq(dh_model_meta_classes(NULL), 0);
    dh_dataset_free(wrong);
    dh_dataset_free(ds);
    dh_model_free(m);
}
END_TEST

START_TEST(test_longtail_model_memory_is_class_mean)
{
    dh_model *m = make_mlp_model();
    ck_assert_dh_ok(dh_model_add_meta_embedding(m, FC));
    float x[FN * FD];
    int32_t cls[FN];
    dh_dataset *ds = make_blobs(FN, 2, x, cls);
    ck_assert_dh_ok(dh_model_update_class_memory(m, ds));
    /* reference: the encoder's inference features, averaged per class */
    float feat[FN * 12];
    ck_assert_dh_ok(dh_encoder_forward(dh_model_encoder(m), x, FN, 0, feat));
    double want[FC * 12] = {0};
    for (size_t i = 0; i < FN; i++)
        for (size_t j = 0; j < 12; j++) want[(size_t)cls[i] * 12 + j] += feat[i * 12 + j] / 10.0;
    dh__model_param *mp;
    size_t n = dh__model_params(m, &mp);
    const float *M = mp[n - 1].p.data;
    double nz = 0;
    for (size_t i = 0; i < FC * 12; i++) {
        ck_assert_double_eq_tol(M[i], want[i], 1e-4);
        nz += fabs(M[i]);
    }
    ck_assert(nz > 0);
    dh_dataset_free(ds);
    dh_model_free(m);
}
END_TEST

START_TEST(test_longtail_model_save_load_roundtrip)
{
    dh_model *m = make_mlp_model();
    ck_assert_dh_ok(dh_model_add_meta_embedding(m, FC));
    float x[FN * FD];
    int32_t cls[FN];
    dh_dataset *ds = make_blobs(FN, 3, x, cls);
    ck_assert_dh_ok(dh_model_update_class_memory(m, ds));
    float u1[FN * FK], u2[FN * FK];
    ck_assert_dh_ok(dh_model_encode_float(m, x, FN, FD, NULL, u1));
    char path[512];
    snprintf(path, sizeof path, "%s/meta.dhm", dh_test_tmpdir());
    ck_assert_dh_ok(dh_model_save(m, path));
    dh_model *m2;
    ck_assert_dh_ok(dh_model_load(path, &m2));
    ck_assert_uint_eq(dh_model_meta_classes(m2), FC);
    ck_assert_dh_ok(dh_model_encode_float(m2, x, FN, FD, NULL, u2));
    for (size_t i = 0; i < FN * FK; i++) ck_assert_float_eq(u1[i], u2[i]);
    /* the meta embedding matters: a model without it encodes differently */
    dh_model *plain = make_mlp_model();
    ck_assert_dh_ok(dh_model_encode_float(plain, x, FN, FD, NULL, u2));
    int diff = 0;
    for (size_t i = 0; i < FN * FK; i++) diff |= u1[i] != u2[i];
    ck_assert(diff);
    dh_model_free(plain);
    dh_model_free(m2);
    dh_dataset_free(ds);
    dh_model_free(m);
}
END_TEST

/* Trainer + lthnet + meta-embedding on imbalanced blobs: the loss falls and the
 * codes separate the classes (mAP well above chance). */
static int refresh_cb(const dh_train_progress *p, void *user)
{
    void **a = user;
    if (p->event == DH_TRAIN_EVENT_EPOCH)
        return dh_model_update_class_memory(a[0], a[1]) == DH_OK ? 0 : 1;
    return 0;
}

START_TEST(test_longtail_train_lthnet_meta)
{
    enum { NT = 400 };
    static float x[NT * FD];
    static int32_t cls[NT];
    rand_fill(x, NT * FD, 11, 0.5f);
    size_t n = 0;
    for (int c = 0; c < FC; c++) { /* 200, 100, 50, 25 samples: imbalance 8 */
        size_t nc = (size_t)(200 >> c);
        for (size_t i = 0; i < nc && n < NT; i++, n++) {
            cls[n] = c;
            x[n * FD + (size_t)c] += 2.0f;
        }
    }
    dh_dataset *ds;
    ck_assert_dh_ok(dh_dataset_from_features(x, n, FD, cls, NULL, FC, &ds));
    dh_model *m = make_mlp_model();
    ck_assert_dh_ok(dh_model_add_meta_embedding(m, FC));
    dh_loss_options lo;
    dh_loss_options_init(&lo);
    lo.n_bits = FK;
    lo.n_classes = FC;
    dh_loss *L;
    ck_assert_dh_ok(dh_loss_create("lthnet", &lo, &L));
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    to.epochs = 6;
    to.batch_size = 32;
    to.lr = 1e-2;
    to.optimizer = DH_OPTIM_ADAM;
    dh_trainer *tr;
    ck_assert_dh_ok(dh_trainer_create(m, L, ds, &to, &tr));
    void *cb[2] = {m, ds};
    ck_assert_dh_ok(dh_trainer_set_callback(tr, refresh_cb, cb));
    ck_assert_dh_ok(dh_model_update_class_memory(m, ds));
    ck_assert_dh_ok(dh_trainer_run(tr));
    /* class weights came from the counts: the rarest class weighs 1 */
    float w[FC];
    ck_assert_dh_ok(dh_loss_get_tensor(L, "class_weights", w, FC));
    ck_assert_float_eq_tol(w[3], 1.0f, 1e-6f);
    ck_assert(w[0] < w[1] && w[1] < w[2] && w[2] < w[3]);
    uint8_t codes[NT * 2];
    ck_assert_dh_ok(dh_model_encode_float(m, x, n, FD, codes, NULL));
    double map = 0;
    dh_eval_options eo;
    dh_eval_options_init(&eo);
    eo.n_bits = FK;
    ck_assert_dh_ok(dh_eval_map(&eo, codes, cls, n, codes, cls, n, &map, NULL));
    ck_assert_msg(map > 0.8, "mAP %g", map);
    dh_trainer_free(tr);
    dh_loss_free(L);
    dh_model_free(m);
    dh_dataset_free(ds);
}
END_TEST

/* ---- losses -------------------------------------------------------------- */

enum { LB = 6, LK = 8, LC = 4 };

static dh_loss *make_loss(const char *name, double cb_beta, double hash_w, double quant)
{
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = LK;
    o.n_classes = LC;
    o.cb_beta = cb_beta;
    o.center_weight = hash_w;
    o.quant_weight = quant;
    dh_loss *L;
    ck_assert_dh_ok(dh_loss_create(name, &o, &L));
    const int64_t counts[LC] = {500, 120, 30, 5};
    ck_assert_dh_ok(dh_loss_init(L, NULL, 0, counts));
    return L;
}

static double loss_value(dh_loss *L, const float *U, const float *Y)
{
    float dU[LB * LK];
    double v;
    ck_assert_dh_ok(dh_loss_forward_backward(L, U, LB, Y, NULL, NULL, dU, &v));
    return v;
}

/* Finite differences of the loss value against dU and the parameter grads. */
static void loss_gradcheck(dh_loss *L, int check_params)
{
    float U[LB * LK], Y[LB * LC] = {0}, dU[LB * LK];
    rand_fill(U, LB * LK, 21, 0.9f);
    for (int i = 0; i < LB; i++) Y[i * LC + i % LC] = 1;
    Y[5 * LC + 0] = 1; /* a multi-label row */
    double v;
    ck_assert_dh_ok(dh_loss_forward_backward(L, U, LB, Y, NULL, NULL, dU, &v));
    ck_assert(isfinite(v) && v > 0);
    const double eps = 1e-3;
    for (size_t i = 0; i < LB * LK; i++) {
        float u0 = U[i];
        U[i] = (float)(u0 + eps);
        double lp = loss_value(L, U, Y);
        U[i] = (float)(u0 - eps);
        double lm = loss_value(L, U, Y);
        U[i] = u0;
        double num = (lp - lm) / (2 * eps);
        ck_assert_msg(fabs(num - dU[i]) < 1e-3 + 1e-2 * fabs(num), "%s dU[%zu] %g vs %g",
                      L->m->name, i, (double)dU[i], num);
    }
    if (!check_params) return;
    ck_assert_dh_ok(dh_loss_forward_backward(L, U, LB, Y, NULL, NULL, dU, &v));
    dh__param *p;
    size_t np = dh__loss_params(L, &p);
    for (size_t t = 0; t < np; t++) {
        float *g = malloc(p[t].n * sizeof(float));
        memcpy(g, p[t].grad, p[t].n * sizeof(float));
        for (size_t i = 0; i < p[t].n; i++) {
            float x0 = p[t].data[i];
            p[t].data[i] = (float)(x0 + eps);
            double lp = loss_value(L, U, Y);
            p[t].data[i] = (float)(x0 - eps);
            double lm = loss_value(L, U, Y);
            p[t].data[i] = x0;
            double num = (lp - lm) / (2 * eps);
            ck_assert_msg(fabs(num - g[i]) < 1e-3 + 1e-2 * fabs(num), "%s %s[%zu] %g vs %g",
                          L->m->name, p[t].name, i, (double)g[i], num);
        }
        free(g);
    }
}

START_TEST(test_longtail_lthnet_gradients)
{
    dh_loss *L = make_loss("lthnet", 0.99, NAN, 0.05);
    ck_assert_uint_eq(dh_loss_param_count(L), 2);
    ck_assert_str_eq(dh_loss_state_name(L, 0), "class_weights");
    loss_gradcheck(L, 1);
    dh_loss_free(L);
}
END_TEST

START_TEST(test_longtail_dualproxy_gradients)
{
    /* the hash branch reads sgn(u): with its weight 0 the loss is smooth in U */
    dh_loss *L = make_loss("dualproxy", 0.99, 0.0, 0.05);
    loss_gradcheck(L, 1);
    dh_loss_free(L);
    /* with it, the proxies' gradients are still exact (U is fixed, sgn(U) constant) */
    L = make_loss("dualproxy", 0.99, 1.0, 0.0);
    float U[LB * LK], Y[LB * LC] = {0}, dU[LB * LK], dU0[LB * LK];
    rand_fill(U, LB * LK, 22, 0.9f);
    for (int i = 0; i < LB; i++) Y[i * LC + i % LC] = 1;
    double v;
    ck_assert_dh_ok(dh_loss_forward_backward(L, U, LB, Y, NULL, NULL, dU, &v));
    dh_loss_free(L);
    L = make_loss("dualproxy", 0.99, 0.0, 0.0);
    ck_assert_dh_ok(dh_loss_forward_backward(L, U, LB, Y, NULL, NULL, dU0, &v));
    int differ = 0; /* the straight-through branch adds gradient */
    for (size_t i = 0; i < LB * LK; i++) differ |= fabsf(dU[i] - dU0[i]) > 1e-6f;
    ck_assert(differ);
    dh_loss_free(L);
    L = make_loss("dualproxy", 0.99, 1.0, 0.0);
    dh__param *p;
    size_t np = dh__loss_params(L, &p);
    ck_assert_uint_eq(np, 2);
    ck_assert_dh_ok(dh_loss_forward_backward(L, U, LB, Y, NULL, NULL, dU, &v));
    for (size_t t = 0; t < np; t++) {
        float *g = malloc(p[t].n * sizeof(float));
        memcpy(g, p[t].grad, p[t].n * sizeof(float));
        for (size_t i = 0; i < p[t].n; i++) {
            float x0 = p[t].data[i];
            p[t].data[i] = x0 + 1e-3f;
            double lp = loss_value(L, U, Y);
            p[t].data[i] = x0 - 1e-3f;
            double lm = loss_value(L, U, Y);
            p[t].data[i] = x0;
            double num = (lp - lm) / 2e-3;
            ck_assert_msg(fabs(num - g[i]) < 1e-3 + 1e-2 * fabs(num), "%s[%zu] %g vs %g",
                          p[t].name, i, (double)g[i], num);
        }
        free(g);
    }
    dh_loss_free(L);
}
END_TEST

START_TEST(test_longtail_lthnet_weighting)
{
    /* the same row costs w_c times more for a rare class: compare against beta = 0 */
    dh_loss *Lw = make_loss("lthnet", 0.999, NAN, 0.0);
    dh_loss *L1 = make_loss("lthnet", 0.0, NAN, 0.0);
    float U[LK], dU[LK], w[LC];
    rand_fill(U, LK, 31, 0.8f);
    ck_assert_dh_ok(dh_loss_get_tensor(Lw, "class_weights", w, LC));
    ck_assert_float_eq_tol(w[3], 1.0f, 1e-7f);
    ck_assert(w[0] < 0.05f);
    for (int32_t c = 0; c < LC; c++) {
        double vw, v1;
        ck_assert_dh_ok(dh_loss_forward_backward(Lw, U, 1, NULL, &c, NULL, dU, &vw));
        ck_assert_dh_ok(dh_loss_forward_backward(L1, U, 1, NULL, &c, NULL, dU, &v1));
        /* same seed: same classifier */
        ck_assert_double_eq_tol(vw, w[c] * v1, 1e-5 * v1);
    }
    dh_loss_free(Lw);
    dh_loss_free(L1);
}
END_TEST

START_TEST(test_longtail_options_and_bad_inputs)
{
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = LK;
    o.n_classes = LC;
    dh_loss *L = NULL;
    o.cb_beta = 1.0;
    ck_assert_dh_fail(dh_loss_create("lthnet", &o, &L), DH_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "cb_beta"));
    ck_assert_ptr_null(L);
    o.cb_beta = NAN;
    /* an older caller without cb_beta: the method default applies */
    o.struct_size = offsetof(dh_loss_options, cb_beta);
    ck_assert_dh_ok(dh_loss_create("LTHNet", &o, &L));
    dh_loss_options got;
    got.struct_size = sizeof got;
    ck_assert_dh_ok(dh_loss_get_options(L, &got));
    ck_assert_double_eq(got.cb_beta, 0.999);
    dh_loss_free(L);
    /* a newer caller: zero tail accepted, non-zero tail refused */
    struct {
        dh_loss_options o;
        double extra;
    } big;
    memset(&big, 0, sizeof big);
    dh_loss_options_init(&big.o);
    big.o.struct_size = sizeof big;
    big.o.n_bits = LK;
    big.o.n_classes = LC;
    ck_assert_dh_ok(dh_loss_create("dualproxy", &big.o, &L));
    dh_loss_free(L);
    big.extra = 1;
    ck_assert_dh_fail(dh_loss_create("dualproxy", &big.o, &L), DH_E_VERSION);
    /* bad batches */
    L = make_loss("dualproxy", 0.9, 1.0, 0.0);
    float U[LB * LK], dU[LB * LK];
    rand_fill(U, LB * LK, 41, 1.0f);
    int32_t cls[LB] = {0, 1, 2, 3, 0, 4};
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, LB, NULL, cls, NULL, dU, NULL),
                      DH_E_INVALID_ARG);
    cls[5] = 1;
    U[3] = NAN;
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, LB, NULL, cls, NULL, dU, NULL),
                      DH_E_INVALID_ARG);
    U[3] = 0.5f;
    ck_assert_dh_ok(dh_loss_forward_backward(L, U, LB, NULL, cls, NULL, dU, NULL));
    const int64_t neg[LC] = {1, 2, -3, 4};
    ck_assert_dh_fail(dh_loss_init(L, NULL, 0, neg), DH_E_INVALID_ARG);
    float buf[LC * LK];
    ck_assert_dh_fail(dh_loss_set_tensor(L, "hash_proxies", buf, 3), DH_E_SHAPE);
    dh_loss_free(L);
    dh_loss_free(NULL);
    /* a row with no class: zero loss and gradient */
    L = make_loss("lthnet", 0.9, NAN, 0.0);
    float Y[LC] = {0};
    double v = -1;
    ck_assert_dh_ok(dh_loss_forward_backward(L, U, 1, Y, NULL, NULL, dU, &v));
    ck_assert_double_eq(v, 0);
    for (int k = 0; k < LK; k++) ck_assert_float_eq(dU[k], 0);
    dh_loss_free(L);
}
END_TEST

static Suite *longtail_suite(void)
{
    Suite *s = suite_create("longtail");
    TCase *tc = tcase_create("Weights");
    tcase_add_test(tc, test_longtail_weights_values);
    tcase_add_test(tc, test_longtail_weights_bad_args);
    suite_add_tcase(s, tc);
    tc = tcase_create("MetaEmbedding");
    tcase_add_test(tc, test_longtail_meta_gradients);
    tcase_add_test(tc, test_longtail_meta_zero_memory_is_identity);
    tcase_add_test(tc, test_longtail_meta_memory_means);
    suite_add_tcase(s, tc);
    tc = tcase_create("Model");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_longtail_model_meta_params_and_errors);
    tcase_add_test(tc, test_longtail_model_memory_is_class_mean);
    tcase_add_test(tc, test_longtail_model_save_load_roundtrip);
    tcase_add_test(tc, test_longtail_train_lthnet_meta);
    suite_add_tcase(s, tc);
    tc = tcase_create("Losses");
    tcase_add_test(tc, test_longtail_lthnet_gradients);
    tcase_add_test(tc, test_longtail_dualproxy_gradients);
    tcase_add_test(tc, test_longtail_lthnet_weighting);
    tcase_add_test(tc, test_longtail_options_and_bad_inputs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dh_test_run(longtail_suite()); }
