/* lib/hash/hash.h -- hash heads (internal interface; the public one is dh_head in dh.h).
 *
 * A head maps features F [n, D] to continuous codes U [n, K]:
 *   z = F W^T (+ b)            W [K, D] ("head.weight"), b [K] ("head.bias")
 *   u = act(z)                 identity | tanh | tanh(beta z) | sgn(z) (STE) | BN1d(z)
 * Parameters are exposed as dh__param (lib/nn/nn.h) so the optimizer, the model
 * files and the tests treat them like encoder parameters. The loss centers
 * (centers.c, the loss helper's file) also live in this folder. */
#ifndef DH_HASH_H
#define DH_HASH_H

#include "../core/core.h"
#include "../nn/nn.h"

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

/* ---- LTHNet meta-embedding (head_meta.c) ----
 * v = f + tanh(f We^T + be) (.) (softmax(f Wa^T + ba) M), between encoder and head.
 * Tensors: meta.hallucinator.{weight [C,D], bias [C]}, meta.selector.{weight [D,D],
 * bias [D]}, buffer meta.memory [C,D] (class centroids of f, no gradient). */
typedef struct dh__meta dh__meta;

dh_status dh__meta_create(uint32_t n_classes, uint32_t dim, uint64_t seed, dh__meta **out);
void dh__meta_free(dh__meta *meta);
/** The five tensors above in that order (borrowed). Returns 5. */
size_t dh__meta_params(dh__meta *meta, dh__param **out);
uint32_t dh__meta_classes(const dh__meta *meta);
uint32_t dh__meta_dim(const dh__meta *meta);
void dh__meta_zero_grad(dh__meta *meta);
/** f [n, D] -> *v [n, D] (borrowed, valid until the next forward). training = 1 keeps
 *  what backward needs. */
dh_status dh__meta_forward(dh__meta *meta, const float *f, size_t n, int32_t training,
                           const float **v);
/** dv [n, D] -> *df [n, D] (borrowed); parameter gradients accumulate. DH_E_STATE
 *  without a pending training forward. */
dh_status dh__meta_backward(dh__meta *meta, const float *dv, const float **df);
/** Memory refresh: begin (optionally with the labels Y [n_rows, C] of a pass: every
 *  inference forward until commit then accumulates its input rows, in order, against
 *  the next rows of Y), accumulate rows f [n, D] with multi-hot labels Y [n, C] (a row
 *  counts for every positive class), commit (classes seen get their mean; unseen
 *  classes keep their row). Commit returns the number of classes filled and the rows
 *  the inference forwards delivered (rows_seen, may be NULL). */
void dh__meta_memory_begin(dh__meta *meta, const float *Y, size_t n_rows);
void dh__meta_memory_accumulate(dh__meta *meta, const float *f, size_t n, const float *Y);
size_t dh__meta_memory_commit(dh__meta *meta, size_t *rows_seen);

#endif
