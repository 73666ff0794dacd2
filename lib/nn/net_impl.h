/* lib/nn/net_impl.h -- internals of dh__net shared by the files beside dnnl_shim.c.
 * Includes dnnl.h: only lib/nn/ files that implement the oneDNN path include this. */
#ifndef DH_NN_NET_IMPL_H
#define DH_NN_NET_IMPL_H

#include <oneapi/dnnl/dnnl.h>

#include "nn/nn.h"

/* ---- oneDNN boundary helpers (dnnl_shim.c) ---- */

/** Forward a failing oneDNN call as DH_E_BACKEND naming the call. */
#define DH_DNNL(call)                                                                        \
    do {                                                                                     \
        dnnl_status_t dh__ds_ = (call);                                                      \
        if (DH__UNLIKELY(dh__ds_ != dnnl_success))                                           \
            return dh__dnnl_error(dh__ds_, #call, __func__);                                 \
    } while (0)

dh_status dh__dnnl_error(dnnl_status_t s, const char *call, const char *func);
/** The process-wide CPU engine (created once, thread-safe). */
dh_status dh__dnnl_engine(dnnl_engine_t *out);
/** Plain memory descriptor: nd = 1..5, tag chosen from nd (x, nc, -, nchw, goihw). */
dh_status dh__dnnl_md_plain(dnnl_memory_desc_t *md, int nd, const int64_t *dims);
/** Same dims with format `any`. */
dh_status dh__dnnl_md_any(dnnl_memory_desc_t *md, int nd, const int64_t *dims);
size_t dh__dnnl_md_bytes(const dnnl_memory_desc_t *md);

/* ---- the graph description ---- */

enum {
    NN_CONV, NN_BN, NN_ACT, NN_MAXPOOL, NN_AVGPOOL, NN_GAP, NN_FLATTEN, NN_LINEAR,
    NN_DROPOUT, NN_ADD, NN_SOFTMAX, NN_CONCAT
};
#define NN_MAX_IN 8
#define NN_MAX_PLANS 4
#define NN_MAX_ARGS 12
#define NN_INFER_CHUNK 256 /* inference batches above this run in chunks */

typedef struct dh__nn_node {
    int32_t kind, n_in, out;
    int in[NN_MAX_IN];
    int32_t kh, kw, stride, pad, dil, groups, has_bias, out_c;
    int32_t act, axis;
    float alpha, p, eps, momentum;
    int param;   /* index of this node's first dh__param, or -1 */
    int n_param;
} dh__nn_node;

typedef struct dh__nn_shape {
    int32_t ndim;     /* 1 or 3 (without batch) */
    int64_t d[3];
    int32_t n_cons;   /* number of consuming node inputs */
    int producer;     /* node index, -1 for the input */
} dh__nn_shape;

struct dh__nn_plan;

struct dh__net {
    dh_status err;
    dh__nn_node *nodes;
    int n_nodes, cap_nodes;
    dh__nn_shape *t;
    int n_t, cap_t;
    dh__param *params;
    size_t n_params, cap_params;
    uint64_t seed, drop_calls;
    int output, fmap, finalized;
    uint64_t version;  /* bumped whenever parameter values may have changed */
    struct dh__nn_plan *plans[NN_MAX_PLANS];
    struct dh__nn_plan *train_plan;
    uint64_t tick;
    dnnl_stream_t stream;
};

/* ---- execution plans: everything built for one (batch, mode, threads) ---- */

struct dh__nn_step;
typedef dh_status (*dh__nn_step_fn)(struct dh__nn_plan *p, struct dh__nn_step *s);

typedef struct dh__nn_step {
    dnnl_primitive_t prim;  /* borrowed from the plan's list, or NULL for fn */
    dh__nn_step_fn fn;
    int node;
    int needs_dx;           /* skipped when the caller did not ask for dx */
    int nargs;
    dnnl_exec_arg_t args[NN_MAX_ARGS];
    void *ctx;              /* fn's context (node exec) */
} dh__nn_step;

typedef struct dh__nn_exec {
    int fused;              /* inference: folded into its producer (no steps) */
    int fold_bn;            /* node index of the BN folded into this conv/linear, or -1 */
    int fold_add_other;     /* tensor added through a sum post-op, or -1 */
    int fold_add;           /* node index of that add, or -1 */
    int fold_act;           /* node index of a ReLU post-op (inference) or of the ReLU
                               fused into batch norm (training), or -1 */
    int wino;               /* conv runs as Winograd F(4x4, 3x3) (forward and backward) */
    uint64_t synced;        /* net->version the cached weights were made from */
    dnnl_memory_t w, b;     /* weights/bias in the primitive's layout */
    dnnl_memory_t w_user, b_user;  /* plain master (or folded copy) */
    dnnl_primitive_t w_reorder, b_reorder;
    float *fold_w, *fold_b;
    dnnl_memory_t mean, var, ws;
    uint8_t *mask;          /* dropout */
    size_t mask_n;
    dnnl_memory_t src_bridge; /* value as the primitive wants it */
    dnnl_memory_t aux, aux2;  /* per-op scratch memories */
    dnnl_memory_t dw, db;     /* gradients in the primitive's layout */
    const_dnnl_primitive_desc_t fwd_pd; /* training forward (hint for backward) */
} dh__nn_exec;

typedef struct dh__nn_plan {
    size_t n;
    int training, nthr;
    uint64_t last_used;
    dh__net *net;
    dnnl_memory_desc_t *md;   /* per tensor */
    dnnl_memory_t *val;       /* per tensor (aliases allowed, see owned lists) */
    dnnl_memory_t *diff;      /* per tensor (training) */
    char *written;            /* backward build: diff already has a writer */
    dh__nn_exec *ex;
    dh__nn_step *fwd, *bwd;
    int n_fwd, cap_fwd, n_bwd, cap_bwd;
    int building_bwd, cur_needs_dx;
    dnnl_memory_t *mems;      /* owned */
    int n_mems, cap_mems;
    dnnl_primitive_t *prims;  /* owned */
    int n_prims, cap_prims;
    dnnl_primitive_desc_t *pds; /* owned */
    int n_pds, cap_pds;
    void **bufs;              /* owned aligned buffers */
    int n_bufs, cap_bufs;
    /* Buffer sharing (dh__nn_tensor_set): on a timeline where forward runs node j at
     * time j and backward at time 2 * n_nodes + 1 - j, inference values, training
     * gradients and training values that backward does not read live over short
     * ranges; memories whose ranges are disjoint share one slab. */
    int *live_hi;             /* per tensor: last node using it, over its alias group */
    int *live_root;           /* per tensor: the root of its alias group */
    char *live_keep;          /* per tensor (root): training value read by backward */
    struct dh__nn_slab { void *ptr; size_t bytes; } *slabs;
    int n_slabs, cap_slabs;
    struct dh__nn_use { int slab, lo, hi; } *uses;
    int n_uses, cap_uses;
    size_t shared_bytes;      /* sum of the tensor memories placed in slabs */
    size_t transient_bytes;   /* sum of the per-node scratch memories placed in slabs */
    dnnl_memory_t out_user, fmap_user, dout_user, dfmap_user;
    dnnl_primitive_t out_r, fmap_r, dout_r, dfmap_r;
    int has_dx;               /* at run time: dx requested */
    const float *dfmap_ptr, *dout_ptr;
} dh__nn_plan;

/* plan.c */
/** Compute the live_* arrays from the graph and the fusion decisions (before
 *  building); they must be allocated with n_t entries each. */
void dh__nn_plan_lifetimes(dh__nn_plan *p);
dh_status dh__nn_plan_create(dh__net *net, size_t n, int training, dh__nn_plan **out);
void dh__nn_plan_free(dh__nn_plan *p);
dh_status dh__nn_plan_run(dh__nn_plan *p, dh__nn_step *steps, int count);
/* registration (the plan owns and destroys what these return) */
dh_status dh__nn_mem(dh__nn_plan *p, const dnnl_memory_desc_t *md, void *handle, dnnl_memory_t *out);
/** A memory used only by the steps of `node` in the pass being built (forward or
 *  backward), placed in a shared slab. */
dh_status dh__nn_mem_transient(dh__nn_plan *p, const dnnl_memory_desc_t *md, int node, dnnl_memory_t *out);
/** A memory without a buffer: the caller's array is bound at run time. */
dh_status dh__nn_mem_user(dh__nn_plan *p, const dnnl_memory_desc_t *md, dnnl_memory_t *out);
dh_status dh__nn_pd(dh__nn_plan *p, const void *op_desc, const_dnnl_primitive_attr_t attr,
                const_dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd);
dh_status dh__nn_pd_keep(dh__nn_plan *p, dnnl_primitive_desc_t pd); /* takes ownership */
dh_status dh__nn_prim(dh__nn_plan *p, const_dnnl_primitive_desc_t pd, dnnl_primitive_t *out);
dh_status dh__nn_reorder_prim(dh__nn_plan *p, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst,
                          int accumulate, dnnl_primitive_t *out);
void *dh__nn_buf(dh__nn_plan *p, size_t bytes);
const dnnl_memory_desc_t *dh__nn_pd_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what, int idx);
/* steps */
dh_status dh__nn_step_add(dh__nn_plan *p, dnnl_primitive_t prim, dh__nn_step_fn fn, void *ctx, int node,
                      int nargs, const dnnl_exec_arg_t *args);
