/* tests/check_train_distill.c -- distillation from a frozen teacher (lib/train/distill.c,
 * dh__model_clone, dh__model_backward_ex) and its use by dh_incremental_session:
 * the clone encodes bit-identically, the feature-distillation gradient matches finite
 * differences (plain and meta-embedding models), distillation keeps the network near
 * the teacher and old classes retrievable in a codes-only DIHN session, and bad
 * weights are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "incremental_fixture.h"

static float *rand_rows(size_t n, uint64_t seed)
{
    float *x = malloc(n * D_ * sizeof(float));
    uint64_t s = seed;
    for (size_t i = 0; i < n * D_; i++) x[i] = (float)(fx_urand(&s) * 2 - 1);
    return x;
}

START_TEST(test_model_clone_encodes_identically)
{
    dh_model *m = make_model(3);
    dh__model_param *p;
    size_t np = dh__model_params(m, &p);
    for (size_t i = 0; i < np; i++) /* move away from the initialisation */
        for (size_t j = 0; j < p[i].p.n; j++) p[i].p.data[j] += 0.01f * (float)((j % 7) - 3);
    dh__model_params_changed(m);
    dh_model *c = NULL;
    ck_assert_dh_ok(dh__model_clone(m, &c));
    const size_t n = 50;
    float *x = rand_rows(n, 4), *u1 = malloc(n * KS_ * 4), *u2 = malloc(n * KS_ * 4);
    ck_assert_dh_ok(dh_model_encode_float(m, x, n, D_, NULL, u1));
    ck_assert_dh_ok(dh_model_encode_float(c, x, n, D_, NULL, u2));
    ck_assert_mem_eq(u1, u2, n * KS_ * 4);
    /* the clone is independent: changing it leaves the original alone */
    dh__model_param *q;
    dh__model_params(c, &q);
    q[0].p.data[0] += 1.0f;
    dh__model_params_changed(c);
    ck_assert_dh_ok(dh_model_encode_float(m, x, n, D_, NULL, u2));
    ck_assert_mem_eq(u1, u2, n * KS_ * 4);
    free(x), free(u1), free(u2);
    dh_model_free(c), dh_model_free(m);
    /* a fine-grained model (attention pool over smallcnn's feature map) */
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = "smallcnn";
    mo.n_bits = KS_;
    mo.fmap_pool = DH_FMAP_POOL_ATTN;
    mo.seed = 7;
    ck_assert_dh_ok(dh_model_create(&mo, &m));
    size_t np2 = dh__model_params(m, &p);
    for (size_t i = 0; i < np2; i++)
        for (size_t j = 0; j < p[i].p.n; j += 3) p[i].p.data[j] *= 1.01f;
    dh__model_params_changed(m);
    ck_assert_dh_ok(dh__model_clone(m, &c));
    const size_t ni = 6, len = 28 * 28;
    uint64_t s = 9;
    float *img = malloc(ni * len * 4), *v1 = malloc(ni * KS_ * 4), *v2 = malloc(ni * KS_ * 4);
    for (size_t i = 0; i < ni * len; i++) img[i] = (float)fx_urand(&s);
    ck_assert_dh_ok(dh_model_encode_float(m, img, ni, len, NULL, v1));
    ck_assert_dh_ok(dh_model_encode_float(c, img, ni, len, NULL, v2));
    ck_assert_mem_eq(v1, v2, ni * KS_ * 4);
    free(img), free(v1), free(v2);
    dh_model_free(c), dh_model_free(m);
}
END_TEST

/* J = w mean_{n x D} (f - f_t)^2 through dh__model_backward_ex vs central differences
 * on a few entries of every parameter tensor. */
static void check_feature_grad(dh_model *m, dh_model *teacher)
{
    const size_t n = 16;
    const double w = 3.0;
    float *x = rand_rows(n, 11), *U = malloc(n * KS_ * 4), *dU = calloc(n * KS_, 4);
    size_t D = 0;
    (void)dh__model_train_features(m, &D);
    float *ft = malloc(n * D * 4), *df = malloc(n * D * 4);
    ck_assert_dh_ok(dh__model_features(teacher, x, n, 0, ft));
#define OBJ(out)                                                                       \
    do {                                                                               \
        ck_assert_dh_ok(dh__model_forward_train(m, x, n, U));                          \
        const float *f_ = dh__model_train_features(m, NULL);                           \
        double j_ = 0;                                                                 \
        for (size_t i_ = 0; i_ < n * D; i_++) j_ += pow((double)f_[i_] - ft[i_], 2);   \
        (out) = w * j_ / (double)(n * D);                                              \
    } while (0)
    double J;
    dh__model_zero_grad(m);
    OBJ(J);
    const float *f = dh__model_train_features(m, NULL);
    for (size_t i = 0; i < n * D; i++) df[i] = (float)(2 * w * ((double)f[i] - ft[i]) / (n * D));
    ck_assert_dh_ok(dh__model_backward_ex(m, dU, df, n));
    ck_assert(J > 1e-4);
    dh__model_param *p;
    size_t np = dh__model_params(m, &p), checked = 0;
    for (size_t t = 0; t < np; t++) {
        if (p[t].p.is_buffer || !p[t].p.grad) continue;
        for (size_t k = 0; k < 3; k++) {
            size_t j = (k * 7919 + t) % p[t].p.n;
            float keep = p[t].p.data[j];
            const double eps = 1e-3;
            double jp, jm;
            p[t].p.data[j] = keep + (float)eps;
            dh__model_params_changed(m);
            OBJ(jp);
            p[t].p.data[j] = keep - (float)eps;
            dh__model_params_changed(m);
            OBJ(jm);
            p[t].p.data[j] = keep;
            dh__model_params_changed(m);
            double fd = (jp - jm) / (2 * eps), an = p[t].p.grad[j];
            ck_assert_msg(fabs(fd - an) <= 2e-3 * fmax(fabs(fd), 1e-2),
                          "%s[%zu]: analytic %.6g, finite difference %.6g", p[t].p.name, j, an,
                          fd);
            checked++;
        }
    }
    ck_assert_uint_ge(checked, 6);
#undef OBJ
    free(x), free(U), free(dU), free(ft), free(df);
}

