/* src/cli_labels.c -- label .npy files (class ids or multi-hot rows) and class-based
 * selection of samples for the dh tool (see cli_labels.h). */
#include "cli_labels.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../lib/core/rng.h" /* header-only: the library's splitmix64 stream */

int dh_cli_error(const char *cmd, int code, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "dh %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

static double get(int32_t dt, const void *p, size_t i)
{
    switch (dt) {
    case DH_DTYPE_UINT8: return ((const uint8_t *)p)[i];
    case DH_DTYPE_INT8: return ((const int8_t *)p)[i];
    case DH_DTYPE_INT32: return ((const int32_t *)p)[i];
    case DH_DTYPE_INT64: return (double)((const int64_t *)p)[i];
    case DH_DTYPE_FLOAT32: return ((const float *)p)[i];
    default: return ((const double *)p)[i];
    }
}

static void put(int32_t dt, void *p, size_t i, double v)
{
    switch (dt) {
    case DH_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case DH_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
    case DH_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
    case DH_DTYPE_INT64: ((int64_t *)p)[i] = (int64_t)v; break;
    case DH_DTYPE_FLOAT32: ((float *)p)[i] = (float)v; break;
    default: ((double *)p)[i] = v; break;
    }
}

void dh_cli_labels_free(dh_cli_labels *l)
{
    dh_array_free(l->arr);
    free(l->hot);
    memset(l, 0, sizeof *l);
}

/* Fill l->hot from the file's ids or rows; 0 or the first bad row (1-based). */
static size_t to_multi_hot(dh_cli_labels *l, const void *data, uint32_t cols)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->ndim == 1) {
            double c = get(l->dtype, data, i);
            if (c < 0 || c >= l->C) return i + 1;
            l->hot[i * l->C + (size_t)c] = 1.0f;
            continue;
        }
        for (uint32_t j = 0; j < cols; j++) {
            double v = get(l->dtype, data, i * cols + j);
            if (v != 0 && v != 1) return i + 1;
            l->hot[i * l->C + j] = (float)v;
        }
    }
    return 0;
}

int dh_cli_labels_load(const char *cmd, const char *path, uint32_t C, dh_cli_labels *l)
{
    memset(l, 0, sizeof *l);
    dh_status st = dh_npy_load(path, &l->arr);
    if (st != DH_OK) return dh_cli_fail(cmd, st);
    l->dtype = dh_array_dtype(l->arr);
    l->ndim = dh_array_ndim(l->arr);
    l->n = l->ndim ? (size_t)dh_array_dim(l->arr, 0) : 0;
    l->C = C;
    int64_t cols = l->ndim == 2 ? dh_array_dim(l->arr, 1) : 1;
    int ints = l->dtype != DH_DTYPE_FLOAT32 && l->dtype != DH_DTYPE_FLOAT64;
    if ((l->ndim != 1 && l->ndim != 2) || (l->ndim == 1 && !ints) || cols < 1 || cols > C) {
        dh_cli_labels_free(l);
        return dh_cli_error(cmd, DH_EXIT_FAIL, "%s: want [n] integer class ids or [n, C <= %u] "
                            "0/1 rows (the data's classes)", path, C);
    }
    l->hot = calloc(l->n * C + 1, sizeof(float));
    if (!l->hot) return dh_cli_labels_free(l), dh_cli_error(cmd, DH_EXIT_FAIL, "out of memory");
    size_t bad = to_multi_hot(l, dh_array_data(l->arr), (uint32_t)cols);
    if (bad) {
        dh_cli_labels_free(l);
        return dh_cli_error(cmd, DH_EXIT_FAIL, "%s: row %zu is not %s", path, bad - 1,
                            l->ndim == 1 ? "a class id < the data's class count" : "0/1 values");
    }
    return 0;
}

