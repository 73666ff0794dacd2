/* lib/io/atomic_write.c -- write-to-temporary, fsync, rename: a failed save never
 * destroys the previous file. Also a checked whole-file reader. */
#include "io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static atomic_uint g_tmp_counter;

dh_status dh__atomic_open(dh__atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    if (!path || !*path) return dh__set_error(DH_E_INVALID_ARG, "file path is NULL or empty");
    size_t n = strlen(path) + 64;
    af->path = dh__strdup(path);
    af->tmp_path = dh__alloc(n);
    if (!af->path || !af->tmp_path) {
        dh__atomic_abort(af);
        return DH_E_NO_MEMORY;
    }
    snprintf(af->tmp_path, n, "%s.tmp.%ld.%u", path, (long)getpid(),
             atomic_fetch_add(&g_tmp_counter, 1u));
    int fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !(af->fp = fdopen(fd, "wb"))) {
        int e = errno;
        if (fd >= 0) close(fd);
        dh_status st = dh__set_error(DH_E_IO, "cannot create '%s': %s", af->tmp_path, strerror(e));
        free(af->path);
        free(af->tmp_path);
        memset(af, 0, sizeof *af);
        return st;
    }
    return DH_OK;
}

dh_status dh__atomic_write(dh__atomic_file *af, const void *buf, size_t n)
{
    if (af->failed) return DH_E_IO;
    if (n && fwrite(buf, 1, n, af->fp) != n) {
        af->failed = 1;
        return dh__set_error(DH_E_IO, "write to '%s' failed: %s", af->tmp_path, strerror(errno));
    }
    return DH_OK;
}

static void fsync_dir(const char *path)
{
    char *d = dh__strdup(path);
    if (!d) return;
    char *slash = strrchr(d, '/');
    const char *dir = ".";
    if (slash) {
        if (slash == d) slash[1] = '\0';
        else *slash = '\0';
        dir = d;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(d);
}

dh_status dh__atomic_commit(dh__atomic_file *af)
{
    dh_status st = DH_OK;
    if (af->failed) st = DH_E_IO;
    if (st == DH_OK && fflush(af->fp) != 0)
        st = dh__set_error(DH_E_IO, "flush of '%s' failed: %s", af->tmp_path, strerror(errno));
    if (st == DH_OK && fsync(fileno(af->fp)) != 0)
        st = dh__set_error(DH_E_IO, "fsync of '%s' failed: %s", af->tmp_path, strerror(errno));
    if (fclose(af->fp) != 0 && st == DH_OK)
        st = dh__set_error(DH_E_IO, "close of '%s' failed: %s", af->tmp_path, strerror(errno));
    af->fp = NULL;
    if (st == DH_OK && rename(af->tmp_path, af->path) != 0)
        st = dh__set_error(DH_E_IO, "cannot rename '%s' to '%s': %s", af->tmp_path, af->path,
                           strerror(errno));
    if (st == DH_OK) fsync_dir(af->path);
    else unlink(af->tmp_path);
    free(af->path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
    return st;
}

void dh__atomic_abort(dh__atomic_file *af)
{
    if (af->fp) {
        fclose(af->fp);
        unlink(af->tmp_path);
    }
    free(af->path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
}

dh_status dh__read_file(const char *path, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!path) return dh__set_error(DH_E_INVALID_ARG, "file path is NULL");
    FILE *fp = fopen(path, "rb");
    if (!fp) return dh__set_error(errno == ENOENT ? DH_E_NOT_FOUND : DH_E_IO, "cannot open '%s': %s",
                                  path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(fp);
        return dh__set_error(DH_E_IO, "'%s' is not a regular file", path);
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *buf = dh__alloc(n);
    if (!buf) {
        fclose(fp);
        return DH_E_NO_MEMORY;
    }
    if (n && fread(buf, 1, n, fp) != n) {
        fclose(fp);
        free(buf);
        return dh__set_error(DH_E_IO, "short read of '%s'", path);
    }
    fclose(fp);
    *out = buf;
    *out_len = n;
    return DH_OK;
}
