/* lib/nn/ops_conv.c -- convolution and inner product (linear) on oneDNN: forward for
 * training and inference (BN folded into the weights, residual sum and ReLU as
 * post-ops), backward for data and weights.
 *
 * Weights: the dh__param arrays (PyTorch OIHW / [out,in]) are the masters; when the
 * primitive wants a blocked layout a reorder step copies them (every training
 * forward; for inference only when net->version moved). Gradients come out in the
 * primitive's layout and are accumulated into the plain grad arrays by reorders
 * with a sum post-op. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/net_impl.h"

/* oneDNN's right padding that reproduces PyTorch's floor output size. When the last
 * window ends before the input does (a 1x1 stride-2 conv on an even size), the exact
 * value is negative; 0 gives the same output size through the floor, and a negative
 * right padding makes oneDNN's backward-data skip zeroing the uncovered last row. */
static int64_t pad_right(int64_t in, int64_t out, int32_t k, int32_t s, int32_t pad, int32_t dil)
{
    int64_t pr = (out - 1) * s + (int64_t)(k - 1) * dil + 1 - in - pad;
    return pr > 0 ? pr : 0;
}

static void weight_dims(const dh__net *net, const dh__nn_node *nd, int64_t *wd, int *wn)
{
    const dh__nn_shape *in = &net->t[nd->in[0]];
    if (nd->kind == NN_LINEAR) {
        wd[0] = nd->out_c;
        for (int k = 0; k < in->ndim; k++) wd[k + 1] = in->d[k];
        *wn = in->ndim + 1;
    } else if (nd->groups > 1) {
        int64_t g = nd->groups;
        int64_t w5[5] = {g, nd->out_c / g, in->d[0] / g, nd->kh, nd->kw};
        memcpy(wd, w5, sizeof w5);
        *wn = 5;
    } else {
        int64_t w4[4] = {nd->out_c, in->d[0], nd->kh, nd->kw};
        memcpy(wd, w4, sizeof w4);
        *wn = 4;
    }
}

/* One activation layout for every convolution whose channel counts allow it:
 * nChw16c on AVX-512 (what Winograd needs), nChw8c on AVX2. Left to "any", oneDNN
 * 2.6 on AVX-512 gives the strided and 1x1 convolutions brgconv in NHWC while the
 * Winograd layers around them are nChw16c, and every residual block pays two
 * reorders each way (about 10% of resnet18 inference). Inference plans only: in
 * training the blocked direct kernels were not faster than brgconv (resnet18-cifar
 * step at batch 64: 0.89-0.94x at load 12-20 on a 2-core EPYC; 1.20x for resnet18
 * inference at batch 16). DH_NN_CONV_LAYOUT=any restores oneDNN's own choice
 * (read per plan build). */
