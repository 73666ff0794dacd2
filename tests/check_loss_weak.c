/* tests/check_loss_weak.c -- the weakly supervised methods (lib/loss/weak.h): WDHT's
 * value and gradients against PyTorch float64 (tests/golden/gen_weak_golden.py) and
 * finite differences, the tag-refinement step on a hand-made case and its schedule,
 * and the proof that true labels never reach a tag method: training with the labels
 * removed or shuffled gives the same codes (fixed seed), while a label-supervised
 * run does change (the test can tell). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden_dhgv.h"
#include "loss/weak.h"
#include "testutil.h"

static void close_to(const char *what, const float *got, const float *want, size_t n,
                     double rel)
{
    double mx = 1e-12, err = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(want[i]));
    for (size_t i = 0; i < n; i++) err = fmax(err, fabs((double)got[i] - want[i]));
    ck_assert_msg(err <= rel * mx, "%s: max error %.3g (scale %.3g)", what, err, mx);
}

static dh_loss *make(const char *m, uint32_t K, uint32_t T, uint64_t n_train)
{
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = K, o.n_classes = T, o.n_train = n_train;
    dh_loss *L = NULL;
    ck_assert_dh_ok(dh_loss_create(m, &o, &L));
    return L;
}

static const char *golden_cases[] = {"wdht_defaults", "wdht_align"};

START_TEST(test_wdht_golden)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/golden/weak/%s.bin", DH_SOURCE_DIR, golden_cases[_i]);
    gv_file *g = gv_load_path(path);
    const gv_tensor *Y = gv_get(g, "Y"), *E = gv_get(g, "E"), *U = gv_get(g, "U");
    const gv_tensor *W = gv_get(g, "align"), *op = gv_get(g, "options");
    const size_t B = (size_t)U->dims[0], K = (size_t)U->dims[1];
    const uint32_t T = (uint32_t)Y->dims[1], D = (uint32_t)E->dims[1];
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = (uint32_t)K, o.n_classes = T;
    o.pair_weight = op->data[0], o.center_weight = op->data[1];
    o.quant_weight = op->data[2], o.margin = op->data[3];
    dh_loss *L = NULL;
    ck_assert_dh_ok(dh_loss_create("wdht", &o, &L));
    ck_assert_dh_ok(dh_loss_set_tag_vectors(L, E->data, T, D));
    ck_assert_dh_ok(dh_loss_set_tensor(L, "align", W->data, W->n));
    float *dU = malloc(B * K * sizeof(float));
    double v = 0;
    ck_assert_dh_ok(dh_loss_forward_backward(L, U->data, B, Y->data, NULL, NULL, dU, &v));
    ck_assert_msg(fabs(v - gv_get(g, "value")->data[0]) <= 1e-5 * fmax(1, fabs(v)),
                  "value %.8g, reference %.8g", v, gv_get(g, "value")->data[0]);
    close_to("dU", dU, gv_get(g, "dU")->data, B * K, 1e-4);
    close_to("dalign", dh__loss_find(L, "align")->grad, gv_get(g, "dalign")->data, K * D, 1e-4);
    free(dU);
    dh_loss_free(L);
    gv_free(g);
}
END_TEST

/* finite differences of the objective in U and in the alignment matrix */
START_TEST(test_wdht_gradcheck)
{
    enum { B = 9, K = 12, T = 6, D = 4 };
    uint64_t s = 77;
    float Y[B * T], E[T * D], U[B * K], dU[B * K], Sh[B * D], W[K * D], dW[K * D];
    uint8_t mask[B];
    for (int i = 0; i < B * T; i++) Y[i] = (dh_test_rand(&s) % 3 == 0) ? 1.0f : 0.0f;
    memset(Y + 4 * T, 0, T * sizeof(float)); /* an untagged row: no pairs, no ranking */
    for (int i = 0; i < T * D; i++) E[i] = (float)((double)(dh_test_rand(&s) % 2001) / 1000 - 1);
    for (int i = 0; i < B * K; i++) U[i] = (float)tanh((double)(dh_test_rand(&s) % 2001) / 700 - 1.4);
    for (int i = 0; i < K * D; i++) W[i] = (float)((double)(dh_test_rand(&s) % 2001) / 3000 - 0.33);
    dh__weak_semantic(Y, B, T, E, D, Sh, mask);
    ck_assert(!mask[4] && mask[0]);
    const double pw = 1.0, aw = 0.7, qw = 0.3, mg = 0.4;
    double v0 = dh__wdht_objective(U, B, K, Sh, mask, W, D, pw, aw, qw, mg, dU, dW);
    ck_assert(isfinite(v0));
    float g1[B * K], g2[K * D];
    const double h = 1e-3;
    double err = 0, mx = 1e-9;
    for (int i = 0; i < B * K; i++) {
        float keep = U[i];
        if (fabs(keep) < 2 * h) continue; /* sgn's kink */
        U[i] = keep + (float)h;
        double vp = dh__wdht_objective(U, B, K, Sh, mask, W, D, pw, aw, qw, mg, g1, g2);
        U[i] = keep - (float)h;
        double vm = dh__wdht_objective(U, B, K, Sh, mask, W, D, pw, aw, qw, mg, g1, g2);
        U[i] = keep;
        err = fmax(err, fabs((vp - vm) / (2 * h) - dU[i]));
        mx = fmax(mx, fabs(dU[i]));
    }
    ck_assert_msg(err < 2e-2 * mx, "dU: fd error %.3g (scale %.3g)", err, mx);
    err = 0, mx = 1e-9;
    for (int i = 0; i < K * D; i++) {
        float keep = W[i];
        W[i] = keep + (float)h;
        double vp = dh__wdht_objective(U, B, K, Sh, mask, W, D, pw, aw, qw, mg, g1, g2);
        W[i] = keep - (float)h;
        double vm = dh__wdht_objective(U, B, K, Sh, mask, W, D, pw, aw, qw, mg, g1, g2);
        W[i] = keep;
        err = fmax(err, fabs((vp - vm) / (2 * h) - dW[i]));
        mx = fmax(mx, fabs(dW[i]));
    }
    ck_assert_msg(mx > 1e-6, "the alignment term has no gradient");
    ck_assert_msg(err < 2e-2 * mx, "dW: fd error %.3g (scale %.3g)", err, mx);
}
END_TEST

