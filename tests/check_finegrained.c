/* tests/check_finegrained.c -- feature-map pools (GAP, SEMICON-lite attention, parts):
 * finite-difference gradients, model integration (options, save/load, encode,
 * training step), and bad inputs. The CUB / Aircraft list readers are in
 * check_finegrained_lists.c. */
#include "testutil.h"

#include "model/fmap_pool.h"
#include "model/model.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill_normal(float *x, size_t n, uint64_t seed, float scale)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        double u = ((double)(dh_test_rand(&s) >> 11) + 0.5) / 9007199254740992.0;
        double v = ((double)(dh_test_rand(&s) >> 11) + 0.5) / 9007199254740992.0;
        x[i] = (float)(scale * sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
    }
}

/* L = sum r . Z + aux, evaluated by a fresh training forward (masks frozen). */
static double objective(dh__fmap_pool *p, const float *F, size_t n, const float *r, float *Z)
{
    ck_assert_dh_ok(dh__fmap_pool_forward(p, F, n, 1, Z));
    double L = 0;
    for (size_t i = 0; i < n * p->Dz; i++) L += (double)r[i] * Z[i];
    p->pending = 0;
    return L + dh__fmap_pool_aux_loss(p);
}

static void gradcheck(int32_t type, uint32_t parts, float aux)
{
    const size_t n = 3, C = 5, h = 3, w = 4, P = h * w;
    dh__fmap_pool *p;
    ck_assert_dh_ok(dh__fmap_pool_create(type, C, h, w, parts, aux, 7, &p));
    float F[3 * 5 * 12], dF[3 * 5 * 12], Z[3 * 5 * 17], r[3 * 5 * 17];
    fill_normal(F, n * C * P, 11, 1.0f);
    fill_normal(r, n * p->Dz, 12, 1.0f);
    for (size_t i = 0; i < p->T * C; i++) p->w[i] *= 4; /* sharper maps, larger gradients */
    for (size_t k = 0; k < p->T; k++) p->b[k] = 0.1f * (float)k;
    ck_assert_dh_ok(dh__fmap_pool_forward(p, F, n, 1, Z));
    dh__fmap_pool_zero_grad(p);
    ck_assert_dh_ok(dh__fmap_pool_backward(p, r, dF));
    ck_assert_dh_fail(dh__fmap_pool_backward(p, r, dF), DH_E_STATE);
    p->freeze_mask = 1; /* the masks carry no gradient by definition */
    const double eps = 1e-2;
    double worst = 0;
    for (size_t i = 0; i < n * C * P; i++) {
        float keep = F[i];
        F[i] = keep + (float)eps;
        double lp = objective(p, F, n, r, Z);
        F[i] = keep - (float)eps;
        double lm = objective(p, F, n, r, Z);
        F[i] = keep;
        double num = (lp - lm) / (2 * eps), err = fabs(num - dF[i]) / (1 + fabs(num));
        worst = err > worst ? err : worst;
    }
    ck_assert_msg(worst < 2e-3, "dF: worst relative error %g (type %d)", worst, (int)type);
    float *gw = p->T ? malloc(p->T * (C + 1) * sizeof(float)) : NULL;
    if (p->T) {
        memcpy(gw, p->gw, p->T * C * sizeof(float));
        memcpy(gw + p->T * C, p->gb, p->T * sizeof(float));
    }
    worst = 0;
    for (size_t i = 0; i < p->T * (C + 1); i++) {
        float *x = i < p->T * C ? &p->w[i] : &p->b[i - p->T * C], keep = *x;
        *x = keep + (float)eps;
        double lp = objective(p, F, n, r, Z);
        *x = keep - (float)eps;
        double lm = objective(p, F, n, r, Z);
        *x = keep;
        double num = (lp - lm) / (2 * eps), err = fabs(num - gw[i]) / (1 + fabs(num));
        worst = err > worst ? err : worst;
    }
    ck_assert_msg(worst < 2e-3, "dW/db: worst relative error %g (type %d)", worst, (int)type);
    free(gw);
    dh__fmap_pool_free(p);
}

START_TEST(test_finegrained_pool_gap_gradient) { gradcheck(DH_FMAP_POOL_GAP, 0, 0); }
END_TEST

START_TEST(test_finegrained_pool_attn_gradient) { gradcheck(DH_FMAP_POOL_ATTN, 3, 0); }
END_TEST

START_TEST(test_finegrained_pool_part_gradient) { gradcheck(DH_FMAP_POOL_PART, 4, 0); }
END_TEST

