/* lib/model/extra.c -- extra tensors and metadata strings carried by a model file
 * (loss state such as hash centers, training facts), and the reserved metadata keys
 * dh_model_save writes itself. */
#include "model/model.h"

#include <string.h>

static const char *const reserved[] = {
    "format", "format_version", "libdh_version", "encoder", "n_bits", "head", "head_beta",
    "head_bias", "input_shape", "mean", "std", "feature_dim", "dropout", "bn_momentum",
    "bn_eps", "batch_size", "seed", "extra_tensors", "head_init_std",
    "fmap_pool", "fmap_parts", "fmap_aux_weight", "fmap_global",
};

int dh__model_reserved_key(const char *key)
{
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (!strcmp(key, reserved[i])) return 1;
    return 0;
}

static int is_param_name(const dh_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].p.name, name)) return 1;
    return 0;
}

static dh_status check_tensor_args(const dh_model *m, const char *name, int32_t dtype,
                                   uint32_t ndim, const int64_t *shape, const void *data,
                                   size_t *nbytes)
{
    DH_CHECK_ARG(m != NULL && name != NULL);
    DH_CHECK_ARG_MSG(name[0] != '\0' && strlen(name) <= 255 && strncmp(name, "__", 2) != 0,
                     "dh_model_set_tensor: name '%.64s' must be 1..255 bytes and not start "
                     "with \"__\"", name);
    DH_CHECK_ARG_MSG(!is_param_name(m, name),
                     "dh_model_set_tensor: '%s' is the name of a model parameter", name);
    DH_CHECK_ARG_MSG(dtype == DH_DTYPE_FLOAT32 || dtype == DH_DTYPE_INT64,
                     "dh_model_set_tensor: '%s': dtype %d must be DH_DTYPE_FLOAT32 or "
                     "DH_DTYPE_INT64", name, (int)dtype);
    DH_CHECK_ARG_MSG(ndim <= DH__ST_MAX_DIMS && (shape != NULL || ndim == 0),
                     "dh_model_set_tensor: '%s': ndim %u must be <= 8 with a shape", name, ndim);
    size_t count = 1;
    for (uint32_t d = 0; d < ndim; d++) {
        DH_CHECK_ARG_MSG(shape[d] >= 0 && shape[d] <= ((int64_t)1 << 40),
                         "dh_model_set_tensor: '%s': shape[%u] = %lld out of range", name, d,
                         (long long)shape[d]);
        DH_CHECK_ARG_MSG(dh__mul_ok(count, (size_t)shape[d], &count),
                         "dh_model_set_tensor: '%s': shape overflows", name);
    }
    DH_CHECK_ARG_MSG(dh__mul_ok(count, dtype == DH_DTYPE_FLOAT32 ? 4u : 8u, nbytes),
                     "dh_model_set_tensor: '%s': too large", name);
    DH_CHECK_ARG_MSG(data != NULL || *nbytes == 0, "dh_model_set_tensor: '%s': data is NULL",
                     name);
    return DH_OK;
}

static dh__extra_tensor *find_extra(const dh_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_extra; i++)
        if (!strcmp(m->extra[i].name, name)) return &m->extra[i];
    return NULL;
}

dh_status dh_model_set_tensor(dh_model *m, const char *name, int32_t dtype, uint32_t ndim,
                              const int64_t *shape, const void *data)
{
    size_t nbytes = 0;
    DH_TRY(check_tensor_args(m, name, dtype, ndim, shape, data, &nbytes));
    void *copy = dh__alloc(nbytes);
    if (!copy) return DH_E_NO_MEMORY;
    if (nbytes) memcpy(copy, data, nbytes);
    dh__extra_tensor *t = find_extra(m, name);
    if (!t) {
        dh__extra_tensor *nx = dh__realloc(m->extra, (m->n_extra + 1) * sizeof *nx);
        char *nm = nx ? dh__strdup(name) : NULL;
        if (!nx || !nm) {
            if (nx) m->extra = nx;
            dh__free(copy);
            return DH_E_NO_MEMORY;
        }
        m->extra = nx;
        t = &m->extra[m->n_extra++];
        memset(t, 0, sizeof *t);
        t->name = nm;
    }
    dh__free(t->data);
    t->data = copy;
    t->nbytes = nbytes;
    t->dtype = dtype;
    t->ndim = ndim;
    memset(t->shape, 0, sizeof t->shape);
    for (uint32_t d = 0; d < ndim; d++) t->shape[d] = shape[d];
    return DH_OK;
}

dh_status dh_model_get_tensor(const dh_model *m, const char *name, int32_t *dtype,
                              uint32_t *ndim, int64_t *shape, const void **data)
{
    DH_CHECK_ARG(m != NULL && name != NULL);
    const dh__extra_tensor *t = find_extra(m, name);
    if (!t) return dh__set_error(DH_E_NOT_FOUND, "dh_model_get_tensor: no extra tensor '%.200s'",
                                 name);
    if (dtype) *dtype = t->dtype;
    if (ndim) *ndim = t->ndim;
    if (shape)
        for (uint32_t d = 0; d < t->ndim; d++) shape[d] = t->shape[d];
    if (data) *data = t->data;
    return DH_OK;
}

