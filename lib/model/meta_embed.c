/* lib/model/meta_embed.c -- LTHNet's dynamic meta-embedding (docs/methods.md#lthnet), the
 * module a model can place between its encoder and its hash head:
 *
 *   a = softmax(f Wa^T + ba)      f [n, D] direct features, Wa [C, D] ("hallucinator")
 *   m = a M                       M [C, D] class-centroid memory (a buffer, no gradient)
 *   e = tanh(f We^T + be)         We [D, D] ("concept selector")
 *   v = f + e (.) m               v [n, D] meta embedding, fed to the hash head
 *
 * Backward (M constant):
 *   df = dv + dpre_e We + dpre_a Wa
 *   dpre_e = (dv (.) m) (.) (1 - e^2)                     dWe += dpre_e^T f, dbe += colsum
 *   dpre_a = a (.) (da - rowsum(a (.) da)), da = (dv (.) e) M^T    dWa += dpre_a^T f, ...
 * The memory is refreshed from per-class sums of f over the training set
 * (dh__meta_memory_accumulate / _commit; the model drives the pass, meta.c). */
#include "model/meta_embed.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define META_MAX_ROWS ((size_t)1 << 24)

struct dh__meta {
    size_t C, D;
    float *wa, *ba, *we, *be, *mem;     /* [C,D] [C] [D,D] [D] [C,D] */
    float *gwa, *gba, *gwe, *gbe;
    dh__param params[5];
    double *sum;                         /* [C, D] accumulation of a memory pass */
    int64_t *count;                      /* [C] */
    const float *capY;                   /* labels [cap_total, C] of a memory pass, or NULL */
    size_t cap_total, cap_seen;
    float *f, *a, *m, *e, *v, *df, *da;  /* caches, cap rows */
    size_t cap, n;
    int pending;
};

static void accumulate(dh__meta *t, const float *f, size_t n, const float *Y);

static void set_param(dh__param *p, const char *name, float *data, float *grad, size_t d0,
                      size_t d1, int32_t is_buffer)
{
    memset(p, 0, sizeof *p);
    p->name = name;
    p->data = data;
    p->grad = grad;
    p->n = d0 * (d1 ? d1 : 1);
    p->ndim = d1 ? 2 : 1;
    p->shape[0] = (int64_t)d0;
    p->shape[1] = (int64_t)d1;
    p->is_buffer = is_buffer;
    p->no_decay = d1 == 0 || is_buffer;
}

/* PyTorch nn.Linear's default U(+-1/sqrt(D)) for weights and biases. */
static void init_uniform(float *x, size_t n, double bound, uint64_t *s)
{
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)((dh__splitmix64_unif(s) * 2 - 1) * bound);
    }
}

dh_status dh__meta_create(uint32_t C, uint32_t D, uint64_t seed, dh__meta **out)
{
    *out = NULL;
    DH_CHECK_ARG_MSG(C >= 1 && C <= 65536, "meta-embedding: n_classes %u is outside 1..65536",
                     C);
    DH_CHECK_ARG_MSG(D >= 1 && D <= 16384, "meta-embedding: feature dimension %u is outside "
                     "1..16384 (the selector is D x D)", D);
    dh__meta *t = dh__calloc(1, sizeof *t);
    if (!t) return DH_E_NO_MEMORY;
    t->C = C, t->D = D;
    size_t cd = (size_t)C * D, dd = (size_t)D * D;
    float *a = dh__calloc(2 * cd + 2 * C + 2 * dd + 2 * (size_t)D + cd, sizeof(float));
    t->sum = dh__calloc(cd, sizeof(double));
    t->count = dh__calloc(C, sizeof(int64_t));
    if (!a || !t->sum || !t->count) {
        dh__free(a);
        dh__meta_free(t);
        return DH_E_NO_MEMORY;
    }
    t->wa = a, t->gwa = a + cd, a += 2 * cd;
    t->ba = a, t->gba = a + C, a += 2 * (size_t)C;
    t->we = a, t->gwe = a + dd, a += 2 * dd;
    t->be = a, t->gbe = a + D, a += 2 * (size_t)D;
    t->mem = a;
    set_param(&t->params[0], "meta.hallucinator.weight", t->wa, t->gwa, C, D, 0);
    set_param(&t->params[1], "meta.hallucinator.bias", t->ba, t->gba, C, 0, 0);
    set_param(&t->params[2], "meta.selector.weight", t->we, t->gwe, D, D, 0);
    set_param(&t->params[3], "meta.selector.bias", t->be, t->gbe, D, 0, 0);
    set_param(&t->params[4], "meta.memory", t->mem, NULL, C, D, 1);
    uint64_t s = seed ^ 0x6d657461ull;
    double bound = 1.0 / sqrt((double)D);
    init_uniform(t->wa, cd, bound, &s);
    init_uniform(t->ba, C, bound, &s);
    init_uniform(t->we, dd, bound, &s);
    init_uniform(t->be, D, bound, &s);
    *out = t;
    return DH_OK;
}

