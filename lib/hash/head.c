/* lib/hash/head.c -- hash heads: linear D -> K (OpenBLAS sgemm) + activation.
 *
 *   forward   Z = F W^T + b          F [n, D], W [K, D], Z [n, K]
 *             U = act(Z)             identity | tanh | tanh(beta Z) | sgn (STE) | BN1d
 *   backward  dZ = act'(dU)          STE: dZ = dU; tanh(beta z): beta (1 - U^2) dU
 *             dW += dZ^T F, db += colsum(dZ), dF = dZ W
 * Heads are small (K <= a few hundred), so plain C plus cblas is the right tool. */
#include "hash/hash.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define DH__HEAD_MAX_ROWS ((size_t)1 << 24)
#define DH__HEAD_MAX_BITS ((uint32_t)DH_MAX_BITS) /* the one code-length rule, dh.h */
#define DH__HEAD_MAX_PARAMS 7

struct dh_head {
    dh_head_options o;
    size_t K, D;
    float *w, *b, *gw, *gb;            /* [K, D], [K] */
    dh__bn1d bn;                        /* DH_HEAD_BN only */
    dh__param params[DH__HEAD_MAX_PARAMS];
    size_t n_params;
    float *x, *z, *u, *xhat, *dz;      /* caches of the last forward, capacity rows */
    size_t cap_rows, n_rows;
    int pending;                        /* 1 after a training forward, until backward */
};

void dh_head_options_init(dh_head_options *o)
{
    if (!o) return;
    *o = (dh_head_options){0};
    o->struct_size = sizeof *o;
    o->type = DH_HEAD_TANH;
    o->n_bits = 64;
    o->bias = 1;
    o->beta = 1.0;
    o->init_std = 0.01;
    o->seed = 0x5eed;
    o->bn_momentum = 0.1f;
    o->bn_eps = 1e-5f;
}

static dh_status validate(const dh_head_options *o)
{
    DH_CHECK_ARG_MSG(o->type >= DH_HEAD_IDENTITY && o->type <= DH_HEAD_BN,
                     "dh_head_options: type %d is not a DH_HEAD_* value", (int)o->type);
    DH_TRY(dh__check_bits(o->n_bits, "dh_head_options"));
    DH_CHECK_ARG_MSG(o->in_dim >= 1 && o->in_dim <= (1u << 24),
                     "dh_head_options: in_dim %u is outside 1..2^24 (set it to the encoder's "
                     "feature dimension)", o->in_dim);
    DH_CHECK_ARG_MSG(o->bias == 0 || o->bias == 1, "dh_head_options: bias must be 0 or 1");
    DH_CHECK_ARG_MSG(isfinite(o->beta) && o->beta > 0 && o->beta <= 1e6,
                     "dh_head_options: beta %g must be in (0, 1e6]", o->beta);
    DH_CHECK_ARG_MSG(isfinite(o->init_std) && o->init_std >= 0 && o->init_std <= 1e3,
                     "dh_head_options: init_std %g must be in [0, 1e3]", o->init_std);
    DH_CHECK_ARG_MSG(o->bn_momentum > 0 && o->bn_momentum <= 1,
                     "dh_head_options: bn_momentum %g must be in (0, 1]", (double)o->bn_momentum);
    DH_CHECK_ARG_MSG(o->bn_eps > 0 && isfinite(o->bn_eps),
                     "dh_head_options: bn_eps %g must be > 0", (double)o->bn_eps);
    return DH_OK;
}

static void add_param(dh_head *h, const char *name, float *data, float *grad, size_t n,
                      int32_t ndim, int64_t d0, int64_t d1, int32_t is_buffer, int32_t no_decay)
{
    dh__param *p = &h->params[h->n_params++];
    memset(p, 0, sizeof *p);
    p->name = name;
    p->data = data;
    p->grad = grad;
    p->n = n;
    p->ndim = ndim;
    p->shape[0] = d0;
    p->shape[1] = d1;
    p->is_buffer = is_buffer;
    p->no_decay = no_decay;
}