START_TEST(test_finegrained_pool_part_diversity_gradient) { gradcheck(DH_FMAP_POOL_PART, 3, 2.5f); }
END_TEST

/* Hand-checkable values: GAP is the mean; a flat attention (w = 0) pools the mean
 * too; diversity of two maps on disjoint positions is 0, of equal maps 1. */
START_TEST(test_finegrained_pool_values)
{
    dh__fmap_pool *p;
    ck_assert_dh_ok(dh__fmap_pool_create(DH_FMAP_POOL_ATTN, 2, 1, 2, 2, 1, 1, &p));
    ck_assert_uint_eq(p->Dz, 6);
    memset(p->w, 0, 4 * sizeof(float));
    const float F[4] = {1, 3, -2, 6};
    float Z[6];
    ck_assert_dh_ok(dh__fmap_pool_forward(p, F, 1, 0, Z));
    const float want[6] = {2, 2, 2, 2, 2, 2};
    for (int i = 0; i < 6; i++) ck_assert_float_eq_tol(Z[i], want[i], 1e-6);
    dh__fmap_pool_free(p);

    const float disjoint[4] = {1, 0, 0, 1}, same[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    ck_assert_double_eq_tol(dh__fmap_part_diversity(disjoint, 2, 2, 1, NULL), 0, 1e-12);
    ck_assert_double_eq_tol(dh__fmap_part_diversity(same, 2, 2, 3, NULL), 3, 1e-12);
    ck_assert_double_eq_tol(dh__fmap_part_diversity(same, 1, 4, 3, NULL), 0, 1e-12);
}
END_TEST

/* SEMICON suppression: a sharp first map pushes the second away from its peak. */
START_TEST(test_finegrained_pool_attn_suppresses)
{
    const size_t C = 1, P = 16;
    dh__fmap_pool *p;
    ck_assert_dh_ok(dh__fmap_pool_create(DH_FMAP_POOL_ATTN, C, 4, 4, 2, 0, 1, &p));
    p->w[0] = p->w[1] = 1.0f;
    float F[16], Z[3];
    for (size_t j = 0; j < P; j++) F[j] = j == 5 ? 8.0f : j == 9 ? 6.0f : 0.0f;
    ck_assert_dh_ok(dh__fmap_pool_forward(p, F, 1, 1, Z));
    const float *a = p->att, *a2 = p->att + P;
    ck_assert_float_gt(a[5], 0.8f);
    ck_assert_float_lt(a2[5], a[5] * 0.5f); /* peak suppressed for the second map */
    ck_assert_float_gt(a2[9], a[9]);
    ck_assert_float_lt(p->mask[5], 2.0f + 1e-6f);
    ck_assert_float_gt(p->mask[5], 1.5f);
    size_t rows, maps;
    ck_assert_ptr_eq(dh__fmap_pool_maps(p, &rows, &maps), p->att);
    ck_assert_uint_eq(rows, 1);
    ck_assert_uint_eq(maps, 2);
    dh__fmap_pool_free(p);
}
END_TEST

START_TEST(test_finegrained_pool_bad_args)
{
    dh__fmap_pool *p = (dh__fmap_pool *)1;
    ck_assert_dh_fail(dh__fmap_pool_create(0, 4, 2, 2, 0, 1, 1, &p), DH_E_INVALID_ARG);
    ck_assert_ptr_null(p);
    ck_assert_dh_fail(dh__fmap_pool_create(4, 4, 2, 2, 0, 1, 1, &p), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh__fmap_pool_create(DH_FMAP_POOL_ATTN, 0, 2, 2, 0, 1, 1, &p),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh__fmap_pool_create(DH_FMAP_POOL_ATTN, 4, 2, 2, 17, 1, 1, &p),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh__fmap_pool_create(DH_FMAP_POOL_PART, 4, 2, 2, 2, NAN, 1, &p),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh__fmap_pool_create(DH_FMAP_POOL_PART, 4, 2, 2, 2, -1, 1, &p),
                      DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh__fmap_pool_create(DH_FMAP_POOL_PART, 4, 2, 2, 0, 1, 1, &p));
    ck_assert_uint_eq(p->T, 4);
    float F[16] = {0}, Z[20], dF[16];
    ck_assert_dh_fail(dh__fmap_pool_backward(p, Z, dF), DH_E_STATE);
    ck_assert_dh_fail(dh__fmap_pool_forward(p, NULL, 1, 1, Z), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh__fmap_pool_forward(p, F, 0, 1, Z), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh__fmap_pool_forward(p, F, 1, 1, NULL), DH_E_INVALID_ARG);
    dh__fmap_pool_free(p);
    dh__fmap_pool_free(NULL);
}
END_TEST

/* ---- models ---- */

static dh_model *make_model(int32_t pool, uint32_t parts)
{
    dh_model_options o;
    dh_model_options_init(&o);
    o.encoder = "smallcnn";
    o.n_bits = 16;
    o.fmap_pool = pool;
    o.fmap_parts = parts;
    o.seed = 3;
    dh_model *m = NULL;
    ck_assert_dh_ok(dh_model_create(&o, &m));
    return m;
}

START_TEST(test_finegrained_model_options)
{
    dh_model_options o;
    dh_model_options_init(&o);
    ck_assert_int_eq(o.fmap_pool, DH_FMAP_POOL_NONE);
    ck_assert_uint_eq(o.fmap_parts, 0);
    ck_assert_float_eq(o.fmap_aux_weight, 1.0f);
    ck_assert_int_eq(o.fmap_global, DH_FMAP_GLOBAL_POOL);
    ck_assert_uint_eq(sizeof o % 8, 0);
    ck_assert_uint_eq(offsetof(dh_model_options, fmap_global),
                      offsetof(dh_model_options, fmap_reserved) + 4);
    ck_assert_uint_eq(offsetof(dh_model_options, fmap_reserved2) + 4, sizeof o);
    dh_model *m = (dh_model *)1;
    o.fmap_pool = 9;
    ck_assert_dh_fail(dh_model_create(&o, &m), DH_E_INVALID_ARG);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "fmap_pool"));
    o.fmap_pool = DH_FMAP_POOL_ATTN;
    o.fmap_parts = 17;
    ck_assert_dh_fail(dh_model_create(&o, &m), DH_E_INVALID_ARG);
    o.fmap_parts = 0;
    o.fmap_aux_weight = NAN;
    ck_assert_dh_fail(dh_model_create(&o, &m), DH_E_INVALID_ARG);
    o.fmap_aux_weight = 1;
    o.fmap_reserved = 1;
    ck_assert_dh_fail(dh_model_create(&o, &m), DH_E_INVALID_ARG);
    o.fmap_reserved = 0;
    /* fmap_global: a DH_FMAP_GLOBAL_* value, ENCODER only with ATTN or PART */
    o.fmap_global = 2;
    ck_assert_dh_fail(dh_model_create(&o, &m), DH_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "fmap_global"));
    o.fmap_global = DH_FMAP_GLOBAL_ENCODER;
    o.fmap_pool = DH_FMAP_POOL_GAP;
    ck_assert_dh_fail(dh_model_create(&o, &m), DH_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "ATTN or PART"));
    o.fmap_pool = DH_FMAP_POOL_NONE;
    ck_assert_dh_fail(dh_model_create(&o, &m), DH_E_INVALID_ARG);
    o.fmap_pool = DH_FMAP_POOL_ATTN;
    o.fmap_reserved2 = 1;
    ck_assert_dh_fail(dh_model_create(&o, &m), DH_E_INVALID_ARG);
    o.fmap_reserved2 = 0;
    ck_assert_dh_ok(dh_model_create(&o, &m));
    ck_assert_uint_eq(m->D, 512 + 64 * 3);
    ck_assert_uint_eq(dh_head_in_dim(dh_model_head(m)), 512 + 64 * 3);
    dh_model_free(m);
    /* a caller compiled before fmap_global (1.0): the pool's own g */
    o.struct_size = offsetof(dh_model_options, fmap_global);
    ck_assert_dh_ok(dh_model_create(&o, &m));
    ck_assert_int_eq(dh_model_get_options(m)->fmap_global, DH_FMAP_GLOBAL_POOL);
    ck_assert_uint_eq(m->D, 64 * 4);
    dh_model_free(m);
    o.struct_size = sizeof o;
    o.fmap_global = DH_FMAP_GLOBAL_POOL;
    o.encoder = "mlp:8-4";
    ck_assert_dh_fail(dh_model_create(&o, &m), DH_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "feature map"));
    /* a caller compiled before the fmap fields: no pool */
    o.encoder = "smallcnn";
    o.struct_size = offsetof(dh_model_options, fmap_pool);
    ck_assert_dh_ok(dh_model_create(&o, &m));
    ck_assert_ptr_null(m->pool);
    ck_assert_uint_eq(m->D, 512);
    dh_model_free(m);
    /* a newer caller: zero tail accepted, nonzero refused */
    struct {
        dh_model_options o;
        uint64_t more;
    } big;
    memset(&big, 0, sizeof big);
    dh_model_options_init(&big.o);
    big.o.struct_size = sizeof big;
    big.o.fmap_pool = DH_FMAP_POOL_PART;
    ck_assert_dh_ok(dh_model_create(&big.o, &m));
    ck_assert_uint_eq(m->pool->T, 4);
    ck_assert_uint_eq(m->D, 64 * 5);
    ck_assert_uint_eq(dh_model_get_options(m)->fmap_parts, 4);
    dh_model_free(m);
    big.more = 1;
    ck_assert_dh_fail(dh_model_create(&big.o, &m), DH_E_VERSION);
}
END_TEST

