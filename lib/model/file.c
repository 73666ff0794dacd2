/* lib/model/file.c -- dh_model_save / dh_model_load: safetensors with the
 * architecture in __metadata__ (docs/model.md lists every key).
 *
 * Tensors: the encoder's parameters and buffers under their torchvision names, the
 * head's under "head.*", then the caller's extra tensors. All float tensors are F32;
 * "*.num_batches_tracked" counters are I64 as in PyTorch state dicts, so the file
 * loads with safetensors.torch.load_file into an equivalent torch module. */
#include "model/model.h"

#include "core/alloc_budget.h"

#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DH__MODEL_FORMAT "libdh-model"
/* written: 1 plain; 2 a feature-map pool (fmap_* keys); 3 a pool whose global part is the
 * encoder's features (fmap_global = encoder: a 2-only reader would build g = GAP(F) and,
 * where D_enc = C as on resnet, load the file into a different network without noticing) */
#define DH__MODEL_FORMAT_VERSION 3

static const char *const head_names[] = {"identity", "tanh", "scaled_tanh", "sign", "bn"};

static int is_counter(const char *name)
{
    size_t n = strlen(name), k = strlen("num_batches_tracked");
    return n >= k && !strcmp(name + n - k, "num_batches_tracked");
}

/* ---- save ---- */

#define N_META_BUILTIN 21 /* 17 + the 3 or 4 fmap_* keys of fine-grained models */
typedef struct meta_buf {
    char vals[N_META_BUILTIN][512];
    const char *keys[N_META_BUILTIN];
} meta_buf;

static size_t fill_meta(const dh_model *m, meta_buf *mb)
{
    const dh_model_options *o = &m->o;
    int k = 0;
#define PUT(key, ...) (mb->keys[k] = key, snprintf(mb->vals[k], sizeof mb->vals[k], __VA_ARGS__), k++)
    PUT("format", "%s", DH__MODEL_FORMAT);
    PUT("format_version", "%d", !m->pool ? 1 : o->fmap_global == DH_FMAP_GLOBAL_POOL ? 2 : 3);
    PUT("libdh_version", "%s", dh_version_string());
    PUT("encoder", "%s", m->spec);
    PUT("n_bits", "%u", o->n_bits);
    PUT("head", "%s", head_names[o->head]);
    PUT("head_beta", "%.17g", dh_head_get_beta(m->head));
    PUT("head_bias", "%d", (int)o->head_bias);
    PUT("head_init_std", "%.17g", o->head_init_std);
    if (m->in_ndim == 3)
        PUT("input_shape", "%lld,%lld,%lld", (long long)m->in_shape[0], (long long)m->in_shape[1],
            (long long)m->in_shape[2]);
    else
        PUT("input_shape", "%lld", (long long)m->in_shape[0]);
    PUT("mean", "%.9g,%.9g,%.9g,%.9g", (double)o->mean[0], (double)o->mean[1],
        (double)o->mean[2], (double)o->mean[3]);
    PUT("std", "%.9g,%.9g,%.9g,%.9g", (double)o->std[0], (double)o->std[1], (double)o->std[2],
        (double)o->std[3]);
    PUT("feature_dim", "%zu", m->D);
    PUT("dropout", "%.9g", (double)o->dropout);
    PUT("bn_momentum", "%.9g", (double)o->bn_momentum);
    PUT("bn_eps", "%.9g", (double)o->bn_eps);
    PUT("batch_size", "%u", o->batch_size);
#undef PUT
    k += dh__model_fmap_meta(m, mb->keys + k, mb->vals + k);
    return (size_t)k;
}

static void param_entry(const dh__param *p, dh__st_entry *e, int64_t *counter)
{
    memset(e, 0, sizeof *e);
    e->name = p->name;
    e->ndim = p->ndim;
    for (int32_t d = 0; d < p->ndim; d++) e->shape[d] = p->shape[d];
    if (is_counter(p->name) && p->n == 1) {
        *counter = (int64_t)p->data[0];
        e->dtype = DH__ST_I64;
        e->data = counter;
        e->nbytes = 8;
    } else {
        e->dtype = DH__ST_F32;
        e->data = p->data;
        e->nbytes = p->n * sizeof(float);
    }
}

