/* lib/data/array.c -- public .npy API (dh_array) and datasets loaded from .npy files. */
#include "data/data.h"

#include <string.h>

struct dh_array {
    dh__npy a;
};

size_t dh_dtype_size(int32_t dtype) { return dh__dtype_size(dtype); }

static dh_status wrap(dh__npy *a, dh_array **out)
{
    dh_array *r = dh__alloc(sizeof *r);
    if (!r) {
        dh__npy_free(a);
        return DH_E_NO_MEMORY;
    }
    r->a = *a;
    *out = r;
    return DH_OK;
}

dh_status dh_npy_load(const char *path, dh_array **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(path != NULL);
    dh__npy a;
    DH_TRY(dh__npy_read(path, &a));
    return wrap(&a, out);
}

dh_status dh_npy_load_buffer(const void *buf, size_t len, dh_array **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(buf != NULL || len == 0);
    dh__npy a;
    DH_TRY(dh__npy_read_buffer(buf, len, &a));
    return wrap(&a, out);
}

dh_status dh_npy_save(const char *path, int32_t dtype, uint32_t ndim, const int64_t *shape,
                      const void *data)
{
    DH_CHECK_ARG_MSG(ndim <= DH__NPY_MAX_DIMS, "dh_npy_save: ndim %u exceeds %d", ndim,
                     DH__NPY_MAX_DIMS);
    return dh__npy_write(path, dtype, (int32_t)ndim, shape, data);
}

void dh_array_free(dh_array *array)
{
    if (!array) return;
    dh__npy_free(&array->a);
    dh__free(array);
}

int32_t dh_array_dtype(const dh_array *array) { return array ? array->a.dtype : 0; }
uint32_t dh_array_ndim(const dh_array *array) { return array ? (uint32_t)array->a.ndim : 0; }
size_t dh_array_count(const dh_array *array) { return array ? array->a.n_elems : 0; }
const void *dh_array_data(const dh_array *array) { return array ? array->a.data : NULL; }

int64_t dh_array_dim(const dh_array *array, uint32_t axis)
{
    if (!array || axis >= (uint32_t)array->a.ndim) return -1;
    return array->a.shape[axis];
}

dh_status dh_array_to_float32(const dh_array *array, float *out, size_t n)
{
    DH_CHECK_ARG(array != NULL && (out != NULL || n == 0));
    if (n != array->a.n_elems)
        return dh__set_error(DH_E_SHAPE, "dh_array_to_float32: buffer holds %zu floats, the "
                             "array has %zu elements", n, array->a.n_elems);
    dh__convert_to_f32(array->a.dtype, array->a.data, n, out);
    return DH_OK;
}

/* ---- datasets from .npy ---- */

static int is_integer(int32_t dt) { return dt != DH_DTYPE_FLOAT32 && dt != DH_DTYPE_FLOAT64; }

/* Labels [n] integer class ids or [n, C] 0/1 values into class ids or float rows. */
static dh_status npy_labels(const dh__npy *l, const char *path, size_t n, int32_t **ids,
                            float **rows, uint32_t *n_classes)
{
    if ((l->ndim != 1 && l->ndim != 2) || (size_t)l->shape[0] != n)
        return dh__set_error(DH_E_SHAPE, "%s: labels must be [%zu] or [%zu, C]; shape has %d "
                             "dimensions and %lld rows", path, n, n, l->ndim,
                             l->ndim ? (long long)l->shape[0] : 0LL);
    float *f = dh__alloc(l->n_elems * sizeof(float) + 1);
    if (!f) return DH_E_NO_MEMORY;
    dh__convert_to_f32(l->dtype, l->data, l->n_elems, f);
    if (l->ndim == 2) {
        if (l->shape[1] < 1 || l->shape[1] > (1 << 20)) {
            dh__free(f);
            return dh__set_error(DH_E_SHAPE, "%s: %lld label columns", path,
                                 (long long)l->shape[1]);
        }
        *rows = f;
        *n_classes = (uint32_t)l->shape[1];
        return DH_OK;
    }
    if (!is_integer(l->dtype)) {
        dh__free(f);
        return dh__set_error(DH_E_FORMAT, "%s: 1-D labels must be integer class ids", path);
    }
    int32_t *c = dh__alloc(n * sizeof(int32_t) + 1);
    float mx = -1.0f;
    for (size_t i = 0; c && i < n; i++) {
        if (f[i] < 0.0f || f[i] >= (float)(1 << 20)) {
            dh__free(c), dh__free(f);
            return dh__set_error(DH_E_FORMAT, "%s: class id %g of row %zu is negative or too "
                                 "large", path, (double)f[i], i);
        }
        c[i] = (int32_t)f[i];
        if (f[i] > mx) mx = f[i];
    }
    dh__free(f);
    if (!c) return DH_E_NO_MEMORY;
    *ids = c;
    *n_classes = (uint32_t)(mx + 1.0f);
    return DH_OK;
}

