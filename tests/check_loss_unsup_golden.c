/* tests/check_loss_unsup_golden.c -- the unsupervised losses against PyTorch float64
 * references (tests/golden/gen_unsup_golden.py; stored vectors in tests/golden/unsup):
 * value, dL/dU and, for SGH, the decoder's parameter gradients. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden_dhgv.h"
#include "loss/unsup.h"
#include "testutil.h"

static gv_file *load(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/golden/unsup/%s.bin", DH_SOURCE_DIR, name);
    return gv_load_path(path);
}

static void close_to(const char *what, const float *got, const float *want, size_t n,
                     double rel)
{
    double mx = 1e-12, err = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(want[i]));
    for (size_t i = 0; i < n; i++) err = fmax(err, fabs((double)got[i] - want[i]));
    ck_assert_msg(err <= rel * mx, "%s: max error %.3g (scale %.3g)", what, err, mx);
}

static const char *cases[] = {"cibhash", "bihalf", "ssdh", "kmeans", "sgh"};

START_TEST(test_unsup_golden)
{
    const char *m = cases[_i];
    gv_file *g = load(m);
    const gv_tensor *U = gv_get(g, "U"), *dU = gv_get(g, "dU"), *val = gv_get(g, "value");
    const gv_tensor *F = gv_find(g, "F");
    const size_t B = (size_t)U->dims[0], K = (size_t)U->dims[1];
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = (uint32_t)K;
    o.n_train = F ? (uint64_t)F->dims[0] : 0;
    if (!strcmp(m, "cibhash")) o.variant = 1;       /* threshold bits, as the reference */
    if (!strcmp(m, "ssdh")) o.margin = 1.0;
    if (!strcmp(m, "kmeans")) o.n_classes = (uint32_t)gv_get(g, "centers")->dims[0];
    if (!strcmp(m, "sgh")) o.schedule = 1;
    dh_loss *L = NULL;
    ck_assert_dh_ok(dh_loss_create(m, &o, &L));
    if (F) ck_assert_dh_ok(dh_loss_set_features(L, F->data, (size_t)F->dims[0], (size_t)F->dims[1]));
    const char *state[] = {"centers", "pseudo_labels", "decoder.weight", "decoder.bias"};
    for (size_t i = 0; i < 4; i++) {
        const gv_tensor *t = gv_find(g, state[i]);
        if (t) ck_assert_dh_ok(dh_loss_set_tensor(L, state[i], t->data, t->n));
    }
    const gv_tensor *th = gv_find(g, "thresholds");
    if (th) { /* SSDH's own threshold estimate agrees with the reference's */
        float mine[2];
        ck_assert_dh_ok(dh_loss_get_tensor(L, "thresholds", mine, 2));
        close_to("ssdh thresholds", mine, th->data, 2, 1e-4);
    }
    int64_t *idx = malloc(B * sizeof(int64_t));
    for (size_t i = 0; i < B; i++) idx[i] = (int64_t)i;
    float *d = malloc(B * K * sizeof(float));
    double v = 0;
    ck_assert_dh_ok(dh_loss_forward_backward(L, U->data, B, NULL, NULL, F ? idx : NULL, d, &v));
    ck_assert_msg(fabs(v - val->data[0]) <= 2e-5 * fmax(1.0, fabs(val->data[0])),
                  "%s: value %.8g, reference %.8g", m, v, (double)val->data[0]);
    close_to(m, d, dU->data, B * K, 2e-4);
    const gv_tensor *gw = gv_find(g, "grad.decoder.weight"), *gb = gv_find(g, "grad.decoder.bias");
    if (gw) {
        dh__param *p;
        ck_assert_uint_eq(dh__loss_params(L, &p), 2);
        close_to("sgh decoder.weight grad", p[0].grad, gw->data, gw->n, 2e-4);
        close_to("sgh decoder.bias grad", p[1].grad, gb->data, gb->n, 2e-4);
    }
    free(idx), free(d);
    dh_loss_free(L);
    gv_free(g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("loss_unsup_golden");
    TCase *t = tcase_create("golden");
    tcase_add_loop_test(t, test_unsup_golden, 0, (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(suite()); }
