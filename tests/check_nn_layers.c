/* tests/check_nn_layers.c -- every layer on the oneDNN path against its double
 * reference (lib/nn/ref.c): training forward, backward (input and parameter
 * gradients), inference, the inference fusions (BN folding, residual sum and ReLU
 * post-ops), layout bridging between blocked and plain tensors, and plan caching.
 *
 * Tolerances: oneDNN computes in float32. Outputs must agree within 1e-4 and
 * gradients within 1e-3 of the reference's largest magnitude (sums over at most a
 * few thousand terms; float accumulation error stays well below these). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "testutil.h"

#define TOL_OUT 1e-4
#define TOL_GRAD 1e-3

static void rnd(double *a, size_t n, uint64_t seed, double lo, double hi)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 3;
    for (size_t i = 0; i < n; i++)
        a[i] = lo + (hi - lo) * (double)(dh_test_rand(&s) >> 11) * 0x1.0p-53;
}

static float *tof(const double *a, size_t n)
{
    float *f = malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) f[i] = (float)a[i];
    return f;
}

/* Round the double inputs to float so both sides see identical values. */
static void round_f(double *a, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = (double)(float)a[i];
}

static void near(const float *got, const double *want, size_t n, double tol, const char *what)
{
    double scale = 1e-6, err = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (e > err) { err = e; at = i; }
    }
    ck_assert_msg(err <= tol * scale, "%s: max error %.3g at %zu (got %.7g, want %.7g, scale %.3g)",
                  what, err, at, n ? (double)got[at] : 0.0, n ? want[at] : 0.0, scale);
}

static dh__net *mk(int32_t ndim, int64_t a, int64_t b, int64_t c)
{
    int64_t s[3] = {a, b, c};
    dh__net *net = NULL;
    ck_assert_dh_ok(dh__net_create(ndim, s, 99, &net));
    return net;
}

/* Set parameter i (by order) from doubles, rounded to float in place. */
static void setp(dh__net *net, size_t i, double *v)
{
    dh__param *p;
    size_t np = dh__net_params(net, &p);
    ck_assert_uint_lt(i, np);
    round_f(v, p[i].n);
    for (size_t k = 0; k < p[i].n; k++) p[i].data[k] = (float)v[k];
    dh__net_params_changed(net);
}

static dh__param *par(dh__net *net, size_t i)
{
    dh__param *p;
    dh__net_params(net, &p);
    return &p[i];
}

/* ---- convolution ---- */

static void conv_case(dh__conv_ref_dims d, int bias)
{
    dh__conv_ref_dims_init(&d);
    dh__net *net = mk(3, d.c, d.h, d.w);
    dh__conv_args a = {d.o, d.kh, d.kw, d.sh, d.ph, d.dh, d.groups, bias};
    int y = dh__net_conv(net, 0, "c", a);
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    size_t nx = (size_t)d.n * d.c * d.h * d.w, nw = par(net, 0)->n, m = (size_t)d.n * d.o * d.oh * d.ow;
    ck_assert_uint_eq(m, d.n * dh__net_numel(net, y));
    double *x = malloc(nx * 8), *w = malloc(nw * 8), *b = calloc(d.o, 8), *r = malloc(m * 8);
    double *out = malloc(m * 8), *dx = calloc(nx, 8), *dw = calloc(nw, 8), *db = calloc(d.o, 8);
    rnd(x, nx, 1, -1, 1);
    round_f(x, nx);
    rnd(w, nw, 2, -1, 1);
    setp(net, 0, w);
    if (bias) {
        rnd(b, d.o, 3, -1, 1);
        setp(net, 1, b);
    }
    rnd(r, m, 4, -1, 1);
    round_f(r, m);
    float *xf = tof(x, nx), *rf = tof(r, m), *of = malloc(m * 4), *dxf = malloc(nx * 4);
    dh__conv2d_ref_forward(out, x, w, bias ? b : NULL, &d);
    dh__conv2d_ref_backward(dx, dw, bias ? db : NULL, r, x, w, &d);
    for (int training = 1; training >= 0; training--) {
        ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)d.n, training, of, NULL));
        near(of, out, m, TOL_OUT, training ? "conv forward (training)" : "conv forward (inference)");
        if (!training) break;
        ck_assert_dh_ok(dh__net_backward(net, rf, NULL, dxf));
        near(dxf, dx, nx, TOL_GRAD, "conv dx");
        near(par(net, 0)->grad, dw, nw, TOL_GRAD, "conv dw");
        if (bias) near(par(net, 1)->grad, db, (size_t)d.o, TOL_GRAD, "conv db");
    }
    /* gradients accumulate: a second backward doubles them */
    ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)d.n, 1, of, NULL));
    ck_assert_dh_ok(dh__net_backward(net, rf, NULL, NULL));
    for (size_t k = 0; k < nw; k++) dw[k] *= 2;
    near(par(net, 0)->grad, dw, nw, TOL_GRAD, "conv dw accumulated");
    dh__net_zero_grad(net);
    ck_assert(par(net, 0)->grad[0] == 0.0f);
    dh__net_free(net);
    free(x); free(w); free(b); free(r); free(out); free(dx); free(dw); free(db);
    free(xf); free(rf); free(of); free(dxf);
}

