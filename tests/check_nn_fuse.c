/* tests/check_nn_fuse.c -- compositions on the oneDNN path against the double
 * references: linear (2d and flattened 4d input), flatten of blocked tensors,
 * dropout, layout bridges (add/concat of blocked and plain tensors), the inference
 * fusions (BN folded into conv/linear, residual sum and ReLU post-ops, refolding
 * after a weight change), plan caching, and the builder's argument errors.
 * Tolerances as in check_nn_layers.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "testutil.h"

#define TOL_OUT 1e-4
#define TOL_GRAD 1e-3

static void rnd(double *a, size_t n, uint64_t seed, double lo, double hi)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 5;
    for (size_t i = 0; i < n; i++) {
        a[i] = lo + (hi - lo) * (double)(dh_test_rand(&s) >> 11) * 0x1.0p-53;
        a[i] = (double)(float)a[i];
    }
}

static float *tof(const double *a, size_t n)
{
    float *f = malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) f[i] = (float)a[i];
    return f;
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
    ck_assert_msg(err <= tol * scale, "%s: max error %.3g at %zu (scale %.3g)", what, err, at, scale);
}

static dh__net *mk(int32_t ndim, int64_t a, int64_t b, int64_t c)
{
    int64_t s[3] = {a, b, c};
    dh__net *net = NULL;
    ck_assert_dh_ok(dh__net_create(ndim, s, 7, &net));
    return net;
}

/* Random values for parameter i (by order); returns them as doubles (caller frees). */
static double *randp(dh__net *net, size_t i, uint64_t seed, double lo, double hi)
{
    dh__param *p;
    dh__net_params(net, &p);
    double *v = malloc(p[i].n * 8);
    rnd(v, p[i].n, seed, lo, hi);
    for (size_t k = 0; k < p[i].n; k++) p[i].data[k] = (float)v[k];
    dh__net_params_changed(net);
    return v;
}

static dh__param *par(dh__net *net, size_t i)
{
    dh__param *p;
    dh__net_params(net, &p);
    return &p[i];
}

START_TEST(test_nn_linear_matches_ref)
{
    /* 2d input, then a [C,H,W] input flattened implicitly (PyTorch order) */
    for (int four = 0; four < 2; four++) {
        int n = 3, k = four ? 16 * 2 * 3 : 10, m = 6;
        dh__net *net = four ? mk(3, 16, 2, 3) : mk(1, k, 0, 0);
        int y = dh__net_linear(net, 0, "fc", m, 1);
        ck_assert_dh_ok(dh__net_finalize(net, y, -1));
        double *w = randp(net, 0, 1, -1, 1), *b = randp(net, 1, 2, -1, 1);
        double *x = malloc((size_t)n * k * 8), *r = malloc((size_t)n * m * 8);
        double *out = malloc((size_t)n * m * 8), *dx = calloc((size_t)n * k, 8);
        double *dw = calloc((size_t)m * k, 8), *db = calloc((size_t)m, 8);
        rnd(x, (size_t)n * k, 3, -1, 1);
        rnd(r, (size_t)n * m, 4, -1, 1);
        dh__linear_ref_forward(out, x, w, b, n, k, m);
        dh__linear_ref_backward(dx, dw, db, r, x, w, n, k, m);
        float *xf = tof(x, (size_t)n * k), *rf = tof(r, (size_t)n * m);
        float *of = malloc((size_t)n * m * 4), *dxf = malloc((size_t)n * k * 4);
        ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)n, 1, of, NULL));
        near(of, out, (size_t)n * m, TOL_OUT, "linear forward");
        ck_assert_dh_ok(dh__net_backward(net, rf, NULL, dxf));
        near(dxf, dx, (size_t)n * k, TOL_GRAD, "linear dx");
        near(par(net, 0)->grad, dw, (size_t)m * k, TOL_GRAD, "linear dw");
        near(par(net, 1)->grad, db, (size_t)m, TOL_GRAD, "linear db");
        ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)n, 0, of, NULL));
        near(of, out, (size_t)n * m, TOL_OUT, "linear inference");
        dh__net_free(net);
        free(w); free(b); free(x); free(r); free(out); free(dx); free(dw); free(db);
        free(xf); free(rf); free(of); free(dxf);
    }
}
END_TEST

