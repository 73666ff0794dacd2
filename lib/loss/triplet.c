/* lib/loss/triplet.c -- triplet losses over all in-batch triplets: DTSH (triplet
 * likelihood on inner products, docs/methods.md#dtsh) and the plain hinge on squared
 * distances ("triplet"). */
#include <string.h>

#include "loss/loss.h"

static void dtsh_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->margin = 5.0;
    o->quant_weight = 1.0;
}

/* Per anchor i with both a similar and a dissimilar sample: P_i = {p : S_ip = 1}
 * (i itself included), N_i = {n : S_in = 0}, x = clamp(T_ip - T_in - a, -100, 50),
 * loss mean softplus(-x), anchors averaged. G receives dL/dTheta. */
static double dtsh_pairs(const float *T, const float *S, size_t B, double a, float *G)
{
    size_t n_anchor = 0;
    for (size_t i = 0; i < B; i++) {
        size_t np = 0;
        for (size_t j = 0; j < B; j++) np += S[i * B + j] > 0.5f;
        n_anchor += np > 0 && np < B;
    }
    double v = 0;
    for (size_t i = 0; i < B && n_anchor; i++) {
        const float *Ti = T + i * B, *Si = S + i * B;
        size_t np = 0;
        for (size_t j = 0; j < B; j++) np += Si[j] > 0.5f;
        if (np == 0 || np == B) continue;
        double w = 1.0 / ((double)np * (double)(B - np) * (double)n_anchor), va = 0;
        for (size_t p = 0; p < B; p++) {
            if (Si[p] < 0.5f) continue;
            for (size_t n = 0; n < B; n++) {
                if (Si[n] > 0.5f) continue;
                double x = (double)Ti[p] - Ti[n] - a;
                double xc = x < -100 ? -100 : x > 50 ? 50 : x;
                va += dh__softplus(-xc);
                if (x < -100 || x > 50) continue;
                double g = -dh__sigmoid(-xc) * w;
                G[i * B + p] += (float)g;
                G[i * B + n] -= (float)g;
            }
        }
        v += va * w;
    }
    return v;
}

static dh_status dtsh_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K;
    float *T = dh__alloc(B * B * sizeof(float)), *S = dh__alloc(B * B * sizeof(float));
    float *G = dh__calloc(B * B, sizeof(float));
    dh_status st = DH_E_NO_MEMORY;
    if (!T || !S || !G) goto done;
    dh__loss_similarity(b->Y, B, b->Y, B, L->C, S);
    dh__gemm_nt(B, B, K, 1.0f, b->U, b->U, 0.0f, T);
    double v = dtsh_pairs(T, S, B, L->o.margin, G);
    memset(b->dU, 0, B * K * sizeof(float));
    DH_TRY_GOTO(dh__loss_sym_grad(G, b->U, B, K, 1.0f, b->dU), done);
    const double lam = L->o.quant_weight, nk = (double)B * (double)K;
    double q = 0;
    for (size_t i = 0; i < B * K; i++) {
        double d = b->U[i] - dh__sgn(b->U[i]);
        q += d * d;
        b->dU[i] += (float)(2.0 * lam * d / nk);
    }
    *value = v + lam * q / nk;
    st = DH_OK;
done:
    dh__free(T), dh__free(S), dh__free(G);
    return st;
}

const dh__loss_method dh__loss_dtsh = {
    .name = "dtsh",
    .summary = "Deep Supervised Hashing with Triplet Labels (Wang et al., ACCV 2016)",
    .head = DH_LOSS_HEAD_IDENTITY,
    .defaults = dtsh_defaults,
    .fb = dtsh_fb,
};

/* ---- hinge: max(0, m + |u_a - u_p|^2 - |u_a - u_n|^2), mean over all triplets ---- */

static void triplet_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)C;
    o->margin = 0.5 * K; /* one eighth of the largest squared distance 4K */
}

static double triplet_pairs(const double *D, const float *S, size_t B, double m, float *G)
{
    double n_trip = 0;
    for (size_t a = 0; a < B; a++) {
        size_t np = 0;
        for (size_t j = 0; j < B; j++) np += S[a * B + j] > 0.5f && j != a;
        size_t nn = 0;
        for (size_t j = 0; j < B; j++) nn += S[a * B + j] < 0.5f;
        n_trip += (double)np * (double)nn;
    }
    if (n_trip == 0) return 0;
    double v = 0, w = 1.0 / n_trip;
    for (size_t a = 0; a < B; a++)
        for (size_t p = 0; p < B; p++) {
            if (p == a || S[a * B + p] < 0.5f) continue;
            for (size_t n = 0; n < B; n++) {
                if (S[a * B + n] > 0.5f) continue;
                double l = m + D[a * B + p] - D[a * B + n];
                if (l <= 0) continue;
                v += l;
                G[a * B + p] += (float)w;
                G[a * B + n] -= (float)w;
            }
        }
    return v * w;
}

static dh_status triplet_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K;
    double *D = dh__alloc(B * B * sizeof(double));
    float *S = dh__alloc(B * B * sizeof(float)), *G = dh__calloc(B * B, sizeof(float));
    double *rs = dh__calloc(B, sizeof(double));
    dh_status st = DH_E_NO_MEMORY;
    if (!D || !S || !G || !rs) goto done;
    dh__loss_similarity(b->Y, B, b->Y, B, L->C, S);
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++) {
            double d = 0;
            for (size_t k = 0; k < K; k++) {
                double e = (double)b->U[i * K + k] - b->U[j * K + k];
                d += e * e;
            }
            D[i * B + j] = d;
        }
    *value = triplet_pairs(D, S, B, L->o.margin, G);
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++) rs[i] += (double)G[i * B + j] + G[j * B + i];
    /* dU_i = 2 sum_j (G_ij + G_ji)(u_i - u_j) */
    memset(b->dU, 0, B * K * sizeof(float));
    DH_TRY_GOTO(dh__loss_sym_grad(G, b->U, B, K, -2.0f, b->dU), done);
    for (size_t i = 0; i < B; i++)
        for (size_t k = 0; k < K; k++) b->dU[i * K + k] += (float)(2.0 * rs[i] * b->U[i * K + k]);
    st = DH_OK;
done:
    dh__free(D), dh__free(S), dh__free(G), dh__free(rs);
    return st;
}

const dh__loss_method dh__loss_triplet = {
    .name = "triplet",
    .summary = "Triplet hinge on squared distances of tanh codes (batch-all)",
    .head = DH_LOSS_HEAD_TANH,
    .defaults = triplet_defaults,
    .fb = triplet_fb,
};
