/* lib/data/idx.c -- IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed, and the
 * built-in Fashion-MNIST location. IDX: 2 zero bytes, type byte (0x08 = uint8), rank
 * byte, rank big-endian uint32 dimensions, then the data. */
#include "data/data.h"

#include "io/io.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* Decompression bound (docs/data.md): gzip input may expand to at most
 * max(GZ_FLOOR, GZ_RATIO x its compressed size), and an IDX file to no more than its
 * header's dimensions say; the header is inflated and checked first. Real image data
 * compresses 2-5x, so the bound only refuses bombs (1 MB of gzip -> at most 16 MB). */
#define GZ_FLOOR ((size_t)16 << 20)
#define GZ_RATIO 16

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* With rank > 0, the IDX header as soon as it is inflated: 0 = need more bytes,
 * 1 = *want holds the whole file's size, -1 = bad magic or dimensions. */
static int idx_peek(const uint8_t *b, size_t n, uint8_t rank, size_t *want)
{
    if (n >= 4 && (b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != rank)) return -1;
    size_t hdr = 4 + 4 * (size_t)rank, total = 1;
    if (n < hdr) return 0;
    for (uint8_t d = 0; d < rank; d++)
        if (!dh__mul_ok(total, be32(b + 4 + 4 * d), &total)) return -1;
    if (total > SIZE_MAX - hdr) return -1;
    *want = total + hdr;
    return 1;
}

static dh_status gunzip(const uint8_t *in, size_t len, const char *path, uint8_t rank,
                        uint8_t **out, size_t *out_len)
{
    size_t max_out = len > GZ_FLOOR / GZ_RATIO ? len * GZ_RATIO : GZ_FLOOR;
    if (len > SIZE_MAX / GZ_RATIO) max_out = SIZE_MAX;
    size_t limit = max_out, cap = 4096, n = 0, want = 0;
    int known = rank == 0; /* the header's size is known (or not wanted) */
    uint8_t *buf = dh__alloc(cap);
    if (!buf) return DH_E_NO_MEMORY;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        dh__free(buf);
        return dh__set_error(DH_E_NO_MEMORY, "%s: zlib initialisation failed", path);
    }
    size_t used = 0;
    int ret = Z_OK;
    dh_status err = DH_OK;
    for (;;) {
        if (!known) {
            int h = idx_peek(buf, n, rank, &want);
            if (h < 0) {
                err = dh__set_error(DH_E_FORMAT, "%s: bad IDX magic or dimensions in the first "
                                    "%zu inflated bytes (want 00 00 08 %02x: uint8 data of "
                                    "rank %u)", path, n < 4 + 4 * (size_t)rank ? n :
                                    4 + 4 * (size_t)rank, rank, rank);
                break;
            }
            if (h > 0) {
                known = 1;
                if (want > max_out) {
                    err = dh__set_error(DH_E_FORMAT, "%s: IDX header declares %zu bytes, more "
                                        "than the %zu this %zu-byte gzip file may expand to",
                                        path, want, max_out, len);
                    break;
                }
                limit = want + 1; /* one more byte shows trailing data */
            }
        }
        if (n == cap) {
            if (cap >= limit) {
                err = limit == max_out
                          ? dh__set_error(DH_E_FORMAT, "%s: gzip data expands beyond %zu bytes "
                                          "(the bound for a %zu-byte file)", path, max_out, len)
                          : dh__set_error(DH_E_FORMAT, "%s: IDX data runs past the %zu bytes "
                                          "its header declares (trailing bytes)", path, want);
                break;
            }
            size_t nc = cap > limit / 2 ? limit : cap * 2;
            uint8_t *nb = dh__realloc(buf, nc);
            if (!nb) {
                err = DH_E_NO_MEMORY;
                break;
            }
            buf = nb, cap = nc;
        }
        uInt in_chunk = (uInt)(len - used < (1u << 30) ? len - used : (1u << 30));
        uInt out_chunk = (uInt)(cap - n < (1u << 30) ? cap - n : (1u << 30));
        z.next_in = (Bytef *)(uintptr_t)(in + used), z.avail_in = in_chunk;
        z.next_out = buf + n, z.avail_out = out_chunk;
        ret = inflate(&z, Z_NO_FLUSH);
        used += in_chunk - z.avail_in;
        n += out_chunk - z.avail_out;
        if (ret == Z_STREAM_END) {
            if (used == len) break;
            inflateReset(&z); /* another gzip member follows */
            continue;
        }
        if ((ret == Z_OK || ret == Z_BUF_ERROR) && z.avail_out == 0) continue; /* grow */
        if (ret == Z_OK && used < len) continue;
        if (ret == Z_OK || ret == Z_BUF_ERROR) ret = Z_DATA_ERROR; /* input ended early */
        break;
    }
    inflateEnd(&z);
    if (err != DH_OK || ret != Z_STREAM_END) {
        dh__free(buf);
        if (err != DH_OK) return err;
        if (ret == Z_MEM_ERROR) return dh__set_error(DH_E_NO_MEMORY, "%s: zlib out of memory", path);
        return dh__set_error(DH_E_FORMAT, "%s: corrupt or truncated gzip data near compressed "
                             "offset %zu (%s)", path, used, z.msg ? z.msg : "unexpected end");
    }
    *out = buf;
    *out_len = n;
    return DH_OK;
}