static dnnl_format_tag_t conv_block_tag(int64_t c_in, int64_t c_out)
{
    const char *e = getenv("DH_NN_CONV_LAYOUT");
    if (e && strcmp(e, "any") == 0) return dnnl_format_tag_undef;
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    int64_t b = (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core ? 16
              : (isa & dnnl_cpu_isa_avx2) == dnnl_cpu_isa_avx2 ? 8 : 0;
    if (!b || c_in % b || c_out % b) return dnnl_format_tag_undef;
    return b == 16 ? dnnl_aBcd16b : dnnl_aBcd8b;
}

typedef struct wop_descs {
    dnnl_memory_desc_t src, w, b, dst, w_plain;
    int use_bias;
    dnnl_dims_t strides, dil, pl, pr;
} wop_descs;

static dh_status wop_descs_init(const dh__nn_plan *p, int i, wop_descs *d)
{
    const dh__net *net = p->net;
    const dh__nn_node *nd = &net->nodes[i];
    int64_t sd[4], od[4], wd[5];
    int sn, on, wn;
    dh__nn_net_dims(net, nd->in[0], p->n, sd, &sn);
    dh__nn_net_dims(net, nd->out, p->n, od, &on);
    weight_dims(net, nd, wd, &wn);
    DH_TRY(dh__dnnl_md_any(&d->src, sn, sd));
    DH_TRY(dh__dnnl_md_any(&d->dst, on, od));
    int blocked = !p->training && nd->kind == NN_CONV && nd->groups == 1 && sn == 4 && on == 4;
    dnnl_format_tag_t blk = blocked ? conv_block_tag(sd[1], od[1]) : dnnl_format_tag_undef;
    if (blk != dnnl_format_tag_undef) {
        dnnl_dims_t a, b;
        for (int k = 0; k < 4; k++) a[k] = sd[k], b[k] = od[k];
        DH_DNNL(dnnl_memory_desc_init_by_tag(&d->src, 4, a, dnnl_f32, blk));
        DH_DNNL(dnnl_memory_desc_init_by_tag(&d->dst, 4, b, dnnl_f32, blk));
    }
    DH_TRY(dh__dnnl_md_plain(&d->w_plain, wn, wd));
    /* Linear layers on plain rows keep PyTorch's [out, in] weights: the GEMM kernel
     * reads them as they are, which saves a weight reorder per pass (and per
     * gradient); convolutions and linear layers on blocked maps choose their own. */
    if (nd->kind == NN_LINEAR && sn == 2) d->w = d->w_plain;
    else DH_TRY(dh__dnnl_md_any(&d->w, wn, wd));
    int64_t bd[1] = {nd->out_c};
    DH_TRY(dh__dnnl_md_plain(&d->b, 1, bd));
    d->use_bias = nd->has_bias || (!p->training && p->ex[i].fold_bn >= 0);
    if (nd->kind == NN_CONV) {
        d->strides[0] = d->strides[1] = nd->stride;
        d->dil[0] = d->dil[1] = nd->dil - 1; /* oneDNN counts dilation from 0 */
        d->pl[0] = d->pl[1] = nd->pad;
        d->pr[0] = pad_right(sd[2], od[2], nd->kh, nd->stride, nd->pad, nd->dil);
        d->pr[1] = pad_right(sd[3], od[3], nd->kw, nd->stride, nd->pad, nd->dil);
    }
    return DH_OK;
}

/* Fold BN (gamma, beta, running mean/var) into weights and bias:
 * s = gamma / sqrt(var + eps); W' = W s; b' = (b - mean) s + beta. */
static void fold_bn(const dh__net *net, const dh__nn_node *nd, const dh__nn_node *bn, float *fw, float *fb)
{
    const dh__param *w = &net->params[nd->param];
    const float *bias = nd->has_bias ? net->params[nd->param + 1].data : NULL;
    const dh__param *bp = &net->params[bn->param];
    const float *gamma = bp[0].data, *beta = bp[1].data, *mean = bp[2].data, *var = bp[3].data;
    size_t per = w->n / (size_t)nd->out_c;
    for (int o = 0; o < nd->out_c; o++) {
        float s = gamma[o] / sqrtf(var[o] + bn->eps);
        for (size_t k = 0; k < per; k++) fw[(size_t)o * per + k] = w->data[(size_t)o * per + k] * s;
        fb[o] = ((bias ? bias[o] : 0.0f) - mean[o]) * s + beta[o];
    }
}

static dh_status sync_weights(dh__nn_plan *p, dh__nn_step *s)
{
    dh__nn_exec *x = s->ctx;
    dh__net *net = p->net;
    if (!p->training && x->synced == net->version) return DH_OK;
    const dh__nn_node *nd = &net->nodes[s->node];
    if (!p->training && x->fold_bn >= 0) fold_bn(net, nd, &net->nodes[x->fold_bn], x->fold_w, x->fold_b);
    if (x->w_reorder) {
        dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, x->w_user}, {DNNL_ARG_TO, x->w}};
        DH_DNNL(dnnl_primitive_execute(x->w_reorder, net->stream, 2, a));
        DH_DNNL(dnnl_stream_wait(net->stream));
    }
    x->synced = net->version;
    return DH_OK;
}

static dh_status make_attr(const dh__nn_plan *p, const dh__nn_exec *x, dnnl_primitive_attr_t *attr)
{
    *attr = NULL;
    if (x->fold_add_other < 0 && x->fold_act < 0) return DH_OK;
    DH_DNNL(dnnl_primitive_attr_create(attr));
    dnnl_post_ops_t po;
    DH_DNNL(dnnl_post_ops_create(&po));
    dnnl_status_t ds = dnnl_success;
    if (x->fold_add_other >= 0) ds = dnnl_post_ops_append_sum(po, 1.0f);
    if (ds == dnnl_success && x->fold_act >= 0)
        ds = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu,
                                          p->net->nodes[x->fold_act].alpha, 0.0f);
    if (ds == dnnl_success) ds = dnnl_primitive_attr_set_post_ops(*attr, po);
    dnnl_post_ops_destroy(po);
    DH_DNNL(ds);
    return DH_OK;
}

