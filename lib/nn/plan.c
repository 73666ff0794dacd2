/* lib/nn/plan.c -- execution plans: all oneDNN memories, primitives and steps built
 * once for one (batch size, mode, thread count) of a net, then replayed.
 *
 * A plan is two flat step lists (forward, backward). Every tensor has a value memory
 * in the layout its producer chose (format `any`, so convolutions pick blocked
 * layouts) and, when training, a gradient memory of the same layout. Consumers that
 * want another layout get a bridging reorder step; gradients with several consumers
 * are accumulated with reorders carrying a sum post-op. */
#include <string.h>

#include "nn/net_impl.h"

#define GROW(arr, n, cap)                                                                    \
    do {                                                                                     \
        if ((n) == (cap)) {                                                                  \
            int nc_ = (cap) ? 2 * (cap) : 16;                                                \
            void *q_ = dh__realloc((arr), (size_t)nc_ * sizeof(*(arr)));                     \
            if (!q_) return DH_E_NO_MEMORY;                                                  \
            (arr) = q_;                                                                      \
            (cap) = nc_;                                                                     \
        }                                                                                    \
    } while (0)

#define GROW_NULL(arr, n, cap)                                                               \
    do {                                                                                     \
        if ((n) == (cap)) {                                                                  \
            int nc_ = (cap) ? 2 * (cap) : 16;                                                \
            void *q_ = dh__realloc((arr), (size_t)nc_ * sizeof(*(arr)));                     \
            if (!q_) return NULL;                                                            \
            (arr) = q_;                                                                      \
            (cap) = nc_;                                                                     \
        }                                                                                    \
    } while (0)

dh_status dh__nn_mem(dh__nn_plan *p, const dnnl_memory_desc_t *md, void *handle, dnnl_memory_t *out)
{
    dnnl_engine_t eng;
    DH_TRY(dh__dnnl_engine(&eng));
    GROW(p->mems, p->n_mems, p->cap_mems);
    DH_DNNL(dnnl_memory_create(out, md, eng, handle ? handle : DNNL_MEMORY_ALLOCATE));
    p->mems[p->n_mems++] = *out;
    return DH_OK;
}

dh_status dh__nn_mem_user(dh__nn_plan *p, const dnnl_memory_desc_t *md, dnnl_memory_t *out)
{
    dnnl_engine_t eng;
    DH_TRY(dh__dnnl_engine(&eng));
    GROW(p->mems, p->n_mems, p->cap_mems);
    DH_DNNL(dnnl_memory_create(out, md, eng, DNNL_MEMORY_NONE));
    p->mems[p->n_mems++] = *out;
    return DH_OK;
}

dh_status dh__nn_pd(dh__nn_plan *p, const void *op_desc, const_dnnl_primitive_attr_t attr,
                const_dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd)
{
    dnnl_engine_t eng;
    DH_TRY(dh__dnnl_engine(&eng));
    GROW(p->pds, p->n_pds, p->cap_pds);
    DH_DNNL(dnnl_primitive_desc_create(pd, (const_dnnl_op_desc_t)op_desc, attr, eng, hint));
    p->pds[p->n_pds++] = *pd;
    return DH_OK;
}

dh_status dh__nn_pd_keep(dh__nn_plan *p, dnnl_primitive_desc_t pd)
{
    if (p->n_pds == p->cap_pds) {
        int nc = p->cap_pds ? 2 * p->cap_pds : 16;
        void *q = dh__realloc(p->pds, (size_t)nc * sizeof(*p->pds));
        if (!q) {
            dnnl_primitive_desc_destroy(pd);
            return DH_E_NO_MEMORY;
        }
        p->pds = q;
        p->cap_pds = nc;
    }
    p->pds[p->n_pds++] = pd;
    return DH_OK;
}

dh_status dh__nn_prim(dh__nn_plan *p, const_dnnl_primitive_desc_t pd, dnnl_primitive_t *out)
{
    GROW(p->prims, p->n_prims, p->cap_prims);
    DH_DNNL(dnnl_primitive_create(out, pd));
    p->prims[p->n_prims++] = *out;
    return DH_OK;
}

