/* lib/nn/encoder_arch.c -- encoder architectures: mlp, smallcnn, alexnet (torchvision
 * features + classifier up to fc7), resnet18 (ImageNet stem) and resnet18-cifar.
 * Tensor names follow torchvision's state_dict keys so pretrained weights load by name. */
#include <stdio.h>

#include "nn/encoder_arch.h"

static dh_status input_net(const dh_encoder_options *o, int32_t def_c, int32_t def_hw,
                           int32_t min_hw, dh__net **net)
{
    int64_t c = o->in_channels ? o->in_channels : def_c;
    int64_t h = o->in_height ? o->in_height : def_hw;
    int64_t w = o->in_width ? o->in_width : h;
    if (h < min_hw || w < min_hw)
        return dh__set_error(DH_E_INVALID_ARG,
                             "dh_encoder_create: input %lldx%lld is smaller than this "
                             "encoder's minimum %dx%d",
                             (long long)h, (long long)w, min_hw, min_hw);
    int64_t shape[3] = {c, h, w};
    return dh__net_create(3, shape, o->seed, net);
}

static dh_status finish(dh__net *net, int out, int fmap, dh__net **res)
{
    dh_status st = dh__net_finalize(net, out, fmap);
    if (st != DH_OK) {
        dh__net_free(net);
        return st;
    }
    *res = net;
    return DH_OK;
}

static dh__conv_args conv(int32_t out, int32_t k, int32_t stride, int32_t pad, int32_t bias)
{
    dh__conv_args a = {out, k, k, stride, pad, 1, 1, bias};
    return a;
}

dh_status dh__arch_mlp(const int64_t *widths, int n, const dh_encoder_options *o, dh__net **out)
{
    dh__net *net;
    DH_TRY(dh__net_create(1, widths, o->seed, &net));
    int x = 0;
    char fc[32], bn[32];
    for (int i = 1; i < n; i++) {
        snprintf(fc, sizeof fc, "fc%d", i);
        snprintf(bn, sizeof bn, "bn%d", i);
        x = dh__net_linear(net, x, fc, (int32_t)widths[i], 1);
        x = dh__net_bn(net, x, bn, o->bn_eps, o->bn_momentum);
        x = dh__net_act(net, x, DH__ACT_RELU, 0.0f);
    }
    return finish(net, x, -1, out);
}

dh_status dh__arch_pixels(int64_t dim, const dh_encoder_options *o, dh__net **out)
{
    dh__net *net;
    /* rows of D as a [D, 1, 1] input: the flatten node gives the net its output tensor */
    int64_t rows[3] = {dim, 1, 1};
    if (dim > 0) DH_TRY(dh__net_create(3, rows, o->seed, &net));
    else DH_TRY(input_net(o, 1, 28, 1, &net));
    int x = dh__net_flatten(net, 0);
    return finish(net, x, -1, out);
}

/* conv5x5-32 pad 2, BN, ReLU, maxpool 2, conv5x5-64 pad 2, BN, ReLU, maxpool 2,
 * linear-512, BN1d, ReLU. Convolutions and the linear layer feed batch norm, so they
 * carry no bias (it would be cancelled by the mean subtraction). */
dh_status dh__arch_smallcnn(const dh_encoder_options *o, dh__net **out)
{
    dh__net *net;
    DH_TRY(input_net(o, 1, 28, 4, &net));
    int x = dh__net_conv(net, 0, "conv1", conv(32, 5, 1, 2, 0));
    x = dh__net_bn(net, x, "bn1", o->bn_eps, o->bn_momentum);
    x = dh__net_act(net, x, DH__ACT_RELU, 0.0f);
    x = dh__net_maxpool(net, x, 2, 2, 0);
    x = dh__net_conv(net, x, "conv2", conv(64, 5, 1, 2, 0));
    x = dh__net_bn(net, x, "bn2", o->bn_eps, o->bn_momentum);
    x = dh__net_act(net, x, DH__ACT_RELU, 0.0f);
    int fmap = dh__net_maxpool(net, x, 2, 2, 0);
    x = dh__net_flatten(net, fmap); /* plain rows: the linear layer keeps plain weights */
    x = dh__net_linear(net, x, "fc", 512, 0);
    x = dh__net_bn(net, x, "bn3", o->bn_eps, o->bn_momentum);
    x = dh__net_act(net, x, DH__ACT_RELU, 0.0f);
    return finish(net, x, fmap, out);
}

/* torchvision.models.alexnet: features.{0,3,6,8,10} convs with ReLU, max pools after
 * 0, 3 and 10; avgpool(6); classifier.{1,4} linears after dropout, with ReLU (fc6,
 * fc7). classifier.6 (the 1000-way fc8) is left out: D = 4096. */
