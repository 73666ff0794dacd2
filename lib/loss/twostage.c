/* lib/loss/twostage.c -- "codes first, regress second" (CNNH, docs/methods.md#twostage):
 * dh_twostage_solve_codes learns target codes from the label similarity alone, and
 * the "twostage" loss regresses the network's tanh outputs onto them by index. */
#include <string.h>

#include "loss/loss.h"

#define TWOSTAGE_MAX_N 16384

static double sq_mean(const float *L, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n * n; i++) s += (double)L[i] * L[i];
    return s / ((double)n * (double)n);
}

/* One sweep of coordinate Newton steps on f(H) = |H H^T - K S~|^2, rows in random
 * order and the K coordinates of a row in random order. The row part of each
 * update is applied at once; the (symmetric) column part is collected in `delta`
 * and applied when the row is done (rows other than i read it only later). */
static void cnnh_sweep(float *H, float *L, double *hh, size_t n, size_t K, uint64_t *rng,
                       size_t *perm_n, size_t *perm_k, double *delta)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(dh__splitmix64(rng) % i), t = perm_n[i - 1];
        perm_n[i - 1] = perm_n[j], perm_n[j] = t;
    }
    for (size_t pi = 0; pi < n; pi++) {
        size_t i = perm_n[pi];
        float *Li = L + i * n;
        memset(delta, 0, n * sizeof(double));
        for (size_t q = K; q > 1; q--) {
            size_t j = (size_t)(dh__splitmix64(rng) % q), t = perm_k[q - 1];
            perm_k[q - 1] = perm_k[j], perm_k[j] = t;
        }
        for (size_t q = 0; q < K; q++) {
            size_t j = perm_k[q];
            double g = 0, hij = H[i * K + j];
            for (size_t r = 0; r < n; r++) g += (double)Li[r] * H[r * K + j];
            g *= 4;
            double g2 = 4 * (hh[j] + hij * hij + Li[i]);
            if (g2 <= 0) continue;
            double d = -g / g2, lo = -1 - hij, hi = 1 - hij;
            d = d < lo ? lo : d > hi ? hi : d;
            if (d == 0) continue;
            for (size_t r = 0; r < n; r++) {
                double e = d * H[r * K + j];
                Li[r] += (float)e;
                if (r != i) delta[r] += e;
            }
            Li[i] += (float)(d * hij + d * d);
            H[i * K + j] = (float)(hij + d);
            hh[j] += (hij + d) * (hij + d) - hij * hij;
        }
        for (size_t r = 0; r < n; r++)
            if (r != i) L[r * n + i] += (float)delta[r];
    }
}

