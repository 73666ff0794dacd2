/* lib/index/index_npy.c -- .npy code files in and out of the index, in the layouts
 * DeepHash-pytorch / HashNet-style code writes: 2-D ±1 rows (float32, float64, int8),
 * 0/1 bool rows, or packed uint8 rows (numpy.packbits order with DH_CODES_MSB_FIRST);
 * packed rows are ceil(K/8) bytes with zero padding bits (checked on input).
 * The .npy parsing itself is lib/data/npy.c. */
#include "index/index.h"
#include "data/npy.h"
#include "io/io.h"

#include <string.h>

typedef struct npy_codes {
    dh__npy a;
    int is_bool;
    size_t rows;
    uint32_t n_bits;
    int32_t format;   /* DH_CODE_* of a.data (bool rows are converted to int8 ±1) */
} npy_codes;

/* Sign rows whose values are all 0 or 1 are almost surely 0/1 bits, which the
 * x >= 0 rule would turn into all-ones codes: refuse them with a hint. */
static dh_status check_not_01(const npy_codes *c, const char *path)
{
    size_t n = c->a.n_elems;
    int has_zero = 0;
    for (size_t i = 0; i < n; i++) {
        double v = c->a.dtype == DH_DTYPE_INT8      ? ((const int8_t *)c->a.data)[i]
                   : c->a.dtype == DH_DTYPE_FLOAT32 ? ((const float *)c->a.data)[i]
                                                    : ((const double *)c->a.data)[i];
        if (v != 0.0 && v != 1.0) return DH_OK;
        has_zero |= v == 0.0;
    }
    if (!has_zero || n == 0) return DH_OK;
    return dh__set_error(DH_E_FORMAT, "'%s': every value is 0 or 1; libdh reads sign rows "
                         "(x >= 0 is bit 1), so save ±1 codes (2*b - 1) or a bool array", path);
}

/* want_bits: the caller's K (0: from the columns, K = 8 x columns for packed rows). */
static dh_status classify(npy_codes *c, uint32_t flags, uint32_t want_bits, const char *path)
{
    if (c->a.ndim != 2)
        return dh__set_error(DH_E_FORMAT, "'%s': codes must be a 2-D array, this one has %d "
                             "dimensions", path, c->a.ndim);
    size_t cols = (size_t)c->a.shape[1];
    c->rows = (size_t)c->a.shape[0];
    if (c->is_bool) { /* 0/1 -> -1/+1 int8 in place */
        int8_t *v = c->a.data;
        for (size_t i = 0; i < c->a.n_elems; i++) v[i] = (int8_t)(v[i] ? 1 : -1);
        c->format = DH_CODE_INT8;
    } else if (c->a.dtype == DH_DTYPE_UINT8) {
        c->format = (flags & DH_CODES_MSB_FIRST) ? DH_CODE_PACKED_MSB : DH_CODE_PACKED;
        if (want_bits && cols != dh_code_bytes(want_bits))
            return dh__set_error(DH_E_SHAPE, "'%s': packed rows of %zu bytes; %u-bit codes "
                                 "have %zu", path, cols, want_bits, dh_code_bytes(want_bits));
        cols = want_bits ? want_bits : cols * 8;
    } else if (c->a.dtype == DH_DTYPE_FLOAT32 || c->a.dtype == DH_DTYPE_FLOAT64 ||
               c->a.dtype == DH_DTYPE_INT8) {
        c->format = c->a.dtype == DH_DTYPE_FLOAT32   ? DH_CODE_FLOAT32
                    : c->a.dtype == DH_DTYPE_FLOAT64 ? DH_CODE_FLOAT64
                                                     : DH_CODE_INT8;
    } else {
        return dh__set_error(DH_E_FORMAT, "'%s': code files hold float32, float64, int8, "
                             "bool or packed uint8 rows, not dtype %d", path, c->a.dtype);
    }
    if (!dh__bits_valid(cols))
        return dh__set_error(DH_E_SHAPE, "'%s': rows of %zu bits; codes have 1..%u", path, cols,
                             DH_MAX_BITS);
    c->n_bits = (uint32_t)cols;
    size_t bad = c->format <= DH_CODE_PACKED_MSB
                     ? dh__code_find_padding(c->a.data, c->rows, c->n_bits,
                                             c->format == DH_CODE_PACKED_MSB)
                     : c->rows;
    if (bad < c->rows)
        return dh__set_error(DH_E_FORMAT, "'%s': row %zu sets padding bits beyond K = %u (the "
                             "last byte's unused bits must be zero; is K right?)", path, bad,
                             c->n_bits);
    if (c->format >= DH_CODE_FLOAT32 && !c->is_bool) DH_TRY(check_not_01(c, path));
    return DH_OK;
}

static dh_status read_codes(const char *path, uint32_t flags, uint32_t want_bits,
                            npy_codes *c)
{
    memset(c, 0, sizeof *c);
    if (flags & ~DH_CODES_MSB_FIRST)
        return dh__set_error(DH_E_INVALID_ARG, "unknown flags 0x%x", flags);
    uint8_t *buf;
    size_t len;
    char zip[4096];
    const char *member = NULL;
    if (dh__npz_probe(path, zip, sizeof zip, &member)) /* "a.npz[:member]": that member */
        DH_TRY(dh__npz_member(zip, member, &buf, &len));
    else
        DH_TRY(dh__read_file(path, &buf, &len));
    dh__npy_header h;
    dh_status st = dh__npy_parse_header(buf, len, path, &h);
    if (st == DH_OK) {
        c->is_bool = h.is_bool;
        st = dh__npy_read_buffer(buf, len, &c->a);
        if (st != DH_OK) dh__error_prefix("'%s'", path);
    }
    dh__free(buf);
    if (st == DH_OK) st = classify(c, flags, want_bits, path);
    if (st != DH_OK) dh__npy_free(&c->a);
    return st;
}

