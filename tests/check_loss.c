/* tests/check_loss.c -- the loss API: finite-difference gradients of every method
 * (w.r.t. U and the loss's own parameters), bad inputs, options, tensors, hints. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss/loss.h"
#include "testutil.h"

#define K_ 8
#define C_ 4
#define N_ 40
#define B_ 12

static double urand(uint64_t *s) { return (double)(dh_test_rand(s) >> 11) * 0x1.0p-53; }

/* Labels: rows alternate single-label and (unless single) two-label rows. */
static void make_batch(uint64_t seed, int single, float *U, float *Y, int64_t *idx, double amp)
{
    uint64_t s = seed;
    for (size_t i = 0; i < B_ * K_; i++) {
        double u = (2 * urand(&s) - 1) * amp;
        /* stay off the kinks of sgn(u), |u| - 1 and the DPN hinge at |u| = 1 */
        while (fabs(u) < 0.02 || fabs(fabs(u) - 1) < 0.02) u += 0.05;
        U[i] = (float)u;
    }
    memset(Y, 0, sizeof(float) * B_ * C_);
    for (size_t i = 0; i < B_; i++) {
        Y[i * C_ + dh_test_rand(&s) % C_] = 1;
        if (!single && i % 3 == 1) Y[i * C_ + (i + 1) % C_] = 1;
        idx[i] = (int64_t)(i * 3 % N_);
    }
}

static dh_loss *make_loss(const char *m, uint32_t n_epochs)
{
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = K_;
    o.n_classes = C_;
    o.n_train = N_;
    o.n_epochs = (int32_t)n_epochs;
    dh_loss *L = NULL;
    ck_assert_dh_ok(dh_loss_create(m, &o, &L));
    return L;
}

static double eval(dh_loss *L, const float *U, const float *Y, const int64_t *idx, float *dU)
{
    double v = 0;
    ck_assert_dh_ok(dh_loss_forward_backward(L, U, B_, Y, NULL, idx, dU, &v));
    return v;
}

/* Central differences in U; returns max |fd - an| / max(max |an|, floor). */
static double fd_check_u(dh_loss *L, float *U, const float *Y, const int64_t *idx,
                         const float *an, double h)
{
    float dtmp[B_ * K_];
    double mx = 1e-6, err = 0;
    for (size_t i = 0; i < B_ * K_; i++) mx = fmax(mx, fabs(an[i]));
    for (size_t i = 0; i < B_ * K_; i++) {
        float u0 = U[i];
        U[i] = (float)(u0 + h);
        double hp = (double)U[i] - u0, vp = eval(L, U, Y, idx, dtmp);
        U[i] = (float)(u0 - h);
        double hm = u0 - (double)U[i], vm = eval(L, U, Y, idx, dtmp);
        U[i] = u0;
        err = fmax(err, fabs((vp - vm) / (hp + hm) - an[i]));
    }
    return err / mx;
}

static void prepare(dh_loss *L, const char *m, float *U, const float *Y, const int64_t *idx)
{
    float dU[B_ * K_];
    if (!strcmp(m, "adsh") || !strcmp(m, "twostage") || !strcmp(m, "dihn")) {
        float ty[N_ * C_];
        memset(ty, 0, sizeof ty);
        for (size_t n = 0; n < N_; n++) ty[n * C_ + n % C_] = 1;
        for (size_t i = 0; i < B_; i++) memcpy(ty + idx[i] * C_, Y + i * C_, sizeof(float) * C_);
        ck_assert_dh_ok(dh_loss_init(L, ty, N_, NULL));
    }
    if (!strcmp(m, "adsh")) {
        float V[N_ * K_];
        uint64_t s = 5;
        for (size_t i = 0; i < N_ * K_; i++) V[i] = (dh_test_rand(&s) >> 63) ? 1.0f : -1.0f;
        ck_assert_dh_ok(dh_loss_set_tensor(L, "codes", V, N_ * K_));
    }
    if (!strcmp(m, "mdsh")) ck_assert_dh_ok(dh_loss_epoch_begin(L, 3)); /* pair term on */
    eval(L, U, Y, idx, dU); /* fills banks with this batch */
    dh__loss_set_frozen(L, 1);
}