/** Add a reorder step src -> dst (dst = src, or dst += src when accumulate). */
dh_status dh__nn_step_reorder(dh__nn_plan *p, dnnl_memory_t src, dnnl_memory_t dst, int accumulate,
                          int node);
/** Add a step accumulating src (any layout) into the plain array dst (layout `plain`). */
dh_status dh__nn_step_accumulate(dh__nn_plan *p, dnnl_memory_t src, const dnnl_memory_desc_t *plain,
                             float *dst, int node);
/** The memory holding tensor t's value in layout `want` (a bridged copy made by a
 *  forward step, or the value itself). */
dh_status dh__nn_value_as(dh__nn_plan *p, int t, const dnnl_memory_desc_t *want, int node,
                      dnnl_memory_t *out);
/** Backward: the memory holding diff[t] in layout `want` (bridged if needed). */
dh_status dh__nn_diff_as(dh__nn_plan *p, int t, const dnnl_memory_desc_t *want, int node,
                     dnnl_memory_t *out);
/** Backward: where a primitive producing the gradient of tensor t in layout `md`
 *  should write; call dh__nn_diff_end after adding the primitive's step. */
typedef struct dh__nn_pending { int t, node; dnnl_memory_t tmp; } dh__nn_pending;
dh_status dh__nn_diff_begin(dh__nn_plan *p, int t, const dnnl_memory_desc_t *md, int node,
                        dh__nn_pending *pend, dnnl_memory_t *target);
