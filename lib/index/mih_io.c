/* lib/index/mih_io.c -- the multi-index section of an index file (format version 2,
 * docs/file-formats.md): written after the tombstones, validated against the codes on
 * load, used in place when the file is mapped.
 *
 * Section (little-endian, starts 64-byte aligned):
 *   0  magic "DHMIH\0\0\0", u32 m, u32 row bytes, u64 rows covered, i32 requested m,
 *      u32 reserved (0)
 *   32 m x {u32 first bit, u32 bits, u32 key bits, u32 reserved (0)}, zero padded to 64
 *   per table: offsets (2^h + 1) x u32 zero padded to 64, then the row list
 *      (rows x row bytes, zero padded to a multiple of 64 with >= 8 bytes of slack). */
#include "index/mih.h"
#include "io/io.h"

#include <string.h>

static const uint8_t k_mih_magic[8] = {'D', 'H', 'M', 'I', 'H', 0, 0, 0};

#define FMT_ERR(...) dh__set_error(DH_E_FORMAT, __VA_ARGS__)

static size_t round64(size_t v) { return (v + 63) / 64 * 64; }
static size_t head_bytes(uint32_t m) { return round64(32 + (size_t)m * 16); }
static size_t offs_bytes(uint32_t h) { return round64((((size_t)1 << h) + 1) * 4); }

size_t dh__mih_section_bytes(const dh__mih *mh)
{
    size_t b = head_bytes(mh->m);
    for (uint32_t t = 0; t < mh->m; t++)
        b += offs_bytes(mh->t[t].key_bits) + dh__mih_rows_bytes(mh->n_built, mh->row_bytes);
    return b;
}

static void put_zeros(dh__put_fn put, void *ctx, size_t n)
{
    static const uint8_t z[64] = {0};
    while (n) {
        size_t c = n < 64 ? n : 64;
        put(ctx, z, c);
        n -= c;
    }
}

void dh__mih_section_write(const dh__mih *mh, dh__put_fn put, void *ctx)
{
    uint8_t h[32];
    memcpy(h, k_mih_magic, 8);
    dh__put_le32(h + 8, mh->m);
    dh__put_le32(h + 12, mh->row_bytes);
    dh__put_le64(h + 16, mh->n_built);
    dh__put_le32(h + 24, (uint32_t)mh->requested);
    dh__put_le32(h + 28, 0);
    put(ctx, h, 32);
    for (uint32_t t = 0; t < mh->m; t++) {
        uint8_t d[16];
        dh__put_le32(d, mh->t[t].bit_off);
        dh__put_le32(d + 4, mh->t[t].len);
        dh__put_le32(d + 8, mh->t[t].key_bits);
        dh__put_le32(d + 12, 0);
        put(ctx, d, 16);
    }
    put_zeros(put, ctx, head_bytes(mh->m) - 32 - (size_t)mh->m * 16);
    for (uint32_t t = 0; t < mh->m; t++) {
        const dh__mih_table *tb = &mh->t[t];
        size_t nb = ((size_t)1 << tb->key_bits) + 1;
        uint8_t buf[4096];
        for (size_t i = 0; i < nb;) {
            size_t c = 0;
            for (; c < sizeof buf / 4 && i < nb; c++, i++) dh__put_le32(buf + 4 * c, tb->offs[i]);
            put(ctx, buf, 4 * c);
        }
        put_zeros(put, ctx, offs_bytes(tb->key_bits) - nb * 4);
        size_t rb = mh->n_built * mh->row_bytes;
        put(ctx, tb->rows, rb); /* stored little-endian byte by byte already */
        put_zeros(put, ctx, dh__mih_rows_bytes(mh->n_built, mh->row_bytes) - rb);
    }
}