static const char *smooth[] = {"dpsh", "hashnet", "dch", "dsh", "dtsh", "triplet", "adsh",
                               "csq", "dpn", "orthohash", "mdsh", "sprch", "twostage"};

START_TEST(test_loss_fb_gradient_matches_finite_differences)
{
    const char *m = smooth[_i];
    for (int single = 0; single < 2; single++) {
        float U[B_ * K_], Y[B_ * C_], dU[B_ * K_];
        int64_t idx[B_];
        /* DPN/DSH/triplet have kinks: keep U away from them with a small step */
        make_batch(100 + (uint64_t)_i * 7 + (uint64_t)single, single, U, Y, idx, 1.5);
        dh_loss *L = make_loss(m, !strcmp(m, "sprch") ? 30000000 : 0);
        prepare(L, m, U, Y, idx);
        eval(L, U, Y, idx, dU);
        double e = fd_check_u(L, U, Y, idx, dU, 1e-3);
        /* the batch-all hinge has thousands of triplets; a few cross their kink within h */
        double tol = strcmp(m, "triplet") ? 2e-3 : 1e-2;
        ck_assert_msg(e < tol, "%s (single=%d): finite-difference mismatch %.3g", m, single, e);
        dh_loss_free(L);
    }
}
END_TEST

/* Parameters: GreedyHash's classifier, SPRCH's proxies. */
START_TEST(test_loss_fb_param_gradients_match_finite_differences)
{
    const char *ms[] = {"greedyhash", "sprch"};
    for (int t = 0; t < 2; t++) {
        float U[B_ * K_], Y[B_ * C_], dU[B_ * K_];
        int64_t idx[B_];
        make_batch(7, 1, U, Y, idx, 1.5);
        dh_loss *L = make_loss(ms[t], 30000000);
        dh__param *P;
        size_t np = dh__loss_params(L, &P);
        ck_assert_uint_eq(np, t == 0 ? 1 : 2);
        ck_assert_uint_eq(dh_loss_param_count(L), np);
        eval(L, U, Y, idx, dU);
        for (size_t p = 0; p < np; p++) {
            float *g = malloc(P[p].n * sizeof(float));
            memcpy(g, P[p].grad, P[p].n * sizeof(float));
            double mx = 1e-6, err = 0;
            for (size_t i = 0; i < P[p].n; i++) mx = fmax(mx, fabs(g[i]));
            for (size_t i = 0; i < P[p].n; i++) {
                float w0 = P[p].data[i];
                P[p].data[i] = w0 + 1e-3f;
                double vp = eval(L, U, Y, idx, dU);
                P[p].data[i] = w0 - 1e-3f;
                double vm = eval(L, U, Y, idx, dU);
                P[p].data[i] = w0;
                err = fmax(err, fabs((vp - vm) / 2e-3 - g[i]));
            }
            ck_assert_msg(err / mx < 3e-3, "%s %s: mismatch %.3g", ms[t], P[p].name, err / mx);
            free(g);
        }
        dh_loss_free(L);
    }
}
END_TEST

/* GreedyHash: the documented surrogate. dU = W^T (softmax(W sgn u) - y)/B (straight-
 * through) + the cubic penalty's exact gradient; check the first against a direct
 * computation and the second by finite differences (the sign is locally constant). */
