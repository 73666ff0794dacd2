/* lib/model/fmap_pool.c -- feature-map pools (GAP, SEMICON-lite attention, parts) between
 * an encoder's last feature map and the hash head; formulas in head_attn.h.
 *
 * Everything runs per image on [C, P] slices in double accumulators; the work is
 * O(n T C P) (smallcnn: 3 x 64 x 49 per image), negligible next to the encoder, so the
 * loops stay plain C and serial (parameter gradients accumulate across images). */
#include "model/fmap_pool.h"

#include <math.h>
#include <string.h>

#define MAX_ROWS ((size_t)1 << 24)

static size_t default_parts(int32_t type) { return type == DH_FMAP_POOL_ATTN ? 3 : 4; }

static dh_status alloc_params(dh__fmap_pool *p, uint64_t seed)
{
    size_t tc = p->T * p->C;
    p->w = dh__calloc(tc, sizeof(float));
    p->gw = dh__calloc(tc, sizeof(float));
    p->b = dh__calloc(p->T, sizeof(float));
    p->gb = dh__calloc(p->T, sizeof(float));
    if (!p->w || !p->gw || !p->b || !p->gb) return DH_E_NO_MEMORY;
    dh__xrng r;
    dh__xrng_seed(&r, seed);
    double bound = 1.0 / sqrt((double)p->C);
    for (size_t i = 0; i < tc; i++) p->w[i] = (float)((2 * dh__xrng_uniform(&r) - 1) * bound);
    p->params[0] = (dh__param){.name = "fmap.weight", .data = p->w, .grad = p->gw, .n = tc,
                               .ndim = 2, .shape = {(int64_t)p->T, (int64_t)p->C}};
    p->params[1] = (dh__param){.name = "fmap.bias", .data = p->b, .grad = p->gb, .n = p->T,
                               .ndim = 1, .shape = {(int64_t)p->T}, .no_decay = 1};
    p->n_params = 2;
    return DH_OK;
}

dh_status dh__fmap_pool_create(int32_t type, size_t C, size_t h, size_t w, uint32_t parts,
                               float aux_weight, uint64_t seed, dh__fmap_pool **out)
{
    *out = NULL;
    DH_CHECK_ARG_MSG(type >= DH_FMAP_POOL_GAP && type <= DH_FMAP_POOL_PART,
                     "fmap_pool %d is not a DH_FMAP_POOL_* value", (int)type);
    DH_CHECK_ARG_MSG(C >= 1 && h >= 1 && w >= 1 && C <= (1u << 16) && h * w <= (1u << 20),
                     "feature map %zu x %zu x %zu is empty or too large", C, h, w);
    DH_CHECK_ARG_MSG(parts <= DH__FMAP_MAX_PARTS, "fmap_parts %u is outside 0..%u", parts,
                     DH__FMAP_MAX_PARTS);
    DH_CHECK_ARG_MSG(isfinite(aux_weight) && aux_weight >= 0 && aux_weight <= 1e4,
                     "fmap_aux_weight %g must be in [0, 1e4]", (double)aux_weight);
    dh__fmap_pool *p = dh__calloc(1, sizeof *p);
    if (!p) return DH_E_NO_MEMORY;
    p->type = type;
    p->C = C;
    p->P = h * w;
    p->T = type == DH_FMAP_POOL_GAP ? 0 : parts ? parts : default_parts(type);
    p->Dz = C * (p->T + 1);
    p->aux_weight = aux_weight;
    if (p->T > 0 && alloc_params(p, seed) != DH_OK) {
        dh__fmap_pool_free(p);
        return DH_E_NO_MEMORY;
    }
    *out = p;
    return DH_OK;
}

void dh__fmap_pool_free(dh__fmap_pool *p)
{
    if (!p) return;
    dh__free(p->w), dh__free(p->b), dh__free(p->gw), dh__free(p->gb);
    dh__free(p->f), dh__free(p->att), dh__free(p->scale), dh__free(p->mask);
    dh__free(p);
}

size_t dh__fmap_pool_params(dh__fmap_pool *p, dh__param **out)
{
    if (out) *out = p->n_params ? p->params : NULL;
    return p->n_params;
}

void dh__fmap_pool_zero_grad(dh__fmap_pool *p)
{
    if (p->T == 0) return;
    memset(p->gw, 0, p->T * p->C * sizeof(float));
    memset(p->gb, 0, p->T * sizeof(float));
}

