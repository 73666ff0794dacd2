/* lib/index/index_io.c -- the index file format (docs/file-formats.md): save through the
 * crash-safe atomic writer, load into memory or map read-only, validating every field.
 *
 * Layout (little-endian; offsets in bytes; R rows, W words per row):
 *   0  header (64): magic, version, header size, K, W, R, removed, next id, flags,
 *      reserved, CRC-32C of bytes 0..59
 *   64 ids: R x int64, then zero padding to a multiple of 64
 *   codes: R x W x uint64 (64-byte aligned, so a mapped file is used in place)
 *   tombstones: ceil(R/64) x uint64 bitmap
 *   version 2 with flag bit 0: zero padding to a multiple of 64, then the multi-index
 *   tables (mih_io.c)
 *   trailer (8): CRC-32C of everything before it, then the end mark "DHIE" */
#include "index/index.h"
#include "index/mih.h"
#include "io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t k_magic[8] = {0x89, 'D', 'H', 'I', 'X', '\r', '\n', 0x1A};
static const uint8_t k_end[4] = {'D', 'H', 'I', 'E'};
#define DH__IX_VERSION 2u  /* 2: optional multi-index section (flags bit 0) */
#define DH__IX_FLAG_MIH 1u
#define DH__IX_HEADER 64u

/* Fuzzing builds (libFuzzer's convention) skip checksum verification so mutated inputs
 * reach the field checks behind it; every other check stays. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define DH__CRC_BAD(stored, computed) ((void)(stored), (void)(computed), 0)
#else
#define DH__CRC_BAD(stored, computed) ((stored) != (computed))
#endif

typedef struct layout {
    size_t ids_off, codes_off, tomb_off, mih_off, end_off, total; /* mih_off 0: none */
} layout;

/* Offsets for R rows of W words; 0 if they overflow. */
static int compute_layout(uint64_t rows, uint32_t w, layout *l)
{
    if (rows > SIZE_MAX / 8 / DH__INDEX_MAX_WORDS / 2) return 0;
    size_t r = (size_t)rows;
    l->ids_off = DH__IX_HEADER;
    l->codes_off = (DH__IX_HEADER + r * 8 + 63) / 64 * 64;
    l->tomb_off = l->codes_off + r * w * 8;
    l->end_off = l->tomb_off + (r + 63) / 64 * 8;
    l->mih_off = 0;
    l->total = l->end_off + 8;
    return 1;
}

/* The writer's put callback for the multi-index section. */
static void w_put(void *ctx, const void *p, size_t n);

/* ---- save ---- */

typedef struct writer {
    dh__atomic_file af;
    uint32_t crc;
    uint8_t buf[1 << 16];
    size_t used;
    dh_status st;
} writer;

static void w_flush(writer *w)
{
    if (w->st == DH_OK && w->used) w->st = dh__atomic_write(&w->af, w->buf, w->used);
    w->crc = dh__crc32c(w->crc, w->buf, w->used);
    w->used = 0;
}

static void w_u64(writer *w, uint64_t v)
{
    if (w->used + 8 > sizeof w->buf) w_flush(w);
    dh__put_le64(w->buf + w->used, v);
    w->used += 8;
}

static void w_bytes(writer *w, const void *p, size_t n)
{
    if (w->used + n > sizeof w->buf) w_flush(w);
    memcpy(w->buf + w->used, p, n);
    w->used += n;
}

static void w_put(void *ctx, const void *p, size_t n)
{
    writer *w = ctx;
    const uint8_t *b = p;
    while (n) { /* large arrays (row lists) go through the buffer in pieces */
        size_t c = n < sizeof w->buf / 2 ? n : sizeof w->buf / 2;
        w_bytes(w, b, c);
        b += c;
        n -= c;
    }
}

static void write_header(writer *w, const dh_index *ix)
{
    uint8_t h[DH__IX_HEADER] = {0};
    memcpy(h, k_magic, 8);
    dh__put_le32(h + 8, ix->mih ? 2u : 1u); /* version 1 readers read files without MIH */
    dh__put_le32(h + 12, DH__IX_HEADER);
    dh__put_le32(h + 16, ix->n_bits);
    dh__put_le32(h + 20, ix->n_words);
    dh__put_le64(h + 24, ix->n);
    dh__put_le64(h + 32, ix->n_removed);
    dh__put_le64(h + 40, ix->next_id);
    dh__put_le64(h + 48, ix->mih ? DH__IX_FLAG_MIH : 0);
    dh__put_le32(h + 60, dh__crc32c(0, h, 60));
    w_bytes(w, h, sizeof h);
}

