/* lib/core/param.h -- dh__param, the one description of a trainable tensor shared by the
 * neural engine (lib/nn), the hash heads (lib/hash), model stages (lib/model), losses
 * with parameters (lib/loss), the optimizers and the model files. */
#ifndef DH_CORE_PARAM_H
#define DH_CORE_PARAM_H

#include <stddef.h>
#include <stdint.h>

/** One named tensor of an encoder (or a head). */
typedef struct dh__param {
    const char *name;   /* torchvision-style key: "conv1.weight", "layer1.0.bn1.running_mean" */
    float *data;        /* n floats in PyTorch layout (OIHW for conv, [out,in] for linear) */
    float *grad;        /* n floats, accumulated by backward; NULL for buffers */
    size_t n;           /* element count */
    int32_t ndim;       /* 0 (scalar buffer) .. 4 */
    int64_t shape[4];   /* PyTorch shape; unused entries are 0 */
    int32_t is_buffer;  /* 1: BN running_mean/var, num_batches_tracked (not trained) */
    int32_t no_decay;   /* 1: biases and BN affine parameters (no weight decay) */
} dh__param;

#endif
