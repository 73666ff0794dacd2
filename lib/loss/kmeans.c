/* lib/loss/kmeans.c -- k-means pseudo-labels hashed to hash centres (the two-stage
 * DU3H family, docs/methods.md#pseudo-labels). k-means (seeded k-means++ then Lloyd, distances from
 * one sgemm per pass: |x|^2 - 2 x.c + |c|^2) on the feature bank gives every training
 * sample a pseudo class among k = n_classes clusters (default 10); each cluster owns a
 * hash centre (Hadamard rows when K = 2^p and k <= 2K, else Gilbert-Varshamov
 * centres, lib/hash/centers.c) and the batch is trained with CSQ's centre loss
 * (z raw, u = tanh z: mean BCE((u+1)/2, (t+1)/2) + lambda mean (|u| - 1)^2). With
 * variant 1 (model features) the bank is refreshed and re-clustered every
 * update_every epochs; new clusters are matched to the old ones greedily by overlap,
 * so centres keep following the same groups. The labels are the state tensor
 * "pseudo_labels" [N] (cluster ids as floats; saved with the model, settable). Deterministic for a seed (k-means++
 * draws from the loss seed; ties go to the lower index). */
#include <string.h>

#include "loss/unsup.h"

#define KMEANS_ITERS 100

typedef struct kmeans_priv {
    dh__featbank fb; /* first */
    int32_t *assign; /* N pseudo labels of the last clustering */
} kmeans_priv;

/* d2[i] = min(d2[i], |x_i - c|^2) */
static void update_min(const float *X, size_t n, size_t d, const float *c, double *d2)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) {
            double t = (double)X[i * d + j] - c[j];
            s += t * t;
        }
        if (s < d2[i]) d2[i] = s;
    }
}

static void plusplus(const float *X, size_t n, size_t d, size_t k, uint64_t *rng, float *C,
                     double *d2)
{
    size_t first = (size_t)(dh__splitmix64(rng) % n);
    memcpy(C, X + first * d, d * sizeof(float));
    for (size_t i = 0; i < n; i++) d2[i] = INFINITY;
    update_min(X, n, d, C, d2);
    for (size_t c = 1; c < k; c++) {
        double tot = 0;
        for (size_t i = 0; i < n; i++) tot += d2[i];
        double r = dh__splitmix64_unif(rng) * tot, acc = 0;
        size_t pick = n - 1;
        for (size_t i = 0; i < n && tot > 0; i++) {
            acc += d2[i];
            if (acc > r) {
                pick = i;
                break;
            }
        }
        if (!(tot > 0)) pick = c % n; /* all points coincide with the centres */
        memcpy(C + c * d, X + pick * d, d * sizeof(float));
        update_min(X, n, d, C + c * d, d2);
    }
}

/* Assign to the nearest centre; returns the number of changed assignments, fills
 * d2 (distance to the own centre) and *inertia. G: n x k scratch. */
static size_t assign_step(const float *X, const double *xx, size_t n, size_t d, size_t k,
                          const float *C, float *G, int32_t *a, double *d2, double *inertia)
{
    double *cc = (double *)(G + n * k); /* k doubles after G */
    for (size_t c = 0; c < k; c++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) s += (double)C[c * d + j] * C[c * d + j];
        cc[c] = s;
    }
    dh__gemm_nt(n, k, d, 1.0f, X, C, 0.0f, G);
    size_t changed = 0;
    double in = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t best = 0;
        double bd = INFINITY;
        for (size_t c = 0; c < k; c++) {
            double v = xx[i] - 2.0 * G[i * k + c] + cc[c];
            if (v < bd) bd = v, best = (int32_t)c;
        }
        if (bd < 0) bd = 0;
        changed += a[i] != best;
        a[i] = best, d2[i] = bd, in += bd;
    }
    *inertia = in;
    return changed;
}