dh_status dh_model_save(dh_model *m, const char *path)
{
    DH_CHECK_ARG(m != NULL && path != NULL && path[0] != '\0');
    DH_CHECK_ARG_MSG(strlen(m->spec) < 500, "dh_model_save: encoder spec longer than 500 bytes");
    size_t n = m->n_params + m->n_extra, nm = N_META_BUILTIN + m->n_meta;
    dh__st_entry *e = dh__calloc(n ? n : 1, sizeof *e);
    int64_t *counters = dh__calloc(m->n_params ? m->n_params : 1, sizeof *counters);
    const char **keys = dh__calloc(nm, sizeof *keys), **vals = dh__calloc(nm, sizeof *vals);
    meta_buf *mb = dh__calloc(1, sizeof *mb);
    dh_status st = DH_E_NO_MEMORY;
    if (e && counters && keys && vals && mb) {
        for (size_t i = 0; i < m->n_params; i++) param_entry(&m->params[i].p, &e[i], &counters[i]);
        for (size_t i = 0; i < m->n_extra; i++) {
            const dh__extra_tensor *x = &m->extra[i];
            dh__st_entry *t = &e[m->n_params + i];
            t->name = x->name;
            t->dtype = x->dtype == DH_DTYPE_INT64 ? DH__ST_I64 : DH__ST_F32;
            t->ndim = (int32_t)x->ndim;
            memcpy(t->shape, x->shape, sizeof t->shape);
            t->data = x->data;
            t->nbytes = x->nbytes;
        }
        size_t nb = fill_meta(m, mb);
        for (size_t i = 0; i < nb; i++) keys[i] = mb->keys[i], vals[i] = mb->vals[i];
        for (size_t i = 0; i < m->n_meta; i++)
            keys[nb + i] = m->meta_keys[i], vals[nb + i] = m->meta_vals[i];
        st = dh__safetensors_write(path, e, n, keys, vals, nb + m->n_meta);
    }
    dh__free(e), dh__free(counters), dh__free(keys), dh__free(vals), dh__free(mb);
    return st;
}

/* ---- load ---- */

#define META_ERR(key, what)                                                                   \
    dh__set_error(DH_E_FORMAT, "model file: __metadata__ \"%s\" %s", key, what)

static dh_status meta_u64(const dh__safetensors *st, const char *key, uint64_t max, uint64_t *v)
{
    const char *s = dh__safetensors_meta(st, key);
    if (!s) return META_ERR(key, "is missing");
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || x > max) return META_ERR(key, "is not a valid integer");
    *v = x;
    return DH_OK;
}

static dh_status meta_doubles(const dh__safetensors *st, const char *key, int count, double *v)
{
    const char *s = dh__safetensors_meta(st, key);
    if (!s) return META_ERR(key, "is missing");
    for (int i = 0; i < count; i++) {
        char *end;
        errno = 0;
        v[i] = strtod(s, &end);
        if (errno || end == s || (*end != (i + 1 < count ? ',' : '\0')))
            return META_ERR(key, "is not a valid number list");
        s = end + (i + 1 < count);
    }
    return DH_OK;
}

static dh_status read_options(const dh__safetensors *st, dh_model_options *o)
{
    const char *fmt = dh__safetensors_meta(st, "format");
    if (!fmt || strcmp(fmt, DH__MODEL_FORMAT))
        return dh__set_error(DH_E_FORMAT, "model file: not a libdh model (__metadata__ "
                             "\"format\" is %s%s%s)", fmt ? "\"" : "", fmt ? fmt : "missing",
                             fmt ? "\"" : "");
    uint64_t ver, u;
    double d[4];
    DH_TRY(meta_u64(st, "format_version", 1000000, &ver));
    if (ver > DH__MODEL_FORMAT_VERSION)
        return dh__set_error(DH_E_VERSION, "model file: format version %llu is newer than this "
                             "library's %d", (unsigned long long)ver, DH__MODEL_FORMAT_VERSION);
    dh_model_options_init(o);
    o->encoder = dh__safetensors_meta(st, "encoder");
    if (!o->encoder) return META_ERR("encoder", "is missing");
    DH_TRY(meta_u64(st, "n_bits", UINT32_MAX, &u));
    if (!dh__bits_valid(u)) return META_ERR("n_bits", "is outside 1..4096 (DH_MAX_BITS)");
    o->n_bits = (uint32_t)u;
    const char *h = dh__safetensors_meta(st, "head");
    o->head = -1;
    for (int32_t i = 0; h && i < 5; i++)
        if (!strcmp(h, head_names[i])) o->head = i;
    if (o->head < 0) return META_ERR("head", "is missing or not a known head type");
    DH_TRY(meta_doubles(st, "head_beta", 1, &o->head_beta));
    DH_TRY(meta_u64(st, "head_bias", 1, &u));
    o->head_bias = (int32_t)u;
    DH_TRY(meta_doubles(st, "head_init_std", 1, &o->head_init_std));
    DH_TRY(meta_doubles(st, "mean", 4, d));
    for (int c = 0; c < 4; c++) o->mean[c] = (float)d[c];
    DH_TRY(meta_doubles(st, "std", 4, d));
    for (int c = 0; c < 4; c++) o->std[c] = (float)d[c];
    DH_TRY(meta_doubles(st, "dropout", 1, d));
    o->dropout = (float)d[0];
    DH_TRY(meta_doubles(st, "bn_momentum", 1, d));
    o->bn_momentum = (float)d[0];
    DH_TRY(meta_doubles(st, "bn_eps", 1, d));
    o->bn_eps = (float)d[0];
    DH_TRY(meta_u64(st, "batch_size", 65536, &u));
    o->batch_size = (uint32_t)u;
    return dh__model_fmap_read_meta(st, o);
}

