/* lib/io/io.h -- checksums and crash-safe file writing shared by every file format. */
#ifndef DH_IO_H
#define DH_IO_H

#include "core/core.h"

#include <stdio.h>

/** CRC-32C (Castagnoli), as used by iSCSI/ext4: crc = dh__crc32c(0, buf, n) for a
 *  whole buffer; pass the previous value to continue. */
uint32_t dh__crc32c(uint32_t crc, const void *buf, size_t n);

/** Crash-safe writer: data goes to "<path>.tmp.<pid>.<random>" in the target's folder,
 *  created with O_CREAT|O_EXCL|O_NOFOLLOW (a planted symlink or file makes it pick
 *  another name), and only commit() fsyncs, renames over `path` and fsyncs the
 *  directory. abort() (or a failed commit) removes the temporary, so the previous file
 *  is never damaged. Re-saving keeps the existing file's mode (and owner where the
 *  process may); new files get 0644 & ~umask. Temporaries of processes that died
 *  mid-save (kill -9) are removed by the next save to the same path. */
typedef struct dh__atomic_file {
    FILE *fp;
    char *path;
    char *tmp_path;
    int failed; /* a write failed; commit will refuse */
} dh__atomic_file;

dh_status dh__atomic_open(dh__atomic_file *af, const char *path);
/** fwrite that records failure; returns DH_OK or DH_E_IO (message names the file). */
dh_status dh__atomic_write(dh__atomic_file *af, const void *buf, size_t n);
dh_status dh__atomic_commit(dh__atomic_file *af);
void dh__atomic_abort(dh__atomic_file *af);

/** Open an existing regular file for reading without blocking on FIFOs: O_NONBLOCK
 *  open, fstat, refuse anything but a regular file (DH_E_IO naming what it is), then
 *  blocking reads. *size gets its size (may be NULL). Close *fd yourself. */
dh_status dh__open_regular(const char *path, int *fd, size_t *size);
/** Read a whole regular file into memory (dh__free the result). */
dh_status dh__read_file(const char *path, uint8_t **out, size_t *out_len);

/** Little-endian load/store helpers for file formats. */
static inline uint32_t dh__le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t dh__le64(const uint8_t *p)
{
    return (uint64_t)dh__le32(p) | (uint64_t)dh__le32(p + 4) << 32;
}
static inline void dh__put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void dh__put_le64(uint8_t *p, uint64_t v)
{
    dh__put_le32(p, (uint32_t)v);
    dh__put_le32(p + 4, (uint32_t)(v >> 32));
}

#endif