/* The section header and table layout; sizes in *size. */
static dh_status parse(const uint8_t *b, size_t len, uint32_t n_bits, uint64_t rows, size_t off,
                       dh__mih *mh, size_t *size)
{
    if (len < off + 32) return FMT_ERR("multi-index section at offset %zu is truncated", off);
    const uint8_t *p = b + off;
    if (memcmp(p, k_mih_magic, 8) != 0)
        return FMT_ERR("bad multi-index section magic at offset %zu", off);
    uint32_t m = dh__le32(p + 8), rb = dh__le32(p + 12), res = dh__le32(p + 28);
    uint64_t built = dh__le64(p + 16);
    int32_t req = (int32_t)dh__le32(p + 24);
    uint32_t cap = n_bits < DH__MIH_MAX_TABLES ? n_bits : DH__MIH_MAX_TABLES;
    if (m < 1 || m > cap)
        return FMT_ERR("multi-index table count %u at offset %zu is not in 1..%u", m, off + 8,
                       cap);
    if (built > rows)
        return FMT_ERR("multi-index row count %llu at offset %zu exceeds the %llu rows",
                       (unsigned long long)built, off + 16, (unsigned long long)rows);
    if (rb != (built < ((uint64_t)1 << 24) ? 3u : 4u))
        return FMT_ERR("multi-index row width %u at offset %zu is wrong for %llu rows", rb,
                       off + 12, (unsigned long long)built);
    if (req != -1 && (req < 1 || (uint32_t)req > cap))
        return FMT_ERR("requested table count %d at offset %zu is invalid", req, off + 24);
    if (res != 0) return FMT_ERR("nonzero reserved field at offset %zu", off + 28);
    if (len < off + head_bytes(m))
        return FMT_ERR("multi-index section at offset %zu is truncated", off);
    mh->m = m;
    mh->row_bytes = rb;
    mh->n_built = (size_t)built;
    mh->requested = req;
    size_t total = head_bytes(m), bit = 0;
    for (uint32_t t = 0; t < m; t++) {
        const uint8_t *d = p + 32 + 16 * (size_t)t;
        dh__mih_table *tb = &mh->t[t];
        tb->bit_off = dh__le32(d);
        tb->len = dh__le32(d + 4);
        tb->key_bits = dh__le32(d + 8);
        if (tb->bit_off != bit || tb->len < 1 || tb->len > n_bits - bit || tb->key_bits < 1 ||
            tb->key_bits > tb->len || tb->key_bits > DH__MIH_MAX_KEY_BITS || dh__le32(d + 12))
            return FMT_ERR("multi-index table %u at offset %zu: bad substring (bit %u, %u "
                           "bits, key %u bits)", t, off + 32 + 16 * (size_t)t, tb->bit_off,
                           tb->len, tb->key_bits);
        bit += tb->len;
        total += offs_bytes(tb->key_bits) + dh__mih_rows_bytes(mh->n_built, rb);
    }
    if (bit != n_bits)
        return FMT_ERR("multi-index substrings at offset %zu cover %zu of %u bits", off + 32,
                       bit, n_bits);
    for (size_t o = 32 + (size_t)m * 16; o < head_bytes(m); o++)
        if (p[o]) return FMT_ERR("nonzero padding at offset %zu", off + o);
    *size = total;
    return DH_OK;
}

dh_status dh__mih_section_size(const uint8_t *b, size_t len, uint32_t n_bits, uint64_t rows,
                               size_t off, size_t *size)
{
    dh__mih *mh = dh__mih_alloc(DH__MIH_MAX_TABLES);
    if (!mh) return DH_E_NO_MEMORY;
    dh_status st = parse(b, len, n_bits, rows, off, mh, size);
    dh__mih_free(mh);
    return st;
}

