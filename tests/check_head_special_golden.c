/* tests/check_head_special_golden.c -- the special-setting modules against PyTorch golden
 * vectors in tests/golden/special/ (made by tests/golden/gen_special_nn_golden.py; torch is
 * needed only to regenerate them, and the script's docstring gives the format):
 *  - attn_*: SEMICON-lite feature-map pool (DH_FMAP_POOL_ATTN, lib/hash/head_attn.c);
 *  - part_*: ExchNet-style part pool with its diversity loss (DH_FMAP_POOL_PART,
 *    lib/hash/head_attn.c + head_part.c);
 *  - meta_*: LTHNet meta-embedding (lib/hash/head_meta.c) and its memory refresh.
 * Each case sets the stored weights through the internal module API (by libdh's parameter
 * names), runs a training forward, a backward with the stored upstream gradient and an
 * inference forward, and compares them with the float64 reference.
 *
 * Tolerances: the reference is float64 computed from the same float32-rounded inputs, so
 * these bound libdh's float32 error. For each tensor, the largest absolute error must stay
 * within tol x the tensor's largest magnitude:
 *  - forward outputs, attention maps, masks, memory: 1e-5 (measured worst: 2.2e-7);
 *  - gradients: 5e-5 (measured worst: 4.3e-7). fmap.bias's gradient is zero by design
 *    (the bias shifts all logits of a softmax alike), so it is held to 5e-5 x 1e-2 x the
 *    case's largest dinput magnitude (measured: at most 3.7e-6 of that floor);
 *  - the PART aux loss: 1e-5 relative.
 * DH_GOLDEN_VERBOSE=1 prints every error.
 * The test scans the folder and requires at least 3 attn, 2 part and 2 meta cases, so a
 * missing file fails. */
#include "golden_dhgv.h"

#include "hash/hash.h"
#include "model/fmap_pool.h"
#include "model/meta_embed.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL_OUT 1e-5
#define TOL_GRAD 5e-5
#define TOL_AUX 1e-5

static gv_file *gv_load(const char *file)
{
    char path[768];
    snprintf(path, sizeof path, "%s/tests/golden/special/%s", DH_SOURCE_DIR, file);
    return gv_load_path(path);
}

/* Largest absolute error within tol x max(the tensor's largest magnitude, floor). */
static void near(const float *got, const gv_tensor *want, double tol, double floor,
                 const char *file)
{
    double scale = fmax(floor, 1e-6), err = 0;
    size_t at = 0;
    for (size_t i = 0; i < want->n; i++) scale = fmax(scale, fabs(want->data[i]));
    for (size_t i = 0; i < want->n; i++) {
        double e = fabs((double)got[i] - want->data[i]);
        if (!(e <= err)) { err = e; at = i; }
    }
    if (getenv("DH_GOLDEN_VERBOSE"))
        printf("%-18s %-32s max error %.3g of scale %.3g (%.3g)\n", file, want->name, err, scale,
               err / scale);
    ck_assert_msg(err <= tol * scale, "%s %s: max error %.3g at %zu (got %.7g, torch %.7g; "
                  "allowed %.3g)", file, want->name, err, at, (double)got[at],
                  (double)want->data[at], tol * scale);
}

/* Gradients that are zero by design (fmap.bias: a constant shift of a softmax's logits)
 * are held to 1e-2 x the largest magnitude of the case's dinput instead. */
static double grad_floor(const gv_file *g)
{
    const gv_tensor *t = gv_get(g, "dinput");
    double m = 0;
    for (size_t i = 0; i < t->n; i++) m = fmax(m, fabs(t->data[i]));
    return 1e-2 * m;
}

/* Copy every "param:<name>" of the file into the module's tensor of that name; every
 * module tensor must be in the file and the shapes must agree. */
static void set_params(const gv_file *g, dh__param *ps, size_t np, const char *file)
{
    size_t stored = 0;
    for (int i = 0; i < g->count; i++) stored += strncmp(g->t[i].name, "param:", 6) == 0;
    ck_assert_msg(stored == np, "%s: %zu stored parameters, the module has %zu", file, stored,
                  np);
    for (size_t i = 0; i < np; i++) {
        char key[128];
        snprintf(key, sizeof key, "param:%s", ps[i].name);
        const gv_tensor *t = gv_get(g, key);
        ck_assert_int_eq(t->ndim, ps[i].ndim);
        for (int k = 0; k < t->ndim; k++) ck_assert_int_eq(t->dims[k], ps[i].shape[k]);
        memcpy(ps[i].data, t->data, ps[i].n * sizeof(float));
    }
}