/* Centres = cluster means; an empty cluster takes the point farthest from its centre. */
static void update_step(const float *X, size_t n, size_t d, size_t k, int32_t *a, double *d2,
                        float *C, double *acc, size_t *cnt)
{
    memset(acc, 0, k * d * sizeof(double));
    memset(cnt, 0, k * sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        cnt[a[i]]++;
        for (size_t j = 0; j < d; j++) acc[(size_t)a[i] * d + j] += X[i * d + j];
    }
    for (size_t c = 0; c < k; c++) {
        if (cnt[c] == 0) {
            size_t far = 0;
            for (size_t i = 1; i < n; i++)
                if (d2[i] > d2[far]) far = i;
            memcpy(C + c * d, X + far * d, d * sizeof(float));
            d2[far] = 0, a[far] = (int32_t)c;
            continue;
        }
        for (size_t j = 0; j < d; j++) C[c * d + j] = (float)(acc[c * d + j] / (double)cnt[c]);
    }
}

dh_status dh__kmeans(const float *X, size_t n, size_t d, size_t k, uint64_t seed, int iters,
                     float *C, int32_t *assign, double *inertia)
{
    if (k == 0 || k > n)
        return dh__set_error(DH_E_INVALID_ARG, "k-means: k = %zu clusters for %zu points", k, n);
    double *xx = dh__alloc(n * sizeof(double)), *d2 = dh__alloc(n * sizeof(double));
    float *G = dh__alloc(n * k * sizeof(float) + k * sizeof(double) + 8);
    double *acc = dh__alloc(k * d * sizeof(double));
    size_t *cnt = dh__alloc(k * sizeof(size_t));
    dh_status st = DH_E_NO_MEMORY;
    if (!xx || !d2 || !G || !acc || !cnt) goto done;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) s += (double)X[i * d + j] * X[i * d + j];
        xx[i] = s;
    }
    uint64_t rng = seed ^ 0x6B6D65616E73ull;
    plusplus(X, n, d, k, &rng, C, d2);
    for (size_t i = 0; i < n; i++) assign[i] = -1;
    double in = 0;
    for (int it = 0; it < iters; it++) {
        size_t ch = assign_step(X, xx, n, d, k, C, G, assign, d2, &in);
        if (ch == 0) break;
        update_step(X, n, d, k, assign, d2, C, acc, cnt);
    }
    if (inertia) *inertia = in;
    st = DH_OK;
done:
    dh__free(xx), dh__free(d2), dh__free(G), dh__free(acc), dh__free(cnt);
    return st;
}

/* Relabel `a` so that cluster c maps to the old label it overlaps most (greedy on
 * the largest remaining overlap), keeping each centre on the same group. */
static dh_status match_clusters(const int32_t *old, int32_t *a, size_t n, size_t k)
{
    size_t *ov = dh__calloc(k * k, sizeof(size_t));
    int32_t *map = dh__alloc(k * sizeof(int32_t));
    uint8_t *used_new = dh__calloc(k, 1), *used_old = dh__calloc(k, 1);
    dh_status st = DH_E_NO_MEMORY;
    if (!ov || !map || !used_new || !used_old) goto done;
    for (size_t i = 0; i < n; i++) ov[(size_t)a[i] * k + (size_t)old[i]]++;
    for (size_t r = 0; r < k; r++) {
        size_t bn = 0, bo = 0, best = 0;
        int found = 0;
        for (size_t c = 0; c < k; c++)
            for (size_t o = 0; o < k; o++)
                if (!used_new[c] && !used_old[o] && (!found || ov[c * k + o] > best))
                    bn = c, bo = o, best = ov[c * k + o], found = 1;
        map[bn] = (int32_t)bo, used_new[bn] = used_old[bo] = 1;
    }
    for (size_t i = 0; i < n; i++) a[i] = map[a[i]];
    st = DH_OK;
done:
    dh__free(ov), dh__free(map), dh__free(used_new), dh__free(used_old);
    return st;
}

