/* lib/nn/net.c -- dh__net's graph builder: tensors, nodes and their parameters
 * (initialisation, forward and backward are in net_run.c). */
#include <stdio.h>
#include <string.h>

#include "nn/net_impl.h"

static int fail(dh__net *net, dh_status st)
{
    if (net->err == DH_OK) net->err = st;
    return net->err;
}

static int add_tensor(dh__net *net, int32_t ndim, const int64_t *d, int producer)
{
    for (int k = 0; k < ndim; k++)
        if (d[k] <= 0 || d[k] > (1 << 24))
            return fail(net, dh__set_error(DH_E_INVALID_ARG,
                                           "nn: layer %d would produce dimension %d = %lld",
                                           producer, k, (long long)d[k]));
    if (net->n_t == net->cap_t) {
        int nc = net->cap_t ? 2 * net->cap_t : 32;
        void *q = dh__realloc(net->t, (size_t)nc * sizeof *net->t);
        if (!q) return fail(net, DH_E_NO_MEMORY);
        net->t = q;
        net->cap_t = nc;
    }
    dh__nn_shape *s = &net->t[net->n_t];
    memset(s, 0, sizeof *s);
    s->ndim = ndim;
    for (int k = 0; k < ndim; k++) s->d[k] = d[k];
    s->producer = producer;
    return net->n_t++;
}

static dh_status add_param(dh__net *net, const char *name, const char *suffix, int32_t ndim,
                           const int64_t *shape, int is_buffer, int no_decay)
{
    if (net->n_params == net->cap_params) {
        size_t nc = net->cap_params ? 2 * net->cap_params : 32;
        void *q = dh__realloc(net->params, nc * sizeof *net->params);
        if (!q) return DH_E_NO_MEMORY;
        net->params = q;
        net->cap_params = nc;
    }
    dh__param *p = &net->params[net->n_params];
    memset(p, 0, sizeof *p);
    size_t n = 1;
    for (int k = 0; k < ndim; k++) {
        p->shape[k] = shape[k];
        n *= (size_t)shape[k];
    }
    char full[256];
    snprintf(full, sizeof full, "%s%s%s", name, name[0] ? "." : "", suffix);
    p->name = dh__strdup(full);
    p->data = dh__alloc_aligned(n * sizeof(float), 64);
    p->grad = is_buffer ? NULL : dh__alloc_aligned(n * sizeof(float), 64);
    p->n = n;
    p->ndim = ndim;
    p->is_buffer = is_buffer;
    p->no_decay = no_decay;
    net->n_params++;
    if (!p->name || !p->data || (!is_buffer && !p->grad)) return DH_E_NO_MEMORY;
    memset(p->data, 0, n * sizeof(float));
    if (p->grad) memset(p->grad, 0, n * sizeof(float));
    return DH_OK;
}

/* Validate the inputs, append a node and its output tensor. */
static int add_node(dh__net *net, dh__nn_node *nd, int32_t ndim, const int64_t *d)
{
    if (net->err != DH_OK) return net->err;
    if (net->finalized)
        return fail(net, dh__set_error(DH_E_STATE, "nn: the net is already finalized"));
    for (int k = 0; k < nd->n_in; k++)
        if (nd->in[k] < 0 || nd->in[k] >= net->n_t)
            return fail(net, dh__set_error(DH_E_INVALID_ARG, "nn: input tensor %d does not exist",
                                           nd->in[k]));
    if (net->n_nodes == net->cap_nodes) {
        int nc = net->cap_nodes ? 2 * net->cap_nodes : 32;
        void *q = dh__realloc(net->nodes, (size_t)nc * sizeof *net->nodes);
        if (!q) return fail(net, DH_E_NO_MEMORY);
        net->nodes = q;
        net->cap_nodes = nc;
    }
    int t = add_tensor(net, ndim, d, net->n_nodes);
    if (t < 0) return t;
    nd->out = t;
    for (int k = 0; k < nd->n_in; k++) net->t[nd->in[k]].n_cons++;
    net->nodes[net->n_nodes++] = *nd;
    return t;
}

static int need_3d(dh__net *net, int x, const char *what)
{
    if (net->err != DH_OK) return net->err;
    if (x < 0 || x >= net->n_t)
        return fail(net, dh__set_error(DH_E_INVALID_ARG, "nn: %s: input tensor %d does not exist",
                                       what, x));
    if (net->t[x].ndim != 3)
        return fail(net, dh__set_error(DH_E_SHAPE, "nn: %s needs a [C,H,W] input", what));
    return DH_OK;
}

