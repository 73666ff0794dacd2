/* lib/nn/ops_norm.c -- batch norm (2d and 1d), element-wise activations, dropout and
 * softmax on oneDNN, forward (training / inference) and backward.
 *
 * These primitives take their input's layout as is (no reorders): a BN or ReLU
 * after a convolution runs on the convolution's blocked output. */
#include <math.h>
#include <string.h>

#include "nn/net_impl.h"

/* ---- batch norm ---- */

/* PyTorch's running statistics: r = (1 - m) r + m s, with the unbiased variance. */
static dh_status bn_update_running(dh__nn_plan *p, dh__nn_step *s)
{
    dh__nn_exec *x = s->ctx;
    dh__net *net = p->net;
    const dh__nn_node *nd = &net->nodes[s->node];
    dh__param *bp = &net->params[nd->param];
    const float *mean = dh__nn_mem_ptr(x->mean), *var = dh__nn_mem_ptr(x->var);
    const dh__nn_shape *sh = &net->t[nd->in[0]];
    double cnt = (double)p->n * (sh->ndim == 3 ? (double)(sh->d[1] * sh->d[2]) : 1.0);
    double unbias = cnt > 1 ? cnt / (cnt - 1) : 1.0;
    float m = nd->momentum;
    for (size_t c = 0; c < bp[0].n; c++) {
        bp[2].data[c] = (1 - m) * bp[2].data[c] + m * mean[c];
        bp[3].data[c] = (float)((1 - m) * bp[3].data[c] + m * var[c] * unbias);
    }
    bp[4].data[0] += 1.0f;
    return DH_OK;
}

/* Batch norm over [n, C] runs as [n, C, 1, 1] in the channels-last layout, which is
 * the same bytes as plain [n, C] and has a JIT kernel (oneDNN's 2d path is a slow
 * reference one). view(): that 4d description of a plain 2d memory. */
static int bn_is_1d(const dh__nn_plan *p, int i)
{
    return p->net->t[p->net->nodes[i].in[0]].ndim == 1 && p->net->nodes[i].in[0] != 0;
}

static dh_status bn_md(const dh__nn_plan *p, int i, dnnl_memory_desc_t *md)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    if (!bn_is_1d(p, i)) {
        *md = p->md[nd->in[0]];
        return DH_OK;
    }
    dnnl_dims_t d = {(dnnl_dim_t)p->n, p->net->t[nd->in[0]].d[0], 1, 1};
    DH_DNNL(dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, dnnl_acdb));
    return DH_OK;
}

static dh_status view(dh__nn_plan *p, int i, const dnnl_memory_desc_t *md, dnnl_memory_t m,
                      dnnl_memory_t *out)
{
    if (!bn_is_1d(p, i)) {
        *out = m;
        return DH_OK;
    }
    return dh__nn_mem(p, md, dh__nn_mem_ptr(m), out);
}

static unsigned bn_flags(const dh__nn_plan *p, int i)
{
    return dnnl_use_scale | dnnl_use_shift | (p->ex[i].fold_act >= 0 ? dnnl_fuse_norm_relu : 0u);
}