/* input_shape "C,H,W" (sets the options) or "d" (mlp: implied by the spec). */
static dh_status read_input_shape(const dh__safetensors *st, dh_model_options *o, int *ndim,
                                  int64_t shape[3])
{
    const char *s = dh__safetensors_meta(st, "input_shape");
    if (!s) return META_ERR("input_shape", "is missing");
    double d[3];
    *ndim = strchr(s, ',') ? 3 : 1;
    DH_TRY(meta_doubles(st, "input_shape", *ndim, d));
    for (int i = 0; i < *ndim; i++) {
        if (!(d[i] >= 1 && d[i] <= 1 << 24) || d[i] != (double)(int64_t)d[i])
            return META_ERR("input_shape", "has a size outside 1..2^24");
        shape[i] = (int64_t)d[i];
    }
    if (*ndim == 3) {
        o->in_channels = (int32_t)shape[0];
        o->in_height = (int32_t)shape[1];
        o->in_width = (int32_t)shape[2];
    }
    return DH_OK;
}

static dh_status check_arch(const dh_model *m, const dh__safetensors *st, int ndim,
                            const int64_t shape[3])
{
    uint64_t fd;
    DH_TRY(meta_u64(st, "feature_dim", (uint64_t)1 << 32, &fd));
    if (fd != m->D)
        return dh__set_error(DH_E_SHAPE, "model file: feature_dim %llu but encoder '%s' gives %zu",
                             (unsigned long long)fd, m->spec, m->D);
    int same = ndim == m->in_ndim;
    for (int i = 0; same && i < ndim; i++) same = shape[i] == m->in_shape[i];
    if (!same)
        return dh__set_error(DH_E_SHAPE, "model file: input_shape \"%s\" does not match encoder "
                             "'%s'", dh__safetensors_meta(st, "input_shape"), m->spec);
    return DH_OK;
}

static dh_status load_param(const dh__param *p, const dh__safetensors *st)
{
    const dh__st_tensor *t = dh__safetensors_find(st, p->name);
    if (!t) return dh__set_error(DH_E_FORMAT, "model file: tensor '%s' is missing", p->name);
    int want = is_counter(p->name) ? DH__ST_I64 : DH__ST_F32;
    if (t->dtype != want)
        return dh__set_error(DH_E_FORMAT, "model file: tensor '%s' at file offset %zu is %s, "
                             "expected %s", p->name, st->data_start + t->offset,
                             dh__st_dtype_name(t->dtype), dh__st_dtype_name(want));
    int same = t->ndim == p->ndim;
    for (int32_t d = 0; same && d < p->ndim; d++) same = t->shape[d] == p->shape[d];
    if (!same || t->numel != p->n)
        return dh__set_error(DH_E_SHAPE, "model file: tensor '%s' has %d dimensions "
                             "[%lld, %lld, ...], the architecture needs %d [%lld, %lld, ...]",
                             p->name, (int)t->ndim, (long long)t->shape[0],
                             (long long)t->shape[1], (int)p->ndim, (long long)p->shape[0],
                             (long long)p->shape[1]);
    dh__st_to_float(t, p->data);
    size_t k = strlen(p->name), kv = strlen("running_var");
    if (k >= kv && !strcmp(p->name + k - kv, "running_var"))
        for (size_t i = 0; i < p->n; i++)
            if (!(p->data[i] >= 0.0f && p->data[i] <= FLT_MAX))
                return dh__set_error(DH_E_FORMAT, "model file: tensor '%s' element %zu is %g; "
                                     "a variance must be finite and >= 0", p->name, i,
                                     (double)p->data[i]);
    return DH_OK;
}

