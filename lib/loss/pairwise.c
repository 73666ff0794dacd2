/* lib/loss/pairwise.c -- pairwise similarity losses: DPSH (memory bank), HashNet
 * (weighted likelihood + tanh continuation), DCH (Cauchy), DSH (margin contrastive).
 * Formulas, normalisers and defaults: docs/methods.md#dpsh, #hashnet, #dch, #dsh. */
#include <string.h>

#include "loss/loss.h"

/* ======================================================================== */
/* DPSH: Theta = 1/2 U M^T against a bank M (N x K) of the last outputs seen.   */
/* ======================================================================== */

static void dpsh_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->quant_weight = 50.0; /* official lambda (eta) with the 1/(N B) normaliser */
}

static dh_status dpsh_create(dh_loss *L)
{
    DH_TRY(dh__loss_add_tensor(L, "bank", 1, 2, (int64_t)L->N, L->K, NULL));
    DH_TRY(dh__loss_add_tensor(L, "label_bank", 1, 2, (int64_t)L->N, L->C, NULL));
    return DH_OK;
}

static dh_status dpsh_init(dh_loss *L)
{
    if (L->train_Y)
        memcpy(dh__loss_find(L, "label_bank")->data, L->train_Y, L->N * L->C * sizeof(float));
    return DH_OK;
}

static dh_status dpsh_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K, N = L->N, C = L->C;
    float *M = dh__loss_find(L, "bank")->data, *YM = dh__loss_find(L, "label_bank")->data;
    /* rows are constants in backward, including those just written (docs/methods.md#memory-bank) */
    if (!L->frozen) dh__loss_bank_write(M, YM, b, K, C);
    float *T = dh__alloc(B * N * sizeof(float)), *S = dh__alloc(B * N * sizeof(float));
    if (!T || !S) {
        dh__free(T), dh__free(S);
        return DH_E_NO_MEMORY;
    }
    dh__loss_similarity(b->Y, B, YM, N, C, S);
    dh__gemm_nt(B, N, K, 0.5f, b->U, M, 0.0f, T);
    const double norm = 1.0 / ((double)N * (double)B), lam = L->o.quant_weight;
    /* B x N terms (1.28M per batch at N = 10k): one expf per pair gives softplus and
     * sigmoid together, and the log1p terms of softplus = max(th, 0) + log(1 + e) are
     * summed as one log of a product per 64 pairs (each factor is in (1, 2], so the
     * product stays below 2^64). Three double exp/log1p calls per pair were most of
     * DPSH's step time. */
    const float hn = (float)(0.5 * norm);
    double v = 0;
    for (size_t r = 0; r < B; r++) {
        float *Tr = T + r * N;
        const float *Sr = S + r * N;
        double vr = 0, prod = 1;
        for (size_t j = 0; j < N; j++) {
            float th = Tr[j], e = expf(-fabsf(th)), d = 1.0f / (1.0f + e);
            float sg = th >= 0 ? d : e * d;
            vr += (double)((th > 0 ? th : 0.0f) - Sr[j] * th);
            prod *= 1.0 + (double)e;
            if ((j & 63) == 63) vr += log(prod), prod = 1;
            Tr[j] = (sg - Sr[j]) * hn; /* dL/dTheta * 1/2 */
        }
        v += vr + log(prod);
    }
    memset(b->dU, 0, B * K * sizeof(float));
    dh__gemm_nn(B, N, K, 1.0f, T, M, 0.0f, b->dU);
    double q = 0;
    for (size_t i = 0; i < B * K; i++) {
        double d = b->U[i] - dh__sgn(b->U[i]);
        q += d * d;
        b->dU[i] += (float)(2.0 * lam * norm * d);
    }
    *value = v * norm + lam * norm * q;
    dh__free(T), dh__free(S);
    return DH_OK;
}

const dh__loss_method dh__loss_dpsh = {
    .name = "dpsh",
    .summary = "Deep Pairwise-Supervised Hashing (Li et al., IJCAI 2016)",
    .head = DH_LOSS_HEAD_IDENTITY,
    .needs_index = 1,
    .defaults = dpsh_defaults,
    .create = dpsh_create,
    .init = dpsh_init,
    .fb = dpsh_fb,
};

/* ======================================================================== */
/* HashNet                                                                      */
/* ======================================================================== */

static void hashnet_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)C;
    o->scale = 10.0 / K; /* official alpha; swuxyj uses 0.1 */
    o->variant = 0;      /* in-batch, weights |S|/|S1| and |S|/|S0| (the paper's w_ij) */
    o->schedule = 1;     /* official per-iteration continuation */
    o->pos_weight = 1.0;
}

/* Official continuation: the t-th training forward (1-based) uses
 * beta = sqrt(1 + 0.005 t) whenever t % 200 == 0. The head runs before the loss, so
 * after call t we publish the beta the head must use for call t + 1. */
static void hashnet_beta(dh_loss *L)
{
    int64_t next = L->iter + 2; /* L->iter counts the calls before this one */
    if (L->o.schedule == 1 && next % 200 == 0) L->beta = (float)sqrt(1.0 + 0.005 * (double)next);
}

