/* tests/check_nn_plan.c -- plan-level choices of the oneDNN path: Winograd
 * convolutions (chosen for 3x3 stride-1 layers with 16-aligned channels, against the
 * double reference and against the direct algorithm), and buffer sharing (inference
 * values and training gradients placed in shared slabs by liveness, on a deep chain
 * and a residual graph, against the reference kernels).
 *
 * Tolerances as in check_nn_layers.c: outputs 1e-4, gradients 1e-3 of the largest
 * reference magnitude. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "testutil.h"

#define TOL_OUT 1e-4
#define TOL_GRAD 1e-3

static void rnd(double *a, size_t n, uint64_t seed, double lo, double hi)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 11;
    for (size_t i = 0; i < n; i++)
        a[i] = (double)(float)(lo + (hi - lo) * (double)(dh_test_rand(&s) >> 11) * 0x1.0p-53);
}

static float *tof(const double *a, size_t n)
{
    float *f = malloc(n * sizeof(float) + 1);
    ck_assert_ptr_nonnull(f);
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
    ck_assert_msg(err <= tol * scale, "%s: max error %.3g at %zu (got %.7g, want %.7g, scale %.3g)",
                  what, err, at, (double)got[at], want[at], scale);
}

static dh__net *mk(int64_t c, int64_t h, int64_t w)
{
    int64_t s[3] = {c, h, w};
    dh__net *net = NULL;
    ck_assert_dh_ok(dh__net_create(3, s, 5, &net));
    return net;
}

/* Write doubles (already float-exact) into parameter i. */
static void setp(dh__net *net, size_t i, const double *v)
{
    dh__param *p;
    size_t np = dh__net_params(net, &p);
    ck_assert_uint_lt(i, np);
    for (size_t k = 0; k < p[i].n; k++) p[i].data[k] = (float)v[k];
    dh__net_params_changed(net);
}

static dh__param *par(dh__net *net, size_t i)
{
    dh__param *p;
    dh__net_params(net, &p);
    return &p[i];
}

static dh__net_plan_stats stats(const dh__net *net)
{
    dh__net_plan_stats s;
    ck_assert_dh_ok(dh__net_plan_stats_get(net, &s));
    return s;
}

/* oneDNN implements Winograd for f32 on AVX-512 (its avx512_core: F, BW, DQ, VL). */
static int cpu_has_winograd(void) { return dh_cpu_has_isa(DH_ISA_AVX512BW); }

/* ---- Winograd ---- */

/* One 3x3 stride-1 pad-1 conv (16 -> 32 channels, bias) against the reference in
 * training (forward, dx, dw, db) and inference; returns the plans' Winograd count. */
