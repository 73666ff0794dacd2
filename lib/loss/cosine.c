/* lib/loss/cosine.c -- cosine losses against fixed codebooks: OrthoHash (cosine /
 * angular margin cross-entropy, docs/methods.md#orthohash) and MDSH (centers at the Gilbert-
 * Varshamov distance, softmax-BCE center loss + bank pair term, docs/methods.md#mdsh). */
#include <string.h>

#include "loss/loss.h"

/* Back-propagate g (dL/dcos_ic, B x C) through cos_ic = v_i.T_c / (|v_i|_eps sqrt K). */
static void cos_backward(const float *U, const float *T, const float *G, const float *Cs,
                         const double *nr, size_t B, size_t C, size_t K, float *dU)
{
    const double sk = sqrt((double)K);
    for (size_t i = 0; i < B; i++) {
        const float *u = U + i * K;
        double gc = 0;
        for (size_t c = 0; c < C; c++) gc += (double)G[i * C + c] * Cs[i * C + c];
        for (size_t k = 0; k < K; k++) {
            double s = 0;
            for (size_t c = 0; c < C; c++) s += (double)G[i * C + c] * T[c * K + k];
            double d = s / (nr[i] * sk);
            if (nr[i] > 1e-12) d -= gc * u[k] / (nr[i] * nr[i]);
            dU[i * K + k] += (float)d;
        }
    }
}

/* ======================================================================== */
/* OrthoHash                                                                    */
/* ======================================================================== */

static void ortho_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->scale = 8.0;
    o->margin = 0.2;
    o->quant_weight = 0.0;
    o->centers = DH_CENTERS_BERNOULLI;
    o->variant = 0;
}

static dh_status ortho_create(dh_loss *L) { return dh__loss_make_centers(L, L->o.centers); }

/* Logits a_ic from cosines (B x C); G receives da/dcos. */
static void ortho_logits(const dh_loss *L, const float *Y, const float *Cs, size_t B, float *A,
                         float *G)
{
    const size_t C = L->C;
    const double s = L->o.scale, m = L->o.margin;
    for (size_t i = 0; i < B * C; i++) {
        double c = Cs[i], y = Y[i];
        if (L->o.variant == 0) {
            A[i] = (float)(s * (c - m * y));
            G[i] = (float)s;
        } else {
            double cl = c > 0.99999 ? 0.99999 : c < -0.99999 ? -0.99999 : c;
            double th = acos(cl) + m * y;
            A[i] = (float)(s * cos(th));
            G[i] = cl == c ? (float)(s * sin(th) / sqrt(1 - cl * cl)) : 0.0f;
        }
    }
}

static dh_status ortho_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K, C = L->C;
    const float *T = dh__loss_find(L, "centers")->data;
    float *Cs = dh__alloc(B * C * sizeof(float)), *A = dh__alloc(B * C * sizeof(float));
    float *G = dh__alloc(B * C * sizeof(float)), *Q = dh__alloc(B * C * sizeof(float));
    double *nr = dh__alloc(B * sizeof(double));
    dh_status st = DH_E_NO_MEMORY;
    if (!Cs || !A || !G || !Q || !nr) goto done;
    dh__row_norms(b->U, B, K, 1e-12, nr);
    dh__gemm_nt(B, C, K, 1.0f, b->U, T, 0.0f, Cs);
    for (size_t i = 0; i < B; i++) {
        double ys = 0;
        for (size_t c = 0; c < C; c++) ys += b->Y[i * C + c];
        for (size_t c = 0; c < C; c++) {
            Cs[i * C + c] = (float)(Cs[i * C + c] / (nr[i] * sqrt((double)K)));
            Q[i * C + c] = ys > 0 ? (float)(b->Y[i * C + c] / ys) : 0.0f; /* no label: skipped */
        }
    }
    ortho_logits(L, b->Y, Cs, B, A, G);
    double v = dh__loss_softmax_ce(A, Q, B, C, 1.0 / (double)B) / (double)B;
    for (size_t i = 0; i < B * C; i++) G[i] *= A[i]; /* dL/dcos */
    memset(b->dU, 0, B * K * sizeof(float));
    cos_backward(b->U, T, G, Cs, nr, B, C, K, b->dU);
    const double qw = L->o.quant_weight, sk = sqrt((double)K);
    if (qw > 0)
        for (size_t i = 0; i < B; i++) { /* mean_i (1 - cos(v_i, sgn v_i)), sgn detached */
            const float *u = b->U + i * K;
            double a = 0;
            for (size_t k = 0; k < K; k++) a += fabs(u[k]);
            double c = a / (nr[i] * sk);
            v += qw * (1 - c) / (double)B;
            for (size_t k = 0; k < K; k++) {
                double d = dh__sgn(u[k]) / (nr[i] * sk) - (nr[i] > 1e-12 ? c * u[k] / (nr[i] * nr[i]) : 0);
                b->dU[i * K + k] -= (float)(qw * d / (double)B);
            }
        }
    *value = v;
    st = DH_OK;
