/* lib/data/dataset.c -- dh_dataset: reference-counted sample storage (sources) plus
 * per-dataset label rows, class ids, tags and an index map. Subsets copy the (small)
 * labels and share the (large) pixels. */
#include "data/data.h"

#include <string.h>

/* ---- sources ---- */

dh__source *dh__source_new(int kind)
{
    dh__source *s = dh__calloc(1, sizeof *s);
    if (!s) return NULL;
    atomic_init(&s->refs, 1);
    s->kind = kind;
    return s;
}

void dh__source_retain(dh__source *s)
{
    if (s) atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void dh__source_release(dh__source *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    if (s->kind == DH__SRC_CONCAT)
        for (int k = 0; k < 2; k++) {
            dh__source_release(s->parts[k].src);
            dh__free(s->parts[k].map);
        }
    if (s->list) s->list_destroy(s->list);
    dh__free_aligned(s->owned);
    dh__free(s);
}

static const dh__part *concat_part(const dh__source *s, size_t j, size_t *local)
{
    const dh__part *p = j >= s->parts[1].offset ? &s->parts[1] : &s->parts[0];
    size_t l = j - p->offset;
    *local = p->map ? (size_t)p->map[l] : l;
    return p;
}

dh_status dh__source_image(dh__source *s, size_t j, uint8_t *out)
{
    size_t bytes = (size_t)s->height * s->width * s->channels, local;
    switch (s->kind) {
    case DH__SRC_IMAGES: memcpy(out, s->pixels + j * bytes, bytes); return DH_OK;
    case DH__SRC_LIST: return s->list_get(s->list, j, out);
    case DH__SRC_CONCAT: {
        const dh__part *p = concat_part(s, j, &local);
        return dh__source_image(p->src, local, out);
    }
    default: return dh__set_error(DH_E_INTERNAL, "source kind %d has no images", s->kind);
    }
}

dh_status dh__source_features(dh__source *s, size_t j, float *out)
{
    size_t local;
    if (s->kind == DH__SRC_FEATURES) {
        memcpy(out, s->feats + j * s->dim, s->dim * sizeof(float));
        return DH_OK;
    }
    if (s->kind == DH__SRC_CONCAT) {
        const dh__part *p = concat_part(s, j, &local);
        return dh__source_features(p->src, local, out);
    }
    return dh__set_error(DH_E_INTERNAL, "source kind %d has no feature rows", s->kind);
}

/* ---- datasets ---- */

dh_status dh__dataset_new(dh__source *src, size_t n, uint32_t n_classes, dh_dataset **out)
{
    *out = NULL;
    dh_dataset *ds = dh__calloc(1, sizeof *ds);
    if (!ds) {
        dh__source_release(src);
        return DH_E_NO_MEMORY;
    }
    ds->src = src;
    ds->n = n;
    ds->n_classes = n_classes;
    ds->class_ids = dh__alloc(n * sizeof(int32_t));
    if (n_classes) ds->labels = dh__calloc(n, (size_t)n_classes * sizeof(float));
    if (!ds->class_ids || (n_classes && !ds->labels)) {
        dh_dataset_free(ds);
        return DH_E_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++) ds->class_ids[i] = -1;
    *out = ds;
    return DH_OK;
}

void dh_dataset_free(dh_dataset *ds)
{
    if (!ds) return;
    dh__source_release(ds->src);
    dh__free(ds->map);
    dh__free(ds->labels);
    dh__free(ds->class_ids);
    dh__free(ds->tags);
    dh__free(ds);
}

dh_status dh__dataset_set_labels(dh_dataset *ds, const int32_t *class_ids, const float *labels,
                                 const char *what)
{
    size_t C = ds->n_classes;
    ds->multilabel = 0;
    for (size_t i = 0; i < ds->n; i++) {
        float *row = ds->labels ? ds->labels + i * C : NULL;
        if (class_ids) {
            if (class_ids[i] < 0 || (uint32_t)class_ids[i] >= C)
                return dh__set_error(DH_E_INVALID_ARG, "%s: class id %d of sample %zu is outside "
                                     "0..%zu", what, class_ids[i], i, C ? C - 1 : 0);
            row[class_ids[i]] = 1.0f;
            ds->class_ids[i] = class_ids[i];
            continue;
        }
        if (!labels) continue;
        int pos = 0, last = -1;
        for (size_t c = 0; c < C; c++) {
            float v = labels[i * C + c];
            if (v != 0.0f && v != 1.0f)
                return dh__set_error(DH_E_INVALID_ARG, "%s: label [%zu, %zu] = %g is not 0 or 1",
                                     what, i, c, (double)v);
            row[c] = v;
            if (v == 1.0f) pos++, last = (int)c;
        }
        ds->class_ids[i] = pos == 1 ? last : -1;
        if (pos != 1) ds->multilabel = 1;
    }
    return DH_OK;
}

dh_status dh__dataset_pick(const dh_dataset *ds, const int64_t *idx, size_t n,
                           uint32_t n_classes, const float *labels, dh_dataset **out)
{
    *out = NULL;
    dh__source_retain(ds->src);
    dh_dataset *r;
    DH_TRY(dh__dataset_new(ds->src, n, n_classes, &r));
    r->map = dh__alloc(n * sizeof(int64_t));
    if (ds->n_tags) r->tags = dh__alloc(n * (size_t)ds->n_tags * sizeof(float));
    if (!r->map || (ds->n_tags && !r->tags)) {
        dh_dataset_free(r);
        return DH_E_NO_MEMORY;
    }
    r->n_tags = ds->n_tags;
    size_t C = ds->n_classes, T = ds->n_tags;
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)idx[i];
        r->map[i] = dh__ds_src_index(ds, k);
        if (T) memcpy(r->tags + i * T, ds->tags + k * T, T * sizeof(float));
        if (labels) continue;
        r->class_ids[i] = ds->class_ids[k];
        if (C) memcpy(r->labels + i * C, ds->labels + k * C, C * sizeof(float));
        if (ds->class_ids[k] < 0 && C) r->multilabel = 1;
    }
    if (labels) {
        dh_status st = dh__dataset_set_labels(r, NULL, labels, "subset");
        if (st != DH_OK) {
            dh_dataset_free(r);
            return st;
        }
    }
    *out = r;
    return DH_OK;
}