/* conv (blocked output) -> flatten: the plain NCHW order of the conv output */
START_TEST(test_nn_flatten_of_blocked_conv)
{
    dh__conv_ref_dims d = {.n = 2, .c = 3, .h = 5, .w = 5, .o = 32, .kh = 3, .kw = 3, .sh = 1,
                           .sw = 1, .ph = 1, .pw = 1};
    dh__conv_ref_dims_init(&d);
    dh__net *net = mk(3, 3, 5, 5);
    int y = dh__net_conv(net, 0, "c", (dh__conv_args){32, 3, 3, 1, 1, 1, 1, 0});
    y = dh__net_flatten(net, y);
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    ck_assert_uint_eq(dh__net_numel(net, y), 32 * 25);
    double *w = randp(net, 0, 5, -1, 1);
    size_t nx = 2 * 75, m = 2 * 800;
    double *x = malloc(nx * 8), *out = malloc(m * 8), *r = malloc(m * 8), *dx = calloc(nx, 8);
    rnd(x, nx, 6, -1, 1);
    rnd(r, m, 7, -1, 1);
    dh__conv2d_ref_forward(out, x, w, NULL, &d);
    dh__conv2d_ref_backward(dx, NULL, NULL, r, x, w, &d);
    float *xf = tof(x, nx), *rf = tof(r, m), *of = malloc(m * 4), *dxf = malloc(nx * 4);
    ck_assert_dh_ok(dh__net_forward(net, xf, 2, 1, of, NULL));
    near(of, out, m, TOL_OUT, "flatten forward");
    ck_assert_dh_ok(dh__net_backward(net, rf, NULL, dxf));
    near(dxf, dx, nx, TOL_GRAD, "flatten dx");
    dh__net_free(net);
    free(w); free(x); free(out); free(r); free(dx); free(xf); free(rf); free(of); free(dxf);
}
END_TEST

START_TEST(test_nn_dropout_masks_and_scales)
{
    const float p = 0.25f;
    dh__net *net = mk(1, 1000, 0, 0);
    int y = dh__net_dropout(net, 0, p);
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    float *x = malloc(4000 * 4), *o = malloc(4000 * 4), *o2 = malloc(4000 * 4);
    float *g = malloc(4000 * 4), *dx = malloc(4000 * 4);
    for (int k = 0; k < 4000; k++) { x[k] = 1.0f + (float)(k % 7); g[k] = 0.5f; }
    ck_assert_dh_ok(dh__net_forward(net, x, 4, 1, o, NULL));
    int dropped = 0;
    for (int k = 0; k < 4000; k++) {
        if (o[k] == 0.0f) dropped++;
        else ck_assert_float_eq_tol(o[k], x[k] / (1 - p), 1e-5f);
    }
    ck_assert_msg(dropped > 850 && dropped < 1150, "dropped %d of 4000 at p = 0.25", dropped);
    ck_assert_dh_ok(dh__net_backward(net, g, NULL, dx));
    for (int k = 0; k < 4000; k++)
        ck_assert_float_eq_tol(dx[k], o[k] == 0.0f ? 0.0f : 0.5f / (1 - p), 1e-6f);
    ck_assert_dh_ok(dh__net_forward(net, x, 4, 1, o2, NULL));
    ck_assert(memcmp(o, o2, 4000 * 4) != 0); /* a fresh mask each step */
    ck_assert_dh_ok(dh__net_forward(net, x, 4, 0, o, NULL));
    ck_assert(memcmp(o, x, 4000 * 4) == 0); /* identity at inference */
    dh__net_free(net);
    free(x); free(o); free(o2); free(g); free(dx);
}
END_TEST

/* conv -> BN -> [+ x] -> ReLU in inference, folded into one convolution, against the
 * reference chain with running statistics; then a weight change must refold. */
