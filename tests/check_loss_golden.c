/* tests/check_loss_golden.c -- loss values and gradients against the PyTorch
 * references of tests/golden/gen_loss_golden.py (stored in tests/golden/loss/). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loss/loss.h"
#include "testutil.h"

typedef struct rd {
    const uint8_t *p;
    size_t n, off;
} rd;

static int take(rd *r, void *dst, size_t n)
{
    if (r->off + n > r->n) return 0;
    memcpy(dst, r->p + r->off, n);
    r->off += n;
    return 1;
}

static void run_case(const char *dir, const char *file)
{
    char path[512], method[32];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t ml = strcspn(file, "_");
    ck_assert_uint_lt(ml, sizeof method);
    memcpy(method, file, ml);
    method[ml] = 0;
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static uint8_t buf[1 << 16];
    rd r = {buf, fread(buf, 1, sizeof buf, f), 0};
    fclose(f);
    uint32_t h[4];
    char magic[4];
    ck_assert(take(&r, magic, 4) && memcmp(magic, "DHLG", 4) == 0 && take(&r, h, sizeof h));
    const size_t B = h[0], K = h[1], C = h[2];
    float *U = malloc(B * K * 4), *Y = malloc(B * C * 4), *dU = malloc(B * K * 4),
          *mine = malloc(B * K * 4);
    double want;
    ck_assert(take(&r, U, B * K * 4) && take(&r, Y, B * C * 4) && take(&r, &want, 8) &&
              take(&r, dU, B * K * 4));
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = (uint32_t)K, o.n_classes = (uint32_t)C;
    o.n_train = strcmp(method, "dpsh") == 0 ? B : 0;
    dh_loss *L = NULL;
    ck_assert_dh_ok(dh_loss_create(method, &o, &L));
    for (uint32_t e = 0; e < h[3]; e++) {
        char name[33] = {0};
        uint32_t n;
        ck_assert(take(&r, name, 32) && take(&r, &n, 4));
        float *t = malloc(n * 4);
        ck_assert(take(&r, t, n * 4));
        ck_assert_dh_ok(dh_loss_set_tensor(L, name, t, n));
        free(t);
    }
    int64_t idx[64];
    for (size_t i = 0; i < B; i++) idx[i] = (int64_t)i;
    double v;
    ck_assert_dh_ok(dh_loss_forward_backward(L, U, B, Y, NULL, idx, mine, &v));
    ck_assert_msg(fabs(v - want) <= 1e-5 * fmax(1, fabs(want)), "%s: value %.9g, torch %.9g",
                  file, v, want);
    double mx = 1e-9, err = 0;
    for (size_t i = 0; i < B * K; i++) mx = fmax(mx, fabs(dU[i]));
    for (size_t i = 0; i < B * K; i++) err = fmax(err, fabs((double)mine[i] - dU[i]));
    ck_assert_msg(err <= 1e-4 * mx, "%s: dU differs by %.3g (max |dU| %.3g)", file, err, mx);
    dh_loss_free(L);
    free(U), free(Y), free(dU), free(mine);
}

START_TEST(test_loss_golden_matches_pytorch)
{
    const char *dir = DH_SOURCE_DIR "/tests/golden/loss";
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".bin") != 0) continue;
        run_case(dir, e->d_name);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 20);
}
END_TEST

static Suite *loss_golden_suite(void)
{
    Suite *s = suite_create("loss_golden");
    TCase *t = tcase_create("Golden");
    tcase_add_test(t, test_loss_golden_matches_pytorch);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(loss_golden_suite()); }
