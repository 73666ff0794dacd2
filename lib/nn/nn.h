/* lib/nn/nn.h -- the neural engine's internal interface (not public).
 *
 * Two layers of API live here:
 *  1. The contract with the rest of libdh (model files, optimizers, heads): an
 *     encoder's parameters as named plain float tensors (dh__param), and the
 *     notification that their values were changed from outside.
 *  2. The network builder (dh__net) the encoders are written in, and the plain-C
 *     reference kernels (*_ref) the tests compare the oneDNN path against.
 *
 * No oneDNN type appears here; lib/nn/net_impl.h holds those (it includes dnnl.h, and only
 * the lib/nn/ files of the oneDNN path include it; dnnl_shim.c is the engine/error boundary).
 */
#ifndef DH_NN_H
#define DH_NN_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "core/param.h"
#include "core/rng.h"

/* ======================================================================== */
/* 1. Parameters: the contract with optimizers, heads and model files        */
/* ======================================================================== */


/* Synchronisation rule: `data` arrays are the masters and their pointers are stable
 * for the encoder's lifetime. oneDNN's (possibly blocked, possibly BN-folded) copies
 * are refreshed from them at every training forward, and for inference whenever they
 * may have changed: after any training forward/backward (an optimizer step follows),
 * after dh__encoder_params() was called (the caller got write access) and after
 * dh__encoder_params_changed(). Call the latter after writing weights later on
 * without running a training step in between (e.g. loading a model file). */

typedef struct dh__net dh__net;

/** Borrowed array of the encoder's parameters and buffers, in a fixed order (the
 *  order of a torchvision state_dict). Returns the count; *out may be NULL. */
size_t dh__encoder_params(dh_encoder *e, dh__param **out);
/** Tell the encoder its parameter values were changed from outside. */
void dh__encoder_params_changed(dh_encoder *e);
/** The encoder's network (for heads that build on its feature map). */
dh__net *dh__encoder_net(dh_encoder *e);

/* ======================================================================== */
/* 2. Network builder                                                        */
/* ======================================================================== */

/** A net is a list of nodes in topological order over tensors numbered from 0
 *  (tensor 0 is the input). Builder calls return the new tensor id (>= 0), or a
 *  negative dh_status; after the first failure every later call returns the same
 *  status (so a whole architecture can be written without checking each line, and
 *  checked once at dh__net_finalize). Shapes exclude the batch dimension. */
dh_status dh__net_create(int32_t ndim, const int64_t *shape /* [C,H,W] or [D] */,
                         uint64_t seed, dh__net **out);
void dh__net_free(dh__net *net);

typedef struct dh__conv_args {
    int32_t out_c, kh, kw, stride, pad, dilation, groups, bias;
} dh__conv_args;

int dh__net_conv(dh__net *net, int x, const char *name, dh__conv_args a);
/** Batch norm over channels of a [C,H,W] or [D] tensor: params name.weight, .bias,
 *  buffers .running_mean, .running_var, .num_batches_tracked. */
int dh__net_bn(dh__net *net, int x, const char *name, float eps, float momentum);
/** Element-wise: DH__ACT_RELU (alpha = negative slope, 0 for ReLU), TANH, SIGMOID, GELU. */
enum { DH__ACT_RELU = 0, DH__ACT_TANH = 1, DH__ACT_SIGMOID = 2, DH__ACT_GELU = 3 };
int dh__net_act(dh__net *net, int x, int32_t kind, float alpha);
int dh__net_maxpool(dh__net *net, int x, int32_t k, int32_t stride, int32_t pad);
/** Average pool, zero padding counted (PyTorch's count_include_pad=True). */
int dh__net_avgpool(dh__net *net, int x, int32_t k, int32_t stride, int32_t pad);
/** Adaptive average pool to out x out (exact when H, W are multiples of out or
 *  the input is smaller than out, where PyTorch replicates). */
int dh__net_adaptive_avgpool(dh__net *net, int x, int32_t out);
/** Global average pool: [C,H,W] -> [C]. */
int dh__net_gap(dh__net *net, int x);
/** [C,H,W] -> [C*H*W] in PyTorch's flatten order. */
int dh__net_flatten(dh__net *net, int x);
/** Linear y = x W^T + b; x is [D] (or [C,H,W], flattened implicitly). */
int dh__net_linear(dh__net *net, int x, const char *name, int32_t out, int32_t bias);
int dh__net_dropout(dh__net *net, int x, float p);
int dh__net_add(dh__net *net, int a, int b);
/** Softmax over logical axis `axis` (1 = channels/features, 2 = H, 3 = W). */
int dh__net_softmax(dh__net *net, int x, int32_t axis);
/** Channel (axis 1) concatenation of n tensors with equal other dims. */
int dh__net_concat(dh__net *net, int n, const int *xs);

/** Declare the output tensor and, optionally (-1 for none), the feature-map tensor
 *  whose value and gradient are exposed. Initialises parameters from the seed. */
dh_status dh__net_finalize(dh__net *net, int output, int fmap);

/** Shape of tensor t without the batch dimension; returns ndim (1 or 3), 0 for bad t. */
int32_t dh__net_shape(const dh__net *net, int t, int64_t shape[3]);
size_t dh__net_numel(const dh__net *net, int t); /* per sample */
int dh__net_output(const dh__net *net);
int dh__net_fmap(const dh__net *net);
size_t dh__net_params(dh__net *net, dh__param **out);
void dh__net_params_changed(dh__net *net);

