/* tests/check_nn_encoder.c -- the public dh_encoder API: options, specs, shapes,
 * parameter names (torchvision keys), initialisation, determinism, the feature-map
 * variants, smallcnn end to end against the reference kernels, threads, errors. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "testutil.h"

static float *randf(size_t n, uint64_t seed, float scale)
{
    float *a = malloc(n * sizeof(float) + 4);
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 11;
    for (size_t i = 0; i < n; i++)
        a[i] = scale * (float)((double)(dh_test_rand(&s) >> 11) * 0x1.0p-53 * 2 - 1);
    return a;
}

static const dh__param *param(dh_encoder *e, const char *name)
{
    dh__param *ps;
    size_t np = dh__encoder_params(e, &ps);
    for (size_t i = 0; i < np; i++)
        if (strcmp(ps[i].name, name) == 0) return &ps[i];
    return NULL;
}

START_TEST(test_nn_encoder_options_init_defaults)
{
    dh_encoder_options o;
    memset(&o, 0xab, sizeof o);
    dh_encoder_options_init(&o);
    ck_assert_uint_eq(o.struct_size, sizeof o);
    ck_assert_uint_eq(o.seed, 0x5eed);
    ck_assert_int_eq(o.in_channels, 0);
    ck_assert_float_eq(o.dropout, 0.5f);
    ck_assert_float_eq(o.bn_momentum, 0.1f);
    ck_assert_float_eq(o.bn_eps, 1e-5f);
    ck_assert_uint_eq(sizeof o % 8, 0);
    dh_encoder_options_init(NULL); /* no-op */
}
END_TEST