/* Weights, biases and BN tensors are carved from one zeroed arena; the params list
 * names them. */
static dh_status alloc_params(dh_head *h)
{
    size_t K = h->K, D = h->D, kd;
    if (!dh__mul_ok(K, D, &kd)) return dh__set_error(DH_E_NO_MEMORY, "head of %zu x %zu", K, D);
    int bn = h->o.type == DH_HEAD_BN;
    size_t total = 2 * kd + 2 * K + (bn ? 8 * K + 1 : 0);
    float *a = dh__calloc(total, sizeof(float));
    if (!a) return DH_E_NO_MEMORY;
    h->w = a;
    h->gw = a + kd;
    a += 2 * kd;
    add_param(h, "head.weight", h->w, h->gw, kd, 2, (int64_t)K, (int64_t)D, 0, 0);
    h->b = a;
    h->gb = a + K;
    a += 2 * K;
    if (h->o.bias && !bn) add_param(h, "head.bias", h->b, h->gb, K, 1, (int64_t)K, 0, 0, 1);
    if (!bn) return DH_OK;
    dh__bn1d *B = &h->bn;
    B->gamma = a, B->beta = a + K, B->rmean = a + 2 * K, B->rvar = a + 3 * K;
    B->ggamma = a + 4 * K, B->gbeta = a + 5 * K, B->mean = a + 6 * K, B->inv_std = a + 7 * K;
    B->nbt = a + 8 * K;
    B->momentum = h->o.bn_momentum;
    B->eps = h->o.bn_eps;
    for (size_t j = 0; j < K; j++) B->gamma[j] = 1.0f, B->rvar[j] = 1.0f;
    add_param(h, "head.bn.weight", B->gamma, B->ggamma, K, 1, (int64_t)K, 0, 0, 1);
    add_param(h, "head.bn.bias", B->beta, B->gbeta, K, 1, (int64_t)K, 0, 0, 1);
    add_param(h, "head.bn.running_mean", B->rmean, NULL, K, 1, (int64_t)K, 0, 1, 1);
    add_param(h, "head.bn.running_var", B->rvar, NULL, K, 1, (int64_t)K, 0, 1, 1);
    add_param(h, "head.bn.num_batches_tracked", B->nbt, NULL, 1, 0, 0, 0, 1, 1);
    return DH_OK;
}

static void init_weights(dh_head *h)
{
    dh__xrng r;
    dh__xrng_seed(&r, h->o.seed);
    size_t kd = h->K * h->D;
    if (h->o.init_std > 0) {
        /* Box-Muller pairs: N(0, std^2) weights, zero bias */
        for (size_t i = 0; i < kd; i += 2) {
            double u1 = 1.0 - dh__xrng_uniform(&r), u2 = dh__xrng_uniform(&r);
            double rad = sqrt(-2.0 * log(u1)) * h->o.init_std;
            h->w[i] = (float)(rad * cos(2 * M_PI * u2));
            if (i + 1 < kd) h->w[i + 1] = (float)(rad * sin(2 * M_PI * u2));
        }
        return;
    }
    double bound = 1.0 / sqrt((double)h->D); /* kaiming_uniform(a=sqrt(5)) == U(+-1/sqrt(D)) */
    for (size_t i = 0; i < kd; i++) h->w[i] = (float)((2 * dh__xrng_uniform(&r) - 1) * bound);
    if (h->o.bias)
        for (size_t i = 0; i < h->K; i++) h->b[i] = (float)((2 * dh__xrng_uniform(&r) - 1) * bound);
}

