/* tests/check_loss_unsup.c -- the unsupervised losses and fits (lib/loss/unsup.h):
 * finite-difference gradients of every loss (and of the building blocks behind their
 * straight-through estimators), BiHalf's exact per-bit balance, k-means determinism,
 * ITQ's non-increasing objective, the shallow fits' projections, bad inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss/unsup.h"
#include "testutil.h"

#define K_ 8
#define N_ 40
#define D_ 6

static double urand(uint64_t *s) { return (double)(dh_test_rand(s) >> 11) * 0x1.0p-53; }

static void fill(float *x, size_t n, uint64_t seed, double lo, double hi)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * urand(&s));
}

/* Nonnegative features in 4 groups (rows i and i + 4 alike), like pixels. */
static void features(float *F, size_t n, size_t d, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            F[i * d + j] = (float)((j % 4 == i % 4 ? 1.0 : 0.1) + 0.3 * urand(&s));
}

static dh_loss *make(const char *m, uint32_t C, int32_t variant)
{
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = K_;
    o.n_classes = C;
    o.n_train = N_;
    o.variant = variant;
    dh_loss *L = NULL;
    ck_assert_dh_ok(dh_loss_create(m, &o, &L));
    return L;
}

static double fb(dh_loss *L, const float *U, size_t B, const int64_t *idx, float *dU)
{
    double v = 0;
    ck_assert_dh_ok(dh_loss_forward_backward(L, U, B, NULL, NULL, idx, dU, &v));
    return v;
}

/* max |fd - an| / max |an| over x (n values) of f */
typedef double (*fn_t)(void *ctx, const float *x, float *grad);
static double fd_rel(fn_t f, void *ctx, float *x, size_t n, const float *an, double h)
{
    float *tmp = malloc(n * sizeof(float) * 64 + 4096);
    double mx = 1e-9, err = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(an[i]));
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i];
        x[i] = (float)(x0 + h);
        double hp = (double)x[i] - x0, vp = f(ctx, x, tmp);
        x[i] = (float)(x0 - h);
        double hm = x0 - (double)x[i], vm = f(ctx, x, tmp);
        x[i] = x0;
        err = fmax(err, fabs((vp - vm) / (hp + hm) - an[i]));
    }
    free(tmp);
    return err / mx;
}

/* ---- building blocks ---- */

static double ntxent_f(void *ctx, const float *Z, float *g)
{
    (void)ctx;
    const size_t M = 10;
    float Zh[10 * K_], G[100];
    double nr[10];
    return dh__ntxent(Z, M, K_, 0.3, g, Zh, G, nr);
}

/* KL(p || q) as the reference writes it (epsilon 1e-8); the stop-gradient partner of
 * every element is read from the frozen copy g_q0, so finite differences see exactly
 * the gradient CIBHash back-propagates. */
static const float *g_q0;
static double kl_ref(double p, double q)
{
    const double e = 1e-8;
    return p * log(p + e) - p * log(q + e) + (1 - p) * log(1 - p + e) - (1 - p) * log(1 - q + e);
}
static double kl_f(void *ctx, const float *Q, float *g)
{
    (void)ctx, (void)g;
    const size_t n = 5;
    double v = 0;
    for (size_t i = 0; i < n * K_; i++)
        v += 0.5 * (kl_ref(Q[i], g_q0[n * K_ + i]) + kl_ref(Q[n * K_ + i], g_q0[i]));
    return v / (double)n;
}

static const float *g_sf;
static double simrec_f(void *ctx, const float *C, float *g)
{
    (void)ctx;
    return dh__simrec(g_sf, C, 6, K_, g);
}

