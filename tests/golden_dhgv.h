/* tests/golden_dhgv.h -- reader of the DHGV golden-vector container written by
 * tests/golden/gen_nn_golden.py and gen_special_nn_golden.py (format in their
 * docstrings): "DHGV0001", u32 count, then per tensor u16 name length, name, u8 ndim,
 * i64 dims, float32 data. Malformed files fail the test with a message. */
#ifndef DH_TESTS_GOLDEN_DHGV_H
#define DH_TESTS_GOLDEN_DHGV_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define GV_MAX_TENSORS 256

typedef struct gv_tensor { char name[96]; int ndim; int64_t dims[6]; size_t n; float *data; } gv_tensor;
typedef struct gv_file { int count; gv_tensor t[GV_MAX_TENSORS]; } gv_file;

static inline gv_file *gv_load_path(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    gv_file *g = calloc(1, sizeof *g);
    char magic[8];
    uint32_t count;
    ck_assert(fread(magic, 1, 8, f) == 8 && memcmp(magic, "DHGV0001", 8) == 0);
    ck_assert(fread(&count, 4, 1, f) == 1 && count <= GV_MAX_TENSORS);
    g->count = (int)count;
    for (int i = 0; i < g->count; i++) {
        gv_tensor *t = &g->t[i];
        uint16_t len;
        uint8_t nd;
        ck_assert(fread(&len, 2, 1, f) == 1 && len < sizeof t->name);
        ck_assert(fread(t->name, 1, len, f) == len);
        ck_assert(fread(&nd, 1, 1, f) == 1 && nd <= 6);
        t->ndim = nd;
        t->n = 1;
        for (int k = 0; k < nd; k++) {
            ck_assert(fread(&t->dims[k], 8, 1, f) == 1 && t->dims[k] >= 0 &&
                      t->dims[k] < (1 << 24));
            t->n *= (size_t)t->dims[k];
        }
        ck_assert_msg(t->n < ((size_t)1 << 26), "%s: tensor %s too large", path, t->name);
        t->data = malloc(t->n * 4 + 4);
        ck_assert(fread(t->data, 4, t->n, f) == t->n);
    }
    char extra;
    ck_assert_msg(fread(&extra, 1, 1, f) == 0, "%s: trailing bytes", path);
    fclose(f);
    return g;
}

static inline void gv_free(gv_file *g)
{
    for (int i = 0; i < g->count; i++) free(g->t[i].data);
    free(g);
}

static inline const gv_tensor *gv_find(const gv_file *g, const char *name)
{
    for (int i = 0; i < g->count; i++)
        if (strcmp(g->t[i].name, name) == 0) return &g->t[i];
    return NULL;
}

static inline const gv_tensor *gv_get(const gv_file *g, const char *name)
{
    const gv_tensor *t = gv_find(g, name);
    ck_assert_msg(t != NULL, "golden tensor '%s' missing", name);
    return t;
}

#endif