dh_status dh_twostage_solve_codes(const float *labels, size_t n, uint32_t C, uint32_t K,
                                  uint32_t sweeps, uint64_t seed, float *out)
{
    DH_CHECK_ARG(labels != NULL && out != NULL);
    DH_CHECK_ARG_MSG(n >= 1 && n <= TWOSTAGE_MAX_N, "dh_twostage_solve_codes: n = %zu not in "
                     "1..%d (the solver keeps an n x n matrix)", n, TWOSTAGE_MAX_N);
    DH_CHECK_ARG_MSG(C >= 1 && C <= 65536 && dh__bits_valid(K) && sweeps <= 1000,
                     "dh_twostage_solve_codes: n_classes %u, n_bits %u or sweeps %u out of "
                     "range", C, K, sweeps);
    for (size_t i = 0; i < n * C; i++)
        if (labels[i] != 0.0f && labels[i] != 1.0f)
            return dh__set_error(DH_E_INVALID_ARG, "dh_twostage_solve_codes: labels[%zu][%zu] = "
                                 "%g is not 0 or 1", i / C, i % C, (double)labels[i]);
    if (sweeps == 0) sweeps = 10;
    float *L = dh__alloc(n * n * sizeof(float)), *L0 = dh__alloc(n * n * sizeof(float));
    float *H = dh__alloc(n * K * sizeof(float)), *H0 = dh__alloc(n * K * sizeof(float));
    double *hh = dh__calloc(K, sizeof(double)), *delta = dh__alloc(n * sizeof(double));
    size_t *pn = dh__alloc(n * sizeof(size_t)), *pk = dh__alloc(K * sizeof(size_t));
    dh_status st = DH_E_NO_MEMORY;
    if (!L || !L0 || !H || !H0 || !hh || !delta || !pn || !pk) goto done;
    uint64_t rng = seed ^ 0x243f6a8885a308d3ull;
    for (size_t i = 0; i < n * K; i++) H[i] = (float)(2 * dh__splitmix64_unif(&rng) - 1);
    for (size_t i = 0; i < n; i++) pn[i] = i;
    for (size_t k = 0; k < K; k++) pk[k] = k;
    dh__loss_similarity(labels, n, labels, n, C, L);
    dh__gemm_nt(n, n, K, 1.0f, H, H, -2.0f * (float)K, L); /* H H^T - 2K S */
    for (size_t i = 0; i < n * n; i++) L[i] += (float)K;     /* ... + K = H H^T - K(2S - 1) */
    double f = sq_mean(L, n);
    for (uint32_t t = 0; t < sweeps; t++) {
        memcpy(L0, L, n * n * sizeof(float));
        memcpy(H0, H, n * K * sizeof(float));
        memset(hh, 0, K * sizeof(double));
        for (size_t i = 0; i < n * K; i++) hh[i % K] += (double)H[i] * H[i];
        cnnh_sweep(H, L, hh, n, K, &rng, pn, pk, delta);
        double f1 = sq_mean(L, n);
        if (!(f1 < f)) { /* no progress: revert the sweep and stop */
            memcpy(L, L0, n * n * sizeof(float));
            memcpy(H, H0, n * K * sizeof(float));
            break;
        }
        f = f1;
    }
    for (size_t i = 0; i < n * K; i++) out[i] = dh__sgn(H[i]);
    st = DH_OK;
done:
    dh__free(L), dh__free(L0), dh__free(H), dh__free(H0), dh__free(hh), dh__free(delta);
    dh__free(pn), dh__free(pk);
    return st;
}

/* ---- the regression loss ------------------------------------------------- */

static void ts_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->sweeps = 10;
}

static dh_status ts_create(dh_loss *L)
{
    return dh__loss_add_tensor(L, "targets", 1, 2, (int64_t)L->N, L->K, NULL);
}

static dh_status ts_init(dh_loss *L)
{
    if (!L->train_Y) return DH_OK;
    return dh_twostage_solve_codes(L->train_Y, L->N, L->C, L->K, (uint32_t)L->o.sweeps,
                                   L->o.seed, dh__loss_find(L, "targets")->data);
}

static dh_status ts_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K;
    const float *T = dh__loss_find(L, "targets")->data;
    const double nk = (double)B * (double)K;
    double v = 0;
    for (size_t i = 0; i < B; i++) {
        const float *t = T + (size_t)b->idx[i] * K;
        if (t[0] == 0.0f)
            return dh__set_error(DH_E_STATE, "twostage: no target code for training item %lld; "
                                 "call dh_loss_init with the training labels (or set the "
                                 "'targets' tensor)", (long long)b->idx[i]);
        for (size_t k = 0; k < K; k++) {
            double d = (double)b->U[i * K + k] - t[k];
            v += d * d;
            b->dU[i * K + k] = (float)(2 * d / nk);
        }
    }
    *value = v / nk;
    return DH_OK;
}

const dh__loss_method dh__loss_twostage = {
    .name = "twostage",
    .summary = "CNNH-style two-stage hashing (Xia et al., AAAI 2014): solve codes, regress",
    .head = DH_LOSS_HEAD_TANH,
    .needs_index = 1,
    .defaults = ts_defaults,
    .create = ts_create,
    .init = ts_init,
    .fb = ts_fb,
};