static dh_status save_locked(const dh_index *ix, writer *w)
{
    layout l = {0};
    compute_layout(ix->n, ix->n_words, &l); /* the rows exist in memory: no overflow */
    write_header(w, ix);
    for (size_t i = 0; i < ix->n; i++) w_u64(w, (uint64_t)ix->ids[i]);
    for (size_t o = DH__IX_HEADER + ix->n * 8; o < l.codes_off; o += 8) w_u64(w, 0);
    size_t n_code_words = ix->n * ix->n_words;
    for (size_t i = 0; i < n_code_words && w->st == DH_OK; i++) w_u64(w, ix->codes[i]);
    for (size_t i = 0; i < (ix->n + 63) / 64; i++) w_u64(w, ix->tomb ? ix->tomb[i] : 0);
    if (ix->mih) {
        size_t at = l.end_off;
        for (; at % 64; at += 8) w_u64(w, 0);
        dh__mih_section_write(ix->mih, w_put, w);
    }
    w_flush(w);
    uint8_t trailer[8];
    dh__put_le32(trailer, w->crc);
    memcpy(trailer + 4, k_end, 4);
    w_bytes(w, trailer, 8);
    w_flush(w);
    return w->st;
}

dh_status dh_index_save(const dh_index *ix, const char *path)
{
    DH_CHECK_ARG_MSG(ix != NULL, "dh_index_save: index is NULL");
    DH_CHECK_ARG_MSG(path != NULL && *path, "dh_index_save: path is NULL or empty");
    DH_TRY(dh__index_map_check(ix, "dh_index_save"));
    writer *w = dh__alloc(sizeof *w);
    if (!w) return DH_E_NO_MEMORY;
    w->crc = 0;
    w->used = 0;
    dh_status st = dh__atomic_open(&w->af, path);
    if (st == DH_OK) {
        w->st = DH_OK;
        dh__index_rdlock(ix);
        st = save_locked(ix, w);
        dh__index_unlock(ix);
        if (st == DH_OK) st = dh__atomic_commit(&w->af);
        else dh__atomic_abort(&w->af);
    }
    dh__free(w);
    if (st != DH_OK) dh__error_prefix("dh_index_save '%s'", path);
    return st;
}

/* ---- load ---- */

#define FMT_ERR(...) dh__set_error(DH_E_FORMAT, __VA_ARGS__)

typedef struct header {
    uint32_t version, header_size, n_bits, n_words;
    uint64_t rows, removed, next_id, flags;
    uint32_t reserved;
} header;