static void rand_images(float *x, size_t n, uint64_t seed) { fill_normal(x, n * 784, seed, 1); }

START_TEST(test_finegrained_model_train_step)
{
    const int32_t pools[3] = {DH_FMAP_POOL_GAP, DH_FMAP_POOL_ATTN, DH_FMAP_POOL_PART};
    for (int t = 0; t < 3; t++) {
        dh_model *m = make_model(pools[t], 2);
        size_t n = 6;
        float *x = malloc(n * 784 * sizeof(float)), U[6 * 16], dU[6 * 16];
        rand_images(x, n, 5);
        dh__model_zero_grad(m);
        ck_assert_dh_ok(dh__model_forward_train(m, x, n, U));
        for (size_t i = 0; i < n * 16; i++) dU[i] = U[i] - (i % 3 ? 1.0f : -1.0f);
        ck_assert_dh_ok(dh__model_backward(m, dU));
        dh__model_param *ps;
        size_t np = dh__model_params(m, &ps);
        double g_conv = 0, g_pool = 0;
        int have_pool = 0;
        for (size_t i = 0; i < np; i++) {
            double s = 0;
            for (size_t j = 0; ps[i].p.grad && j < ps[i].p.n; j++) s += fabs(ps[i].p.grad[j]);
            if (!strcmp(ps[i].p.name, "conv1.weight")) g_conv = s;
            if (!strcmp(ps[i].p.name, "fmap.weight")) g_pool = s, have_pool = 1;
            if (!strcmp(ps[i].p.name, "fmap.weight"))
                ck_assert_int_eq(ps[i].group, DH_PARAM_GROUP_HEAD);
        }
        ck_assert_msg(g_conv > 0, "no gradient reached the encoder (pool %d)", pools[t]);
        ck_assert_int_eq(have_pool, pools[t] != DH_FMAP_POOL_GAP);
        if (have_pool) ck_assert_msg(g_pool > 0, "no gradient for the pool");
        /* the head reads the pooled vector */
        ck_assert_uint_eq(dh_head_in_dim(dh_model_head(m)), 64 * (pools[t] == DH_FMAP_POOL_GAP ? 1 : 3));
        free(x);
        dh_model_free(m);
    }
}
END_TEST