dh_status dh__net_create(int32_t ndim, const int64_t *shape, uint64_t seed, dh__net **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(shape != NULL && (ndim == 1 || ndim == 3));
    dh__net *net = dh__calloc(1, sizeof *net);
    if (!net) return DH_E_NO_MEMORY;
    net->seed = seed;
    net->output = net->fmap = -1;
    dnnl_engine_t eng;
    dh_status st = dh__dnnl_engine(&eng);
    if (st == DH_OK && dnnl_stream_create(&net->stream, eng, dnnl_stream_default_flags) !=
                           dnnl_success)
        st = dh__set_error(DH_E_BACKEND, "nn: oneDNN stream creation failed");
    if (st == DH_OK && add_tensor(net, ndim, shape, -1) < 0) st = net->err;
    if (st != DH_OK) {
        dh__net_free(net);
        return st;
    }
    *out = net;
    return DH_OK;
}

void dh__net_free(dh__net *net)
{
    if (!net) return;
    for (int i = 0; i < NN_MAX_PLANS; i++) dh__nn_plan_free(net->plans[i]);
    for (size_t i = 0; i < net->n_params; i++) {
        dh__free((void *)net->params[i].name);
        dh__free_aligned(net->params[i].data);
        dh__free_aligned(net->params[i].grad);
    }
    if (net->stream) dnnl_stream_destroy(net->stream);
    dh__free(net->params);
    dh__free(net->nodes);
    dh__free(net->t);
    dh__free(net);
}

int dh__net_conv(dh__net *net, int x, const char *name, dh__conv_args a)
{
    DH_TRY(need_3d(net, x, "conv"));
    const dh__nn_shape *s = &net->t[x];
    if (a.groups < 1) a.groups = 1;
    if (a.dilation < 1) a.dilation = 1;
    if (a.out_c < 1 || a.kh < 1 || a.kw < 1 || a.stride < 1 || a.pad < 0 ||
        s->d[0] % a.groups || a.out_c % a.groups)
        return fail(net, dh__set_error(DH_E_INVALID_ARG,
                                       "nn: conv %s: bad geometry (out %d, kernel %dx%d, stride "
                                       "%d, pad %d, groups %d, in %lld)",
                                       name, a.out_c, a.kh, a.kw, a.stride, a.pad, a.groups,
                                       (long long)s->d[0]));
    int64_t oh = (s->d[1] + 2 * a.pad - (int64_t)a.dilation * (a.kh - 1) - 1) / a.stride + 1;
    int64_t ow = (s->d[2] + 2 * a.pad - (int64_t)a.dilation * (a.kw - 1) - 1) / a.stride + 1;
    dh__nn_node nd = {.kind = NN_CONV, .n_in = 1, .in = {x}, .kh = a.kh, .kw = a.kw,
                  .stride = a.stride, .pad = a.pad, .dil = a.dilation, .groups = a.groups,
                  .has_bias = a.bias != 0, .out_c = a.out_c, .param = (int)net->n_params};
    int64_t ws[4] = {a.out_c, s->d[0] / a.groups, a.kh, a.kw}, bs[1] = {a.out_c};
    if (add_param(net, name, "weight", 4, ws, 0, 0) != DH_OK ||
        (a.bias && add_param(net, name, "bias", 1, bs, 0, 1) != DH_OK))
        return fail(net, DH_E_NO_MEMORY);
    nd.n_param = a.bias ? 2 : 1;
    int64_t od[3] = {a.out_c, oh, ow};
    return add_node(net, &nd, 3, od);
}

int dh__net_bn(dh__net *net, int x, const char *name, float eps, float momentum)
{
    if (net->err != DH_OK) return net->err;
    if (x < 0 || x >= net->n_t)
        return fail(net, dh__set_error(DH_E_INVALID_ARG, "nn: bn: tensor %d does not exist", x));
    if (!(eps > 0) || !(momentum >= 0 && momentum <= 1))
        return fail(net, dh__set_error(DH_E_INVALID_ARG, "nn: bn %s: eps %g, momentum %g", name,
                                       (double)eps, (double)momentum));
    dh__nn_shape s = net->t[x];
    dh__nn_node nd = {.kind = NN_BN, .n_in = 1, .in = {x}, .eps = eps, .momentum = momentum,
                  .param = (int)net->n_params, .n_param = 5};
    int64_t c[1] = {s.d[0]};
    if (add_param(net, name, "weight", 1, c, 0, 1) != DH_OK ||
        add_param(net, name, "bias", 1, c, 0, 1) != DH_OK ||
        add_param(net, name, "running_mean", 1, c, 1, 1) != DH_OK ||
        add_param(net, name, "running_var", 1, c, 1, 1) != DH_OK ||
        add_param(net, name, "num_batches_tracked", 0, NULL, 1, 1) != DH_OK)
        return fail(net, DH_E_NO_MEMORY);
    return add_node(net, &nd, s.ndim, s.d);
}