static void fused_case(int residual)
{
    const int n = 2, c = 16, h = 6;
    dh__conv_ref_dims d = {.n = n, .c = c, .h = h, .w = h, .o = c, .kh = 3, .kw = 3, .sh = 1,
                           .sw = 1, .ph = 1, .pw = 1};
    dh__conv_ref_dims_init(&d);
    dh__net *net = mk(3, c, h, h);
    int y = dh__net_conv(net, 0, "c", (dh__conv_args){c, 3, 3, 1, 1, 1, 1, 1});
    y = dh__net_bn(net, y, "bn", 1e-5f, 0.1f);
    if (residual) y = dh__net_add(net, y, 0);
    y = dh__net_act(net, y, DH__ACT_RELU, 0.0f);
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    double *w = randp(net, 0, 11, -0.3, 0.3), *b = randp(net, 1, 12, -1, 1);
    double *g = randp(net, 2, 13, 0.5, 1.5), *be = randp(net, 3, 14, -1, 1);
    double *rm = randp(net, 4, 15, -0.5, 0.5), *rv = randp(net, 5, 16, 0.5, 2);
    size_t m = (size_t)n * c * h * h;
    double *x = malloc(m * 8), *t = malloc(m * 8), *out = malloc(m * 8);
    rnd(x, m, 17, -1, 1);
    float *xf = tof(x, m), *of = malloc(m * 4);
    for (int pass = 0; pass < 2; pass++) {
        dh__conv2d_ref_forward(t, x, w, b, &d);
        dh__bn_ref_forward_infer(out, t, g, be, rm, rv, n, c, h * h, 1e-5);
        if (residual)
            for (size_t k = 0; k < m; k++) out[k] += x[k];
        dh__act_ref_forward(out, out, m, DH__ACT_RELU, 0);
        ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)n, 0, of, NULL));
        near(of, out, m, TOL_OUT, residual ? "conv-bn-add-relu fused" : "conv-bn-relu fused");
        free(w);
        free(g);
        w = randp(net, 0, 100 + (uint64_t)pass, -0.3, 0.3); /* refold after a change */
        g = randp(net, 2, 200 + (uint64_t)pass, 0.5, 1.5);
    }
    dh__net_free(net);
    free(w); free(b); free(g); free(be); free(rm); free(rv); free(x); free(t); free(out);
    free(xf); free(of);
}

START_TEST(test_nn_inference_folds_bn_and_relu)
{
    fused_case(0);
    fused_case(1);
}
END_TEST

START_TEST(test_nn_inference_folds_bn1d_into_linear)
{
    const int n = 5, k = 12, m = 20;
    dh__net *net = mk(1, k, 0, 0);
    int y = dh__net_linear(net, 0, "fc", m, 1);
    y = dh__net_bn(net, y, "bn", 1e-5f, 0.1f);
    y = dh__net_act(net, y, DH__ACT_RELU, 0.0f);
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    double *w = randp(net, 0, 21, -1, 1), *b = randp(net, 1, 22, -1, 1);
    double *g = randp(net, 2, 23, 0.5, 1.5), *be = randp(net, 3, 24, -1, 1);
    double *rm = randp(net, 4, 25, -0.5, 0.5), *rv = randp(net, 5, 26, 0.5, 2);
    double x[5 * 12], t[5 * 20], out[5 * 20];
    rnd(x, (size_t)n * k, 27, -1, 1);
    dh__linear_ref_forward(t, x, w, b, n, k, m);
    dh__bn_ref_forward_infer(out, t, g, be, rm, rv, n, m, 1, 1e-5);
    dh__act_ref_forward(out, out, (size_t)n * m, DH__ACT_RELU, 0);
    float *xf = tof(x, (size_t)n * k), of[100];
    ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)n, 0, of, NULL));
    near(of, out, (size_t)n * m, TOL_OUT, "linear-bn1d-relu fused");
    dh__net_free(net);
    free(w); free(b); free(g); free(be); free(rm); free(rv); free(xf);
}
END_TEST

