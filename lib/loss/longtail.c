/* lib/loss/longtail.c -- long-tail hashing losses (docs/methods.md#long-tail):
 *
 *  lthnet     LTHNet's class-balanced cross-entropy: a classifier on u = tanh(z),
 *             p = softmax(W_c u + b_c), per-class weights from the effective number of
 *             samples w_c = (1 - beta) / (1 - beta^n_c), normalised by max_c w_c;
 *             L = (1/B) sum_i w_i CE(p_i, y_i) (+ quant_weight mean (|u| - 1)^2).
 *             The meta-embedding half of LTHNet is a model module
 *             (dh_model_add_meta_embedding, lib/model/meta_embed.c).
 *  dualproxy  libdh's reconstruction of ACHNet/DDPHN-style proxy hashing: learnable
 *             feature-class proxies F [C, K] compared with the continuous codes u and
 *             hash-class proxies h_c = tanh(H_c) compared with the binary codes
 *             b = sgn(u) (straight-through), each by a category-centred contrastive
 *             (softmax over cosines / tau) loss with the class-balanced weights; an
 *             alignment term pulls F_c and h_c together:
 *             L = (1/B) sum_i w_i [CE(cos(u_i, F)/tau) + lambda_h CE(cos(b_i, h)/tau)]
 *                 + lambda_a (1/C) sum_c (1 - cos(F_c, h_c)) + lambda_q mean (|u| - 1)^2.
 * Multi-label rows use the soft target y / |y| and the mean weight of their classes. */
#include <string.h>

#include "loss/loss.h"

/* ---- class-balanced weights -------------------------------------------- */

/* E_n = (1 - beta^n) / (1 - beta) (1 for beta = 0); an empty class counts as one
 * sample (it never occurs in a batch anyway). */
static double effective_number(int64_t count, double beta)
{
    double n = count > 0 ? (double)count : 1.0;
    return beta > 0 ? -expm1(n * log(beta)) / (1 - beta) : 1.0;
}

dh_status dh_class_balanced_weights(const int64_t *counts, uint32_t n_classes, double beta,
                                    float *out)
{
    DH_CHECK_ARG(counts != NULL && out != NULL);
    DH_CHECK_ARG_MSG(n_classes >= 1 && n_classes <= 65536, "dh_class_balanced_weights: "
                     "n_classes %u is outside 1..65536", n_classes);
    DH_CHECK_ARG_MSG(isfinite(beta) && beta >= 0 && beta < 1, "dh_class_balanced_weights: beta "
                     "%g must be in [0, 1)", beta);
    for (uint32_t c = 0; c < n_classes; c++)
        if (counts[c] < 0)
            return dh__set_error(DH_E_INVALID_ARG, "dh_class_balanced_weights: counts[%u] = "
                                 "%lld is negative", c, (long long)counts[c]);
    /* 1 / E_n is largest for the smallest count */
    int64_t nmin = INT64_MAX;
    for (uint32_t c = 0; c < n_classes; c++) nmin = counts[c] < nmin ? counts[c] : nmin;
    const double mx = 1.0 / effective_number(nmin, beta);
    for (uint32_t c = 0; c < n_classes; c++)
        out[c] = (float)(1.0 / effective_number(counts[c], beta) / mx);
    return DH_OK;
}

/* "class_weights" state from dh_loss_init's counts (all 1 without counts). */
static dh_status lt_init(dh_loss *L)
{
    dh__param *w = dh__loss_find(L, "class_weights");
    if (!L->class_counts) {
        for (size_t c = 0; c < L->C; c++) w->data[c] = 1.0f;
        return DH_OK;
    }
    return dh_class_balanced_weights(L->class_counts, L->C, L->o.cb_beta, w->data);
}

/* Soft targets Q (B x C) = w_i y_i / |y_i|, w_i the mean class weight of row i. */
static void weighted_targets(const dh_loss *L, const dh__loss_batch *b, const float *w, float *Q)
{
    const size_t C = L->C;
    for (size_t i = 0; i < b->B; i++) {
        const float *y = b->Y + i * C;
        double ny = 0, wy = 0;
        for (size_t c = 0; c < C; c++) ny += y[c], wy += y[c] * w[c];
        for (size_t c = 0; c < C; c++)
            Q[i * C + c] = ny > 0 ? (float)(y[c] * wy / (ny * ny)) : 0.0f;
    }
}

/* lambda mean_{B x K} (|u| - 1)^2, its gradient added to dU. */
static double quant_term(const float *U, size_t n, double lam, float *dU)
{
    if (lam == 0) return 0;
    double q = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs((double)U[i]) - 1;
        q += a * a;
        dU[i] += (float)(2 * lam / (double)n * a * dh__sign0(U[i]));
    }
    return lam * q / (double)n;
}

/* ======================================================================== */
/* LTHNet                                                                   */
/* ======================================================================== */

static void lth_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->cb_beta = 0.999;
    o->quant_weight = 0;
}