static dh_status parse_header(const uint8_t *b, size_t len, header *h, layout *l)
{
    if (len < DH__IX_HEADER)
        return FMT_ERR("file is %zu bytes, shorter than the %u-byte index header", len,
                       DH__IX_HEADER);
    if (memcmp(b, k_magic, 8) != 0) return FMT_ERR("bad magic at offset 0: not a libdh index");
    h->version = dh__le32(b + 8);
    if (h->version > DH__IX_VERSION)
        return dh__set_error(DH_E_VERSION, "format version %u at offset 8 is newer than this "
                             "library's %u", h->version, DH__IX_VERSION);
    if (h->version == 0) return FMT_ERR("format version 0 at offset 8 is invalid");
    if (DH__CRC_BAD(dh__le32(b + 60), dh__crc32c(0, b, 60)))
        return FMT_ERR("header checksum mismatch at offset 60 (corrupt header)");
    h->header_size = dh__le32(b + 12);
    h->n_bits = dh__le32(b + 16);
    h->n_words = dh__le32(b + 20);
    h->rows = dh__le64(b + 24);
    h->removed = dh__le64(b + 32);
    h->next_id = dh__le64(b + 40);
    h->flags = dh__le64(b + 48);
    h->reserved = dh__le32(b + 56);
    if (h->header_size != DH__IX_HEADER)
        return FMT_ERR("header size %u at offset 12 is not %u", h->header_size, DH__IX_HEADER);
    if (!dh__bits_valid(h->n_bits))
        return FMT_ERR("code length %u at offset 16 is outside 1..%u", h->n_bits, DH_MAX_BITS);
    if (h->n_words != (h->n_bits + 63) / 64)
        return FMT_ERR("word count %u at offset 20 does not match K = %u at offset 16",
                       h->n_words, h->n_bits);
    uint64_t known = h->version >= 2 ? DH__IX_FLAG_MIH : 0;
    if ((h->flags & ~known) != 0 || h->reserved != 0)
        return dh__set_error(DH_E_VERSION, "unknown flags 0x%llx at offset 48 (written by a "
                             "newer libdh?)", (unsigned long long)(h->flags | h->reserved));
    if (h->removed > h->rows)
        return FMT_ERR("removed count %llu at offset 32 exceeds the %llu rows",
                       (unsigned long long)h->removed, (unsigned long long)h->rows);
    if (!compute_layout(h->rows, h->n_words, l))
        return FMT_ERR("row count %llu at offset 24 is impossibly large (file is %zu bytes)",
                       (unsigned long long)h->rows, len);
    if (h->flags & DH__IX_FLAG_MIH) {
        size_t size = 0;
        l->mih_off = (l->end_off + 63) / 64 * 64;
        if (l->mih_off > len)
            return FMT_ERR("file is %zu bytes, too short for its multi-index section at %zu",
                           len, l->mih_off);
        DH_TRY(dh__mih_section_size(b, len, h->n_bits, h->rows, l->mih_off, &size));
        if (size > len - l->mih_off)
            return FMT_ERR("multi-index section at offset %zu needs %zu bytes, the file has "
                           "%zu", l->mih_off, size, len - l->mih_off);
        l->end_off = l->mih_off + size;
        l->total = l->end_off + 8;
    }
    if (l->total != len)
        return FMT_ERR("file is %zu bytes but its header (row count %llu at offset 24) needs "
                       "%zu: truncated or corrupt", len, (unsigned long long)h->rows, l->total);
    return DH_OK;
}