START_TEST(test_loss_greedyhash_straight_through)
{
    float U[B_ * K_], Y[B_ * C_], dU[B_ * K_], W[C_ * K_];
    int64_t idx[B_];
    make_batch(3, 1, U, Y, idx, 1.5);
    dh_loss *L = make_loss("greedyhash", 0);
    ck_assert_dh_ok(dh_loss_get_tensor(L, "classifier.weight", W, C_ * K_));
    eval(L, U, Y, idx, dU);
    float ste[B_ * K_];
    for (size_t i = 0; i < B_; i++) {
        double a[C_], mx = -1e300, s = 0;
        for (size_t c = 0; c < C_; c++) {
            a[c] = 0;
            for (size_t k = 0; k < K_; k++) a[c] += W[c * K_ + k] * (U[i * K_ + k] >= 0 ? 1 : -1);
            mx = fmax(mx, a[c]);
        }
        for (size_t c = 0; c < C_; c++) s += exp(a[c] - mx);
        for (size_t k = 0; k < K_; k++) {
            double g = 0;
            for (size_t c = 0; c < C_; c++) g += W[c * K_ + k] * (exp(a[c] - mx) / s - Y[i * C_ + c]);
            ste[i * K_ + k] = (float)(g / B_);
        }
    }
    float pen[B_ * K_];
    for (size_t i = 0; i < B_ * K_; i++) pen[i] = dU[i] - ste[i];
    double e = fd_check_u(L, U, Y, idx, pen, 1e-3);
    ck_assert_msg(e < 2e-3, "penalty part mismatch %.3g", e);
    dh_loss_free(L);
}
END_TEST

/* Batches with no similar pair / no dissimilar pair: finite values, no NaN. */
START_TEST(test_loss_fb_degenerate_batches_are_finite)
{
    for (size_t m = 0; m < dh_loss_method_count(); m++) {
        const char *name = dh_loss_method_name(m);
        if (dh_loss_method_flags(name)) continue; /* unsupervised: check_loss_unsup.c */
        if (dh_loss_method_tag_flags(name)) continue; /* tags + tag vectors: check_loss_weak.c */
        for (int kind = 0; kind < 2; kind++) {
            float U[B_ * K_], Y[B_ * C_], dU[B_ * K_];
            int64_t idx[B_];
            make_batch(11, 1, U, Y, idx, 1.0);
            memset(Y, 0, sizeof Y);
            for (size_t i = 0; i < B_; i++) Y[i * C_ + (kind == 0 ? 0 : i % C_)] = 1;
            if (kind == 1) /* B_ > C_: make all classes distinct by using only C_ rows */
                for (size_t i = C_; i < B_; i++) memcpy(U + i * K_, U, sizeof(float) * K_);
            dh_loss *L = make_loss(name, 0);
            prepare(L, name, U, Y, idx);
            double v = eval(L, U, Y, idx, dU);
            ck_assert_msg(isfinite(v), "%s kind %d: value %g", name, kind, v);
            for (size_t i = 0; i < B_ * K_; i++)
                ck_assert_msg(isfinite(dU[i]), "%s kind %d: dU[%zu] not finite", name, kind, i);
            dh_loss_free(L);
        }
    }
}
END_TEST

START_TEST(test_loss_create_bad_inputs)
{
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = 16;
    o.n_classes = 10;
    dh_loss *L = (dh_loss *)1;
    ck_assert_dh_fail(dh_loss_create("nosuch", &o, &L), DH_E_NOT_FOUND);
    ck_assert_ptr_null(L);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "hashnet"));
    ck_assert_dh_fail(dh_loss_create(NULL, &o, &L), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_loss_create("csq", NULL, &L), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_loss_create("csq", &o, NULL), DH_E_INVALID_ARG);
    o.n_bits = 0;
    ck_assert_dh_fail(dh_loss_create("csq", &o, &L), DH_E_INVALID_ARG);
    o.n_bits = 16;
    o.n_classes = 0;
    ck_assert_dh_fail(dh_loss_create("csq", &o, &L), DH_E_INVALID_ARG);
    o.n_classes = 10;
    ck_assert_dh_fail(dh_loss_create("dpsh", &o, &L), DH_E_INVALID_ARG); /* n_train */
    o.margin = -1;
    ck_assert_dh_fail(dh_loss_create("dsh", &o, &L), DH_E_INVALID_ARG);
    o.margin = NAN;
    o.variant = 7;
    ck_assert_dh_fail(dh_loss_create("hashnet", &o, &L), DH_E_INVALID_ARG);
    o.variant = -1;
    ck_assert_dh_ok(dh_loss_create("HashNet", &o, &L)); /* case-insensitive */
    dh_loss_free(L);
    dh_loss_free(NULL);
    ck_assert_ptr_null(dh_loss_method_name(dh_loss_method_count()));
}
END_TEST