double dh__fmap_pool_aux_loss(const dh__fmap_pool *p) { return p ? p->aux_value : 0; }

const float *dh__fmap_pool_maps(const dh__fmap_pool *p, size_t *n_rows, size_t *n_maps)
{
    if (n_rows) *n_rows = p && p->att ? p->n_rows : 0;
    if (n_maps) *n_maps = p ? p->T : 0;
    return p ? p->att : NULL;
}

static dh_status reserve(dh__fmap_pool *p, size_t n)
{
    if (n <= p->cap) return DH_OK;
    size_t tp = p->T * p->P;
    dh__free(p->f), dh__free(p->att), dh__free(p->scale), dh__free(p->mask);
    p->f = dh__calloc(n, p->C * p->P * sizeof(float));
    p->att = tp ? dh__calloc(n, tp * sizeof(float)) : NULL;
    p->scale = tp ? dh__calloc(n, tp * sizeof(float)) : NULL;
    p->mask = tp ? dh__calloc(n, tp * sizeof(float)) : NULL;
    p->cap = p->f && (!tp || (p->att && p->scale && p->mask)) ? n : 0;
    return p->cap ? DH_OK : DH_E_NO_MEMORY;
}

void dh__fmap_softmax(const double *s, size_t P, float *a)
{
    double mx = s[0], sum = 0;
    for (size_t j = 1; j < P; j++) mx = s[j] > mx ? s[j] : mx;
    for (size_t j = 0; j < P; j++) sum += exp(s[j] - mx);
    for (size_t j = 0; j < P; j++) a[j] = (float)(exp(s[j] - mx) / sum);
}

/* SEMICON's suppression mask of one softmax map, from this image's statistics
 * (unbiased std, as torch.std). A flat map (std 0) gives M = 1: no suppression. */
static void make_mask(const float *a, size_t P, float *M)
{
    double mean = 0, var = 0;
    for (size_t j = 0; j < P; j++) mean += a[j];
    mean /= (double)P;
    for (size_t j = 0; j < P; j++) var += ((double)a[j] - mean) * ((double)a[j] - mean);
    double sd = P > 1 ? sqrt(var / (double)(P - 1)) : 0;
    double den = sd > 0 ? pow(sd, DH__FMAP_MASK_EXP) : 0;
    for (size_t j = 0; j < P; j++) {
        double v = den > 0 ? ((double)a[j] - mean) / den + 1 : 1;
        M[j] = (float)(v < 0 ? 0 : v > 2 ? 2 : v);
    }
}

/* One image: f [C, P] -> z [(T + 1) C]; att, S, M [T, P]; s [P] scratch. */
static void forward_one(const dh__fmap_pool *p, const float *f, float *z, float *att, float *S,
                        float *M, int32_t reuse_mask, double *s)
{
    size_t C = p->C, P = p->P;
    for (size_t c = 0; c < C; c++) {
        double acc = 0;
        for (size_t j = 0; j < P; j++) acc += f[c * P + j];
        z[c] = (float)(acc / (double)P);
    }
    for (size_t k = 0; k < p->T; k++) {
        float *a = att + k * P, *Sk = S + k * P;
        const float *wk = p->w + k * C;
        for (size_t j = 0; j < P; j++)
            Sk[j] = k == 0 ? 1.0f : S[(k - 1) * P + j] * (2.0f - M[(k - 1) * P + j]);
        for (size_t j = 0; j < P; j++) s[j] = 0;
        for (size_t c = 0; c < C; c++)
            for (size_t j = 0; j < P; j++) s[j] += (double)wk[c] * f[c * P + j];
        for (size_t j = 0; j < P; j++) s[j] = s[j] * Sk[j] + p->b[k];
        dh__fmap_softmax(s, P, a);
        float *zk = z + (k + 1) * C;
        for (size_t c = 0; c < C; c++) {
            double acc = 0;
            for (size_t j = 0; j < P; j++) acc += (double)a[j] * f[c * P + j];
            zk[c] = (float)acc;
        }
        if (p->type == DH_FMAP_POOL_ATTN && !reuse_mask) make_mask(a, P, M + k * P);
        if (p->type != DH_FMAP_POOL_ATTN)
            for (size_t j = 0; j < P; j++) M[k * P + j] = 1.0f; /* 2 - M = 1: no suppression */
    }
}