START_TEST(test_nn_encoder_create_shapes_and_names)
{
    dh_encoder *e;
    int64_t s[3];
    ck_assert_dh_ok(dh_encoder_create("smallcnn", NULL, &e));
    ck_assert_uint_eq(dh_encoder_feature_dim(e), 512);
    ck_assert_int_eq(dh_encoder_input_shape(e, s), 3);
    ck_assert(s[0] == 1 && s[1] == 28 && s[2] == 28);
    ck_assert_int_eq(dh_encoder_feature_map_shape(e, s), 3);
    ck_assert(s[0] == 64 && s[1] == 7 && s[2] == 7);
    ck_assert_uint_eq(dh_encoder_param_count(e), 800 + 64 + 51200 + 128 + 3136 * 512 + 1024);
    ck_assert_str_eq(dh_encoder_spec(e), "smallcnn");
    ck_assert_ptr_nonnull(param(e, "conv1.weight"));
    ck_assert_ptr_nonnull(param(e, "bn3.running_var"));
    ck_assert_ptr_null(param(e, "conv1.bias")); /* convs feeding BN carry no bias */
    dh_encoder_free(e);

    dh_encoder_options o;
    dh_encoder_options_init(&o);
    o.in_channels = 3;
    o.in_height = 32;
    ck_assert_dh_ok(dh_encoder_create("smallcnn", &o, &e));
    ck_assert_int_eq(dh_encoder_feature_map_shape(e, s), 3);
    ck_assert(s[0] == 64 && s[1] == 8 && s[2] == 8);
    dh_encoder_free(e);

    ck_assert_dh_ok(dh_encoder_create("resnet18-cifar", NULL, &e));
    ck_assert_uint_eq(dh_encoder_feature_dim(e), 512);
    ck_assert_int_eq(dh_encoder_feature_map_shape(e, s), 3);
    ck_assert(s[0] == 512 && s[1] == 4 && s[2] == 4);
    dh_encoder_free(e);

    ck_assert_dh_ok(dh_encoder_create("resnet18", NULL, &e));
    ck_assert_int_eq(dh_encoder_input_shape(e, s), 3);
    ck_assert(s[0] == 3 && s[1] == 224 && s[2] == 224);
    ck_assert_int_eq(dh_encoder_feature_map_shape(e, s), 3);
    ck_assert(s[0] == 512 && s[1] == 7 && s[2] == 7);
    /* torchvision resnet18 parameter count without fc: 11,689,512 - 513,000 */
    ck_assert_uint_eq(dh_encoder_param_count(e), 11689512 - 513000);
    const char *keys[] = {"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                          "bn1.running_var", "bn1.num_batches_tracked", "layer1.0.conv1.weight",
                          "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var",
                          "layer4.1.bn2.bias"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        ck_assert_msg(param(e, keys[k]) != NULL, "missing %s", keys[k]);
    const dh__param *w = param(e, "layer3.0.conv1.weight");
    ck_assert(w->ndim == 4 && w->shape[0] == 256 && w->shape[1] == 128 && w->shape[2] == 3);
    ck_assert(!w->no_decay && !w->is_buffer && w->grad != NULL);
    const dh__param *rv = param(e, "bn1.running_var");
    ck_assert(rv->is_buffer && rv->grad == NULL && rv->no_decay);
    ck_assert(param(e, "bn1.bias")->no_decay);
    dh_encoder_free(e);

    ck_assert_dh_ok(dh_encoder_create("alexnet", NULL, &e));
    ck_assert_uint_eq(dh_encoder_feature_dim(e), 4096);
    ck_assert_int_eq(dh_encoder_feature_map_shape(e, s), 3);
    ck_assert(s[0] == 256 && s[1] == 6 && s[2] == 6);
    /* torchvision alexnet without classifier.6 (4096 * 1000 + 1000) */
    ck_assert_uint_eq(dh_encoder_param_count(e), 61100840 - 4097000);
    ck_assert_ptr_nonnull(param(e, "features.10.bias"));
    ck_assert_ptr_nonnull(param(e, "classifier.4.weight"));
    dh_encoder_free(e);

    ck_assert_dh_ok(dh_encoder_create("mlp:20-64-16", NULL, &e));
    ck_assert_uint_eq(dh_encoder_feature_dim(e), 16);
    ck_assert_int_eq(dh_encoder_input_shape(e, s), 1);
    ck_assert(s[0] == 20);
    ck_assert_int_eq(dh_encoder_feature_map_shape(e, s), 0);
    ck_assert_ptr_nonnull(param(e, "fc2.weight"));
    ck_assert_ptr_nonnull(param(e, "bn1.running_mean"));
    dh_encoder_free(e);
}
END_TEST

START_TEST(test_nn_encoder_create_rejects_bad_specs)
{
    dh_encoder *e = (dh_encoder *)1;
    ck_assert_dh_fail(dh_encoder_create("vgg16", NULL, &e), DH_E_NOT_FOUND);
    ck_assert_ptr_null(e);
    const char *bad[] = {"mlp:", "mlp:10", "mlp:10-", "mlp:10--5", "mlp:0-5", "mlp:10-x",
                         "mlp:10-5 ", "mlp:-3-4", "mlp:99999999999999999999-2"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ck_assert_dh_fail(dh_encoder_create(bad[k], NULL, &e), DH_E_FORMAT);
        ck_assert_ptr_null(e);
    }
    ck_assert_dh_fail(dh_encoder_create(NULL, NULL, &e), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_encoder_create("smallcnn", NULL, NULL), DH_E_INVALID_ARG);
    dh_encoder_options o;
    dh_encoder_options_init(&o);
    o.dropout = 1.0f;
    ck_assert_dh_fail(dh_encoder_create("alexnet", &o, &e), DH_E_INVALID_ARG);
    dh_encoder_options_init(&o);
    o.bn_eps = 0.0f;
    ck_assert_dh_fail(dh_encoder_create("smallcnn", &o, &e), DH_E_INVALID_ARG);
    dh_encoder_options_init(&o);
    o.in_height = 3; /* smaller than smallcnn's minimum */
    ck_assert_dh_fail(dh_encoder_create("smallcnn", &o, &e), DH_E_INVALID_ARG);
    dh_encoder_options_init(&o);
    o.in_channels = -1;
    ck_assert_dh_fail(dh_encoder_create("smallcnn", &o, &e), DH_E_INVALID_ARG);
    dh_encoder_options_init(&o);
    o.in_height = 100; /* alexnet's feature map would not pool to 6x6 */
    ck_assert_dh_fail(dh_encoder_create("alexnet", &o, &e), DH_E_UNSUPPORTED);
    ck_assert_ptr_null(e);
    dh_encoder_free(NULL);
}
END_TEST

START_TEST(test_nn_encoder_options_old_and_oversized_struct)
{
    /* a caller built against a dh.h that knew only struct_size and seed */
    struct { size_t struct_size; uint64_t seed; } old = {16, 77};
    dh_encoder *a, *b;
    ck_assert_dh_ok(dh_encoder_create("mlp:8-4", (const dh_encoder_options *)(void *)&old, &a));
    dh_encoder_options o;
    dh_encoder_options_init(&o);
    o.seed = 77;
    ck_assert_dh_ok(dh_encoder_create("mlp:8-4", &o, &b));
    ck_assert(memcmp(param(a, "fc1.weight")->data, param(b, "fc1.weight")->data, 32 * 4) == 0);
    dh_encoder_free(a);
    dh_encoder_free(b);
    struct { dh_encoder_options o; uint64_t future; } big;
    memset(&big, 0, sizeof big);
    dh_encoder_options_init(&big.o);
    big.o.struct_size = sizeof big;
    ck_assert_dh_ok(dh_encoder_create("mlp:8-4", &big.o, &a));
    dh_encoder_free(a);
    big.future = 1;
    ck_assert_dh_fail(dh_encoder_create("mlp:8-4", &big.o, &a), DH_E_VERSION);
    o.struct_size = 4;
    ck_assert_dh_fail(dh_encoder_create("mlp:8-4", &o, &a), DH_E_INVALID_ARG);
}
END_TEST

START_TEST(test_nn_encoder_init_like_pytorch_and_deterministic)
{
    dh_encoder *a, *b, *c;
    dh_encoder_options o;
    dh_encoder_options_init(&o);
    ck_assert_dh_ok(dh_encoder_create("smallcnn", &o, &a));
    ck_assert_dh_ok(dh_encoder_create("smallcnn", &o, &b));
    o.seed = 1234;
    ck_assert_dh_ok(dh_encoder_create("smallcnn", &o, &c));
    const dh__param *wa = param(a, "conv2.weight"), *wb = param(b, "conv2.weight"),
                    *wc = param(c, "conv2.weight");
    ck_assert(memcmp(wa->data, wb->data, wa->n * 4) == 0);
    ck_assert(memcmp(wa->data, wc->data, wa->n * 4) != 0);
    /* kaiming_uniform(a = sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = 32*25 */
    double bound = 1.0 / sqrt(800.0), m = 0, v = 0, mx = 0;
    for (size_t k = 0; k < wa->n; k++) {
        m += wa->data[k];
        v += (double)wa->data[k] * wa->data[k];
        mx = fmax(mx, fabs(wa->data[k]));
    }
    m /= (double)wa->n;
    v /= (double)wa->n;
    ck_assert(mx <= bound);
    ck_assert_double_eq_tol(m, 0.0, 0.01 * bound);
    ck_assert_double_eq_tol(v, bound * bound / 3, 0.02 * bound * bound);
    const dh__param *g = param(a, "bn1.weight"), *rv = param(a, "bn1.running_var");
    for (size_t k = 0; k < g->n; k++) ck_assert(g->data[k] == 1.0f && rv->data[k] == 1.0f);
    dh_encoder_free(a);
    dh_encoder_free(b);
    dh_encoder_free(c);
}
END_TEST

/* smallcnn end to end against the chain of double reference kernels (lib/nn/ref.c):
 * features, input gradient from the features and, separately, from the feature map.
 * Tolerances as check_nn_layers.c, 1e-3 for the chained gradients. (A float32
 * finite difference is no check here: ReLU and max-pool kinks cross within any
 * usable step.) */
typedef struct chain {
    dh__conv_ref_dims c1, c2;
    double *x, *w1, *w2, *fcw, *g[3];
    double *a1, *b1, *r1, *p1, *a2, *b2, *r2, *p2, *f, *bf, *out;
} chain;

static double *dup_param(dh_encoder *e, const char *name)
{
    const dh__param *p = param(e, name);
    double *d = malloc(p->n * 8);
    for (size_t k = 0; k < p->n; k++) d[k] = p->data[k];
    return d;
}

static void chain_forward(chain *c, int n)
{
    static const double zero[512] = {0};
    dh__conv2d_ref_forward(c->a1, c->x, c->w1, NULL, &c->c1);
    dh__bn_ref_forward(c->b1, NULL, NULL, c->a1, c->g[0], zero, n, 32, 144, 1e-5);
    dh__act_ref_forward(c->r1, c->b1, (size_t)n * 32 * 144, DH__ACT_RELU, 0);
    dh__maxpool_ref_forward(c->p1, c->r1, n, 32, 12, 12, 2, 2, 0);
    dh__conv2d_ref_forward(c->a2, c->p1, c->w2, NULL, &c->c2);
    dh__bn_ref_forward(c->b2, NULL, NULL, c->a2, c->g[1], zero, n, 64, 36, 1e-5);
    dh__act_ref_forward(c->r2, c->b2, (size_t)n * 64 * 36, DH__ACT_RELU, 0);
    dh__maxpool_ref_forward(c->p2, c->r2, n, 64, 6, 6, 2, 2, 0);
    dh__linear_ref_forward(c->f, c->p2, c->fcw, NULL, n, 576, 512);
    dh__bn_ref_forward(c->bf, NULL, NULL, c->f, c->g[2], zero, n, 512, 1, 1e-5);
    dh__act_ref_forward(c->out, c->bf, (size_t)n * 512, DH__ACT_RELU, 0);
}

/* dx from dout (features) or, with dout NULL, from dp2 (the feature map). */
static void chain_backward(chain *c, int n, const double *dout, const double *dp2, double *dx)
{
    size_t s1 = (size_t)n * 32 * 144, s2 = (size_t)n * 64 * 36, q1 = s1 / 4, q2 = s2 / 4;
    double *t0 = calloc(s1, 8), *t1 = calloc(s1, 8), *u0 = calloc(s2, 8), *u1 = calloc(s2, 8);
    double *gp2 = calloc(q2, 8), *gp1 = calloc(q1, 8), *h0 = calloc((size_t)n * 512, 8);
    double *h1 = calloc((size_t)n * 512, 8);
    if (dout) {
        dh__act_ref_backward(h0, dout, c->bf, (size_t)n * 512, DH__ACT_RELU, 0);
        dh__bn_ref_backward(h1, NULL, NULL, h0, c->f, c->g[2], n, 512, 1, 1e-5);
        dh__linear_ref_backward(gp2, NULL, NULL, h1, c->p2, c->fcw, n, 576, 512);
    } else {
        memcpy(gp2, dp2, q2 * 8);
    }
    dh__maxpool_ref_backward(u0, gp2, c->r2, n, 64, 6, 6, 2, 2, 0);
    dh__act_ref_backward(u1, u0, c->b2, s2, DH__ACT_RELU, 0);
    memset(u0, 0, s2 * 8);
    dh__bn_ref_backward(u0, NULL, NULL, u1, c->a2, c->g[1], n, 64, 36, 1e-5);
    dh__conv2d_ref_backward(gp1, NULL, NULL, u0, c->p1, c->w2, &c->c2);
    dh__maxpool_ref_backward(t0, gp1, c->r1, n, 32, 12, 12, 2, 2, 0);
    dh__act_ref_backward(t1, t0, c->b1, s1, DH__ACT_RELU, 0);
    memset(t0, 0, s1 * 8);
    dh__bn_ref_backward(t0, NULL, NULL, t1, c->a1, c->g[0], n, 32, 144, 1e-5);
    memset(dx, 0, (size_t)n * 144 * 8);
    dh__conv2d_ref_backward(dx, NULL, NULL, t0, c->x, c->w1, &c->c1);
    free(t0); free(t1); free(u0); free(u1); free(gp2); free(gp1); free(h0); free(h1);
}

static void near_d(const float *got, const double *want, size_t n, double tol, const char *what)
{
    double scale = 1e-9, err = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) err = fmax(err, fabs((double)got[i] - want[i]));
    ck_assert_msg(err <= tol * scale, "%s: max error %.3g (scale %.3g)", what, err, scale);
}

