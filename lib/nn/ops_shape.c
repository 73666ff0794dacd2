/* lib/nn/ops_shape.c -- pooling (max, average, global average), flatten, residual
 * add and channel concatenation on oneDNN, and the dispatch of every non-weighted
 * node kind to its forward/backward builder. */
#include <string.h>

#include "nn/net_impl.h"

/* ---- pooling ---- */

typedef struct pool_geo {
    dnnl_dims_t k, s, pl, pr;
    dnnl_memory_desc_t dst_any;
    dnnl_alg_kind_t alg;
} pool_geo;

static dh_status pool_geo_init(const dh__nn_plan *p, const dh__nn_node *nd, pool_geo *g)
{
    const dh__nn_shape *in = &p->net->t[nd->in[0]];
    int64_t h = in->d[1], w = in->d[2];
    int64_t od[4] = {(int64_t)p->n, in->d[0], 1, 1};
    if (nd->kind == NN_GAP) {
        g->k[0] = h;
        g->k[1] = w;
        g->s[0] = g->s[1] = 1;
        g->pl[0] = g->pl[1] = g->pr[0] = g->pr[1] = 0;
        g->alg = dnnl_pooling_avg_exclude_padding;
    } else {
        const dh__nn_shape *o = &p->net->t[nd->out];
        od[2] = o->d[1];
        od[3] = o->d[2];
        g->k[0] = g->k[1] = nd->kh;
        g->s[0] = g->s[1] = nd->stride;
        g->pl[0] = g->pl[1] = nd->pad;
        g->pr[0] = (od[2] - 1) * nd->stride + nd->kh - h - nd->pad; /* >= 0: see ops_conv.c */
        g->pr[1] = (od[3] - 1) * nd->stride + nd->kh - w - nd->pad;
        if (g->pr[0] < 0) g->pr[0] = 0;
        if (g->pr[1] < 0) g->pr[1] = 0;
        g->alg = nd->kind == NN_MAXPOOL ? dnnl_pooling_max : dnnl_pooling_avg_include_padding;
    }
    return dh__dnnl_md_any(&g->dst_any, 4, od);
}

/* GAP's [n, C] value is a plain view of its pooled [n, C, 1, 1] result. */
static dh_status gap_views(dh__nn_plan *p, int t, dnnl_memory_t m, dnnl_memory_t *view)
{
    const dh__nn_shape *s = &p->net->t[t];
    int64_t d4[4] = {(int64_t)p->n, s->d[0], 1, 1};
    dnnl_memory_desc_t md;
    DH_TRY(dh__dnnl_md_plain(&md, 4, d4));
    return dh__nn_mem(p, &md, dh__nn_mem_ptr(m), view);
}

static dh_status fwd_pool(dh__nn_plan *p, int i)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    dh__nn_exec *x = &p->ex[i];
    int in = nd->in[0];
    pool_geo g;
    DH_TRY(pool_geo_init(p, nd, &g));
    dnnl_prop_kind_t prop = p->training ? dnnl_forward_training : dnnl_forward_inference;
    dnnl_pooling_desc_t pdsc;
    DH_DNNL(dnnl_pooling_forward_desc_init(&pdsc, prop, g.alg, &p->md[in], &g.dst_any, g.s, g.k,
                                           g.pl, g.pr));
    dnnl_primitive_desc_t pd;
    DH_TRY(dh__nn_pd(p, &pdsc, NULL, NULL, &pd));
    x->fwd_pd = pd;
    const dnnl_memory_desc_t *dmd = dh__nn_pd_md(pd, dnnl_query_dst_md, 0);
    dnnl_memory_t dst;
    if (nd->kind == NN_GAP) {
        int64_t d2[2] = {(int64_t)p->n, p->net->t[in].d[0]};
        dnnl_memory_desc_t md2;
        DH_TRY(dh__dnnl_md_plain(&md2, 2, d2));
        DH_TRY(dh__nn_tensor_set(p, nd->out, &md2));
        DH_TRY(dh__nn_mem(p, dmd, NULL, &x->aux));
        dst = x->aux;
    } else {
        DH_TRY(dh__nn_tensor_set(p, nd->out, dmd));
        dst = p->val[nd->out];
    }
    const dnnl_memory_desc_t *wmd = dh__nn_pd_md(pd, dnnl_query_workspace_md, 0);
    int nargs = 2;
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_SRC, p->val[in]}, {DNNL_ARG_DST, dst}, {0, NULL}};
    if (wmd && dh__dnnl_md_bytes(wmd) > 0) {
        DH_TRY(dh__nn_mem(p, wmd, NULL, &x->ws));
        a[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_WORKSPACE, x->ws};
    }
    dnnl_primitive_t prim;
    DH_TRY(dh__nn_prim(p, pd, &prim));
    DH_TRY(dh__nn_step_add(p, prim, NULL, NULL, i, nargs, a));
    if (nd->kind == NN_GAP) {
        DH_TRY(gap_views(p, nd->out, p->val[nd->out], &x->aux2));
        DH_TRY(dh__nn_step_reorder(p, x->aux, x->aux2, 0, i));
    }
    return DH_OK;
}