static void free_caches(dh__meta *t)
{
    dh__free(t->f), dh__free(t->a), dh__free(t->m), dh__free(t->e);
    dh__free(t->v), dh__free(t->df), dh__free(t->da);
    t->f = t->a = t->m = t->e = t->v = t->df = t->da = NULL;
    t->cap = 0;
}

void dh__meta_free(dh__meta *t)
{
    if (!t) return;
    free_caches(t);
    dh__free(t->wa);
    dh__free(t->sum);
    dh__free(t->count);
    dh__free(t);
}

size_t dh__meta_params(dh__meta *t, dh__param **out)
{
    if (out) *out = t->params;
    return 5;
}

uint32_t dh__meta_classes(const dh__meta *t) { return t ? (uint32_t)t->C : 0; }
uint32_t dh__meta_dim(const dh__meta *t) { return t ? (uint32_t)t->D : 0; }

void dh__meta_zero_grad(dh__meta *t)
{
    for (size_t i = 0; i < 4; i++) memset(t->params[i].grad, 0, t->params[i].n * sizeof(float));
}

static dh_status reserve(dh__meta *t, size_t n)
{
    if (n <= t->cap) return DH_OK;
    free_caches(t);
    size_t D = t->D, C = t->C;
    t->f = dh__calloc(n * D, sizeof(float));
    t->m = dh__calloc(n * D, sizeof(float));
    t->e = dh__calloc(n * D, sizeof(float));
    t->v = dh__calloc(n * D, sizeof(float));
    t->df = dh__calloc(n * D, sizeof(float));
    t->a = dh__calloc(n * C, sizeof(float));
    t->da = dh__calloc(n * C, sizeof(float));
    if (!t->f || !t->m || !t->e || !t->v || !t->df || !t->a || !t->da) {
        free_caches(t);
        return DH_E_NO_MEMORY;
    }
    t->cap = n;
    return DH_OK;
}

/* Row-wise softmax in place (max-shifted, double accumulation). */
static void softmax_rows(float *x, size_t n, size_t C)
{
    for (size_t i = 0; i < n; i++) {
        float *r = x + i * C;
        float mx = r[0];
        for (size_t c = 1; c < C; c++) mx = r[c] > mx ? r[c] : mx;
        double s = 0;
        for (size_t c = 0; c < C; c++) s += exp((double)r[c] - mx);
        for (size_t c = 0; c < C; c++) r[c] = (float)(exp((double)r[c] - mx) / s);
    }
}

dh_status dh__meta_forward(dh__meta *t, const float *f, size_t n, int32_t training,
                           const float **v)
{
    DH_CHECK_ARG(t != NULL && f != NULL && v != NULL);
    DH_CHECK_ARG_MSG(n >= 1 && n <= META_MAX_ROWS, "meta-embedding: n = %zu rows", n);
    DH_TRY(reserve(t, n));
    const int C = (int)t->C, D = (int)t->D, N = (int)n;
    /* hallucinator: a = softmax(f Wa^T + ba); memory feature m = a M */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, C, D, 1.0f, f, D, t->wa, D, 0.0f,
                t->a, C);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < t->C; c++) t->a[i * t->C + c] += t->ba[c];
    softmax_rows(t->a, n, t->C);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, D, C, 1.0f, t->a, C, t->mem, D,
                0.0f, t->m, D);
    /* concept selector: e = tanh(f We^T + be) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, D, D, 1.0f, f, D, t->we, D, 0.0f,
                t->e, D);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < t->D; j++) {
            size_t q = i * t->D + j;
            t->e[q] = tanhf(t->e[q] + t->be[j]);
            t->v[q] = f[q] + t->e[q] * t->m[q];
        }
    if (training) memcpy(t->f, f, n * t->D * sizeof(float));
    if (!training && t->capY) { /* memory pass: rows arrive in dataset order */
        size_t take = t->cap_seen < t->cap_total ? t->cap_total - t->cap_seen : 0;
        take = take < n ? take : n;
        accumulate(t, f, take, t->capY + t->cap_seen * t->C);
        t->cap_seen += n;
    }
    t->n = n;
    t->pending = training ? 1 : 0;
    *v = t->v;
    return DH_OK;
}