static dh_status lth_create(dh_loss *L)
{
    float *W, *bias;
    DH_TRY(dh__loss_add_tensor(L, "classifier.weight", 0, 2, L->C, L->K, &W));
    DH_TRY(dh__loss_add_tensor(L, "classifier.bias", 0, 1, L->C, 0, &bias));
    DH_TRY(dh__loss_add_tensor(L, "class_weights", 1, 1, L->C, 0, NULL));
    L->t[0].no_decay = 0;
    const double a = 1.0 / sqrt((double)L->K); /* nn.Linear(K, C) default bounds */
    for (size_t i = 0; i < (size_t)L->C * L->K; i++)
        W[i] = (float)((2 * dh__splitmix64_unif(&L->rng) - 1) * a);
    for (size_t c = 0; c < L->C; c++) bias[c] = (float)((2 * dh__splitmix64_unif(&L->rng) - 1) * a);
    return lt_init(L);
}

static dh_status lth_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K, C = L->C;
    const float *W = L->t[0].data, *bias = L->t[1].data, *w = L->t[2].data;
    float *A = dh__alloc(B * C * sizeof(float)), *Q = dh__alloc(B * C * sizeof(float));
    if (!A || !Q) {
        dh__free(A), dh__free(Q);
        return DH_E_NO_MEMORY;
    }
    dh__gemm_nt(B, C, K, 1.0f, b->U, W, 0.0f, A); /* logits */
    for (size_t i = 0; i < B; i++)
        for (size_t c = 0; c < C; c++) A[i * C + c] += bias[c];
    weighted_targets(L, b, w, Q);
    double v = dh__loss_softmax_ce(A, Q, B, C, 1.0 / (double)B) / (double)B;
    dh__gemm_tn(B, C, K, 1.0f, A, b->U, 0.0f, L->t[0].grad); /* dW = dA^T u */
    float *db = L->t[1].grad;
    for (size_t i = 0; i < B; i++)
        for (size_t c = 0; c < C; c++) db[c] += A[i * C + c];
    dh__gemm_nn(B, C, K, 1.0f, A, W, 0.0f, b->dU); /* dU = dA W */
    v += quant_term(b->U, B * K, L->o.quant_weight, b->dU);
    *value = v;
    dh__free(A), dh__free(Q);
    return DH_OK;
}

const dh__loss_method dh__loss_lthnet = {
    .name = "lthnet",
    .summary = "Long-Tail Hashing Network: class-balanced CE (Chen et al., SIGIR 2021)",
    .head = DH_LOSS_HEAD_TANH,
    .defaults = lth_defaults,
    .create = lth_create,
    .init = lt_init,
    .fb = lth_fb,
};

/* ======================================================================== */
/* Dual proxies                                                             */
/* ======================================================================== */

static void dp_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->cb_beta = 0.999;
    o->tau = 0.2;
    o->center_weight = 1.0; /* lambda_h: hash-proxy term */
    o->pair_weight = 0.1;   /* lambda_a: proxy alignment */
    o->quant_weight = 0.01;
    o->centers = DH_CENTERS_AUTO;
}

static dh_status dp_create(dh_loss *L)
{
    const size_t CK = (size_t)L->C * L->K;
    float *F, *H;
    DH_TRY(dh__loss_add_tensor(L, "feature_proxies", 0, 2, L->C, L->K, &F));
    DH_TRY(dh__loss_add_tensor(L, "hash_proxies", 0, 2, L->C, L->K, &H));
    DH_TRY(dh__loss_add_tensor(L, "class_weights", 1, 1, L->C, 0, NULL));
    L->t[0].no_decay = L->t[1].no_decay = 1; /* proxies: no weight decay */
    for (size_t i = 0; i < CK; i++) F[i] = (float)dh__loss_normal(&L->rng);
    /* hash proxies start at well-separated centers: tanh(1.5) = 0.905 */
    DH_TRY(dh__centers_generate(L->C, L->K, L->o.centers, L->o.seed, H, NULL));
    for (size_t i = 0; i < CK; i++) H[i] *= 1.5f;
    return lt_init(L);
}

typedef struct dp_buf {
    float *Uh, *Fh, *Bh, *Ht, *Hh, *S, *Q, *dX, *dF, *dH;
    double *nu, *nf, *nh;
} dp_buf;

static void dp_free(dp_buf *x)
{
    dh__free(x->Uh), dh__free(x->Fh), dh__free(x->Bh), dh__free(x->Ht), dh__free(x->Hh);
    dh__free(x->S), dh__free(x->Q), dh__free(x->dX), dh__free(x->dF), dh__free(x->dH);
    dh__free(x->nu), dh__free(x->nf), dh__free(x->nh);
}

