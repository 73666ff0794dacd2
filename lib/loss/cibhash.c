/* lib/loss/cibhash.c -- CIBHash (Qiu et al., IJCAI 2021; docs/methods.md#cibhash): two
 * augmented views of every image, Bernoulli probabilities q = sigmoid(a), binary codes
 * z = sgn(q - xi) with a straight-through backward (dz/dq := I), NT-Xent between the
 * views' codes (temperature tau) plus beta * the symmetric Bernoulli KL between the
 * views' probabilities (each side against a stop-gradient copy of the other).
 *
 * Batch layout: U (2n x K) = [a of view 1; a of view 2], row i and row i + n are the
 * two views of one image. variant 0 (default): xi ~ U(0, 1) drawn from the loss's
 * generator, as the paper samples stochastic bits; variant 1: xi = 1/2, the released
 * code's deterministic threshold (z = sgn(a)). */
#include <string.h>

#include "loss/unsup.h"

#define KL_EPS 1e-8

/* NT-Xent of Z (M = 2n rows, row i's positive is i +- n): returns the value and
 * writes dZ (M x K). Zh: M x K scratch, G: M x M scratch, nr: M. */
double dh__ntxent(const float *Z, size_t M, size_t K, double tau, float *dZ, float *Zh,
                  float *G, double *nr)
{
    const size_t n = M / 2;
    dh__row_normalise(Z, M, K, Zh, nr);
    dh__gemm_nt(M, M, K, (float)(1.0 / tau), Zh, Zh, 0.0f, G); /* s_ij */
    double v = 0;
    for (size_t i = 0; i < M; i++) {
        float *g = G + i * M;
        size_t pos = i < n ? i + n : i - n;
        double mx = -INFINITY, s = 0;
        for (size_t j = 0; j < M; j++)
            if (j != i && g[j] > mx) mx = g[j];
        for (size_t j = 0; j < M; j++)
            if (j != i) s += exp((double)g[j] - mx);
        double lse = mx + log(s);
        v += lse - g[pos];
        for (size_t j = 0; j < M; j++)
            g[j] = j == i ? 0.0f
                          : (float)((exp((double)g[j] - lse) - (j == pos ? 1.0 : 0.0)) /
                                    (double)M);
    }
    /* dZh = (G + G^T) Zh / tau, then through the row normalisation */
    memset(dZ, 0, M * K * sizeof(float));
    dh_status st = dh__loss_sym_grad(G, Zh, M, K, (float)(1.0 / tau), dZ);
    if (st != DH_OK) return NAN;
    dh__row_normalise_back(Zh, nr, M, K, dZ);
    return v / (double)M;
}

/* KL(p || q) per element with the reference's epsilon, and its derivative in p. */
static double kl_elem(double p, double q, double *dp)
{
    *dp = log(p + KL_EPS) + p / (p + KL_EPS) - log(q + KL_EPS) - log(1 - p + KL_EPS) -
          (1 - p) / (1 - p + KL_EPS) + log(1 - q + KL_EPS);
    return p * log(p + KL_EPS) - p * log(q + KL_EPS) + (1 - p) * log(1 - p + KL_EPS) -
           (1 - p) * log(1 - q + KL_EPS);
}

/* 1/2 [KL(q1 || sg q2) + KL(q2 || sg q1)] averaged over the n images; dQ (2n x K)
 * receives d/dq of that (each side's partner held constant). */
double dh__bernoulli_kl_sym(const float *Q, size_t n, size_t K, float *dQ)
{
    double v = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < K; k++) {
            double p1 = Q[i * K + k], p2 = Q[(i + n) * K + k], d1, d2;
            v += 0.5 * (kl_elem(p1, p2, &d1) + kl_elem(p2, p1, &d2));
            dQ[i * K + k] = (float)(0.5 * d1 / (double)n);
            dQ[(i + n) * K + k] = (float)(0.5 * d2 / (double)n);
        }
    return v / (double)n;
}

static void cib_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->tau = 0.3;
    o->quant_weight = 0.001; /* beta of the KL term */
    o->variant = 0;
}

static dh_status cib_create(dh_loss *L)
{
    if (L->o.variant > 1)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(cibhash): variant %d (0 "
                             "stochastic bits, 1 threshold)", L->o.variant);
    return DH_OK;
}

static dh_status cib_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t M = b->B, K = L->K, n = M / 2;
    float *q = dh__alloc(M * K * sizeof(float)), *z = dh__alloc(M * K * sizeof(float));
    float *dz = dh__alloc(M * K * sizeof(float)), *dq = dh__alloc(M * K * sizeof(float));
    float *Zh = dh__alloc(M * K * sizeof(float)), *G = dh__alloc(M * M * sizeof(float));
    double *nr = dh__alloc(M * sizeof(double));
    dh_status st = DH_E_NO_MEMORY;
    if (!q || !z || !dz || !dq || !Zh || !G || !nr) goto done;
    uint64_t rng = L->rng;
    for (size_t i = 0; i < M * K; i++) {
        q[i] = (float)dh__sigmoid(b->U[i]);
        double xi = L->o.variant == 1 ? 0.5 : dh__splitmix64_unif(&rng);
        z[i] = (double)q[i] - xi >= 0 ? 1.0f : -1.0f;
    }
    if (!L->frozen) L->rng = rng;
    double v = dh__ntxent(z, M, K, L->o.tau, dz, Zh, G, nr);
    st = isnan(v) ? DH_E_NO_MEMORY : DH_OK;
    if (st != DH_OK) goto done;
    const double beta = L->o.quant_weight;
    double kl = dh__bernoulli_kl_sym(q, n, K, dq);
    for (size_t i = 0; i < M * K; i++) /* straight-through, then dq/da = q (1 - q) */
        b->dU[i] = (float)(((double)dz[i] + beta * dq[i]) * q[i] * (1.0 - q[i]));
    *value = v + beta * kl;
done:
    dh__free(q), dh__free(z), dh__free(dz), dh__free(dq), dh__free(Zh), dh__free(G),
        dh__free(nr);
    return st;
}

const dh__loss_method dh__loss_cibhash = {
    .name = "cibhash",
    .summary = "CIBHash (Qiu et al., IJCAI 2021): two views, NT-Xent on stochastic codes + KL",
    .head = DH_LOSS_HEAD_IDENTITY,
    .flags = DH_LOSS_FLAG_UNSUPERVISED | DH_LOSS_FLAG_TWO_VIEWS,
    .defaults = cib_defaults,
    .create = cib_create,
    .fb = cib_fb,
};
