/* lib/nn/net_run.c -- dh__net finalisation (weight initialisation), accessors, and
 * forward/backward over the plan cache (the RNG is core/rng.h). */
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn/net_impl.h"


/* ---- finalisation: PyTorch's default initialisation ---- */

static void init_params(dh__net *net)
{
    dh__xrng r;
    dh__xrng_seed(&r, net->seed);
    for (int i = 0; i < net->n_nodes; i++) {
        const dh__nn_node *nd = &net->nodes[i];
        dh__param *p = nd->param >= 0 ? &net->params[nd->param] : NULL;
        if (nd->kind == NN_CONV || nd->kind == NN_LINEAR) {
            /* kaiming_uniform(a = sqrt(5)): bound = 1/sqrt(fan_in); the bias uses the same */
            size_t fan_in = p[0].n / (size_t)nd->out_c;
            double bound = 1.0 / sqrt((double)fan_in);
            for (size_t k = 0; k < p[0].n; k++)
                p[0].data[k] = (float)((2.0 * dh__xrng_uniform(&r) - 1.0) * bound);
            if (nd->has_bias)
                for (size_t k = 0; k < p[1].n; k++)
                    p[1].data[k] = (float)((2.0 * dh__xrng_uniform(&r) - 1.0) * bound);
        } else if (nd->kind == NN_BN) {
            for (size_t k = 0; k < p[0].n; k++) {
                p[0].data[k] = 1.0f;
                p[1].data[k] = 0.0f;
                p[2].data[k] = 0.0f;
                p[3].data[k] = 1.0f;
            }
            p[4].data[0] = 0.0f;
        }
    }
}

dh_status dh__net_finalize(dh__net *net, int output, int fmap)
{
    DH_CHECK_ARG(net != NULL);
    if (net->err != DH_OK) {
        if (dh_last_error()[0] == '\0')
            dh__set_error(net->err, "nn: building the network failed");
        return net->err;
    }
    DH_CHECK_ARG_MSG(!net->finalized, "nn: the net is already finalized");
    DH_CHECK_ARG_MSG(output > 0 && output < net->n_t, "nn: output tensor %d does not exist",
                     output);
    DH_CHECK_ARG_MSG(fmap == -1 || (fmap > 0 && fmap < net->n_t && fmap != output),
                     "nn: feature-map tensor %d is invalid", fmap);
    net->output = output;
    net->fmap = fmap;
    net->finalized = 1;
    init_params(net);
    return DH_OK;
}

int32_t dh__net_shape(const dh__net *net, int t, int64_t shape[3])
{
    if (!net || t < 0 || t >= net->n_t || !shape) return 0;
    for (int k = 0; k < net->t[t].ndim; k++) shape[k] = net->t[t].d[k];
    return net->t[t].ndim;
}

size_t dh__net_numel(const dh__net *net, int t)
{
    if (!net || t < 0 || t >= net->n_t) return 0;
    size_t n = 1;
    for (int k = 0; k < net->t[t].ndim; k++) n *= (size_t)net->t[t].d[k];
    return n;
}

int dh__net_output(const dh__net *net) { return net ? net->output : -1; }
int dh__net_fmap(const dh__net *net) { return net ? net->fmap : -1; }

size_t dh__net_params(dh__net *net, dh__param **out)
{
    if (!net) {
        if (out) *out = NULL;
        return 0;
    }
    net->version++; /* the caller may write through the returned pointers */
    if (out) *out = net->params;
    return net->n_params;
}

void dh__net_params_changed(dh__net *net)
{
    if (net) net->version++;
}

void dh__net_zero_grad(dh__net *net)
{
    if (!net) return;
    for (size_t i = 0; i < net->n_params; i++)
        if (net->params[i].grad) memset(net->params[i].grad, 0, net->params[i].n * sizeof(float));
}

int dh__net_cached_plans(const dh__net *net)
{
    int c = 0;
    for (int i = 0; net && i < NN_MAX_PLANS; i++) c += net->plans[i] != NULL;
    return c;
}