/* Codes of an image do not depend on the rest of the batch (per-image masks). */
START_TEST(test_finegrained_model_encode_batch_independent)
{
    dh_model *m = make_model(DH_FMAP_POOL_ATTN, 3);
    float *x = malloc(5 * 784 * sizeof(float)), u5[5 * 16], u1[16];
    rand_images(x, 5, 9);
    ck_assert_dh_ok(dh_model_encode_float(m, x, 5, 784, NULL, u5));
    ck_assert_dh_ok(dh_model_encode_float(m, x + 3 * 784, 1, 784, NULL, u1));
    for (int j = 0; j < 16; j++) ck_assert_float_eq_tol(u1[j], u5[3 * 16 + j], 1e-5);
    free(x);
    dh_model_free(m);
}
END_TEST

static void model_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dh_test_tmpdir(), name);
}

START_TEST(test_finegrained_model_save_load)
{
    dh_model *m = make_model(DH_FMAP_POOL_PART, 3);
    dh__model_param *ps;
    size_t np = dh__model_params(m, &ps);
    for (size_t i = 0; i < np; i++)
        if (!strcmp(ps[i].p.name, "fmap.bias"))
            for (size_t j = 0; j < ps[i].p.n; j++) ps[i].p.data[j] = 0.25f * (float)j;
    char path[512];
    model_path(path, sizeof path, "fg_part.safetensors");
    ck_assert_dh_ok(dh_model_save(m, path));
    dh_model *m2;
    ck_assert_dh_ok(dh_model_load(path, &m2));
    ck_assert_int_eq(dh_model_get_options(m2)->fmap_pool, DH_FMAP_POOL_PART);
    ck_assert_uint_eq(dh_model_get_options(m2)->fmap_parts, 3);
    float *x = malloc(4 * 784 * sizeof(float)), ua[64], ub[64];
    rand_images(x, 4, 21);
    ck_assert_dh_ok(dh_model_encode_float(m, x, 4, 784, NULL, ua));
    ck_assert_dh_ok(dh_model_encode_float(m2, x, 4, 784, NULL, ub));
    for (int i = 0; i < 64; i++) ck_assert_float_eq(ua[i], ub[i]);
    /* reserved keys */
    ck_assert_dh_fail(dh_model_set_metadata(m, "fmap_pool", "gap"), DH_E_INVALID_ARG);
    dh_model_free(m2);
    dh_model_free(m);
    free(x);

    /* corrupt the pool name (same length) and the part count */
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char *buf = malloc(1 << 24), *copy = malloc(1 << 24);
    size_t len = fread(buf, 1, 1 << 24, f);
    ck_assert_uint_lt(len, 1 << 24);
    fclose(f);
    const char *bad[][2] = {{"\"fmap_pool\":\"part\"", "\"fmap_pool\":\"pork\""},
                            {"\"fmap_parts\":\"3\"", "\"fmap_parts\":\"x\""},
                            {"\"fmap_parts\":\"3\"", "\"fmap_parts\":\"4\""}};
    for (int b = 0; b < 3; b++) {
        memcpy(copy, buf, len);
        char *hit = NULL;
        for (size_t i = 0; i + strlen(bad[b][0]) <= len && !hit; i++)
            if (!memcmp(copy + i, bad[b][0], strlen(bad[b][0]))) hit = copy + i;
        ck_assert_msg(hit != NULL, "metadata '%s' not found in the file", bad[b][0]);
        memcpy(hit, bad[b][1], strlen(bad[b][1]));
        char p2[512];
        model_path(p2, sizeof p2, "fg_bad.safetensors");
        f = fopen(p2, "wb");
        fwrite(copy, 1, len, f);
        fclose(f);
        ck_assert_dh_fail(dh_model_load(p2, &m2), b < 2 ? DH_E_FORMAT : DH_E_SHAPE);
        ck_assert_ptr_null(m2);
    }
    free(buf);
    free(copy);
}
END_TEST

