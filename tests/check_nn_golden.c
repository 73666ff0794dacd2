/* tests/check_nn_golden.c -- the oneDNN path against PyTorch's golden vectors in
 * tests/golden/nn/ (made by tests/golden/gen_nn_golden.py; torch is needed only to
 * regenerate them). Parameters, inputs and upstream gradients come from the
 * counter-based hash fill() shared with the generator, so whole networks are
 * checked without storing their weights.
 *
 * Tolerances (PyTorch computed in float64, so these bound libdh's float32 error):
 *  - layers: outputs within 1e-4 and gradients within 1e-3 of the tensor's largest
 *    magnitude;
 *  - networks: outputs within 1e-3. Gradients of deep ReLU networks are not smooth:
 *    a pre-activation within float32 rounding of zero flips its ReLU mask (seen in
 *    resnet18-cifar: one of 768 values of a channel, moving that channel's weight
 *    gradient by 5%). So network gradients must have a relative L2 error below 1e-2
 *    with at least 99% of the elements within 1e-3 of the largest magnitude; the
 *    summaries of the large tensors: sum within 1e-2 of sum|g|, sum of squares
 *    within 2e-2 relative, sampled elements within 0.1 of the RMS. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "golden_dhgv.h"

static gv_file *gv_load(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/golden/nn/%s.bin", DH_SOURCE_DIR, name);
    return gv_load_path(path);
}

/* ---- fill(): the value rule of gen_nn_golden.py ---- */

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 0x811C9DC5u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x01000193u;
    return h;
}