int dh_cli_labels_concat(const char *cmd, const dh_cli_labels *old, const dh_dataset *add,
                         void **out, int64_t shape[2])
{
    size_t n = old->n, m = dh_dataset_count(add), C = old->C, w = old->ndim == 1 ? 1 : C;
    float *y = malloc((m * C + 1) * sizeof(float));
    *out = malloc((n + m) * w * dh_dtype_size(old->dtype) + 1);
    dh_status st = y && *out ? dh_dataset_get_labels(add, 0, m, y) : DH_E_NO_MEMORY;
    double cap = old->dtype == DH_DTYPE_UINT8 ? 255 : old->dtype == DH_DTYPE_INT8 ? 127 : 1e18;
    int rc = st == DH_OK ? 0 : dh_cli_fail(cmd, st);
    for (size_t i = 0; !rc && i < n + m; i++) {
        const float *row = i < n ? old->hot + i * C : y + (i - n) * C;
        if (w == C) {
            for (size_t j = 0; j < C; j++) put(old->dtype, *out, i * C + j, row[j]);
            continue;
        }
        size_t c = 0, npos = 0; /* class-id files: one positive per row */
        for (size_t j = 0; j < C; j++)
            if (row[j] > 0) c = j, npos++;
        if (npos != 1 || (double)c > cap)
            rc = dh_cli_error(cmd, DH_EXIT_FAIL, "new item %zu has %zu positive labels (class "
                              "%zu); a class-id label file needs one that fits its dtype",
                              i - n, npos, c);
        else put(old->dtype, *out, i, (double)c);
    }
    free(y);
    if (rc) free(*out), *out = NULL;
    shape[0] = (int64_t)(n + m);
    shape[1] = (int64_t)C;
    return rc;
}

int dh_cli_parse_range(const char *cmd, const char *flag, const char *s, uint32_t out[2])
{
    char *end, *end2;
    errno = 0;
    unsigned long a = strtoul(s, &end, 10), b = a;
    if (*end == '-') b = strtoul(end + 1, &end2, 10), end = end2;
    if (!*s || s[0] == '-' || *end || errno || b < a || b > 65535)
        return dh_cli_usage_error(cmd, "%s: '%s' is not a class range A-B (0 <= A <= B)", flag, s);
    out[0] = (uint32_t)a;
    out[1] = (uint32_t)b;
    return 0;
}

/* Indices of at most per_class samples of each class (a seeded random choice), in
 * index order, into idx; returns their count, or (size_t)-1 on multi-label rows. */
static size_t pick_per_class(const int32_t *cls, size_t n, uint32_t C, uint32_t per_class,
                             uint64_t seed, int64_t *idx)
{
    uint32_t *cnt = calloc((size_t)C + 1, sizeof(uint32_t));
    uint8_t *flag = calloc(n + 1, 1);
    size_t k = cnt && flag ? 0 : (size_t)-1;
    uint64_t s = seed ^ 0x5E1EC7ull;
    for (size_t i = 0; k == 0 && i < n; i++) idx[i] = (int64_t)i;
    for (size_t i = n; k == 0 && i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)(dh__splitmix64(&s) % i);
        int64_t t = idx[i - 1];
        idx[i - 1] = idx[j], idx[j] = t;
    }
    for (size_t t = 0; k == 0 && t < n; t++) {
        int32_t c = cls[idx[t]];
        if (c < 0) k = (size_t)-1;
        else if (cnt[c] < per_class) cnt[c]++, flag[idx[t]] = 1;
    }
    for (size_t i = 0; k != (size_t)-1 && i < n; i++)
        if (flag[i]) idx[k++] = (int64_t)i;
    free(cnt);
    free(flag);
    return k;
}

int dh_cli_select(const char *cmd, const char *flag, dh_dataset **ds, const uint32_t *range,
                  uint32_t per_class, uint64_t seed)
{
    uint32_t C = dh_dataset_n_classes(*ds);
    dh_dataset *sub = NULL;
    dh_status st;
    if (range) {
        if (range[1] >= C)
            return dh_cli_usage_error(cmd, "%s %u-%u: the data has classes 0-%u", flag, range[0],
                                      range[1], C ? C - 1 : 0);
        if ((st = dh_split_classes(*ds, range[0], range[1] - range[0] + 1, &sub)) != DH_OK)
            return dh_cli_fail(cmd, st);
        dh_dataset_free(*ds);
        *ds = sub;
    }
    if (!per_class) return 0;
    size_t n = dh_dataset_count(*ds);
    int32_t *cls = malloc((n + 1) * sizeof(int32_t));
    int64_t *idx = malloc((n + 1) * sizeof(int64_t));
    st = cls && idx ? dh_dataset_get_class_ids(*ds, 0, n, cls) : DH_E_NO_MEMORY;
    size_t k = st == DH_OK ? pick_per_class(cls, n, C, per_class, seed, idx) : 0;
    int multi = st == DH_OK && k == (size_t)-1;
    if (st == DH_OK && !multi) st = dh_dataset_subset(*ds, idx, k, &sub);
    free(cls);
    free(idx);
    if (multi) return dh_cli_error(cmd, DH_EXIT_FAIL, "per-class sampling needs single-label data");
    if (st != DH_OK) return dh_cli_fail(cmd, st);
    dh_dataset_free(*ds);
    *ds = sub;
    return 0;
}