dh_status dh__nn_diff_end(dh__nn_plan *p, dh__nn_pending *pend);
/** Backward: route `src` (any layout, same logical dims) into diff[t]. */
dh_status dh__nn_diff_route(dh__nn_plan *p, int t, dnnl_memory_t src, int node);
/** Create tensor t's value (and diff when training) with layout md. */
dh_status dh__nn_tensor_set(dh__nn_plan *p, int t, const dnnl_memory_desc_t *md);
/** Make tensor `t` share tensor `src`'s value memory (inference fusion). */
void dh__nn_tensor_alias(dh__nn_plan *p, int t, int src);
float *dh__nn_mem_ptr(dnnl_memory_t m);

/* ops_conv.c: conv + linear (with inference folding) */
dh_status dh__nn_build_fwd_wop(dh__nn_plan *p, int i);
dh_status dh__nn_build_bwd_wop(dh__nn_plan *p, int i);
/* ops_shape.c (dispatch for all but conv/linear) and ops_norm.c */
dh_status dh__nn_build_fwd_misc(dh__nn_plan *p, int i);
dh_status dh__nn_build_bwd_misc(dh__nn_plan *p, int i);
dh_status dh__nn_fwd_bn(dh__nn_plan *p, int i);
dh_status dh__nn_bwd_bn(dh__nn_plan *p, int i);
dh_status dh__nn_fwd_act(dh__nn_plan *p, int i);
dh_status dh__nn_bwd_act(dh__nn_plan *p, int i);
/** Training ReLU backward reads the output (the input may then be dropped). */
int dh__nn_act_bwd_uses_dst(const dh__nn_node *nd);
dh_status dh__nn_fwd_dropout(dh__nn_plan *p, int i);
dh_status dh__nn_bwd_dropout(dh__nn_plan *p, int i);
dh_status dh__nn_fwd_softmax(dh__nn_plan *p, int i);
dh_status dh__nn_bwd_softmax(dh__nn_plan *p, int i);
/** dims = (n, shape of tensor t), *nd = its rank + 1 (here, not in net.c, so the op
 *  builders need nothing of the graph builder). */
static inline void dh__nn_net_dims(const dh__net *net, int t, size_t n, int64_t dims[4], int *nd)
{
    const dh__nn_shape *s = &net->t[t];
    dims[0] = (int64_t)n;
    for (int k = 0; k < s->ndim; k++) dims[k + 1] = s->d[k];
    *nd = s->ndim + 1;
}

#endif