/* ---- DH_FMAP_GLOBAL_ENCODER: Z = [f_enc; l_1..l_T] ---- */

static dh_model *make_model_g(int32_t pool, uint32_t parts, int32_t global, float aux)
{
    dh_model_options o;
    dh_model_options_init(&o);
    o.encoder = "smallcnn";
    o.n_bits = 16;
    o.fmap_pool = pool;
    o.fmap_parts = parts;
    o.fmap_global = global;
    o.fmap_aux_weight = aux;
    o.head_init_std = 0.1; /* larger gradients into the encoder */
    o.seed = 3;
    dh_model *m = NULL;
    ck_assert_dh_ok(dh_model_create(&o, &m));
    return m;
}

static dh__param *find_param(dh_model *m, const char *name)
{
    dh__model_param *ps;
    size_t np = dh__model_params(m, &ps);
    for (size_t i = 0; i < np; i++)
        if (!strcmp(ps[i].p.name, name)) return &ps[i].p;
    ck_abort_msg("no parameter %s", name);
    return NULL;
}

/* L = sum r . U (+ the PART diversity loss, whose gradient backward adds), a fresh
 * training forward (BN batch statistics; ATTN masks frozen by the caller). */
static double model_objective(dh_model *m, const float *x, size_t n, const float *r, float *U)
{
    ck_assert_dh_ok(dh__model_forward_train(m, x, n, U));
    double L = dh__fmap_pool_aux_loss(m->pool);
    for (size_t i = 0; i < n * m->K; i++) L += (double)r[i] * U[i];
    return L;
}

/* Central differences of L for one tensor: along the unit direction of the analytic
 * gradient g (numeric must be |g|) and for single coordinates (the 3 largest |g_i| and
 * 2 random ones, so a missing path shows even where it is orthogonal to g). Returns
 * the worst error relative to |g| (direction) or to 1e-2 |g| + |g_i| (coordinates). */