static dh_status load_rest(dh_model *m, const dh__safetensors *st)
{
    size_t cap = m->n_extra;
    for (size_t i = 0; i < st->n; i++) {
        const dh__st_tensor *t = &st->t[i];
        int known = 0;
        for (size_t j = 0; j < m->n_params && !known; j++) known = !strcmp(m->params[j].p.name, t->name);
        if (!known) DH_TRY(dh__model_add_file_tensor(m, t, &cap));
    }
    return dh__model_add_file_metadata(m, st);
}

#define BUILD_FACTOR 4                       /* parameters, gradients, copies */
#define BUILD_SLACK ((size_t)32 << 20)       /* plans, buffers, names */

static dh_status load_from(const dh__safetensors *st, dh_model **out)
{
    dh_model_options o;
    int ndim = 0;
    int64_t shape[3] = {0, 0, 0};
    DH_TRY(read_options(st, &o));
    DH_TRY(read_input_shape(st, &o, &ndim, shape));
    dh_model *m;
    /* Bound the architecture by the tensors present: a model holds its parameters,
     * their gradients and small bookkeeping, so building one that needs more than
     * BUILD_FACTOR x the file's tensor bytes + BUILD_SLACK means the metadata names a
     * network the file does not carry (a 400-byte file naming mlp:1048576-512 would
     * otherwise allocate and initialise 4 GB before a tensor is found missing). */
    size_t tensor_bytes = 0, limit;
    for (size_t i = 0; i < st->n; i++) tensor_bytes += st->t[i].numel * sizeof(float);
    if (!dh__mul_ok(tensor_bytes, BUILD_FACTOR, &limit) || limit > SIZE_MAX - BUILD_SLACK)
        limit = SIZE_MAX;
    else limit += BUILD_SLACK;
    dh__alloc_budget budget;
    dh__alloc_budget_begin(&budget, limit);
    dh_status s = dh__model_build(&o, &m);
    dh__alloc_budget_end(&budget);
    if (s != DH_OK && budget.hit)
        return dh__set_error(DH_E_FORMAT, "model file: encoder '%.200s' with %u bits needs "
                             "more than %zu bytes to build, but the file holds only %zu bytes "
                             "of tensors (metadata and tensors disagree)", o.encoder, o.n_bits,
                             limit, tensor_bytes);
    if (s == DH_E_INVALID_ARG) s = DH_E_FORMAT; /* bad n_bits, batch_size, ...: a bad file */
    DH_TRY(s);
    s = check_arch(m, st, ndim, shape);
    if (s == DH_OK) s = dh__model_meta_from_file(m, st);
    if (s == DH_OK && m->o.head == DH_HEAD_SCALED_TANH) s = dh_head_set_beta(m->head, o.head_beta);
    for (size_t i = 0; i < m->n_params && s == DH_OK; i++) s = load_param(&m->params[i].p, st);
    if (s == DH_OK) s = load_rest(m, st);
    if (s != DH_OK) {
        dh_model_free(m);
        return s;
    }
    dh__model_params_changed(m);
    *out = m;
    return DH_OK;
}

dh_status dh_model_load(const char *path, dh_model **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(path != NULL);
    uint8_t *buf = NULL;
    size_t len = 0;
    DH_TRY(dh__read_file(path, &buf, &len));
    dh_status s = dh__model_load_buffer(buf, len, out);
    if (s != DH_OK) dh__error_prefix("dh_model_load '%s'", path);
    dh__free(buf);
    return s;
}

dh_status dh__model_load_buffer(const uint8_t *buf, size_t len, dh_model **out)
{
    *out = NULL;
    dh__safetensors st;
    dh_status s = dh__safetensors_parse(buf, len, &st);
    if (s == DH_OK) {
        s = load_from(&st, out);
        dh__safetensors_free(&st);
    }
    return s;
}