/* Winograd F(4x4, 3x3) (oneDNN's jit_wino_4x3 on AVX-512) does a 3x3 stride-1
 * convolution with about 2.25x fewer multiplications than the direct kernels, for
 * forward, backward-data and backward-weights; the transforms cost rounding error at
 * the 1e-6 relative level. oneDNN only implements it for 16-aligned channel counts;
 * elsewhere (and if it declines a shape) the direct algorithm runs.
 * DH_NN_CONV_ALGO=direct forces the direct kernels (for comparisons). */
static int wino_eligible(const dh__net *net, const dh__nn_node *nd)
{
    const char *e = getenv("DH_NN_CONV_ALGO"); /* read per plan build: tests switch it */
    if (e && strcmp(e, "direct") == 0) return 0;
    return nd->kind == NN_CONV && nd->kh == 3 && nd->kw == 3 && nd->stride == 1 &&
           nd->dil == 1 && nd->groups == 1 && nd->pad == 1 && nd->out_c % 16 == 0 &&
           net->t[nd->in[0]].d[0] % 16 == 0;
}

static dh_status conv_pd(dh__nn_plan *p, int i, wop_descs *d, const_dnnl_primitive_attr_t attr,
                         dnnl_primitive_desc_t *pd)
{
    dnnl_prop_kind_t prop = p->training ? dnnl_forward_training : dnnl_forward_inference;
    dnnl_convolution_desc_t cd;
    dnnl_status_t ds;
    if (wino_eligible(p->net, &p->net->nodes[i])) {
        dnnl_engine_t eng;
        DH_TRY(dh__dnnl_engine(&eng));
        ds = dnnl_dilated_convolution_forward_desc_init(&cd, prop, dnnl_convolution_winograd,
                                                        &d->src, &d->w,
                                                        d->use_bias ? &d->b : NULL, &d->dst,
                                                        d->strides, d->dil, d->pl, d->pr);
        if (ds == dnnl_success &&
            dnnl_primitive_desc_create(pd, &cd, attr, eng, NULL) == dnnl_success) {
            p->ex[i].wino = 1;
            return dh__nn_pd_keep(p, *pd);
        }
    }
    ds = dnnl_dilated_convolution_forward_desc_init(&cd, prop, dnnl_convolution_direct, &d->src,
                                                    &d->w, d->use_bias ? &d->b : NULL, &d->dst,
                                                    d->strides, d->dil, d->pl, d->pr);
    if (ds != dnnl_success)
        return dh__dnnl_error(ds, "dnnl_convolution_forward_desc_init", __func__);
    return dh__nn_pd(p, &cd, attr, NULL, pd);
}

static dnnl_alg_kind_t conv_alg(const dh__nn_plan *p, int i)
{
    return p->ex[i].wino ? dnnl_convolution_winograd : dnnl_convolution_direct;
}

static dh_status fwd_pd(dh__nn_plan *p, int i, wop_descs *d, dnnl_primitive_desc_t *pd)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    dnnl_prop_kind_t prop = p->training ? dnnl_forward_training : dnnl_forward_inference;
    dnnl_primitive_attr_t attr;
    DH_TRY(make_attr(p, &p->ex[i], &attr));
    dnnl_status_t ds;
    dh_status st;
    if (nd->kind == NN_CONV) {
        st = conv_pd(p, i, d, attr, pd);
    } else {
        dnnl_inner_product_desc_t ipd;
        ds = dnnl_inner_product_forward_desc_init(&ipd, prop, &d->src, &d->w,
                                                  d->use_bias ? &d->b : NULL, &d->dst);
        st = ds == dnnl_success ? dh__nn_pd(p, &ipd, attr, NULL, pd)
                                : dh__dnnl_error(ds, "dnnl_inner_product_forward_desc_init", __func__);
    }
    if (attr) dnnl_primitive_attr_destroy(attr);
    return st;
}