/* two groups of identical codes; tags a, b, c: row 2 carries a wrong tag b and lacks
 * a, row 5 carries a wrong tag a */
START_TEST(test_refine_hand_case)
{
    enum { N = 6, K = 4, T = 3 };
    float U[N * K], Tobs[N * T] = {1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1};
    for (int i = 0; i < N; i++)
        for (int k = 0; k < K; k++) U[i * K + k] = i < 3 ? 0.5f : -0.5f;
    float Tn[N * T];
    size_t added = 0, dropped = 0;
    ck_assert_dh_ok(dh__tag_refine(U, N, K, Tobs, Tobs, T, 2, 0.6, 0.1, 1, Tn, &added, &dropped));
    const float want[N * T] = {1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1};
    ck_assert_mem_eq(Tn, want, sizeof want);
    ck_assert_uint_eq(added, 1);   /* a on row 2: both neighbours carry it */
    ck_assert_uint_eq(dropped, 2); /* b on row 2, a on row 5: no neighbour does */
    /* the add threshold matters: 0.5 lets row 0 take b (one of its two neighbours) */
    ck_assert_dh_ok(dh__tag_refine(U, N, K, Tobs, Tobs, T, 2, 0.5, 0.1, 1, Tn, &added, &dropped));
    ck_assert(Tn[0 * T + 1] == 1.0f);
    /* an image never loses its last tag: with no adds, row 2's contradicted b stays */
    ck_assert_dh_ok(dh__tag_refine(U, N, K, Tobs, Tobs, T, 2, 2.0, 0.1, 1, Tn, &added, &dropped));
    ck_assert(Tn[2 * T + 1] == 1.0f && Tn[5 * T + 0] == 0.0f);
    ck_assert_uint_eq(added, 0);
    ck_assert_uint_eq(dropped, 1);
    /* in place (Tnew = Tcur) gives the same as out of place */
    float Tc[N * T];
    memcpy(Tc, Tobs, sizeof Tc);
    ck_assert_dh_ok(dh__tag_refine(U, N, K, Tobs, Tc, T, 2, 0.6, 0.1, 1, Tc, &added, &dropped));
    ck_assert_mem_eq(Tc, want, sizeof want);
}
END_TEST

