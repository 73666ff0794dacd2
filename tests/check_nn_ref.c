/* tests/check_nn_ref.c -- finite-difference gradient checks of every reference
 * kernel's backward (lib/nn/ref.c), in double precision.
 *
 * For a forward f and a random R, L = sum(R * f(x, w)); the backward called with
 * dout = R must match (L(x + eps) - L(x - eps)) / 2 eps for every input and
 * parameter element. Central differences in double with eps = 1e-6 are accurate to
 * ~1e-9 relative here, so the tolerance is 1e-6 (relative to max(1, |grad|)). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "testutil.h"

#define FD_EPS 1e-6
#define FD_TOL 1e-6

static void rnd(double *a, size_t n, uint64_t seed, double lo, double hi)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++)
        a[i] = lo + (hi - lo) * (double)(dh_test_rand(&s) >> 11) * 0x1.0p-53;
}

typedef void (*fwd_fn)(void *ctx, double *out);

static double loss(fwd_fn f, void *ctx, double *out, const double *r, size_t m)
{
    f(ctx, out);
    double l = 0;
    for (size_t i = 0; i < m; i++) l += r[i] * out[i];
    return l;
}

/* Compare analytic[i] with the central difference of L w.r.t. v[i]. */
static void fd_check(fwd_fn f, void *ctx, double *out, const double *r, size_t m, double *v,
                     size_t n, const double *analytic, const char *what)
{
    size_t step = n > 400 ? n / 400 : 1; /* large tensors: a strided sample */
    for (size_t i = 0; i < n; i += step) {
        double save = v[i];
        v[i] = save + FD_EPS;
        double lp = loss(f, ctx, out, r, m);
        v[i] = save - FD_EPS;
        double lm = loss(f, ctx, out, r, m);
        v[i] = save;
        double num = (lp - lm) / (2 * FD_EPS);
        ck_assert_msg(fabs(num - analytic[i]) <= FD_TOL * fmax(1.0, fabs(num)),
                      "%s[%zu]: analytic %.10g, numeric %.10g", what, i, analytic[i], num);
    }
}

/* ---- conv ---- */
typedef struct conv_ctx { dh__conv_ref_dims d; double *x, *w, *b; } conv_ctx;
static void conv_f(void *c, double *out)
{
    conv_ctx *k = c;
    dh__conv2d_ref_forward(out, k->x, k->w, k->b, &k->d);
}

static void conv_case(dh__conv_ref_dims d)
{
    dh__conv_ref_dims_init(&d);
    size_t nx = (size_t)d.n * d.c * d.h * d.w, nw = (size_t)d.o * (d.c / d.groups) * d.kh * d.kw;
    size_t m = (size_t)d.n * d.o * d.oh * d.ow;
    double *x = malloc(nx * 8), *w = malloc(nw * 8), *b = malloc(d.o * 8), *r = malloc(m * 8);
    double *out = malloc(m * 8), *dx = calloc(nx, 8), *dw = calloc(nw, 8), *db = calloc(d.o, 8);
    rnd(x, nx, 1, -1, 1);
    rnd(w, nw, 2, -1, 1);
    rnd(b, d.o, 3, -1, 1);
    rnd(r, m, 4, -1, 1);
    conv_ctx k = {d, x, w, b};
    dh__conv2d_ref_backward(dx, dw, db, r, x, w, &d);
    fd_check(conv_f, &k, out, r, m, x, nx, dx, "conv dx");
    fd_check(conv_f, &k, out, r, m, w, nw, dw, "conv dw");
    fd_check(conv_f, &k, out, r, m, b, d.o, db, "conv db");
    free(x); free(w); free(b); free(r); free(out); free(dx); free(dw); free(db);
}

START_TEST(test_nn_ref_conv_fd)
{
    conv_case((dh__conv_ref_dims){.n = 2, .c = 3, .h = 6, .w = 5, .o = 4, .kh = 3, .kw = 3,
                                  .sh = 1, .sw = 1, .ph = 1, .pw = 1});
    conv_case((dh__conv_ref_dims){.n = 2, .c = 4, .h = 9, .w = 9, .o = 6, .kh = 3, .kw = 2,
                                  .sh = 2, .sw = 1, .ph = 1, .pw = 0, .dh = 2, .dw = 1,
                                  .groups = 2});
}
END_TEST

/* ---- batch norm ---- */
typedef struct bn_ctx { double *x, *g, *b; int n, c, hw; } bn_ctx;
static void bn_f(void *c, double *out)
{
    bn_ctx *k = c;
    dh__bn_ref_forward(out, NULL, NULL, k->x, k->g, k->b, k->n, k->c, k->hw, 1e-5);
}

