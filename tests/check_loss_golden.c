/* tests/check_loss_golden.c -- loss values and gradients against the PyTorch
 * references of tests/golden/gen_loss_golden.py and tests/golden/gen_special_golden.py
 * (stored in tests/golden/loss/). Extra tensors without a ':' in their name are set
 * with dh_loss_set_tensor; the prefixed ones (opt:, init:, fixed:, indices, grad:,
 * update:) are described at the top of gen_special_golden.py. */
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
    if (n > r->n - r->off) return 0;
    memcpy(dst, r->p + r->off, n);
    r->off += n;
    return 1;
}

typedef struct extra {
    char name[33];
    uint32_t n;
    float *d;
} extra;

/* One stored case: "DHLG" u32 B K C n_extra, f32 U[B*K], f32 Y[B*C], f64 value,
 * f32 dU[B*K], n_extra x (char name[32], u32 count, f32 data[count]). */
typedef struct golden {
    const char *file;
    char method[32];
    size_t B, K, C;
    float *U, *Y, *dU;
    double value;
    uint32_t n_ex;
    extra *ex;
} golden;

static const extra *find_extra(const golden *g, const char *name)
{
    for (uint32_t i = 0; i < g->n_ex; i++)
        if (strcmp(g->ex[i].name, name) == 0) return &g->ex[i];
    return NULL;
}

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static void load(const char *dir, const char *file, golden *g)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    memset(g, 0, sizeof *g);
    g->file = file;
    size_t ml = strcspn(file, "_");
    ck_assert_uint_lt(ml, sizeof g->method);
    memcpy(g->method, file, ml);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long fl = ftell(f);
    ck_assert_int_gt(fl, 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)fl);
    ck_assert_ptr_nonnull(buf);
    rd r = {buf, fread(buf, 1, (size_t)fl, f), 0};
    fclose(f);
    ck_assert_uint_eq(r.n, (size_t)fl);
    uint32_t h[4];
    char magic[4];
    ck_assert(take(&r, magic, 4) && memcmp(magic, "DHLG", 4) == 0 && take(&r, h, sizeof h));
    g->B = h[0], g->K = h[1], g->C = h[2], g->n_ex = h[3];
    ck_assert(g->B >= 1 && g->B <= 4096 && g->K >= 1 && g->K <= 4096 && g->C >= 1 &&
              g->C <= 4096 && g->n_ex <= 64);
    g->U = malloc(g->B * g->K * 4), g->Y = malloc(g->B * g->C * 4);
    g->dU = malloc(g->B * g->K * 4);
    ck_assert(take(&r, g->U, g->B * g->K * 4) && take(&r, g->Y, g->B * g->C * 4) &&
              take(&r, &g->value, 8) && take(&r, g->dU, g->B * g->K * 4));
    g->ex = calloc(g->n_ex + 1, sizeof *g->ex);
    for (uint32_t e = 0; e < g->n_ex; e++) {
        extra *x = &g->ex[e];
        ck_assert(take(&r, x->name, 32) && take(&r, &x->n, 4));
        ck_assert_uint_le(x->n, (r.n - r.off) / 4);
        x->d = malloc(((size_t)x->n + 1) * 4);
        ck_assert(take(&r, x->d, (size_t)x->n * 4));
    }
    ck_assert_msg(r.off == r.n, "%s: %zu trailing bytes", file, r.n - r.off);
    free(buf);
}

static void unload(golden *g)
{
    for (uint32_t e = 0; e < g->n_ex; e++) free(g->ex[e].d);
    free(g->ex), free(g->U), free(g->Y), free(g->dU);
}