done:
    dh__free(Cs), dh__free(A), dh__free(G), dh__free(Q), dh__free(nr);
    return st;
}

const dh__loss_method dh__loss_orthohash = {
    .name = "orthohash",
    .summary = "OrthoHash: one loss for all (Hoe et al., NeurIPS 2021)",
    .head = DH_LOSS_HEAD_BN,
    .defaults = ortho_defaults,
    .create = ortho_create,
    .fb = ortho_fb,
};

/* ======================================================================== */
/* MDSH                                                                         */
/* ======================================================================== */

static void mdsh_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->centers = DH_CENTERS_GV;
    o->center_weight = 10.0;
    o->pair_weight = 1.0;
    o->quant_weight = 1e-4;
}

static dh_status mdsh_create(dh_loss *L)
{
    DH_TRY(dh__loss_make_centers(L, L->o.centers));
    if (L->N == 0) return DH_OK; /* no pair term without a bank */
    DH_TRY(dh__loss_add_tensor(L, "bank", 1, 2, (int64_t)L->N, L->K, NULL));
    DH_TRY(dh__loss_add_tensor(L, "label_bank", 1, 2, (int64_t)L->N, L->C, NULL));
    return DH_OK;
}

/* Softmax-BCE over classes for one row: p = softmax(a);
 * L = -sum_c [y log p + (1-y) log(1-p)] * scale; a is replaced by dL/da. log(1 - p)
 * is exact also when p rounds to 1 (sum of the other exponentials). l1: C scratch. */
static double softmax_bce_row(float *a, const float *y, size_t C, double scale, double *l1)
{
    double mx = a[0], s = 0, ys = 0, ws = 0, v = 0;
    for (size_t c = 1; c < C; c++) mx = a[c] > mx ? a[c] : mx;
    for (size_t c = 0; c < C; c++) s += exp((double)a[c] - mx);
    const double lse = mx + log(s);
    for (size_t c = 0; c < C; c++) {
        double lp = (double)a[c] - lse, p = exp(lp);
        if (p < 0.5) {
            l1[c] = log1p(-p);
        } else {
            double so = 0;
            for (size_t j = 0; j < C; j++)
                if (j != c) so += exp((double)a[j] - mx);
            l1[c] = (so > 0 ? mx + log(so) : -745.0) - lse;
        }
        v -= y[c] * lp + (1 - y[c]) * l1[c];
        ys += y[c];
        ws += (1 - y[c]) * exp(lp - l1[c]); /* p / (1 - p) on negatives */
    }
    /* dL/da_j = -(y_j - p_j sum y - w_j + p_j sum w), w_c = (1 - y_c) p_c / (1 - p_c) */
    for (size_t c = 0; c < C; c++) {
        double lp = (double)a[c] - lse, p = exp(lp);
        double w = (1 - y[c]) * exp(lp - l1[c]);
        a[c] = (float)(-scale * (y[c] - p * ys - w + p * ws));
    }
    return v * scale;
}