START_TEST(test_loss_create_options_old_and_oversized_struct)
{
    /* an old caller knowing only up to n_classes: the rest are defaults */
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = 12;
    o.n_classes = 3;
    o.struct_size = offsetof(dh_loss_options, n_train);
    dh_loss *L = NULL;
    ck_assert_dh_ok(dh_loss_create("dsh", &o, &L));
    dh_loss_options got;
    got.struct_size = sizeof got;
    ck_assert_dh_ok(dh_loss_get_options(L, &got));
    ck_assert(got.margin == 24.0 && got.quant_weight == 0.01);
    dh_loss_free(L);
    struct {
        dh_loss_options o;
        uint64_t future;
    } big;
    memset(&big, 0, sizeof big);
    dh_loss_options_init(&big.o);
    big.o.struct_size = sizeof big;
    big.o.n_bits = 12;
    big.o.n_classes = 3;
    ck_assert_dh_ok(dh_loss_create("csq", &big.o, &L));
    dh_loss_free(L);
    big.future = 1;
    ck_assert_dh_fail(dh_loss_create("csq", &big.o, &L), DH_E_VERSION);
    ck_assert_uint_eq(sizeof(dh_loss_options) % 8, 0);
    ck_assert_uint_eq(sizeof(dh_loss_recipe) % 8, 0);
}
END_TEST

START_TEST(test_loss_fb_bad_inputs)
{
    float U[B_ * K_], Y[B_ * C_], dU[B_ * K_];
    int64_t idx[B_];
    int32_t cls[B_];
    make_batch(1, 0, U, Y, idx, 1.0);
    for (size_t i = 0; i < B_; i++) cls[i] = (int32_t)(i % C_);
    dh_loss *L = make_loss("greedyhash", 0);
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, B_, Y, NULL, NULL, dU, NULL),
                      DH_E_INVALID_ARG); /* multi-label rows */
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "single-label"));
    ck_assert_dh_ok(dh_loss_forward_backward(L, U, B_, NULL, cls, NULL, dU, NULL));
    cls[3] = C_;
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, B_, NULL, cls, NULL, dU, NULL),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_loss_forward_backward(L, NULL, B_, Y, NULL, NULL, dU, NULL),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, 0, Y, NULL, NULL, dU, NULL),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, B_, NULL, NULL, NULL, dU, NULL),
                      DH_E_INVALID_ARG);
    dh_loss_free(L);
    L = make_loss("dpsh", 0);
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, B_, Y, NULL, NULL, dU, NULL),
                      DH_E_INVALID_ARG); /* indices required */
    idx[2] = N_;
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, B_, Y, NULL, idx, dU, NULL),
                      DH_E_INVALID_ARG);
    idx[2] = 0;
    Y[5] = 0.5f;
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, B_, Y, NULL, idx, dU, NULL),
                      DH_E_INVALID_ARG);
    Y[5] = 0;
    U[7] = NAN;
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, B_, Y, NULL, idx, dU, NULL),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_loss_update_codes(L, NULL, NULL, 0), DH_E_STATE);
    ck_assert_dh_fail(dh_loss_epoch_begin(L, -1), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_loss_init(L, Y, 3, NULL), DH_E_SHAPE);
    dh_loss_free(L);
    U[7] = 0;
    L = make_loss("twostage", 0);
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, B_, Y, NULL, idx, dU, NULL), DH_E_STATE);
    dh_loss_free(L);
    L = make_loss("adsh", 0);
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, B_, Y, NULL, idx, dU, NULL), DH_E_STATE);
    ck_assert_dh_fail(dh_loss_update_codes(L, NULL, NULL, 0), DH_E_STATE);
    dh_loss_free(L);
}
END_TEST