dh_status dh_dataset_subset(const dh_dataset *ds, const int64_t *indices, size_t n,
                            dh_dataset **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(ds != NULL);
    DH_CHECK_ARG(indices != NULL || n == 0);
    for (size_t i = 0; i < n; i++)
        if (indices[i] < 0 || (uint64_t)indices[i] >= ds->n)
            return dh__set_error(DH_E_INVALID_ARG, "dh_dataset_subset: indices[%zu] = %lld is "
                                 "outside 0..%zu", i, (long long)indices[i], ds->n - 1);
    return dh__dataset_pick(ds, indices, n, ds->n_classes, NULL, out);
}

static int same_layout(const dh__source *a, const dh__source *b)
{
    return a->is_image == b->is_image && a->height == b->height && a->width == b->width &&
           a->channels == b->channels && a->dim == b->dim;
}

static dh_status concat_part_init(dh__part *p, const dh_dataset *d, size_t offset)
{
    dh__source_retain(d->src);
    p->src = d->src;
    p->n = d->n;
    p->offset = offset;
    if (!d->map) return DH_OK;
    p->map = dh__alloc(d->n * sizeof(int64_t));
    if (!p->map) return DH_E_NO_MEMORY;
    memcpy(p->map, d->map, d->n * sizeof(int64_t));
    return DH_OK;
}

