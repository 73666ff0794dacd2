/* lib/nn/encoder.c -- the public dh_encoder: spec parsing, options, and the forward /
 * backward entry points over a dh__net built by encoder_arch.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nn/encoder_arch.h"

struct dh_encoder {
    dh__net *net;
    char *spec;
    size_t feature_dim;
    size_t param_count;
};

void dh_encoder_options_init(dh_encoder_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->seed = 0x5eed;
    o->dropout = 0.5f;
    o->bn_momentum = 0.1f;
    o->bn_eps = 1e-5f;
}

static dh_status check_options(const dh_encoder_options *o)
{
    DH_CHECK_ARG_MSG(o->in_channels >= 0 && o->in_channels <= 4096,
                     "dh_encoder_create: in_channels %d not in 0..4096", o->in_channels);
    DH_CHECK_ARG_MSG(o->in_height >= 0 && o->in_height <= 8192 && o->in_width >= 0 &&
                         o->in_width <= 8192,
                     "dh_encoder_create: input size %dx%d not in 0..8192", o->in_height,
                     o->in_width);
    DH_CHECK_ARG_MSG(o->dropout >= 0.0f && o->dropout < 1.0f,
                     "dh_encoder_create: dropout %g not in [0, 1)", (double)o->dropout);
    DH_CHECK_ARG_MSG(o->bn_momentum >= 0.0f && o->bn_momentum <= 1.0f,
                     "dh_encoder_create: bn_momentum %g not in [0, 1]", (double)o->bn_momentum);
    DH_CHECK_ARG_MSG(o->bn_eps > 0.0f && o->bn_eps < 1.0f,
                     "dh_encoder_create: bn_eps %g not in (0, 1)", (double)o->bn_eps);
    return DH_OK;
}

/* "mlp:784-1024-512" -> widths {784, 1024, 512}. */
static dh_status parse_mlp(const char *s, int64_t *w, int *n)
{
    *n = 0;
    const char *p = s;
    while (1) {
        if (*p < '0' || *p > '9')
            return dh__set_error(DH_E_FORMAT,
                                 "dh_encoder_create: spec 'mlp:%s': expected a width at "
                                 "offset %d",
                                 s, (int)(p - s));
        errno = 0;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (errno || v < 1 || v > (1 << 20))
            return dh__set_error(DH_E_FORMAT,
                                 "dh_encoder_create: spec 'mlp:%s': width at offset %d not in "
                                 "1..1048576",
                                 s, (int)(p - s));
        if (*n == DH__MLP_MAX_LAYERS)
            return dh__set_error(DH_E_FORMAT, "dh_encoder_create: spec 'mlp:%s': more than %d "
                                 "widths", s, DH__MLP_MAX_LAYERS);
        w[(*n)++] = v;
        p = end;
        if (*p == '\0') break;
        if (*p != '-')
            return dh__set_error(DH_E_FORMAT,
                                 "dh_encoder_create: spec 'mlp:%s': unexpected '%c' at offset %d",
                                 s, *p, (int)(p - s));
        p++;
    }
    if (*n < 2)
        return dh__set_error(DH_E_FORMAT, "dh_encoder_create: spec 'mlp:%s' needs an input width "
                             "and at least one hidden width", s);
    return DH_OK;
}

static dh_status build(const char *spec, const dh_encoder_options *o, dh__net **net)
{
    if (strncmp(spec, "mlp:", 4) == 0) {
        int64_t w[DH__MLP_MAX_LAYERS];
        int n;
        DH_TRY(parse_mlp(spec + 4, w, &n));
        return dh__arch_mlp(w, n, o, net);
    }
    if (strcmp(spec, "pixels") == 0) return dh__arch_pixels(0, o, net);
    if (strncmp(spec, "pixels:", 7) == 0) {
        char *end = NULL;
        long long d = strtoll(spec + 7, &end, 10);
        if (!end || *end || d < 1 || d > (1 << 24))
            return dh__set_error(DH_E_FORMAT, "dh_encoder_create: spec '%s': want pixels:<D> "
                                 "with 1 <= D <= 2^24", spec);
        return dh__arch_pixels(d, o, net);
    }
    if (strcmp(spec, "smallcnn") == 0) return dh__arch_smallcnn(o, net);
    if (strcmp(spec, "alexnet") == 0) return dh__arch_alexnet(o, net);
    if (strcmp(spec, "resnet18") == 0) return dh__arch_resnet18(o, 0, net);
    if (strcmp(spec, "resnet18-cifar") == 0) return dh__arch_resnet18(o, 1, net);
    return dh__set_error(DH_E_NOT_FOUND,
                         "dh_encoder_create: unknown encoder spec '%s' (known: mlp:<d_in>-<h1>-..., "
                         "pixels, pixels:<D>, smallcnn, alexnet, resnet18, resnet18-cifar)",
                         spec);
}

