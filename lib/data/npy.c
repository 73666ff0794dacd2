/* lib/data/npy.c -- NumPy .npy format, versions 1.0, 2.0 and 3.0 (numpy's
 * doc/neps/nep-0001-npy-format.rst): magic "\x93NUMPY", major, minor, header length
 * (uint16 LE in 1.0, uint32 LE in 2.0/3.0), then a Python dict literal
 * {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded with spaces and a
 * newline so the data starts at a multiple of 64 (16 in old files). The header is
 * parsed strictly: anything that is not exactly such a dict is rejected with its offset. */
#include "data/npy.h"

#include "io/io.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAX_ELEMS ((size_t)1 << 62)

size_t dh__dtype_size(int32_t dtype)
{
    switch (dtype) {
    case DH_DTYPE_UINT8:
    case DH_DTYPE_INT8: return 1;
    case DH_DTYPE_INT32:
    case DH_DTYPE_FLOAT32: return 4;
    case DH_DTYPE_INT64:
    case DH_DTYPE_FLOAT64: return 8;
    default: return 0;
    }
}

/* ---- strict header-dict parser ---- */

typedef struct hparse {
    const char *s; /* header text */
    size_t n, i;   /* length, cursor */
    size_t base;   /* file offset of s[0] */
    const char *what;
} hparse;

static dh_status hfail(const hparse *p, const char *msg)
{
    return dh__set_error(DH_E_FORMAT, "%s: malformed .npy header at offset %zu: %s", p->what,
                         p->base + p->i, msg);
}

static void hskip(hparse *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t')) p->i++;
}

static int hpeek(hparse *p)
{
    hskip(p);
    return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

static dh_status hexpect(hparse *p, char c, const char *msg)
{
    if (hpeek(p) != c) return hfail(p, msg);
    p->i++;
    return DH_OK;
}

/* A quoted Python string without escapes, copied into out[cap]. */
static dh_status hstring(hparse *p, char *out, size_t cap)
{
    int q = hpeek(p);
    if (q != '\'' && q != '"') return hfail(p, "expected a quoted string");
    size_t start = ++p->i, k = 0;
    while (p->i < p->n && p->s[p->i] != (char)q) {
        if (p->s[p->i] == '\\' || p->s[p->i] == '\n' || p->s[p->i] == '\0')
            return hfail(p, "bad character in string (backslash, newline or NUL)");
        if (k + 1 >= cap) return hfail(p, "string too long");
        out[k++] = p->s[p->i++];
    }
    if (p->i >= p->n) {
        p->i = start;
        return hfail(p, "unterminated string");
    }
    p->i++;
    out[k] = '\0';
    return DH_OK;
}

static dh_status hbool(hparse *p, int *out)
{
    hskip(p);
    if (p->n - p->i >= 4 && !memcmp(p->s + p->i, "True", 4)) {
        *out = 1;
        p->i += 4;
    } else if (p->n - p->i >= 5 && !memcmp(p->s + p->i, "False", 5)) {
        *out = 0;
        p->i += 5;
    } else {
        return hfail(p, "expected True or False");
    }
    return DH_OK;
}

static dh_status hint(hparse *p, int64_t *out)
{
    hskip(p);
    size_t start = p->i;
    uint64_t v = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        uint64_t digit = (uint64_t)(p->s[p->i] - '0');
        if (v > (NPY_MAX_ELEMS - digit) / 10) return hfail(p, "dimension too large"); /* no wrap */
        v = v * 10 + digit;
        p->i++;
    }
    if (p->i == start) return hfail(p, "expected a non-negative integer dimension");
    if (p->i < p->n && p->s[p->i] == 'L') p->i++; /* Python 2 longs in very old files */
    *out = (int64_t)v;
    return DH_OK;
}