static void concat_rows(dh_dataset *r, const dh_dataset *d, size_t off)
{
    size_t C = r->n_classes, T = r->n_tags;
    memcpy(r->class_ids + off, d->class_ids, d->n * sizeof(int32_t));
    if (C) memcpy(r->labels + off * C, d->labels, d->n * C * sizeof(float));
    if (T) memcpy(r->tags + off * T, d->tags, d->n * T * sizeof(float));
}

dh_status dh_dataset_concat(const dh_dataset *a, const dh_dataset *b, dh_dataset **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(a != NULL && b != NULL);
    if (!same_layout(a->src, b->src) || a->n_classes != b->n_classes || a->n_tags != b->n_tags)
        return dh__set_error(DH_E_SHAPE, "dh_dataset_concat: the datasets differ in sample "
                             "shape, n_classes (%u, %u) or n_tags (%u, %u)", a->n_classes,
                             b->n_classes, a->n_tags, b->n_tags);
    dh__source *s = dh__source_new(DH__SRC_CONCAT);
    if (!s) return DH_E_NO_MEMORY;
    s->is_image = a->src->is_image;
    s->height = a->src->height, s->width = a->src->width, s->channels = a->src->channels;
    s->dim = a->src->dim;
    s->n = a->n + b->n;
    dh_dataset *r = NULL;
    dh_status st = concat_part_init(&s->parts[0], a, 0);
    if (st == DH_OK) st = concat_part_init(&s->parts[1], b, a->n);
    if (st != DH_OK) {
        dh__source_release(s);
        return st;
    }
    DH_TRY(dh__dataset_new(s, s->n, a->n_classes, &r));
    r->n_tags = a->n_tags;
    if (r->n_tags && !(r->tags = dh__alloc(r->n * (size_t)r->n_tags * sizeof(float)))) {
        dh_dataset_free(r);
        return DH_E_NO_MEMORY;
    }
    concat_rows(r, a, 0);
    concat_rows(r, b, a->n);
    r->multilabel = a->multilabel || b->multilabel;
    *out = r;
    return DH_OK;
}

/* ---- from caller arrays ---- */

static dh_status from_memory(int is_image, const void *data, size_t n, uint32_t h, uint32_t w,
                             uint32_t c, uint32_t dim, const int32_t *class_ids,
                             const float *labels, uint32_t n_classes, int copy, dh_dataset **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG_MSG(data != NULL || n == 0, "dataset: sample array is NULL for %zu samples", n);
    DH_CHECK_ARG_MSG(!(class_ids && labels), "dataset: give class_ids or labels, not both");
    DH_CHECK_ARG_MSG(n_classes > 0 || (!class_ids && !labels),
                     "dataset: n_classes is 0 but labels were given");
    DH_CHECK_ARG_MSG(n_classes <= (1u << 20), "dataset: n_classes %u is too large", n_classes);
    size_t per = is_image ? (size_t)h * w * c : dim, bytes;
    if (is_image)
        DH_CHECK_ARG_MSG(h > 0 && w > 0 && (c == 1 || c == 3 || c == 4) && h <= 65536 &&
                         w <= 65536, "dataset: bad image size %ux%ux%u (channels 1, 3 or 4)",
                         h, w, c);
    else
        DH_CHECK_ARG_MSG(dim > 0, "dataset: feature dim is 0");
    if (!dh__mul_ok(n, per * (is_image ? 1 : sizeof(float)), &bytes))
        return dh__set_error(DH_E_INVALID_ARG, "dataset: %zu samples overflow memory", n);
    dh__source *s = dh__source_new(is_image ? DH__SRC_IMAGES : DH__SRC_FEATURES);
    if (!s) return DH_E_NO_MEMORY;
    s->is_image = is_image, s->height = h, s->width = w, s->channels = c;
    s->dim = (uint32_t)(is_image ? 0 : dim), s->n = n;
    const void *p = data;
    if (copy) {
        if (!(s->owned = dh__alloc_aligned(bytes, 64))) {
            dh__source_release(s);
            return DH_E_NO_MEMORY;
        }
        if (bytes) memcpy(s->owned, data, bytes);
        p = s->owned;
    }
    if (is_image) s->pixels = p;
    else s->feats = p;
    dh_dataset *ds;
    DH_TRY(dh__dataset_new(s, n, n_classes, &ds));
    dh_status st = dh__dataset_set_labels(ds, class_ids, labels, "dataset");
    if (st != DH_OK) {
        dh_dataset_free(ds);
        return st;
    }
    *out = ds;
    return DH_OK;
}