START_TEST(test_nn_conv_matches_ref)
{
    conv_case((dh__conv_ref_dims){.n = 2, .c = 3, .h = 8, .w = 8, .o = 16, .kh = 5, .kw = 5,
                                  .sh = 1, .sw = 1, .ph = 2, .pw = 2}, 0);
    conv_case((dh__conv_ref_dims){.n = 2, .c = 4, .h = 9, .w = 9, .o = 6, .kh = 3, .kw = 3,
                                  .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 2, .dw = 2,
                                  .groups = 2}, 1);
    conv_case((dh__conv_ref_dims){.n = 3, .c = 16, .h = 7, .w = 7, .o = 32, .kh = 1, .kw = 1,
                                  .sh = 2, .sw = 2}, 0);
    conv_case((dh__conv_ref_dims){.n = 1, .c = 32, .h = 6, .w = 6, .o = 32, .kh = 3, .kw = 3,
                                  .sh = 1, .sw = 1, .ph = 1, .pw = 1}, 1);
}
END_TEST

/* ---- batch norm, training and inference, 2d and 1d ---- */

static void bn_case(int n, int c, int h, int w)
{
    int hw = h * w;
    dh__net *net = h ? mk(3, c, h, w) : mk(1, c, 0, 0);
    if (!h) hw = 1;
    int y = dh__net_bn(net, 0, "bn", 1e-5f, 0.1f);
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    size_t m = (size_t)n * c * hw;
    double *x = malloc(m * 8), *g = malloc(c * 8), *b = malloc(c * 8), *r = malloc(m * 8);
    double *out = malloc(m * 8), *dx = calloc(m, 8), *dg = calloc(c, 8), *dbeta = calloc(c, 8);
    double *mean = malloc(c * 8), *var = malloc(c * 8);
    rnd(x, m, 5, -2, 3);
    round_f(x, m);
    rnd(g, c, 6, 0.5, 1.5);
    rnd(b, c, 7, -1, 1);
    rnd(r, m, 8, -1, 1);
    round_f(r, m);
    setp(net, 0, g);
    setp(net, 1, b);
    float *xf = tof(x, m), *rf = tof(r, m), *of = malloc(m * 4), *dxf = malloc(m * 4);
    dh__bn_ref_forward(out, mean, var, x, g, b, n, c, hw, 1e-5);
    dh__bn_ref_backward(dx, dg, dbeta, r, x, g, n, c, hw, 1e-5);
    ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)n, 1, of, NULL));
    near(of, out, m, TOL_OUT, "bn forward (training)");
    /* running statistics: momentum 0.1 from (0, 1), unbiased variance */
    double cnt = (double)n * hw;
    for (int k = 0; k < c; k++) {
        ck_assert_double_eq_tol(par(net, 2)->data[k], 0.1 * mean[k], 1e-5);
        ck_assert_double_eq_tol(par(net, 3)->data[k], 0.9 + 0.1 * var[k] * cnt / (cnt - 1), 1e-4);
    }
    ck_assert(par(net, 4)->data[0] == 1.0f);
    ck_assert_dh_ok(dh__net_backward(net, rf, NULL, dxf));
    near(dxf, dx, m, TOL_GRAD, "bn dx");
    near(par(net, 0)->grad, dg, (size_t)c, TOL_GRAD, "bn dgamma");
    near(par(net, 1)->grad, dbeta, (size_t)c, TOL_GRAD, "bn dbeta");
    /* inference uses the running statistics */
    double rm[64], rv[64];
    for (int k = 0; k < c; k++) {
        rm[k] = par(net, 2)->data[k];
        rv[k] = par(net, 3)->data[k];
    }
    dh__bn_ref_forward_infer(out, x, g, b, rm, rv, n, c, hw, 1e-5);
    ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)n, 0, of, NULL));
    near(of, out, m, TOL_OUT, "bn forward (inference)");
    dh__net_free(net);
    free(x); free(g); free(b); free(r); free(out); free(dx); free(dg); free(dbeta);
    free(mean); free(var); free(xf); free(rf); free(of); free(dxf);
}

START_TEST(test_nn_bn_matches_ref)
{
    bn_case(3, 5, 4, 4);
    bn_case(4, 32, 3, 3); /* blocked channels */
    bn_case(6, 7, 0, 0);  /* 1d */
}
END_TEST