int dh__net_act(dh__net *net, int x, int32_t kind, float alpha)
{
    if (net->err != DH_OK) return net->err;
    if (x < 0 || x >= net->n_t || kind < DH__ACT_RELU || kind > DH__ACT_GELU)
        return fail(net, dh__set_error(DH_E_INVALID_ARG, "nn: act: bad tensor %d or kind %d", x,
                                       kind));
    dh__nn_shape s = net->t[x];
    dh__nn_node nd = {.kind = NN_ACT, .n_in = 1, .in = {x}, .act = kind, .alpha = alpha, .param = -1};
    return add_node(net, &nd, s.ndim, s.d);
}

static int pool(dh__net *net, int x, int kind, int32_t k, int32_t stride, int32_t pad)
{
    DH_TRY(need_3d(net, x, "pool"));
    dh__nn_shape s = net->t[x];
    if (k < 1 || stride < 1 || pad < 0 || 2 * pad > k)
        return fail(net, dh__set_error(DH_E_INVALID_ARG,
                                       "nn: pool: kernel %d, stride %d, pad %d", k, stride, pad));
    int64_t od[3] = {s.d[0], (s.d[1] + 2 * pad - k) / stride + 1,
                     (s.d[2] + 2 * pad - k) / stride + 1};
    dh__nn_node nd = {.kind = kind, .n_in = 1, .in = {x}, .kh = k, .kw = k, .stride = stride,
                  .pad = pad, .param = -1};
    return add_node(net, &nd, 3, od);
}

int dh__net_maxpool(dh__net *net, int x, int32_t k, int32_t stride, int32_t pad)
{
    return pool(net, x, NN_MAXPOOL, k, stride, pad);
}

int dh__net_avgpool(dh__net *net, int x, int32_t k, int32_t stride, int32_t pad)
{
    return pool(net, x, NN_AVGPOOL, k, stride, pad);
}

int dh__net_adaptive_avgpool(dh__net *net, int x, int32_t out)
{
    DH_TRY(need_3d(net, x, "adaptive_avgpool"));
    dh__nn_shape s = net->t[x];
    if (s.d[1] == out && s.d[2] == out) return x;
    if (out < 1 || s.d[1] != s.d[2] || s.d[1] % out)
        return fail(net, dh__set_error(DH_E_UNSUPPORTED,
                                       "nn: adaptive average pool of %lldx%lld to %dx%d needs an "
                                       "integer ratio",
                                       (long long)s.d[1], (long long)s.d[2], out, out));
    int32_t k = (int32_t)(s.d[1] / out);
    return pool(net, x, NN_AVGPOOL, k, k, 0);
}

int dh__net_gap(dh__net *net, int x)
{
    DH_TRY(need_3d(net, x, "global average pool"));
    dh__nn_node nd = {.kind = NN_GAP, .n_in = 1, .in = {x}, .param = -1};
    int64_t c[1] = {net->t[x].d[0]};
    return add_node(net, &nd, 1, c);
}

int dh__net_flatten(dh__net *net, int x)
{
    if (net->err != DH_OK) return net->err;
    if (x < 0 || x >= net->n_t)
        return fail(net, dh__set_error(DH_E_INVALID_ARG, "nn: flatten: bad tensor %d", x));
    if (net->t[x].ndim == 1) return x;
    dh__nn_shape s = net->t[x];
    int64_t d[1] = {s.d[0] * s.d[1] * s.d[2]};
    dh__nn_node nd = {.kind = NN_FLATTEN, .n_in = 1, .in = {x}, .param = -1};
    return add_node(net, &nd, 1, d);
}