dh_status dh_dataset_from_images(const uint8_t *images, size_t n, uint32_t height, uint32_t width,
                                 uint32_t channels, const int32_t *class_ids, const float *labels,
                                 uint32_t n_classes, dh_dataset **out)
{
    return from_memory(1, images, n, height, width, channels, 0, class_ids, labels, n_classes, 1,
                       out);
}

dh_status dh_dataset_from_images_ref(const uint8_t *images, size_t n, uint32_t height,
                                     uint32_t width, uint32_t channels, const int32_t *class_ids,
                                     const float *labels, uint32_t n_classes, dh_dataset **out)
{
    return from_memory(1, images, n, height, width, channels, 0, class_ids, labels, n_classes, 0,
                       out);
}

dh_status dh_dataset_from_features(const float *features, size_t n, uint32_t dim,
                                   const int32_t *class_ids, const float *labels,
                                   uint32_t n_classes, dh_dataset **out)
{
    return from_memory(0, features, n, 0, 0, 0, dim, class_ids, labels, n_classes, 1, out);
}

dh_status dh_dataset_from_features_ref(const float *features, size_t n, uint32_t dim,
                                       const int32_t *class_ids, const float *labels,
                                       uint32_t n_classes, dh_dataset **out)
{
    return from_memory(0, features, n, 0, 0, 0, dim, class_ids, labels, n_classes, 0, out);
}

/* ---- tags ---- */

dh_status dh_dataset_set_tags(dh_dataset *ds, const float *tags, uint32_t n_tags)
{
    DH_CHECK_ARG(ds != NULL);
    DH_CHECK_ARG(tags != NULL || n_tags == 0 || ds->n == 0);
    float *t = NULL;
    if (n_tags) {
        t = dh__calloc(ds->n ? ds->n : 1, (size_t)n_tags * sizeof(float));
        if (!t) return DH_E_NO_MEMORY;
        if (ds->n) memcpy(t, tags, ds->n * (size_t)n_tags * sizeof(float));
    }
    dh__free(ds->tags);
    ds->tags = t;
    ds->n_tags = n_tags;
    return DH_OK;
}

/* ---- getters ---- */

size_t dh_dataset_count(const dh_dataset *ds) { return ds ? ds->n : 0; }
uint32_t dh_dataset_n_classes(const dh_dataset *ds) { return ds ? ds->n_classes : 0; }
uint32_t dh_dataset_n_tags(const dh_dataset *ds) { return ds ? ds->n_tags : 0; }
int dh_dataset_is_image(const dh_dataset *ds) { return ds ? ds->src->is_image : 0; }
int dh_dataset_is_multilabel(const dh_dataset *ds) { return ds ? ds->multilabel : 0; }
uint32_t dh_dataset_height(const dh_dataset *ds) { return ds ? ds->src->height : 0; }
uint32_t dh_dataset_width(const dh_dataset *ds) { return ds ? ds->src->width : 0; }
uint32_t dh_dataset_channels(const dh_dataset *ds) { return ds ? ds->src->channels : 0; }

size_t dh_dataset_sample_size(const dh_dataset *ds)
{
    if (!ds) return 0;
    const dh__source *s = ds->src;
    return s->is_image ? (size_t)s->height * s->width * s->channels : s->dim;
}