START_TEST(test_unsup_blocks_match_finite_differences)
{
    float Z[10 * K_], dZ[10 * K_], Q[10 * K_], dQ[10 * K_];
    fill(Z, 10 * K_, 3, -1, 1);
    ntxent_f(NULL, Z, dZ);
    double e = fd_rel(ntxent_f, NULL, Z, 10 * K_, dZ, 1e-3);
    ck_assert_msg(e < 2e-3, "NT-Xent: %g", e);
    fill(Q, 10 * K_, 4, 0.05, 0.95);
    float Q0[10 * K_];
    memcpy(Q0, Q, sizeof Q);
    g_q0 = Q0;
    double v = dh__bernoulli_kl_sym(Q, 5, K_, dQ);
    ck_assert(fabs(v - kl_f(NULL, Q, NULL)) < 1e-9);
    e = fd_rel(kl_f, NULL, Q, 10 * K_, dQ, 1e-4);
    ck_assert_msg(e < 2e-3, "Bernoulli KL: %g", e);
    float S[36], C[6 * K_], dC[6 * K_];
    fill(S, 36, 5, -0.5, 1);
    fill(C, 6 * K_, 6, -1, 1);
    g_sf = S;
    simrec_f(NULL, C, dC);
    e = fd_rel(simrec_f, NULL, C, 6 * K_, dC, 1e-3);
    ck_assert_msg(e < 2e-3, "similarity reconstruction: %g", e);
}
END_TEST

/* ---- CIBHash: the loss's dU is the straight-through composition of the blocks ---- */

START_TEST(test_unsup_cibhash_straight_through)
{
    dh_loss *L = make("cibhash", 0, 1); /* variant 1: z = sgn(a) */
    const size_t M = 10, n = 5;
    float A[10 * K_], dU[10 * K_], z[10 * K_], q[10 * K_], dz[10 * K_], dq[10 * K_];
    float Zh[10 * K_], G[100];
    double nr[10];
    fill(A, M * K_, 7, -2, 2);
    for (size_t i = 0; i < M * K_; i++) {
        q[i] = (float)(1 / (1 + exp(-(double)A[i])));
        z[i] = A[i] >= 0 ? 1.0f : -1.0f;
    }
    double v = fb(L, A, M, NULL, dU);
    double v1 = dh__ntxent(z, M, K_, 0.3, dz, Zh, G, nr), v2 = dh__bernoulli_kl_sym(q, n, K_, dq);
    ck_assert_msg(fabs(v - (v1 + 0.001 * v2)) < 1e-6, "value %g vs %g", v, v1 + 0.001 * v2);
    for (size_t i = 0; i < M * K_; i++) {
        double want = ((double)dz[i] + 0.001 * dq[i]) * q[i] * (1 - q[i]);
        ck_assert_msg(fabs(dU[i] - want) < 1e-6, "dU[%zu] %g want %g", i, (double)dU[i], want);
    }
    /* one image (two rows) has no negatives; odd row counts are not two views */
    ck_assert_dh_fail(dh_loss_forward_backward(L, A, 2, NULL, NULL, NULL, dU, &v),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_loss_forward_backward(L, A, 7, NULL, NULL, NULL, dU, &v),
                      DH_E_INVALID_ARG);
    /* labels are ignored: the same value with any labels */
    float Y[10 * 2] = {0};
    double vl = 0;
    ck_assert_dh_ok(dh_loss_forward_backward(L, A, M, Y, NULL, NULL, dU, &vl));
    ck_assert(vl == v);
    dh_loss_free(L);
    /* stochastic bits (variant 0) are deterministic for a seed */
    dh_loss *a = make("cibhash", 0, 0), *b = make("cibhash", 0, 0);
    ck_assert(fb(a, A, M, NULL, dU) == fb(b, A, M, NULL, dz));
    ck_assert(memcmp(dU, dz, sizeof dU) == 0);
    dh_loss_free(a), dh_loss_free(b);
}
END_TEST

/* ---- BiHalf ---- */