static dh_status hashnet_epoch(dh_loss *L, int32_t e)
{
    if (L->o.schedule == 0) L->beta = (float)sqrt((double)(e / 20 + 1));
    return DH_OK;
}

static dh_status hashnet_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K;
    const int two = L->o.variant == 1 && B >= 2;
    const size_t n1 = two ? B / 2 : B, n2 = two ? B - B / 2 : B;
    const float *U1 = b->U, *U2 = two ? b->U + n1 * K : b->U;
    const float *Y2 = two ? b->Y + n1 * L->C : b->Y;
    float *T = dh__alloc(n1 * n2 * sizeof(float)), *S = dh__alloc(n1 * n2 * sizeof(float));
    if (!T || !S) {
        dh__free(T), dh__free(S);
        return DH_E_NO_MEMORY;
    }
    size_t s1 = dh__loss_similarity(b->Y, n1, Y2, n2, L->C, S), s0 = n1 * n2 - s1;
    const double a = L->o.scale, wp = L->o.pos_weight;
    double c1, c0; /* per-pair weights; an empty class of pairs is dropped (docs/methods.md#hashnet) */
    if (!two) {
        c1 = s1 ? 1.0 / (double)s1 : 0;
        c0 = s0 ? 1.0 / (double)s0 : 0;
    } else {
        c1 = wp / (wp * (double)s1 + (double)s0);
        c0 = 1.0 / (wp * (double)s1 + (double)s0);
    }
    dh__gemm_nt(n1, n2, K, (float)a, U1, U2, 0.0f, T);
    double v = 0;
    for (size_t i = 0; i < n1 * n2; i++) {
        double th = T[i], s = S[i], c = s > 0.5 ? c1 : c0;
        v += c * (dh__softplus(th) - s * th);
        T[i] = (float)(a * c * (dh__sigmoid(th) - s));
    }
    memset(b->dU, 0, B * K * sizeof(float));
    if (!two) {
        dh__gemm_nn(B, B, K, 2.0f, T, b->U, 0.0f, b->dU); /* G symmetric: 2 alpha G U */
    } else {
        dh__gemm_nn(n1, n2, K, 1.0f, T, U2, 0.0f, b->dU);
        dh__gemm_tn(n1, n2, K, 1.0f, T, U1, 0.0f, b->dU + n1 * K);
    }
    *value = v;
    dh__free(T), dh__free(S);
    if (!L->frozen) hashnet_beta(L);
    return DH_OK;
}

const dh__loss_method dh__loss_hashnet = {
    .name = "hashnet",
    .summary = "HashNet: deep learning to hash by continuation (Cao et al., ICCV 2017)",
    .head = DH_LOSS_HEAD_SCALED_TANH,
    .defaults = hashnet_defaults,
    .epoch_begin = hashnet_epoch,
    .fb = hashnet_fb,
};

/* ======================================================================== */
/* DCH: Cauchy cross-entropy on d = K/2 (1 - min(cos, 0.99)) + Cauchy quantisation */
/* ======================================================================== */

static void dch_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->gamma = 20.0;
    o->quant_weight = 0.1;
}

/* Quantisation q_i = log(1 + d(|u_i|, 1)/gamma); adds its gradient to dU. */
static double dch_quant(const dh__loss_batch *b, size_t K, double g, double lam, float *dU)
{
    const size_t B = b->B;
    const double sk = sqrt((double)K);
    double v = 0;
    for (size_t i = 0; i < B; i++) {
        const float *u = b->U + i * K;
        double a = 0, n2 = 0;
        for (size_t k = 0; k < K; k++) a += fabs(u[k]), n2 += (double)u[k] * u[k];
        double nr = sqrt(n2) * sk, den = nr > 1e-4 ? nr : 1e-4, c = a / den;
        double cc = c < 0.99 ? c : 0.99, d = 0.5 * (double)K * (1 - cc);
        v += log1p(d / g);
        if (c >= 0.99) continue;
        double gd = lam / (double)B / (g + d) * (-0.5 * (double)K); /* dL/dc */
        for (size_t k = 0; k < K; k++) {
            double dc = dh__sign0(u[k]) / den - (nr > 1e-4 ? c * u[k] / n2 : 0);
            dU[i * K + k] += (float)(gd * dc);
        }
    }
    return lam * v / (double)B;
}

