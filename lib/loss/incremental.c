/* lib/loss/incremental.c -- incremental hashing (docs/methods.md#incremental):
 *
 * dihn  Deep Incremental Hashing Network (Wu et al., CVPR 2019). The database codes of
 *       earlier sessions B_old (n_old x K, with their labels) are fixed; the codes
 *       B_new of the new session's items (the training set, n_train rows, state
 *       "codes") are learned by the asymmetric objective of ADSH against
 *       B = [B_new; B_old] and its discrete update restricted to the new rows. The
 *       ADSH building blocks are shared with lib/loss/asym.c (dh__asym_*).
 * dih   class-label target codes: class c regresses to t_c = sgn(R[:, c]) with R a
 *       fixed Gaussian projection whose column c depends only on (seed, c, K), so a
 *       loss created later with more classes has the same targets for the old ones
 *       (libdh's recipe, docs/methods.md#dih: no paper or code was found).
 *
 * Layout of the dihn loss: the database is [B_new; B_old]. B_new are the first n_learn
 * rows of the state "codes" (the trainer's indices address them directly), B_old the
 * tensors "old_codes" / "old_labels" set by dh_loss_set_fixed_codes. Without old
 * images n_learn = n_train. With DH_FIXED_CODES_IN_TRAIN the old images are the last
 * n_old training rows (the reference code samples old images too): n_learn = n_train -
 * n_old and a training index j >= n_learn stands for the fixed row j - n_learn. */
#include <string.h>

#include "loss/loss.h"

/* ======================================================================== */
/* DIHN                                                                      */
/* ======================================================================== */

typedef struct dihn_priv {
    dh__asym_priv a; /* first: dh_loss_update_codes reads the cache through it */
    size_t n_learn;  /* learnable rows (the first n_learn of "codes") */
} dihn_priv;

static void dihn_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->gamma = 200.0;
    o->quant_weight = 50.0; /* mu of the linear bit-balance term */
}

static dh_status dihn_create(dh_loss *L)
{
    float *V;
    DH_TRY(dh__loss_add_tensor(L, "codes", 1, 2, (int64_t)L->N, L->K, &V));
    DH_TRY(dh__loss_add_tensor(L, "old_codes", 1, 2, 0, L->K, NULL));
    DH_TRY(dh__loss_add_tensor(L, "old_labels", 1, 2, 0, L->C, NULL));
    /* B_new starts at sgn(N(0, 1)) as in the DIHN code (ADSH starts at 0) */
    for (size_t i = 0; i < L->N * L->K; i++) V[i] = dh__splitmix64(&L->rng) >> 63 ? 1.0f : -1.0f;
    dihn_priv *p = dh__calloc(1, sizeof *p);
    if (!p) return DH_E_NO_MEMORY;
    L->priv = p;
    p->n_learn = L->N;
    p->a.cache = dh__calloc(L->N * L->K, sizeof(float));
    p->a.seen = dh__calloc(L->N, 1);
    if (!p->a.cache || !p->a.seen) return DH_E_NO_MEMORY;
    return DH_OK;
}

static void dihn_destroy(dh_loss *L)
{
    dihn_priv *p = L->priv;
    if (!p) return;
    dh__free(p->a.cache), dh__free(p->a.seen), dh__free(p);
}

static size_t n_old(dh_loss *L) { return (size_t)dh__loss_find(L, "old_codes")->shape[0]; }

/* r = |S1| / |S0| of rows Ya (na) against all n_learn + n_old database rows; when Q is
 * given it receives S^T Ua over the learnable rows (n_learn x K). */
static dh_status dihn_ratio(dh_loss *L, const float *Ya, const float *Ua, size_t na, float *Q,
                            double *r)
{
    size_t no = n_old(L), nl = ((dihn_priv *)L->priv)->n_learn;
    double s1n = 0, s1o = 0;
    DH_TRY(dh__asym_sim(Ya, Ua, na, L->train_Y, nl, L->K, L->C, Q, &s1n));
    if (no) DH_TRY(dh__asym_sim(Ya, NULL, na, dh__loss_find(L, "old_labels")->data, no, L->K,
                                L->C, NULL, &s1o));
    double s0 = (double)na * (double)(nl + no) - s1n - s1o;
    *r = s0 > 0 ? (s1n + s1o) / s0 : 0.0;
    return DH_OK;
}