static void check_grads(const gv_file *g, dh__param *ps, size_t np, const char *file)
{
    const double floor = grad_floor(g);
    size_t want = 0, seen = 0;
    for (int i = 0; i < g->count; i++) want += strncmp(g->t[i].name, "grad:", 5) == 0;
    for (size_t i = 0; i < np; i++) {
        char key[128];
        snprintf(key, sizeof key, "grad:%s", ps[i].name);
        const gv_tensor *t = gv_find(g, key);
        if (ps[i].is_buffer || !ps[i].grad) {
            ck_assert_msg(t == NULL, "%s: buffer %s has a stored gradient", file, ps[i].name);
            continue;
        }
        ck_assert_msg(t != NULL, "%s: no stored gradient for %s", file, ps[i].name);
        ck_assert_uint_eq(t->n, ps[i].n);
        near(ps[i].grad, t, TOL_GRAD, floor, file);
        seen++;
    }
    ck_assert_uint_eq(seen, want);
}

/* ---- cases ---- */

static void pool_case(const char *file, int32_t type)
{
    gv_file *g = gv_load(file);
    const gv_tensor *x = gv_get(g, "input"), *y = gv_get(g, "output");
    const gv_tensor *w = gv_get(g, "param:fmap.weight"), *maps = gv_get(g, "maps");
    ck_assert_int_eq(x->ndim, 4);
    ck_assert_int_eq(w->ndim, 2);
    const size_t n = (size_t)x->dims[0], C = (size_t)x->dims[1], h = (size_t)x->dims[2],
                 wd = (size_t)x->dims[3], T = (size_t)w->dims[0], P = h * wd;
    const float aux_w = gv_get(g, "aux_weight")->data[0];
    dh__fmap_pool *p;
    ck_assert_dh_ok(dh__fmap_pool_create(type, C, h, wd, (uint32_t)T, aux_w, 1, &p));
    ck_assert_uint_eq(p->T, T);
    ck_assert_uint_eq(p->Dz, C * (T + 1));
    ck_assert_int_eq(y->ndim, 2);
    ck_assert_uint_eq((size_t)y->dims[0], n);
    ck_assert_uint_eq((size_t)y->dims[1], p->Dz);
    dh__param *ps;
    size_t np = dh__fmap_pool_params(p, &ps);
    set_params(g, ps, np, file);

    float *Z = malloc(y->n * sizeof(float)), *dF = malloc(x->n * sizeof(float));
    ck_assert_dh_ok(dh__fmap_pool_forward(p, x->data, n, 1, Z));
    near(Z, y, TOL_OUT, 0, file);
    ck_assert_uint_eq(maps->n, n * T * P);
    near(p->att, maps, TOL_OUT, 0, file);
    if (type == DH_FMAP_POOL_ATTN) {
        near(p->mask, gv_get(g, "masks"), TOL_OUT, 0, file);
    } else {
        double want = gv_get(g, "aux")->data[0], got = dh__fmap_pool_aux_loss(p);
        if (getenv("DH_GOLDEN_VERBOSE"))
            printf("%-18s %-32s %.9g, torch %.9g\n", file, "aux", got, want);
        ck_assert_msg(fabs(got - want) <= TOL_AUX * fmax(fabs(want), 1e-6),
                      "%s aux: %.9g, torch %.9g", file, got, want);
    }
    dh__fmap_pool_zero_grad(p);
    ck_assert_dh_ok(dh__fmap_pool_backward(p, gv_get(g, "dout")->data, dF));
    near(dF, gv_get(g, "dinput"), TOL_GRAD, 0, file);
    check_grads(g, ps, np, file);
    /* inference computes the same codes */
    ck_assert_dh_ok(dh__fmap_pool_forward(p, x->data, n, 0, Z));
    near(Z, y, TOL_OUT, 0, file);
    free(Z);
    free(dF);
    dh__fmap_pool_free(p);
    gv_free(g);
}