/* Master (or folded) weights and bias, and the primitive-layout copies. */
static dh_status fwd_weights(dh__nn_plan *p, int i, const wop_descs *d, const_dnnl_primitive_desc_t pd)
{
    dh__net *net = p->net;
    const dh__nn_node *nd = &net->nodes[i];
    dh__nn_exec *x = &p->ex[i];
    float *wsrc = net->params[nd->param].data;
    float *bsrc = nd->has_bias ? net->params[nd->param + 1].data : NULL;
    if (!p->training && x->fold_bn >= 0) {
        x->fold_w = dh__nn_buf(p, net->params[nd->param].n * sizeof(float));
        x->fold_b = dh__nn_buf(p, (size_t)nd->out_c * sizeof(float));
        if (!x->fold_w || !x->fold_b) return DH_E_NO_MEMORY;
        wsrc = x->fold_w;
        bsrc = x->fold_b;
    }
    DH_TRY(dh__nn_mem(p, &d->w_plain, wsrc, &x->w_user));
    const dnnl_memory_desc_t *wmd = dh__nn_pd_md(pd, dnnl_query_weights_md, 0);
    if (dnnl_memory_desc_equal(wmd, &d->w_plain)) {
        x->w = x->w_user;
    } else {
        DH_TRY(dh__nn_mem(p, wmd, NULL, &x->w));
        DH_TRY(dh__nn_reorder_prim(p, &d->w_plain, wmd, 0, &x->w_reorder));
    }
    if (d->use_bias) DH_TRY(dh__nn_mem(p, &d->b, bsrc, &x->b));
    return DH_OK;
}

dh_status dh__nn_build_fwd_wop(dh__nn_plan *p, int i)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    dh__nn_exec *x = &p->ex[i];
    wop_descs d;
    DH_TRY(wop_descs_init(p, i, &d));
    dnnl_primitive_desc_t pd;
    DH_TRY(fwd_pd(p, i, &d, &pd));
    if (p->training) x->fwd_pd = pd;
    dnnl_memory_t src;
    DH_TRY(dh__nn_value_as(p, nd->in[0], dh__nn_pd_md(pd, dnnl_query_src_md, 0), i, &src));
    DH_TRY(dh__nn_tensor_set(p, nd->out, dh__nn_pd_md(pd, dnnl_query_dst_md, 0)));
    DH_TRY(fwd_weights(p, i, &d, pd));
    DH_TRY(dh__nn_step_add(p, NULL, sync_weights, x, i, 0, NULL));
    if (x->fold_add_other >= 0) /* the sum post-op adds what dst holds */
        DH_TRY(dh__nn_step_reorder(p, p->val[x->fold_add_other], p->val[nd->out], 0, i));
    dnnl_primitive_t prim;
    DH_TRY(dh__nn_prim(p, pd, &prim));
    dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, x->w},
                            {DNNL_ARG_DST, p->val[nd->out]}, {DNNL_ARG_BIAS, x->b}};
    return dh__nn_step_add(p, prim, NULL, NULL, i, d.use_bias ? 4 : 3, a);
}