dh_status dh__nn_fwd_bn(dh__nn_plan *p, int i)
{
    dh__net *net = p->net;
    const dh__nn_node *nd = &net->nodes[i];
    dh__nn_exec *x = &p->ex[i];
    dh__param *bp = &net->params[nd->param];
    int in = nd->in[0];
    unsigned flags = bn_flags(p, i) | (p->training ? 0u : dnnl_use_global_stats);
    dnnl_memory_desc_t md;
    DH_TRY(bn_md(p, i, &md));
    dnnl_batch_normalization_desc_t bd;
    DH_DNNL(dnnl_batch_normalization_forward_desc_init(
        &bd, p->training ? dnnl_forward_training : dnnl_forward_inference, &md, nd->eps, flags));
    dnnl_primitive_desc_t pd;
    DH_TRY(dh__nn_pd(p, &bd, NULL, NULL, &pd));
    x->fwd_pd = pd;
    DH_TRY(dh__nn_tensor_set(p, nd->out, bn_is_1d(p, i) ? &p->md[in] : dh__nn_pd_md(pd, dnnl_query_dst_md, 0)));
    dnnl_memory_desc_t cmd;
    int64_t c = (int64_t)bp[0].n;
    DH_TRY(dh__dnnl_md_plain(&cmd, 1, &c));
    DH_TRY(dh__nn_mem(p, &cmd, bp[0].data, &x->aux));
    DH_TRY(dh__nn_mem(p, &cmd, bp[1].data, &x->aux2));
    DH_TRY(dh__nn_mem(p, &cmd, p->training ? NULL : bp[2].data, &x->mean));
    DH_TRY(dh__nn_mem(p, &cmd, p->training ? NULL : bp[3].data, &x->var));
    dnnl_memory_t src, dst;
    DH_TRY(view(p, i, &md, p->val[in], &src));
    DH_TRY(view(p, i, &md, p->val[nd->out], &dst));
    dnnl_exec_arg_t a[7] = {{DNNL_ARG_SRC, src},         {DNNL_ARG_DST, dst},
                            {DNNL_ARG_SCALE, x->aux},    {DNNL_ARG_SHIFT, x->aux2},
                            {DNNL_ARG_MEAN, x->mean},    {DNNL_ARG_VARIANCE, x->var}, {0, NULL}};
    int nargs = 6;
    const dnnl_memory_desc_t *wmd = dh__nn_pd_md(pd, dnnl_query_workspace_md, 0);
    if (wmd && dh__dnnl_md_bytes(wmd) > 0) { /* the fused ReLU's mask, for backward */
        DH_TRY(dh__nn_mem(p, wmd, NULL, &x->ws));
        a[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_WORKSPACE, x->ws};
    }
    dnnl_primitive_t prim;
    DH_TRY(dh__nn_prim(p, pd, &prim));
    DH_TRY(dh__nn_step_add(p, prim, NULL, NULL, i, nargs, a));
    if (p->training) DH_TRY(dh__nn_step_add(p, NULL, bn_update_running, x, i, 0, NULL));
    return DH_OK;
}

dh_status dh__nn_bwd_bn(dh__nn_plan *p, int i)
{
    dh__net *net = p->net;
    const dh__nn_node *nd = &net->nodes[i];
    dh__nn_exec *x = &p->ex[i];
    dh__param *bp = &net->params[nd->param];
    int in = nd->in[0];
    dnnl_memory_desc_t md;
    DH_TRY(bn_md(p, i, &md));
    dnnl_batch_normalization_desc_t bd;
    DH_DNNL(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &md, &md, nd->eps,
                                                        bn_flags(p, i)));
    dnnl_primitive_desc_t pd;
    DH_TRY(dh__nn_pd(p, &bd, NULL, x->fwd_pd, &pd));
    dnnl_memory_desc_t cmd;
    int64_t c = (int64_t)bp[0].n;
    DH_TRY(dh__dnnl_md_plain(&cmd, 1, &c));
    dnnl_memory_t ddst, target, src, dsrc;
    if (bn_is_1d(p, i)) DH_TRY(view(p, i, &md, p->diff[nd->out], &ddst));
    else DH_TRY(dh__nn_diff_as(p, nd->out, dh__nn_pd_md(pd, dnnl_query_diff_dst_md, 0), i, &ddst));
    DH_TRY(view(p, i, &md, p->val[in], &src));
    DH_TRY(dh__nn_mem(p, &cmd, NULL, &x->dw));
    DH_TRY(dh__nn_mem(p, &cmd, NULL, &x->db));
    dh__nn_pending pend;
    /* The parameter gradients are always needed, so when the input is the net's own
     * (whose gradient only exists when dx is asked for) compute into a temporary and
     * let only the copy depend on dx. */
    DH_TRY(dh__nn_diff_begin(p, in, bn_is_1d(p, i) ? &p->md[in] : dh__nn_pd_md(pd, dnnl_query_diff_src_md, 0),
                         i, &pend, &target));
    if (in == 0 && !pend.tmp) {
        DH_TRY(dh__nn_mem(p, dh__nn_pd_md(pd, dnnl_query_diff_src_md, 0), NULL, &pend.tmp));
        target = pend.tmp;
    }
    p->cur_needs_dx = 0;
    DH_TRY(view(p, i, &md, target, &dsrc));
    dnnl_exec_arg_t a[10] = {{DNNL_ARG_SRC, src},         {DNNL_ARG_MEAN, x->mean},
                             {DNNL_ARG_VARIANCE, x->var}, {DNNL_ARG_DIFF_DST, ddst},
                             {DNNL_ARG_SCALE, x->aux},    {DNNL_ARG_SHIFT, x->aux2},
                             {DNNL_ARG_DIFF_SRC, dsrc},   {DNNL_ARG_DIFF_SCALE, x->dw},
                             {DNNL_ARG_DIFF_SHIFT, x->db}, {DNNL_ARG_WORKSPACE, x->ws}};
    dnnl_primitive_t prim;
    DH_TRY(dh__nn_prim(p, pd, &prim));
    DH_TRY(dh__nn_step_add(p, prim, NULL, NULL, i, x->ws ? 10 : 9, a));
    if (in == 0) p->cur_needs_dx = 1;
    DH_TRY(dh__nn_diff_end(p, &pend));
    DH_TRY(dh__nn_step_accumulate(p, x->dw, &cmd, bp[0].grad, i));
    return dh__nn_step_accumulate(p, x->db, &cmd, bp[1].grad, i);
}

