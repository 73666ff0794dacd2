/* lib/loss/center.c -- class-label losses with a classifier or fixed targets:
 * GreedyHash (sign + straight-through + classifier), CSQ (hash centers + BCE in
 * logit form), DPN (polarisation hinge, optional adaptive centers).
 * docs/methods.md#greedyhash, #csq, #dpn. */
#include <string.h>

#include "loss/loss.h"

/* ======================================================================== */
/* GreedyHash                                                                   */
/* ======================================================================== */

static void greedy_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->quant_weight = 0.1;
}

static dh_status greedy_create(dh_loss *L)
{
    float *W;
    DH_TRY(dh__loss_add_tensor(L, "classifier.weight", 0, 2, L->C, L->K, &W));
    L->t[0].no_decay = 0;
    const double a = 1.0 / sqrt((double)L->K); /* nn.Linear's default bound */
    for (size_t i = 0; i < (size_t)L->C * L->K; i++)
        W[i] = (float)((2 * dh__splitmix64_unif(&L->rng) - 1) * a);
    return DH_OK;
}

static dh_status greedy_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K, C = L->C;
    const float *W = L->t[0].data;
    float *Bs = dh__alloc(B * K * sizeof(float)), *A = dh__alloc(B * C * sizeof(float));
    if (!Bs || !A) {
        dh__free(Bs), dh__free(A);
        return DH_E_NO_MEMORY;
    }
    for (size_t i = 0; i < B * K; i++) Bs[i] = dh__sgn(b->U[i]);
    dh__gemm_nt(B, C, K, 1.0f, Bs, W, 0.0f, A);
    double v = dh__loss_softmax_ce(A, b->Y, B, C, 1.0 / (double)B) / (double)B;
    dh__gemm_tn(B, C, K, 1.0f, A, Bs, 0.0f, L->t[0].grad); /* dW = dA^T b */
    dh__gemm_nn(B, C, K, 1.0f, A, W, 0.0f, b->dU);         /* straight-through */
    const double al = L->o.quant_weight, nk = (double)B * (double)K;
    double q = 0;
    for (size_t i = 0; i < B * K; i++) {
        double h = b->U[i], a = fabs(h) - 1;
        q += fabs(a) * a * a;
        b->dU[i] += (float)(3 * al / nk * a * a * dh__sign0(a) * dh__sign0(h));
    }
    *value = v + al * q / nk;
    dh__free(Bs), dh__free(A);
    return DH_OK;
}

const dh__loss_method dh__loss_greedyhash = {
    .name = "greedyhash",
    .summary = "GreedyHash (Su et al., NeurIPS 2018): sign forward, straight-through back",
    .head = DH_LOSS_HEAD_IDENTITY,
    .single_label = 1,
    .defaults = greedy_defaults,
    .create = greedy_create,
    .fb = greedy_fb,
};

/* ======================================================================== */
/* Centers shared by CSQ / DPN                                                  */
/* ======================================================================== */

/* "centers" (C x K) and "center_fill" (K, the tie filler of multi-label votes). */
dh_status dh__loss_make_centers(dh_loss *L, int32_t method)
{
    float *T, *fill;
    DH_TRY(dh__loss_add_tensor(L, "centers", 1, 2, L->C, L->K, &T));
    DH_TRY(dh__centers_generate(L->C, L->K, method, L->o.seed, T, NULL));
    DH_TRY(dh__loss_add_tensor(L, "center_fill", 1, 1, L->K, 0, &fill));
    for (size_t k = 0; k < L->K; k++) fill[k] = (dh__splitmix64(&L->rng) >> 63) ? 1.0f : -1.0f;
    return DH_OK;
}

/* Per-sample target rows (B x K): the class center, or the vote of several. */
static void targets(dh_loss *L, const dh__loss_batch *b, float *Tb)
{
    const float *T = dh__loss_find(L, "centers")->data, *fill = dh__loss_find(L, "center_fill")->data;
    const size_t K = L->K;
    for (size_t i = 0; i < b->B; i++) {
        if (b->cls) memcpy(Tb + i * K, T + (size_t)b->cls[i] * K, K * sizeof(float));
        else dh__loss_vote_center(T, b->Y + i * L->C, L->C, K, fill, Tb + i * K);
    }
}

/* ======================================================================== */
/* CSQ: input z (raw), u = tanh(z) inside; BCE in logit form + (|u| - 1)^2      */
/* ======================================================================== */

static void csq_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    o->quant_weight = 1e-4;
    /* Hadamard rows when possible, else Bernoulli with the min-distance check */
    o->centers = (K & (K - 1)) == 0 && C <= 2 * K ? DH_CENTERS_HADAMARD : DH_CENTERS_BERNOULLI;
}

static dh_status csq_create(dh_loss *L) { return dh__loss_make_centers(L, L->o.centers); }