static dh_status add_codes(dh_index *ix, const npy_codes *c, const char *path)
{
    if (c->n_bits != ix->n_bits)
        return dh__set_error(DH_E_SHAPE, "'%s' holds %u-bit codes, the index has K = %u", path,
                             c->n_bits, ix->n_bits);
    dh_status st = dh_index_add_rows(ix, c->a.data, c->format, c->rows, NULL);
    if (st != DH_OK) dh__error_prefix("'%s'", path);
    return st;
}

dh_status dh_index_import_npy_bits(const char *path, uint32_t flags, uint32_t n_bits,
                                   dh_index **out)
{
    DH_CHECK_ARG_MSG(out != NULL, "dh_index_import_npy: out is NULL");
    *out = NULL;
    DH_CHECK_ARG_MSG(path != NULL, "dh_index_import_npy: path is NULL");
    if (n_bits) DH_TRY(dh__check_bits(n_bits, "dh_index_import_npy_bits"));
    npy_codes c;
    DH_TRY(read_codes(path, flags, n_bits, &c));
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = c.n_bits;
    o.reserve = c.rows;
    dh_index *ix = NULL;
    dh_status st = dh_index_create(&o, &ix);
    if (st == DH_OK) st = add_codes(ix, &c, path);
    dh__npy_free(&c.a);
    if (st != DH_OK) {
        dh_index_free(ix);
        return st;
    }
    *out = ix;
    return DH_OK;
}

dh_status dh_index_import_npy(const char *path, uint32_t flags, dh_index **out)
{
    return dh_index_import_npy_bits(path, flags, 0, out);
}

dh_status dh_index_add_npy(dh_index *ix, const char *path, uint32_t flags, size_t *out_n_added)
{
    if (out_n_added) *out_n_added = 0;
    DH_CHECK_ARG_MSG(ix != NULL, "dh_index_add_npy: index is NULL");
    DH_CHECK_ARG_MSG(path != NULL, "dh_index_add_npy: path is NULL");
    if (ix->readonly)
        return dh__set_error(DH_E_STATE,
                             "dh_index_add_npy: the index is read-only (memory-mapped)");
    npy_codes c;
    DH_TRY(read_codes(path, flags, ix->n_bits, &c));
    dh_status st = add_codes(ix, &c, path);
    dh__npy_free(&c.a);
    if (st == DH_OK && out_n_added) *out_n_added = c.rows;
    return st;
}

static int32_t dtype_of(int32_t format)
{
    switch (format) {
    case DH_CODE_PACKED:
    case DH_CODE_PACKED_MSB: return DH_DTYPE_UINT8;
    case DH_CODE_FLOAT32: return DH_DTYPE_FLOAT32;
    case DH_CODE_FLOAT64: return DH_DTYPE_FLOAT64;
    case DH_CODE_INT8: return DH_DTYPE_INT8;
    default: return 0;
    }
}

dh_status dh_index_export_npy(const dh_index *ix, const char *path, int32_t format,
                              const char *out_ids_path)
{
    const char *fn = "dh_index_export_npy";
    DH_CHECK_ARG_MSG(ix != NULL, "%s: index is NULL", fn);
    DH_CHECK_ARG_MSG(path != NULL && *path, "%s: path is NULL or empty", fn);
    DH_TRY(dh__index_map_check(ix, fn));
    int32_t dtype = dtype_of(format);
    if (!dtype) return dh__set_error(DH_E_INVALID_ARG, "%s: unknown code format %d", fn, format);
    size_t rb = dh__code_row_bytes(format, ix->n_bits), bytes;
    /* Hold the read lock across count + copy so both see the same rows. */
    dh__index_rdlock(ix);
    size_t n = ix->n - ix->n_removed;
    dh_status st = dh__mul_ok(n, rb, &bytes) ? DH_OK
                   : dh__set_error(DH_E_NO_MEMORY, "%s: %zu rows are too many", fn, n);
    void *rows = st == DH_OK ? dh__alloc(bytes) : NULL;
    int64_t *ids = st == DH_OK && out_ids_path ? dh__alloc(n * sizeof *ids + 1) : NULL;
    if (st == DH_OK && (!rows || (out_ids_path && !ids))) st = DH_E_NO_MEMORY;
    size_t j = 0;
    for (size_t i = 0; st == DH_OK && i < ix->n; i++) {
        if (dh__tomb_get(ix->tomb, i)) continue;
        st = dh__words_to_rows(ix->codes + i * ix->n_words, 1, ix->n_bits, format,
                               (uint8_t *)rows + j * rb);
        if (ids) ids[j] = ix->ids[i];
        j++;
    }
    dh__index_unlock(ix);
    int packed = format == DH_CODE_PACKED || format == DH_CODE_PACKED_MSB;
    int64_t shape[2] = {(int64_t)n, (int64_t)(packed ? dh_code_bytes(ix->n_bits) : ix->n_bits)};
    if (st == DH_OK) st = dh__npy_write(path, dtype, 2, shape, rows);
    if (st == DH_OK && out_ids_path)
        st = dh__npy_write(out_ids_path, DH_DTYPE_INT64, 1, shape, ids);
    dh__free(rows);
    dh__free(ids);
    return st;
}
