/* lib/nn/plan_build.c -- building, running and freeing an execution plan; the
 * inference fusion analysis (conv/linear + BN fold + residual sum + ReLU post-ops). */
#include <string.h>

#include "nn/net_impl.h"

/* The single consumer node of tensor t, or -1 when it has zero or several, or when
 * t is exposed to the caller (output or feature map) and so must stay materialised. */
static int sole_consumer(const dh__net *net, int t)
{
    if (net->t[t].n_cons != 1 || t == net->output || t == net->fmap) return -1;
    for (int j = 0; j < net->n_nodes; j++)
        for (int k = 0; k < net->nodes[j].n_in; k++)
            if (net->nodes[j].in[k] == t) return j;
    return -1;
}

/* Inference: fold BN into the producing conv/linear, then a residual add through a
 * sum post-op (when the other operand is ready before the conv runs), then ReLU. */
static void plan_fusion(dh__nn_plan *p)
{
    dh__net *net = p->net;
    for (int i = 0; i < net->n_nodes; i++) {
        dh__nn_node *nd = &net->nodes[i];
        if (nd->kind != NN_CONV && nd->kind != NN_LINEAR) continue;
        if (p->ex[i].fused) continue;
        int t = nd->out, c = sole_consumer(net, t);
        if (c >= 0 && net->nodes[c].kind == NN_BN) {
            p->ex[i].fold_bn = c;
            p->ex[c].fused = 1;
            t = net->nodes[c].out;
            c = sole_consumer(net, t);
        }
        /* A residual add fuses into whichever of its two producers runs last (the
         * other operand must be ready): conv2 of an identity block, the downsample
         * conv of a projection block. */
        if (c >= 0 && net->nodes[c].kind == NN_ADD && nd->kind == NN_CONV && !p->ex[c].fused) {
            const dh__nn_node *ad = &net->nodes[c];
            int other = ad->in[0] == t ? ad->in[1] : ad->in[0];
            if (other != t && net->t[other].producer < i) {
                p->ex[i].fold_add_other = other;
                p->ex[i].fold_add = c;
                p->ex[c].fused = 1;
                t = ad->out;
                c = sole_consumer(net, t);
            }
        }
        if (c >= 0 && net->nodes[c].kind == NN_ACT && net->nodes[c].act == DH__ACT_RELU &&
            !p->ex[c].fused) {
            p->ex[i].fold_act = c;
            p->ex[c].fused = 1;
        }
    }
}

/* A ReLU that alone consumes a batch norm's output runs inside the batch-norm
 * primitive (dnnl_fuse_norm_relu), forward and backward; at inference only for
 * batch norms not already folded into a convolution. */
static void plan_fusion_bn_relu(dh__nn_plan *p)
{
    dh__net *net = p->net;
    for (int i = 0; i < net->n_nodes; i++) {
        if (net->nodes[i].kind != NN_BN || p->ex[i].fused) continue;
        int c = sole_consumer(net, net->nodes[i].out);
        if (c >= 0 && net->nodes[c].kind == NN_ACT && net->nodes[c].act == DH__ACT_RELU &&
            net->nodes[c].alpha == 0.0f) {
            p->ex[i].fold_act = c;
            p->ex[c].fused = 1;
        }
    }
}

/* Tensors produced by fused nodes share their producer's memory. */
static void plan_alias_fused(dh__nn_plan *p, int i)
{
    const dh__nn_exec *x = &p->ex[i];
    const dh__net *net = p->net;
    int src = net->nodes[i].out;
    if (x->fold_bn >= 0) dh__nn_tensor_alias(p, net->nodes[x->fold_bn].out, src);
    if (x->fold_add >= 0) dh__nn_tensor_alias(p, net->nodes[x->fold_add].out, src);
    if (x->fold_act >= 0) dh__nn_tensor_alias(p, net->nodes[x->fold_act].out, src);
}

/* The tensor a fused (or, at inference, identity dropout) node's output aliases:
 * its chain input, or -1 when node j keeps its own output memory. */
static int alias_source(const dh__nn_plan *p, int j)
{
    const dh__nn_node *nd = &p->net->nodes[j];
    if (!p->training && nd->kind == NN_DROPOUT) return nd->in[0];
    if (!p->ex[j].fused) return -1;
    if (nd->kind != NN_ADD) return nd->in[0];
    for (int i = 0; i < j; i++) /* the conv whose sum post-op absorbed this add */
        if (p->ex[i].fold_add == j) return nd->in[0] == p->ex[i].fold_add_other ? nd->in[1] : nd->in[0];
    return nd->in[0];
}