/* ---- element-wise ---- */

/* Training ReLU (any slope >= 0) keeps the sign of its input in its output, so its
 * backward can read the output, which the next layer keeps anyway, and the input
 * (often a residual sum) need not be kept for backward. */
int dh__nn_act_bwd_uses_dst(const dh__nn_node *nd)
{
    return nd->act == DH__ACT_RELU && nd->alpha >= 0.0f;
}

static dnnl_alg_kind_t act_alg(int32_t kind)
{
    switch (kind) {
    case DH__ACT_TANH: return dnnl_eltwise_tanh;
    case DH__ACT_SIGMOID: return dnnl_eltwise_logistic;
    case DH__ACT_GELU: return dnnl_eltwise_gelu_erf;
    default: return dnnl_eltwise_relu;
    }
}

dh_status dh__nn_fwd_act(dh__nn_plan *p, int i)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    dh__nn_exec *x = &p->ex[i];
    int in = nd->in[0];
    dnnl_eltwise_desc_t ed;
    dnnl_alg_kind_t alg = act_alg(nd->act);
    if (p->training && dh__nn_act_bwd_uses_dst(nd)) alg = dnnl_eltwise_relu_use_dst_for_bwd;
    DH_DNNL(dnnl_eltwise_forward_desc_init(
        &ed, p->training ? dnnl_forward_training : dnnl_forward_inference, alg, &p->md[in],
        nd->alpha, 0.0f));
    dnnl_primitive_desc_t pd;
    DH_TRY(dh__nn_pd(p, &ed, NULL, NULL, &pd));
    x->fwd_pd = pd;
    DH_TRY(dh__nn_tensor_set(p, nd->out, dh__nn_pd_md(pd, dnnl_query_dst_md, 0)));
    dnnl_primitive_t prim;
    DH_TRY(dh__nn_prim(p, pd, &prim));
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_SRC, p->val[in]}, {DNNL_ARG_DST, p->val[nd->out]}};
    return dh__nn_step_add(p, prim, NULL, NULL, i, 2, a);
}

dh_status dh__nn_bwd_act(dh__nn_plan *p, int i)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    int in = nd->in[0];
    int use_dst = dh__nn_act_bwd_uses_dst(nd);
    dnnl_eltwise_desc_t ed;
    DH_DNNL(dnnl_eltwise_backward_desc_init(
        &ed, use_dst ? dnnl_eltwise_relu_use_dst_for_bwd : act_alg(nd->act), &p->md[nd->out],
        use_dst ? &p->md[nd->out] : &p->md[in], nd->alpha, 0.0f));
    dnnl_primitive_desc_t pd;
    DH_TRY(dh__nn_pd(p, &ed, NULL, p->ex[i].fwd_pd, &pd));
    dnnl_memory_t ddst, target;
    dh__nn_pending pend;
    DH_TRY(dh__nn_diff_begin(p, in, dh__nn_pd_md(pd, dnnl_query_diff_src_md, 0), i, &pend, &target));
    DH_TRY(dh__nn_diff_as(p, nd->out, dh__nn_pd_md(pd, dnnl_query_diff_dst_md, 0), i, &ddst));
    dnnl_primitive_t prim;
    DH_TRY(dh__nn_prim(p, pd, &prim));
    dnnl_exec_arg_t a[3] = {{use_dst ? DNNL_ARG_DST : DNNL_ARG_SRC,
                             use_dst ? p->val[nd->out] : p->val[in]},
                            {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_SRC, target}};
    DH_TRY(dh__nn_step_add(p, prim, NULL, NULL, i, 3, a));
    return dh__nn_diff_end(p, &pend);
}

/* ---- dropout (C loop over the physical buffer: layout-agnostic) ---- */

static dh_status dropout_fwd(dh__nn_plan *p, dh__nn_step *s)
{
    dh__nn_exec *x = s->ctx;
    dh__net *net = p->net;
    const dh__nn_node *nd = &net->nodes[s->node];
    const float *in = dh__nn_mem_ptr(p->val[nd->in[0]]);
    float *out = dh__nn_mem_ptr(p->val[nd->out]);
    dh__xrng r;
    dh__xrng_seed(&r, net->seed ^ (0x9e3779b97f4a7c15ull * (++net->drop_calls)) ^ (uint64_t)s->node);
    float scale = nd->p < 1.0f ? 1.0f / (1.0f - nd->p) : 0.0f;
    for (size_t k = 0; k < x->mask_n; k++) {
        x->mask[k] = dh__xrng_uniform(&r) >= nd->p;
        out[k] = x->mask[k] ? in[k] * scale : 0.0f;
    }
    return DH_OK;
}