static void bn_case(int n, int c, int hw)
{
    size_t m = (size_t)n * c * hw;
    double *x = malloc(m * 8), *g = malloc(c * 8), *b = malloc(c * 8), *r = malloc(m * 8);
    double *out = malloc(m * 8), *dx = calloc(m, 8), *dg = calloc(c, 8), *dbeta = calloc(c, 8);
    rnd(x, m, 5, -2, 2);
    rnd(g, c, 6, 0.5, 1.5);
    rnd(b, c, 7, -1, 1);
    rnd(r, m, 8, -1, 1);
    bn_ctx k = {x, g, b, n, c, hw};
    dh__bn_ref_backward(dx, dg, dbeta, r, x, g, n, c, hw, 1e-5);
    fd_check(bn_f, &k, out, r, m, x, m, dx, "bn dx");
    fd_check(bn_f, &k, out, r, m, g, c, dg, "bn dgamma");
    fd_check(bn_f, &k, out, r, m, b, c, dbeta, "bn dbeta");
    free(x); free(g); free(b); free(r); free(out); free(dx); free(dg); free(dbeta);
}

START_TEST(test_nn_ref_bn_fd)
{
    bn_case(3, 4, 5); /* 2d */
    bn_case(6, 5, 1); /* 1d */
}
END_TEST

/* ---- element-wise ---- */
typedef struct act_ctx { double *x; size_t n; int kind; double alpha; } act_ctx;
static void act_f(void *c, double *out)
{
    act_ctx *k = c;
    dh__act_ref_forward(out, k->x, k->n, k->kind, k->alpha);
}

START_TEST(test_nn_ref_act_fd)
{
    const size_t n = 64;
    double x[64], r[64], out[64], dx[64];
    rnd(x, n, 9, -3, 3);
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i]) < 1e-3) x[i] = 0.5; /* keep away from ReLU's kink */
    rnd(r, n, 10, -1, 1);
    const int kinds[5] = {DH__ACT_RELU, DH__ACT_RELU, DH__ACT_TANH, DH__ACT_SIGMOID, DH__ACT_GELU};
    const double alphas[5] = {0.0, 0.1, 0, 0, 0};
    for (int k = 0; k < 5; k++) {
        memset(dx, 0, sizeof dx);
        act_ctx c = {x, n, kinds[k], alphas[k]};
        dh__act_ref_backward(dx, r, x, n, kinds[k], alphas[k]);
        fd_check(act_f, &c, out, r, n, x, n, dx, "act dx");
    }
}
END_TEST

/* ---- pooling ---- */
typedef struct pool_ctx { double *x; int n, c, h, w, k, s, p, max; } pool_ctx;
static void pool_f(void *c, double *out)
{
    pool_ctx *q = c;
    if (q->max) dh__maxpool_ref_forward(out, q->x, q->n, q->c, q->h, q->w, q->k, q->s, q->p);
    else dh__avgpool_ref_forward(out, q->x, q->n, q->c, q->h, q->w, q->k, q->s, q->p);
}

START_TEST(test_nn_ref_pool_fd)
{
    for (int max = 0; max < 2; max++) {
        pool_ctx q = {NULL, 2, 3, 7, 6, 3, 2, 1, max};
        int oh = (q.h + 2 * q.p - q.k) / q.s + 1, ow = (q.w + 2 * q.p - q.k) / q.s + 1;
        size_t nx = (size_t)q.n * q.c * q.h * q.w, m = (size_t)q.n * q.c * oh * ow;
        double *x = malloc(nx * 8), *r = malloc(m * 8), *out = malloc(m * 8), *dx = calloc(nx, 8);
        rnd(x, nx, 11, -1, 1); /* distinct values: no ties for max */
        rnd(r, m, 12, -1, 1);
        q.x = x;
        if (max) dh__maxpool_ref_backward(dx, r, x, q.n, q.c, q.h, q.w, q.k, q.s, q.p);
        else dh__avgpool_ref_backward(dx, r, q.n, q.c, q.h, q.w, q.k, q.s, q.p);
        fd_check(pool_f, &q, out, r, m, x, nx, dx, max ? "maxpool dx" : "avgpool dx");
        free(x); free(r); free(out); free(dx);
    }
}
END_TEST

/* ---- linear ---- */
typedef struct lin_ctx { double *x, *w, *b; int n, k, m; } lin_ctx;
static void lin_f(void *c, double *out)
{
    lin_ctx *q = c;
    dh__linear_ref_forward(out, q->x, q->w, q->b, q->n, q->k, q->m);
}