static void meta_case(const char *file)
{
    gv_file *g = gv_load(file);
    const gv_tensor *x = gv_get(g, "input"), *y = gv_get(g, "output");
    const gv_tensor *mem = gv_get(g, "param:meta.memory");
    ck_assert_int_eq(x->ndim, 2);
    ck_assert_int_eq(mem->ndim, 2);
    const size_t n = (size_t)x->dims[0], D = (size_t)x->dims[1], C = (size_t)mem->dims[0];
    ck_assert_uint_eq(y->n, n * D);
    dh__meta *t;
    ck_assert_dh_ok(dh__meta_create((uint32_t)C, (uint32_t)D, 1, &t));
    dh__param *ps;
    size_t np = dh__meta_params(t, &ps);
    set_params(g, ps, np, file);

    const float *v, *df;
    ck_assert_dh_ok(dh__meta_forward(t, x->data, n, 1, &v));
    near(v, y, TOL_OUT, 0, file);
    dh__meta_zero_grad(t);
    ck_assert_dh_ok(dh__meta_backward(t, gv_get(g, "dout")->data, &df));
    near(df, gv_get(g, "dinput"), TOL_GRAD, 0, file);
    check_grads(g, ps, np, file);
    ck_assert_dh_ok(dh__meta_forward(t, x->data, n, 0, &v));
    near(v, y, TOL_OUT, 0, file);

    /* memory refresh: classes seen get their mean, unseen ones keep their row */
    const gv_tensor *mf = gv_get(g, "mem_f"), *my = gv_get(g, "mem_y");
    const size_t r = (size_t)mf->dims[0];
    ck_assert_uint_eq(my->n, r * C);
    size_t seen_classes = 0;
    for (size_t c = 0; c < C; c++) {
        int any = 0;
        for (size_t i = 0; i < r; i++) any |= my->data[i * C + c] > 0;
        seen_classes += (size_t)any;
    }
    ck_assert_msg(seen_classes < C, "%s: the refresh case should leave a class unseen", file);
    dh__meta_memory_begin(t, NULL, 0);
    dh__meta_memory_accumulate(t, mf->data, r, my->data);
    ck_assert_uint_eq(dh__meta_memory_commit(t, NULL), seen_classes);
    near(ps[4].data, gv_get(g, "mem_after"), TOL_OUT, 0, file);
    dh__meta_free(t);
    gv_free(g);
}

/* Run every tests/golden/special/<prefix>*.bin; returns how many. */
static int run_all(const char *prefix, void (*run)(const char *, int32_t), int32_t arg)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tests/golden/special", DH_SOURCE_DIR);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    char names[64][256];
    int count = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 5 || len >= 256 || strcmp(e->d_name + len - 4, ".bin") != 0) continue;
        ck_assert_msg(!strncmp(e->d_name, "attn_", 5) || !strncmp(e->d_name, "part_", 5) ||
                          !strncmp(e->d_name, "meta_", 5),
                      "%s/%s: unknown case kind", dir, e->d_name);
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        ck_assert_int_lt(count, 64);
        memcpy(names[count++], e->d_name, len + 1);
    }
    closedir(d);
    for (int i = 0; i < count; i++) run(names[i], arg);
    return count;
}

static void run_meta(const char *file, int32_t unused)
{
    (void)unused;
    meta_case(file);
}

START_TEST(test_head_special_golden_attn)
{
    int n = run_all("attn_", pool_case, DH_FMAP_POOL_ATTN);
    ck_assert_msg(n >= 3, "found %d attn cases, want at least 3", n);
}
END_TEST

START_TEST(test_head_special_golden_part)
{
    int n = run_all("part_", pool_case, DH_FMAP_POOL_PART);
    ck_assert_msg(n >= 2, "found %d part cases, want at least 2", n);
}
END_TEST

START_TEST(test_head_special_golden_meta)
{
    int n = run_all("meta_", run_meta, 0);
    ck_assert_msg(n >= 2, "found %d meta cases, want at least 2", n);
}
END_TEST

static Suite *special_golden_suite(void)
{
    Suite *s = suite_create("head_special_golden");
    TCase *tc = tcase_create("Torch");
    tcase_add_test(tc, test_head_special_golden_attn);
    tcase_add_test(tc, test_head_special_golden_part);
    tcase_add_test(tc, test_head_special_golden_meta);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dh_test_run(special_golden_suite()); }