/* Initial r from up to 2000 evenly spaced new rows (the reference samples m = 2000). */
static dh_status dihn_init(dh_loss *L)
{
    if (!L->train_Y) return DH_OK;
    size_t m = L->N < 2000 ? L->N : 2000;
    float *Ya = dh__alloc(m * L->C * sizeof(float));
    if (!Ya) return DH_E_NO_MEMORY;
    for (size_t i = 0; i < m; i++)
        memcpy(Ya + i * L->C, L->train_Y + (i * L->N / m) * L->C, L->C * sizeof(float));
    dihn_priv *p = L->priv;
    dh_status st = dihn_ratio(L, Ya, NULL, m, NULL, &p->a.r);
    dh__free(Ya);
    return st;
}

static dh_status dihn_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    if (!L->train_Y)
        return dh__set_error(DH_E_STATE, "dihn: call dh_loss_init with the new session's "
                             "labels first (the loss needs the similarity to every database "
                             "item)");
    dihn_priv *p = L->priv;
    const size_t B = b->B, K = L->K, nl = p->n_learn, no = n_old(L);
    const float *V = dh__loss_find(L, "codes")->data, *Vo = dh__loss_find(L, "old_codes")->data;
    const double norm = 1.0 / ((double)(nl + no) * (double)B), g = L->o.gamma;
    const double mu = L->o.quant_weight;
    double v = 0;
    memset(b->dU, 0, B * K * sizeof(float));
    DH_TRY(dh__asym_block(b->U, b->Y, B, V, L->train_Y, nl, K, L->C, p->a.r, norm, b->dU, &v));
    DH_TRY(dh__asym_block(b->U, b->Y, B, Vo, dh__loss_find(L, "old_labels")->data, no, K, L->C,
                          p->a.r, norm, b->dU, &v));
    for (size_t i = 0; i < B; i++) {
        size_t j = (size_t)b->idx[i]; /* a replayed old image pulls towards its fixed code */
        const float *vi = j < nl ? V + j * K : Vo + (j - nl) * K, *u = b->U + i * K;
        for (size_t k = 0; k < K; k++) {
            double d = (double)u[k] - vi[k];
            v += g * d * d + mu * u[k];
            b->dU[i * K + k] += (float)(norm * (2 * g * d + mu));
        }
        if (!L->frozen) {
            memcpy(p->a.cache + (size_t)b->idx[i] * K, u, K * sizeof(float));
            p->a.seen[b->idx[i]] = 1;
        }
    }
    *value = v * norm;
    return DH_OK;
}

/* B_new update: P = K S~[:, new]^T U + gamma Ubar_new, one DCC sweep over the new
 * rows only; r is measured over the whole m x (n_new + n_old) block. */
static dh_status dihn_update(dh_loss *L, const float *U, const int64_t *idx, size_t m)
{
    dihn_priv *p = L->priv;
    const size_t nl = p->n_learn, K = L->K, C = L->C;
    float *Ya = dh__alloc(m * C * sizeof(float)), *Q = dh__alloc((nl * K + 1) * sizeof(float));
    int64_t *il = dh__alloc(m * sizeof(int64_t));
    dh_status st = DH_E_NO_MEMORY;
    if (!Ya || !Q || !il) goto done;
    for (size_t i = 0; i < m; i++) {
        memcpy(Ya + i * C, L->train_Y + (size_t)idx[i] * C, C * sizeof(float));
        il[i] = (size_t)idx[i] < nl ? idx[i] : -1; /* replayed old rows: no gamma target */
    }
    DH_TRY_GOTO(dihn_ratio(L, Ya, U, m, Q, &p->a.r), done);
    st = dh__asym_solve(dh__loss_find(L, "codes")->data, Q, U, il, m, nl, K, p->a.r,
                        L->o.gamma);
done:
    dh__free(Ya), dh__free(Q), dh__free(il);
    return st;
}

