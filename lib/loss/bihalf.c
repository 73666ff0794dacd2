/* lib/loss/bihalf.c -- BiHalf (Li & van Gemert, AAAI 2021; docs/methods.md#bihalf): the
 * forward binarisation is a per-bit median split of the batch (the larger half of
 * every bit's B values become +1, so each bit is exactly balanced on even batches);
 * backward passes dL/dB straight through and adds the layer's own term
 * gamma (U - B) / B (released code: gamma = 6). The code-level loss is the paper's
 * similarity reconstruction ||cos(F) - B B^T / K||^2 / B^2 against the cosine
 * similarities of the samples' features F (the feature bank: the input pixels or rows
 * by default, or the model's own features refreshed every update_every epochs).
 * The reported value includes gamma / (2B) ||U - B||^2, the penalty whose gradient the
 * layer's term is, so value and gradient agree. */
#include <stdlib.h>
#include <string.h>

#include "loss/unsup.h"

typedef struct bihalf_priv {
    dh__featbank fb; /* first */
} bihalf_priv;

typedef struct rank_item {
    float v;
    uint32_t i;
} rank_item;

static int by_value_desc(const void *a, const void *b)
{
    const rank_item *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->i < y->i ? -1 : (x->i > y->i);
}

dh_status dh__bihalf_split(const float *U, size_t B, size_t K, float *Bc)
{
    rank_item *r = dh__alloc(B * sizeof *r);
    if (!r) return DH_E_NO_MEMORY;
    const size_t top = (B + 1) / 2;
    for (size_t k = 0; k < K; k++) {
        for (size_t i = 0; i < B; i++) r[i].v = U[i * K + k], r[i].i = (uint32_t)i;
        qsort(r, B, sizeof *r, by_value_desc);
        for (size_t t = 0; t < B; t++) Bc[(size_t)r[t].i * K + k] = t < top ? 1.0f : -1.0f;
    }
    dh__free(r);
    return DH_OK;
}

double dh__simrec(const float *Sf, const float *C, size_t B, size_t K, float *dC)
{
    float *E = dh__alloc(B * B * sizeof(float));
    if (!E) return NAN;
    dh__gemm_nt(B, B, K, (float)(1.0 / (double)K), C, C, 0.0f, E);
    double v = 0;
    for (size_t i = 0; i < B * B; i++) {
        double e = (double)E[i] - Sf[i];
        v += e * e;
        E[i] = (float)e;
    }
    /* d/dC of sum e_ij^2 / B^2 with e = C C^T / K - Sf: (2 / (K B^2)) (E + E^T) C */
    memset(dC, 0, B * K * sizeof(float));
    dh_status st = dh__loss_sym_grad(E, C, B, K, (float)(2.0 / ((double)K * (double)B * (double)B)), dC);
    dh__free(E);
    return st == DH_OK ? v / ((double)B * (double)B) : NAN;
}

/* Cosine similarities of the batch rows of the bank (B x B). */
dh_status dh__unsup_feature_cos(const dh__featbank *fb, const int64_t *idx, size_t B, float *S)
{
    const size_t D = fb->D;
    float *X = dh__alloc(B * D * sizeof(float)), *Xh = dh__alloc(B * D * sizeof(float));
    double *nr = dh__alloc(B * sizeof(double));
    if (!X || !Xh || !nr) {
        dh__free(X), dh__free(Xh), dh__free(nr);
        return DH_E_NO_MEMORY;
    }
    for (size_t i = 0; i < B; i++)
        memcpy(X + i * D, fb->F + (size_t)idx[i] * D, D * sizeof(float));
    dh__row_normalise(X, B, D, Xh, nr);
    dh__gemm_nt(B, B, D, 1.0f, Xh, Xh, 0.0f, S);
    dh__free(X), dh__free(Xh), dh__free(nr);
    return DH_OK;
}

static void bihalf_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->gamma = 6.0;
    o->variant = DH__FEATS_INPUT;
    o->update_every = 0;
}

dh_status dh__unsup_feats_create(dh_loss *L)
{
    if (L->N == 0)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(%s): n_train is required (the "
                             "method reads per-sample features)", L->m->name);
    if (L->o.variant > DH__FEATS_MODEL)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(%s): variant %d is not a feature "
                             "source (0 input, 1 model)", L->m->name, L->o.variant);
    return DH_OK;
}

static dh_status bihalf_create(dh_loss *L)
{
    DH_TRY(dh__unsup_feats_create(L));
    L->priv = dh__calloc(1, sizeof(bihalf_priv));
    return L->priv ? DH_OK : DH_E_NO_MEMORY;
}

void dh__unsup_destroy_bank(dh_loss *L)
{
    dh__featbank *fb = L->priv;
    if (fb) dh__free(fb->F);
    dh__free(L->priv);
    L->priv = NULL;
}

static dh_status bihalf_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K;
    const dh__featbank *fb = L->priv;
    float *Bc = dh__alloc(B * K * sizeof(float)), *S = dh__alloc(B * B * sizeof(float));
    dh_status st = DH_E_NO_MEMORY;
    if (!Bc || !S) goto done;
    DH_TRY_GOTO(dh__bihalf_split(b->U, B, K, Bc), done);
    DH_TRY_GOTO(dh__unsup_feature_cos(fb, b->idx, B, S), done);
    double v = dh__simrec(S, Bc, B, K, b->dU);
    if (isnan(v)) goto done;
    const double g = L->o.gamma / (double)B;
    double q = 0;
    for (size_t i = 0; i < B * K; i++) {
        double d = (double)b->U[i] - Bc[i];
        q += d * d;
        b->dU[i] += (float)(g * d);
    }
    *value = v + 0.5 * g * q;
    st = DH_OK;
done:
    dh__free(Bc), dh__free(S);
    return st;
}

const dh__loss_method dh__loss_bihalf = {
    .name = "bihalf",
    .summary = "BiHalf (Li & van Gemert, AAAI 2021): per-bit median split, similarity "
               "reconstruction",
    .head = DH_LOSS_HEAD_IDENTITY,
    .flags = DH_LOSS_FLAG_UNSUPERVISED | DH_LOSS_FLAG_FEATURES,
    .needs_index = 1,
    .defaults = bihalf_defaults,
    .create = bihalf_create,
    .fb = bihalf_fb,
    .destroy = dh__unsup_destroy_bank,
};