static dh_status csq_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K;
    float *Tb = dh__alloc(B * K * sizeof(float));
    if (!Tb) return DH_E_NO_MEMORY;
    targets(L, b, Tb);
    const double nk = (double)B * (double)K, lam = L->o.quant_weight;
    double vc = 0, vq = 0;
    for (size_t i = 0; i < B * K; i++) {
        double z = b->U[i], u = tanh(z), t = Tb[i], a = fabs(u) - 1;
        vc += dh__softplus(2 * z) - z * (t + 1); /* 2 z (t+1)/2 */
        vq += a * a;
        b->dU[i] = (float)((u - t) / nk + lam * 2 / nk * a * dh__sign0(u) * (1 - u * u));
    }
    *value = vc / nk + lam * vq / nk;
    dh__free(Tb);
    return DH_OK;
}

const dh__loss_method dh__loss_csq = {
    .name = "csq",
    .summary = "Central Similarity Quantization (Yuan et al., CVPR 2020)",
    .head = DH_LOSS_HEAD_IDENTITY,
    .defaults = csq_defaults,
    .create = csq_create,
    .fb = csq_fb,
};

/* ======================================================================== */
/* DPN: per-bit hinge max(0, m - u T) summed over bits (and positive classes) / B */
/* ======================================================================== */

static void dpn_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->margin = 1.0;
    o->quant_weight = 0.0;
    o->centers = DH_CENTERS_BERNOULLI;
    o->update_every = 0;
}

static dh_status dpn_create(dh_loss *L)
{
    DH_TRY(dh__loss_make_centers(L, L->o.centers));
    if (L->o.update_every == 0) return DH_OK;
    if (L->N == 0)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(dpn): update_every > 0 (adaptive "
                             "centers) needs n_train for the code bank");
    DH_TRY(dh__loss_add_tensor(L, "bank", 1, 2, (int64_t)L->N, L->K, NULL));
    DH_TRY(dh__loss_add_tensor(L, "label_bank", 1, 2, (int64_t)L->N, L->C, NULL));
    return DH_OK;
}

/* DPN-A: T_c <- sgn(sum of sgn(u) over the banked samples of class c); a zero sum
 * keeps the old bit, a class without samples keeps its center. */
static dh_status dpn_epoch(dh_loss *L, int32_t e)
{
    if (L->o.update_every == 0 || e == 0 || e % L->o.update_every != 0 || L->frozen)
        return DH_OK;
    const size_t K = L->K, C = L->C, N = L->N;
    float *T = dh__loss_find(L, "centers")->data;
    const float *M = dh__loss_find(L, "bank")->data, *YM = dh__loss_find(L, "label_bank")->data;
    double *s = dh__alloc(K * sizeof(double));
    if (!s) return DH_E_NO_MEMORY;
    for (size_t c = 0; c < C; c++) {
        memset(s, 0, K * sizeof(double));
        for (size_t n = 0; n < N; n++)
            if (YM[n * C + c] > 0.5f)
                for (size_t k = 0; k < K; k++) s[k] += dh__sgn(M[n * K + k]);
        for (size_t k = 0; k < K; k++)
            if (s[k] != 0) T[c * K + k] = s[k] > 0 ? 1.0f : -1.0f;
    }
    dh__free(s);
    return DH_OK;
}

static dh_status dpn_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K, C = L->C;
    const float *T = dh__loss_find(L, "centers")->data;
    const double m = L->o.margin, reg = L->o.quant_weight, nk = (double)B * (double)K;
    if (L->o.update_every > 0) {
        if (!b->idx)
            return dh__set_error(DH_E_INVALID_ARG, "dpn with adaptive centers: indices are "
                                 "required");
        if (!L->frozen)
            dh__loss_bank_write(dh__loss_find(L, "bank")->data,
                                dh__loss_find(L, "label_bank")->data, b, K, C);
    }
    double v = 0, q = 0;
    for (size_t i = 0; i < B; i++) {
        const float *u = b->U + i * K;
        float *du = b->dU + i * K;
        for (size_t k = 0; k < K; k++) {
            q += (double)u[k] * u[k];
            du[k] = (float)(2 * reg * u[k] / nk);
        }
        for (size_t c = 0; c < C; c++) {
            if (b->Y[i * C + c] < 0.5f) continue;
            for (size_t k = 0; k < K; k++) {
                double h = m - (double)u[k] * T[c * K + k];
                if (h <= 0) continue;
                v += h;
                du[k] -= (float)(T[c * K + k] / (double)B);
            }
        }
    }
    *value = v / (double)B + reg * q / nk;
    return DH_OK;
}

const dh__loss_method dh__loss_dpn = {
    .name = "dpn",
    .summary = "Deep Polarized Network (Fan et al., IJCAI 2020)",
    .head = DH_LOSS_HEAD_IDENTITY,
    .defaults = dpn_defaults,
    .create = dpn_create,
    .epoch_begin = dpn_epoch,
    .fb = dpn_fb,
};