void *dh__nn_buf(dh__nn_plan *p, size_t bytes)
{
    if (p->n_bufs == p->cap_bufs) {
        int nc = p->cap_bufs ? 2 * p->cap_bufs : 16;
        void *q = dh__realloc(p->bufs, (size_t)nc * sizeof(void *));
        if (!q) return NULL;
        p->bufs = q;
        p->cap_bufs = nc;
    }
    void *b = dh__alloc_aligned(bytes ? bytes : 64, 64);
    if (b) {
        memset(b, 0, bytes);
        p->bufs[p->n_bufs++] = b;
    }
    return b;
}

dh_status dh__nn_reorder_prim(dh__nn_plan *p, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst,
                          int accumulate, dnnl_primitive_t *out)
{
    dnnl_engine_t eng;
    DH_TRY(dh__dnnl_engine(&eng));
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dh_status st = DH_OK;
    if (accumulate) {
        /* dst = src + 1.0 * dst: the gradient of a tensor with several consumers */
        DH_DNNL(dnnl_primitive_attr_create(&attr));
        if (dnnl_post_ops_create(&po) != dnnl_success ||
            dnnl_post_ops_append_sum(po, 1.0f) != dnnl_success ||
            dnnl_primitive_attr_set_post_ops(attr, po) != dnnl_success)
            st = dh__set_error(DH_E_BACKEND, "oneDNN: building a sum post-op failed");
    }
    dnnl_primitive_desc_t pd = NULL;
    if (st == DH_OK) {
        dnnl_status_t ds = dnnl_reorder_primitive_desc_create(&pd, src, eng, dst, eng, attr);
        if (ds != dnnl_success) st = dh__dnnl_error(ds, "dnnl_reorder_primitive_desc_create", __func__);
        else st = dh__nn_pd_keep(p, pd);
    }
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    DH_TRY(st);
    return dh__nn_prim(p, pd, out);
}

dh_status dh__nn_step_add(dh__nn_plan *p, dnnl_primitive_t prim, dh__nn_step_fn fn, void *ctx, int node,
                      int nargs, const dnnl_exec_arg_t *args)
{
    dh__nn_step **list = p->building_bwd ? &p->bwd : &p->fwd;
    int *n = p->building_bwd ? &p->n_bwd : &p->n_fwd;
    int *cap = p->building_bwd ? &p->cap_bwd : &p->cap_fwd;
    GROW(*list, *n, *cap);
    dh__nn_step *s = &(*list)[(*n)++];
    memset(s, 0, sizeof *s);
    s->prim = prim;
    s->fn = fn;
    s->ctx = ctx;
    s->node = node;
    s->needs_dx = p->cur_needs_dx;
    s->nargs = nargs;
    for (int i = 0; i < nargs && i < NN_MAX_ARGS; i++) s->args[i] = args[i];
    return DH_OK;
}

static const dnnl_memory_desc_t *mem_md(dnnl_memory_t m)
{
    const dnnl_memory_desc_t *md = NULL;
    dnnl_memory_get_memory_desc(m, &md);
    return md;
}

/* dst += src for two memories of one layout (a gradient with several consumers):
 * an in-place binary add, which has a JIT kernel, where a reorder with a sum post-op
 * between equal layouts runs oneDNN's reference loop. */
static dh_status step_add_inplace(dh__nn_plan *p, dnnl_memory_t src, dnnl_memory_t dst, int node)
{
    const dnnl_memory_desc_t *md = mem_md(dst);
    dnnl_binary_desc_t bd;
    DH_DNNL(dnnl_binary_desc_init(&bd, dnnl_binary_add, md, md, md));
    dnnl_primitive_desc_t pd;
    DH_TRY(dh__nn_pd(p, &bd, NULL, NULL, &pd));
    dnnl_primitive_t prim;
    DH_TRY(dh__nn_prim(p, pd, &prim));
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_SRC_0, dst}, {DNNL_ARG_SRC_1, src}, {DNNL_ARG_DST, dst}};
    return dh__nn_step_add(p, prim, NULL, NULL, node, 3, a);
}

/* dst = src between memories of one layout: a memcpy (oneDNN's reorder between
 * equal layouts is its reference loop). Handles are read at run time: dx is bound
 * per call. */