static dh_status hshape(hparse *p, dh__npy_header *h)
{
    DH_TRY(hexpect(p, '(', "expected '(' opening the shape tuple"));
    h->ndim = 0;
    for (;;) {
        if (hpeek(p) == ')') break;
        if (h->ndim == DH__NPY_MAX_DIMS)
            return dh__set_error(DH_E_UNSUPPORTED, "%s: .npy arrays of more than %d dimensions "
                                 "are not supported", p->what, DH__NPY_MAX_DIMS);
        DH_TRY(hint(p, &h->shape[h->ndim++]));
        int c = hpeek(p);
        if (c == ',') p->i++;
        else if (c != ')') return hfail(p, "expected ',' or ')' in the shape tuple");
        else if (h->ndim == 1) return hfail(p, "a 1-element shape tuple needs a trailing comma");
    }
    p->i++;
    return DH_OK;
}

static dh_status hdescr(hparse *p, const char *d, dh__npy_header *h)
{
    static const struct { const char *name; int32_t dtype; int is_bool; } tab[] = {
        {"<f4", DH_DTYPE_FLOAT32, 0}, {"<f8", DH_DTYPE_FLOAT64, 0}, {"|u1", DH_DTYPE_UINT8, 0},
        {"<u1", DH_DTYPE_UINT8, 0},   {"|i1", DH_DTYPE_INT8, 0},    {"<i1", DH_DTYPE_INT8, 0},
        {"<i4", DH_DTYPE_INT32, 0},   {"<i8", DH_DTYPE_INT64, 0},   {"|b1", DH_DTYPE_UINT8, 1},
        {"<b1", DH_DTYPE_UINT8, 1}};
    for (size_t k = 0; k < sizeof tab / sizeof tab[0]; k++)
        if (!strcmp(d, tab[k].name)) {
            h->dtype = tab[k].dtype;
            h->is_bool = tab[k].is_bool;
            return DH_OK;
        }
    (void)p;
    return dh__set_error(DH_E_UNSUPPORTED,
                         "%s: .npy dtype '%s' is not supported (little-endian float32/float64, "
                         "uint8/int8/int32/int64 and bool are)", p->what, d);
}

static dh_status hitem(hparse *p, dh__npy_header *h, unsigned *seen)
{
    char key[32], descr[32];
    size_t key_at = p->i;
    DH_TRY(hstring(p, key, sizeof key));
    DH_TRY(hexpect(p, ':', "expected ':' after a key"));
    unsigned bit = !strcmp(key, "descr") ? 1u : !strcmp(key, "fortran_order") ? 2u
                 : !strcmp(key, "shape") ? 4u : 0u;
    if (bit == 0 || (*seen & bit)) {
        p->i = key_at;
        return hfail(p, bit ? "duplicate key" : "unknown key (expected descr, fortran_order, shape)");
    }
    *seen |= bit;
    if (bit == 1) {
        if (hpeek(p) == '[')
            return dh__set_error(DH_E_UNSUPPORTED, "%s: structured .npy dtypes are not supported",
                                 p->what);
        DH_TRY(hstring(p, descr, sizeof descr));
        return hdescr(p, descr, h);
    }
    if (bit == 2) {
        int fortran = 0;
        DH_TRY(hbool(p, &fortran));
        if (fortran)
            return dh__set_error(DH_E_UNSUPPORTED, "%s: fortran_order True .npy arrays are not "
                                 "supported; save with np.ascontiguousarray", p->what);
        return DH_OK;
    }
    return hshape(p, h);
}

static dh_status hdict(hparse *p, dh__npy_header *h)
{
    unsigned seen = 0;
    DH_TRY(hexpect(p, '{', "expected '{'"));
    for (;;) {
        if (hpeek(p) == '}') break;
        DH_TRY(hitem(p, h, &seen));
        int c = hpeek(p);
        if (c == ',') p->i++;
        else if (c != '}') return hfail(p, "expected ',' or '}'");
    }
    p->i++;
    if (seen != 7) return hfail(p, "header dict lacks descr, fortran_order or shape");
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\0'))
        p->i++;
    if (p->i + 1 != p->n || p->s[p->i] != '\n')
        return hfail(p, "header must end with padding and a single newline");
    return DH_OK;
}

