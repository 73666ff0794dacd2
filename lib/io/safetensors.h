/* lib/io/safetensors.h -- the safetensors file format (reader and atomic writer), used by
 * model files, checkpoints and weight import. Not public. */
#ifndef DH_IO_SAFETENSORS_H
#define DH_IO_SAFETENSORS_H

#include "io/io.h"

/* ---- safetensors (https://github.com/huggingface/safetensors, format v0.x) ---- */

/** safetensors dtypes libdh knows (others are rejected as DH_E_FORMAT). */
enum {
    DH__ST_F64 = 1, DH__ST_F32, DH__ST_F16, DH__ST_BF16, DH__ST_I64, DH__ST_I32, DH__ST_I16,
    DH__ST_I8, DH__ST_U8, DH__ST_BOOL
};
#define DH__ST_MAX_DIMS 8
#define DH__ST_MAX_HEADER ((uint64_t)100 << 20) /* the reference implementation's limit */

typedef struct dh__st_tensor {
    char *name;
    int32_t dtype;                    /* DH__ST_* */
    int32_t ndim;                     /* 0..8 */
    int64_t shape[DH__ST_MAX_DIMS];
    size_t numel;
    size_t offset, nbytes;            /* data offsets relative to the data section */
    const uint8_t *data;              /* into the parsed buffer */
} dh__st_tensor;

typedef struct dh__safetensors {
    dh__st_tensor *t;                 /* in file order of their data offsets */
    size_t n;
    char **meta_keys, **meta_vals;    /* __metadata__ (string -> string) */
    size_t n_meta;
    size_t data_start;                /* 8 + header length */
} dh__safetensors;

/** Parse and validate a whole safetensors image: header length bounded and inside
 *  the buffer, JSON well formed, every entry with a known dtype, a shape of
 *  non-negative integers and data_offsets whose size matches; offsets sorted,
 *  non-overlapping and covering the data section exactly; metadata strings only;
 *  unique names. Tensors point into `buf`, which must outlive `out`. Errors are
 *  DH_E_FORMAT with the byte offset or tensor name. */
dh_status dh__safetensors_parse(const uint8_t *buf, size_t len, dh__safetensors *out);
void dh__safetensors_free(dh__safetensors *st);
const dh__st_tensor *dh__safetensors_find(const dh__safetensors *st, const char *name);
const char *dh__safetensors_meta(const dh__safetensors *st, const char *key);
size_t dh__st_dtype_size(int32_t dtype);
const char *dh__st_dtype_name(int32_t dtype);
/** Convert a tensor's elements (F64/F32/F16/BF16/I64/I32/...) to float32 into out[numel]. */
void dh__st_to_float(const dh__st_tensor *t, float *out);

/** Writer: add entries (data borrowed until write), then write atomically. */
typedef struct dh__st_entry {
    const char *name;
    int32_t dtype;
    int32_t ndim;
    int64_t shape[DH__ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
} dh__st_entry;

dh_status dh__safetensors_write(const char *path, const dh__st_entry *entries, size_t n,
                                const char *const *meta_keys, const char *const *meta_vals,
                                size_t n_meta);

#endif