static dh_status check_range(const dh_dataset *ds, size_t first, size_t count, const void *out,
                             const char *fn)
{
    DH_CHECK_ARG_MSG(ds != NULL && (out != NULL || count == 0), "%s: NULL dataset or output", fn);
    if (first > ds->n || count > ds->n - first)
        return dh__set_error(DH_E_INVALID_ARG, "%s: range [%zu, %zu + %zu) is outside the %zu "
                             "samples", fn, first, first, count, ds->n);
    return DH_OK;
}

dh_status dh_dataset_get_labels(const dh_dataset *ds, size_t first, size_t count, float *out)
{
    DH_TRY(check_range(ds, first, count, out, "dh_dataset_get_labels"));
    if (ds->n_classes && count)
        memcpy(out, ds->labels + first * ds->n_classes, count * ds->n_classes * sizeof(float));
    return DH_OK;
}

dh_status dh_dataset_get_class_ids(const dh_dataset *ds, size_t first, size_t count,
                                   int32_t *out)
{
    DH_TRY(check_range(ds, first, count, out, "dh_dataset_get_class_ids"));
    if (count) memcpy(out, ds->class_ids + first, count * sizeof(int32_t));
    return DH_OK;
}

dh_status dh_dataset_get_tags(const dh_dataset *ds, size_t first, size_t count, float *out)
{
    DH_TRY(check_range(ds, first, count, out, "dh_dataset_get_tags"));
    if (!ds->n_tags) return dh__set_error(DH_E_STATE, "dh_dataset_get_tags: dataset has no tags");
    if (count) memcpy(out, ds->tags + first * ds->n_tags, count * ds->n_tags * sizeof(float));
    return DH_OK;
}

dh_status dh_dataset_get_origin(const dh_dataset *ds, size_t first, size_t count, int64_t *out)
{
    DH_TRY(check_range(ds, first, count, out, "dh_dataset_get_origin"));
    for (size_t i = 0; i < count; i++) out[i] = dh__ds_src_index(ds, first + i);
    return DH_OK;
}

dh_status dh_dataset_get_image(const dh_dataset *ds, size_t i, uint8_t *out)
{
    DH_TRY(check_range(ds, i, 1, out, "dh_dataset_get_image"));
    if (!ds->src->is_image)
        return dh__set_error(DH_E_INVALID_ARG, "dh_dataset_get_image: dataset holds feature rows");
    return dh__source_image(ds->src, (size_t)dh__ds_src_index(ds, i), out);
}

dh_status dh_dataset_get_floats(const dh_dataset *ds, size_t i, const float *mean,
                                const float *std, float *out)
{
    DH_TRY(check_range(ds, i, 1, out, "dh_dataset_get_floats"));
    const dh__source *s = ds->src;
    size_t j = (size_t)dh__ds_src_index(ds, i);
    if (!s->is_image) {
        DH_CHECK_ARG_MSG(!mean && !std, "dh_dataset_get_floats: mean/std apply to images only");
        return dh__source_features(ds->src, j, out);
    }
    size_t hw = (size_t)s->height * s->width, c = s->channels;
    for (size_t k = 0; k < c; k++)
        DH_CHECK_ARG_MSG(!std || std[k] > 0.0f, "dh_dataset_get_floats: std[%zu] is not > 0", k);
    uint8_t *img = dh__alloc(hw * c);
    if (!img) return DH_E_NO_MEMORY;
    dh_status st = dh__source_image(ds->src, j, img);
    for (size_t k = 0; st == DH_OK && k < c; k++) {
        float m = mean ? mean[k] : 0.0f, inv = 1.0f / (std ? std[k] : 1.0f);
        for (size_t p = 0; p < hw; p++) out[k * hw + p] = ((float)img[p * c + k] / 255.0f - m) * inv;
    }
    dh__free(img);
    return st;
}

void dh__shuffle_i64(int64_t *v, size_t n, dh__rng *r)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)dh__rng_below(r, i);
        int64_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}
