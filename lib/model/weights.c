/* lib/model/weights.c -- import weights by tensor name from a safetensors file (state
 * dicts converted by scripts/torch2safetensors.py): pretrained encoder weights
 * (dh_model_load_backbone, dh_encoder_load_weights) or a whole trained hashing model:
 * encoder, head (+ head BN), feature-map pool and meta-embedding (dh_model_load_weights).
 *
 * Two passes: first every tensor of the target is matched and checked (name, shape,
 * dtype) and the failures are collected into one message naming the first mismatching
 * tensor; only if the whole file fits are the values copied, so a bad file never leaves
 * a half-loaded model. */
#include "model/model.h"

#include <stdio.h>
#include <string.h>

#define MAX_LISTED 8

/* The file tensor for encoder key `name`: exact, or with a "module." prefix. */
static const dh__st_tensor *lookup(const dh__safetensors *st, const char *name)
{
    const dh__st_tensor *t = dh__safetensors_find(st, name);
    if (t) return t;
    char buf[1100];
    if (strlen(name) + 8 > sizeof buf) return NULL;
    snprintf(buf, sizeof buf, "module.%s", name);
    return dh__safetensors_find(st, buf);
}

static int dtype_ok(const dh__st_tensor *t, const char *name)
{
    size_t n = strlen(name), k = strlen("num_batches_tracked");
    int counter = n >= k && !strcmp(name + n - k, "num_batches_tracked");
    switch (t->dtype) {
    case DH__ST_F32: case DH__ST_F64: case DH__ST_F16: case DH__ST_BF16: return 1;
    case DH__ST_I64: return counter;
    default: return 0;
    }
}