/* Gradient w.r.t. weights (and bias), accumulated into the plain grad arrays. */
static dh_status bwd_weights(dh__nn_plan *p, int i, wop_descs *d)
{
    dh__net *net = p->net;
    const dh__nn_node *nd = &net->nodes[i];
    dh__nn_exec *x = &p->ex[i];
    dnnl_primitive_desc_t pd;
    dnnl_status_t ds;
    const dnnl_memory_desc_t *db = nd->has_bias ? &d->b : NULL;
    if (nd->kind == NN_CONV) {
        dnnl_convolution_desc_t cd;
        ds = dnnl_dilated_convolution_backward_weights_desc_init(
            &cd, conv_alg(p, i), &d->src, &d->w, db, &d->dst, d->strides, d->dil, d->pl,
            d->pr);
        if (ds != dnnl_success)
            return dh__dnnl_error(ds, "dnnl_convolution_backward_weights_desc_init", __func__);
        DH_TRY(dh__nn_pd(p, &cd, NULL, x->fwd_pd, &pd));
    } else {
        dnnl_inner_product_desc_t ipd;
        ds = dnnl_inner_product_backward_weights_desc_init(&ipd, &d->src, &d->w, db, &d->dst);
        if (ds != dnnl_success)
            return dh__dnnl_error(ds, "dnnl_inner_product_backward_weights_desc_init", __func__);
        DH_TRY(dh__nn_pd(p, &ipd, NULL, x->fwd_pd, &pd));
    }
    dnnl_memory_t src, ddst;
    DH_TRY(dh__nn_value_as(p, nd->in[0], dh__nn_pd_md(pd, dnnl_query_src_md, 0), i, &src));
    DH_TRY(dh__nn_diff_as(p, nd->out, dh__nn_pd_md(pd, dnnl_query_diff_dst_md, 0), i, &ddst));
    /* dw is read only by the accumulation right after: a transient buffer */
    DH_TRY(dh__nn_mem_transient(p, dh__nn_pd_md(pd, dnnl_query_diff_weights_md, 0), i, &x->dw));
    if (db) DH_TRY(dh__nn_mem(p, db, NULL, &x->db));
    dnnl_primitive_t prim;
    DH_TRY(dh__nn_prim(p, pd, &prim));
    dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst},
                            {DNNL_ARG_DIFF_WEIGHTS, x->dw}, {DNNL_ARG_DIFF_BIAS, x->db}};
    DH_TRY(dh__nn_step_add(p, prim, NULL, NULL, i, db ? 4 : 3, a));
    DH_TRY(dh__nn_step_accumulate(p, x->dw, &d->w_plain, net->params[nd->param].grad, i));
    if (db) DH_TRY(dh__nn_step_accumulate(p, x->db, db, net->params[nd->param + 1].grad, i));
    return DH_OK;
}

static dh_status bwd_data_pd(dh__nn_plan *p, int i, wop_descs *d, dnnl_primitive_desc_t *pd)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    dnnl_status_t ds;
    if (nd->kind == NN_CONV) {
        dnnl_convolution_desc_t cd;
        ds = dnnl_dilated_convolution_backward_data_desc_init(&cd, conv_alg(p, i), &d->src,
                                                              &d->w, &d->dst, d->strides, d->dil,
                                                              d->pl, d->pr);
        if (ds != dnnl_success)
            return dh__dnnl_error(ds, "dnnl_convolution_backward_data_desc_init", __func__);
        return dh__nn_pd(p, &cd, NULL, p->ex[i].fwd_pd, pd);
    }
    dnnl_inner_product_desc_t ipd;
    ds = dnnl_inner_product_backward_data_desc_init(&ipd, &d->src, &d->w, &d->dst);
    if (ds != dnnl_success)
        return dh__dnnl_error(ds, "dnnl_inner_product_backward_data_desc_init", __func__);
    return dh__nn_pd(p, &ipd, NULL, p->ex[i].fwd_pd, pd);
}

dh_status dh__nn_build_bwd_wop(dh__nn_plan *p, int i)
{
    const dh__nn_node *nd = &p->net->nodes[i];
    dh__nn_exec *x = &p->ex[i];
    wop_descs d;
    DH_TRY(wop_descs_init(p, i, &d));
    DH_TRY(bwd_weights(p, i, &d));
    dnnl_primitive_desc_t pd;
    DH_TRY(bwd_data_pd(p, i, &d, &pd));
    dh__nn_pending pend;
    dnnl_memory_t target, ddst, w = x->w;
    DH_TRY(dh__nn_diff_begin(p, nd->in[0], dh__nn_pd_md(pd, dnnl_query_diff_src_md, 0), i, &pend, &target));
    const dnnl_memory_desc_t *wmd = dh__nn_pd_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *have = NULL;
    dnnl_memory_get_memory_desc(x->w, &have);
    if (!dnnl_memory_desc_equal(wmd, have)) { /* backward-data wants its own layout */
        DH_TRY(dh__nn_mem_transient(p, wmd, i, &w));
        DH_TRY(dh__nn_step_reorder(p, x->w_user, w, 0, i));
    }
    DH_TRY(dh__nn_diff_as(p, nd->out, dh__nn_pd_md(pd, dnnl_query_diff_dst_md, 0), i, &ddst));
    dnnl_primitive_t prim;
    DH_TRY(dh__nn_prim(p, pd, &prim));
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, w},
                            {DNNL_ARG_DIFF_SRC, target}};
    DH_TRY(dh__nn_step_add(p, prim, NULL, NULL, i, 3, a));
    return dh__nn_diff_end(p, &pend);
}