START_TEST(test_unsup_bihalf_balanced_and_gradient)
{
    const size_t B = 12;
    float U[12 * K_], Bc[12 * K_];
    fill(U, B * K_, 8, -1, 1);
    for (size_t k = 0; k < K_; k++) U[3 * K_ + k] = U[5 * K_ + k]; /* ties */
    ck_assert_dh_ok(dh__bihalf_split(U, B, K_, Bc));
    for (size_t k = 0; k < K_; k++) {
        int s = 0;
        for (size_t i = 0; i < B; i++) s += Bc[i * K_ + k] > 0 ? 1 : -1;
        ck_assert_msg(s == 0, "bit %zu: balance %d on an even batch", k, s);
        for (size_t i = 0; i < B; i++) /* the +1 half holds the larger values */
            for (size_t j = 0; j < B; j++)
                if (Bc[i * K_ + k] > 0 && Bc[j * K_ + k] < 0) ck_assert(U[i * K_ + k] >= U[j * K_ + k]);
    }
    ck_assert_dh_ok(dh__bihalf_split(U, 7, K_, Bc)); /* odd: ceil(B/2) are +1 */
    for (size_t k = 0; k < K_; k++) {
        int s = 0;
        for (size_t i = 0; i < 7; i++) s += Bc[i * K_ + k] > 0;
        ck_assert_int_eq(s, 4);
    }
    /* the loss: dU = d simrec(B) + gamma (U - B) / B */
    dh_loss *L = make("bihalf", 0, 0);
    float F[N_ * D_], dU[12 * K_], S[144], dB[12 * K_];
    features(F, N_, D_, 9);
    ck_assert_dh_ok(dh_loss_set_features(L, F, N_, D_));
    int64_t idx[12];
    for (size_t i = 0; i < B; i++) idx[i] = (int64_t)(i * 3);
    double v = fb(L, U, B, idx, dU);
    ck_assert_dh_ok(dh__bihalf_split(U, B, K_, Bc));
    ck_assert_dh_ok(dh__unsup_feature_cos(dh__unsup_bank(L), idx, B, S));
    double vs = dh__simrec(S, Bc, B, K_, dB), q = 0;
    for (size_t i = 0; i < B * K_; i++) {
        double d = (double)U[i] - Bc[i];
        q += d * d;
        ck_assert(fabs(dU[i] - (dB[i] + 6.0 / B * d)) < 1e-6);
    }
    ck_assert(fabs(v - (vs + 3.0 / B * q)) < 1e-6);
    dh_loss_free(L);
}
END_TEST

/* ---- SSDH, k-means and SGH through the API (smooth in U / in parameters) ---- */

typedef struct api_ctx {
    dh_loss *L;
    size_t B;
    const int64_t *idx;
} api_ctx;

static double api_f(void *ctx, const float *U, float *g)
{
    api_ctx *c = ctx;
    return fb(c->L, U, c->B, c->idx, g);
}

static void check_api_fd(const char *m, uint32_t C, double tol)
{
    dh_loss *L = make(m, C, 0);
    float F[N_ * D_], U[12 * K_], dU[12 * K_];
    features(F, N_, D_, 10);
    ck_assert_dh_ok(dh_loss_set_features(L, F, N_, D_));
    int64_t idx[12];
    for (size_t i = 0; i < 12; i++) idx[i] = (int64_t)(i * 3 + 1);
    fill(U, 12 * K_, 11, -1.5, 1.5);
    dh__loss_set_frozen(L, 1);
    fb(L, U, 12, idx, dU);
    api_ctx c = {L, 12, idx};
    double e = fd_rel(api_f, &c, U, 12 * K_, dU, 1e-3);
    ck_assert_msg(e < tol, "%s: finite-difference mismatch %g", m, e);
    dh_loss_free(L);
}

START_TEST(test_unsup_ssdh_kmeans_fd)
{
    check_api_fd("ssdh", 0, 2e-3);
    check_api_fd("kmeans", 4, 2e-3);
}
END_TEST

START_TEST(test_unsup_ssdh_thresholds)
{
    /* 8 groups of 5: the histogram peaks at the between-group distance, within-group
     * pairs fall below the lower threshold */
    enum { d = 8 };
    float F[N_ * d];
    uint64_t s = 12;
    for (size_t i = 0; i < N_; i++)
        for (size_t j = 0; j < d; j++)
            F[i * d + j] = (float)((j == i % 8 ? 1.0 : 0.1) + 0.05 * urand(&s));
    double lo, hi;
    ck_assert_dh_ok(dh__ssdh_thresholds(F, N_, d, 2.0, 1, &lo, &hi));
    ck_assert_msg(lo < 0 && lo < hi, "lo %g hi %g", lo, hi); /* 2 sigma: nothing similar */
    ck_assert_dh_ok(dh__ssdh_thresholds(F, N_, d, 1.0, 1, &lo, &hi));
    ck_assert_msg(0 < lo && lo < hi, "lo %g hi %g", lo, hi);
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = K_, o.n_train = N_, o.margin = 1.0;
    dh_loss *L = NULL;
    ck_assert_dh_ok(dh_loss_create("ssdh", &o, &L));
    ck_assert_dh_ok(dh_loss_set_features(L, F, N_, d));
    float t[2];
    ck_assert_dh_ok(dh_loss_get_tensor(L, "thresholds", t, 2));
    ck_assert(fabs(t[0] - lo) < 1e-6 && fabs(t[1] - hi) < 1e-6);
    int64_t idx[3] = {0, 8, 1}; /* 0 and 8: same group; 1: another */
    float S[9];
    ck_assert_dh_ok(dh__unsup_feature_cos(dh__unsup_bank(L), idx, 3, S));
    ck_assert_msg(1 - S[1] < lo, "same-group distance %g vs lo %g", 1 - S[1], lo);
    ck_assert_msg(1 - S[2] >= lo, "other-group distance %g vs lo %g", 1 - S[2], lo);
    dh_loss_free(L);
}
END_TEST