static dh_status npy_samples(const dh__npy *s, const char *path, const int32_t *ids,
                             const float *rows, uint32_t C, dh_dataset **out)
{
    size_t n = s->ndim ? (size_t)s->shape[0] : 0;
    if (s->ndim == 4 && s->dtype == DH_DTYPE_UINT8) {
        if (s->shape[1] > 65536 || s->shape[2] > 65536)
            return dh__set_error(DH_E_SHAPE, "%s: image size too large", path);
        return dh_dataset_from_images(s->data, n, (uint32_t)s->shape[1], (uint32_t)s->shape[2],
                                      (uint32_t)s->shape[3], ids, rows, C, out);
    }
    if (s->ndim != 2 || s->shape[1] < 1 || s->shape[1] > (1 << 24))
        return dh__set_error(DH_E_SHAPE, "%s: samples must be [n, dim] feature rows or [n, H, W, "
                             "C] uint8 images (got %d dimensions)", path, s->ndim);
    float *f = dh__alloc_aligned(s->n_elems * sizeof(float) + 1, 64);
    if (!f) return DH_E_NO_MEMORY;
    dh__convert_to_f32(s->dtype, s->data, s->n_elems, f);
    dh_status st = dh_dataset_from_features_ref(f, n, (uint32_t)s->shape[1], ids, rows, C, out);
    if (st == DH_OK) (*out)->src->owned = f; /* hand the converted rows to the source */
    else dh__free_aligned(f);
    return st;
}

dh_status dh_dataset_load_npy(const char *samples_path, const char *labels_path,
                              dh_dataset **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(samples_path != NULL);
    dh__npy s, l;
    memset(&l, 0, sizeof l);
    int32_t *ids = NULL;
    float *rows = NULL;
    uint32_t C = 0;
    dh_status st;
    DH_TRY(dh__npy_read(samples_path, &s));
    if (s.ndim < 2) {
        st = dh__set_error(DH_E_SHAPE, "%s: samples need 2 or 4 dimensions", samples_path);
        goto done;
    }
    if (labels_path) {
        DH_TRY_GOTO(dh__npy_read(labels_path, &l), done);
        DH_TRY_GOTO(npy_labels(&l, labels_path, (size_t)s.shape[0], &ids, &rows, &C), done);
    }
    st = npy_samples(&s, samples_path, ids, rows, C, out);
    if (st == DH_E_INVALID_ARG && labels_path) {
        dh__error_prefix("%s", labels_path);
        st = DH_E_FORMAT;
    }
done:
    dh__npy_free(&s);
    dh__npy_free(&l);
    dh__free(ids);
    dh__free(rows);
    return st;
}

dh_status dh_dataset_load_tags_npy(dh_dataset *ds, const char *path)
{
    DH_CHECK_ARG(ds != NULL && path != NULL);
    dh__npy t;
    DH_TRY(dh__npy_read(path, &t));
    dh_status st = DH_OK;
    if (t.ndim != 2 || (size_t)t.shape[0] != ds->n || t.shape[1] > (1 << 24)) {
        st = dh__set_error(DH_E_SHAPE, "%s: tags must be [%zu, n_tags]", path, ds->n);
    } else {
        float *f = dh__alloc(t.n_elems * sizeof(float) + 1);
        if (!f) st = DH_E_NO_MEMORY;
        else {
            dh__convert_to_f32(t.dtype, t.data, t.n_elems, f);
            st = dh_dataset_set_tags(ds, f, (uint32_t)t.shape[1]);
            dh__free(f);
        }
    }
    dh__npy_free(&t);
    return st;
}