dh_status dh_encoder_create(const char *spec, const dh_encoder_options *opts, dh_encoder **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(spec != NULL);
    dh_encoder_options o;
    dh_encoder_options_init(&o);
    DH_TRY(dh__options_copy(&o, sizeof o, opts, "dh_encoder_options"));
    DH_TRY(check_options(&o));
    dh_encoder *e = dh__calloc(1, sizeof *e);
    if (!e) return DH_E_NO_MEMORY;
    e->spec = dh__strdup(spec);
    dh_status st = e->spec ? build(spec, &o, &e->net) : DH_E_NO_MEMORY;
    if (st != DH_OK) {
        dh_encoder_free(e);
        return st;
    }
    e->feature_dim = dh__net_numel(e->net, dh__net_output(e->net));
    dh__param *ps;
    size_t np = dh__net_params(e->net, &ps);
    for (size_t i = 0; i < np; i++)
        if (!ps[i].is_buffer) e->param_count += ps[i].n;
    *out = e;
    return DH_OK;
}

void dh_encoder_free(dh_encoder *e)
{
    if (!e) return;
    dh__net_free(e->net);
    dh__free(e->spec);
    dh__free(e);
}

dh_status dh_encoder_forward(dh_encoder *e, const float *x, size_t n, int32_t training, float *out)
{
    DH_CHECK_ARG(e != NULL && x != NULL && out != NULL);
    return dh__net_forward(e->net, x, n, training, out, NULL);
}

dh_status dh_encoder_forward_fmap(dh_encoder *e, const float *x, size_t n, int32_t training,
                                  float *out, float *fmap)
{
    DH_CHECK_ARG(e != NULL && x != NULL);
    return dh__net_forward(e->net, x, n, training, out, fmap);
}

dh_status dh_encoder_backward(dh_encoder *e, const float *dout, float *dx)
{
    DH_CHECK_ARG(e != NULL && dout != NULL);
    return dh__net_backward(e->net, dout, NULL, dx);
}

dh_status dh_encoder_backward_fmap(dh_encoder *e, const float *dout, const float *dfmap, float *dx)
{
    DH_CHECK_ARG(e != NULL);
    return dh__net_backward(e->net, dout, dfmap, dx);
}

dh_status dh_encoder_zero_grad(dh_encoder *e)
{
    DH_CHECK_ARG(e != NULL);
    dh__net_zero_grad(e->net);
    return DH_OK;
}

size_t dh_encoder_feature_dim(const dh_encoder *e) { return e ? e->feature_dim : 0; }

int32_t dh_encoder_input_shape(const dh_encoder *e, int64_t shape[3])
{
    return e ? dh__net_shape(e->net, 0, shape) : 0;
}

int32_t dh_encoder_feature_map_shape(const dh_encoder *e, int64_t shape[3])
{
    if (!e || dh__net_fmap(e->net) < 0) return 0;
    return dh__net_shape(e->net, dh__net_fmap(e->net), shape);
}

size_t dh_encoder_param_count(const dh_encoder *e) { return e ? e->param_count : 0; }

const char *dh_encoder_spec(const dh_encoder *e) { return e ? e->spec : ""; }

size_t dh__encoder_params(dh_encoder *e, dh__param **out)
{
    if (!e) {
        if (out) *out = NULL;
        return 0;
    }
    return dh__net_params(e->net, out);
}

void dh__encoder_params_changed(dh_encoder *e)
{
    if (e) dh__net_params_changed(e->net);
}

dh__net *dh__encoder_net(dh_encoder *e) { return e ? e->net : NULL; }