/* Whether node j's backward reads tensor t's value (training). */
static int bwd_reads(const dh__nn_plan *p, int j, int t)
{
    const dh__nn_node *nd = &p->net->nodes[j];
    switch (nd->kind) {
    case NN_CONV:
    case NN_LINEAR:
    case NN_BN: return nd->in[0] == t;
    case NN_ACT:
        if (p->ex[j].fused) return 0; /* runs inside batch norm, on its workspace */
        return dh__nn_act_bwd_uses_dst(nd) ? nd->out == t : nd->in[0] == t;
    case NN_SOFTMAX: return nd->out == t;
    default: return 0; /* pooling (workspace), add, flatten, concat, dropout (mask) */
    }
}

/* Liveness of the memories dh__nn_tensor_set shares: tensor t is used by the steps of
 * nodes producer(t) .. last consumer(t) (backward runs the same range in reverse);
 * exposed tensors (output, feature map) stay live to the end. Aliased tensors share
 * one memory, so ranges and the keep flag are merged at the group's root (the tensor
 * whose producer calls dh__nn_tensor_set). */
void dh__nn_plan_lifetimes(dh__nn_plan *p)
{
    const dh__net *net = p->net;
    int nt = net->n_t, *hi = p->live_hi, *root = p->live_root;
    char *keep = p->live_keep;
    for (int t = 0; t < nt; t++) {
        hi[t] = t == net->output || t == net->fmap ? net->n_nodes : -1;
        root[t] = t;
        keep[t] = t == net->output || t == net->fmap;
    }
    for (int j = 0; j < net->n_nodes; j++) {
        const dh__nn_node *nd = &net->nodes[j];
        for (int k = 0; k < nd->n_in; k++) {
            if (hi[nd->in[k]] < j) hi[nd->in[k]] = j;
            keep[nd->in[k]] |= (char)bwd_reads(p, j, nd->in[k]);
        }
        keep[nd->out] |= (char)bwd_reads(p, j, nd->out);
        int src = alias_source(p, j);
        if (src >= 0) root[nd->out] = root[src];
    }
    for (int t = nt - 1; t > 0; t--) {
        if (root[t] == t) continue;
        if (hi[t] > hi[root[t]]) hi[root[t]] = hi[t];
        keep[root[t]] |= keep[t];
    }
    hi[0] = -1; /* the input is the caller's (or, training, the plan's own copy) */
}

/* Caller arrays (plain layout) and the reorders between them and the net. */
static dh_status plan_glue_one(dh__nn_plan *p, int t, dnnl_memory_t *user, dnnl_primitive_t *r,
                               dnnl_memory_t *duser, dnnl_primitive_t *dr)
{
    int64_t dims[4];
    int nd;
    dnnl_memory_desc_t md;
    dh__nn_net_dims(p->net, t, p->n, dims, &nd);
    DH_TRY(dh__dnnl_md_plain(&md, nd, dims));
    DH_TRY(dh__nn_mem_user(p, &md, user));
    DH_TRY(dh__nn_reorder_prim(p, &p->md[t], &md, 0, r));
    if (!p->training) return DH_OK;
    DH_TRY(dh__nn_mem_user(p, &md, duser));
    return dh__nn_reorder_prim(p, &md, &p->md[t], 0, dr);
}

static dh_status plan_glue(dh__nn_plan *p)
{
    dh__net *net = p->net;
    DH_TRY(plan_glue_one(p, net->output, &p->out_user, &p->out_r, &p->dout_user, &p->dout_r));
    if (net->fmap >= 0)
        DH_TRY(plan_glue_one(p, net->fmap, &p->fmap_user, &p->fmap_r, &p->dfmap_user, &p->dfmap_r));
    return DH_OK;
}