int dh__net_linear(dh__net *net, int x, const char *name, int32_t out, int32_t bias)
{
    if (net->err != DH_OK) return net->err;
    if (x < 0 || x >= net->n_t || out < 1)
        return fail(net, dh__set_error(DH_E_INVALID_ARG, "nn: linear %s: tensor %d, out %d", name,
                                       x, out));
    dh__nn_shape s = net->t[x];
    int64_t fan = s.ndim == 3 ? s.d[0] * s.d[1] * s.d[2] : s.d[0];
    dh__nn_node nd = {.kind = NN_LINEAR, .n_in = 1, .in = {x}, .out_c = out, .has_bias = bias != 0,
                  .param = (int)net->n_params, .n_param = bias ? 2 : 1};
    int64_t ws[2] = {out, fan}, bs[1] = {out};
    if (add_param(net, name, "weight", 2, ws, 0, 0) != DH_OK ||
        (bias && add_param(net, name, "bias", 1, bs, 0, 1) != DH_OK))
        return fail(net, DH_E_NO_MEMORY);
    int64_t od[1] = {out};
    return add_node(net, &nd, 1, od);
}

int dh__net_dropout(dh__net *net, int x, float p)
{
    if (net->err != DH_OK) return net->err;
    if (x < 0 || x >= net->n_t || !(p >= 0.0f && p < 1.0f))
        return fail(net, dh__set_error(DH_E_INVALID_ARG,
                                       "nn: dropout: tensor %d, probability %g not in [0, 1)", x,
                                       (double)p));
    dh__nn_shape s = net->t[x];
    dh__nn_node nd = {.kind = NN_DROPOUT, .n_in = 1, .in = {x}, .p = p, .param = -1};
    return add_node(net, &nd, s.ndim, s.d);
}

int dh__net_add(dh__net *net, int a, int b)
{
    if (net->err != DH_OK) return net->err;
    if (a < 0 || b < 0 || a >= net->n_t || b >= net->n_t)
        return fail(net, dh__set_error(DH_E_INVALID_ARG, "nn: add: bad tensors %d, %d", a, b));
    dh__nn_shape s = net->t[a], u = net->t[b];
    if (s.ndim != u.ndim || memcmp(s.d, u.d, sizeof s.d) != 0)
        return fail(net, dh__set_error(DH_E_SHAPE, "nn: add: tensors %d and %d differ in shape",
                                       a, b));
    dh__nn_node nd = {.kind = NN_ADD, .n_in = 2, .in = {a, b}, .param = -1};
    return add_node(net, &nd, s.ndim, s.d);
}

int dh__net_softmax(dh__net *net, int x, int32_t axis)
{
    if (net->err != DH_OK) return net->err;
    if (x < 0 || x >= net->n_t || axis < 1 || axis > net->t[x].ndim)
        return fail(net, dh__set_error(DH_E_INVALID_ARG, "nn: softmax: tensor %d, axis %d", x,
                                       axis));
    dh__nn_shape s = net->t[x];
    dh__nn_node nd = {.kind = NN_SOFTMAX, .n_in = 1, .in = {x}, .axis = axis, .param = -1};
    return add_node(net, &nd, s.ndim, s.d);
}

int dh__net_concat(dh__net *net, int n, const int *xs)
{
    if (net->err != DH_OK) return net->err;
    if (n < 1 || n > NN_MAX_IN || !xs)
        return fail(net, dh__set_error(DH_E_INVALID_ARG, "nn: concat of %d tensors (1..%d)", n,
                                       NN_MAX_IN));
    dh__nn_node nd = {.kind = NN_CONCAT, .n_in = n, .param = -1};
    int64_t d[3] = {0, 0, 0};
    for (int k = 0; k < n; k++) {
        if (xs[k] < 0 || xs[k] >= net->n_t)
            return fail(net, dh__set_error(DH_E_INVALID_ARG, "nn: concat: bad tensor %d", xs[k]));
        const dh__nn_shape *s = &net->t[xs[k]], *f = &net->t[xs[0]];
        if (s->ndim != f->ndim || (s->ndim == 3 && (s->d[1] != f->d[1] || s->d[2] != f->d[2])))
            return fail(net, dh__set_error(DH_E_SHAPE, "nn: concat: tensor %d's shape differs",
                                           xs[k]));
        nd.in[k] = xs[k];
        d[0] += s->d[0];
        d[1] = s->d[1];
        d[2] = s->d[2];
    }
    return add_node(net, &nd, net->t[xs[0]].ndim, d);
}