START_TEST(test_feature_distillation_gradient)
{
    dh_model *teacher = make_model(3), *m = make_model(4);
    check_feature_grad(m, teacher);
    /* a meta-embedding model: d/df must come after the meta module's backward */
    int32_t cls[CS_ * 20];
    dh_dataset *ds = make_set(0, CS_, 20, 5, cls);
    ck_assert_dh_ok(dh_model_add_meta_embedding(m, CS_));
    ck_assert_dh_ok(dh_model_update_class_memory(m, ds));
    check_feature_grad(m, teacher);
    dh_dataset_free(ds);
    dh_model_free(teacher), dh_model_free(m);
}
END_TEST

/* Session 0 (ADSH on classes 0-2) then codes-only DIHN sessions on classes 3-4 from
 * the same start with distillation off, default, and very strong. */
START_TEST(test_incremental_distillation_reduces_forgetting)
{
    const size_t n_old = OLDC_ * PER_, n_new = (CS_ - OLDC_) * PER_;
    int32_t dbc[CS_ * PER_], qoc[OLDC_ * 40];
    dh_dataset *old = make_set(0, OLDC_, PER_, 1, dbc);
    dh_dataset *neu = make_set(OLDC_, CS_ - OLDC_, PER_, 2, dbc + n_old);
    dh_dataset *qo = make_set(0, OLDC_, 40, 3, qoc);
    dh_model *m0 = make_model(5);
    dh_index *ix0 = new_index(KS_);
    dh_trainer_options to;
    train_opts(&to, 6);
    dh_loss *adsh = session_loss("adsh", n_old);
    ck_assert_dh_ok(dh_incremental_session(m0, adsh, old, ix0, NULL, NULL, &to, NULL, NULL));
    size_t cb = dh_code_bytes(KS_), nq = dh_dataset_count(qo);
    uint8_t *codes0 = malloc(n_old * cb);
    ck_assert_dh_ok(dh_index_export(ix0, DH_CODE_PACKED, 0, n_old, codes0, NULL));
    float *u0 = malloc(nq * KS_ * 4), *u1 = malloc(nq * KS_ * 4);
    ck_assert_dh_ok(dh_model_encode_dataset(m0, qo, NULL, u0));
    float *yold = onehot(dbc, n_old);
    /* off, the defaults (tuned for smallcnn on Fashion-MNIST: here they only have to
     * run), strong */
    const double w[3][2] = {{0, 0}, {-1, -1}, {1e3, 1e4}};
    double map_old[3], drift[3];
    train_opts(&to, 10);
    for (int r = 0; r < 3; r++) {
        dh_model *m = NULL;
        ck_assert_dh_ok(dh__model_clone(m0, &m));
        dh_index *ix = new_index(KS_);
        ck_assert_dh_ok(dh_index_add(ix, codes0, n_old));
        dh_loss *dihn = session_loss("dihn", n_new);
        dh_incremental_options o;
        dh_incremental_options_init(&o);
        o.distill_codes = w[r][0], o.distill_features = w[r][1];
        ck_assert_dh_ok(dh_incremental_session(m, dihn, neu, ix, yold, NULL, &to, &o, NULL));
        map_old[r] = index_map(m, qo, qoc, ix, dbc);
        ck_assert_dh_ok(dh_model_encode_dataset(m, qo, NULL, u1));
        double d = 0;
        for (size_t i = 0; i < nq * KS_; i++) d += fabs((double)u1[i] - u0[i]);
        drift[r] = d / (double)(nq * KS_);
        dh_loss_free(dihn), dh_index_free(ix), dh_model_free(m);
    }
    /* a strong teacher keeps the outputs on unseen old-class inputs and with them the
     * old classes' retrieval (about 0.98 here, 0.43 without) */
    ck_assert_msg(drift[2] < 0.5 * drift[0], "mean |u - u0| on old-class queries: %.4f "
                  "without distillation, %.4f with weights 1e3, 1e4", drift[0], drift[2]);
    ck_assert_msg(map_old[2] > map_old[0] + 0.2 && map_old[2] > 0.8, "old-class mAP after a "
                  "codes-only DIHN session: %.3f without distillation, %.3f with weights 1e3, "
                  "1e4", map_old[0], map_old[2]);
    ck_assert(map_old[1] > 0 && drift[1] > 0);
    free(codes0), free(u0), free(u1), free(yold);
    dh_loss_free(adsh), dh_index_free(ix0), dh_model_free(m0);
    dh_dataset_free(old), dh_dataset_free(neu), dh_dataset_free(qo);
}
END_TEST

