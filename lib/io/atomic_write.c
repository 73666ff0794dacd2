/* lib/io/atomic_write.c -- write-to-temporary, fsync, rename: a failed save never
 * destroys the previous file. Also a checked whole-file reader. */
#include "io/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static atomic_uint g_tmp_counter;

/* "<dir>/" of path (with the slash), or "" for a bare name; dh__free the result. */
static char *dir_prefix(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) + 1 : 0;
    char *d = dh__alloc(n + 1);
    if (d) memcpy(d, path, n), d[n] = '\0';
    *base = path + n;
    return d;
}

/* Remove "<base>.tmp.<pid>.<k>" files beside path left by processes that no longer
 * exist (kill -9 during a save): regular files only, owned by this user. */
static void clean_stale_temps(const char *path)
{
    const char *base;
    char *dir = dir_prefix(path, &base);
    if (!dir) return;
    size_t bl = strlen(base);
    DIR *d = opendir(dir[0] ? dir : ".");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const char *nm = e->d_name;
        if (strncmp(nm, base, bl) || strncmp(nm + bl, ".tmp.", 5)) continue;
        char *end;
        errno = 0;
        long pid = strtol(nm + bl + 5, &end, 10);
        if (errno || end == nm + bl + 5 || *end != '.' || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours */
        struct stat sb;
        if (fstatat(dirfd(d), nm, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode) ||
            sb.st_uid != geteuid())
            continue;
        (void)unlinkat(dirfd(d), nm, 0);
    }
    if (d) closedir(d);
    dh__free(dir);
}

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
    clean_stale_temps(path);
    /* a fresh name each try, created exclusively (never through a planted symlink) */
    int fd = -1, e = 0;
    for (int attempt = 0; attempt < 64 && fd < 0; attempt++) {
        uint64_t r = (uint64_t)dh__now_seconds() * 0x9E3779B97F4A7C15ull ^
                     (uint64_t)atomic_fetch_add(&g_tmp_counter, 1u) << 20 ^ (uint64_t)attempt;
        r ^= (uint64_t)(uintptr_t)af; /* differs between threads */
        snprintf(af->tmp_path, n, "%s.tmp.%ld.%llx", path, (long)getpid(),
                 (unsigned long long)(r & 0xffffffffffull));
        fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        e = errno;
        if (fd < 0 && e != EEXIST) break;
    }
    /* re-saving keeps the existing file's permissions (and owner, where allowed) */
    struct stat sb;
    if (fd >= 0 && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
        (void)fchmod(fd, sb.st_mode & 07777);
        if (sb.st_uid != geteuid() || sb.st_gid != getegid())
            (void)fchown(fd, sb.st_uid, sb.st_gid);
    }
    if (fd < 0 || !(af->fp = fdopen(fd, "wb"))) {
        if (fd >= 0) e = errno, close(fd), unlink(af->tmp_path);
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

dh_status dh__open_regular(const char *path, int *fd_out, size_t *size)
{
    *fd_out = -1;
    if (!path) return dh__set_error(DH_E_INVALID_ARG, "file path is NULL");
    /* O_NONBLOCK: opening a FIFO with no writer must not hang; cleared below */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return dh__set_error(errno == ENOENT ? DH_E_NOT_FOUND : DH_E_IO, "cannot open '%s': %s",
                             path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int fifo = S_ISFIFO(sb.st_mode), dir = S_ISDIR(sb.st_mode);
        close(fd);
        return dh__set_error(DH_E_IO, "'%s' is not a regular file (%s)", path,
                             fifo ? "a FIFO" : dir ? "a directory" : "a device or socket");
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    *fd_out = fd;
    if (size) *size = (size_t)sb.st_size;
    return DH_OK;
}

dh_status dh__read_file(const char *path, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    int fd;
    size_t n;
    DH_TRY(dh__open_regular(path, &fd, &n));
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        close(fd);
        return dh__set_error(DH_E_IO, "cannot open '%s': %s", path, strerror(errno));
    }
    uint8_t *buf = dh__alloc(n);
    if (!buf) {
        fclose(fp);
        return DH_E_NO_MEMORY;
    }
    if (n && fread(buf, 1, n, fp) != n) {
        fclose(fp);
        dh__free(buf);
        return dh__set_error(DH_E_IO, "short read of '%s' (%zu bytes expected; truncated "
                             "while reading?)", path, n);
    }
    fclose(fp);
    *out = buf;
    *out_len = n;
    return DH_OK;
}