START_TEST(test_loss_tensors_hints_recipes)
{
    dh_loss *L = make_loss("csq", 0);
    ck_assert_uint_eq(dh_loss_param_count(L), 0);
    ck_assert_uint_eq(dh_loss_state_count(L), 2);
    ck_assert_str_eq(dh_loss_state_name(L, 0), "centers");
    ck_assert_ptr_null(dh_loss_state_name(L, 2));
    int64_t sh[4];
    int32_t nd;
    ck_assert_dh_ok(dh_loss_tensor_shape(L, "centers", sh, &nd));
    ck_assert(nd == 2 && sh[0] == C_ && sh[1] == K_);
    float T[C_ * K_];
    ck_assert_dh_ok(dh_loss_get_tensor(L, "centers", T, C_ * K_));
    for (size_t i = 0; i < C_; i++) /* Hadamard rows of H_8: pairwise distance K/2 */
        for (size_t j = i + 1; j < C_; j++) {
            int d = 0;
            for (size_t k = 0; k < K_; k++) d += T[i * K_ + k] != T[j * K_ + k];
            ck_assert_int_eq(d, K_ / 2);
        }
    ck_assert_dh_fail(dh_loss_get_tensor(L, "centers", T, 3), DH_E_SHAPE);
    ck_assert_dh_fail(dh_loss_get_tensor(L, "nope", T, 3), DH_E_NOT_FOUND);
    T[0] = NAN;
    ck_assert_dh_fail(dh_loss_set_tensor(L, "centers", T, C_ * K_), DH_E_INVALID_ARG);
    int32_t act;
    float beta;
    ck_assert_dh_ok(dh_loss_head_hint(L, &act, &beta));
    ck_assert_int_eq(act, DH_LOSS_HEAD_IDENTITY);
    dh_loss_recipe r;
    r.struct_size = sizeof r;
    ck_assert_dh_ok(dh_loss_get_recipe(L, &r));
    ck_assert_str_eq(r.optimizer, "adam");
    ck_assert(r.backbone_lr_mult == 0.01);
    r.struct_size = 0;
    ck_assert_dh_fail(dh_loss_get_recipe(L, &r), DH_E_INVALID_ARG);
    dh_loss_free(L);
    /* HashNet: official continuation raises beta every 200 calls */
    L = make_loss("hashnet", 0);
    float U[B_ * K_], Y[B_ * C_], dU[B_ * K_];
    int64_t idx[B_];
    make_batch(2, 0, U, Y, idx, 0.5);
    ck_assert_dh_ok(dh_loss_head_hint(L, &act, &beta));
    ck_assert(act == DH_LOSS_HEAD_SCALED_TANH && beta == 1.0f);
    for (int t = 0; t < 199; t++) eval(L, U, Y, idx, dU);
    ck_assert_dh_ok(dh_loss_head_hint(L, NULL, &beta));
    ck_assert_msg(fabsf(beta - sqrtf(2.0f)) < 1e-6f, "beta %g", (double)beta);
    dh_loss_free(L);
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = K_, o.n_classes = C_, o.schedule = 0;
    ck_assert_dh_ok(dh_loss_create("hashnet", &o, &L));
    ck_assert_dh_ok(dh_loss_epoch_begin(L, 65));
    ck_assert_dh_ok(dh_loss_head_hint(L, NULL, &beta));
    ck_assert(fabsf(beta - 2.0f) < 1e-6f);
    dh_loss_free(L);
}
END_TEST