typedef struct dh__nn_copy { dnnl_memory_t src, dst; size_t bytes; } dh__nn_copy;

static dh_status copy_fn(dh__nn_plan *p, dh__nn_step *s)
{
    (void)p;
    const dh__nn_copy *c = s->ctx;
    memcpy(dh__nn_mem_ptr(c->dst), dh__nn_mem_ptr(c->src), c->bytes);
    return DH_OK;
}

dh_status dh__nn_step_reorder(dh__nn_plan *p, dnnl_memory_t src, dnnl_memory_t dst, int accumulate,
                          int node)
{
    if (dnnl_memory_desc_equal(mem_md(src), mem_md(dst))) {
        if (accumulate) return step_add_inplace(p, src, dst, node);
        dh__nn_copy *c = dh__nn_buf(p, sizeof *c);
        if (!c) return DH_E_NO_MEMORY;
        *c = (dh__nn_copy){src, dst, dh__dnnl_md_bytes(mem_md(dst))};
        return dh__nn_step_add(p, NULL, copy_fn, c, node, 0, NULL);
    }
    dnnl_primitive_t r;
    DH_TRY(dh__nn_reorder_prim(p, mem_md(src), mem_md(dst), accumulate, &r));
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    return dh__nn_step_add(p, r, NULL, NULL, node, 2, a);
}

/* dst[i] += src[i] for a plain gradient: a C loop, cheaper than a reorder's
 * thread-team start-up for the bias- and BN-sized vectors it mostly serves. */
typedef struct dh__nn_acc { dnnl_memory_t src; float *dst; size_t n; } dh__nn_acc;

static dh_status acc_fn(dh__nn_plan *p, dh__nn_step *s)
{
    (void)p;
    const dh__nn_acc *a = s->ctx;
    const float *x = dh__nn_mem_ptr(a->src);
    for (size_t i = 0; i < a->n; i++) a->dst[i] += x[i];
    return DH_OK;
}

dh_status dh__nn_step_accumulate(dh__nn_plan *p, dnnl_memory_t src, const dnnl_memory_desc_t *plain,
                             float *dst, int node)
{
    if (dnnl_memory_desc_equal(mem_md(src), plain)) {
        dh__nn_acc *a = dh__nn_buf(p, sizeof *a);
        if (!a) return DH_E_NO_MEMORY;
        a->src = src;
        a->dst = dst;
        a->n = dh__dnnl_md_bytes(plain) / sizeof(float);
        return dh__nn_step_add(p, NULL, acc_fn, a, node, 0, NULL);
    }
    dnnl_memory_t u;
    DH_TRY(dh__nn_mem(p, plain, dst, &u));
    return dh__nn_step_reorder(p, src, u, 1, node);
}

/* A buffer of `bytes` for a memory live over times [lo, hi]: the smallest slab that
 * is large enough and not used during that range, else a new slab. */
static void *slab_get(dh__nn_plan *p, size_t bytes, int lo, int hi)
{
    int best = -1;
    for (int k = 0; k < p->n_slabs; k++) {
        if (p->slabs[k].bytes < bytes || (best >= 0 && p->slabs[k].bytes >= p->slabs[best].bytes))
            continue;
        int busy = 0;
        for (int u = 0; u < p->n_uses && !busy; u++)
            busy = p->uses[u].slab == k && p->uses[u].lo <= hi && lo <= p->uses[u].hi;
        if (!busy) best = k;
    }
    GROW_NULL(p->uses, p->n_uses, p->cap_uses);
    if (best < 0) {
        GROW_NULL(p->slabs, p->n_slabs, p->cap_slabs);
        void *b = dh__nn_buf(p, bytes);
        if (!b) return NULL;
        best = p->n_slabs++;
        p->slabs[best] = (struct dh__nn_slab){b, bytes};
    }
    p->uses[p->n_uses++] = (struct dh__nn_use){best, lo, hi};
    p->shared_bytes += bytes;
    return p->slabs[best].ptr;
}