static int wino_case(float *out_train)
{
    dh__conv_ref_dims d = {.n = 3, .c = 16, .h = 9, .w = 7, .o = 32, .kh = 3, .kw = 3, .sh = 1,
                           .sw = 1, .ph = 1, .pw = 1};
    dh__conv_ref_dims_init(&d);
    dh__net *net = mk(d.c, d.h, d.w);
    int y = dh__net_conv(net, 0, "c", (dh__conv_args){d.o, 3, 3, 1, 1, 1, 1, 1});
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    size_t nx = (size_t)d.n * d.c * d.h * d.w, nw = par(net, 0)->n;
    size_t m = (size_t)d.n * d.o * d.oh * d.ow;
    double *x = malloc(nx * 8), *w = malloc(nw * 8), *b = malloc(d.o * 8), *r = malloc(m * 8);
    double *out = malloc(m * 8), *dx = calloc(nx, 8), *dw = calloc(nw, 8), *db = calloc(d.o, 8);
    rnd(x, nx, 1, -1, 1);
    rnd(w, nw, 2, -0.3, 0.3);
    rnd(b, (size_t)d.o, 3, -1, 1);
    rnd(r, m, 4, -1, 1);
    setp(net, 0, w);
    setp(net, 1, b);
    float *xf = tof(x, nx), *rf = tof(r, m), *of = malloc(m * 4), *dxf = malloc(nx * 4);
    dh__conv2d_ref_forward(out, x, w, b, &d);
    dh__conv2d_ref_backward(dx, dw, db, r, x, w, &d);
    ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)d.n, 1, out_train, NULL));
    near(out_train, out, m, TOL_OUT, "conv3x3 forward (training)");
    int wino = stats(net).n_winograd;
    ck_assert_int_eq(stats(net).n_convs, 1);
    ck_assert_dh_ok(dh__net_backward(net, rf, NULL, dxf));
    near(dxf, dx, nx, TOL_GRAD, "conv3x3 dx");
    near(par(net, 0)->grad, dw, nw, TOL_GRAD, "conv3x3 dw");
    near(par(net, 1)->grad, db, (size_t)d.o, TOL_GRAD, "conv3x3 db");
    ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)d.n, 0, of, NULL));
    near(of, out, m, TOL_OUT, "conv3x3 forward (inference)");
    ck_assert_int_eq(stats(net).n_winograd, wino); /* inference chooses alike */
    dh__net_free(net);
    free(x); free(w); free(b); free(r); free(out); free(dx); free(dw); free(db);
    free(xf); free(rf); free(of); free(dxf);
    return wino;
}

START_TEST(test_nn_plan_winograd_matches_ref_and_direct)
{
    const size_t m = 3 * 32 * 9 * 7;
    float *wino = malloc(m * 4), *direct = malloc(m * 4);
    unsetenv("DH_NN_CONV_ALGO");
    int used = wino_case(wino);
    if (cpu_has_winograd()) ck_assert_int_eq(used, 1);
    setenv("DH_NN_CONV_ALGO", "direct", 1);
    ck_assert_int_eq(wino_case(direct), 0);
    unsetenv("DH_NN_CONV_ALGO");
    double scale = 0, err = 0;
    for (size_t k = 0; k < m; k++) {
        scale = fmax(scale, fabs(direct[k]));
        err = fmax(err, fabs((double)wino[k] - direct[k]));
    }
    ck_assert_msg(err <= 1e-5 * scale, "Winograd and direct differ by %.3g (scale %.3g)", err,
                  scale);
    free(wino);
    free(direct);
}
END_TEST

/* Layers Winograd does not take run the direct kernels: stride 2, 5x5, 8 channels. */
START_TEST(test_nn_plan_winograd_only_where_eligible)
{
    dh__net *net = mk(16, 12, 12);
    int y = dh__net_conv(net, 0, "a", (dh__conv_args){16, 3, 3, 2, 1, 1, 1, 0});
    y = dh__net_conv(net, y, "b", (dh__conv_args){16, 5, 5, 1, 2, 1, 1, 0});
    y = dh__net_conv(net, y, "c", (dh__conv_args){8, 3, 3, 1, 1, 1, 1, 0});
    y = dh__net_conv(net, y, "d", (dh__conv_args){16, 3, 3, 1, 1, 1, 1, 0}); /* 8 in: no */
    y = dh__net_conv(net, y, "e", (dh__conv_args){16, 3, 3, 1, 1, 1, 1, 0}); /* eligible */
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    float *x = calloc(2 * 16 * 144, 4), *o = malloc(2 * 16 * 36 * 4);
    ck_assert_dh_ok(dh__net_forward(net, x, 2, 1, o, NULL));
    dh__net_plan_stats s = stats(net);
    ck_assert_int_eq(s.n_convs, 5);
    ck_assert_int_eq(s.n_winograd, cpu_has_winograd() ? 1 : 0);
    dh__net_free(net);
    free(x);
    free(o);
}
END_TEST

/* ---- buffer sharing ---- */

/* A chain of L (conv 3x3 16->16, bias) + ReLU layers, trained and run for inference
 * against the reference chain: with sharing, inference needs about two activations'
 * memory and training about three gradients', whatever L is. */