dh_status dh__npy_parse_header(const uint8_t *buf, size_t len, const char *what,
                               dh__npy_header *h)
{
    memset(h, 0, sizeof *h);
    if (len < 10 || memcmp(buf, NPY_MAGIC, 6) != 0)
        return dh__set_error(DH_E_FORMAT, "%s: not a .npy file (bad magic at offset 0)", what);
    unsigned major = buf[6], minor = buf[7];
    if (major < 1 || major > 3 || minor != 0)
        return dh__set_error(major > 3 ? DH_E_VERSION : DH_E_FORMAT,
                             "%s: unsupported .npy format version %u.%u at offset 6", what,
                             major, minor);
    size_t pre = major == 1 ? 10 : 12, hlen;
    if (len < pre) return dh__set_error(DH_E_FORMAT, "%s: truncated .npy preamble", what);
    hlen = major == 1 ? (size_t)(buf[8] | buf[9] << 8) : (size_t)dh__le32(buf + 8);
    if (hlen > DH__NPY_MAX_HEADER)
        return dh__set_error(DH_E_FORMAT, "%s: .npy header length %zu at offset 8 exceeds %u",
                             what, hlen, DH__NPY_MAX_HEADER);
    if (len - pre < hlen)
        return dh__set_error(DH_E_FORMAT, "%s: truncated .npy header (%zu of %zu bytes)", what,
                             len - pre, hlen);
    hparse p = {(const char *)buf + pre, hlen, 0, pre, what};
    DH_TRY(hdict(&p, h));
    size_t n = 1;
    for (int d = 0; d < h->ndim; d++)
        if (!dh__mul_ok(n, (size_t)h->shape[d], &n) || n > NPY_MAX_ELEMS)
            return dh__set_error(DH_E_FORMAT, "%s: .npy shape overflows", what);
    h->n_elems = n;
    if (!dh__mul_ok(n, dh__dtype_size(h->dtype), &h->data_bytes))
        return dh__set_error(DH_E_FORMAT, "%s: .npy data size overflows", what);
    h->data_offset = pre + hlen;
    return DH_OK;
}

/* ---- byte order and conversion ---- */

static void to_native(void *data, size_t n, size_t item)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    uint8_t *b = data;
    for (size_t i = 0; i < n; i++, b += item)
        for (size_t k = 0; k < item / 2; k++) {
            uint8_t t = b[k];
            b[k] = b[item - 1 - k];
            b[item - 1 - k] = t;
        }
#else
    (void)data, (void)n, (void)item;
#endif
}

static dh_status check_bool(const dh__npy_header *h, const uint8_t *v, const char *what)
{
    for (size_t i = 0; i < h->n_elems; i++)
        if (v[i] > 1)
            return dh__set_error(DH_E_FORMAT, "%s: bool element %zu at offset %zu is %u, not 0/1",
                                 what, i, h->data_offset + i, v[i]);
    return DH_OK;
}

static dh_status finish(const dh__npy_header *h, void *data, const char *what, dh__npy *out)
{
    if (h->is_bool) {
        dh_status st = check_bool(h, data, what);
        if (st != DH_OK) {
            dh__free_aligned(data);
            return st;
        }
    }
    to_native(data, h->n_elems, dh__dtype_size(h->dtype));
    out->dtype = h->dtype;
    out->ndim = h->ndim;
    memcpy(out->shape, h->shape, sizeof out->shape);
    out->n_elems = h->n_elems;
    out->data = data;
    return DH_OK;
}

static dh_status check_length(const dh__npy_header *h, size_t len, const char *what)
{
    size_t avail = len - h->data_offset;
    if (avail < h->data_bytes)
        return dh__set_error(DH_E_FORMAT, "%s: truncated .npy data: shape needs %zu bytes after "
                             "offset %zu, file has %zu", what, h->data_bytes, h->data_offset,
                             avail);
    if (avail > h->data_bytes)
        return dh__set_error(DH_E_FORMAT, "%s: %zu trailing bytes after the .npy data at offset "
                             "%zu", what, avail - h->data_bytes, h->data_offset + h->data_bytes);
    return DH_OK;
}

