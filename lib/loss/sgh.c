/* lib/loss/sgh.c -- a binary autoencoder, the reconstruction family (SGH, Dai et
 * al., ICML 2017; docs/methods.md#reconstruction), in its simplest sound form: q = sigmoid(a)
 * (head IDENTITY gives a), stochastic binary neurons z = sgn(q - xi), xi ~ U(0, 1)
 * (variant 0; variant 1: xi = 1/2) with a straight-through backward, a linear decoder
 * x^ = z W^T + c (parameters "decoder.weight" [D, K], "decoder.bias" [D], trained with
 * the network) that reconstructs the sample's features x (the feature bank: input
 * pixels or rows by default), and the KL of the Bernoulli posterior to the uniform
 * prior (the description-length term, weight quant_weight):
 *   L = mean_{B x D} (x - x^)^2 + beta mean_{B x K} [q log q + (1 - q) log(1 - q) + log 2].
 * The decoder is created when the first features arrive (D is known then). */
#include <string.h>

#include "loss/unsup.h"

typedef struct sgh_priv {
    dh__featbank fb; /* first */
} sgh_priv;

static dh_status sgh_refit(dh_loss *L)
{
    const dh__featbank *fb = L->priv;
    if (L->n_params) return DH_OK; /* decoder exists (same D checked by the bank) */
    float *W;
    DH_TRY(dh__loss_add_tensor(L, "decoder.weight", 0, 2, (int64_t)fb->D, L->K, &W));
    L->t[0].no_decay = 0;
    DH_TRY(dh__loss_add_tensor(L, "decoder.bias", 0, 1, (int64_t)fb->D, 0, NULL));
    uint64_t s = L->o.seed ^ 0xDEC0DEull;
    const double a = 1.0 / sqrt((double)L->K); /* nn.Linear's default bound */
    for (size_t i = 0; i < fb->D * L->K; i++) W[i] = (float)((2 * dh__splitmix64_unif(&s) - 1) * a);
    return DH_OK;
}

static void sgh_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->quant_weight = 0.01;
    o->variant = DH__FEATS_INPUT;
    o->update_every = 0;
    o->schedule = 0; /* 0 stochastic neurons, 1 threshold */
}

static dh_status sgh_create(dh_loss *L)
{
    DH_TRY(dh__unsup_feats_create(L));
    if (!(L->priv = dh__calloc(1, sizeof(sgh_priv)))) return DH_E_NO_MEMORY;
    ((sgh_priv *)L->priv)->fb.refit = sgh_refit;
    return DH_OK;
}

static dh_status sgh_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const dh__featbank *fb = L->priv;
    const size_t B = b->B, K = L->K, D = fb->D;
    const float *W = L->t[0].data, *c = L->t[1].data;
    float *q = dh__alloc(B * K * sizeof(float)), *z = dh__alloc(B * K * sizeof(float));
    float *R = dh__alloc(B * D * sizeof(float));
    if (!q || !z || !R) {
        dh__free(q), dh__free(z), dh__free(R);
        return DH_E_NO_MEMORY;
    }
    uint64_t rng = L->rng;
    for (size_t i = 0; i < B * K; i++) {
        q[i] = (float)dh__sigmoid(b->U[i]);
        double xi = L->o.schedule == 1 ? 0.5 : dh__splitmix64_unif(&rng);
        z[i] = (double)q[i] - xi >= 0 ? 1.0f : -1.0f;
    }
    if (!L->frozen) L->rng = rng;
    dh__gemm_nt(B, D, K, 1.0f, z, W, 0.0f, R); /* x^ without bias */
    const double nd = (double)B * (double)D, nk = (double)B * (double)K;
    double vr = 0;
    for (size_t i = 0; i < B; i++) {
        const float *x = fb->F + (size_t)b->idx[i] * D;
        for (size_t j = 0; j < D; j++) {
            double e = (double)R[i * D + j] + c[j] - x[j];
            vr += e * e;
            R[i * D + j] = (float)(2 * e / nd); /* dL/dx^ */
        }
    }
    dh__gemm_tn(B, D, K, 1.0f, R, z, 0.0f, L->t[0].grad); /* dW = dX^T z */
    for (size_t j = 0; j < D; j++) {
        double s = 0;
        for (size_t i = 0; i < B; i++) s += R[i * D + j];
        L->t[1].grad[j] = (float)s;
    }
    dh__gemm_nn(B, D, K, 1.0f, R, W, 0.0f, b->dU); /* dz = dX W */
    const double beta = L->o.quant_weight;
    double kl = 0;
    for (size_t i = 0; i < B * K; i++) {
        double a = b->U[i], p = q[i];
        /* q log q + (1 - q) log(1 - q) with log q = -softplus(-a), log(1-q) = -softplus(a) */
        kl += -p * dh__softplus(-a) - (1 - p) * dh__softplus(a) + log(2.0);
        b->dU[i] = (float)(((double)b->dU[i] + beta / nk * a) * p * (1 - p));
    }
    *value = vr / nd + beta * kl / nk;
    dh__free(q), dh__free(z), dh__free(R);
    return DH_OK;
}

const dh__loss_method dh__loss_sgh = {
    .name = "sgh",
    .summary = "binary autoencoder (SGH-style): stochastic neurons, linear decoder of the "
               "features",
    .head = DH_LOSS_HEAD_IDENTITY,
    .flags = DH_LOSS_FLAG_UNSUPERVISED | DH_LOSS_FLAG_FEATURES,
    .needs_index = 1,
    .defaults = sgh_defaults,
    .create = sgh_create,
    .fb = sgh_fb,
    .destroy = dh__unsup_destroy_bank,
};