/* Every byte that has one valid value: padding, code padding bits, ids, tombstones. */
static dh_status check_body(const uint8_t *b, const header *h, const layout *l)
{
    size_t rows = (size_t)h->rows;
    if (memcmp(b + l->end_off + 4, k_end, 4) != 0)
        return FMT_ERR("bad end mark at offset %zu", l->end_off + 4);
    if (DH__CRC_BAD(dh__le32(b + l->end_off), dh__crc32c(0, b, l->end_off)))
        return FMT_ERR("data checksum mismatch at offset %zu (corrupt file)", l->end_off);
    uint64_t max_id = 0;
    for (size_t i = 0; i < rows; i++) {
        uint64_t id = dh__le64(b + l->ids_off + i * 8);
        if (id > (uint64_t)INT64_MAX)
            return FMT_ERR("negative id at offset %zu", l->ids_off + i * 8);
        if (id + 1 > max_id) max_id = id + 1;
    }
    if (h->next_id < max_id || h->next_id > (uint64_t)INT64_MAX + 1)
        return FMT_ERR("next id %llu at offset 40 is not above the largest stored id",
                       (unsigned long long)h->next_id);
    for (size_t o = l->ids_off + rows * 8; o < l->codes_off; o++)
        if (b[o]) return FMT_ERR("nonzero padding at offset %zu", o);
    uint32_t rem = h->n_bits % 64;
    if (rem) {
        uint64_t pad = ~((UINT64_C(1) << rem) - 1);
        for (size_t i = 0; i < rows; i++) {
            size_t o = l->codes_off + (i * h->n_words + h->n_words - 1) * 8;
            if (dh__le64(b + o) & pad)
                return FMT_ERR("row %zu sets bits beyond K = %u (offset %zu)", i, h->n_bits, o);
        }
    }
    uint64_t set = 0;
    for (size_t i = 0; i < (rows + 63) / 64; i++) {
        uint64_t t = dh__le64(b + l->tomb_off + i * 8);
        if (i == rows / 64 && rows % 64 && (t >> (rows % 64)))
            return FMT_ERR("tombstone bits past the last row at offset %zu", l->tomb_off + i * 8);
        set += (uint64_t)__builtin_popcountll(t);
    }
    size_t tomb_end = l->tomb_off + (rows + 63) / 64 * 8;
    for (size_t o = tomb_end; l->mih_off && o < l->mih_off; o++)
        if (b[o]) return FMT_ERR("nonzero padding at offset %zu", o);
    if (set != h->removed)
        return FMT_ERR("tombstone bitmap at offset %zu marks %llu rows, header says %llu",
                       l->tomb_off, (unsigned long long)set, (unsigned long long)h->removed);
    return DH_OK;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static dh_status fill_copy(dh_index *ix, const uint8_t *b, const header *h, const layout *l)
{
    size_t rows = (size_t)h->rows, words = rows * h->n_words;
    DH_TRY(dh__index_reserve(ix, rows));
    for (size_t i = 0; i < rows; i++) ix->ids[i] = (int64_t)dh__le64(b + l->ids_off + i * 8);
    for (size_t i = 0; i < words; i++) ix->codes[i] = dh__le64(b + l->codes_off + i * 8);
    if (h->removed) {
        ix->tomb = dh__calloc((ix->cap + 63) / 64, 8);
        if (!ix->tomb) return DH_E_NO_MEMORY;
        for (size_t i = 0; i < (rows + 63) / 64; i++)
            ix->tomb[i] = dh__le64(b + l->tomb_off + i * 8);
    }
    return DH_OK;
}

dh_status dh__index_load_buffer(const uint8_t *buf, size_t len, int borrow, const char *what,
                                dh_index **out)
{
    *out = NULL;
    header h = {0};
    layout l = {0};
    dh_status st = parse_header(buf, len, &h, &l);
    if (st == DH_OK) st = check_body(buf, &h, &l);
    if (st != DH_OK) {
        dh__error_prefix("%s", what);
        return st;
    }
    if (borrow && (!host_is_little_endian() || ((uintptr_t)buf & 7)))
        return dh__set_error(DH_E_UNSUPPORTED, "%s: a mapped index needs a little-endian host "
                             "and an 8-byte aligned buffer", what);
    dh_index *ix;
    DH_TRY(dh__index_new(h.n_bits, &ix));
    ix->n_removed = (size_t)h.removed;
    ix->next_id = h.next_id;
    if (borrow) {
        ix->readonly = 1;
        ix->n = ix->cap = (size_t)h.rows;
        ix->ids = (int64_t *)(uintptr_t)(buf + l.ids_off);
        ix->codes = (uint64_t *)(uintptr_t)(buf + l.codes_off);
        ix->tomb = (uint64_t *)(uintptr_t)(buf + l.tomb_off);
    } else {
        st = fill_copy(ix, buf, &h, &l);
        ix->n = (size_t)h.rows;
        if (st != DH_OK) {
            dh_index_free(ix);
            return st;
        }
    }
    if (l.mih_off) {
        st = dh__mih_section_load(buf, l.mih_off, ix->codes, ix->n_words, h.n_bits, h.rows,
                                  borrow, &ix->mih);
        if (st != DH_OK) {
            dh_index_free(ix);
            dh__error_prefix("%s", what);
            return st;
        }
        ix->mih_want = ix->mih->requested;
    }
    *out = ix;
    return DH_OK;
}

dh_status dh_index_load(const char *path, dh_index **out)
{
    DH_CHECK_ARG_MSG(out != NULL, "dh_index_load: out is NULL");
    *out = NULL;
    DH_CHECK_ARG_MSG(path != NULL, "dh_index_load: path is NULL");
    uint8_t *buf;
    size_t len;
    DH_TRY(dh__read_file(path, &buf, &len));
    char what[600];
    snprintf(what, sizeof what, "index file '%s'", path);
    dh_status st = dh__index_load_buffer(buf, len, 0, what, out);
    dh__free(buf);
    return st;
}

/* ---- mapped files: validated once, then checked unchanged on every use ---- */

static int64_t mtime_ns(const struct stat *sb)
{
    return (int64_t)sb->st_mtim.tv_sec * 1000000000 + (int64_t)sb->st_mtim.tv_nsec;
}

/* Why the file under a mapping no longer is the validated one, or NULL. */
static const char *map_changed(int fd, size_t len, int64_t mtime, long long *now_size)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        *now_size = -1;
        return "cannot be examined any more";
    }
    *now_size = (long long)sb.st_size;
    if ((uint64_t)sb.st_size < len) return "was truncated";
    if ((uint64_t)sb.st_size > len) return "grew";
    if (mtime_ns(&sb) != mtime) return "was rewritten in place";
    return NULL;
}