static dh_status bwd_pool(dh__nn_plan *p, int i)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    dh__nn_exec *x = &p->ex[i];
    int in = nd->in[0];
    pool_geo g;
    DH_TRY(pool_geo_init(p, nd, &g));
    const dnnl_memory_desc_t *fdst = dh__nn_pd_md(x->fwd_pd, dnnl_query_dst_md, 0);
    dnnl_pooling_desc_t pdsc;
    DH_DNNL(dnnl_pooling_backward_desc_init(&pdsc, g.alg, &p->md[in], fdst, g.s, g.k, g.pl, g.pr));
    dnnl_primitive_desc_t pd;
    DH_TRY(dh__nn_pd(p, &pdsc, NULL, x->fwd_pd, &pd));
    const dnnl_memory_desc_t *ddmd = dh__nn_pd_md(pd, dnnl_query_diff_dst_md, 0);
    dnnl_memory_t ddst, target;
    if (nd->kind == NN_GAP) {
        dnnl_memory_t view;
        DH_TRY(gap_views(p, nd->out, p->diff[nd->out], &view));
        DH_TRY(dh__nn_mem(p, ddmd, NULL, &ddst));
        DH_TRY(dh__nn_step_reorder(p, view, ddst, 0, i));
    } else {
        DH_TRY(dh__nn_diff_as(p, nd->out, ddmd, i, &ddst));
    }
    dh__nn_pending pend;
    DH_TRY(dh__nn_diff_begin(p, in, dh__nn_pd_md(pd, dnnl_query_diff_src_md, 0), i, &pend, &target));
    int nargs = 2;
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_SRC, target}, {0, NULL}};
    if (x->ws) a[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_WORKSPACE, x->ws};
    dnnl_primitive_t prim;
    DH_TRY(dh__nn_prim(p, pd, &prim));
    DH_TRY(dh__nn_step_add(p, prim, NULL, NULL, i, nargs, a));
    return dh__nn_diff_end(p, &pend);
}

/* ---- flatten: [n, C, H, W] in any layout -> plain [n, C*H*W] ---- */

static dh_status flat_view(dh__nn_plan *p, int in, dnnl_memory_t m, dnnl_memory_t *view)
{
    int64_t d[4];
    int nd;
    dh__nn_net_dims(p->net, in, p->n, d, &nd);
    dnnl_memory_desc_t md;
    DH_TRY(dh__dnnl_md_plain(&md, nd, d));
    return dh__nn_mem(p, &md, dh__nn_mem_ptr(m), view);
}

static dh_status fwd_flatten(dh__nn_plan *p, int i)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    int64_t d[4];
    int k;
    dh__nn_net_dims(p->net, nd->out, p->n, d, &k);
    dnnl_memory_desc_t md;
    DH_TRY(dh__dnnl_md_plain(&md, k, d));
    DH_TRY(dh__nn_tensor_set(p, nd->out, &md));
    dnnl_memory_t view;
    DH_TRY(flat_view(p, nd->in[0], p->val[nd->out], &view));
    return dh__nn_step_reorder(p, p->val[nd->in[0]], view, 0, i);
}

static dh_status bwd_flatten(dh__nn_plan *p, int i)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    dnnl_memory_t view;
    DH_TRY(flat_view(p, nd->in[0], p->diff[nd->out], &view));
    return dh__nn_diff_route(p, nd->in[0], view, i);
}

/* ---- residual add ---- */

static dh_status fwd_add(dh__nn_plan *p, int i)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    int a0 = nd->in[0], a1 = nd->in[1];
    dnnl_memory_t src1;
    DH_TRY(dh__nn_value_as(p, a1, &p->md[a0], i, &src1));
    dnnl_binary_desc_t bd;
    DH_DNNL(dnnl_binary_desc_init(&bd, dnnl_binary_add, &p->md[a0], &p->md[a0], &p->md[a0]));
    dnnl_primitive_desc_t pd;
    DH_TRY(dh__nn_pd(p, &bd, NULL, NULL, &pd));
    DH_TRY(dh__nn_tensor_set(p, nd->out, &p->md[a0]));
    dnnl_primitive_t prim;
    DH_TRY(dh__nn_prim(p, pd, &prim));
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_SRC_0, p->val[a0]}, {DNNL_ARG_SRC_1, src1},
                            {DNNL_ARG_DST, p->val[nd->out]}};
    return dh__nn_step_add(p, prim, NULL, NULL, i, 3, a);
}