START_TEST(test_nn_ref_linear_fd)
{
    enum { N = 3, K = 7, M = 5 };
    double x[N * K], w[M * K], b[M], r[N * M], out[N * M];
    double dx[N * K] = {0}, dw[M * K] = {0}, db[M] = {0};
    rnd(x, N * K, 13, -1, 1);
    rnd(w, M * K, 14, -1, 1);
    rnd(b, M, 15, -1, 1);
    rnd(r, N * M, 16, -1, 1);
    lin_ctx q = {x, w, b, N, K, M};
    dh__linear_ref_backward(dx, dw, db, r, x, w, N, K, M);
    fd_check(lin_f, &q, out, r, N * M, x, N * K, dx, "linear dx");
    fd_check(lin_f, &q, out, r, N * M, w, M * K, dw, "linear dw");
    fd_check(lin_f, &q, out, r, N * M, b, M, db, "linear db");
}
END_TEST

/* ---- softmax ---- */
typedef struct sm_ctx { double *x; int outer, axis, inner; } sm_ctx;
static void sm_f(void *c, double *out)
{
    sm_ctx *q = c;
    dh__softmax_ref_forward(out, q->x, q->outer, q->axis, q->inner);
}

START_TEST(test_nn_ref_softmax_fd)
{
    enum { O = 2, A = 5, I = 3, NN = O * A * I };
    double x[NN], r[NN], out[NN], dx[NN] = {0};
    rnd(x, NN, 17, -3, 3);
    rnd(r, NN, 18, -1, 1);
    sm_ctx q = {x, O, A, I};
    sm_f(&q, out);
    for (int o = 0; o < O; o++) /* each softmax row sums to 1 */
        for (int i = 0; i < I; i++) {
            double s = 0;
            for (int a = 0; a < A; a++) s += out[(o * A + a) * I + i];
            ck_assert_double_eq_tol(s, 1.0, 1e-12);
        }
    dh__softmax_ref_backward(dx, r, out, O, A, I);
    fd_check(sm_f, &q, out, r, NN, x, NN, dx, "softmax dx");
}
END_TEST

/* ---- dropout ---- */
typedef struct do_ctx { double *x; uint8_t *mask; size_t n; double p; } do_ctx;
static void do_f(void *c, double *out)
{
    do_ctx *q = c;
    dh__dropout_ref_forward(out, q->x, q->mask, q->n, q->p);
}

START_TEST(test_nn_ref_dropout_fd)
{
    enum { NN = 50 };
    double x[NN], r[NN], out[NN], dx[NN] = {0};
    uint8_t mask[NN];
    for (int i = 0; i < NN; i++) mask[i] = (uint8_t)(i % 3 != 0);
    rnd(x, NN, 19, -1, 1);
    rnd(r, NN, 20, -1, 1);
    do_ctx q = {x, mask, NN, 0.3};
    dh__dropout_ref_backward(dx, r, mask, NN, 0.3);
    fd_check(do_f, &q, out, r, NN, x, NN, dx, "dropout dx");
}
END_TEST

START_TEST(test_nn_ref_rng_deterministic)
{
    dh__xrng a, b;
    dh__xrng_seed(&a, 42);
    dh__xrng_seed(&b, 42);
    double mean = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t x = dh__xrng_next(&a);
        ck_assert_uint_eq(x, dh__xrng_next(&b));
        (void)x;
    }
    dh__xrng_seed(&a, 7);
    for (int i = 0; i < 10000; i++) {
        double u = dh__xrng_uniform(&a);
        ck_assert(u >= 0.0 && u < 1.0);
        mean += u;
    }
    ck_assert_double_eq_tol(mean / 10000, 0.5, 0.02);
}
END_TEST

static Suite *dh__nn_ref_suite(void)
{
    Suite *s = suite_create("dh__nn_ref");
    TCase *tc = tcase_create("GradCheck");
    tcase_add_test(tc, test_nn_ref_conv_fd);
    tcase_add_test(tc, test_nn_ref_bn_fd);
    tcase_add_test(tc, test_nn_ref_act_fd);
    tcase_add_test(tc, test_nn_ref_pool_fd);
    tcase_add_test(tc, test_nn_ref_linear_fd);
    tcase_add_test(tc, test_nn_ref_softmax_fd);
    tcase_add_test(tc, test_nn_ref_dropout_fd);
    tcase_add_test(tc, test_nn_ref_rng_deterministic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dh_test_run(dh__nn_ref_suite()); }