static double model_dircheck(dh_model *m, const float *x, size_t n, const float *r, float *U,
                             const float *g, dh__param *p)
{
    float *keep = malloc(p->n * sizeof(float));
    memcpy(keep, p->data, p->n * sizeof(float));
    double gn = 0, worst = 0, L[2];
    for (size_t j = 0; j < p->n; j++) gn += (double)g[j] * g[j];
    gn = sqrt(gn);
    ck_assert_msg(gn > 0, "%s: zero gradient", p->name);
    const double eps_dir = 1e-4, eps = 3e-4; /* small: BN over 4 rows curves L strongly */
    for (int s = 0; s < 2; s++) {
        for (size_t j = 0; j < p->n; j++)
            p->data[j] = keep[j] + (float)((s ? -eps_dir : eps_dir) * g[j] / gn);
        dh__model_params_changed(m);
        L[s] = model_objective(m, x, n, r, U);
    }
    memcpy(p->data, keep, p->n * sizeof(float));
    double num = (L[0] - L[1]) / (2 * eps_dir);
    worst = fabs(num - gn) / gn;
    size_t idx[5];
    uint64_t rs = 99;
    for (int k = 0; k < 5; k++) {
        if (k < 3) { /* k-th largest |g| */
            size_t best = 0;
            double bv = -1;
            for (size_t j = 0; j < p->n; j++) {
                int used = 0;
                for (int q = 0; q < k; q++) used |= idx[q] == j;
                if (!used && fabs(g[j]) > bv) bv = fabs(g[j]), best = j;
            }
            idx[k] = best;
        } else
            idx[k] = (size_t)(dh_test_rand(&rs) % p->n);
    }
    for (int k = 0; k < 5; k++) {
        size_t j = idx[k];
        for (int s = 0; s < 2; s++) {
            p->data[j] = keep[j] + (float)(s ? -eps : eps);
            dh__model_params_changed(m);
            L[s] = model_objective(m, x, n, r, U);
        }
        p->data[j] = keep[j];
        dh__model_params_changed(m);
        num = (L[0] - L[1]) / (2 * eps);
        double err = fabs(num - g[j]) / (1e-2 * gn + fabs(g[j]));
        worst = err > worst ? err : worst;
    }
    free(keep);
    return worst;
}

/* The whole model's gradient with the encoder's features as the global part: fc.weight
 * is reached only through f, fmap.weight only through the pooled l_k, conv2.weight and
 * conv1.weight through both (F feeds the pool and, flattened, fc). */
static void model_gradcheck(int32_t pool)
{
    float aux = pool == DH_FMAP_POOL_PART ? 0.5f : 0;
    dh_model *m = make_model_g(pool, 2, DH_FMAP_GLOBAL_ENCODER, aux);
    const size_t n = 4, K = 16;
    float *x = malloc(n * 784 * sizeof(float)), U[4 * 16], r[4 * 16];
    rand_images(x, n, 31);
    fill_normal(r, n * K, 32, 1.0f);
    float *w = find_param(m, "fmap.weight")->data;
    for (size_t i = 0; i < 2 * 64; i++) w[i] *= 4; /* sharper maps */
    dh__model_zero_grad(m);
    (void)model_objective(m, x, n, r, U);
    ck_assert_dh_ok(dh__model_backward(m, r));
    m->pool->freeze_mask = 1; /* ATTN masks carry no gradient by definition */
    const char *names[] = {"fc.weight", "conv2.weight", "conv1.weight", "fmap.weight",
                           "head.weight"};
    for (size_t t = 0; t < sizeof names / sizeof names[0]; t++) {
        dh__param *p = find_param(m, names[t]);
        float *g = malloc(p->n * sizeof(float));
        memcpy(g, p->grad, p->n * sizeof(float));
        double worst = model_dircheck(m, x, n, r, U, g, p);
        ck_assert_msg(worst < 5e-2, "pool %d %s: finite differences off by %g",
                      (int)pool, names[t], worst);
        free(g);
    }
    free(x);
    dh_model_free(m);
}

START_TEST(test_finegrained_global_encoder_gradient_attn) { model_gradcheck(DH_FMAP_POOL_ATTN); }
END_TEST

START_TEST(test_finegrained_global_encoder_gradient_part) { model_gradcheck(DH_FMAP_POOL_PART); }
END_TEST

/* Z is [f; l_1..l_T]: the first D_enc values are the encoder's own features, the rest
 * the pool's l_k (its g dropped); fc gets a gradient only with the encoder global. */