static int dp_alloc(dp_buf *x, size_t B, size_t C, size_t K)
{
    memset(x, 0, sizeof *x);
    x->Uh = dh__alloc(B * K * sizeof(float)), x->Bh = dh__alloc(B * K * sizeof(float));
    x->Fh = dh__alloc(C * K * sizeof(float)), x->Ht = dh__alloc(C * K * sizeof(float));
    x->Hh = dh__alloc(C * K * sizeof(float)), x->dX = dh__alloc(B * K * sizeof(float));
    x->S = dh__alloc(B * C * sizeof(float)), x->Q = dh__alloc(B * C * sizeof(float));
    x->dF = dh__alloc(C * K * sizeof(float)), x->dH = dh__alloc(C * K * sizeof(float));
    x->nu = dh__alloc(B * sizeof(double)), x->nf = dh__alloc(C * sizeof(double));
    x->nh = dh__alloc(C * sizeof(double));
    return x->Uh && x->Bh && x->Fh && x->Ht && x->Hh && x->dX && x->S && x->Q && x->dF &&
           x->dH && x->nu && x->nf && x->nh;
}

/* One contrastive branch: S = Xh Ph^T / tau, weighted CE against Q, scaled by lam;
 * dXh (B x K) written, dPh (C x K) accumulated. Returns lam * mean loss. */
static double dp_branch(const float *Xh, const float *Ph, const float *Q, size_t B, size_t C,
                        size_t K, double tau, double lam, float *S, float *dXh, float *dPh)
{
    dh__gemm_nt(B, C, K, (float)(1.0 / tau), Xh, Ph, 0.0f, S);
    double v = dh__loss_softmax_ce(S, Q, B, C, lam / ((double)B * tau)) / (double)B;
    dh__gemm_nn(B, C, K, 1.0f, S, Ph, 0.0f, dXh);
    dh__gemm_tn(B, C, K, 1.0f, S, Xh, 1.0f, dPh);
    return lam * v;
}

static dh_status dp_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K, C = L->C;
    const float *F = L->t[0].data, *H = L->t[1].data, *w = L->t[2].data;
    const double tau = L->o.tau, lh = L->o.center_weight, la = L->o.pair_weight;
    dp_buf x;
    if (!dp_alloc(&x, B, C, K)) {
        dp_free(&x);
        return DH_E_NO_MEMORY;
    }
    for (size_t i = 0; i < C * K; i++) x.Ht[i] = tanhf(H[i]);
    const float isk = (float)(1.0 / sqrt((double)K));
    for (size_t i = 0; i < B * K; i++) x.Bh[i] = dh__sgn(b->U[i]) * isk; /* |b| = sqrt(K) */
    for (size_t i = 0; i < B; i++) x.nu[i] = sqrt((double)K);
    dh__row_normalise(F, C, K, x.Fh, x.nf);
    dh__row_normalise(x.Ht, C, K, x.Hh, x.nh);
    weighted_targets(L, b, w, x.Q);
    memset(x.dF, 0, C * K * sizeof(float));
    memset(x.dH, 0, C * K * sizeof(float));
    /* hash branch: sgn(u) vs tanh(H); straight-through: dL/du = dL/db, through b's
     * row normalisation (|b| = sqrt K, held in nu for now) */
    double v = 0;
    if (lh > 0) {
        v += dp_branch(x.Bh, x.Hh, x.Q, B, C, K, tau, lh, x.S, x.dX, x.dH);
        dh__row_normalise_back(x.Bh, x.nu, B, K, x.dX);
    } else {
        memset(x.dX, 0, B * K * sizeof(float));
    }
    /* feature branch: u vs F; dU through the row normalisation */
    dh__row_normalise(b->U, B, K, x.Uh, x.nu);
    v += dp_branch(x.Uh, x.Fh, x.Q, B, C, K, tau, 1.0, x.S, b->dU, x.dF);
    dh__row_normalise_back(x.Uh, x.nu, B, K, b->dU);
    for (size_t i = 0; i < B * K; i++) b->dU[i] += x.dX[i];
    /* alignment of the two proxy sets */
    double al = 0;
    for (size_t c = 0; c < C && la > 0; c++) {
        double dot = 0;
        for (size_t k = 0; k < K; k++) dot += (double)x.Fh[c * K + k] * x.Hh[c * K + k];
        al += 1 - dot;
        for (size_t k = 0; k < K; k++) {
            x.dF[c * K + k] -= (float)(la / (double)C * x.Hh[c * K + k]);
            x.dH[c * K + k] -= (float)(la / (double)C * x.Fh[c * K + k]);
        }
    }
    v += la * al / (double)C;
    dh__row_normalise_back(x.Fh, x.nf, C, K, x.dF);
    dh__row_normalise_back(x.Hh, x.nh, C, K, x.dH);
    memcpy(L->t[0].grad, x.dF, C * K * sizeof(float));
    for (size_t i = 0; i < C * K; i++)
        L->t[1].grad[i] = x.dH[i] * (1.0f - x.Ht[i] * x.Ht[i]);
    v += quant_term(b->U, B * K, L->o.quant_weight, b->dU);
    *value = v;
    dp_free(&x);
    return DH_OK;
}

const dh__loss_method dh__loss_dualproxy = {
    .name = "dualproxy",
    .summary = "Dual (feature + hash) class proxies, category-centred contrastive; "
               "libdh's reconstruction of ACHNet (IJCAI 2022) / DDPHN (ACM MM 2023)",
    .head = DH_LOSS_HEAD_TANH,
    .defaults = dp_defaults,
    .create = dp_create,
    .init = lt_init,
    .fb = dp_fb,
};