START_TEST(test_refine_schedule)
{
    enum { N = 6, K = 4, T = 3 };
    float U[N * K], Y[N * T] = {1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1};
    for (int i = 0; i < N; i++)
        for (int k = 0; k < K; k++) U[i * K + k] = i < 3 ? 0.5f : -0.5f;
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = K, o.n_classes = T, o.n_train = N;
    o.sweeps = 2, o.tau = 0.6, o.gamma = 0.1, o.update_every = 2;
    dh_loss *L = NULL;
    ck_assert_dh_ok(dh_loss_create("tagrefine", &o, &L));
    ck_assert_dh_ok(dh_loss_init(L, Y, N, NULL)); /* co-occurrence embedding, T = 3 dims */
    int64_t idx[N] = {0, 1, 2, 3, 4, 5};
    float tags[N * T];
    ck_assert_dh_ok(dh_loss_update_codes(L, U, idx, N)); /* call 1 of every 2: no change */
    ck_assert_dh_ok(dh_loss_get_tensor(L, "tags", tags, N * T));
    ck_assert_mem_eq(tags, Y, sizeof Y);
    ck_assert_dh_ok(dh_loss_update_codes(L, U, idx, N));
    ck_assert_dh_ok(dh_loss_get_tensor(L, "tags", tags, N * T));
    ck_assert(tags[2 * T + 0] == 1.0f && tags[2 * T + 1] == 0.0f && tags[5 * T + 0] == 0.0f);
    ck_assert_dh_ok(dh_loss_get_tensor(L, "tags_observed", tags, N * T));
    ck_assert_mem_eq(tags, Y, sizeof Y); /* refinement starts from the observed tags */
    /* the batch rows come from the refined tags, not from the labels passed in */
    float Ub[2 * K], dU1[2 * K], dU2[2 * K], junk[2 * T] = {0, 0, 1, 0, 0, 1};
    for (int i = 0; i < 2 * K; i++) Ub[i] = 0.1f * (float)(i % 5) - 0.2f;
    int64_t bi[2] = {2, 5};
    double v1, v2;
    ck_assert_dh_ok(dh_loss_forward_backward(L, Ub, 2, Y, NULL, bi, dU1, &v1));
    ck_assert_dh_ok(dh_loss_forward_backward(L, Ub, 2, junk, NULL, bi, dU2, &v2));
    ck_assert(v1 == v2);
    ck_assert_mem_eq(dU1, dU2, sizeof dU1);
    ck_assert_dh_fail(dh_loss_update_codes(L, U, idx, 3), DH_E_SHAPE);
    dh_loss_free(L);
    o.tau = 0.05; /* add threshold below the drop threshold */
    ck_assert_dh_fail(dh_loss_create("tagrefine", &o, &L), DH_E_INVALID_ARG);
}
END_TEST

