/* lib/data/npz.c -- NumPy .npz archives (numpy.savez / savez_compressed): a zip file of
 * .npy members, read by name. Stored (method 0) and deflated (method 8) members, zip64
 * sizes and offsets (numpy writes them for large arrays). The central directory is
 * trusted only after every offset and size is checked against the file; a deflated
 * member is inflated into a buffer of its declared size, which may not exceed 1032 times
 * its compressed size (deflate's largest ratio) nor DH__NPZ_MAX_MEMBER, and must inflate
 * to exactly that size. Paths "archive.npz:member" name a member; without one the
 * archive must hold exactly one. */
#include "data/npy.h"
#include "io/io.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define DH__NPZ_MAX_MEMBER ((uint64_t)1 << 40)
#define EOCD_SIG 0x06054b50u
#define CDIR_SIG 0x02014b50u
#define LOCAL_SIG 0x04034b50u
#define Z64_LOC_SIG 0x07064b50u
#define Z64_EOCD_SIG 0x06064b50u

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static dh_status bad(const char *path, const char *what, size_t at)
{
    return dh__set_error(DH_E_FORMAT, ".npz '%s': %s at byte %zu", path, what, at);
}

int dh__npz_probe(const char *path, char *file, size_t cap, const char **member)
{
    struct stat sb;
    *member = NULL;
    if (strlen(path) >= cap) return 0;
    strcpy(file, path);
    if (stat(file, &sb) != 0) { /* "archive.npz:member" */
        char *colon = strrchr(file, ':');
        if (!colon || colon == file) return 0;
        *colon = '\0';
        *member = path + (colon - file) + 1;
        if (stat(file, &sb) != 0) return 0;
    }
    if (!S_ISREG(sb.st_mode)) return 0;
    FILE *fp = fopen(file, "rb");
    uint8_t m[4] = {0};
    size_t got = fp ? fread(m, 1, 4, fp) : 0;
    if (fp) fclose(fp);
    return got == 4 && m[0] == 'P' && m[1] == 'K' && ((m[2] == 3 && m[3] == 4) || (m[2] == 5 && m[3] == 6));
}

typedef struct entry {
    const uint8_t *name;
    size_t name_len;
    uint16_t method;
    uint64_t csize, usize, local;
} entry;

/* The zip64 extended-information field of a central-directory entry, when present. */
static void zip64_fields(const uint8_t *ext, size_t len, entry *e)
{
    for (size_t at = 0; at + 4 <= len;) {
        uint16_t id = le16(ext + at), sz = le16(ext + at + 2);
        if (at + 4 + sz > len) return;
        if (id == 1) {
            const uint8_t *p = ext + at + 4, *end = p + sz;
            if (e->usize == 0xFFFFFFFFu && p + 8 <= end) e->usize = dh__le64(p), p += 8;
            if (e->csize == 0xFFFFFFFFu && p + 8 <= end) e->csize = dh__le64(p), p += 8;
            if (e->local == 0xFFFFFFFFu && p + 8 <= end) e->local = dh__le64(p);
            return;
        }
        at += 4 + (size_t)sz;
    }
}

/* Find the central directory: offset and entry count (zip64 aware). */
static dh_status central_dir(const uint8_t *b, size_t len, const char *path, uint64_t *off,
                             uint64_t *count)
{
    if (len < 22) return bad(path, "too short for a zip archive", len);
    size_t lo = len > 22 + 65535 ? len - 22 - 65535 : 0, e = len - 22 + 1;
    while (e-- > lo)
        if (dh__le32(b + e) == EOCD_SIG) break;
    if (e < lo || dh__le32(b + e) != EOCD_SIG) return bad(path, "no end of central directory", len);
    *count = le16(b + e + 10);
    *off = dh__le32(b + e + 16);
    if ((*count == 0xFFFF || *off == 0xFFFFFFFFu) && e >= 20 && dh__le32(b + e - 20) == Z64_LOC_SIG) {
        uint64_t z = dh__le64(b + e - 20 + 8);
        if (z > len - 56 || dh__le32(b + z) != Z64_EOCD_SIG) return bad(path, "bad zip64 record", e);
        *count = dh__le64(b + z + 32);
        *off = dh__le64(b + z + 48);
    }
    if (*off > len) return bad(path, "central directory outside the file", e);
    return DH_OK;
}

static dh_status inflate_member(const uint8_t *src, size_t n, uint8_t *dst, size_t out_n,
                                const char *path)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return DH_E_NO_MEMORY;
    int rc = Z_OK;
    size_t done_in = 0, done_out = 0;
    while (rc == Z_OK) { /* in chunks: avail_in/out are 32-bit */
        size_t in = n - done_in, out = out_n - done_out;
        zs.next_in = (Bytef *)(uintptr_t)(src + done_in);
        zs.avail_in = (uInt)(in > (1u << 30) ? (1u << 30) : in);
        zs.next_out = dst + done_out;
        zs.avail_out = (uInt)(out > (1u << 30) ? (1u << 30) : out);
        uInt ai = zs.avail_in, ao = zs.avail_out;
        rc = inflate(&zs, Z_NO_FLUSH);
        done_in += ai - zs.avail_in;
        done_out += ao - zs.avail_out;
        if (rc == Z_BUF_ERROR && (done_out == out_n || done_in == n)) break;
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || done_out != out_n)
        return dh__set_error(DH_E_FORMAT, ".npz '%s': a deflated member is corrupt or does not "
                             "inflate to its declared size", path);
    return DH_OK;
}

