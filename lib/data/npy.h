/* lib/data/npy.h -- NumPy .npy reader and writer (internal; other modules use it for
 * feature matrices, label matrices and codes). Public wrappers: dh_npy_* in dh.h. */
#ifndef DH_DATA_NPY_H
#define DH_DATA_NPY_H

#include "core/core.h"

#define DH__NPY_MAX_DIMS 8
/** Largest header accepted (numpy itself refuses headers over 10 000 bytes by default). */
#define DH__NPY_MAX_HEADER (1u << 20)

/** A loaded array. dtype is a DH_DTYPE_* value; bool files load as DH_DTYPE_UINT8 (0/1).
 *  data holds n_elems elements in C order, native byte order, 64-byte aligned;
 *  release with dh__npy_free. ndim 0 is a scalar (n_elems 1). */
typedef struct dh__npy {
    int32_t dtype;
    int32_t ndim;
    int64_t shape[DH__NPY_MAX_DIMS];
    size_t n_elems;
    void *data;
} dh__npy;

/** Parsed header of a .npy file: where the data starts and what it holds. */
typedef struct dh__npy_header {
    int32_t dtype;
    int32_t ndim;
    int64_t shape[DH__NPY_MAX_DIMS];
    size_t n_elems;
    size_t data_offset; /* bytes from the start of the file */
    size_t data_bytes;  /* n_elems * element size */
    int is_bool;
} dh__npy_header;

/** Bytes of one element of a DH_DTYPE_* value, 0 if unknown. */
size_t dh__dtype_size(int32_t dtype);

/** Parse the prefix `buf[0..len)` of a .npy file (it must hold the whole header).
 *  Does not look at the data. Messages name `what` (a path or "buffer") and the offset. */
dh_status dh__npy_parse_header(const uint8_t *buf, size_t len, const char *what,
                               dh__npy_header *h);

dh_status dh__npy_read(const char *path, dh__npy *out);
dh_status dh__npy_read_buffer(const void *buf, size_t len, dh__npy *out);
/** Write atomically (temporary file + rename). shape may be NULL when ndim is 0. */
dh_status dh__npy_write(const char *path, int32_t dtype, int32_t ndim, const int64_t *shape,
                        const void *data);
void dh__npy_free(dh__npy *a);

/* ---- .npz archives (npz.c); dh__npy_read reads "a.npz" / "a.npz:member" through them ---- */
/** 1 when `path` (or its part before the last ':', which then names a member) is a zip
 *  archive: file receives the archive's path, *member the member name or NULL. */
int dh__npz_probe(const char *path, char *file, size_t cap, const char **member);
/** The .npy bytes of member `member` (with or without ".npy"; NULL: the only one) of the
 *  archive at path, inflated if need be, into *buf (dh__free it). */
dh_status dh__npz_member(const char *path, const char *member, uint8_t **buf, size_t *len);
/** That member parsed as a .npy. */
dh_status dh__npz_read(const char *path, const char *member, dh__npy *out);

/** Convert n elements of dtype at src to float32 (float64 rounds, int64 may lose precision). */
void dh__convert_to_f32(int32_t dtype, const void *src, size_t n, float *dst);

#endif