static dh_status dropout_bwd(dh__nn_plan *p, dh__nn_step *s)
{
    dh__nn_exec *x = s->ctx;
    const dh__nn_node *nd = &p->net->nodes[s->node];
    const float *g = dh__nn_mem_ptr(p->diff[nd->out]);
    float *d = dh__nn_mem_ptr(x->aux);
    float scale = nd->p < 1.0f ? 1.0f / (1.0f - nd->p) : 0.0f;
    for (size_t k = 0; k < x->mask_n; k++) d[k] = x->mask[k] ? g[k] * scale : 0.0f;
    return DH_OK;
}

dh_status dh__nn_fwd_dropout(dh__nn_plan *p, int i)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    dh__nn_exec *x = &p->ex[i];
    if (!p->training) { /* identity at inference: share the input's memory */
        dh__nn_tensor_alias(p, nd->out, nd->in[0]);
        return DH_OK;
    }
    DH_TRY(dh__nn_tensor_set(p, nd->out, &p->md[nd->in[0]]));
    x->mask_n = dh__dnnl_md_bytes(&p->md[nd->out]) / sizeof(float);
    x->mask = dh__alloc(x->mask_n ? x->mask_n : 1);
    if (!x->mask) return DH_E_NO_MEMORY;
    return dh__nn_step_add(p, NULL, dropout_fwd, x, i, 0, NULL);
}

dh_status dh__nn_bwd_dropout(dh__nn_plan *p, int i)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    dh__nn_exec *x = &p->ex[i];
    dh__nn_pending pend;
    DH_TRY(dh__nn_diff_begin(p, nd->in[0], &p->md[nd->out], i, &pend, &x->aux));
    DH_TRY(dh__nn_step_add(p, NULL, dropout_bwd, x, i, 0, NULL));
    return dh__nn_diff_end(p, &pend);
}

/* ---- softmax over one logical axis ---- */

dh_status dh__nn_fwd_softmax(dh__nn_plan *p, int i)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    dh__nn_exec *x = &p->ex[i];
    int in = nd->in[0];
    dnnl_softmax_desc_t sd;
    DH_DNNL(dnnl_softmax_forward_desc_init(
        &sd, p->training ? dnnl_forward_training : dnnl_forward_inference, &p->md[in], nd->axis));
    dnnl_primitive_desc_t pd;
    DH_TRY(dh__nn_pd(p, &sd, NULL, NULL, &pd));
    x->fwd_pd = pd;
    DH_TRY(dh__nn_tensor_set(p, nd->out, dh__nn_pd_md(pd, dnnl_query_dst_md, 0)));
    dnnl_primitive_t prim;
    DH_TRY(dh__nn_prim(p, pd, &prim));
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_SRC, p->val[in]}, {DNNL_ARG_DST, p->val[nd->out]}};
    return dh__nn_step_add(p, prim, NULL, NULL, i, 2, a);
}

dh_status dh__nn_bwd_softmax(dh__nn_plan *p, int i)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    int in = nd->in[0], out = nd->out;
    dnnl_softmax_desc_t sd;
    DH_DNNL(dnnl_softmax_backward_desc_init(&sd, &p->md[out], &p->md[out], nd->axis));
    dnnl_primitive_desc_t pd;
    DH_TRY(dh__nn_pd(p, &sd, NULL, p->ex[i].fwd_pd, &pd));
    dnnl_memory_t ddst, target;
    dh__nn_pending pend;
    DH_TRY(dh__nn_diff_begin(p, in, dh__nn_pd_md(pd, dnnl_query_diff_src_md, 0), i, &pend, &target));
    DH_TRY(dh__nn_diff_as(p, out, dh__nn_pd_md(pd, dnnl_query_diff_dst_md, 0), i, &ddst));
    dnnl_primitive_t prim;
    DH_TRY(dh__nn_prim(p, pd, &prim));
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_DST, p->val[out]}, {DNNL_ARG_DIFF_DST, ddst},
                            {DNNL_ARG_DIFF_SRC, target}};
    DH_TRY(dh__nn_step_add(p, prim, NULL, NULL, i, 3, a));
    return dh__nn_diff_end(p, &pend);
}