START_TEST(test_nn_encoder_smallcnn_matches_reference_chain)
{
    const int n = 4;
    dh_encoder *e;
    dh_encoder_options o;
    dh_encoder_options_init(&o);
    o.in_height = 12;
    ck_assert_dh_ok(dh_encoder_create("smallcnn", &o, &e));
    /* BN scales away from 1 so they matter; shifts stay 0 (the chain passes zeros) */
    dh__param *ps;
    size_t np = dh__encoder_params(e, &ps);
    for (size_t i = 0; i < np; i++)
        if (ps[i].ndim == 1 && !ps[i].is_buffer && strstr(ps[i].name, "weight"))
            for (size_t k = 0; k < ps[i].n; k++) ps[i].data[k] = 0.5f + (float)(k % 7) / 7.0f;
    dh__encoder_params_changed(e);
    chain c = {.c1 = {.n = n, .c = 1, .h = 12, .w = 12, .o = 32, .kh = 5, .kw = 5, .sh = 1,
                      .sw = 1, .ph = 2, .pw = 2},
               .c2 = {.n = n, .c = 32, .h = 6, .w = 6, .o = 64, .kh = 5, .kw = 5, .sh = 1,
                      .sw = 1, .ph = 2, .pw = 2}};
    dh__conv_ref_dims_init(&c.c1);
    dh__conv_ref_dims_init(&c.c2);
    float *xf = randf((size_t)n * 144, 1, 1.0f), *rf = randf((size_t)n * 512, 3, 1.0f);
    float *mf = randf((size_t)n * 576, 4, 1.0f);
    c.x = malloc((size_t)n * 144 * 8);
    for (int k = 0; k < n * 144; k++) c.x[k] = xf[k];
    c.w1 = dup_param(e, "conv1.weight");
    c.w2 = dup_param(e, "conv2.weight");
    c.fcw = dup_param(e, "fc.weight");
    c.g[0] = dup_param(e, "bn1.weight");
    c.g[1] = dup_param(e, "bn2.weight");
    c.g[2] = dup_param(e, "bn3.weight");
    size_t s1 = (size_t)n * 32 * 144, s2 = (size_t)n * 64 * 36;
    double **bufs[] = {&c.a1, &c.b1, &c.r1, &c.p1, &c.a2, &c.b2, &c.r2, &c.p2, &c.f, &c.bf, &c.out};
    size_t sizes[] = {s1, s1, s1, s1 / 4, s2, s2, s2, s2 / 4, (size_t)n * 512, (size_t)n * 512,
                      (size_t)n * 512};
    for (int k = 0; k < 11; k++) *bufs[k] = malloc(sizes[k] * 8);
    chain_forward(&c, n);
    float *out = malloc((size_t)n * 512 * 4), *fm = malloc(s2), *dx = malloc((size_t)n * 144 * 4);
    ck_assert_dh_ok(dh_encoder_forward_fmap(e, xf, (size_t)n, 1, out, fm));
    near_d(out, c.out, (size_t)n * 512, 1e-4, "smallcnn features");
    near_d(fm, c.p2, s2 / 4, 1e-4, "smallcnn feature map");
    double *r = malloc((size_t)n * 512 * 8), *m = malloc(s2 / 4 * 8), *dxr = malloc((size_t)n * 144 * 8);
    for (int k = 0; k < n * 512; k++) r[k] = rf[k];
    for (size_t k = 0; k < s2 / 4; k++) m[k] = mf[k];
    chain_backward(&c, n, r, NULL, dxr);
    ck_assert_dh_ok(dh_encoder_backward(e, rf, dx));
    near_d(dx, dxr, (size_t)n * 144, 1e-3, "smallcnn dx from features");
    chain_backward(&c, n, NULL, m, dxr);
    ck_assert_dh_ok(dh_encoder_forward_fmap(e, xf, (size_t)n, 1, NULL, NULL));
    ck_assert_dh_ok(dh_encoder_backward_fmap(e, NULL, mf, dx));
    near_d(dx, dxr, (size_t)n * 144, 1e-3, "smallcnn dx from the feature map");
    dh_encoder_free(e);
    for (int k = 0; k < 11; k++) free(*bufs[k]);
    free(c.x); free(c.w1); free(c.w2); free(c.fcw); free(c.g[0]); free(c.g[1]); free(c.g[2]);
    free(xf); free(rf); free(mf); free(out); free(fm); free(dx); free(r); free(m); free(dxr);
}
END_TEST