/* "opt:<field>" (one value) into the options. */
static void set_option(dh_loss_options *o, const char *file, const extra *e)
{
    ck_assert_msg(e->n == 1, "%s: %s has %u values", file, e->name, e->n);
    const char *f = e->name + 4;
    const double v = e->d[0];
    if (strcmp(f, "n_train") == 0) o->n_train = (uint64_t)v;
    else if (strcmp(f, "gamma") == 0) o->gamma = v;
    else if (strcmp(f, "quant_weight") == 0) o->quant_weight = v;
    else if (strcmp(f, "tau") == 0) o->tau = v;
    else if (strcmp(f, "center_weight") == 0) o->center_weight = v;
    else if (strcmp(f, "pair_weight") == 0) o->pair_weight = v;
    else if (strcmp(f, "cb_beta") == 0) o->cb_beta = v;
    else ck_abort_msg("%s: unknown option %s", file, e->name);
}

/* dh_loss_init's labels and class counts, then dihn's fixed rows. */
static void init_loss(dh_loss *L, const golden *g)
{
    const extra *tl = find_extra(g, "init:train_labels"), *cc = find_extra(g, "init:class_counts");
    if (tl || cc) {
        int64_t *counts = NULL;
        if (cc) {
            ck_assert_uint_eq(cc->n, g->C);
            counts = malloc(g->C * sizeof *counts);
            for (size_t c = 0; c < g->C; c++) counts[c] = (int64_t)cc->d[c];
        }
        if (tl) ck_assert_uint_eq(tl->n % g->C, 0);
        ck_assert_dh_ok(dh_loss_init(L, tl ? tl->d : NULL, tl ? tl->n / g->C : 0, counts));
        free(counts);
    }
    const extra *fc = find_extra(g, "fixed:codes"), *fy = find_extra(g, "fixed:labels");
    const extra *ff = find_extra(g, "fixed:flags");
    if (fc || fy || ff) {
        ck_assert_msg(fc && fy && fc->n % g->K == 0 && fy->n == fc->n / g->K * g->C,
                      "%s: fixed:codes / fixed:labels missing or mis-shaped", g->file);
        ck_assert_dh_ok(dh_loss_set_fixed_codes(L, fc->d, fy->d, fc->n / g->K,
                                                ff ? (uint32_t)ff->d[0] : 0u));
    }
}

static dh_loss *make_loss(const golden *g)
{
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = (uint32_t)g->K, o.n_classes = (uint32_t)g->C;
    o.n_train = strcmp(g->method, "dpsh") == 0 ? g->B : 0;
    for (uint32_t e = 0; e < g->n_ex; e++)
        if (has_prefix(g->ex[e].name, "opt:")) set_option(&o, g->file, &g->ex[e]);
    dh_loss *L = NULL;
    ck_assert_dh_ok(dh_loss_create(g->method, &o, &L));
    for (uint32_t e = 0; e < g->n_ex; e++) { /* parameters, centers, codes */
        const char *nm = g->ex[e].name;
        if (strchr(nm, ':') || strcmp(nm, "indices") == 0) {
            ck_assert_msg(has_prefix(nm, "opt:") || has_prefix(nm, "init:") ||
                              has_prefix(nm, "fixed:") || has_prefix(nm, "grad:") ||
                              has_prefix(nm, "update:") || strcmp(nm, "indices") == 0,
                          "%s: unknown extra %s", g->file, nm);
            continue;
        }
        ck_assert_dh_ok(dh_loss_set_tensor(L, nm, g->ex[e].d, g->ex[e].n));
    }
    init_loss(L, g);
    return L;
}

/* max |got - want| <= tol * max(max |want|, 1e-9) */
static void check_close(const char *file, const char *what, const float *got, const float *want,
                        size_t n, double tol)
{
    double mx = 1e-9, err = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(want[i]));
    for (size_t i = 0; i < n; i++) err = fmax(err, fabs((double)got[i] - want[i]));
    ck_assert_msg(err <= tol * mx, "%s: %s differs by %.3g (max |%s| %.3g)", file, what, err,
                  what, mx);
}

/* The loss's own parameters: every grad: entry names one; lthnet and dualproxy (and
 * any file carrying grad: entries) must pin all of them. */