START_TEST(test_finegrained_global_encoder_features)
{
    dh_model *m = make_model_g(DH_FMAP_POOL_ATTN, 3, DH_FMAP_GLOBAL_ENCODER, 1);
    dh_model *mp = make_model_g(DH_FMAP_POOL_ATTN, 3, DH_FMAP_GLOBAL_POOL, 1);
    const size_t n = 3;
    float *x = malloc(n * 784 * sizeof(float));
    float *z = malloc(n * (512 + 192) * sizeof(float)), *zp = malloc(n * 256 * sizeof(float));
    float *f = malloc(n * 512 * sizeof(float)), U[3 * 16];
    rand_images(x, n, 41);
    ck_assert_dh_ok(dh__model_features(m, x, n, 0, z));
    ck_assert_dh_ok(dh__model_features(mp, x, n, 0, zp));
    ck_assert_dh_ok(dh_encoder_forward(dh_model_encoder(m), x, n, 0, f));
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < 512; j++) ck_assert_float_eq(z[i * 704 + j], f[i * 512 + j]);
        for (size_t j = 0; j < 192; j++)
            ck_assert_float_eq(z[i * 704 + 512 + j], zp[i * 256 + 64 + j]);
    }
    /* eval mode of the training forward = dh_model_encode_float */
    float ue[3 * 16];
    dh__model_set_training(m, 0);
    ck_assert_dh_ok(dh__model_forward_train(m, x, n, U));
    ck_assert_dh_ok(dh_model_encode_float(m, x, n, 784, NULL, ue));
    for (size_t i = 0; i < n * 16; i++) ck_assert_float_eq_tol(U[i], ue[i], 1e-6);
    ck_assert_dh_fail(dh__model_backward(m, U), DH_E_STATE);
    dh__model_set_training(m, 1);
    for (int g = 0; g < 2; g++) {
        dh_model *mm = g ? mp : m;
        dh__model_zero_grad(mm);
        ck_assert_dh_ok(dh__model_forward_train(mm, x, n, U));
        ck_assert_dh_ok(dh__model_backward(mm, U));
        dh__param *p = find_param(mm, "fc.weight");
        double s = 0;
        for (size_t j = 0; j < p->n; j++) s += fabs(p->grad[j]);
        ck_assert_msg(g ? s == 0 : s > 0, "fc.weight gradient %g (global %s)", s,
                      g ? "pool" : "encoder");
    }
    free(x), free(z), free(zp), free(f);
    dh_model_free(m);
    dh_model_free(mp);
}
END_TEST

START_TEST(test_finegrained_global_encoder_batch_independent)
{
    dh_model *m = make_model_g(DH_FMAP_POOL_PART, 3, DH_FMAP_GLOBAL_ENCODER, 1);
    float *x = malloc(5 * 784 * sizeof(float)), u5[5 * 16], u1[16];
    rand_images(x, 5, 9);
    ck_assert_dh_ok(dh_model_encode_float(m, x, 5, 784, NULL, u5));
    for (size_t r = 0; r < 5; r++) {
        ck_assert_dh_ok(dh_model_encode_float(m, x + r * 784, 1, 784, NULL, u1));
        for (int j = 0; j < 16; j++) ck_assert_float_eq_tol(u1[j], u5[r * 16 + j], 1e-5);
    }
    free(x);
    dh_model_free(m);
}
END_TEST

static size_t read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t len = fread(buf, 1, cap, f);
    ck_assert_uint_lt(len, cap);
    fclose(f);
    return len;
}

static char *find_bytes(char *buf, size_t len, const char *s)
{
    size_t k = strlen(s);
    for (size_t i = 0; i + k <= len; i++)
        if (!memcmp(buf + i, s, k)) return buf + i;
    return NULL;
}

/* Save/load keeps the encodes bit for bit; "fmap_global" is written only for the
 * encoder global (format_version 3), absent means POOL, a bad value is DH_E_FORMAT. */