/* Replace a state tensor's rows (the registry's shape stays 2-D). */
static dh_status resize_rows(dh_loss *L, const char *name, size_t rows, const float *src)
{
    dh__param *t = dh__loss_find(L, name);
    size_t cols = (size_t)t->shape[1], n = rows * cols;
    float *d = dh__alloc_aligned((n ? n : 1) * sizeof(float), 64);
    if (!d) return DH_E_NO_MEMORY;
    if (n) memcpy(d, src, n * sizeof(float));
    dh__free_aligned(t->data);
    t->data = d;
    t->n = n;
    t->shape[0] = (int64_t)rows;
    return DH_OK;
}

dh_status dh_loss_set_fixed_codes(dh_loss *L, const float *codes, const float *labels, size_t n,
                                  uint32_t flags)
{
    DH_CHECK_ARG_MSG((flags & ~DH_FIXED_CODES_IN_TRAIN) == 0, "dh_loss_set_fixed_codes: "
                     "unknown flags 0x%x", flags);
    return dh__loss_set_fixed(L, codes, labels, n, flags & DH_FIXED_CODES_IN_TRAIN ? n : 0);
}

dh_status dh__loss_set_fixed(dh_loss *L, const float *codes, const float *labels, size_t n,
                             size_t n_in_train)
{
    DH_CHECK_ARG(L != NULL);
    if (!L->m->set_fixed)
        return dh__set_error(DH_E_STATE, "dh_loss_set_fixed_codes: method '%s' has no fixed "
                             "database codes (dihn has)", L->m->name);
    return L->m->set_fixed(L, codes, labels, n, n_in_train);
}

/* n fixed rows, the first n_in_train of which have their images as the last
 * n_in_train training rows (0: none; n: all, DH_FIXED_CODES_IN_TRAIN). */
static dh_status dihn_set_fixed(dh_loss *L, const float *codes, const float *labels, size_t n,
                                size_t n_in_train)
{
    DH_CHECK_ARG_MSG(n == 0 || (codes != NULL && labels != NULL), "dh_loss_set_fixed_codes: "
                     "codes and labels are required when n = %zu > 0", n);
    DH_CHECK_ARG_MSG(n <= ((size_t)1 << 32), "dh_loss_set_fixed_codes: n = %zu too large", n);
    DH_CHECK_ARG_MSG(n_in_train <= n, "dh_loss_set_fixed_codes: %zu of %zu fixed rows in "
                     "training", n_in_train, n);
    if (n_in_train && n_in_train >= L->N)
        return dh__set_error(DH_E_SHAPE, "dh_loss_set_fixed_codes: DH_FIXED_CODES_IN_TRAIN with "
                             "%zu fixed rows in training but n_train = %zu (the new items come "
                             "first, at least one)", n_in_train, L->N);
    const size_t K = L->K, C = L->C;
    float *sc = dh__alloc((n * K + 1) * sizeof(float));
    if (!sc) return DH_E_NO_MEMORY;
    dh_status st = DH_OK;
    for (size_t i = 0; i < n * K && st == DH_OK; i++) {
        if (isnan(codes[i]))
            st = dh__set_error(DH_E_INVALID_ARG, "dh_loss_set_fixed_codes: codes[%zu][%zu] is "
                               "NaN", i / K, i % K);
        sc[i] = dh__sgn(codes[i]);
    }
    for (size_t i = 0; i < n * C && st == DH_OK; i++)
        if (labels[i] != 0.0f && labels[i] != 1.0f)
            st = dh__set_error(DH_E_INVALID_ARG, "dh_loss_set_fixed_codes: labels[%zu][%zu] = "
                               "%g is not 0 or 1", i / C, i % C, (double)labels[i]);
    if (st == DH_OK) st = resize_rows(L, "old_codes", n, sc);
    if (st == DH_OK) st = resize_rows(L, "old_labels", n, labels);
    if (st == DH_OK) ((dihn_priv *)L->priv)->n_learn = L->N - n_in_train;
    dh__free(sc);
    /* r depends on the whole database: recompute when the new labels are known */
    if (st == DH_OK) st = dihn_init(L);
    return st;
}

/* Distillation weights of a session without old images (docs/incremental.md): K^2/20 on
 * the codes, K^2 on the features (the DIHN gradient grows like K while a mean over K
 * shrinks like 1/K, hence K^2). The constants balance old- and new-class mAP on
 * Fashion-MNIST at K = 16, 32, 64. */