static void check_param_grads(dh_loss *L, const golden *g)
{
    size_t pinned = 0, n_grad = 0, np = dh_loss_param_count(L);
    for (uint32_t e = 0; e < g->n_ex; e++) n_grad += has_prefix(g->ex[e].name, "grad:");
    for (size_t p = 0; p < np; p++) {
        const char *pn = dh_loss_param_name(L, p);
        char key[48];
        snprintf(key, sizeof key, "grad:%s", pn);
        const extra *x = find_extra(g, key);
        if (!x) continue;
        const dh__param *P = dh__loss_find(L, pn);
        ck_assert_uint_eq(x->n, P->n);
        check_close(g->file, key, P->grad, x->d, x->n, 1e-4);
        pinned++;
    }
    ck_assert_msg(pinned == n_grad, "%s: a grad: entry names no parameter of %s", g->file,
                  g->method);
    if (n_grad || strcmp(g->method, "lthnet") == 0 || strcmp(g->method, "dualproxy") == 0)
        ck_assert_msg(pinned == np, "%s: %zu of %zu parameter gradients pinned", g->file, pinned,
                      np);
}

/* dihn's discrete update of its learned rows from this batch: exact +-1 codes. */
static void check_update(dh_loss *L, const golden *g, const int64_t *idx)
{
    const extra *x = find_extra(g, "update:codes");
    if (!x) return;
    ck_assert_dh_ok(dh_loss_update_codes(L, g->U, idx, g->B));
    float *got = malloc(x->n * sizeof *got);
    ck_assert_dh_ok(dh_loss_get_tensor(L, "codes", got, x->n));
    size_t bad = 0;
    for (size_t i = 0; i < x->n; i++) bad += got[i] != x->d[i];
    ck_assert_msg(bad == 0, "%s: %zu of %u codes differ after dh_loss_update_codes", g->file,
                  bad, x->n);
    free(got);
}

static void run_case(const char *dir, const char *file)
{
    golden g;
    load(dir, file, &g);
    dh_loss *L = make_loss(&g);
    const size_t B = g.B, K = g.K;
    int64_t *idx = malloc(B * sizeof *idx);
    const extra *ix = find_extra(&g, "indices");
    if (ix) ck_assert_uint_eq(ix->n, B);
    for (size_t i = 0; i < B; i++) idx[i] = ix ? (int64_t)ix->d[i] : (int64_t)i;
    float *mine = malloc(B * K * 4);
    double v;
    ck_assert_dh_ok(dh_loss_forward_backward(L, g.U, B, g.Y, NULL, idx, mine, &v));
    ck_assert_msg(fabs(v - g.value) <= 1e-5 * fmax(1, fabs(g.value)),
                  "%s: value %.9g, torch %.9g", file, v, g.value);
    check_close(file, "dU", mine, g.dU, B * K, 1e-4);
    check_param_grads(L, &g);
    check_update(L, &g, idx);
    dh_loss_free(L);
    free(idx), free(mine);
    unload(&g);
}

START_TEST(test_loss_golden_matches_pytorch)
{
    static const char *const special[] = {"dihn", "dih", "lthnet", "dualproxy"};
    int per[4] = {0};
    const char *dir = DH_SOURCE_DIR "/tests/golden/loss";
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".bin") != 0) continue;
        run_case(dir, e->d_name);
        for (int s = 0; s < 4; s++) {
            size_t sl = strlen(special[s]);
            per[s] += strncmp(e->d_name, special[s], sl) == 0 && e->d_name[sl] == '_';
        }
        n++;
    }
    closedir(d);
    /* 23 from gen_loss_golden.py, 9 from gen_special_golden.py */
    ck_assert_int_ge(n, 32);
    ck_assert_msg(per[0] >= 3 && per[1] >= 2 && per[2] >= 2 && per[3] >= 2,
                  "special-setting cases missing: dihn %d, dih %d, lthnet %d, dualproxy %d",
                  per[0], per[1], per[2], per[3]);
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
