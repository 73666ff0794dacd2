/* lib/io/safetensors_write.c -- safetensors writer.
 *
 * The header is built with cJSON, padded with spaces to a multiple of 8 bytes (as
 * the reference writer does, so the data section stays 8-byte aligned), and the
 * file is written through the crash-safe writer of io.h: a failure at any point
 * leaves an existing file untouched. Tensors are stored in the order given. */
#include "io/safetensors.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "libdh model files are little-endian; add byte swapping for this target"
#endif

static cJSON *entry_json(const dh__st_entry *e, size_t begin)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *shape = cJSON_CreateArray(), *off = cJSON_CreateArray();
    if (!o || !shape || !off) {
        cJSON_Delete(o), cJSON_Delete(shape), cJSON_Delete(off);
        return NULL;
    }
    cJSON_AddItemToObject(o, "dtype", cJSON_CreateString(dh__st_dtype_name(e->dtype)));
    for (int32_t d = 0; d < e->ndim; d++)
        cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)e->shape[d]));
    cJSON_AddItemToObject(o, "shape", shape);
    cJSON_AddItemToArray(off, cJSON_CreateNumber((double)begin));
    cJSON_AddItemToArray(off, cJSON_CreateNumber((double)(begin + e->nbytes)));
    cJSON_AddItemToObject(o, "data_offsets", off);
    return o;
}

static char *build_header(const dh__st_entry *entries, size_t n, const char *const *keys,
                          const char *const *vals, size_t n_meta)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    if (n_meta) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        for (size_t i = 0; meta && i < n_meta; i++) cJSON_AddStringToObject(meta, keys[i], vals[i]);
    }
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        cJSON *e = entry_json(&entries[i], pos);
        if (!e) {
            cJSON_Delete(root);
            return NULL;
        }
        cJSON_AddItemToObject(root, entries[i].name, e);
        pos += entries[i].nbytes;
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

dh_status dh__safetensors_write(const char *path, const dh__st_entry *entries, size_t n,
                                const char *const *meta_keys, const char *const *meta_vals,
                                size_t n_meta)
{
    char *json = build_header(entries, n, meta_keys, meta_vals, n_meta);
    if (!json)
        return dh__set_error(DH_E_NO_MEMORY, "model file '%s': out of memory building the header",
                             path);
    size_t jlen = strlen(json), padded = (jlen + 7) / 8 * 8;
    uint8_t len8[8];
    dh__put_le64(len8, (uint64_t)padded);
    dh__atomic_file af;
    dh_status st = dh__atomic_open(&af, path);
    if (st != DH_OK) {
        free(json); /* cJSON allocates with malloc */
        return st;
    }
    static const char spaces[8] = "        ";
    st = dh__atomic_write(&af, len8, 8);
    if (st == DH_OK) st = dh__atomic_write(&af, json, jlen);
    if (st == DH_OK) st = dh__atomic_write(&af, spaces, padded - jlen);
    free(json);
    for (size_t i = 0; i < n && st == DH_OK; i++)
        if (entries[i].nbytes) st = dh__atomic_write(&af, entries[i].data, entries[i].nbytes);
    if (st == DH_OK) return dh__atomic_commit(&af);
    dh__atomic_abort(&af);
    return st;
}