START_TEST(test_nn_encoder_fmap_gradient_reaches_only_the_trunk)
{
    dh_encoder *e;
    ck_assert_dh_ok(dh_encoder_create("smallcnn", NULL, &e));
    const size_t n = 2;
    float *x = randf(n * 784, 5, 1.0f), *g = randf(n * 3136, 6, 1.0f);
    ck_assert_dh_ok(dh_encoder_zero_grad(e));
    ck_assert_dh_ok(dh_encoder_forward_fmap(e, x, n, 1, NULL, NULL));
    ck_assert_dh_ok(dh_encoder_backward_fmap(e, NULL, g, NULL));
    double head = 0, trunk = 0;
    const dh__param *fc = param(e, "fc.weight"), *c1 = param(e, "conv1.weight");
    for (size_t k = 0; k < fc->n; k++) head += fabs(fc->grad[k]);
    for (size_t k = 0; k < c1->n; k++) trunk += fabs(c1->grad[k]);
    ck_assert(head == 0.0 && trunk > 0.0);
    dh_encoder_free(e);
    free(x); free(g);
}
END_TEST

START_TEST(test_nn_encoder_forward_errors)
{
    dh_encoder *e;
    ck_assert_dh_ok(dh_encoder_create("mlp:6-5", NULL, &e));
    float x[12] = {0}, out[10], dx[12];
    ck_assert_dh_fail(dh_encoder_backward(e, out, dx), DH_E_STATE);
    ck_assert_dh_fail(dh_encoder_forward(NULL, x, 2, 0, out), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_encoder_forward(e, NULL, 2, 0, out), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_encoder_forward(e, x, 2, 0, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_encoder_forward(e, x, 0, 0, out), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_encoder_forward(e, x, (size_t)1 << 21, 0, out), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_encoder_forward(e, x, 2, 7, out), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_encoder_forward(e, x, 1, 1, out), DH_E_INVALID_ARG); /* BN1d, batch 1 */
    ck_assert_dh_fail(dh_encoder_forward_fmap(e, x, 2, 0, out, out), DH_E_UNSUPPORTED);
    ck_assert_dh_ok(dh_encoder_forward(e, x, 2, 1, out));
    ck_assert_dh_fail(dh_encoder_backward(e, NULL, dx), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_encoder_backward_fmap(e, NULL, NULL, dx), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_encoder_backward_fmap(e, out, out, dx), DH_E_UNSUPPORTED);
    ck_assert_dh_fail(dh_encoder_backward(NULL, out, dx), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh_encoder_backward(e, out, NULL));
    ck_assert_dh_fail(dh_encoder_zero_grad(NULL), DH_E_INVALID_ARG);
    ck_assert_uint_eq(dh_encoder_feature_dim(NULL), 0);
    ck_assert_uint_eq(dh_encoder_param_count(NULL), 0);
    ck_assert_str_eq(dh_encoder_spec(NULL), "");
    int64_t s[3];
    ck_assert_int_eq(dh_encoder_input_shape(NULL, s), 0);
    ck_assert_int_eq(dh_encoder_input_shape(e, NULL), 0);
    ck_assert_int_eq(dh_encoder_feature_map_shape(NULL, s), 0);
    dh_encoder_free(e);
}
END_TEST

/* Inference sees parameter changes: after the caller writes weights and says so,
 * and after a training step (an optimizer may have moved them). */
START_TEST(test_nn_encoder_inference_follows_weight_changes)
{
    dh_encoder *e;
    ck_assert_dh_ok(dh_encoder_create("smallcnn", NULL, &e));
    const size_t n = 3;
    float *x = randf(n * 784, 7, 1.0f), a[3 * 512], b[3 * 512];
    ck_assert_dh_ok(dh_encoder_forward(e, x, n, 0, a));
    ck_assert_dh_ok(dh_encoder_forward(e, x, n, 0, b));
    ck_assert(memcmp(a, b, sizeof a) == 0); /* deterministic */
    dh__param *ps;
    size_t np = dh__encoder_params(e, &ps);
    for (size_t i = 0; i < np; i++)
        if (strcmp(ps[i].name, "conv1.weight") == 0)
            for (size_t k = 0; k < ps[i].n; k++) ps[i].data[k] *= 0.5f;
    dh__encoder_params_changed(e);
    ck_assert_dh_ok(dh_encoder_forward(e, x, n, 0, b));
    ck_assert(memcmp(a, b, sizeof a) != 0);
    ck_assert_dh_ok(dh_encoder_forward(e, x, n, 1, a)); /* updates running stats */
    ck_assert_dh_ok(dh_encoder_forward(e, x, n, 0, a));
    ck_assert(memcmp(a, b, sizeof a) != 0);
    dh_encoder_free(e);
    free(x);
}
END_TEST

START_TEST(test_nn_encoder_threads_give_same_features)
{
    dh_encoder *e;
    ck_assert_dh_ok(dh_encoder_create("resnet18-cifar", NULL, &e));
    const size_t n = 2;
    float *x = randf(n * 3072, 8, 1.0f), a[2 * 512], b[2 * 512];
    ck_assert_dh_ok(dh_set_num_threads(1));
    ck_assert_dh_ok(dh_encoder_forward(e, x, n, 0, a));
    ck_assert_dh_ok(dh_set_num_threads(2));
    ck_assert_dh_ok(dh_encoder_forward(e, x, n, 0, b));
    ck_assert_int_eq(dh__net_cached_plans(dh__encoder_net(e)), 2); /* rebuilt per count */
    for (int k = 0; k < 1024; k++) ck_assert_float_eq_tol(a[k], b[k], 1e-4f * (1 + fabsf(a[k])));
    ck_assert_dh_ok(dh_set_num_threads(0));
    dh_encoder_free(e);
    free(x);
}
END_TEST

/* Large inference requests run in chunks (256): every row must match a small call. */
START_TEST(test_nn_encoder_large_inference_runs_in_chunks)
{
    dh_encoder *e;
    ck_assert_dh_ok(dh_encoder_create("smallcnn", NULL, &e));
    const size_t n = 600;
    float *x = randf(n * 784, 12, 1.0f), *big = malloc(n * 512 * 4), *fm = malloc(n * 3136 * 4);
    float small[3 * 512], sfm[3 * 3136];
    ck_assert_dh_ok(dh_encoder_forward_fmap(e, x, n, 0, big, fm));
    const size_t at[3] = {0, 300, 597};
    for (int k = 0; k < 3; k++) {
        ck_assert_dh_ok(dh_encoder_forward_fmap(e, x + at[k] * 784, 3, 0, small, sfm));
        for (int j = 0; j < 3 * 512; j++)
            ck_assert_float_eq_tol(big[at[k] * 512 + j], small[j], 1e-5f * (1 + fabsf(small[j])));
        for (int j = 0; j < 3 * 3136; j++)
            ck_assert_float_eq_tol(fm[at[k] * 3136 + j], sfm[j], 1e-5f * (1 + fabsf(sfm[j])));
    }
    ck_assert_int_le(dh__net_cached_plans(dh__encoder_net(e)), 3); /* 256, 88, 3 */
    dh_encoder_free(e);
    free(x); free(big); free(fm);
}
END_TEST

/* The caller may reuse its input array between forward and backward (a data loader
 * refilling its batch): gradients must not change. */
START_TEST(test_nn_encoder_backward_does_not_read_caller_input)
{
    dh_encoder *e;
    ck_assert_dh_ok(dh_encoder_create("smallcnn", NULL, &e));
    const size_t n = 2;
    float *x = randf(n * 784, 9, 1.0f), *x2 = malloc(n * 784 * 4), out[2 * 512];
    float *g1 = malloc(800 * 4);
    memcpy(x2, x, n * 784 * 4);
    ck_assert_dh_ok(dh_encoder_forward(e, x2, n, 1, out));
    ck_assert_dh_ok(dh_encoder_backward(e, out, NULL));
    memcpy(g1, param(e, "conv1.weight")->grad, 800 * 4);
    ck_assert_dh_ok(dh_encoder_zero_grad(e));
    ck_assert_dh_ok(dh_encoder_forward(e, x2, n, 1, out));
    memset(x2, 0, n * 784 * 4);
    ck_assert_dh_ok(dh_encoder_backward(e, out, NULL));
    for (int k = 0; k < 800; k++)
        ck_assert_float_eq_tol(param(e, "conv1.weight")->grad[k], g1[k], 1e-3f * (1 + fabsf(g1[k])));
    dh_encoder_free(e);
    free(x); free(x2); free(g1);
}
END_TEST

/* The 224x224 encoders once through training and inference (a few seconds and
 * ~1 GB for alexnet): only with DH_TEST_SLOW=1. Dropout makes alexnet's training
 * outputs differ between calls; inference is deterministic. */
START_TEST(test_nn_encoder_imagenet_encoders_run)
{
    if (!getenv("DH_TEST_SLOW")) return;
    const char *specs[2] = {"alexnet", "resnet18"};
    for (int k = 0; k < 2; k++) {
        dh_encoder *e;
        ck_assert_dh_ok(dh_encoder_create(specs[k], NULL, &e));
        const size_t n = 2, d = dh_encoder_feature_dim(e);
        float *x = randf(n * 3 * 224 * 224, 10, 1.0f), *a = malloc(n * d * 4), *b = malloc(n * d * 4);
        float *dx = malloc(n * 3 * 224 * 224 * 4);
        ck_assert_dh_ok(dh_encoder_forward(e, x, n, 1, a));
        ck_assert_dh_ok(dh_encoder_backward(e, a, dx));
        for (size_t i = 0; i < n * 3 * 224 * 224; i++) ck_assert(isfinite(dx[i]));
        ck_assert_dh_ok(dh_encoder_forward(e, x, n, 1, b));
        if (k == 0) ck_assert(memcmp(a, b, n * d * 4) != 0);
        ck_assert_dh_ok(dh_encoder_forward(e, x, n, 0, a));
        ck_assert_dh_ok(dh_encoder_forward(e, x, n, 0, b));
        ck_assert(memcmp(a, b, n * d * 4) == 0);
        dh_encoder_free(e);
        free(x); free(a); free(b); free(dx);
    }
}
END_TEST

static Suite *dh__nn_encoder_suite(void)
{
    Suite *s = suite_create("dh__nn_encoder");
    TCase *tc = tcase_create("Create");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_nn_encoder_options_init_defaults);
    tcase_add_test(tc, test_nn_encoder_create_shapes_and_names);
    tcase_add_test(tc, test_nn_encoder_create_rejects_bad_specs);
    tcase_add_test(tc, test_nn_encoder_options_old_and_oversized_struct);
    tcase_add_test(tc, test_nn_encoder_init_like_pytorch_and_deterministic);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("Run");
    tcase_set_timeout(tr, 120);
    tcase_add_test(tr, test_nn_encoder_smallcnn_matches_reference_chain);
    tcase_add_test(tr, test_nn_encoder_fmap_gradient_reaches_only_the_trunk);
    tcase_add_test(tr, test_nn_encoder_forward_errors);
    tcase_add_test(tr, test_nn_encoder_inference_follows_weight_changes);
    tcase_add_test(tr, test_nn_encoder_threads_give_same_features);
    tcase_add_test(tr, test_nn_encoder_backward_does_not_read_caller_input);
    tcase_add_test(tr, test_nn_encoder_imagenet_encoders_run);
    tcase_add_test(tr, test_nn_encoder_large_inference_runs_in_chunks);
    suite_add_tcase(s, tr);
    return s;
}

int main(void) { return dh_test_run(dh__nn_encoder_suite()); }