START_TEST(test_finegrained_global_encoder_save_load)
{
    dh_model *m = make_model_g(DH_FMAP_POOL_ATTN, 2, DH_FMAP_GLOBAL_ENCODER, 1);
    /* train one step so that BN running statistics and weights are not the initial ones */
    float *x = malloc(6 * 784 * sizeof(float)), U[6 * 16], ua[6 * 16], ub[6 * 16];
    rand_images(x, 6, 51);
    dh__model_zero_grad(m);
    ck_assert_dh_ok(dh__model_forward_train(m, x, 6, U));
    char path[512], p2[512];
    model_path(path, sizeof path, "fg_enc.safetensors");
    model_path(p2, sizeof p2, "fg_enc_bad.safetensors");
    ck_assert_dh_ok(dh_model_save(m, path));
    dh_model *m2;
    ck_assert_dh_ok(dh_model_load(path, &m2));
    ck_assert_int_eq(dh_model_get_options(m2)->fmap_global, DH_FMAP_GLOBAL_ENCODER);
    ck_assert_int_eq(dh_model_get_options(m2)->fmap_pool, DH_FMAP_POOL_ATTN);
    ck_assert_uint_eq(dh_model_get_options(m2)->fmap_parts, 2);
    ck_assert_uint_eq(m2->D, 512 + 128);
    ck_assert_dh_ok(dh_model_encode_float(m, x, 6, 784, NULL, ua));
    ck_assert_dh_ok(dh_model_encode_float(m2, x, 6, 784, NULL, ub));
    ck_assert_int_eq(memcmp(ua, ub, sizeof ua), 0);
    ck_assert_dh_fail(dh_model_set_metadata(m, "fmap_global", "pool"), DH_E_INVALID_ARG);
    dh_model_free(m2);
    dh_model_free(m);

    char *buf = malloc(1 << 24), *copy = malloc(1 << 24);
    size_t len = read_file(path, buf, 1 << 24);
    ck_assert_ptr_nonnull(find_bytes(buf, len, "\"fmap_global\":\"encoder\""));
    ck_assert_ptr_nonnull(find_bytes(buf, len, "\"format_version\":\"3\""));
    /* key renamed (absent): POOL, whose head would read 3 x 64 values, not 512 + 128;
     * bad value: DH_E_FORMAT; a newer format_version: DH_E_VERSION */
    const char *bad[][2] = {{"\"fmap_global\":", "\"fmap_globax\":"},
                            {"\"fmap_global\":\"encoder\"", "\"fmap_global\":\"encodex\""},
                            {"\"format_version\":\"3\"", "\"format_version\":\"4\""}};
    const dh_status want[] = {DH_E_SHAPE, DH_E_FORMAT, DH_E_VERSION};
    for (int b = 0; b < 3; b++) {
        memcpy(copy, buf, len);
        char *hit = find_bytes(copy, len, bad[b][0]);
        ck_assert_msg(hit != NULL, "metadata '%s' not found in the file", bad[b][0]);
        memcpy(hit, bad[b][1], strlen(bad[b][1]));
        FILE *f = fopen(p2, "wb");
        fwrite(copy, 1, len, f);
        fclose(f);
        m2 = (dh_model *)1;
        ck_assert_dh_fail(dh_model_load(p2, &m2), want[b]);
        ck_assert_ptr_null(m2);
    }

    /* a POOL-global model writes the pre-1.1 keys only (format_version 2) */
    m = make_model_g(DH_FMAP_POOL_PART, 2, DH_FMAP_GLOBAL_POOL, 1);
    ck_assert_dh_ok(dh_model_save(m, path));
    dh_model_free(m);
    len = read_file(path, buf, 1 << 24);
    ck_assert_ptr_null(find_bytes(buf, len, "fmap_global"));
    ck_assert_ptr_nonnull(find_bytes(buf, len, "\"format_version\":\"2\""));
    ck_assert_dh_ok(dh_model_load(path, &m2));
    ck_assert_int_eq(dh_model_get_options(m2)->fmap_global, DH_FMAP_GLOBAL_POOL);
    dh_model_free(m2);
    free(buf), free(copy), free(x);
}
END_TEST

Suite *finegrained_suite(void)
{
    Suite *s = suite_create("finegrained");
    TCase *tc = tcase_create("Pool");
    tcase_add_test(tc, test_finegrained_pool_gap_gradient);
    tcase_add_test(tc, test_finegrained_pool_attn_gradient);
    tcase_add_test(tc, test_finegrained_pool_part_gradient);
    tcase_add_test(tc, test_finegrained_pool_part_diversity_gradient);
    tcase_add_test(tc, test_finegrained_pool_values);
    tcase_add_test(tc, test_finegrained_pool_attn_suppresses);
    tcase_add_test(tc, test_finegrained_pool_bad_args);
    suite_add_tcase(s, tc);
    tc = tcase_create("Model");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_finegrained_model_options);
    tcase_add_test(tc, test_finegrained_model_train_step);
    tcase_add_test(tc, test_finegrained_model_encode_batch_independent);
    tcase_add_test(tc, test_finegrained_model_save_load);
    suite_add_tcase(s, tc);
    tc = tcase_create("GlobalEncoder");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_finegrained_global_encoder_gradient_attn);
    tcase_add_test(tc, test_finegrained_global_encoder_gradient_part);
    tcase_add_test(tc, test_finegrained_global_encoder_features);
    tcase_add_test(tc, test_finegrained_global_encoder_batch_independent);
    tcase_add_test(tc, test_finegrained_global_encoder_save_load);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dh_test_run(finegrained_suite()); }