dh_status dh__fmap_pool_forward(dh__fmap_pool *p, const float *F, size_t n, int32_t training,
                                float *Z)
{
    DH_CHECK_ARG(p != NULL && F != NULL && Z != NULL && n >= 1 && n <= MAX_ROWS);
    size_t CP = p->C * p->P, TP = p->T * p->P;
    int32_t reuse = p->freeze_mask && training && p->mask && p->n_rows == n;
    if (training) {
        DH_TRY(reserve(p, n));
    }
    double *s = dh__calloc(p->P, sizeof(double));
    float *loc = training || TP == 0 ? NULL : dh__calloc(3 * TP, sizeof(float));
    if (!s || (!training && TP && !loc)) {
        dh__free(s), dh__free(loc);
        return DH_E_NO_MEMORY;
    }
    double aux = 0;
    for (size_t i = 0; i < n; i++) {
        const float *f = F + i * CP;
        float *att = training ? p->att + i * TP : loc, *S = training ? p->scale + i * TP : loc + TP;
        float *M = training ? p->mask + i * TP : loc + 2 * TP;
        forward_one(p, f, Z + i * p->Dz, att, S, M, reuse, s);
        if (training) memcpy(p->f + i * CP, f, CP * sizeof(float));
        if (training && p->type == DH_FMAP_POOL_PART && p->aux_weight > 0)
            aux += dh__fmap_part_diversity(att, p->T, p->P, p->aux_weight, NULL);
    }
    dh__free(s), dh__free(loc);
    if (training) {
        p->n_rows = n;
        p->pending = 1;
        p->aux_value = aux / (double)n;
    }
    return DH_OK;
}

/* One image: dz [(T + 1) C] -> df [C, P]; h [P] scratch per map. */
static void backward_one(dh__fmap_pool *p, size_t i, const float *dz, float *df, double *h,
                         double aux_scale)
{
    size_t C = p->C, P = p->P, TP = p->T * P;
    const float *f = p->f + i * C * P, *att = p->att + i * TP, *S = p->scale + i * TP;
    for (size_t c = 0; c < C; c++)
        for (size_t j = 0; j < P; j++) df[c * P + j] = dz[c] / (float)P;
    memset(h, 0, TP * sizeof(double));
    if (p->type == DH_FMAP_POOL_PART && aux_scale > 0)
        (void)dh__fmap_part_diversity(att, p->T, P, aux_scale, h);
    for (size_t k = 0; k < p->T; k++) {
        const float *a = att + k * P, *Sk = S + k * P, *dl = dz + (k + 1) * C;
        const float *wk = p->w + k * C;
        double *hk = h + k * P;
        for (size_t c = 0; c < C; c++)
            for (size_t j = 0; j < P; j++) {
                df[c * P + j] += a[j] * dl[c];
                hk[j] += (double)a[j] * dl[c] * f[c * P + j];
            }
        dh__fmap_softmax_backward(a, P, hk); /* hk = ds, d loss / d logits */
        double gb = 0;
        for (size_t j = 0; j < P; j++) gb += hk[j], hk[j] *= Sk[j]; /* now d / d (w . f) */
        p->gb[k] += (float)gb;
        for (size_t c = 0; c < C; c++) {
            double gw = 0;
            for (size_t j = 0; j < P; j++) {
                gw += hk[j] * f[c * P + j];
                df[c * P + j] += (float)(hk[j] * wk[c]);
            }
            p->gw[k * C + c] += (float)gw;
        }
    }
}

dh_status dh__fmap_pool_backward(dh__fmap_pool *p, const float *dZ, float *dF)
{
    DH_CHECK_ARG(p != NULL && dZ != NULL && dF != NULL);
    if (!p->pending)
        return dh__set_error(DH_E_STATE, "feature-map pool: backward without a training forward");
    double *h = dh__calloc(p->T * p->P + 1, sizeof(double));
    if (!h) return DH_E_NO_MEMORY;
    double aux_scale = (double)p->aux_weight / (double)p->n_rows;
    for (size_t i = 0; i < p->n_rows; i++)
        backward_one(p, i, dZ + i * p->Dz, dF + i * p->C * p->P, h, aux_scale);
    dh__free(h);
    p->pending = 0;
    return DH_OK;
}