dh_status dh_head_create(const dh_head_options *opts, dh_head **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG_MSG(opts != NULL, "dh_head_create: opts is NULL (in_dim has no default)");
    dh_head_options o;
    dh_head_options_init(&o);
    DH_TRY(dh__options_copy(&o, sizeof o, opts, "dh_head_options"));
    DH_TRY(validate(&o));
    dh_head *h = dh__calloc(1, sizeof *h);
    if (!h) return DH_E_NO_MEMORY;
    h->o = o;
    if (o.type == DH_HEAD_BN) h->o.bias = 0;
    if (o.type != DH_HEAD_SCALED_TANH) h->o.beta = 1.0;
    h->K = o.n_bits;
    h->D = o.in_dim;
    dh_status st = alloc_params(h);
    if (st != DH_OK) {
        dh_head_free(h);
        return st;
    }
    init_weights(h);
    *out = h;
    return DH_OK;
}

void dh_head_free(dh_head *h)
{
    if (!h) return;
    dh__free(h->w);
    dh__free(h->x);
    dh__free(h->z);
    dh__free(h->u);
    dh__free(h->xhat);
    dh__free(h->dz);
    dh__free(h);
}

static dh_status reserve_rows(dh_head *h, size_t n)
{
    if (n <= h->cap_rows) return DH_OK;
    dh__free(h->x), dh__free(h->z), dh__free(h->u), dh__free(h->xhat), dh__free(h->dz);
    h->x = dh__calloc(n * h->D, sizeof(float));
    h->z = dh__calloc(n * h->K, sizeof(float));
    h->dz = dh__calloc(n * h->K, sizeof(float));
    h->u = dh__calloc(n * h->K, sizeof(float));
    h->xhat = h->o.type == DH_HEAD_BN ? dh__calloc(n * h->K, sizeof(float)) : NULL;
    h->cap_rows = n;
    if (h->x && h->z && h->u && h->dz && (h->xhat || h->o.type != DH_HEAD_BN)) return DH_OK;
    h->cap_rows = 0;
    return DH_E_NO_MEMORY;
}

static void activate(const dh_head *h, const float *z, size_t count, float *u)
{
    const float beta = (float)h->o.beta;
    switch (h->o.type) {
    case DH_HEAD_TANH:
        for (size_t i = 0; i < count; i++) u[i] = tanhf(z[i]);
        break;
    case DH_HEAD_SCALED_TANH:
        for (size_t i = 0; i < count; i++) u[i] = tanhf(beta * z[i]);
        break;
    case DH_HEAD_SIGN:
        for (size_t i = 0; i < count; i++) u[i] = z[i] >= 0.0f ? 1.0f : -1.0f;
        break;
    default:
        if (u != z) memcpy(u, z, count * sizeof *u);
        break;
    }
}

dh_status dh_head_forward(dh_head *h, const float *f, size_t n, int32_t training, float *out)
{
    DH_CHECK_ARG(h != NULL && f != NULL && out != NULL);
    DH_CHECK_ARG_MSG(n >= 1 && n <= DH__HEAD_MAX_ROWS, "dh_head_forward: n = %zu is outside "
                     "1..2^24", n);
    DH_CHECK_ARG_MSG(training == 0 || training == 1, "dh_head_forward: training must be 0 or 1");
    DH_CHECK_ARG_MSG(!(training && h->o.type == DH_HEAD_BN && n < 2),
                     "dh_head_forward: a batch-norm head needs n >= 2 rows in training (got %zu)",
                     n);
    DH_TRY(reserve_rows(h, n));
    const int K = (int)h->K, D = (int)h->D;
    float *z = h->z;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, K, D, 1.0f, f, D, h->w, D, 0.0f,
                z, K);
    if (h->o.bias && h->o.type != DH_HEAD_BN)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < h->K; j++) z[i * h->K + j] += h->b[j];
    if (h->o.type == DH_HEAD_BN) {
        if (training) dh__bn1d_forward_train(&h->bn, z, n, h->K, h->xhat, h->u);
        else dh__bn1d_forward_infer(&h->bn, z, n, h->K, h->u);
    } else {
        activate(h, z, n * h->K, h->u);
    }
    memcpy(out, h->u, n * h->K * sizeof *out);
    h->n_rows = n;
    h->pending = training;
    if (training) memcpy(h->x, f, n * h->D * sizeof *f);
    return DH_OK;
}

