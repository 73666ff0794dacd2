/* lib/index/faiss_io.c -- FAISS binary index files, both ways: IndexBinaryFlat ("IBxF")
 * and IndexBinaryIDMap / IDMap2 ("IBMp" / "IBM2") wrapping one, byte for byte as
 * faiss.write_index_binary writes them (FAISS 1.7, faiss/impl/index_write.cpp):
 *
 *   fourcc u32 | d i32 | code_size i32 | ntotal i64 | is_trained u8 | metric_type i32
 *   IBxF: then the codes as a vector: u64 byte count, ntotal * code_size bytes
 *   IBMp/IBM2: then the wrapped index (recursively), then the ids: u64 count, int64s
 *
 * Little-endian. FAISS's bit order is libdh's (bit j = bit j%8 of byte j/8), so codes
 * are copied unchanged; FAISS binary indexes need d % 8 == 0. Built on the public
 * index API (the file is read whole; every length is checked against what is left). */
#include "index/index.h"
#include "io/io.h"

#include <string.h>

#define FOURCC(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define FAISS_FLAT FOURCC('I', 'B', 'x', 'F')
#define FAISS_IDMAP FOURCC('I', 'B', 'M', 'p')
#define FAISS_IDMAP2 FOURCC('I', 'B', 'M', '2')
#define HEADER_BYTES 25u

typedef struct rd {
    const uint8_t *b;
    size_t len, at;
    const char *path;
} rd;

static dh_status fmt(const rd *r, const char *what)
{
    return dh__set_error(DH_E_FORMAT, "FAISS index '%s': %s at byte %zu", r->path, what, r->at);
}

typedef struct fheader {
    uint32_t fourcc;
    int32_t d, code_size;
    int64_t ntotal;
} fheader;

static dh_status read_header(rd *r, fheader *h)
{
    if (r->len - r->at < HEADER_BYTES) return fmt(r, "truncated header");
    const uint8_t *p = r->b + r->at;
    h->fourcc = dh__le32(p);
    h->d = (int32_t)dh__le32(p + 4);
    h->code_size = (int32_t)dh__le32(p + 8);
    h->ntotal = (int64_t)dh__le64(p + 12);
    uint32_t metric = dh__le32(p + 21);
    if (h->fourcc != FAISS_FLAT && h->fourcc != FAISS_IDMAP && h->fourcc != FAISS_IDMAP2) {
        char cc[5] = {0};
        for (int i = 0; i < 4; i++) cc[i] = (p[i] >= 32 && p[i] < 127) ? (char)p[i] : '?';
        return dh__set_error(DH_E_FORMAT, "FAISS index '%s': type '%s' at byte %zu is not "
                             "IndexBinaryFlat (IBxF) or IndexBinaryIDMap/IDMap2 (IBMp/IBM2)",
                             r->path, cc, r->at);
    }
    if (h->d <= 0 || h->d > (int32_t)DH_MAX_BITS || h->d % 8)
        return fmt(r, "dimension d is not a multiple of 8 in 8..4096");
    if (h->ntotal < 0) return fmt(r, "negative ntotal");
    if (metric > 1) return fmt(r, "unknown metric type");
    if (h->fourcc == FAISS_FLAT && h->code_size != h->d / 8) return fmt(r, "code_size is not d / 8");
    r->at += HEADER_BYTES;
    return DH_OK;
}

/* A vector's u64 element count, checked against the bytes left (elem bytes each). */
static dh_status read_count(rd *r, size_t elem, uint64_t *n)
{
    if (r->len - r->at < 8) return fmt(r, "truncated vector size");
    *n = dh__le64(r->b + r->at);
    r->at += 8;
    if (*n > (r->len - r->at) / elem) return fmt(r, "vector longer than the file");
    return DH_OK;
}