dh_status dh__net_plan_stats_get(const dh__net *net, dh__net_plan_stats *out)
{
    DH_CHECK_ARG(net != NULL && out != NULL);
    const dh__nn_plan *p = NULL;
    for (int i = 0; i < NN_MAX_PLANS; i++)
        if (net->plans[i] && (!p || net->plans[i]->last_used > p->last_used)) p = net->plans[i];
    if (!p) return dh__set_error(DH_E_STATE, "nn: no plan has been built yet");
    memset(out, 0, sizeof *out);
    out->training = p->training;
    for (int i = 0; i < net->n_nodes; i++) {
        if (net->nodes[i].kind != NN_CONV || p->ex[i].fused) continue;
        out->n_convs++;
        out->n_winograd += p->ex[i].wino;
    }
    out->n_slabs = p->n_slabs;
    out->shared_bytes = p->shared_bytes;
    out->transient_bytes = p->transient_bytes;
    for (int k = 0; k < p->n_slabs; k++) out->slab_bytes += p->slabs[k].bytes;
    return DH_OK;
}

/* ---- the plan cache ---- */

static dh_status get_plan(dh__net *net, size_t n, int training, dh__nn_plan **out)
{
    int nthr = dh__num_threads();
    int victim = -1;
    for (int i = 0; i < NN_MAX_PLANS; i++) {
        dh__nn_plan *p = net->plans[i];
        if (p && p->n == n && p->training == training && p->nthr == nthr) {
            p->last_used = ++net->tick;
            *out = p;
            return DH_OK;
        }
        if (!p) {
            if (victim < 0 || net->plans[victim]) victim = i;
        } else if (p != net->train_plan &&
                   (victim < 0 || (net->plans[victim] &&
                                   p->last_used < net->plans[victim]->last_used))) {
            victim = i;
        }
    }
    if (victim < 0) victim = 0; /* every slot holds the training plan: cannot happen */
    dh__nn_plan *p;
    DH_TRY(dh__nn_plan_create(net, n, training, &p));
    if (net->plans[victim] == net->train_plan) net->train_plan = NULL;
    dh__nn_plan_free(net->plans[victim]);
    net->plans[victim] = p;
    p->last_used = ++net->tick;
    *out = p;
    return DH_OK;
}

/* oneDNN (OpenMP runtime) sizes its teams from the calling thread's OpenMP setting. */
static void apply_threads(void)
{
#ifdef _OPENMP
    int want = dh__num_threads();
    if (omp_get_max_threads() != want) omp_set_num_threads(want);
#endif
}

static dh_status run_reorder(dh__net *net, dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to)
{
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    DH_DNNL(dnnl_primitive_execute(r, net->stream, 2, a));
    DH_DNNL(dnnl_stream_wait(net->stream));
    return DH_OK;
}

static dh_status check_bn_batch(const dh__net *net, size_t n)
{
    for (int i = 0; i < net->n_nodes; i++) {
        const dh__nn_node *nd = &net->nodes[i];
        const dh__nn_shape *s = &net->t[nd->in[0]];
        if (nd->kind == NN_BN && n * (s->ndim == 3 ? (size_t)(s->d[1] * s->d[2]) : 1) < 2)
            return dh__set_error(DH_E_INVALID_ARG,
                                 "nn: training batch norm '%s' needs more than one value per "
                                 "channel (batch %zu)",
                                 net->params[nd->param].name, n);
    }
    return DH_OK;
}