static void dihn_distill(uint32_t n_bits, double *w_codes, double *w_features)
{
    const double K = (double)n_bits;
    *w_codes = K * K / 20, *w_features = K * K;
}

const dh__loss_method dh__loss_dihn = {
    .name = "dihn",
    .summary = "Deep Incremental Hashing Network (Wu et al., CVPR 2019)",
    .head = DH_LOSS_HEAD_TANH,
    .needs_index = 1,
    .defaults = dihn_defaults,
    .create = dihn_create,
    .init = dihn_init,
    .fb = dihn_fb,
    .destroy = dihn_destroy,
    .update_codes = dihn_update,
    .set_fixed = dihn_set_fixed,
    .distill = dihn_distill,
};

/* ======================================================================== */
/* DIH: regression to class targets from a fixed random projection          */
/* ======================================================================== */

static void dih_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->centers = DH_CENTERS_AUTO; /* the Gaussian projection */
}

/* Column c of R (K x C) ~ N(0, 1) from a generator seeded by (seed, c) only. */
static void projection_target(uint64_t seed, uint32_t c, size_t K, float *t)
{
    uint64_t s = seed ^ 0xd1b54a32d192ed03ull;
    s = dh__splitmix64(&s) + 0x9e3779b97f4a7c15ull * ((uint64_t)c + 1);
    for (size_t k = 0; k < K; k++) t[k] = dh__sgn((float)dh__loss_normal(&s));
}

static dh_status dih_create(dh_loss *L)
{
    const int32_t m = L->o.centers;
    if (m != DH_CENTERS_AUTO && m != DH_CENTERS_BERNOULLI && m != DH_CENTERS_HADAMARD)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(dih): centers = %d; dih needs "
                             "targets that stay fixed when classes are added: AUTO or "
                             "BERNOULLI (random projection) or HADAMARD", m);
    float *T, *fill;
    DH_TRY(dh__loss_add_tensor(L, "centers", 1, 2, L->C, L->K, &T));
    if (m == DH_CENTERS_HADAMARD) /* rows of [H; -H] in order: a prefix-stable pool */
        DH_TRY(dh__centers_generate(L->C, L->K, DH_CENTERS_HADAMARD, L->o.seed, T, NULL));
    else
        for (uint32_t c = 0; c < L->C; c++) projection_target(L->o.seed, c, L->K, T + c * L->K);
    DH_TRY(dh__loss_add_tensor(L, "center_fill", 1, 1, L->K, 0, &fill));
    uint64_t s = L->o.seed ^ 0x5851f42d4c957f2dull; /* independent of C, like the targets */
    for (size_t k = 0; k < L->K; k++) fill[k] = dh__splitmix64(&s) >> 63 ? 1.0f : -1.0f;
    return DH_OK;
}

static dh_status dih_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K;
    const float *T = dh__loss_find(L, "centers")->data;
    const float *fill = dh__loss_find(L, "center_fill")->data;
    float *t = dh__alloc(K * sizeof(float));
    if (!t) return DH_E_NO_MEMORY;
    const double nk = (double)B * (double)K;
    double v = 0;
    for (size_t i = 0; i < B; i++) {
        if (b->cls) memcpy(t, T + (size_t)b->cls[i] * K, K * sizeof(float));
        else dh__loss_vote_center(T, b->Y + i * L->C, L->C, K, fill, t);
        for (size_t k = 0; k < K; k++) {
            double d = (double)b->U[i * K + k] - t[k];
            v += d * d;
            b->dU[i * K + k] = (float)(2 * d / nk);
        }
    }
    *value = v / nk;
    dh__free(t);
    return DH_OK;
}

/* Distillation weights of a session without old images: 0.5 on the codes, 10 on the
 * features (dih's loss is itself a mean over B x K; see dihn_distill). */
static void dih_distill(uint32_t n_bits, double *w_codes, double *w_features)
{
    (void)n_bits;
    *w_codes = 0.5, *w_features = 10;
}

const dh__loss_method dh__loss_dih = {
    .name = "dih",
    .summary = "incremental hashing with label-projected target codes (libdh recipe)",
    .head = DH_LOSS_HEAD_TANH,
    .defaults = dih_defaults,
    .create = dih_create,
    .fb = dih_fb,
    .distill = dih_distill,
};