#define CHAIN_L 6
typedef struct chain {
    dh__conv_ref_dims d;
    size_t m, nw;                                /* activation and weight sizes */
    double *a[CHAIN_L + 1], *w[CHAIN_L], *b[CHAIN_L], *pre[CHAIN_L];
    double *up, *g, *dw0;                        /* upstream grad; dx; dw of layer 0 */
} chain;

/* Random parameters (also written into net) and the reference forward and backward. */
static void chain_ref(chain *ch, dh__net *net)
{
    size_t m = ch->m, nw = ch->nw;
    ch->a[0] = malloc(m * 8);
    rnd(ch->a[0], m, 7, -1, 1);
    for (int l = 0; l < CHAIN_L; l++) { /* forward, keeping the pre-activations */
        ch->w[l] = malloc(nw * 8);
        ch->b[l] = malloc((size_t)ch->d.o * 8);
        rnd(ch->w[l], nw, 10 + (uint64_t)l, -0.25, 0.25);
        rnd(ch->b[l], (size_t)ch->d.o, 20 + (uint64_t)l, -0.1, 0.2);
        setp(net, 2 * (size_t)l, ch->w[l]);
        setp(net, 2 * (size_t)l + 1, ch->b[l]);
        ch->pre[l] = malloc(m * 8);
        ch->a[l + 1] = malloc(m * 8);
        dh__conv2d_ref_forward(ch->pre[l], ch->a[l], ch->w[l], ch->b[l], &ch->d);
        dh__act_ref_forward(ch->a[l + 1], ch->pre[l], m, DH__ACT_RELU, 0);
    }
    double *gpre = malloc(m * 8);
    ch->g = malloc(m * 8);
    ch->dw0 = calloc(nw, 8);
    ch->up = malloc(m * 8);
    rnd(ch->up, m, 30, -1, 1);
    memcpy(ch->g, ch->up, m * 8);
    for (int l = CHAIN_L - 1; l >= 0; l--) { /* backward; g ends as dx */
        memset(gpre, 0, m * 8);
        dh__act_ref_backward(gpre, ch->g, ch->pre[l], m, DH__ACT_RELU, 0);
        memset(ch->g, 0, m * 8);
        dh__conv2d_ref_backward(ch->g, l == 0 ? ch->dw0 : NULL, NULL, gpre, ch->a[l], ch->w[l],
                                &ch->d);
    }
    free(gpre);
}

static void chain_free(chain *ch)
{
    for (int l = 0; l < CHAIN_L; l++) {
        free(ch->w[l]);
        free(ch->b[l]);
        free(ch->pre[l]);
        free(ch->a[l + 1]);
    }
    free(ch->a[0]);
    free(ch->up);
    free(ch->g);
    free(ch->dw0);
}