dh_status dh__npy_read_buffer(const void *buf, size_t len, dh__npy *out)
{
    DH_CHECK_ARG(out != NULL);
    memset(out, 0, sizeof *out);
    DH_CHECK_ARG(buf != NULL || len == 0);
    dh__npy_header h;
    DH_TRY(dh__npy_parse_header(buf, len, "buffer", &h));
    DH_TRY(check_length(&h, len, "buffer"));
    void *data = dh__alloc_aligned(h.data_bytes, 64);
    if (!data) return DH_E_NO_MEMORY;
    if (h.data_bytes) memcpy(data, (const uint8_t *)buf + h.data_offset, h.data_bytes);
    return finish(&h, data, "buffer", out);
}

static dh_status read_prefix(FILE *fp, const char *path, uint8_t **pre, size_t *pre_len)
{
    uint8_t head[12];
    size_t got = fread(head, 1, sizeof head, fp);
    size_t hlen = 0, plen = got >= 10 && head[6] == 1 ? 10 : 12;
    if (got >= 10 && head[6] == 1) hlen = (size_t)(head[8] | head[9] << 8);
    else if (got >= 12) hlen = dh__le32(head + 8);
    if (hlen > DH__NPY_MAX_HEADER) hlen = 0; /* the parser reports it */
    *pre = dh__alloc(plen + hlen);
    if (!*pre) return DH_E_NO_MEMORY;
    memcpy(*pre, head, got);
    *pre_len = got;
    if (got == sizeof head && plen + hlen > got)
        *pre_len += fread(*pre + got, 1, plen + hlen - got, fp);
    (void)path;
    return DH_OK;
}

dh_status dh__npy_read(const char *path, dh__npy *out)
{
    DH_CHECK_ARG(out != NULL);
    memset(out, 0, sizeof *out);
    DH_CHECK_ARG(path != NULL);
    char zip[4096];
    const char *member = NULL;
    if (dh__npz_probe(path, zip, sizeof zip, &member)) /* "a.npz" or "a.npz:member" (npz.c) */
        return dh__npz_read(zip, member, out);
    int fd;
    DH_TRY(dh__open_regular(path, &fd, NULL)); /* a FIFO is refused, not waited on */
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        close(fd);
        return dh__set_error(DH_E_IO, "cannot open '%s': %s", path, strerror(errno));
    }
    struct stat sb;
    uint8_t *pre = NULL;
    size_t pre_len = 0;
    void *data = NULL;
    dh__npy_header h;
    dh_status st;
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = dh__set_error(DH_E_IO, "'%s' is not a regular file", path);
        goto fail;
    }
    DH_TRY_GOTO(read_prefix(fp, path, &pre, &pre_len), fail);
    DH_TRY_GOTO(dh__npy_parse_header(pre, pre_len, path, &h), fail);
    DH_TRY_GOTO(check_length(&h, (size_t)sb.st_size, path), fail);
    data = dh__alloc_aligned(h.data_bytes, 64);
    if (!data) {
        st = DH_E_NO_MEMORY;
        goto fail;
    }
    if (fseek(fp, (long)h.data_offset, SEEK_SET) != 0 ||
        fread(data, 1, h.data_bytes, fp) != h.data_bytes) {
        st = dh__set_error(DH_E_IO, "%s: short read of %zu data bytes at offset %zu", path,
                           h.data_bytes, h.data_offset);
        goto fail;
    }
    fclose(fp);
    dh__free(pre);
    return finish(&h, data, path, out);
fail:
    fclose(fp);
    dh__free(pre);
    dh__free_aligned(data);
    return st;
}