/* add(conv(x), x) and concat(conv16(x), conv8(x)): blocked and plain operands meet. */
START_TEST(test_nn_bridges_between_layouts)
{
    dh__conv_ref_dims d = {.n = 2, .c = 16, .h = 5, .w = 5, .o = 16, .kh = 3, .kw = 3, .sh = 1,
                           .sw = 1, .ph = 1, .pw = 1};
    dh__conv_ref_dims_init(&d);
    dh__net *net = mk(3, 16, 5, 5);
    int c1 = dh__net_conv(net, 0, "a", (dh__conv_args){16, 3, 3, 1, 1, 1, 1, 0});
    int y = dh__net_add(net, c1, 0);
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    double *w = randp(net, 0, 31, -0.5, 0.5);
    size_t m = 2 * 16 * 25;
    double *x = malloc(m * 8), *out = malloc(m * 8), *r = malloc(m * 8), *dx = malloc(m * 8);
    rnd(x, m, 32, -1, 1);
    rnd(r, m, 33, -1, 1);
    dh__conv2d_ref_forward(out, x, w, NULL, &d);
    for (size_t k = 0; k < m; k++) out[k] += x[k];
    memcpy(dx, r, m * 8); /* identity path */
    dh__conv2d_ref_backward(dx, NULL, NULL, r, x, w, &d);
    float *xf = tof(x, m), *rf = tof(r, m), *of = malloc(m * 4), *dxf = malloc(m * 4);
    for (int training = 1; training >= 0; training--) {
        ck_assert_dh_ok(dh__net_forward(net, xf, 2, training, of, NULL));
        near(of, out, m, TOL_OUT, "add(conv(x), x)");
    }
    ck_assert_dh_ok(dh__net_forward(net, xf, 2, 1, of, NULL));
    ck_assert_dh_ok(dh__net_backward(net, rf, NULL, dxf));
    near(dxf, dx, m, TOL_GRAD, "add(conv(x), x) dx");
    dh__net_free(net);
    /* concat of a 16- and an 8-channel conv (channel offset not block-aligned) */
    net = mk(3, 16, 5, 5);
    int xs[2];
    xs[0] = dh__net_conv(net, 0, "a", (dh__conv_args){16, 3, 3, 1, 1, 1, 1, 0});
    xs[1] = dh__net_conv(net, 0, "b", (dh__conv_args){8, 1, 1, 1, 0, 1, 1, 0});
    y = dh__net_concat(net, 2, xs);
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    double *wa = randp(net, 0, 34, -0.5, 0.5), *wb = randp(net, 1, 35, -0.5, 0.5);
    dh__conv_ref_dims d2 = {.n = 2, .c = 16, .h = 5, .w = 5, .o = 8, .kh = 1, .kw = 1, .sh = 1, .sw = 1};
    dh__conv_ref_dims_init(&d2);
    double *oa = malloc(m * 8), *ob = malloc(m * 8), *cat = malloc(2 * 24 * 25 * 8);
    dh__conv2d_ref_forward(oa, x, wa, NULL, &d);
    dh__conv2d_ref_forward(ob, x, wb, NULL, &d2);
    for (int n = 0; n < 2; n++) {
        memcpy(cat + n * 600, oa + n * 400, 400 * 8);
        memcpy(cat + n * 600 + 400, ob + n * 200, 200 * 8);
    }
    float *of2 = malloc(2 * 600 * 4), *ones = malloc(2 * 600 * 4);
    ck_assert_dh_ok(dh__net_forward(net, xf, 2, 1, of2, NULL));
    near(of2, cat, 1200, TOL_OUT, "concat of blocked convs");
    double *r2 = malloc(1200 * 8), *gwa = calloc(16 * 16 * 9, 8), *gwb = calloc(8 * 16, 8);
    rnd(r2, 1200, 36, -1, 1);
    for (int k = 0; k < 1200; k++) ones[k] = (float)r2[k];
    double *ra = malloc(m * 8), *rb = malloc(m * 8);
    for (int n = 0; n < 2; n++) {
        memcpy(ra + n * 400, r2 + n * 600, 400 * 8);
        memcpy(rb + n * 200, r2 + n * 600 + 400, 200 * 8);
    }
    dh__conv2d_ref_backward(NULL, gwa, NULL, ra, x, wa, &d);
    dh__conv2d_ref_backward(NULL, gwb, NULL, rb, x, wb, &d2);
    ck_assert_dh_ok(dh__net_backward(net, ones, NULL, NULL));
    near(par(net, 0)->grad, gwa, 16 * 16 * 9, TOL_GRAD, "concat slice a dw");
    near(par(net, 1)->grad, gwb, 8 * 16, TOL_GRAD, "concat slice b dw");
    dh__net_free(net);
    free(w); free(x); free(out); free(r); free(dx); free(xf); free(rf); free(of); free(dxf);
    free(wa); free(wb); free(oa); free(ob); free(cat); free(of2); free(ones); free(r2);
    free(gwa); free(gwb); free(ra); free(rb);
}
END_TEST