START_TEST(test_nn_plan_shares_buffers_along_a_chain)
{
    const int n = 2, c = 16, h = 6;
    chain ch = {.d = {.n = n, .c = c, .h = h, .w = h, .o = c, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                      .ph = 1, .pw = 1}};
    dh__conv_ref_dims_init(&ch.d);
    dh__net *net = mk(c, h, h);
    int y = 0;
    char name[2] = {0, 0};
    for (int l = 0; l < CHAIN_L; l++) {
        name[0] = (char)('a' + l);
        y = dh__net_conv(net, y, name, (dh__conv_args){c, 3, 3, 1, 1, 1, 1, 1});
        y = dh__net_act(net, y, DH__ACT_RELU, 0.0f);
    }
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    size_t m = ch.m = (size_t)n * c * h * h, nw = ch.nw = par(net, 0)->n;
    chain_ref(&ch, net);
    double **a = ch.a, *g = ch.g, *dw0 = ch.dw0;
    float *rf = tof(ch.up, m);
    float *xf = tof(a[0], m), *of = malloc(m * 4), *dxf = malloc(m * 4);
    size_t act = m * sizeof(float);

    ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)n, 1, of, NULL));
    near(of, a[CHAIN_L], m, TOL_OUT, "chain forward (training)");
    ck_assert_dh_ok(dh__net_backward(net, rf, NULL, dxf));
    near(dxf, g, m, TOL_GRAD, "chain dx");
    near(par(net, 0)->grad, dw0, nw, TOL_GRAD, "chain dw of layer 0");
    dh__net_plan_stats s = stats(net);
    ck_assert_int_eq(s.training, 1);
    /* shared: the gradients of all 2L tensors, and the L conv outputs, which backward
     * never reads (ReLU's backward reads its output, the next conv's input) */
    ck_assert_uint_eq(s.shared_bytes, 3 * CHAIN_L * act);
    /* and every layer's weight gradient (blocked, before its accumulation) */
    ck_assert_uint_ge(s.transient_bytes, CHAIN_L * nw * sizeof(float));
    ck_assert_uint_le(s.slab_bytes, 3 * act + 2 * nw * sizeof(float));

    ck_assert_dh_ok(dh__net_forward(net, xf, (size_t)n, 0, of, NULL));
    near(of, a[CHAIN_L], m, TOL_OUT, "chain forward (inference)");
    s = stats(net);
    ck_assert_int_eq(s.training, 0);
    ck_assert_uint_eq(s.shared_bytes, (size_t)CHAIN_L * act); /* ReLUs fuse into convs */
    ck_assert_uint_eq(s.slab_bytes, 2 * act); /* each layer reads one slab, writes the other */
    ck_assert_int_eq(s.n_slabs, 2);

    dh__net_free(net);
    chain_free(&ch);
    free(rf); free(xf); free(of); free(dxf);
}
END_TEST

/* Residual graph with a branch and an exposed intermediate: fmap = ReLU(conv a(x)),
 * out = concat(ReLU(conv b(fmap) + x), conv c(x)). The skip and branch tensors stay
 * live across other layers, so their memories must not be handed on early. Checked
 * against the reference, in inference and training, at batch 4 and 1 (other plans,
 * other sharing), and again after a training step built its own plan. */
static void branch_ref(double *out, double *fmap, const double *x, double *const w[3],
                       double *const bias[2])
{
    const int per = 16 * 25;
    dh__conv_ref_dims d = {.n = 1, .c = 16, .h = 5, .w = 5, .o = 16, .kh = 3, .kw = 3, .sh = 1,
                           .sw = 1, .ph = 1, .pw = 1};
    dh__conv_ref_dims d1 = {.n = 1, .c = 16, .h = 5, .w = 5, .o = 16, .kh = 1, .kw = 1, .sh = 1,
                            .sw = 1};
    dh__conv_ref_dims_init(&d);
    dh__conv_ref_dims_init(&d1);
    double t[16 * 25];
    dh__conv2d_ref_forward(t, x, w[0], bias[0], &d);
    dh__act_ref_forward(fmap, t, per, DH__ACT_RELU, 0);
    dh__conv2d_ref_forward(t, fmap, w[1], bias[1], &d);
    for (int k = 0; k < per; k++) t[k] += x[k];
    dh__act_ref_forward(out, t, per, DH__ACT_RELU, 0);
    dh__conv2d_ref_forward(out + per, x, w[2], NULL, &d1);
}