static int zero_bytes(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* Offsets monotone from 0 to n_built; every row once, in the bucket of its key. */
static dh_status check_table(const dh__mih *mh, const dh__mih_table *tb, const uint8_t *offp,
                             const uint8_t *rowp, const uint64_t *codes, uint32_t w,
                             size_t off, uint64_t *seen)
{
    size_t nb = (size_t)1 << tb->key_bits, n = mh->n_built;
    if (dh__le32(offp) != 0) return FMT_ERR("multi-index offsets at %zu do not start at 0", off);
    memset(seen, 0, (n + 63) / 64 * 8);
    for (size_t k = 0; k < nb; k++) {
        uint32_t lo = dh__le32(offp + 4 * k), hi = dh__le32(offp + 4 * k + 4);
        if (hi < lo || hi > n)
            return FMT_ERR("multi-index offset %zu at offset %zu is out of order", k + 1,
                           off + 4 * (k + 1));
        for (uint32_t i = lo; i < hi; i++) {
            size_t r = dh__mih_row(rowp, mh->row_bytes, i);
            if (r >= n || ((seen[r >> 6] >> (r & 63)) & 1) ||
                dh__mih_key(tb, codes + r * w) != k)
                return FMT_ERR("multi-index row entry %u of table at offset %zu is wrong", i,
                               off);
            seen[r >> 6] |= UINT64_C(1) << (r & 63);
        }
    }
    if (dh__le32(offp + 4 * nb) != n)
        return FMT_ERR("multi-index offsets at %zu do not end at %zu rows", off, n);
    if (!zero_bytes(offp + 4 * (nb + 1), offs_bytes(tb->key_bits) - 4 * (nb + 1)) ||
        !zero_bytes(rowp + n * mh->row_bytes,
                    dh__mih_rows_bytes(n, mh->row_bytes) - n * mh->row_bytes))
        return FMT_ERR("nonzero padding in the multi-index table at offset %zu", off);
    return DH_OK;
}

/* Copy one table into owned arrays. */
static dh_status copy_table(const dh__mih *mh, dh__mih_table *tb, const uint8_t *offp,
                            const uint8_t *rowp)
{
    size_t nb = ((size_t)1 << tb->key_bits) + 1, rbytes = dh__mih_rows_bytes(mh->n_built,
                                                                              mh->row_bytes);
    uint32_t *offs = dh__alloc_aligned(nb * 4, 64);
    uint8_t *rows = dh__alloc_aligned(rbytes, 64);
    tb->offs = offs;
    tb->rows = rows;
    if (!offs || !rows) return DH_E_NO_MEMORY;
    for (size_t i = 0; i < nb; i++) offs[i] = dh__le32(offp + 4 * i);
    memcpy(rows, rowp, rbytes);
    return DH_OK;
}

dh_status dh__mih_section_load(const uint8_t *b, size_t off, const uint64_t *codes,
                               uint32_t n_words, uint32_t n_bits, uint64_t rows, int borrow,
                               dh__mih **out)
{
    *out = NULL;
    dh__mih *tmp = dh__mih_alloc(DH__MIH_MAX_TABLES);
    if (!tmp) return DH_E_NO_MEMORY;
    size_t size;
    dh_status st = parse(b, SIZE_MAX, n_bits, rows, off, tmp, &size); /* length checked */
    dh__mih *mh = st == DH_OK ? dh__mih_alloc(tmp->m) : NULL;
    if (st == DH_OK && !mh) st = DH_E_NO_MEMORY;
    if (st == DH_OK) {
        memcpy(mh, tmp, sizeof *mh + (size_t)tmp->m * sizeof(dh__mih_table));
        mh->owned = !borrow;
    }
    dh__mih_free(tmp);
    uint64_t *seen = st == DH_OK ? dh__alloc((mh->n_built + 63) / 64 * 8 + 8) : NULL;
    if (st == DH_OK && !seen) st = DH_E_NO_MEMORY;
    size_t o = off + (st == DH_OK ? head_bytes(mh->m) : 0);
    for (uint32_t t = 0; st == DH_OK && t < mh->m; t++) {
        dh__mih_table *tb = &mh->t[t];
        const uint8_t *offp = b + o, *rowp = b + o + offs_bytes(tb->key_bits);
        st = check_table(mh, tb, offp, rowp, codes, n_words, o, seen);
        if (st == DH_OK && borrow) {
            tb->offs = (const uint32_t *)(const void *)offp;
            tb->rows = rowp;
        } else if (st == DH_OK) st = copy_table(mh, tb, offp, rowp);
        mh->bytes += offs_bytes(tb->key_bits) + dh__mih_rows_bytes(mh->n_built, mh->row_bytes);
        o += offs_bytes(tb->key_bits) + dh__mih_rows_bytes(mh->n_built, mh->row_bytes);
    }
    dh__free(seen);
    if (st != DH_OK) {
        dh__mih_free(mh);
        return st;
    }
    *out = mh;
    return DH_OK;
}