START_TEST(test_nn_bn_rejects_single_value_batch)
{
    dh__net *net = mk(1, 4, 0, 0);
    int y = dh__net_bn(net, 0, "bn", 1e-5f, 0.1f);
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    float x[4] = {1, 2, 3, 4}, o[4];
    ck_assert_dh_fail(dh__net_forward(net, x, 1, 1, o, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh__net_forward(net, x, 1, 0, o, NULL)); /* inference is fine */
    dh__net_free(net);
}
END_TEST

/* ---- generic single-input, parameter-free layers ---- */

typedef void (*ref_fwd)(double *out, const double *in, const int *g);
typedef void (*ref_bwd)(double *din, const double *dout, const double *in, const double *out,
                        const int *g);

static void plain_case(dh__net *net, int y, int n, ref_fwd f, ref_bwd b, const int *g,
                       const char *what)
{
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    size_t nx = (size_t)n * dh__net_numel(net, 0), m = (size_t)n * dh__net_numel(net, y);
    double *x = malloc(nx * 8), *r = malloc(m * 8), *out = malloc(m * 8), *dx = calloc(nx, 8);
    rnd(x, nx, 21, -2, 2);
    round_f(x, nx);
    rnd(r, m, 22, -1, 1);
    round_f(r, m);
    float *xf = tof(x, nx), *rf = tof(r, m), *of = malloc(m * 4), *dxf = malloc(nx * 4);
    f(out, x, g);
    b(dx, r, x, out, g);
    for (int training = 1; training >= 0; training--) {
        ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)n, training, of, NULL));
        near(of, out, m, TOL_OUT, what);
    }
    ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)n, 1, NULL, NULL));
    ck_assert_dh_ok(dh__net_backward(net, rf, NULL, dxf));
    near(dxf, dx, nx, TOL_GRAD, what);
    dh__net_free(net);
    free(x); free(r); free(out); free(dx); free(xf); free(rf); free(of); free(dxf);
}

/* g = {kind, alpha*1000, count} */
static void act_f(double *o, const double *i, const int *g) { dh__act_ref_forward(o, i, (size_t)g[2], g[0], g[1] / 1000.0); }
static void act_b(double *d, const double *go, const double *i, const double *o, const int *g)
{
    (void)o;
    dh__act_ref_backward(d, go, i, (size_t)g[2], g[0], g[1] / 1000.0);
}

START_TEST(test_nn_act_matches_ref)
{
    const int kinds[5] = {DH__ACT_RELU, DH__ACT_RELU, DH__ACT_TANH, DH__ACT_SIGMOID, DH__ACT_GELU};
    const int alpha[5] = {0, 100, 0, 0, 0};
    for (int k = 0; k < 5; k++) {
        dh__net *net = mk(3, 20, 3, 3); /* 20 channels: a blocked tail */
        int y = dh__net_act(net, 0, kinds[k], (float)alpha[k] / 1000.0f);
        int g[3] = {kinds[k], alpha[k], 3 * 20 * 9};
        plain_case(net, y, 3, act_f, act_b, g, "act");
    }
}
END_TEST

/* g = {n, c, h, w, k, s, p} */
static void mp_f(double *o, const double *i, const int *g) { dh__maxpool_ref_forward(o, i, g[0], g[1], g[2], g[3], g[4], g[5], g[6]); }
static void mp_b(double *d, const double *go, const double *i, const double *o, const int *g)
{
    (void)o;
    dh__maxpool_ref_backward(d, go, i, g[0], g[1], g[2], g[3], g[4], g[5], g[6]);
}
static void ap_f(double *o, const double *i, const int *g) { dh__avgpool_ref_forward(o, i, g[0], g[1], g[2], g[3], g[4], g[5], g[6]); }
static void ap_b(double *d, const double *go, const double *i, const double *o, const int *g)
{
    (void)o; (void)i;
    dh__avgpool_ref_backward(d, go, g[0], g[1], g[2], g[3], g[4], g[5], g[6]);
}

START_TEST(test_nn_pool_matches_ref)
{
    const int geo[3][3] = {{3, 2, 1}, {2, 2, 0}, {3, 1, 1}};
    for (int q = 0; q < 3; q++)
        for (int max = 0; max < 2; max++) {
            int g[7] = {2, 3, 7, 7, geo[q][0], geo[q][1], geo[q][2]};
            dh__net *net = mk(3, 3, 7, 7);
            int y = max ? dh__net_maxpool(net, 0, g[4], g[5], g[6])
                        : dh__net_avgpool(net, 0, g[4], g[5], g[6]);
            plain_case(net, y, 2, max ? mp_f : ap_f, max ? mp_b : ap_b, g, max ? "maxpool" : "avgpool");
        }
}
END_TEST