static dh_status mdsh_pair(dh_loss *L, const dh__loss_batch *b, const float *F, float *dF,
                           double *value)
{
    const size_t B = b->B, K = L->K, N = L->N, C = L->C;
    float *M = dh__loss_find(L, "bank")->data, *YM = dh__loss_find(L, "label_bank")->data;
    float *P = dh__alloc(B * N * sizeof(float)), *S = dh__alloc(B * N * sizeof(float));
    if (!P || !S) {
        dh__free(P), dh__free(S);
        return DH_E_NO_MEMORY;
    }
    size_t s1 = dh__loss_similarity(b->Y, B, YM, N, C, S);
    dh__gemm_nt(B, N, K, 1.0f, F, M, 0.0f, P);
    double v = 0, w = L->o.pair_weight / (double)(s1 ? s1 : 1);
    for (size_t i = 0; i < B * N; i++) {
        if (S[i] < 0.5f) {
            P[i] = 0;
            continue;
        }
        double x = (1 - (double)P[i]) / 2;
        v += dh__softplus(x);
        P[i] = (float)(-0.5 * dh__sigmoid(x) * w);
    }
    dh__gemm_nn(B, N, K, 1.0f, P, M, 1.0f, dF);
    *value += v * w;
    dh__free(P), dh__free(S);
    return DH_OK;
}

static dh_status mdsh_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K, C = L->C;
    const float *T = dh__loss_find(L, "centers")->data;
    float *F = dh__alloc(B * K * sizeof(float)), *dF = dh__calloc(B * K, sizeof(float));
    float *A = dh__alloc(B * C * sizeof(float));
    double *nr = dh__alloc(B * sizeof(double)), *l1 = dh__alloc(C * sizeof(double));
    dh_status st = DH_E_NO_MEMORY;
    if (!F || !dF || !A || !nr || !l1) goto done;
    dh__row_norms(b->U, B, K, 1e-12, nr);
    for (size_t i = 0; i < B * K; i++) F[i] = (float)(b->U[i] / nr[i / K]);
    dh__gemm_nt(B, C, K, 1.0f, F, T, 0.0f, A); /* sqrt(K) f^ . t/sqrt(K) */
    double v = 0, cw = L->o.center_weight;
    for (size_t i = 0; i < B; i++)
        v += softmax_bce_row(A + i * C, b->Y + i * C, C, cw / ((double)B * (double)C), l1);
    dh__gemm_nn(B, C, K, 1.0f, A, T, 0.0f, dF);
    int pair = L->N > 0 && b->idx && L->epoch >= 1 && L->o.pair_weight > 0;
    if (L->N > 0 && b->idx && !L->frozen) {
        dh__loss_batch fb = *b;
        fb.U = F;
        dh__loss_bank_write(dh__loss_find(L, "bank")->data, dh__loss_find(L, "label_bank")->data,
                            &fb, K, C);
    }
    if (pair) DH_TRY_GOTO(mdsh_pair(L, b, F, dF, &v), done);
    /* back through f^ = u / |u| */
    const double qw = L->o.quant_weight, nk = (double)B * (double)K;
    for (size_t i = 0; i < B; i++) {
        double dot = 0;
        for (size_t k = 0; k < K; k++) dot += (double)F[i * K + k] * dF[i * K + k];
        for (size_t k = 0; k < K; k++) {
            size_t ik = i * K + k;
            double u = b->U[ik], a = fabs(u) - 1;
            double d = (dF[ik] - (nr[i] > 1e-12 ? F[ik] * dot : 0)) / nr[i];
            v += qw * a * a / nk;
            b->dU[ik] = (float)(d + qw * 2 * a * dh__sign0(u) / nk);
        }
    }
    *value = v;
    st = DH_OK;
done:
    dh__free(F), dh__free(dF), dh__free(A), dh__free(nr), dh__free(l1);
    return st;
}

const dh__loss_method dh__loss_mdsh = {
    .name = "mdsh",
    .summary = "Hash centers with a minimum distance (Wang et al., CVPR 2023)",
    .head = DH_LOSS_HEAD_TANH,
    .defaults = mdsh_defaults,
    .create = mdsh_create,
    .fb = mdsh_fb,
};