static double sgh_param_f(void *ctx, const float *W, float *g)
{
    api_ctx *c = ctx;
    float dU[12 * K_], U[12 * K_];
    fill(U, 12 * K_, 13, -1.5, 1.5);
    size_t n = (size_t)D_ * K_;
    ck_assert_dh_ok(dh_loss_set_tensor(c->L, "decoder.weight", W, n));
    double v = fb(c->L, U, 12, c->idx, dU);
    (void)g;
    return v;
}

START_TEST(test_unsup_sgh_gradients)
{
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = K_, o.n_train = N_, o.schedule = 1; /* threshold neurons */
    dh_loss *L = NULL;
    ck_assert_dh_ok(dh_loss_create("sgh", &o, &L));
    ck_assert_uint_eq(dh_loss_param_count(L), 0);
    float F[N_ * D_], U[12 * K_], dU[12 * K_], W[D_ * K_], gW[D_ * K_];
    features(F, N_, D_, 14);
    ck_assert_dh_ok(dh_loss_set_features(L, F, N_, D_));
    ck_assert_uint_eq(dh_loss_param_count(L), 2);
    ck_assert_str_eq(dh_loss_param_name(L, 0), "decoder.weight");
    int64_t idx[12];
    for (size_t i = 0; i < 12; i++) idx[i] = (int64_t)(i * 2);
    fill(U, 12 * K_, 13, -1.5, 1.5);
    ck_assert_dh_ok(dh_loss_get_tensor(L, "decoder.weight", W, D_ * K_));
    fb(L, U, 12, idx, dU);
    dh__param *p;
    dh__loss_params(L, &p);
    memcpy(gW, p[0].grad, sizeof gW);
    api_ctx c = {L, 12, idx};
    double e = fd_rel(sgh_param_f, &c, W, D_ * K_, gW, 1e-3);
    ck_assert_msg(e < 2e-3, "decoder weight: %g", e);
    /* with a zero decoder the value is smooth in U (the KL term) */
    memset(W, 0, sizeof W);
    ck_assert_dh_ok(dh_loss_set_tensor(L, "decoder.weight", W, D_ * K_));
    fb(L, U, 12, idx, dU);
    e = fd_rel(api_f, &c, U, 12 * K_, dU, 1e-3);
    ck_assert_msg(e < 2e-3, "sgh U: %g", e);
    dh_loss_free(L);
}
END_TEST

/* ---- k-means ---- */

START_TEST(test_unsup_kmeans_deterministic)
{
    enum { n = 300, d = 5, k = 3 };
    float X[n * d], C1[k * d], C2[k * d];
    int32_t a1[n], a2[n];
    uint64_t s = 20;
    for (size_t i = 0; i < n; i++) /* three separated blobs */
        for (size_t j = 0; j < d; j++)
            X[i * d + j] = (float)((j == i % k ? 5.0 : 0.0) + urand(&s));
    double in1, in2;
    ck_assert_dh_ok(dh__kmeans(X, n, d, k, 7, 100, C1, a1, &in1));
    ck_assert_dh_ok(dh__kmeans(X, n, d, k, 7, 100, C2, a2, &in2));
    ck_assert(memcmp(a1, a2, sizeof a1) == 0 && memcmp(C1, C2, sizeof C1) == 0 && in1 == in2);
    for (size_t i = k; i < n; i++) /* the blobs are recovered */
        ck_assert_int_eq(a1[i], a1[i % k]);
    ck_assert(a1[0] != a1[1] && a1[1] != a1[2] && a1[0] != a1[2]);
    ck_assert_dh_fail(dh__kmeans(X, 2, d, k, 7, 10, C1, a1, NULL), DH_E_INVALID_ARG);
}
END_TEST