static int ends(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static void fill(const dh__param *p)
{
    uint32_t h = fnv1a(p->name);
    for (size_t i = 0; i < p->n; i++) {
        uint32_t x = h ^ (uint32_t)(i * 0x9E3779B1u);
        x ^= x >> 16;
        x *= 0x85EBCA6Bu;
        x ^= x >> 13;
        x *= 0xC2B2AE35u;
        x ^= x >> 16;
        double u = (double)x / 4294967296.0, v;
        if (ends(p->name, "running_var")) v = 1.0 + 0.5 * u;
        else if (ends(p->name, "running_mean") || ends(p->name, "bias")) v = 0.1 * (2 * u - 1);
        else if (ends(p->name, "num_batches_tracked")) v = 0.0;
        else if (ends(p->name, "weight") && p->ndim == 1) v = 1.0 + 0.1 * (2 * u - 1);
        else if (ends(p->name, "weight")) v = (2 * u - 1) / sqrt((double)p->n / (double)p->shape[0]);
        else v = 2 * u - 1; /* inputs, upstream gradients */
        p->data[i] = (float)v;
    }
}

static void fill_net(dh__net *net)
{
    dh__param *ps;
    size_t np = dh__net_params(net, &ps);
    for (size_t i = 0; i < np; i++) fill(&ps[i]);
    dh__net_params_changed(net);
}

static void near(const float *got, const gv_tensor *want, double tol, const char *what)
{
    double scale = 1e-6, err = 0;
    size_t at = 0;
    for (size_t i = 0; i < want->n; i++) scale = fmax(scale, fabs(want->data[i]));
    for (size_t i = 0; i < want->n; i++) {
        double e = fabs((double)got[i] - want->data[i]);
        if (e > err) { err = e; at = i; }
    }
    ck_assert_msg(err <= tol * scale, "%s %s: max error %.3g at %zu (got %.7g, torch %.7g)", what,
                  want->name, err, at, (double)got[at], (double)want->data[at]);
}

static const dh__param *find_param(dh__net *net, const char *name);

/* Network gradients: relative L2 error and the fraction of elements off by more
 * than 1e-3 times the largest magnitude: at most 1%, and at least one element is
 * always allowed (a 64-channel BN bias gradient sums over every pixel, so one ReLU
 * flipped by float32 rounding moves one of its 64 entries; the direct and the
 * Winograd convolutions both show such single outliers, about 3e-3 of the scale). */
static void near_net(const float *got, const gv_tensor *want, const char *what)
{
    double scale = 1e-30, num = 0, den = 0;
    for (size_t i = 0; i < want->n; i++) scale = fmax(scale, fabs(want->data[i]));
    size_t off = 0;
    double worst = 0;
    for (size_t i = 0; i < want->n; i++) {
        double e = (double)got[i] - want->data[i];
        num += e * e;
        den += (double)want->data[i] * want->data[i];
        off += fabs(e) > 1e-3 * scale;
        worst = fmax(worst, fabs(e) / scale);
    }
    double rel = sqrt(num / (den + 1e-300));
    ck_assert_msg(rel <= 1e-2 && (double)off <= fmax(1.0, 0.01 * (double)want->n),
                  "%s %s: relative L2 error %.3g, %zu of %zu elements off by > 1e-3 (worst "
                  "%.3g of the largest magnitude)", what, want->name, rel, off, want->n, worst);
}

static void check_summary(dh__net *net, const gv_tensor *t, const char *file)
{
    const dh__param *p = find_param(net, t->name + 4);
    const float *v = p->grad ? p->grad : p->data;
    double s = 0, q = 0;
    for (size_t k = 0; k < p->n; k++) {
        s += v[k];
        q += (double)v[k] * v[k];
    }
    double rms = sqrt(t->data[1] / (double)p->n) + 1e-30;
    ck_assert_msg(fabs(s - t->data[0]) <= 1e-2 * t->data[2] + 1e-12, "%s %s: sum %.9g, torch %.9g",
                  file, t->name, s, (double)t->data[0]);
    ck_assert_msg(fabs(q - t->data[1]) <= 2e-2 * t->data[1] + 1e-12,
                  "%s %s: sum of squares %.9g, torch %.9g", file, t->name, q, (double)t->data[1]);
    size_t idx[4] = {0, p->n / 3, p->n / 2, p->n - 1};
    for (int k = 0; k < 4; k++)
        ck_assert_msg(fabs(v[idx[k]] - t->data[3 + k]) <= 0.1 * rms, "%s %s[%zu]: %.9g, torch %.9g",
                      file, t->name, idx[k], (double)v[idx[k]], (double)t->data[3 + k]);
}

static const dh__param *find_param(dh__net *net, const char *name)
{
    dh__param *ps;
    size_t np = dh__net_params(net, &ps);
    for (size_t i = 0; i < np; i++)
        if (strcmp(ps[i].name, name) == 0) return &ps[i];
    ck_abort_msg("parameter '%s' missing", name);
    return NULL;
}

/* Forward (training), backward with the stored dout, eval forward; compare all.
 * network: 1 for whole encoders (network tolerances, summaries). */
static void run_case(dh__net *net, const char *file, int network)
{
    double tol_out = network ? 1e-3 : 1e-4;
    gv_file *g = gv_load(file);
    fill_net(net);
    const gv_tensor *x = gv_get(g, "input"), *y = gv_get(g, "output");
    size_t n = (size_t)x->dims[0], nout = y->n;
    float *out = malloc(nout * 4), *dout = malloc(nout * 4), *dx = malloc(x->n * 4);
    dh__param dp = {.name = "dout", .data = dout, .n = nout, .ndim = 0};
    fill(&dp); /* same rule as the generator's fill("dout") */
    ck_assert_dh_ok(dh__net_forward(net, x->data, n, 1, out, NULL));
    near(out, y, tol_out, file);
    ck_assert_dh_ok(dh__net_backward(net, dout, NULL, dx));
    if (network) near_net(dx, gv_get(g, "dinput"), file);
    else near(dx, gv_get(g, "dinput"), 1e-3, file);
    for (int i = 0; i < g->count; i++) {
        const gv_tensor *t = &g->t[i];
        if (strncmp(t->name, "grad:", 5) == 0) {
            const float *got = find_param(net, t->name + 5)->grad;
            if (network) near_net(got, t, file);
            else near(got, t, 1e-3, file);
        } else if (strncmp(t->name, "after:", 6) == 0) {
            near(find_param(net, t->name + 6)->data, t, tol_out, file);
        } else if (strncmp(t->name, "sum:", 4) == 0) {
            check_summary(net, t, file);
        }
    }
    ck_assert_dh_ok(dh__net_forward(net, x->data, n, 0, out, NULL));
    near(out, gv_get(g, "eval_output"), tol_out, file);
    free(out);
    free(dout);
    free(dx);
    gv_free(g);
}

static dh__net *mk(int32_t ndim, int64_t a, int64_t b, int64_t c)
{
    int64_t s[3] = {a, b, c};
    dh__net *net = NULL;
    ck_assert_dh_ok(dh__net_create(ndim, s, 1, &net));
    return net;
}

static void layer(dh__net *net, int y, const char *file)
{
    ck_assert_dh_ok(dh__net_finalize(net, y, -1));
    run_case(net, file, 0);
    dh__net_free(net);
}

START_TEST(test_nn_golden_layers)
{
    dh__net *n = mk(3, 4, 9, 9);
    layer(n, dh__net_conv(n, 0, "", (dh__conv_args){6, 3, 3, 2, 1, 2, 2, 1}), "conv_grouped");
    n = mk(3, 3, 8, 8);
    layer(n, dh__net_conv(n, 0, "", (dh__conv_args){16, 5, 5, 1, 2, 1, 1, 0}), "conv_5x5");
    n = mk(3, 5, 4, 4);
    layer(n, dh__net_bn(n, 0, "", 1e-5f, 0.1f), "bn2d");
    n = mk(1, 7, 0, 0);
    layer(n, dh__net_bn(n, 0, "", 1e-5f, 0.1f), "bn1d");
    n = mk(3, 3, 7, 7);
    layer(n, dh__net_maxpool(n, 0, 3, 2, 1), "maxpool");
    n = mk(3, 3, 7, 7);
    layer(n, dh__net_avgpool(n, 0, 3, 2, 1), "avgpool");
    n = mk(1, 10, 0, 0);
    layer(n, dh__net_linear(n, 0, "", 6, 1), "linear");
    n = mk(3, 5, 3, 3);
    layer(n, dh__net_softmax(n, 0, 1), "softmax");
    n = mk(3, 3, 4, 4);
    layer(n, dh__net_act(n, 0, DH__ACT_RELU, 0.1f), "leaky_relu");
    n = mk(3, 3, 4, 4);
    layer(n, dh__net_act(n, 0, DH__ACT_GELU, 0.0f), "gelu");
}
END_TEST

START_TEST(test_nn_golden_smallcnn)
{
    dh_encoder *e;
    ck_assert_dh_ok(dh_encoder_create("smallcnn", NULL, &e));
    run_case(dh__encoder_net(e), "smallcnn", 1);
    dh_encoder_free(e);
}
END_TEST

START_TEST(test_nn_golden_resnet18_cifar)
{
    dh_encoder *e;
    ck_assert_dh_ok(dh_encoder_create("resnet18-cifar", NULL, &e));
    run_case(dh__encoder_net(e), "resnet18_cifar", 1);
    dh_encoder_free(e);
}
END_TEST

static Suite *dh__nn_golden_suite(void)
{
    Suite *s = suite_create("dh__nn_golden");
    TCase *tc = tcase_create("Torch");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_nn_golden_layers);
    tcase_add_test(tc, test_nn_golden_smallcnn);
    tcase_add_test(tc, test_nn_golden_resnet18_cifar);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dh_test_run(dh__nn_golden_suite()); }