dh_status dh__index_map_check(const dh_index *ix, const char *fn)
{
    if (!ix->map) return DH_OK;
    long long now;
    const char *why = map_changed(ix->map_fd, ix->map_len, ix->map_mtime_ns, &now);
    if (!why) return DH_OK;
    return dh__set_error(DH_E_IO, "%s: mapped index file '%s' %s after it was loaded (%zu "
                         "bytes then, %lld now); load it again (dh_index_load copies the file "
                         "and is not affected)", fn, ix->map_path, why, ix->map_len, now);
}

/* Fault the mapping in through the kernel: pages past a truncated end then fail here
 * with EFAULT rather than with SIGBUS during validation. Kernels before 5.14 lack
 * MADV_POPULATE_READ (EINVAL): the size check after validation still applies. */
static dh_status populate(void *map, size_t len, const char *what)
{
#ifdef MADV_POPULATE_READ
    if (madvise(map, len, MADV_POPULATE_READ) != 0 && errno != EINVAL)
        return dh__set_error(errno == EFAULT ? DH_E_FORMAT : DH_E_IO,
                             "%s: cannot read the mapped file (%s): truncated while loading?",
                             what, strerror(errno));
#else
    (void)map, (void)len, (void)what;
#endif
    return DH_OK;
}

dh_status dh_index_load_mmap(const char *path, dh_index **out)
{
    DH_CHECK_ARG_MSG(out != NULL, "dh_index_load_mmap: out is NULL");
    *out = NULL;
    DH_CHECK_ARG_MSG(path != NULL, "dh_index_load_mmap: path is NULL");
    if (!host_is_little_endian())
        return dh__set_error(DH_E_UNSUPPORTED, "dh_index_load_mmap: big-endian host");
    int fd;
    size_t len;
    DH_TRY(dh__open_regular(path, &fd, &len)); /* FIFOs refused without blocking */
    char what[600];
    snprintf(what, sizeof what, "index file '%s'", path);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != len) {
        close(fd);
        return dh__set_error(DH_E_IO, "%s changed size while being opened", what);
    }
    int64_t mtime = mtime_ns(&sb);
    if (len < DH__IX_HEADER) {
        close(fd);
        return dh__set_error(DH_E_FORMAT, "%s: file is %zu bytes, shorter than the %u-byte "
                             "index header", what, len, DH__IX_HEADER);
    }
    size_t plen = strlen(path) + 1;
    char *pcopy = dh__alloc(plen);
    if (!pcopy) {
        close(fd);
        return DH_E_NO_MEMORY;
    }
    memcpy(pcopy, path, plen);
    void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        close(fd);
        dh__free(pcopy);
        return dh__set_error(DH_E_IO, "cannot map '%s': %s", path, strerror(errno));
    }
    dh_status st = populate(map, len, what);
    if (st == DH_OK) st = dh__index_load_buffer(map, len, 1, what, out);
    long long now;
    const char *why = st == DH_OK ? map_changed(fd, len, mtime, &now) : NULL;
    if (why) {
        dh_index_free(*out);
        *out = NULL;
        st = dh__set_error(DH_E_IO, "%s %s while being loaded (%zu bytes, now %lld)", what, why,
                           len, now);
    }
    if (st != DH_OK) {
        munmap(map, len);
        close(fd);
        dh__free(pcopy);
        return st;
    }
    (*out)->map = map;
    (*out)->map_len = len;
    (*out)->map_fd = fd;
    (*out)->map_mtime_ns = mtime;
    (*out)->map_path = pcopy;
    return DH_OK;
}