dh_status dh_model_set_metadata(dh_model *m, const char *key, const char *value)
{
    DH_CHECK_ARG(m != NULL && key != NULL && value != NULL);
    DH_CHECK_ARG_MSG(key[0] != '\0' && strlen(key) <= 255 && strncmp(key, "__", 2) != 0,
                     "dh_model_set_metadata: key '%.64s' must be 1..255 bytes, not \"__...\"",
                     key);
    DH_CHECK_ARG_MSG(!dh__model_reserved_key(key),
                     "dh_model_set_metadata: key '%s' is written by dh_model_save itself", key);
    DH_CHECK_ARG_MSG(strlen(value) <= ((size_t)1 << 20),
                     "dh_model_set_metadata: value of '%s' is longer than 1 MiB", key);
    char *v = dh__strdup(value);
    if (!v) return DH_E_NO_MEMORY;
    for (size_t i = 0; i < m->n_meta; i++)
        if (!strcmp(m->meta_keys[i], key)) {
            dh__free(m->meta_vals[i]);
            m->meta_vals[i] = v;
            return DH_OK;
        }
    char **nk = dh__realloc(m->meta_keys, (m->n_meta + 1) * sizeof *nk);
    if (nk) m->meta_keys = nk;
    char **nv = nk ? dh__realloc(m->meta_vals, (m->n_meta + 1) * sizeof *nv) : NULL;
    if (nv) m->meta_vals = nv;
    char *k = nv ? dh__strdup(key) : NULL;
    if (!k) {
        dh__free(v);
        return DH_E_NO_MEMORY;
    }
    m->meta_keys[m->n_meta] = k;
    m->meta_vals[m->n_meta++] = v;
    return DH_OK;
}

const char *dh_model_get_metadata(const dh_model *m, const char *key)
{
    if (!m || !key) return NULL;
    for (size_t i = 0; i < m->n_meta; i++)
        if (!strcmp(m->meta_keys[i], key)) return m->meta_vals[i];
    return NULL;
}

/* ---- a parsed file's extra tensors and metadata, in O(1) amortised each ----
 * The safetensors parser has already refused duplicate names and keys, so these skip
 * the per-item lookups of the setters above (quadratic for files with many keys). */

dh_status dh__model_add_file_metadata(dh_model *m, const dh__safetensors *st)
{
    size_t add = 0;
    for (size_t i = 0; i < st->n_meta; i++) add += !dh__model_reserved_key(st->meta_keys[i]);
    if (!add) return DH_OK;
    if (m->n_meta) { /* keys set before the load (none today): keep the setter's semantics */
        for (size_t i = 0; i < st->n_meta; i++)
            if (!dh__model_reserved_key(st->meta_keys[i]))
                DH_TRY(dh_model_set_metadata(m, st->meta_keys[i], st->meta_vals[i]));
        return DH_OK;
    }
    char **nk = dh__calloc(add, sizeof *nk), **nv = dh__calloc(add, sizeof *nv);
    if (!nk || !nv) {
        dh__free(nk), dh__free(nv);
        return DH_E_NO_MEMORY;
    }
    dh__free(m->meta_keys), dh__free(m->meta_vals);
    m->meta_keys = nk, m->meta_vals = nv;
    for (size_t i = 0; i < st->n_meta; i++) {
        const char *key = st->meta_keys[i], *val = st->meta_vals[i];
        if (dh__model_reserved_key(key)) continue;
        if (key[0] == '\0' || strlen(key) > 255 || !strncmp(key, "__", 2) ||
            strlen(val) > ((size_t)1 << 20))
            return dh__set_error(DH_E_FORMAT, "model file: __metadata__ key '%.64s' must be "
                                 "1..255 bytes, not \"__...\", with a value of at most 1 MiB",
                                 key);
        char *k = dh__strdup(key), *v = dh__strdup(val);
        if (!k || !v) {
            dh__free(k), dh__free(v);
            return DH_E_NO_MEMORY;
        }
        m->meta_keys[m->n_meta] = k;
        m->meta_vals[m->n_meta++] = v;
    }
    return DH_OK;
}

dh_status dh__model_add_file_tensor(dh_model *m, const dh__st_tensor *t, size_t *cap)
{
    if (t->dtype != DH__ST_F32 && t->dtype != DH__ST_I64)
        return dh__set_error(DH_E_FORMAT, "model file: extra tensor '%s' is %s; only F32 "
                             "and I64 are supported", t->name, dh__st_dtype_name(t->dtype));
    if (strlen(t->name) > 255 || !strncmp(t->name, "__", 2))
        return dh__set_error(DH_E_FORMAT, "model file: extra tensor name '%.64s' must be "
                             "1..255 bytes and not start with \"__\"", t->name);
    if (m->n_extra == *cap) {
        size_t nc = *cap ? 2 * *cap : 8;
        dh__extra_tensor *nx = dh__realloc(m->extra, nc * sizeof *nx);
        if (!nx) return DH_E_NO_MEMORY;
        m->extra = nx;
        *cap = nc;
    }
    dh__extra_tensor *x = &m->extra[m->n_extra];
    memset(x, 0, sizeof *x);
    x->name = dh__strdup(t->name);
    x->data = dh__alloc(t->nbytes);
    if (!x->name || !x->data) {
        dh__free(x->name), dh__free(x->data);
        return DH_E_NO_MEMORY;
    }
    if (t->nbytes) memcpy(x->data, t->data, t->nbytes);
    x->nbytes = t->nbytes;
    x->dtype = t->dtype == DH__ST_F32 ? DH_DTYPE_FLOAT32 : DH_DTYPE_INT64;
    x->ndim = (uint32_t)t->ndim;
    for (int32_t d = 0; d < t->ndim; d++) x->shape[d] = t->shape[d];
    m->n_extra++;
    return DH_OK;
}