dh_status dh__arch_alexnet(const dh_encoder_options *o, dh__net **out)
{
    dh__net *net;
    DH_TRY(input_net(o, 3, 224, 63, &net));
    int x = dh__net_conv(net, 0, "features.0", conv(64, 11, 4, 2, 1));
    x = dh__net_act(net, x, DH__ACT_RELU, 0.0f);
    x = dh__net_maxpool(net, x, 3, 2, 0);
    x = dh__net_conv(net, x, "features.3", conv(192, 5, 1, 2, 1));
    x = dh__net_act(net, x, DH__ACT_RELU, 0.0f);
    x = dh__net_maxpool(net, x, 3, 2, 0);
    x = dh__net_conv(net, x, "features.6", conv(384, 3, 1, 1, 1));
    x = dh__net_act(net, x, DH__ACT_RELU, 0.0f);
    x = dh__net_conv(net, x, "features.8", conv(256, 3, 1, 1, 1));
    x = dh__net_act(net, x, DH__ACT_RELU, 0.0f);
    x = dh__net_conv(net, x, "features.10", conv(256, 3, 1, 1, 1));
    x = dh__net_act(net, x, DH__ACT_RELU, 0.0f);
    int fmap = dh__net_maxpool(net, x, 3, 2, 0);
    x = dh__net_adaptive_avgpool(net, fmap, 6);
    x = dh__net_flatten(net, x);
    x = dh__net_dropout(net, x, o->dropout);
    x = dh__net_linear(net, x, "classifier.1", 4096, 1);
    x = dh__net_act(net, x, DH__ACT_RELU, 0.0f);
    x = dh__net_dropout(net, x, o->dropout);
    x = dh__net_linear(net, x, "classifier.4", 4096, 1);
    x = dh__net_act(net, x, DH__ACT_RELU, 0.0f);
    return finish(net, x, fmap, out);
}

/* torchvision BasicBlock, built in state_dict order (conv1, bn1, conv2, bn2,
 * downsample.0, downsample.1). */
static int basic_block(dh__net *net, int x, const char *pre, int32_t planes, int32_t stride,
                       const dh_encoder_options *o)
{
    char n1[48], n2[48], n3[48], n4[48], n5[48], n6[48];
    snprintf(n1, sizeof n1, "%s.conv1", pre);
    snprintf(n2, sizeof n2, "%s.bn1", pre);
    snprintf(n3, sizeof n3, "%s.conv2", pre);
    snprintf(n4, sizeof n4, "%s.bn2", pre);
    snprintf(n5, sizeof n5, "%s.downsample.0", pre);
    snprintf(n6, sizeof n6, "%s.downsample.1", pre);
    int64_t shape[3] = {0, 0, 0};
    dh__net_shape(net, x, shape);
    int y = dh__net_conv(net, x, n1, conv(planes, 3, stride, 1, 0));
    y = dh__net_bn(net, y, n2, o->bn_eps, o->bn_momentum);
    y = dh__net_act(net, y, DH__ACT_RELU, 0.0f);
    y = dh__net_conv(net, y, n3, conv(planes, 3, 1, 1, 0));
    y = dh__net_bn(net, y, n4, o->bn_eps, o->bn_momentum);
    int id = x;
    if (stride != 1 || shape[0] != planes) {
        id = dh__net_conv(net, x, n5, conv(planes, 1, stride, 0, 0));
        id = dh__net_bn(net, id, n6, o->bn_eps, o->bn_momentum);
    }
    y = dh__net_add(net, y, id);
    return dh__net_act(net, y, DH__ACT_RELU, 0.0f);
}

dh_status dh__arch_resnet18(const dh_encoder_options *o, int cifar, dh__net **out)
{
    dh__net *net;
    DH_TRY(input_net(o, 3, cifar ? 32 : 224, cifar ? 8 : 32, &net));
    int x = cifar ? dh__net_conv(net, 0, "conv1", conv(64, 3, 1, 1, 0))
                  : dh__net_conv(net, 0, "conv1", conv(64, 7, 2, 3, 0));
    x = dh__net_bn(net, x, "bn1", o->bn_eps, o->bn_momentum);
    x = dh__net_act(net, x, DH__ACT_RELU, 0.0f);
    if (!cifar) x = dh__net_maxpool(net, x, 3, 2, 1);
    static const int32_t planes[4] = {64, 128, 256, 512};
    char pre[32];
    for (int l = 0; l < 4; l++)
        for (int b = 0; b < 2; b++) {
            snprintf(pre, sizeof pre, "layer%d.%d", l + 1, b);
            x = basic_block(net, x, pre, planes[l], (l > 0 && b == 0) ? 2 : 1, o);
        }
    int fmap = x;
    x = dh__net_gap(net, fmap);
    return finish(net, x, fmap, out);
}