START_TEST(test_nn_plan_sharing_keeps_live_branches)
{
    dh__net *net = mk(16, 5, 5);
    int a = dh__net_conv(net, 0, "a", (dh__conv_args){16, 3, 3, 1, 1, 1, 1, 1});
    int r = dh__net_act(net, a, DH__ACT_RELU, 0.0f);
    int b = dh__net_conv(net, r, "b", (dh__conv_args){16, 3, 3, 1, 1, 1, 1, 1});
    int o = dh__net_act(net, dh__net_add(net, b, 0), DH__ACT_RELU, 0.0f);
    int c = dh__net_conv(net, 0, "c", (dh__conv_args){16, 1, 1, 1, 0, 1, 1, 0});
    int xs[2] = {o, c};
    int y = dh__net_concat(net, 2, xs);
    ck_assert_dh_ok(dh__net_finalize(net, y, r));
    double *w[3], *bias[2];
    for (int k = 0; k < 3; k++) {
        w[k] = malloc(par(net, (size_t)(k < 2 ? 2 * k : 4))->n * 8);
        rnd(w[k], par(net, (size_t)(k < 2 ? 2 * k : 4))->n, 50 + (uint64_t)k, -0.2, 0.2);
        setp(net, (size_t)(k < 2 ? 2 * k : 4), w[k]);
    }
    for (int k = 0; k < 2; k++) {
        bias[k] = malloc(16 * 8);
        rnd(bias[k], 16, 60 + (uint64_t)k, -0.2, 0.2);
        setp(net, (size_t)(2 * k + 1), bias[k]);
    }
    const size_t per = 16 * 25, outn = 32 * 25;
    double *xd = malloc(4 * per * 8), *ref = malloc(4 * outn * 8), *fref = malloc(4 * per * 8);
    rnd(xd, 4 * per, 41, -1, 1);
    for (int i = 0; i < 4; i++) branch_ref(ref + i * outn, fref + i * per, xd + i * per, w, bias);
    float *x = tof(xd, 4 * per), *yo = malloc(4 * outn * 4), *fo = malloc(4 * per * 4);
    for (int pass = 0; pass < 2; pass++) {
        for (int training = 0; training <= 1; training++) {
            ck_assert_dh_ok(dh__net_forward(net, x, 4, training, yo, fo));
            near(yo, ref, 4 * outn, TOL_OUT, "branch output (batch 4)");
            near(fo, fref, 4 * per, TOL_OUT, "branch feature map (batch 4)");
            for (int i = 0; i < 4; i++) {
                ck_assert_dh_ok(dh__net_forward(net, x + i * per, 1, training, yo, fo));
                near(yo, ref + i * outn, outn, TOL_OUT, "branch output (batch 1)");
                near(fo, fref + i * per, per, TOL_OUT, "branch feature map (batch 1)");
            }
        }
        /* a training step must leave every cached plan intact */
        ck_assert_dh_ok(dh__net_forward(net, x, 4, 1, yo, NULL));
        ck_assert_dh_ok(dh__net_backward(net, yo, NULL, NULL));
    }
    dh__net_free(net);
    for (int k = 0; k < 3; k++) free(w[k]);
    free(bias[0]); free(bias[1]); free(xd); free(ref); free(fref); free(x); free(yo); free(fo);
}
END_TEST

START_TEST(test_nn_plan_stats_errors)
{
    dh__net *net = mk(16, 4, 4);
    int y = dh__net_conv(net, 0, "c", (dh__conv_args){16, 3, 3, 1, 1, 1, 1, 0});
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    dh__net_plan_stats s;
    ck_assert_dh_fail(dh__net_plan_stats_get(net, &s), DH_E_STATE);
    ck_assert_dh_fail(dh__net_plan_stats_get(NULL, &s), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh__net_plan_stats_get(net, NULL), DH_E_INVALID_ARG);
    dh__net_free(net);
}
END_TEST

static Suite *dh__nn_plan_suite(void)
{
    Suite *s = suite_create("dh__nn_plan");
    TCase *t = tcase_create("Winograd");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_nn_plan_winograd_matches_ref_and_direct);
    tcase_add_test(t, test_nn_plan_winograd_only_where_eligible);
    suite_add_tcase(s, t);
    t = tcase_create("Sharing");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_nn_plan_shares_buffers_along_a_chain);
    tcase_add_test(t, test_nn_plan_sharing_keeps_live_branches);
    tcase_add_test(t, test_nn_plan_stats_errors);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(dh__nn_plan_suite()); }