static dh_status read_maybe_gzip(const char *path, uint8_t rank, uint8_t **out,
                                 size_t *out_len)
{
    uint8_t *raw;
    size_t len;
    DH_TRY(dh__read_file(path, &raw, &len));
    if (len < 2 || raw[0] != 0x1f || raw[1] != 0x8b) {
        *out = raw;
        *out_len = len;
        return DH_OK;
    }
    dh_status st = gunzip(raw, len, path, rank, out, out_len);
    dh__free(raw);
    return st;
}

dh_status dh__read_maybe_gzip(const char *path, uint8_t **out, size_t *out_len)
{
    return read_maybe_gzip(path, 0, out, out_len);
}


/* Check an IDX header of `rank` dims; dims[] gets the sizes; returns the data offset. */
static dh_status idx_header(const uint8_t *b, size_t len, const char *name, uint8_t rank,
                            uint32_t *dims, size_t *count)
{
    size_t hdr = 4 + 4 * (size_t)rank, n = 1;
    if (len < 4 || b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != rank)
        return dh__set_error(DH_E_FORMAT, "%s: bad IDX magic at offset 0 (want 00 00 08 %02x: "
                             "uint8 data of rank %u)", name, rank, rank);
    if (len < hdr)
        return dh__set_error(DH_E_FORMAT, "%s: truncated IDX header (%zu of %zu bytes)", name,
                             len, hdr);
    for (uint8_t d = 0; d < rank; d++) {
        dims[d] = be32(b + 4 + 4 * d);
        if ((d > 0 && (dims[d] == 0 || dims[d] > 65536)) || !dh__mul_ok(n, dims[d], &n))
            return dh__set_error(DH_E_FORMAT, "%s: bad IDX dimension %u at offset %u", name,
                                 dims[d], 4 + 4 * d);
    }
    if (len - hdr != n)
        return dh__set_error(DH_E_FORMAT, "%s: IDX data is %zu bytes after offset %zu, dimensions "
                             "need %zu (%s)", name, len - hdr, hdr, n,
                             len - hdr < n ? "truncated" : "trailing bytes");
    *count = n;
    return DH_OK;
}