dh_status dh__meta_backward(dh__meta *t, const float *dv, const float **df)
{
    DH_CHECK_ARG(t != NULL && dv != NULL && df != NULL);
    if (!t->pending)
        return dh__set_error(DH_E_STATE, "meta-embedding backward: no training forward since "
                                         "the last backward");
    const size_t n = t->n, D = t->D, C = t->C;
    float *g = t->df, *da = t->da;
    /* selector branch: dpre_e = dv m (1 - e^2), kept in t->m (m is not needed after) */
    for (size_t q = 0; q < n * D; q++) {
        float dm = dv[q] * t->e[q];              /* dL/dm, before m is overwritten */
        t->m[q] = dv[q] * t->m[q] * (1.0f - t->e[q] * t->e[q]);
        t->e[q] = dm;
    }
    memcpy(g, dv, n * D * sizeof(float));
    const int N = (int)n, Ci = (int)C, Di = (int)D;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Di, Di, N, 1.0f, t->m, Di, t->f, Di,
                1.0f, t->gwe, Di);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < D; j++) t->gbe[j] += t->m[i * D + j];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, Di, Di, 1.0f, t->m, Di, t->we, Di,
                1.0f, g, Di);
    /* hallucinator branch: da = dm M^T, then through the softmax */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, Ci, Di, 1.0f, t->e, Di, t->mem, Di,
                0.0f, da, Ci);
    for (size_t i = 0; i < n; i++) {
        const float *a = t->a + i * C;
        float *d = da + i * C;
        double s = 0;
        for (size_t c = 0; c < C; c++) s += (double)a[c] * d[c];
        for (size_t c = 0; c < C; c++) d[c] = (float)(a[c] * (d[c] - s));
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Ci, Di, N, 1.0f, da, Ci, t->f, Di, 1.0f,
                t->gwa, Di);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < C; c++) t->gba[c] += da[i * C + c];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, Di, Ci, 1.0f, da, Ci, t->wa, Di,
                1.0f, g, Di);
    t->pending = 0;
    *df = g;
    return DH_OK;
}

void dh__meta_memory_begin(dh__meta *t, const float *Y, size_t n_rows)
{
    memset(t->sum, 0, t->C * t->D * sizeof(double));
    memset(t->count, 0, t->C * sizeof(int64_t));
    t->capY = Y;
    t->cap_total = Y ? n_rows : 0;
    t->cap_seen = 0;
}

void dh__meta_memory_accumulate(dh__meta *t, const float *f, size_t n, const float *Y)
{
    accumulate(t, f, n, Y);
}

static void accumulate(dh__meta *t, const float *f, size_t n, const float *Y)
{
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < t->C; c++) {
            if (Y[i * t->C + c] <= 0.0f) continue;
            double *s = t->sum + c * t->D;
            for (size_t j = 0; j < t->D; j++) s[j] += f[i * t->D + j];
            t->count[c]++;
        }
}

size_t dh__meta_memory_commit(dh__meta *t, size_t *rows_seen)
{
    if (rows_seen) *rows_seen = t->cap_seen;
    t->capY = NULL;
    t->cap_total = t->cap_seen = 0;
    size_t filled = 0;
    for (size_t c = 0; c < t->C; c++) {
        if (t->count[c] == 0) continue; /* a class without samples keeps its row */
        for (size_t j = 0; j < t->D; j++)
            t->mem[c * t->D + j] = (float)(t->sum[c * t->D + j] / (double)t->count[c]);
        filled++;
    }
    return filled;
}