void dh__npy_free(dh__npy *a)
{
    if (!a) return;
    dh__free_aligned(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- writer ---- */

static const char *descr_of(int32_t dtype)
{
    switch (dtype) {
    case DH_DTYPE_UINT8: return "|u1";
    case DH_DTYPE_INT8: return "|i1";
    case DH_DTYPE_INT32: return "<i4";
    case DH_DTYPE_INT64: return "<i8";
    case DH_DTYPE_FLOAT32: return "<f4";
    case DH_DTYPE_FLOAT64: return "<f8";
    default: return NULL;
    }
}

/* Build the padded header (preamble included) into hdr[cap]; returns its length. */
static size_t build_header(char *hdr, size_t cap, int32_t dtype, int32_t ndim,
                           const int64_t *shape)
{
    char dict[400];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     descr_of(dtype));
    for (int d = 0; d < ndim; d++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, d + 1 == ndim && ndim == 1 ? "%lld,"
                      : d + 1 == ndim ? "%lld" : "%lld, ", (long long)shape[d]);
    k += snprintf(dict + k, sizeof dict - (size_t)k, "), }");
    size_t body = (size_t)k + 1; /* + '\n' */
    size_t total = (10 + body + 63) / 64 * 64;
    size_t hlen = total - 10;
    memcpy(hdr, NPY_MAGIC "\x01\x00", 8);
    hdr[8] = (char)(hlen & 0xff);
    hdr[9] = (char)(hlen >> 8);
    memcpy(hdr + 10, dict, (size_t)k);
    memset(hdr + 10 + k, ' ', hlen - (size_t)k - 1);
    hdr[total - 1] = '\n';
    (void)cap;
    return total;
}

static dh_status write_data(dh__atomic_file *af, const void *data, size_t n, size_t item)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    uint8_t tmp[4096];
    const uint8_t *b = data;
    size_t per = sizeof tmp / item;
    for (size_t i = 0; i < n; i += per) {
        size_t m = n - i < per ? n - i : per;
        memcpy(tmp, b + i * item, m * item);
        to_native(tmp, m, item);
        DH_TRY(dh__atomic_write(af, tmp, m * item));
    }
    return DH_OK;
#else
    return dh__atomic_write(af, data, n * item);
#endif
}

dh_status dh__npy_write(const char *path, int32_t dtype, int32_t ndim, const int64_t *shape,
                        const void *data)
{
    DH_CHECK_ARG(path != NULL);
    if (!descr_of(dtype))
        return dh__set_error(DH_E_INVALID_ARG, "dh_npy_save: unknown dtype %d", dtype);
    DH_CHECK_ARG_MSG(ndim >= 0 && ndim <= DH__NPY_MAX_DIMS && (shape != NULL || ndim == 0),
                     "dh_npy_save: ndim %d must be 0..%d with a shape array", ndim,
                     DH__NPY_MAX_DIMS);
    size_t n = 1, item = dh__dtype_size(dtype), bytes;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || !dh__mul_ok(n, (size_t)shape[d], &n) || n > NPY_MAX_ELEMS)
            return dh__set_error(DH_E_INVALID_ARG, "dh_npy_save: shape[%d] = %lld is negative "
                                 "or the element count overflows", d, (long long)shape[d]);
    }
    if (!dh__mul_ok(n, item, &bytes))
        return dh__set_error(DH_E_INVALID_ARG, "dh_npy_save: data size overflows");
    DH_CHECK_ARG_MSG(data != NULL || n == 0, "dh_npy_save: data is NULL for %zu elements", n);
    char hdr[512];
    size_t hl = build_header(hdr, sizeof hdr, dtype, ndim, shape);
    dh__atomic_file af;
    DH_TRY(dh__atomic_open(&af, path));
    dh_status st = dh__atomic_write(&af, hdr, hl);
    if (st == DH_OK) st = write_data(&af, data, n, item);
    if (st != DH_OK) {
        dh__atomic_abort(&af);
        return st;
    }
    return dh__atomic_commit(&af);
}

void dh__convert_to_f32(int32_t dtype, const void *src, size_t n, float *dst)
{
    switch (dtype) {
    case DH_DTYPE_FLOAT32: memmove(dst, src, n * sizeof(float)); break;
    case DH_DTYPE_FLOAT64:
        for (size_t i = 0; i < n; i++) dst[i] = (float)((const double *)src)[i];
        break;
    case DH_DTYPE_UINT8:
        for (size_t i = 0; i < n; i++) dst[i] = (float)((const uint8_t *)src)[i];
        break;
    case DH_DTYPE_INT8:
        for (size_t i = 0; i < n; i++) dst[i] = (float)((const int8_t *)src)[i];
        break;
    case DH_DTYPE_INT32:
        for (size_t i = 0; i < n; i++) dst[i] = (float)((const int32_t *)src)[i];
        break;
    case DH_DTYPE_INT64:
        for (size_t i = 0; i < n; i++) dst[i] = (float)((const int64_t *)src)[i];
        break;
    default: break;
    }
}
