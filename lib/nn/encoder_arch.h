/* lib/nn/encoder_arch.h -- the encoder architectures, written with the dh__net builder. */
#ifndef DH_NN_ENCODER_ARCH_H
#define DH_NN_ENCODER_ARCH_H

#include "nn/nn.h"

#define DH__MLP_MAX_LAYERS 16

/** widths[0] = d_in, then the hidden widths (n >= 2). */
dh_status dh__arch_mlp(const int64_t *widths, int n, const dh_encoder_options *o, dh__net **out);
dh_status dh__arch_smallcnn(const dh_encoder_options *o, dh__net **out);
/** "pixels" (dim 0: the image input, flattened) or "pixels:D" (feature rows of width
 *  D): no parameters, the features are the input itself (for the shallow baselines). */
dh_status dh__arch_pixels(int64_t dim, const dh_encoder_options *o, dh__net **out);
dh_status dh__arch_alexnet(const dh_encoder_options *o, dh__net **out);
dh_status dh__arch_resnet18(const dh_encoder_options *o, int cifar, dh__net **out);

#endif