dh_status dh__nn_mem_transient(dh__nn_plan *p, const dnnl_memory_desc_t *md, int node, dnnl_memory_t *out)
{
    int t = p->building_bwd ? 2 * p->net->n_nodes + 1 - node : node;
    size_t bytes = dh__dnnl_md_bytes(md);
    void *buf = slab_get(p, bytes, t, t);
    if (!buf) return DH_E_NO_MEMORY;
    p->shared_bytes -= bytes; /* counted apart from the tensors */
    p->transient_bytes += bytes;
    return dh__nn_mem(p, md, buf, out);
}

/* Tensor t's value and (training) gradient. A value lives from its producer to its
 * last consumer unless backward reads it (training: kept whole); a gradient lives
 * over the same nodes in backward. Exposed tensors have live_hi = n_nodes. */
dh_status dh__nn_tensor_set(dh__nn_plan *p, int t, const dnnl_memory_desc_t *md)
{
    p->md[t] = *md;
    int lo = p->net->t[t].producer, hi = p->live_hi[t], end = 2 * p->net->n_nodes + 1;
    size_t bytes = dh__dnnl_md_bytes(md);
    void *vbuf = NULL, *dbuf = NULL;
    if (hi >= lo && lo >= 0) { /* consumed (or exposed) */
        if (!p->training || !p->live_keep[t]) {
            if (!(vbuf = slab_get(p, bytes, lo, hi))) return DH_E_NO_MEMORY;
        }
        if (p->training && !(dbuf = slab_get(p, bytes, end - hi, end - lo)))
            return DH_E_NO_MEMORY;
    }
    DH_TRY(dh__nn_mem(p, md, vbuf, &p->val[t]));
    if (p->training) DH_TRY(dh__nn_mem(p, md, dbuf, &p->diff[t]));
    return DH_OK;
}

void dh__nn_tensor_alias(dh__nn_plan *p, int t, int src)
{
    p->md[t] = p->md[src];
    p->val[t] = p->val[src];
    p->diff[t] = p->diff[src];
}

dh_status dh__nn_value_as(dh__nn_plan *p, int t, const dnnl_memory_desc_t *want, int node,
                      dnnl_memory_t *out)
{
    if (dnnl_memory_desc_equal(want, &p->md[t])) {
        *out = p->val[t];
        return DH_OK;
    }
    DH_TRY(dh__nn_mem(p, want, NULL, out));
    return dh__nn_step_reorder(p, p->val[t], *out, 0, node);
}

dh_status dh__nn_diff_as(dh__nn_plan *p, int t, const dnnl_memory_desc_t *want, int node,
                     dnnl_memory_t *out)
{
    if (dnnl_memory_desc_equal(want, &p->md[t])) {
        *out = p->diff[t];
        return DH_OK;
    }
    DH_TRY(dh__nn_mem(p, want, NULL, out));
    return dh__nn_step_reorder(p, p->diff[t], *out, 0, node);
}

dh_status dh__nn_diff_begin(dh__nn_plan *p, int t, const dnnl_memory_desc_t *md, int node,
                        dh__nn_pending *pend, dnnl_memory_t *target)
{
    pend->t = t;
    pend->node = node;
    pend->tmp = NULL;
    if (t == 0) p->cur_needs_dx = 1;
    if (!p->written[t] && dnnl_memory_desc_equal(md, &p->md[t])) {
        *target = p->diff[t];
        return DH_OK;
    }
    DH_TRY(dh__nn_mem(p, md, NULL, &pend->tmp));
    *target = pend->tmp;
    return DH_OK;
}

dh_status dh__nn_diff_end(dh__nn_plan *p, dh__nn_pending *pend)
{
    dh_status st = DH_OK;
    if (pend->tmp)
        st = dh__nn_step_reorder(p, pend->tmp, p->diff[pend->t], p->written[pend->t], pend->node);
    p->written[pend->t] = 1;
    p->cur_needs_dx = 0;
    return st;
}

dh_status dh__nn_diff_route(dh__nn_plan *p, int t, dnnl_memory_t src, int node)
{
    if (t == 0) p->cur_needs_dx = 1;
    dh_status st = dh__nn_step_reorder(p, src, p->diff[t], p->written[t], node);
    p->written[t] = 1;
    p->cur_needs_dx = 0;
    return st;
}