START_TEST(test_tag_vectors_errors)
{
    dh_loss *L = make("wdht", 8, 3, 0);
    float E[6] = {1, 0, 0, 1, 1, 1}, Z[6] = {0};
    ck_assert_dh_fail(dh_loss_set_tag_vectors(L, E, 2, 3), DH_E_SHAPE);
    ck_assert_dh_fail(dh_loss_set_tag_vectors(L, Z, 3, 2), DH_E_INVALID_ARG);
    float U[8] = {0.1f, -0.2f, 0.3f, 0.4f, 0.5f, -0.6f, 0.7f, 0.8f}, dU[8], y[3] = {1, 0, 0};
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, 1, y, NULL, NULL, dU, NULL), DH_E_STATE);
    ck_assert_dh_ok(dh_loss_set_tag_vectors(L, E, 3, 2));
    ck_assert_dh_fail(dh_loss_set_tag_vectors(L, E, 3, 2), DH_E_STATE);
    ck_assert_dh_ok(dh_loss_forward_backward(L, U, 1, y, NULL, NULL, dU, NULL));
    dh_loss_free(L);
    L = make("csq", 8, 3, 0);
    ck_assert_dh_fail(dh_loss_set_tag_vectors(L, E, 3, 2), DH_E_STATE);
    dh_loss_free(L);
    ck_assert_uint_eq(dh_loss_method_tag_flags("WDHT"), DH_LOSS_FLAG_TAGS);
    ck_assert_uint_eq(dh_loss_method_tag_flags("tagrefine"), DH_LOSS_FLAG_TAGS);
    ck_assert_uint_eq(dh_loss_method_tag_flags("dpsh"), 0);
    ck_assert_uint_eq(dh_loss_method_tag_flags("wdhtx"), 0);
    /* dh_loss_method_flags reports the tag bit too (since 1.3), and the tag methods
     * carry no unsupervised bit; dh_loss_method_tag_flags is its TAGS bit for every
     * method (the 1.2 alias) */
    ck_assert_uint_eq(dh_loss_method_flags("wdht"), DH_LOSS_FLAG_TAGS);
    ck_assert_uint_eq(dh_loss_method_flags("TagRefine"), DH_LOSS_FLAG_TAGS);
    for (size_t i = 0; i < dh_loss_method_count(); i++) {
        const char *nm = dh_loss_method_name(i);
        uint32_t fl = dh_loss_method_flags(nm);
        ck_assert_uint_eq(dh_loss_method_tag_flags(nm), fl & DH_LOSS_FLAG_TAGS);
        if (fl & DH_LOSS_FLAG_TAGS) ck_assert_uint_eq(fl, DH_LOSS_FLAG_TAGS);
    }
    ck_assert_uint_eq(dh_loss_method_tag_flags(NULL), 0);
}
END_TEST

/* ---- the no-labels proof ---- */

enum { PN = 80, PD = 8, PC = 4, PT = 6, PK = 16 };
static float g_x[PN * PD], g_tags[PN * PT];
static int32_t g_cls[PN];

static void proof_data(void)
{
    uint64_t s = 5;
    for (int i = 0; i < PN; i++) {
        g_cls[i] = i % PC;
        for (int d = 0; d < PD; d++)
            g_x[i * PD + d] = (float)((d % PC == g_cls[i] ? 1.0 : 0.0) +
                                      0.3 * (double)(dh_test_rand(&s) % 1000) / 1000);
        for (int t = 0; t < PT; t++) /* noisy tags: tag c for class c, plus noise */
            g_tags[i * PT + t] = (t == g_cls[i] && dh_test_rand(&s) % 4) ||
                                 dh_test_rand(&s) % 9 == 0;
    }
}

/* Train and return the training set's codes (PN x PK floats). labels: 0 true, 1
 * shuffled, 2 none. */
static float *train_codes(const char *method, int labels, int32_t supervision)
{
    int32_t cls[PN];
    memcpy(cls, g_cls, sizeof cls);
    if (labels == 1) { /* a seeded shuffle (a class permutation would keep the pairs) */
        uint64_t s = 11;
        for (int i = PN - 1; i > 0; i--) {
            int j = (int)(dh_test_rand(&s) % (uint64_t)(i + 1)), t = cls[i];
            cls[i] = cls[j], cls[j] = t;
        }
    }
    dh_dataset *ds = NULL;
    ck_assert_dh_ok(dh_dataset_from_features(g_x, PN, PD, labels == 2 ? NULL : cls, NULL,
                                             labels == 2 ? 0 : PC, &ds));
    ck_assert_dh_ok(dh_dataset_set_tags(ds, g_tags, PT));
    int by_tags = dh_loss_method_tag_flags(method) || supervision == DH_SUPERVISION_TAGS;
    dh_loss *L = make(method, PK, by_tags ? PT : PC, PN);
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = "mlp:8-16";
    mo.n_bits = PK;
    mo.seed = 3;
    int32_t act;
    ck_assert_dh_ok(dh_loss_head_hint(L, &act, NULL));
    mo.head = act;
    dh_model *m = NULL;
    ck_assert_dh_ok(dh_model_create(&mo, &m));
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    to.epochs = 3, to.batch_size = 20, to.seed = 9, to.supervision = supervision;
    dh_trainer *t = NULL;
    ck_assert_dh_ok(dh_trainer_create(m, L, ds, &to, &t));
    ck_assert_dh_ok(dh_trainer_run(t));
    float *U = malloc(PN * PK * sizeof(float));
    ck_assert_dh_ok(dh_model_encode_dataset(m, ds, NULL, U));
    dh_trainer_free(t);
    dh_loss_free(L);
    dh_model_free(m);
    dh_dataset_free(ds);
    return U;
}

