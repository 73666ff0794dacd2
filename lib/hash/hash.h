/* lib/hash/hash.h -- hash heads (internal interface; the public one is dh_head in dh.h).
 *
 * A head maps features F [n, D] to continuous codes U [n, K]:
 *   z = F W^T (+ b)            W [K, D] ("head.weight"), b [K] ("head.bias")
 *   u = act(z)                 identity | tanh | tanh(beta z) | sgn(z) (STE) | BN1d(z)
 * Parameters are exposed as dh__param (lib/core/param.h) so the optimizer, the model
 * files and the tests treat them like encoder parameters. The loss centers
 * (centers.c, the loss helper's file) also live in this folder. */
#ifndef DH_HASH_H
#define DH_HASH_H

#include "core/core.h"
#include "core/param.h"
#include "core/rng.h"

/** The head's parameters and buffers in a fixed order: head.weight, head.bias (when
 *  present), head.bn.{weight,bias,running_mean,running_var,num_batches_tracked} for
 *  DH_HEAD_BN. Borrowed; valid for the head's lifetime. Returns the count. */
size_t dh__head_params(dh_head *h, dh__param **out);

/** Pre-activation z [n, K] of the last forward (n = *n_rows), e.g. for GreedyHash's
 *  |h| - 1 penalty, which needs z while its classifier reads sgn(z). Borrowed, valid
 *  until the next forward. NULL before the first forward. */
const float *dh__head_preact(const dh_head *h, size_t *n_rows);

/** The options the head was created with (struct_size = this library's). */
const dh_head_options *dh__head_options(const dh_head *h);

/** Zero the head's parameter gradients. */
void dh__head_zero_grad(dh_head *h);

/* ---- BatchNorm1d over the K outputs (head_bn.c), PyTorch semantics ----
 * training: batch mean and biased variance normalise; running statistics move by
 * `momentum` with the unbiased variance. stats: mean [K] and inv_std [K] (cached
 * for backward), xhat [n, K]. */
typedef struct dh__bn1d {
    float *gamma, *beta, *rmean, *rvar, *nbt;   /* [K] each; nbt [1] (a counter) */
    float *ggamma, *gbeta;                      /* [K] gradients */
    float *mean, *inv_std;                      /* [K] batch statistics of the last forward */
    float momentum, eps;
} dh__bn1d;

void dh__bn1d_forward_train(dh__bn1d *bn, const float *z, size_t n, size_t k, float *xhat,
                            float *out);
void dh__bn1d_forward_infer(const dh__bn1d *bn, const float *z, size_t n, size_t k, float *out);
/** dz = d(out)/dz^T dout (written), ggamma/gbeta accumulate. */
void dh__bn1d_backward(dh__bn1d *bn, const float *dout, const float *xhat, size_t n, size_t k,
                       float *dz);

#endif