static dh_status bwd_add(dh__nn_plan *p, int i)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    DH_TRY(dh__nn_diff_route(p, nd->in[0], p->diff[nd->out], i));
    return dh__nn_diff_route(p, nd->in[1], p->diff[nd->out], i);
}

/* ---- channel concatenation ---- */

static dh_status fwd_concat(dh__nn_plan *p, int i)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    int64_t d[4];
    int k;
    dh__nn_net_dims(p->net, nd->out, p->n, d, &k);
    dnnl_memory_desc_t any, srcs[NN_MAX_IN];
    DH_TRY(dh__dnnl_md_any(&any, k, d));
    for (int j = 0; j < nd->n_in; j++) srcs[j] = p->md[nd->in[j]];
    dnnl_engine_t eng;
    DH_TRY(dh__dnnl_engine(&eng));
    dnnl_primitive_desc_t pd;
    DH_DNNL(dnnl_concat_primitive_desc_create(&pd, &any, nd->n_in, 1, srcs, NULL, eng));
    DH_TRY(dh__nn_pd_keep(p, pd));
    DH_TRY(dh__nn_tensor_set(p, nd->out, dh__nn_pd_md(pd, dnnl_query_dst_md, 0)));
    dnnl_exec_arg_t a[NN_MAX_IN + 1];
    for (int j = 0; j < nd->n_in; j++)
        a[j] = (dnnl_exec_arg_t){DNNL_ARG_MULTIPLE_SRC + j, p->val[nd->in[j]]};
    a[nd->n_in] = (dnnl_exec_arg_t){DNNL_ARG_DST, p->val[nd->out]};
    dnnl_primitive_t prim;
    DH_TRY(dh__nn_prim(p, pd, &prim));
    return dh__nn_step_add(p, prim, NULL, NULL, i, nd->n_in + 1, a);
}

/* Backward: the gradient in plain layout, then each input's channel slice. */
static dh_status bwd_concat(dh__nn_plan *p, int i)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    dh__nn_exec *x = &p->ex[i];
    int64_t d[4];
    int k;
    dh__nn_net_dims(p->net, nd->out, p->n, d, &k);
    dnnl_memory_desc_t plain;
    DH_TRY(dh__dnnl_md_plain(&plain, k, d));
    DH_TRY(dh__nn_mem(p, &plain, NULL, &x->aux));
    DH_TRY(dh__nn_step_reorder(p, p->diff[nd->out], x->aux, 0, i));
    int64_t off = 0;
    for (int j = 0; j < nd->n_in; j++) {
        int t = nd->in[j];
        dnnl_dims_t sd, so = {0, 0, 0, 0};
        for (int q = 0; q < k; q++) sd[q] = d[q];
        sd[1] = p->net->t[t].d[0];
        so[1] = off;
        off += sd[1];
        dnnl_memory_desc_t smd;
        DH_DNNL(dnnl_memory_desc_init_submemory(&smd, &plain, sd, so));
        dnnl_memory_t sub;
        DH_TRY(dh__nn_mem(p, &smd, dh__nn_mem_ptr(x->aux), &sub));
        DH_TRY(dh__nn_diff_route(p, t, sub, i));
    }
    return DH_OK;
}

/* ---- dispatch ---- */

dh_status dh__nn_build_fwd_misc(dh__nn_plan *p, int i)
{
    switch (p->net->nodes[i].kind) {
    case NN_BN: return dh__nn_fwd_bn(p, i);
    case NN_ACT: return dh__nn_fwd_act(p, i);
    case NN_MAXPOOL:
    case NN_AVGPOOL:
    case NN_GAP: return fwd_pool(p, i);
    case NN_FLATTEN: return fwd_flatten(p, i);
    case NN_DROPOUT: return dh__nn_fwd_dropout(p, i);
    case NN_ADD: return fwd_add(p, i);
    case NN_SOFTMAX: return dh__nn_fwd_softmax(p, i);
    case NN_CONCAT: return fwd_concat(p, i);
    default: return dh__set_error(DH_E_INTERNAL, "nn: unknown node kind %d", p->net->nodes[i].kind);
    }
}

dh_status dh__nn_build_bwd_misc(dh__nn_plan *p, int i)
{
    switch (p->net->nodes[i].kind) {
    case NN_BN: return dh__nn_bwd_bn(p, i);
    case NN_ACT: return dh__nn_bwd_act(p, i);
    case NN_MAXPOOL:
    case NN_AVGPOOL:
    case NN_GAP: return bwd_pool(p, i);
    case NN_FLATTEN: return bwd_flatten(p, i);
    case NN_DROPOUT: return dh__nn_bwd_dropout(p, i);
    case NN_ADD: return bwd_add(p, i);
    case NN_SOFTMAX: return dh__nn_bwd_softmax(p, i);
    case NN_CONCAT: return bwd_concat(p, i);
    default: return dh__set_error(DH_E_INTERNAL, "nn: unknown node kind %d", p->net->nodes[i].kind);
    }
}