static dh_status kmeans_refit(dh_loss *L)
{
    kmeans_priv *p = L->priv;
    const size_t N = p->fb.N, D = p->fb.D, k = L->C;
    float *C = dh__alloc(k * D * sizeof(float));
    int32_t *a = dh__alloc(N * sizeof(int32_t));
    dh_status st = C && a ? DH_OK : DH_E_NO_MEMORY;
    if (st == DH_OK)
        st = dh__kmeans(p->fb.F, N, D, k, L->o.seed + (uint64_t)p->fb.fits, KMEANS_ITERS, C, a,
                        NULL);
    if (st == DH_OK && p->fb.fits > 0) st = match_clusters(p->assign, a, N, k);
    if (st == DH_OK) {
        memcpy(p->assign, a, N * sizeof(int32_t));
        float *pl = dh__loss_find(L, "pseudo_labels")->data; /* state: saved, settable */
        for (size_t i = 0; i < N; i++) pl[i] = (float)a[i];
    }
    dh__free(C), dh__free(a);
    return st;
}

static void kmeans_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->quant_weight = 1e-4;
    o->centers = DH_CENTERS_AUTO;
    o->variant = DH__FEATS_INPUT;
    o->update_every = 0;
}

static dh_status kmeans_create(dh_loss *L)
{
    DH_TRY(dh__unsup_feats_create(L));
    if (L->C > L->N)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(kmeans): %u clusters (n_classes) "
                             "for %zu training samples", L->C, L->N);
    kmeans_priv *p = dh__calloc(1, sizeof *p);
    if (!p) return DH_E_NO_MEMORY;
    L->priv = p;
    p->fb.refit = kmeans_refit;
    if (!(p->assign = dh__calloc(L->N, sizeof(int32_t)))) return DH_E_NO_MEMORY;
    DH_TRY(dh__loss_make_centers(L, L->o.centers));
    return dh__loss_add_tensor(L, "pseudo_labels", 1, 1, (int64_t)L->N, 0, NULL);
}

static void kmeans_destroy(dh_loss *L)
{
    kmeans_priv *p = L->priv;
    if (p) dh__free(p->assign);
    dh__unsup_destroy_bank(L);
}

static dh_status kmeans_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    const size_t B = b->B, K = L->K;
    const float *T = dh__loss_find(L, "centers")->data;
    const float *pl = dh__loss_find(L, "pseudo_labels")->data;
    for (size_t i = 0; i < B; i++) { /* the state may have been set by the caller */
        float c = pl[b->idx[i]];
        if (!(c >= 0 && c < (float)L->C && c == floorf(c)))
            return dh__set_error(DH_E_INVALID_ARG, "kmeans: pseudo_labels[%lld] = %g is not a "
                                 "cluster in 0..%u", (long long)b->idx[i], (double)c, L->C - 1);
    }
    const double nk = (double)B * (double)K, lam = L->o.quant_weight;
    double vc = 0, vq = 0;
    for (size_t i = 0; i < B; i++) {
        const float *t = T + (size_t)pl[b->idx[i]] * K;
        for (size_t k = 0; k < K; k++) {
            size_t r = i * K + k;
            double z = b->U[r], u = tanh(z), a = fabs(u) - 1;
            vc += dh__softplus(2 * z) - z * (t[k] + 1);
            vq += a * a;
            b->dU[r] = (float)((u - t[k]) / nk + lam * 2 / nk * a * dh__sign0(u) * (1 - u * u));
        }
    }
    *value = vc / nk + lam * vq / nk;
    return DH_OK;
}

const dh__loss_method dh__loss_kmeans = {
    .name = "kmeans",
    .summary = "k-means pseudo-labels hashed to Hadamard/GV centres (DU3H two-stage family)",
    .head = DH_LOSS_HEAD_IDENTITY,
    .flags = DH_LOSS_FLAG_UNSUPERVISED | DH_LOSS_FLAG_FEATURES,
    .needs_index = 1,
    .defaults = kmeans_defaults,
    .create = kmeans_create,
    .fb = kmeans_fb,
    .destroy = kmeans_destroy,
};