/* AlexNet's pattern: conv with bias -> ReLU (a post-op at inference, no BN) ->
 * max pool -> flatten -> dropout -> linear -> ReLU, in both modes (dropout p = 0 so
 * training is deterministic too). */
START_TEST(test_nn_conv_relu_pool_linear_chain)
{
    const int n = 2;
    dh__conv_ref_dims d = {.n = n, .c = 3, .h = 11, .w = 11, .o = 16, .kh = 5, .kw = 5, .sh = 2,
                           .sw = 2, .ph = 2, .pw = 2};
    dh__conv_ref_dims_init(&d); /* 6x6 */
    dh__net *net = mk(3, 3, 11, 11);
    int y = dh__net_conv(net, 0, "c", (dh__conv_args){16, 5, 5, 2, 2, 1, 1, 1});
    y = dh__net_act(net, y, DH__ACT_RELU, 0.0f);
    y = dh__net_maxpool(net, y, 3, 2, 0); /* 2x2 */
    y = dh__net_flatten(net, y);
    y = dh__net_dropout(net, y, 0.0f);
    y = dh__net_linear(net, y, "fc", 10, 1);
    y = dh__net_act(net, y, DH__ACT_RELU, 0.0f);
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    double *w = randp(net, 0, 41, -0.3, 0.3), *b = randp(net, 1, 42, -0.5, 0.5);
    double *fw = randp(net, 2, 43, -0.3, 0.3), *fb = randp(net, 3, 44, -0.5, 0.5);
    size_t nx = (size_t)n * 3 * 121, nc = (size_t)n * 16 * 36, np = (size_t)n * 64;
    double *x = malloc(nx * 8), *c = malloc(nc * 8), *r = malloc(nc * 8), *pl = malloc(np * 8);
    double out[20];
    rnd(x, nx, 45, -1, 1);
    dh__conv2d_ref_forward(c, x, w, b, &d);
    dh__act_ref_forward(r, c, nc, DH__ACT_RELU, 0);
    dh__maxpool_ref_forward(pl, r, n, 16, 6, 6, 3, 2, 0);
    dh__linear_ref_forward(out, pl, fw, fb, n, 64, 10);
    dh__act_ref_forward(out, out, 20, DH__ACT_RELU, 0);
    float *xf = tof(x, nx), of[20];
    for (int training = 0; training < 2; training++) {
        ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)n, training, of, NULL));
        near(of, out, 20, TOL_OUT, training ? "conv-relu-pool-linear (training)"
                                            : "conv-relu-pool-linear (inference, fused)");
    }
    dh__net_free(net);
    free(w); free(b); free(fw); free(fb); free(x); free(c); free(r); free(pl); free(xf);
}
END_TEST

/* BN -> ReLU on the input (not foldable into a conv): ReLU runs inside the batch
 * norm (dnnl_fuse_norm_relu) in training, backward included, and at inference. */