START_TEST(test_incremental_distillation_bad_args)
{
    int32_t dbc[2 * 20];
    dh_dataset *neu = make_set(OLDC_, 2, 20, 2, dbc);
    dh_model *m = make_model(5);
    dh_index *ix = new_index(KS_);
    dh_trainer_options to;
    train_opts(&to, 1);
    dh_loss *dih = session_loss("dih", 0);
    dh_incremental_options o;
    const double bad[] = {-2, -0.5, NAN, INFINITY, 1e13};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dh_incremental_options_init(&o);
        o.distill_codes = bad[i];
        ck_assert_dh_fail(dh_incremental_session(m, dih, neu, ix, NULL, NULL, &to, &o, NULL),
                          DH_E_INVALID_ARG);
        dh_incremental_options_init(&o);
        o.distill_features = bad[i];
        ck_assert_dh_fail(dh_incremental_session(m, dih, neu, ix, NULL, NULL, &to, &o, NULL),
                          DH_E_INVALID_ARG);
    }
    /* the teacher is the session-start network: no resuming a distilled session */
    char path[512];
    snprintf(path, sizeof path, "%s/distill.ckpt", dh_test_tmpdir());
    to.checkpoint_path = path;
    to.resume = 1;
    dh_incremental_options_init(&o);
    o.distill_features = 1;
    ck_assert_dh_fail(dh_incremental_session(m, dih, neu, ix, NULL, NULL, &to, &o, NULL),
                      DH_E_INVALID_ARG);
    ck_assert_uint_eq(dh_index_count(ix), 0);
    /* an options struct from 1.0 (no distill fields) takes the defaults */
    dh_incremental_options_init(&o);
    o.struct_size = offsetof(dh_incremental_options, distill_codes);
    to.checkpoint_path = NULL;
    to.resume = 0;
    ck_assert_dh_ok(dh_incremental_session(m, dih, neu, ix, NULL, NULL, &to, &o, NULL));
    ck_assert_uint_eq(dh_index_count(ix), 40);
    dh_loss_free(dih), dh_index_free(ix), dh_model_free(m), dh_dataset_free(neu);
}
END_TEST

/* Defaults: a first session (empty index) does not distil: the same run as weights
 * 0, 0; a dih session on a non-empty index does (differs from 0, 0). */
static void dih_session(dh_model *m, dh_index *ix, const dh_dataset *ds, double wc, double wf,
                        float *u_out)
{
    dh_trainer_options to;
    train_opts(&to, 2);
    dh_loss *dih = session_loss("dih", 0);
    dh_incremental_options o;
    dh_incremental_options_init(&o);
    o.distill_codes = wc, o.distill_features = wf;
    ck_assert_dh_ok(dh_incremental_session(m, dih, ds, ix, NULL, NULL, &to, &o, NULL));
    ck_assert_dh_ok(dh_model_encode_dataset(m, ds, NULL, u_out));
    dh_loss_free(dih);
}

START_TEST(test_incremental_distillation_defaults)
{
    int32_t cls[CS_ * 20];
    dh_dataset *ds = make_set(0, CS_, 20, 2, cls);
    const size_t n = dh_dataset_count(ds);
    float *ua = malloc(n * KS_ * 4), *ub = malloc(n * KS_ * 4);
    dh_model *a = make_model(5), *b = make_model(5);
    dh_index *ia = new_index(KS_), *ib = new_index(KS_);
    dih_session(a, ia, ds, -1, -1, ua); /* first session: defaults = off */
    dih_session(b, ib, ds, 0, 0, ub);
    ck_assert_mem_eq(ua, ub, n * KS_ * 4);
    dih_session(a, ia, ds, -1, -1, ua); /* second session: the defaults distil */
    dih_session(b, ib, ds, 0, 0, ub);
    ck_assert(memcmp(ua, ub, n * KS_ * 4) != 0);
    free(ua), free(ub);
    dh_index_free(ia), dh_index_free(ib), dh_model_free(a), dh_model_free(b);
    dh_dataset_free(ds);
}
END_TEST

static Suite *distill_suite(void)
{
    Suite *s = suite_create("train_distill");
    TCase *t = tcase_create("Distill");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_model_clone_encodes_identically);
    tcase_add_test(t, test_feature_distillation_gradient);
    tcase_add_test(t, test_incremental_distillation_reduces_forgetting);
    tcase_add_test(t, test_incremental_distillation_bad_args);
    tcase_add_test(t, test_incremental_distillation_defaults);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(distill_suite()); }