dh_status dh__idx_parse(const uint8_t *img, size_t img_len, const char *img_name,
                        const uint8_t *lab, size_t lab_len, const char *lab_name,
                        dh_dataset **out)
{
    *out = NULL;
    uint32_t di[3] = {0, 0, 0}, dl[1] = {0};
    size_t ni = 0, nl = 0;
    DH_TRY(idx_header(img, img_len, img_name, 3, di, &ni));
    DH_TRY(idx_header(lab, lab_len, lab_name, 1, dl, &nl));
    if (di[0] != dl[0])
        return dh__set_error(DH_E_FORMAT, "%s has %u images but %s has %u labels", img_name, di[0],
                             lab_name, dl[0]);
    const uint8_t *l = lab + 8;
    uint32_t C = 10;
    for (size_t i = 0; i < nl; i++) {
        if (l[i] >= 250)
            return dh__set_error(DH_E_FORMAT, "%s: label %u at offset %zu is not a class id",
                                 lab_name, l[i], 8 + i);
        if (l[i] + 1u > C) C = l[i] + 1u;
    }
    int32_t *ids = dh__alloc(nl * sizeof(int32_t) + 1);
    if (!ids) return DH_E_NO_MEMORY;
    for (size_t i = 0; i < nl; i++) ids[i] = l[i];
    dh_status st = dh_dataset_from_images(img + 16, di[0], di[1], di[2], 1, ids, NULL, C, out);
    dh__free(ids);
    return st;
}

dh_status dh_dataset_load_idx(const char *images_path, const char *labels_path,
                              dh_dataset **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(images_path != NULL && labels_path != NULL);
    uint8_t *img = NULL, *lab = NULL;
    size_t ni = 0, nl = 0;
    dh_status st = read_maybe_gzip(images_path, 3, &img, &ni);
    if (st == DH_OK) st = read_maybe_gzip(labels_path, 1, &lab, &nl);
    if (st == DH_OK) st = dh__idx_parse(img, ni, images_path, lab, nl, labels_path, out);
    dh__free(img);
    dh__free(lab);
    return st;
}

/* ---- Fashion-MNIST ---- */

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* dir/<stem>, or dir/<stem>.gz; writes the one that exists (or the .gz name) to out. */
static void find_file(const char *dir, const char *stem, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, stem);
    if (file_exists(out)) return;
    snprintf(out, cap, "%s/%s.gz", dir, stem);
}

dh_status dh_fashion_mnist_dir(char *buf, size_t cap)
{
    DH_CHECK_ARG(buf != NULL && cap > 0);
    const char *env = getenv("DH_FASHION_MNIST_DIR");
    const char *dir = env && *env ? env : "/usr/share/datasets/fashion-mnist";
    if (strlen(dir) + 1 > cap)
        return dh__set_error(DH_E_INVALID_ARG, "dh_fashion_mnist_dir: buffer of %zu bytes is too "
                             "small for '%s'", cap, dir);
    char probe[4200];
    find_file(dir, "train-images-idx3-ubyte", probe, sizeof probe);
    if (!file_exists(probe))
        return dh__set_error(DH_E_NOT_FOUND, "Fashion-MNIST not found: '%s' lacks "
                             "train-images-idx3-ubyte[.gz] (%s; install dataset-fashion-mnist or "
                             "set DH_FASHION_MNIST_DIR)", dir,
                             env && *env ? "from DH_FASHION_MNIST_DIR" : "default location");
    memcpy(buf, dir, strlen(dir) + 1);
    return DH_OK;
}

dh_status dh_dataset_load_fashion_mnist(const char *dir, int32_t split, dh_dataset **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG_MSG(split == DH_SPLIT_TRAIN || split == DH_SPLIT_TEST,
                     "dh_dataset_load_fashion_mnist: split %d is not DH_SPLIT_TRAIN or _TEST",
                     split);
    char d[4096], ip[4200], lp[4200];
    if (!dir) DH_TRY(dh_fashion_mnist_dir(d, sizeof d));
    else if (strlen(dir) >= sizeof d)
        return dh__set_error(DH_E_INVALID_ARG, "Fashion-MNIST folder name too long");
    else memcpy(d, dir, strlen(dir) + 1);
    const char *pre = split == DH_SPLIT_TRAIN ? "train" : "t10k";
    char stem[64];
    snprintf(stem, sizeof stem, "%s-images-idx3-ubyte", pre);
    find_file(d, stem, ip, sizeof ip);
    snprintf(stem, sizeof stem, "%s-labels-idx1-ubyte", pre);
    find_file(d, stem, lp, sizeof lp);
    return dh_dataset_load_idx(ip, lp, out);
}