/* dZ from dU, in place into dz. */
static void act_backward(dh_head *h, const float *du, size_t n, float *dz)
{
    const size_t count = n * h->K;
    const float *u = h->u;
    const float beta = (float)h->o.beta;
    switch (h->o.type) {
    case DH_HEAD_TANH:
        for (size_t i = 0; i < count; i++) dz[i] = du[i] * (1.0f - u[i] * u[i]);
        break;
    case DH_HEAD_SCALED_TANH:
        for (size_t i = 0; i < count; i++) dz[i] = beta * du[i] * (1.0f - u[i] * u[i]);
        break;
    case DH_HEAD_BN:
        dh__bn1d_backward(&h->bn, du, h->xhat, n, h->K, dz);
        break;
    default: /* identity; sign: straight-through */
        memcpy(dz, du, count * sizeof *dz);
        break;
    }
}

dh_status dh_head_backward(dh_head *h, const float *dout, float *dfeatures)
{
    DH_CHECK_ARG(h != NULL && dout != NULL);
    if (!h->pending)
        return dh__set_error(DH_E_STATE, "dh_head_backward: no training forward since the last "
                                         "backward or inference forward");
    const size_t n = h->n_rows;
    const int K = (int)h->K, D = (int)h->D;
    float *dz = h->dz;
    act_backward(h, dout, n, dz);
    if (h->o.bias && h->o.type != DH_HEAD_BN)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < h->K; j++) h->gb[j] += dz[i * h->K + j];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, D, (int)n, 1.0f, dz, K, h->x, D, 1.0f,
                h->gw, D);
    if (dfeatures)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, D, K, 1.0f, dz, K, h->w, D,
                    0.0f, dfeatures, D);
    h->pending = 0;
    return DH_OK;
}

dh_status dh_head_zero_grad(dh_head *h)
{
    DH_CHECK_ARG(h != NULL);
    dh__head_zero_grad(h);
    return DH_OK;
}

void dh__head_zero_grad(dh_head *h)
{
    for (size_t i = 0; i < h->n_params; i++)
        if (h->params[i].grad) memset(h->params[i].grad, 0, h->params[i].n * sizeof(float));
}

dh_status dh_head_set_beta(dh_head *h, double beta)
{
    DH_CHECK_ARG(h != NULL);
    DH_CHECK_ARG_MSG(isfinite(beta) && beta > 0 && beta <= 1e6,
                     "dh_head_set_beta: beta %g must be in (0, 1e6]", beta);
    if (h->o.type != DH_HEAD_SCALED_TANH)
        return dh__set_error(DH_E_STATE, "dh_head_set_beta: the head's type %d is not "
                                         "DH_HEAD_SCALED_TANH", (int)h->o.type);
    h->o.beta = beta;
    return DH_OK;
}

double dh_head_get_beta(const dh_head *h) { return h ? h->o.beta : 0.0; }
uint32_t dh_head_n_bits(const dh_head *h) { return h ? (uint32_t)h->K : 0; }
uint32_t dh_head_in_dim(const dh_head *h) { return h ? (uint32_t)h->D : 0; }
int32_t dh_head_type(const dh_head *h) { return h ? h->o.type : -1; }

size_t dh__head_params(dh_head *h, dh__param **out)
{
    if (out) *out = h->params;
    return h->n_params;
}

const float *dh__head_preact(const dh_head *h, size_t *n_rows)
{
    if (n_rows) *n_rows = h->n_rows;
    return h->n_rows ? h->z : NULL;
}

const dh_head_options *dh__head_options(const dh_head *h) { return &h->o; }