static const struct { const char *m; int32_t sup; } proof_cases[] = {
    {"wdht", DH_SUPERVISION_LABELS}, {"tagrefine", DH_SUPERVISION_LABELS},
    {"dpsh", DH_SUPERVISION_TAGS}, {"csq", DH_SUPERVISION_TAGS}};

START_TEST(test_no_labels_reach_tag_methods)
{
    proof_data();
    const char *m = proof_cases[_i].m;
    float *a = train_codes(m, 0, proof_cases[_i].sup);
    float *b = train_codes(m, 1, proof_cases[_i].sup);
    float *c = train_codes(m, 2, proof_cases[_i].sup);
    ck_assert_msg(!memcmp(a, b, PN * PK * sizeof(float)), "%s: shuffled labels changed the codes",
                  m);
    ck_assert_msg(!memcmp(a, c, PN * PK * sizeof(float)), "%s: removing the labels changed the "
                  "codes", m);
    free(a), free(b), free(c);
}
END_TEST

START_TEST(test_labels_do_reach_supervised)
{
    /* the same comparison tells a label-supervised run apart: the proof is not vacuous */
    proof_data();
    float *a = train_codes("dpsh", 0, DH_SUPERVISION_LABELS);
    float *b = train_codes("dpsh", 1, DH_SUPERVISION_LABELS);
    ck_assert(memcmp(a, b, PN * PK * sizeof(float)) != 0);
    free(a), free(b);
}
END_TEST

START_TEST(test_trainer_tag_errors)
{
    proof_data();
    dh_dataset *ds = NULL;
    ck_assert_dh_ok(dh_dataset_from_features(g_x, PN, PD, g_cls, NULL, PC, &ds));
    dh_loss *L = make("wdht", PK, PT, PN);
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = "mlp:8-16", mo.n_bits = PK, mo.head = DH_HEAD_TANH;
    dh_model *m = NULL;
    ck_assert_dh_ok(dh_model_create(&mo, &m));
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    dh_trainer *t = NULL;
    ck_assert_dh_fail(dh_trainer_create(m, L, ds, &to, &t), DH_E_STATE); /* no tags */
    ck_assert_dh_ok(dh_dataset_set_tags(ds, g_tags, PT));
    to.supervision = 7;
    ck_assert_dh_fail(dh_trainer_create(m, L, ds, &to, &t), DH_E_INVALID_ARG);
    dh_loss_free(L);
    L = make("ssdh", PK, 0, PN);
    to.supervision = DH_SUPERVISION_TAGS;
    ck_assert_dh_fail(dh_trainer_create(m, L, ds, &to, &t), DH_E_INVALID_ARG);
    dh_loss_free(L);
    dh_model_free(m);
    dh_dataset_free(ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loss_weak");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_wdht_golden, 0, 2);
    tcase_add_test(tc, test_wdht_gradcheck);
    tcase_add_test(tc, test_refine_hand_case);
    tcase_add_test(tc, test_refine_schedule);
    tcase_add_test(tc, test_tag_vectors_errors);
    tcase_add_loop_test(tc, test_no_labels_reach_tag_methods, 0, 4);
    tcase_add_test(tc, test_labels_do_reach_supervised);
    tcase_add_test(tc, test_trainer_tag_errors);
    suite_add_tcase(s, tc);
    return dh_test_run(s);
}