dh_status dh__index_import_faiss_buffer(const uint8_t *buf, size_t len, const char *path,
                                        dh_index **out)
{
    *out = NULL;
    rd r = {buf, len, 0, path};
    fheader outer, flat;
    dh_status st = read_header(&r, &outer);
    int idmap = st == DH_OK && outer.fourcc != FAISS_FLAT;
    flat = outer;
    if (st == DH_OK && idmap) {
        st = read_header(&r, &flat);
        if (st == DH_OK && flat.fourcc != FAISS_FLAT)
            st = fmt(&r, "an ID map must wrap an IndexBinaryFlat");
        if (st == DH_OK && (flat.d != outer.d || flat.ntotal != outer.ntotal))
            st = fmt(&r, "the ID map and the wrapped index disagree on d or ntotal");
    }
    uint64_t nbytes = 0, nids = 0;
    size_t codes_at = 0, ids_at = 0, cb = (size_t)(flat.d / 8);
    if (st == DH_OK) st = read_count(&r, 1, &nbytes);
    if (st == DH_OK && nbytes != (uint64_t)flat.ntotal * cb)
        st = fmt(&r, "code bytes differ from ntotal * code_size");
    codes_at = r.at;
    if (st == DH_OK) r.at += (size_t)nbytes;
    if (st == DH_OK && idmap) {
        st = read_count(&r, 8, &nids);
        if (st == DH_OK && nids != (uint64_t)flat.ntotal) st = fmt(&r, "id count differs from ntotal");
        ids_at = r.at;
        if (st == DH_OK) r.at += (size_t)nids * 8;
    }
    if (st == DH_OK && r.at != r.len) st = fmt(&r, "trailing bytes");
    dh_index *ix = NULL;
    int64_t *ids = NULL;
    if (st == DH_OK) {
        dh_index_options o;
        dh_index_options_init(&o);
        o.n_bits = (uint32_t)flat.d;
        st = dh_index_create(&o, &ix);
    }
    size_t n = (size_t)flat.ntotal;
    if (st == DH_OK && idmap) {
        ids = dh__alloc((n ? n : 1) * sizeof *ids);
        if (!ids) st = DH_E_NO_MEMORY;
        for (size_t i = 0; st == DH_OK && i < n; i++) {
            ids[i] = (int64_t)dh__le64(buf + ids_at + 8 * i);
            if (ids[i] < 0) st = dh__set_error(DH_E_FORMAT, "FAISS index '%s': id %lld of row "
                                               "%zu is negative", path, (long long)ids[i], i);
        }
    }
    if (st == DH_OK && n)
        st = idmap ? dh_index_add_with_ids(ix, buf + codes_at, n, ids)
                   : dh_index_add(ix, buf + codes_at, n);
    if (st != DH_OK && st != DH_E_FORMAT) dh__error_prefix("dh_index_import_faiss '%s'", path);
    dh__free(ids);
    if (st != DH_OK) {
        dh_index_free(ix);
        return st;
    }
    *out = ix;
    return DH_OK;
}

dh_status dh_index_import_faiss(const char *path, dh_index **out)
{
    DH_CHECK_ARG(path != NULL && out != NULL);
    *out = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    DH_TRY(dh__read_file(path, &buf, &len));
    dh_status st = dh__index_import_faiss_buffer(buf, len, path, out);
    dh__free(buf);
    return st;
}

static void put_header(uint8_t *p, uint32_t fourcc, int32_t d, int32_t code_size, int64_t n)
{
    dh__put_le32(p, fourcc);
    dh__put_le32(p + 4, (uint32_t)d);
    dh__put_le32(p + 8, (uint32_t)code_size);
    dh__put_le64(p + 12, (uint64_t)n);
    p[20] = 1; /* is_trained */
    dh__put_le32(p + 21, 1); /* METRIC_L2, what FAISS writes for binary indexes */
}

dh_status dh_index_export_faiss(const dh_index *ix, const char *path, uint32_t flags)
{
    DH_CHECK_ARG(ix != NULL && path != NULL);
    DH_CHECK_ARG_MSG((flags & ~(uint32_t)DH_FAISS_IDMAP2) == 0,
                     "dh_index_export_faiss: unknown flags 0x%x", flags);
    uint32_t K = dh_index_n_bits(ix);
    if (K % 8)
        return dh__set_error(DH_E_INVALID_ARG, "dh_index_export_faiss: FAISS binary indexes "
                             "need a code length that is a multiple of 8, this index has %u bits", K);
    size_t n = dh_index_count(ix), cb = K / 8;
    uint8_t *codes = dh__alloc(n * cb + 1);
    int64_t *ids = dh__alloc((n + 1) * sizeof *ids);
    dh_status st = codes && ids ? DH_OK : DH_E_NO_MEMORY;
    if (st == DH_OK && n) st = dh_index_export(ix, DH_CODE_PACKED, 0, n, codes, ids);
    int sequential = 1; /* ids 0..n-1 in order: a plain IndexBinaryFlat says it all */
    for (size_t i = 0; st == DH_OK && i < n && sequential; i++) sequential = ids[i] == (int64_t)i;
    int idmap = !sequential || (flags & DH_FAISS_IDMAP2);
    dh__atomic_file af;
    if (st == DH_OK) st = dh__atomic_open(&af, path);
    if (st == DH_OK) {
        uint8_t h[HEADER_BYTES + 8];
        if (idmap) { /* the map's own header carries code_size 0, as FAISS writes it */
            put_header(h, FAISS_IDMAP2, (int32_t)K, 0, (int64_t)n);
            st = dh__atomic_write(&af, h, HEADER_BYTES);
        }
        put_header(h, FAISS_FLAT, (int32_t)K, (int32_t)cb, (int64_t)n);
        dh__put_le64(h + HEADER_BYTES, (uint64_t)(n * cb));
        if (st == DH_OK) st = dh__atomic_write(&af, h, HEADER_BYTES + 8);
        if (st == DH_OK) st = dh__atomic_write(&af, codes, n * cb);
        if (st == DH_OK && idmap) {
            dh__put_le64(h, (uint64_t)n);
            st = dh__atomic_write(&af, h, 8);
            for (size_t i = 0; st == DH_OK && i < n; i++) { /* little-endian on any host */
                uint8_t v[8];
                dh__put_le64(v, (uint64_t)ids[i]);
                st = dh__atomic_write(&af, v, 8);
            }
        }
        if (st == DH_OK) st = dh__atomic_commit(&af);
        else dh__atomic_abort(&af);
    }
    dh__free(codes);
    dh__free(ids);
    return st;
}