static void shape_str(char *buf, size_t cap, int32_t ndim, const int64_t *shape)
{
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int32_t d = 0; d < ndim && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

/* Pass 1: match every encoder tensor; report the first shape/dtype problem, or the
 * missing keys (up to MAX_LISTED names and the count). */
static dh_status match_all(const dh__param *const *ep, size_t n_enc, const char *spec,
                           const dh__safetensors *st, uint32_t flags,
                           const dh__st_tensor **match)
{
    char missing[1024] = "";
    size_t n_missing = 0, k = 0;
    for (size_t i = 0; i < n_enc; i++) {
        const dh__param *p = ep[i];
        const dh__st_tensor *t = match[i] = lookup(st, p->name);
        if (!t) {
            if (n_missing++ < MAX_LISTED && k < sizeof missing)
                k += (size_t)snprintf(missing + k, sizeof missing - k, "%s%s", k ? ", " : "",
                                      p->name);
            continue;
        }
        int same = t->ndim == p->ndim && t->numel == p->n;
        for (int32_t d = 0; same && d < p->ndim; d++) same = t->shape[d] == p->shape[d];
        if (!same && p->n == 1 && t->numel == 1 && t->ndim <= 1 && p->ndim <= 1)
            same = 1; /* a scalar counter saved as [] or [1] */
        if (!same) {
            char a[160], b[160];
            shape_str(a, sizeof a, t->ndim, t->shape);
            shape_str(b, sizeof b, p->ndim, p->shape);
            return dh__set_error(DH_E_SHAPE, "tensor '%s' has shape %s in the file but %s in "
                                 "%s", t->name, a, b, spec);
        }
        if (!dtype_ok(t, p->name))
            return dh__set_error(DH_E_FORMAT, "tensor '%s' has dtype %s; F32/F64/F16/BF16 "
                                 "expected", t->name, dh__st_dtype_name(t->dtype));
    }
    if (n_missing && !(flags & DH_BACKBONE_ALLOW_MISSING))
        return dh__set_error(DH_E_NOT_FOUND, "%zu tensor(s) of %s are missing from the "
                             "file: %s%s (DH_BACKBONE_ALLOW_MISSING keeps their values)",
                             n_missing, spec, missing, n_missing > MAX_LISTED ? ", ..." : "");
    return DH_OK;
}

/* File tensors no encoder tensor matched. */
static size_t count_unused(const dh__safetensors *st, const dh__st_tensor *const *match,
                           size_t n_enc, const char **first)
{
    size_t unused = 0;
    *first = NULL;
    for (size_t i = 0; i < st->n; i++) {
        int used = 0;
        for (size_t j = 0; j < n_enc && !used; j++) used = match[j] == &st->t[i];
        if (!used && !unused++) *first = st->t[i].name;
    }
    return unused;
}

/* Match, check and copy into the n tensors ep[] (named for messages as `spec`). */
static dh_status apply(dh__param *const *ep, size_t n_enc, const char *spec,
                       const dh__safetensors *st, uint32_t flags, uint32_t *loaded,
                       uint32_t *ignored)
{
    const dh__st_tensor **match = dh__calloc(n_enc ? n_enc : 1, sizeof *match);
    if (!match) return DH_E_NO_MEMORY;
    dh_status s = match_all((const dh__param *const *)ep, n_enc, spec, st, flags, match);
    const char *first = NULL;
    size_t unused = s == DH_OK ? count_unused(st, match, n_enc, &first) : 0;
    if (s == DH_OK && unused && (flags & DH_BACKBONE_STRICT))
        s = dh__set_error(DH_E_FORMAT, "%zu tensor(s) in the file are not in %s (first: "
                          "'%s'); DH_BACKBONE_STRICT forbids them", unused, spec, first);
    uint32_t n_loaded = 0;
    for (size_t i = 0; i < n_enc && s == DH_OK; i++)
        if (match[i]) {
            dh__st_to_float(match[i], ep[i]->data);
            n_loaded++;
        }
    dh__free(match);
    if (s != DH_OK) return s;
    if (loaded) *loaded = n_loaded;
    if (ignored) *ignored = (uint32_t)unused;
    return DH_OK;
}

/* The tensors to fill: an encoder's, or a whole model's (model_params). */
typedef struct target {
    dh_encoder *enc;
    dh_model *model;
} target;

static dh_status apply_target(const target *tg, const dh__safetensors *st, uint32_t flags,
                              uint32_t *loaded, uint32_t *ignored)
{
    char spec[600];
    size_t n = 0;
    dh__param **ep = NULL;
    if (tg->model) {
        dh__model_param *mp = NULL;
        n = dh__model_params(tg->model, &mp);
        ep = dh__calloc(n ? n : 1, sizeof *ep);
        for (size_t i = 0; ep && i < n; i++) ep[i] = &mp[i].p;
        snprintf(spec, sizeof spec, "model '%s' (%zu bits)", dh_encoder_spec(tg->model->enc),
                 tg->model->K);
    } else {
        dh__param *p = NULL;
        n = dh__encoder_params(tg->enc, &p);
        ep = dh__calloc(n ? n : 1, sizeof *ep);
        for (size_t i = 0; ep && i < n; i++) ep[i] = &p[i];
        snprintf(spec, sizeof spec, "encoder '%s'", dh_encoder_spec(tg->enc));
    }
    if (!ep) return DH_E_NO_MEMORY;
    dh_status s = apply(ep, n, spec, st, flags, loaded, ignored);
    dh__free(ep);
    if (s != DH_OK) return s;
    if (tg->model) dh__model_params_changed(tg->model);
    else dh__encoder_params_changed(tg->enc);
    return DH_OK;
}

static dh_status load_weights(const target *tg, const char *fn, const char *path,
                              uint32_t flags, uint32_t *out_loaded, uint32_t *out_ignored)
{
    DH_CHECK_ARG_MSG((flags & ~(uint32_t)(DH_BACKBONE_STRICT | DH_BACKBONE_ALLOW_MISSING)) == 0,
                     "%s: unknown flags 0x%x", fn, flags);
    uint8_t *buf = NULL;
    size_t len = 0;
    DH_TRY(dh__read_file(path, &buf, &len));
    dh__safetensors st;
    dh_status s = dh__safetensors_parse(buf, len, &st);
    if (s == DH_OK) {
        s = apply_target(tg, &st, flags, out_loaded, out_ignored);
        dh__safetensors_free(&st);
    }
    if (s != DH_OK) dh__error_prefix("%s '%s'", fn, path);
    dh__free(buf);
    return s;
}

dh_status dh_model_load_backbone(dh_model *m, const char *path, uint32_t flags,
                                 uint32_t *out_loaded, uint32_t *out_ignored)
{
    DH_CHECK_ARG(m != NULL && path != NULL);
    target tg = {m->enc, NULL};
    return load_weights(&tg, "dh_model_load_backbone", path, flags, out_loaded, out_ignored);
}

dh_status dh_encoder_load_weights(dh_encoder *enc, const char *path, uint32_t flags,
                                  uint32_t *out_loaded, uint32_t *out_ignored)
{
    DH_CHECK_ARG(enc != NULL && path != NULL);
    target tg = {enc, NULL};
    return load_weights(&tg, "dh_encoder_load_weights", path, flags, out_loaded, out_ignored);
}

dh_status dh_model_load_weights(dh_model *m, const char *path, uint32_t flags,
                                uint32_t *out_loaded, uint32_t *out_ignored)
{
    DH_CHECK_ARG(m != NULL && path != NULL);
    target tg = {NULL, m};
    return load_weights(&tg, "dh_model_load_weights", path, flags, out_loaded, out_ignored);
}