/* ---- shallow baselines ---- */

START_TEST(test_unsup_itq_objective_and_projections)
{
    enum { n = 200, d = 12 };
    float F[n * d], W[K_ * d], b[K_];
    uint64_t s = 30;
    for (size_t i = 0; i < n * d; i++) F[i] = (float)(urand(&s) * (1 + (i % d)));
    dh_loss *L = make("itq", 0, -1);
    double obj[50];
    ck_assert_dh_ok(dh__shallow_fit(L, F, n, d, W, b, obj));
    for (int t = 1; t < 50; t++)
        ck_assert_msg(obj[t] <= obj[t - 1] + 1e-9, "ITQ objective rose at %d: %g > %g", t,
                      obj[t], obj[t - 1]);
    ck_assert_msg(obj[49] < obj[0], "ITQ did not improve: %g -> %g", obj[0], obj[49]);
    /* the rotated projection stays orthonormal: W W^T = I */
    for (size_t i = 0; i < K_; i++)
        for (size_t j = 0; j < K_; j++) {
            double dot = 0;
            for (size_t t = 0; t < d; t++) dot += (double)W[i * d + t] * W[j * d + t];
            ck_assert_msg(fabs(dot - (i == j)) < 1e-4, "W W^T[%zu][%zu] = %g", i, j, dot);
        }
    /* the bias centres: W mu + b = 0 */
    for (size_t j = 0; j < K_; j++) {
        double z = b[j];
        for (size_t t = 0; t < d; t++) {
            double mu = 0;
            for (size_t i = 0; i < n; i++) mu += F[i * d + t];
            z += W[j * d + t] * mu / n;
        }
        ck_assert(fabs(z) < 1e-4);
    }
    dh_loss_free(L);
    /* PCAH: the first direction has the largest variance */
    L = make("pcah", 0, -1);
    ck_assert_dh_ok(dh__shallow_fit(L, F, n, d, W, b, NULL));
    double var[K_];
    for (size_t j = 0; j < K_; j++) {
        double m = 0, m2 = 0;
        for (size_t i = 0; i < n; i++) {
            double z = b[j];
            for (size_t t = 0; t < d; t++) z += W[j * d + t] * F[i * d + t];
            m += z, m2 += z * z;
        }
        var[j] = m2 / n - (m / n) * (m / n);
        if (j) ck_assert_msg(var[j] <= var[j - 1] + 1e-6, "PCAH variance order at %zu", j);
    }
    /* K larger than the feature dimension: a clear error for PCAH and ITQ, not LSH */
    ck_assert_dh_fail(dh__shallow_fit(L, F, n, 4, W, b, NULL), DH_E_INVALID_ARG);
    dh_loss_free(L);
    L = make("lsh", 0, -1);
    float W4[K_ * 4];
    ck_assert_dh_ok(dh__shallow_fit(L, F, n, 4, W4, b, NULL));
    F[5] = NAN;
    ck_assert_dh_fail(dh__shallow_fit(L, F, n, d, W, b, NULL), DH_E_INVALID_ARG);
    float U[4 * K_] = {0}, dU[4 * K_];
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, 4, NULL, NULL, NULL, dU, NULL), DH_E_STATE);
    dh_loss_free(L);
}
END_TEST