/* global average pool: g = {n, c, hw} */
static void gap_f(double *o, const double *i, const int *g)
{
    for (int k = 0; k < g[0] * g[1]; k++) {
        double s = 0;
        for (int j = 0; j < g[2]; j++) s += i[(size_t)k * g[2] + j];
        o[k] = s / g[2];
    }
}
static void gap_b(double *d, const double *go, const double *i, const double *o, const int *g)
{
    (void)i; (void)o;
    for (int k = 0; k < g[0] * g[1]; k++)
        for (int j = 0; j < g[2]; j++) d[(size_t)k * g[2] + j] += go[k] / g[2];
}

START_TEST(test_nn_gap_matches_ref)
{
    dh__net *net = mk(3, 32, 4, 5);
    int y = dh__net_gap(net, 0);
    int g[3] = {3, 32, 20};
    plain_case(net, y, 3, gap_f, gap_b, g, "gap");
}
END_TEST

/* softmax: g = {outer, axis, inner} */
static void sm_f(double *o, const double *i, const int *g) { dh__softmax_ref_forward(o, i, g[0], g[1], g[2]); }
static void sm_b(double *d, const double *go, const double *i, const double *o, const int *g)
{
    (void)i;
    dh__softmax_ref_backward(d, go, o, g[0], g[1], g[2]);
}

START_TEST(test_nn_softmax_matches_ref)
{
    dh__net *net = mk(3, 5, 3, 3);
    int y = dh__net_softmax(net, 0, 1);
    int g[3] = {2, 5, 9};
    plain_case(net, y, 2, sm_f, sm_b, g, "softmax channels");
    net = mk(3, 5, 3, 4);
    y = dh__net_softmax(net, 0, 3);
    int g2[3] = {2 * 5 * 3, 4, 1};
    plain_case(net, y, 2, sm_f, sm_b, g2, "softmax width");
    net = mk(1, 10, 0, 0);
    y = dh__net_softmax(net, 0, 1);
    int g3[3] = {4, 10, 1};
    plain_case(net, y, 4, sm_f, sm_b, g3, "softmax features");
}
END_TEST

/* concat(x, x): the gradient of x is the sum of both slices */
static void cat_f(double *o, const double *i, const int *g)
{
    for (int n = 0; n < g[0]; n++) {
        memcpy(o + (size_t)n * 2 * g[1], i + (size_t)n * g[1], (size_t)g[1] * 8);
        memcpy(o + (size_t)n * 2 * g[1] + g[1], i + (size_t)n * g[1], (size_t)g[1] * 8);
    }
}
static void cat_b(double *d, const double *go, const double *i, const double *o, const int *g)
{
    (void)i; (void)o;
    for (int n = 0; n < g[0]; n++)
        for (int k = 0; k < g[1]; k++)
            d[(size_t)n * g[1] + k] += go[(size_t)n * 2 * g[1] + k] + go[(size_t)n * 2 * g[1] + g[1] + k];
}

START_TEST(test_nn_concat_and_add_match_ref)
{
    dh__net *net = mk(3, 3, 4, 4);
    int xs[2] = {0, 0};
    int y = dh__net_concat(net, 2, xs);
    int g[2] = {2, 48};
    plain_case(net, y, 2, cat_f, cat_b, g, "concat");
    /* add(x, x) = 2x, gradient 2 */
    net = mk(1, 6, 0, 0);
    y = dh__net_add(net, 0, 0);
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    float x[12], o[12], ones[12], dx[12];
    for (int k = 0; k < 12; k++) { x[k] = (float)k - 5; ones[k] = 1; }
    ck_assert_dh_ok(dh__net_forward(net, x, 2, 1, o, NULL));
    ck_assert_dh_ok(dh__net_backward(net, ones, NULL, dx));
    for (int k = 0; k < 12; k++) {
        ck_assert(o[k] == 2 * x[k]);
        ck_assert(dx[k] == 2.0f);
    }
    dh__net_free(net);
}
END_TEST

Suite *dh__nn_layers_suite(void);
Suite *dh__nn_layers_suite(void)
{
    Suite *s = suite_create("dh__nn_layers");
    TCase *tc = tcase_create("MatchesRef");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_nn_conv_matches_ref);
    tcase_add_test(tc, test_nn_bn_matches_ref);
    tcase_add_test(tc, test_nn_bn_rejects_single_value_batch);
    tcase_add_test(tc, test_nn_act_matches_ref);
    tcase_add_test(tc, test_nn_pool_matches_ref);
    tcase_add_test(tc, test_nn_gap_matches_ref);
    tcase_add_test(tc, test_nn_softmax_matches_ref);
    tcase_add_test(tc, test_nn_concat_and_add_match_ref);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dh_test_run(dh__nn_layers_suite()); }