START_TEST(test_nn_bn_relu_fused_matches_ref)
{
    const int n = 3, c = 16, hw = 9;
    dh__net *net = mk(3, c, 3, 3);
    int y = dh__net_bn(net, 0, "bn", 1e-5f, 0.1f);
    y = dh__net_act(net, y, DH__ACT_RELU, 0.0f);
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    double *g = randp(net, 0, 51, 0.5, 1.5), *b = randp(net, 1, 52, -0.5, 0.5);
    size_t m = (size_t)n * c * hw;
    double *x = malloc(m * 8), *t = malloc(m * 8), *out = malloc(m * 8), *r = malloc(m * 8);
    double *dt = calloc(m, 8), *dx = calloc(m, 8), *rm = malloc(c * 8), *rv = malloc(c * 8);
    double dg[16] = {0}, db[16] = {0};
    rnd(x, m, 53, -2, 2);
    rnd(r, m, 54, -1, 1);
    dh__bn_ref_forward(t, NULL, NULL, x, g, b, n, c, hw, 1e-5);
    dh__act_ref_forward(out, t, m, DH__ACT_RELU, 0);
    dh__act_ref_backward(dt, r, t, m, DH__ACT_RELU, 0);
    dh__bn_ref_backward(dx, dg, db, dt, x, g, n, c, hw, 1e-5);
    float *xf = tof(x, m), *rf = tof(r, m), *of = malloc(m * 4), *dxf = malloc(m * 4);
    ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)n, 1, of, NULL));
    near(of, out, m, TOL_OUT, "bn-relu (training)");
    ck_assert_dh_ok(dh__net_backward(net, rf, NULL, dxf));
    near(dxf, dx, m, TOL_GRAD, "bn-relu dx");
    near(par(net, 0)->grad, dg, (size_t)c, TOL_GRAD, "bn-relu dgamma");
    near(par(net, 1)->grad, db, (size_t)c, TOL_GRAD, "bn-relu dbeta");
    for (int k = 0; k < c; k++) {
        rm[k] = par(net, 2)->data[k];
        rv[k] = par(net, 3)->data[k];
    }
    dh__bn_ref_forward_infer(t, x, g, b, rm, rv, n, c, hw, 1e-5);
    dh__act_ref_forward(out, t, m, DH__ACT_RELU, 0);
    ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)n, 0, of, NULL));
    near(of, out, m, TOL_OUT, "bn-relu (inference)");
    dh__net_free(net);
    free(g); free(b); free(x); free(t); free(out); free(r); free(dt); free(dx); free(rm); free(rv);
    free(xf); free(rf); free(of); free(dxf);
}
END_TEST

START_TEST(test_nn_plans_are_cached_per_batch_and_mode)
{
    dh__net *net = mk(3, 3, 6, 6);
    int y = dh__net_conv(net, 0, "c", (dh__conv_args){8, 3, 3, 1, 1, 1, 1, 1});
    y = dh__net_gap(net, y);
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    float x[6 * 108], o1[6 * 8], o2[6 * 8];
    for (int k = 0; k < 6 * 108; k++) x[k] = (float)((k * 37) % 11) / 11.0f;
    ck_assert_dh_ok(dh__net_forward(net, x, 2, 0, o1, NULL));
    ck_assert_int_eq(dh__net_cached_plans(net), 1);
    ck_assert_dh_ok(dh__net_forward(net, x, 2, 0, o1, NULL));
    ck_assert_int_eq(dh__net_cached_plans(net), 1);
    ck_assert_dh_ok(dh__net_forward(net, x, 2, 1, o2, NULL));
    ck_assert_int_eq(dh__net_cached_plans(net), 2);
    for (size_t n = 1; n <= 6; n++) { /* more shapes than slots: LRU eviction */
        ck_assert_dh_ok(dh__net_forward(net, x, n, 0, o2, NULL));
        ck_assert(memcmp(o1, o2, 2 * 8 * 4 > n * 8 * 4 ? n * 8 * 4 : 2 * 8 * 4) == 0);
    }
    ck_assert_int_le(dh__net_cached_plans(net), 4);
    /* the training plan survives eviction, so backward still works */
    float g[2 * 8] = {1};
    ck_assert_dh_ok(dh__net_backward(net, g, NULL, NULL));
    dh__net_free(net);
}
END_TEST

