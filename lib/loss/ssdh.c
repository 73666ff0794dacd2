/* lib/loss/ssdh.c -- SSDH (Yang et al., IJCAI 2018; docs/methods.md#ssdh): a pseudo
 * similarity from feature distances d = 1 - cos(f_i, f_j). The distances' histogram
 * (bins of 0.01) peaks at m*; the two halves, mirrored about m*, are fitted by
 * Gaussians (sigma_l, sigma_r), and pairs closer than m* - alpha sigma_l are similar
 * (+1), farther than m* + alpha sigma_r dissimilar (-1), the rest ignored (alpha = 2,
 * option margin). Loss on a batch with h = tanh(z) (head TANH):
 *   L = mean_ij |S_ij| (h_i . h_j / K - S_ij)^2.
 * The thresholds come from all pairs of min(N, 4096) seeded rows of the feature bank
 * (the paper uses all N^2 pairs; the estimate is what the batches then read) and are
 * kept as state "thresholds" [2] = (lo, hi). */
#include <string.h>

#include "loss/unsup.h"

#define SSDH_SAMPLE 4096
#define BIN_W 0.01
#define BIN_S0 (-1e-8)
#define N_BINS 202 /* d in [0, 2] */

typedef struct ssdh_priv {
    dh__featbank fb; /* first */
} ssdh_priv;

static void pick_rows(size_t N, size_t m, uint64_t seed, int64_t *rows)
{
    int64_t *all = dh__alloc(N * sizeof(int64_t));
    if (!all || m == N) {
        for (size_t i = 0; i < m; i++) rows[i] = (int64_t)i;
        dh__free(all);
        return;
    }
    for (size_t i = 0; i < N; i++) all[i] = (int64_t)i;
    uint64_t s = seed ^ 0x55D4u;
    for (size_t i = 0; i < m; i++) { /* partial Fisher-Yates */
        size_t j = i + (size_t)(dh__splitmix64(&s) % (N - i));
        int64_t t = all[i];
        all[i] = all[j], all[j] = t;
    }
    memcpy(rows, all, m * sizeof(int64_t));
    dh__free(all);
}

dh_status dh__ssdh_thresholds(const float *F, size_t N, size_t D, double alpha, uint64_t seed,
                              double *lo, double *hi)
{
    const size_t m = N < SSDH_SAMPLE ? N : SSDH_SAMPLE, blk = 256;
    int64_t *rows = dh__alloc(m * sizeof(int64_t));
    float *X = dh__alloc(m * D * sizeof(float)), *G = dh__alloc(blk * m * sizeof(float));
    double *nr = dh__alloc(m * sizeof(double)), *h = dh__calloc(3 * N_BINS, sizeof(double));
    dh_status st = DH_E_NO_MEMORY;
    if (!rows || !X || !G || !nr || !h) goto done;
    pick_rows(N, m, seed, rows);
    for (size_t i = 0; i < m; i++) memcpy(X + i * D, F + (size_t)rows[i] * D, D * sizeof(float));
    dh__row_normalise(X, m, D, X, nr);
    for (size_t r0 = 0; r0 < m; r0 += blk) {
        size_t nb = m - r0 < blk ? m - r0 : blk;
        dh__gemm_nt(nb, m, D, 1.0f, X + r0 * D, X, 0.0f, G);
        for (size_t t = 0; t < nb * m; t++) {
            double d = 1.0 - (double)G[t];
            long b = (long)floor((d - BIN_S0) / BIN_W);
            b = b < 0 ? 0 : b >= N_BINS ? N_BINS - 1 : b;
            h[b] += 1, h[N_BINS + b] += d, h[2 * N_BINS + b] += d * d;
        }
    }
    size_t best = 0;
    for (size_t b = 1; b < N_BINS; b++)
        if (h[b] > h[best]) best = b;
    const double ms = BIN_S0 + (double)best * BIN_W;
    double c[2] = {0, 0}, q[2] = {0, 0};
    for (size_t b = 0; b < N_BINS; b++) { /* sum (d - m*)^2 from the bin moments */
        int side = b >= best;
        c[side] += h[b];
        q[side] += h[2 * N_BINS + b] - 2 * ms * h[N_BINS + b] + ms * ms * h[b];
    }
    double sl = c[0] > 0 ? sqrt(q[0] / c[0]) : 0, sr = c[1] > 0 ? sqrt(q[1] / c[1]) : 0;
    *lo = ms - alpha * sl, *hi = ms + alpha * sr;
    st = DH_OK;
done:
    dh__free(rows), dh__free(X), dh__free(G), dh__free(nr), dh__free(h);
    return st;
}

static dh_status ssdh_refit(dh_loss *L)
{
    const dh__featbank *fb = L->priv;
    double lo, hi;
    DH_TRY(dh__ssdh_thresholds(fb->F, fb->N, fb->D, L->o.margin, L->o.seed, &lo, &hi));
    float *t = dh__loss_find(L, "thresholds")->data;
    t[0] = (float)lo, t[1] = (float)hi;
    return DH_OK;
}

static void ssdh_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->margin = 2.0; /* alpha = beta = 2 ("2 sigma") */
    o->variant = DH__FEATS_INPUT;
    o->update_every = 0;
}

static dh_status ssdh_create(dh_loss *L)
{
    DH_TRY(dh__unsup_feats_create(L));
    if (!(L->priv = dh__calloc(1, sizeof(ssdh_priv)))) return DH_E_NO_MEMORY;
    ((ssdh_priv *)L->priv)->fb.refit = ssdh_refit;
    return dh__loss_add_tensor(L, "thresholds", 1, 1, 2, 0, NULL);
}

static dh_status ssdh_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K;
    const float *th = dh__loss_find(L, "thresholds")->data;
    float *S = dh__alloc(B * B * sizeof(float)), *T = dh__alloc(B * B * sizeof(float));
    dh_status st = DH_E_NO_MEMORY;
    if (!S || !T) goto done;
    DH_TRY_GOTO(dh__unsup_feature_cos(L->priv, b->idx, B, S), done);
    dh__gemm_nt(B, B, K, (float)(1.0 / (double)K), b->U, b->U, 0.0f, T);
    double v = 0;
    const double nb = (double)B * (double)B;
    for (size_t i = 0; i < B * B; i++) {
        double d = 1.0 - (double)S[i], s = d < th[0] ? 1.0 : d > th[1] ? -1.0 : 0.0;
        double e = s != 0 ? (double)T[i] - s : 0.0;
        v += e * e;
        T[i] = (float)(2 * e / nb); /* dL/dtheta_ij */
    }
    memset(b->dU, 0, B * K * sizeof(float));
    st = dh__loss_sym_grad(T, b->U, B, K, (float)(1.0 / (double)K), b->dU);
    *value = v / nb;
done:
    dh__free(S), dh__free(T);
    return st;
}

const dh__loss_method dh__loss_ssdh = {
    .name = "ssdh",
    .summary = "SSDH (Yang et al., IJCAI 2018): similarity from feature-distance thresholds",
    .head = DH_LOSS_HEAD_TANH,
    .flags = DH_LOSS_FLAG_UNSUPERVISED | DH_LOSS_FLAG_FEATURES,
    .needs_index = 1,
    .defaults = ssdh_defaults,
    .create = ssdh_create,
    .fb = ssdh_fb,
    .destroy = dh__unsup_destroy_bank,
};
