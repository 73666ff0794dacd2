/* lib/model/fmap_pool.h -- feature-map pooling for fine-grained hashing (docs/methods.md#fine-grained):
 * the stage between an encoder's last feature map and the hash head of a model built
 * with dh_model_options.fmap_pool. Internal; the public switch is DH_FMAP_POOL_*.
 *
 * F [n, C, P] (P = h w positions) -> Z [n, Dz]:
 *   GAP   Z = g,                       g = (1/P) sum_p F(:, p)                Dz = C
 *   ATTN  Z = [g; l_1; ...; l_T]       (SEMICON-lite, fmap_pool.c)            Dz = C (T + 1)
 *         s_k(p) = w_k . X_k(:, p) + b_k,  a_k = softmax_p(s_k),  l_k = sum_p a_k(p) F(:, p)
 *         X_1 = F, X_{k+1} = X_k (2 - M_k): M_k = clip((a_k - mean a_k) / std(a_k)^0.15 + 1, 0, 2)
 *         per image, no gradient through M_k (suppresses what a_k found salient)
 *   PART  Z = [g; l_1; ...; l_M]       (ExchNet-style, fmap_part.c)           Dz = C (M + 1)
 *         s_m(p) = w_m . F(:, p) + b_m, a_m = softmax_p(s_m), l_m = sum_p a_m(p) F(:, p)
 *         aux loss  lambda (1/n) sum_i (1 - mean_{m<m'} H(a_m, a_m')),  H = Hellinger
 * Parameters "fmap.weight" [T, C] and "fmap.bias" [T] (group head). Backward writes dF
 * and accumulates the parameter gradients; PART adds the aux loss's gradient. */
#ifndef DH_MODEL_FMAP_POOL_H
#define DH_MODEL_FMAP_POOL_H

#include "core/core.h"
#include "core/param.h"
#include "core/rng.h"

#define DH__FMAP_MAX_PARTS 16u
#define DH__FMAP_MASK_EXP 0.15 /* SEMICON's code (the paper says 0.3) */

typedef struct dh__fmap_pool {
    int32_t type;               /* DH_FMAP_POOL_GAP / _ATTN / _PART */
    int32_t freeze_mask;        /* tests: reuse the last masks (ATTN) in forward */
    size_t C, P, T, Dz;         /* channels, positions, maps (0 for GAP), output width */
    float aux_weight;           /* PART diversity weight */
    float *w, *b, *gw, *gb;     /* [T, C], [T] */
    dh__param params[2];
    size_t n_params;
    /* caches of the last training forward, capacity cap rows */
    float *f;                   /* [n, C, P] copy of F */
    float *att;                 /* [n, T, P] softmax maps a_k */
    float *scale;               /* ATTN: [n, T, P] prod_{j<k} (2 - M_j) */
    float *mask;                /* ATTN: [n, T, P] M_k */
    size_t cap, n_rows;
    int32_t pending;            /* 1 after a training forward, until backward */
    double aux_value;           /* PART aux loss of the last training forward */
} dh__fmap_pool;

/** Create a pool for a C x h x w feature map. parts: T (ATTN) or M (PART), 0 = the
 *  default (3 / 4), ignored by GAP. Weights ~ U(-1/sqrt(C), 1/sqrt(C)) from seed (a
 *  1x1 convolution's PyTorch default), biases 0. */
dh_status dh__fmap_pool_create(int32_t type, size_t C, size_t h, size_t w, uint32_t parts,
                               float aux_weight, uint64_t seed, dh__fmap_pool **out);
void dh__fmap_pool_free(dh__fmap_pool *p);
/** Parameters ("fmap.weight", "fmap.bias"; none for GAP). Borrowed. */
size_t dh__fmap_pool_params(dh__fmap_pool *p, dh__param **out);
void dh__fmap_pool_zero_grad(dh__fmap_pool *p);
/** F [n, C, P] -> Z [n, Dz]. training = 1 keeps what backward needs. */
dh_status dh__fmap_pool_forward(dh__fmap_pool *p, const float *F, size_t n, int32_t training,
                                float *Z);
/** dZ [n, Dz] -> dF [n, C, P] (overwritten); parameter gradients accumulate. */
dh_status dh__fmap_pool_backward(dh__fmap_pool *p, const float *dZ, float *dF);
/** PART: diversity loss of the last training forward (already weighted); else 0. */
double dh__fmap_pool_aux_loss(const dh__fmap_pool *p);
/** Attention / part maps [n, T, P] of the last forward (training or not). */
const float *dh__fmap_pool_maps(const dh__fmap_pool *p, size_t *n_rows, size_t *n_maps);

/* shared by head_attn.c and head_part.c */
/** PART diversity of one image's maps att [M, P]: returns weight x L; when dh is not
 *  NULL adds weight x h_j (h_j = a_j dL/da_j) to dh [M, P]. */
double dh__fmap_part_diversity(const float *att, size_t M, size_t P, double weight, double *dh);
/** Softmax backward in place: h_j = a_j dL/da_j  ->  ds_j = h_j - a_j sum_i h_i. */
void dh__fmap_softmax_backward(const float *a, size_t P, double *h);

#endif