static dh_status dch_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K;
    const double g = L->o.gamma, BB = (double)B * (double)B;
    float *P = dh__alloc(B * B * sizeof(float)), *S = dh__alloc(B * B * sizeof(float));
    double *nr = dh__alloc(B * sizeof(double)), *dg = dh__calloc(B, sizeof(double));
    dh_status st = DH_E_NO_MEMORY;
    if (!P || !S || !nr || !dg) goto done;
    size_t s1 = dh__loss_similarity(b->Y, B, b->Y, B, L->C, S), s0 = B * B - s1;
    double w1 = 1, w0 = 1;
    if (s1 && s0) w1 = BB / (double)s1, w0 = BB / (double)s0;
    dh__row_norms(b->U, B, K, 0.0, nr);
    dh__gemm_nt(B, B, K, 1.0f, b->U, b->U, 0.0f, P);
    double v = 0;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++) {
            size_t ij = i * B + j;
            double p = nr[i] * nr[j], den = p > 1e-4 ? p : 1e-4, c = P[ij] / den;
            double s = S[ij], d = 0.5 * (double)K * (1 - (c < 0.99 ? c : 0.99));
            double w = s > 0.5 ? w1 : w0;
            v += w * (s * log(d / g) + log1p(g / d));
            double gd = s > 0.5 ? 1 / (d + g) : -g / (d * (d + g));
            double G = c < 0.99 ? w / BB * gd * (-0.5 * (double)K) : 0; /* dL/dcos_ij */
            /* dcos/du_i = u_j/den - [p > eps] cos u_i/|u_i|^2; P becomes the u_j coefficient */
            P[ij] = (float)(G / den);
            if (p > 1e-4) dg[i] += G * c / (nr[i] * nr[i]), dg[j] += G * c / (nr[j] * nr[j]);
        }
    memset(b->dU, 0, B * K * sizeof(float));
    DH_TRY_GOTO(dh__loss_sym_grad(P, b->U, B, K, 1.0f, b->dU), done);
    for (size_t i = 0; i < B; i++)
        for (size_t k = 0; k < K; k++) b->dU[i * K + k] -= (float)(dg[i] * b->U[i * K + k]);
    *value = v / BB + dch_quant(b, K, g, L->o.quant_weight, b->dU);
    st = DH_OK;
done:
    dh__free(P), dh__free(S), dh__free(nr), dh__free(dg);
    return st;
}

const dh__loss_method dh__loss_dch = {
    .name = "dch",
    .summary = "Deep Cauchy Hashing (Cao et al., CVPR 2018), cosine form",
    .head = DH_LOSS_HEAD_IDENTITY,
    .defaults = dch_defaults,
    .fb = dch_fb,
};

/* ======================================================================== */
/* DSH: contrastive with margin m on squared distances + L1 pull of |u| to 1    */
/* ======================================================================== */

static void dsh_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)C;
    o->margin = 2.0 * K;
    o->quant_weight = 0.01;
}

static dh_status dsh_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K;
    const double m = L->o.margin, al = L->o.quant_weight, BB = (double)B * (double)B;
    float *P = dh__alloc(B * B * sizeof(float)), *S = dh__alloc(B * B * sizeof(float));
    double *n2 = dh__alloc(B * sizeof(double)), *rs = dh__calloc(B, sizeof(double));
    dh_status st = DH_E_NO_MEMORY;
    if (!P || !S || !n2 || !rs) goto done;
    dh__loss_similarity(b->Y, B, b->Y, B, L->C, S);
    dh__gemm_nt(B, B, K, 1.0f, b->U, b->U, 0.0f, P);
    for (size_t i = 0; i < B; i++) n2[i] = P[i * B + i];
    double v = 0;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++) {
            size_t ij = i * B + j;
            double D = n2[i] + n2[j] - 2.0 * P[ij];
            if (i == j || D < 0) D = 0;
            double c; /* dL/dD_ij */
            if (S[ij] > 0.5) {
                v += 0.5 * D;
                c = 0.5;
            } else {
                v += 0.5 * (m - D > 0 ? m - D : 0);
                c = m - D > 0 ? -0.5 : 0;
            }
            /* dD_ij/du_i = 2(u_i - u_j), and D_ij = D_ji: both ends get it */
            P[ij] = (float)(c / BB);
            rs[i] += c / BB, rs[j] += c / BB;
        }
    /* dU_i = 2 sum_j (G_ij + G_ji)(u_i - u_j) = 2 (rowsum_i u_i - (G + G^T) U) */
    memset(b->dU, 0, B * K * sizeof(float));
    DH_TRY_GOTO(dh__loss_sym_grad(P, b->U, B, K, -2.0f, b->dU), done);
    double q = 0;
    for (size_t i = 0; i < B; i++)
        for (size_t k = 0; k < K; k++) {
            double u = b->U[i * K + k], a = fabs(u) - 1;
            q += fabs(a);
            b->dU[i * K + k] += (float)(2.0 * rs[i] * u + 2.0 * al / (double)B *
                                                            dh__sign0(a) * dh__sign0(u));
        }
    *value = v / BB + 2.0 * al * q / (double)B;
    st = DH_OK;
done:
    dh__free(P), dh__free(S), dh__free(n2), dh__free(rs);
    return st;
}

const dh__loss_method dh__loss_dsh = {
    .name = "dsh",
    .summary = "Deep Supervised Hashing (Liu et al., CVPR 2016)",
    .head = DH_LOSS_HEAD_IDENTITY,
    .defaults = dsh_defaults,
    .fb = dsh_fb,
};