static dh_status plan_build(dh__nn_plan *p)
{
    dh__net *net = p->net;
    int64_t dims[4];
    int nd;
    dh__nn_net_dims(net, 0, p->n, dims, &nd);
    DH_TRY(dh__dnnl_md_plain(&p->md[0], nd, dims));
    /* Training keeps its own copy of the input: backward reads it (first-layer weight
     * gradients) after the caller's array may have been reused. */
    if (p->training) DH_TRY(dh__nn_mem(p, &p->md[0], NULL, &p->val[0]));
    else DH_TRY(dh__nn_mem_user(p, &p->md[0], &p->val[0]));
    if (p->training) DH_TRY(dh__nn_mem_user(p, &p->md[0], &p->diff[0]));
    if (!p->training) plan_fusion(p);
    plan_fusion_bn_relu(p);
    dh__nn_plan_lifetimes(p);
    for (int i = 0; i < net->n_nodes; i++) {
        if (p->ex[i].fused) continue;
        int k = net->nodes[i].kind;
        if (k == NN_CONV || k == NN_LINEAR) DH_TRY(dh__nn_build_fwd_wop(p, i));
        else DH_TRY(dh__nn_build_fwd_misc(p, i));
        plan_alias_fused(p, i);
    }
    DH_TRY(plan_glue(p));
    if (!p->training) return DH_OK;
    p->building_bwd = 1;
    p->written[net->output] = 1;
    if (net->fmap >= 0) p->written[net->fmap] = 1;
    for (int i = net->n_nodes - 1; i >= 0; i--) {
        if (p->ex[i].fused) continue;
        int k = net->nodes[i].kind;
        if (k == NN_CONV || k == NN_LINEAR) DH_TRY(dh__nn_build_bwd_wop(p, i));
        else DH_TRY(dh__nn_build_bwd_misc(p, i));
    }
    p->building_bwd = 0;
    return DH_OK;
}

dh_status dh__nn_plan_create(dh__net *net, size_t n, int training, dh__nn_plan **out)
{
    *out = NULL;
    dh__nn_plan *p = dh__calloc(1, sizeof *p);
    if (!p) return DH_E_NO_MEMORY;
    p->net = net;
    p->n = n;
    p->training = training;
    p->nthr = dh__num_threads();
    size_t nt = (size_t)net->n_t, nn = (size_t)net->n_nodes;
    p->md = dh__calloc(nt, sizeof *p->md);
    p->val = dh__calloc(nt, sizeof *p->val);
    p->diff = dh__calloc(nt, sizeof *p->diff);
    p->written = dh__calloc(nt, 1);
    p->ex = dh__calloc(nn ? nn : 1, sizeof *p->ex);
    p->live_hi = dh__calloc(nt, sizeof *p->live_hi);
    p->live_root = dh__calloc(nt, sizeof *p->live_root);
    p->live_keep = dh__calloc(nt, 1);
    if (!p->md || !p->val || !p->diff || !p->written || !p->ex || !p->live_hi || !p->live_root ||
        !p->live_keep) {
        dh__nn_plan_free(p);
        return DH_E_NO_MEMORY;
    }
    for (size_t i = 0; i < nn; i++) {
        p->ex[i].fold_bn = p->ex[i].fold_add_other = p->ex[i].fold_add = p->ex[i].fold_act = -1;
        p->ex[i].synced = (uint64_t)-1;
    }
    dh_status st = plan_build(p);
    if (st != DH_OK) {
        dh__error_prefix("building the %s plan for batch %zu", training ? "training" : "inference",
                         n);
        dh__nn_plan_free(p);
        return st;
    }
    *out = p;
    return DH_OK;
}

void dh__nn_plan_free(dh__nn_plan *p)
{
    if (!p) return;
    for (int i = 0; i < p->n_prims; i++) dnnl_primitive_destroy(p->prims[i]);
    for (int i = 0; i < p->n_pds; i++) dnnl_primitive_desc_destroy(p->pds[i]);
    for (int i = 0; i < p->n_mems; i++) dnnl_memory_destroy(p->mems[i]);
    for (int i = 0; i < p->n_bufs; i++) dh__free_aligned(p->bufs[i]);
    if (p->ex && p->net)
        for (int i = 0; i < p->net->n_nodes; i++) dh__free(p->ex[i].mask);
    dh__free(p->prims);
    dh__free(p->pds);
    dh__free(p->mems);
    dh__free(p->bufs);
    dh__free(p->fwd);
    dh__free(p->bwd);
    dh__free(p->md);
    dh__free(p->val);
    dh__free(p->diff);
    dh__free(p->written);
    dh__free(p->ex);
    dh__free(p->live_hi);
    dh__free(p->live_root);
    dh__free(p->live_keep);
    dh__free(p->slabs);
    dh__free(p->uses);
    dh__free(p);
}

dh_status dh__nn_plan_run(dh__nn_plan *p, dh__nn_step *steps, int count)
{
    dnnl_stream_t s = p->net->stream;
    for (int i = 0; i < count; i++) {
        dh__nn_step *st = &steps[i];
        if (st->needs_dx && !p->has_dx) continue;
        if (st->prim) {
            DH_DNNL(dnnl_primitive_execute(st->prim, s, st->nargs, st->args));
        } else {
            DH_DNNL(dnnl_stream_wait(s));
            DH_TRY(st->fn(p, st));
        }
    }
    DH_DNNL(dnnl_stream_wait(s));
    return DH_OK;
}