/* One plan's worth of samples. */
static dh_status forward_chunk(dh__net *net, const float *x, size_t n, int32_t training, float *out,
                               float *fmap)
{
    dh__nn_plan *p;
    DH_TRY(get_plan(net, n, training, &p));
    if (training) memcpy(dh__nn_mem_ptr(p->val[0]), x, dh__dnnl_md_bytes(&p->md[0]));
    else DH_DNNL(dnnl_memory_set_data_handle(p->val[0], (void *)(uintptr_t)x));
    DH_TRY(dh__nn_plan_run(p, p->fwd, p->n_fwd));
    if (out) {
        DH_DNNL(dnnl_memory_set_data_handle(p->out_user, out));
        DH_TRY(run_reorder(net, p->out_r, p->val[net->output], p->out_user));
    }
    if (fmap) {
        DH_DNNL(dnnl_memory_set_data_handle(p->fmap_user, fmap));
        DH_TRY(run_reorder(net, p->fmap_r, p->val[net->fmap], p->fmap_user));
    }
    if (training) {
        net->train_plan = p;
        net->version++; /* running statistics moved; an optimizer step may follow */
    }
    return DH_OK;
}

dh_status dh__net_forward(dh__net *net, const float *x, size_t n, int32_t training, float *out,
                          float *fmap)
{
    DH_CHECK_ARG(net != NULL && x != NULL);
    DH_CHECK_ARG_MSG(net->finalized, "nn: forward on a net that is not finalized");
    DH_CHECK_ARG_MSG(n >= 1 && n <= ((size_t)1 << 20), "nn: batch size %zu not in 1..2^20", n);
    DH_CHECK_ARG_MSG(training == 0 || training == 1, "nn: training flag %d is not 0 or 1",
                     training);
    if (fmap && net->fmap < 0)
        return dh__set_error(DH_E_UNSUPPORTED, "nn: this network has no feature map");
    if (training) DH_TRY(check_bn_batch(net, n));
    apply_threads();
    if (training) return forward_chunk(net, x, n, 1, out, fmap);
    /* Inference is per sample: large requests run in chunks through one cached plan,
     * so encoding a whole data set needs no data-set-sized activations. */
    size_t in = dh__net_numel(net, 0), od = dh__net_numel(net, net->output);
    size_t fd = net->fmap >= 0 ? dh__net_numel(net, net->fmap) : 0;
    for (size_t s = 0; s < n; s += NN_INFER_CHUNK) {
        size_t m = n - s < NN_INFER_CHUNK ? n - s : NN_INFER_CHUNK;
        DH_TRY(forward_chunk(net, x + s * in, m, 0, out ? out + s * od : NULL,
                             fmap ? fmap + s * fd : NULL));
    }
    return DH_OK;
}

static dh_status seed_grad(dh__net *net, dh__nn_plan *p, int t, const float *g, dnnl_memory_t user,
                           dnnl_primitive_t r)
{
    if (g) {
        DH_DNNL(dnnl_memory_set_data_handle(user, (void *)(uintptr_t)g));
        return run_reorder(net, r, user, p->diff[t]);
    }
    memset(dh__nn_mem_ptr(p->diff[t]), 0, dh__dnnl_md_bytes(&p->md[t]));
    return DH_OK;
}

dh_status dh__net_backward(dh__net *net, const float *dout, const float *dfmap, float *dx)
{
    DH_CHECK_ARG(net != NULL);
    DH_CHECK_ARG_MSG(dout != NULL || dfmap != NULL, "nn: backward needs dout or dfmap");
    if (dfmap && net->fmap < 0)
        return dh__set_error(DH_E_UNSUPPORTED, "nn: this network has no feature map");
    dh__nn_plan *p = net->train_plan;
    if (!p) return dh__set_error(DH_E_STATE, "nn: backward without a training forward");
    apply_threads();
    DH_TRY(seed_grad(net, p, net->output, dout, p->dout_user, p->dout_r));
    if (net->fmap >= 0) DH_TRY(seed_grad(net, p, net->fmap, dfmap, p->dfmap_user, p->dfmap_r));
    p->has_dx = dx != NULL;
    DH_DNNL(dnnl_memory_set_data_handle(p->diff[0], dx));
    dh_status st = dh__nn_plan_run(p, p->bwd, p->n_bwd);
    net->version++;
    return st;
}