START_TEST(test_loss_centers_generate)
{
    uint32_t gv, dt;
    /* docs/methods.md#hash-centers table (d_GV / d_t) */
    const uint32_t tab[][4] = {{12, 10, 4, 5}, {16, 100, 3, 4}, {32, 21, 11, 12},
                               {48, 100, 16, 17}, {64, 200, 22, 23}, {12, 200, 2, 3}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        ck_assert_dh_ok(dh_centers_gv_distance(tab[i][1], tab[i][0], &gv, &dt));
        ck_assert_msg(gv == tab[i][2] && dt == tab[i][3], "K %u C %u: %u/%u", tab[i][0],
                      tab[i][1], gv, dt);
    }
    ck_assert_dh_fail(dh_centers_gv_distance(1, 12, &gv, &dt), DH_E_INVALID_ARG);
    float *T = malloc(100 * 48 * sizeof(float));
    uint32_t md;
    ck_assert_dh_ok(dh_centers_generate(100, 48, DH_CENTERS_GV, 1, T, &md));
    ck_assert_msg(md >= 16, "GV centers reach only %u", md);
    ck_assert_dh_ok(dh_centers_generate(100, 48, DH_CENTERS_BERNOULLI, 1, T, &md));
    ck_assert_uint_gt(md, 5);
    ck_assert_dh_ok(dh_centers_generate(20, 48, DH_CENTERS_BALANCED, 1, T, &md));
    int neg = 0;
    for (size_t k = 0; k < 48; k++) neg += T[k] < 0;
    ck_assert_int_eq(neg, 24);
    ck_assert_dh_ok(dh_centers_generate(10, 64, DH_CENTERS_GREEDY, 1, T, &md));
    ck_assert_uint_ge(md, 20);
    ck_assert_dh_ok(dh_centers_generate(24, 16, DH_CENTERS_HADAMARD, 1, T, &md));
    ck_assert_uint_ge(md, 8); /* [H; -H] rows */
    ck_assert_dh_fail(dh_centers_generate(40, 16, DH_CENTERS_HADAMARD, 1, T, &md),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_centers_generate(4, 12, DH_CENTERS_HADAMARD, 1, T, &md),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_centers_generate(4, 12, 99, 1, T, &md), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_centers_generate(0, 12, 0, 1, T, &md), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_centers_generate(4, 12, 0, 1, NULL, &md), DH_E_INVALID_ARG);
    free(T);
}
END_TEST

START_TEST(test_loss_twostage_codes_fit_similarity)
{
    enum { n = 60, C = 3, K = 16 };
    float Y[n * C], H[n * K];
    memset(Y, 0, sizeof Y);
    for (size_t i = 0; i < n; i++) Y[i * C + i % C] = 1;
    ck_assert_dh_ok(dh_twostage_solve_codes(Y, n, C, K, 0, 1, H));
    size_t good = 0, tot = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double ip = 0;
            for (size_t k = 0; k < K; k++) ip += H[i * K + k] * H[j * K + k];
            good += (i % C == j % C) == (ip > 0);
            tot++;
        }
    ck_assert_msg((double)good / (double)tot > 0.9, "only %zu/%zu pairs ordered", good, tot);
    ck_assert_dh_fail(dh_twostage_solve_codes(Y, 0, C, K, 0, 1, H), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_twostage_solve_codes(Y, 20000, C, K, 0, 1, H), DH_E_INVALID_ARG);
    Y[0] = 2;
    ck_assert_dh_fail(dh_twostage_solve_codes(Y, n, C, K, 0, 1, H), DH_E_INVALID_ARG);
}
END_TEST

Suite *loss_suite(void);

Suite *loss_suite(void)
{
    Suite *s = suite_create("loss");
    TCase *g = tcase_create("Gradients");
    tcase_add_loop_test(g, test_loss_fb_gradient_matches_finite_differences, 0,
                        (int)(sizeof smooth / sizeof smooth[0]));
    tcase_add_test(g, test_loss_fb_param_gradients_match_finite_differences);
    tcase_add_test(g, test_loss_greedyhash_straight_through);
    tcase_add_test(g, test_loss_fb_degenerate_batches_are_finite);
    suite_add_tcase(s, g);
    TCase *a = tcase_create("Api");
    tcase_add_test(a, test_loss_create_bad_inputs);
    tcase_add_test(a, test_loss_create_options_old_and_oversized_struct);
    tcase_add_test(a, test_loss_fb_bad_inputs);
    tcase_add_test(a, test_loss_tensors_hints_recipes);
    suite_add_tcase(s, a);
    TCase *c = tcase_create("Centers");
    tcase_add_test(c, test_loss_centers_generate);
    tcase_add_test(c, test_loss_twostage_codes_fit_similarity);
    suite_add_tcase(s, c);
    return s;
}

int main(void) { return dh_test_run(loss_suite()); }