/** Forward n samples. x: plain [n, input shape]; out: [n, output numel] or NULL;
 *  fmap: [n, fmap numel] or NULL. training: batch statistics, dropout, and keeps
 *  everything backward needs. */
dh_status dh__net_forward(dh__net *net, const float *x, size_t n, int32_t training, float *out,
                          float *fmap);
/** After a training forward of n samples: dout ([n, out numel]) and dfmap
 *  ([n, fmap numel]) may each be NULL (zero); dx ([n, input]) NULL skips the input
 *  gradient. Accumulates into the parameters' grad arrays. */
dh_status dh__net_backward(dh__net *net, const float *dout, const float *dfmap, float *dx);
void dh__net_zero_grad(dh__net *net);
/** Number of distinct (batch, mode) plans currently cached (for tests). */
int dh__net_cached_plans(const dh__net *net);

/** What the most recently used plan built (for tests and benchmarks). */
typedef struct dh__net_plan_stats {
    int32_t training;      /* 1: a training plan */
    int32_t n_convs;       /* convolutions with their own primitive (not fused away) */
    int32_t n_winograd;    /* of those, how many run as Winograd F(4x4, 3x3) */
    int32_t n_slabs;       /* shared buffers */
    size_t shared_bytes;   /* bytes of the tensor memories placed in shared buffers */
    size_t transient_bytes; /* bytes of per-layer scratch placed there (weight-gradient
                               and backward-data weight copies) */
    size_t slab_bytes;     /* bytes the shared buffers hold */
} dh__net_plan_stats;
/** Returns DH_OK, DH_E_INVALID_ARG (NULL), DH_E_STATE (no plan built yet). */
dh_status dh__net_plan_stats_get(const dh__net *net, dh__net_plan_stats *out);

/* ======================================================================== */
/* 3. Reference kernels (plain C, double, NCHW), for tests                   */
/* ======================================================================== */
/* Forward functions write their outputs; backward functions ACCUMULATE (+=) into
 * every gradient they produce (pass NULL to skip one). */

typedef struct dh__conv_ref_dims {
    int n, c, h, w;       /* input */
    int o, kh, kw;        /* output channels, kernel */
    int sh, sw, ph, pw;   /* stride, padding */
    int dh, dw, groups;   /* dilation, groups */
    int oh, ow;           /* output size (filled by dh__conv_ref_dims_init) */
} dh__conv_ref_dims;
void dh__conv_ref_dims_init(dh__conv_ref_dims *d);
void dh__conv2d_ref_forward(double *out, const double *in, const double *w, const double *b,
                            const dh__conv_ref_dims *d);
void dh__conv2d_ref_backward(double *din, double *dw, double *db, const double *dout,
                             const double *in, const double *w, const dh__conv_ref_dims *d);

/* batch norm, training mode (biased batch variance, as PyTorch normalises with) */
void dh__bn_ref_forward(double *out, double *mean, double *var, const double *in,
                        const double *gamma, const double *beta, int n, int c, int hw,
                        double eps);
void dh__bn_ref_forward_infer(double *out, const double *in, const double *gamma,
                              const double *beta, const double *mean, const double *var, int n,
                              int c, int hw, double eps);
void dh__bn_ref_backward(double *din, double *dgamma, double *dbeta, const double *dout,
                         const double *in, const double *gamma, int n, int c, int hw,
                         double eps);

void dh__act_ref_forward(double *out, const double *in, size_t n, int kind, double alpha);
void dh__act_ref_backward(double *din, const double *dout, const double *in, size_t n, int kind,
                          double alpha);

/* pooling over [n,c,h,w] with square kernel k, stride s, symmetric padding p */
void dh__maxpool_ref_forward(double *out, const double *in, int n, int c, int h, int w, int k,
                             int s, int p);
void dh__maxpool_ref_backward(double *din, const double *dout, const double *in, int n, int c,
                              int h, int w, int k, int s, int p);
void dh__avgpool_ref_forward(double *out, const double *in, int n, int c, int h, int w, int k,
                             int s, int p);
void dh__avgpool_ref_backward(double *din, const double *dout, int n, int c, int h, int w, int k,
                              int s, int p);

/* linear: in [n,k], w [m,k], b [m], out [n,m] */
void dh__linear_ref_forward(double *out, const double *in, const double *w, const double *b,
                            int n, int k, int m);
void dh__linear_ref_backward(double *din, double *dw, double *db, const double *dout,
                             const double *in, const double *w, int n, int k, int m);

/* softmax over the middle axis of [outer, axis, inner] */
void dh__softmax_ref_forward(double *out, const double *in, int outer, int axis, int inner);
void dh__softmax_ref_backward(double *din, const double *dout, const double *out, int outer,
                              int axis, int inner);

/* dropout with an explicit keep mask (1 keep, 0 drop): out = in * mask / (1 - p) */
void dh__dropout_ref_forward(double *out, const double *in, const uint8_t *mask, size_t n,
                             double p);
void dh__dropout_ref_backward(double *din, const double *dout, const uint8_t *mask, size_t n,
                              double p);

#endif