dh_status dh__npz_member(const char *path, const char *member, uint8_t **out_buf,
                         size_t *out_len)
{
    *out_buf = NULL;
    *out_len = 0;
    uint8_t *b = NULL;
    size_t len = 0;
    DH_TRY(dh__read_file(path, &b, &len));
    uint64_t off = 0, count = 0;
    dh_status st = central_dir(b, len, path, &off, &count);
    char names[512] = "";
    size_t nl = 0, n_members = 0;
    entry found = {0};
    int have = 0;
    size_t at = (size_t)off;
    for (uint64_t i = 0; st == DH_OK && i < count; i++) {
        if (len - at < 46 || dh__le32(b + at) != CDIR_SIG) {
            st = bad(path, "bad central directory entry", at);
            break;
        }
        entry e = {b + at + 46, le16(b + at + 28), le16(b + at + 10), dh__le32(b + at + 20),
                   dh__le32(b + at + 24), dh__le32(b + at + 42)};
        size_t ext = le16(b + at + 30), com = le16(b + at + 32);
        if (len - at - 46 < e.name_len + ext + com) {
            st = bad(path, "central directory entry past the end", at);
            break;
        }
        zip64_fields(b + at + 46 + e.name_len, ext, &e);
        size_t base = e.name_len >= 4 && !memcmp(e.name + e.name_len - 4, ".npy", 4) ? e.name_len - 4
                                                                                  : e.name_len;
        n_members++;
        if (nl + base + 3 < sizeof names)
            nl += (size_t)snprintf(names + nl, sizeof names - nl, "%s%.*s", nl ? ", " : "",
                                   (int)base, (const char *)e.name);
        if (member ? (strlen(member) == base && !memcmp(member, e.name, base)) ||
                         (strlen(member) == e.name_len && !memcmp(member, e.name, e.name_len))
                   : !have) {
            found = e;
            have = 1;
        }
        at += 46 + e.name_len + ext + com;
    }
    if (st == DH_OK && !have)
        st = dh__set_error(DH_E_NOT_FOUND, ".npz '%s' has no member '%s' (members: %s)", path,
                           member ? member : "", names);
    if (st == DH_OK && !member && n_members != 1)
        st = dh__set_error(DH_E_INVALID_ARG, ".npz '%s' holds %zu arrays (%s): name one as "
                           "'%s:NAME'", path, n_members, names, path);
    uint8_t *mem = NULL;
    if (st == DH_OK) {
        size_t lh = (size_t)found.local;
        if (found.local > len || len - lh < 30 || dh__le32(b + lh) != LOCAL_SIG) {
            st = bad(path, "bad local header", lh);
        } else {
            size_t data = lh + 30 + le16(b + lh + 26) + le16(b + lh + 28);
            if (data > len || found.csize > len - data) st = bad(path, "member data past the end", lh);
            else if (found.method == 0 && found.csize != found.usize)
                st = bad(path, "stored member with two sizes", lh);
            else if (found.method != 0 && found.method != 8)
                st = dh__set_error(DH_E_UNSUPPORTED, ".npz '%s': compression method %u (only "
                                   "stored and deflate)", path, found.method);
            else if (found.usize > DH__NPZ_MAX_MEMBER ||
                     (found.method == 8 && found.usize / 1032 > found.csize + 1))
                st = bad(path, "implausible uncompressed size", lh);
            else if (!(mem = dh__alloc((size_t)found.usize + 1)))
                st = DH_E_NO_MEMORY;
            else if (found.method == 0)
                memcpy(mem, b + data, (size_t)found.usize);
            else
                st = inflate_member(b + data, (size_t)found.csize, mem, (size_t)found.usize, path);
            if (st == DH_OK) {
                *out_buf = mem, *out_len = (size_t)found.usize;
                mem = NULL;
            }
        }
    }
    dh__free(mem);
    dh__free(b);
    return st;
}

dh_status dh__npz_read(const char *path, const char *member, dh__npy *out)
{
    memset(out, 0, sizeof *out);
    uint8_t *buf = NULL;
    size_t len = 0;
    DH_TRY(dh__npz_member(path, member, &buf, &len));
    dh_status st = dh__npy_read_buffer(buf, len, out);
    if (st != DH_OK && st != DH_E_NO_MEMORY)
        dh__error_prefix("member '%s' of '%s'", member ? member : "(the only one)", path);
    dh__free(buf);
    return st;
}

dh_status dh_npz_load(const char *path, const char *member, dh_array **out)
{
    DH_CHECK_ARG(path != NULL && out != NULL);
    *out = NULL;
    char buf[4096];
    DH_CHECK_ARG_MSG(strlen(path) + (member ? strlen(member) + 1 : 0) < sizeof buf,
                     "dh_npz_load: path too long");
    snprintf(buf, sizeof buf, "%s%s%s", path, member ? ":" : "", member ? member : "");
    return dh_npy_load(buf, out);
}