START_TEST(test_unsup_bad_inputs)
{
    float F[N_ * D_];
    features(F, N_, D_, 40);
    dh_loss *L = make("ssdh", 0, 0);
    float U[4 * K_] = {0}, dU[4 * K_];
    int64_t idx[4] = {0, 1, 2, 3};
    /* no features yet; then wrong shapes, NaN */
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, 4, NULL, NULL, idx, dU, NULL), DH_E_STATE);
    ck_assert_dh_fail(dh_loss_set_features(L, F, N_ - 1, D_), DH_E_SHAPE);
    ck_assert_dh_fail(dh_loss_set_features(L, NULL, N_, D_), DH_E_INVALID_ARG);
    F[7] = NAN;
    ck_assert_dh_fail(dh_loss_set_features(L, F, N_, D_), DH_E_INVALID_ARG);
    F[7] = 0.5f;
    ck_assert_dh_ok(dh_loss_set_features(L, F, N_, D_));
    ck_assert_dh_fail(dh_loss_set_features(L, F, N_ / 2, D_ * 2), DH_E_SHAPE);
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, 4, NULL, NULL, NULL, dU, NULL),
                      DH_E_INVALID_ARG); /* indices needed */
    idx[2] = N_;
    ck_assert_dh_fail(dh_loss_forward_backward(L, U, 4, NULL, NULL, idx, dU, NULL),
                      DH_E_INVALID_ARG);
    dh_loss_free(L);
    /* a method without features; n_train missing; too many clusters */
    L = make("cibhash", 0, 0);
    ck_assert_dh_fail(dh_loss_set_features(L, F, N_, D_), DH_E_STATE);
    dh_loss_free(L);
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = K_;
    ck_assert_dh_fail(dh_loss_create("ssdh", &o, &L), DH_E_INVALID_ARG);
    o.n_train = 5, o.n_classes = 6;
    ck_assert_dh_fail(dh_loss_create("kmeans", &o, &L), DH_E_INVALID_ARG);
    /* flags */
    ck_assert_uint_eq(dh_loss_method_flags("CIBHash"), DH_LOSS_FLAG_UNSUPERVISED |
                                                           DH_LOSS_FLAG_TWO_VIEWS);
    ck_assert_uint_eq(dh_loss_method_flags("itq"), DH_LOSS_FLAG_UNSUPERVISED |
                                                       DH_LOSS_FLAG_SHALLOW);
    ck_assert_uint_eq(dh_loss_method_flags("csq"), 0);
    ck_assert_uint_eq(dh_loss_method_flags(NULL), 0);
    ck_assert_uint_eq(dh_loss_method_flags("kmeans"), DH_LOSS_FLAG_UNSUPERVISED |
                                                         DH_LOSS_FLAG_FEATURES);
    ck_assert_uint_eq(dh_loss_method_flags("unknown-method-with-a-name-over-32-chars"), 0);
    { /* every unsupervised method: the UNSUPERVISED bit and no TAGS bit */
        const char *un[] = {"cibhash", "bihalf", "ssdh", "kmeans", "sgh", "lsh", "pcah", "itq"};
        for (size_t i = 0; i < sizeof un / sizeof un[0]; i++) {
            uint32_t fl = dh_loss_method_flags(un[i]);
            ck_assert_uint_eq(fl & (DH_LOSS_FLAG_UNSUPERVISED | DH_LOSS_FLAG_TAGS),
                              DH_LOSS_FLAG_UNSUPERVISED);
        }
    }
    /* kmeans' default k is 10 when n_classes is 0 */
    o.n_classes = 0, o.n_train = N_;
    ck_assert_dh_ok(dh_loss_create("kmeans", &o, &L));
    int64_t sh[4];
    int32_t nd;
    ck_assert_dh_ok(dh_loss_tensor_shape(L, "centers", sh, &nd));
    ck_assert(sh[0] == 10 && sh[1] == K_);
    dh_loss_free(L);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("loss_unsup");
    TCase *t = tcase_create("unsup");
    tcase_add_test(t, test_unsup_blocks_match_finite_differences);
    tcase_add_test(t, test_unsup_cibhash_straight_through);
    tcase_add_test(t, test_unsup_bihalf_balanced_and_gradient);
    tcase_add_test(t, test_unsup_ssdh_kmeans_fd);
    tcase_add_test(t, test_unsup_ssdh_thresholds);
    tcase_add_test(t, test_unsup_sgh_gradients);
    tcase_add_test(t, test_unsup_kmeans_deterministic);
    tcase_add_test(t, test_unsup_itq_objective_and_projections);
    tcase_add_test(t, test_unsup_bad_inputs);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(suite()); }