START_TEST(test_nn_builder_rejects_bad_arguments)
{
    dh__net *net = NULL;
    int64_t s[3] = {3, 8, 8};
    ck_assert_dh_fail(dh__net_create(2, s, 1, &net), DH_E_INVALID_ARG);
    ck_assert_ptr_null(net);
    ck_assert_dh_fail(dh__net_create(3, NULL, 1, &net), DH_E_INVALID_ARG);
    net = mk(3, 3, 8, 8);
    ck_assert_int_lt(dh__net_conv(net, 5, "c", (dh__conv_args){8, 3, 3, 1, 1, 1, 1, 0}), 0);
    dh__net_free(net);
    net = mk(3, 3, 8, 8);
    ck_assert_int_eq(dh__net_conv(net, 0, "c", (dh__conv_args){8, 3, 3, 1, 1, 1, 2, 0}),
                     DH_E_INVALID_ARG); /* 3 channels in 2 groups */
    /* sticky: later calls report the first failure, and so does finalize */
    ck_assert_int_eq(dh__net_act(net, 0, DH__ACT_RELU, 0), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh__net_finalize(net, 1, -1), DH_E_INVALID_ARG);
    dh__net_free(net);
    net = mk(3, 3, 8, 8);
    ck_assert_int_eq(dh__net_conv(net, 0, "c", (dh__conv_args){8, 9, 9, 1, 0, 1, 1, 0}),
                     DH_E_INVALID_ARG); /* kernel larger than the padded input */
    dh__net_free(net);
    net = mk(3, 3, 8, 8);
    int a = dh__net_maxpool(net, 0, 2, 2, 0);
    ck_assert_int_eq(dh__net_add(net, a, 0), DH_E_SHAPE);
    dh__net_free(net);
    net = mk(1, 4, 0, 0);
    ck_assert_int_eq(dh__net_maxpool(net, 0, 2, 2, 0), DH_E_SHAPE);
    dh__net_free(net);
    net = mk(1, 4, 0, 0);
    ck_assert_int_eq(dh__net_dropout(net, 0, 1.0f), DH_E_INVALID_ARG);
    dh__net_free(net);
    net = mk(1, 4, 0, 0);
    int y = dh__net_act(net, 0, DH__ACT_TANH, 0);
    float x[4] = {0}, o[4];
    ck_assert_dh_fail(dh__net_forward(net, x, 1, 0, o, NULL), DH_E_INVALID_ARG); /* not final */
    ck_assert_dh_fail(dh__net_finalize(net, 7, -1), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh__net_finalize(net, y, y), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    ck_assert_dh_fail(dh__net_backward(net, o, NULL, NULL), DH_E_STATE);
    ck_assert_dh_fail(dh__net_forward(net, x, 0, 0, o, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh__net_forward(net, x, 1, 2, o, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh__net_forward(net, x, 1, 0, o, o), DH_E_UNSUPPORTED);
    dh__net_free(net);
    dh__net_free(NULL);
}
END_TEST

static Suite *dh__nn_fuse_suite(void)
{
    Suite *s = suite_create("dh__nn_fuse");
    TCase *tc = tcase_create("Compose");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_nn_linear_matches_ref);
    tcase_add_test(tc, test_nn_flatten_of_blocked_conv);
    tcase_add_test(tc, test_nn_dropout_masks_and_scales);
    tcase_add_test(tc, test_nn_inference_folds_bn_and_relu);
    tcase_add_test(tc, test_nn_inference_folds_bn1d_into_linear);
    tcase_add_test(tc, test_nn_bridges_between_layouts);
    tcase_add_test(tc, test_nn_conv_relu_pool_linear_chain);
    tcase_add_test(tc, test_nn_bn_relu_fused_matches_ref);
    tcase_add_test(tc, test_nn_plans_are_cached_per_batch_and_mode);
    tcase_add_test(tc, test_nn_builder_rejects_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dh_test_run(dh__nn_fuse_suite()); }
