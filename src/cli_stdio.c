/* src/cli_stdio.c -- `-` as a file name: stdin is copied into a temporary file (bounded;
 * every reader then sees a seekable file, so index files, .npy, .npz and models all
 * work), and an output named `-` is written to a temporary file that goes to stdout
 * once the command succeeded (the library writes files atomically, by path). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static char g_in[4096], g_out[4096]; /* temporary files; "" when unused */

static int make_temp(const char *cmd, const char *what, char *buf, size_t cap)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    if (snprintf(buf, cap, "%s/dh-%s-XXXXXX", dir, what) >= (int)cap) {
        buf[0] = '\0';
        fprintf(stderr, "dh %s: TMPDIR is too long\n", cmd);
        return DH_EXIT_IO;
    }
    int fd = mkstemp(buf);
    if (fd < 0) {
        fprintf(stderr, "dh %s: cannot create a temporary file in %s: %s\n", cmd, dir,
                strerror(errno));
        buf[0] = '\0';
        return DH_EXIT_IO;
    }
    close(fd);
    return 0;
}

int dh_cli_stdin_path(const char *cmd, const char *flag, const char **path)
{
    if (!*path || strcmp(*path, "-") != 0) return 0;
    if (g_in[0]) return dh_cli_usage_error(cmd, "%s: stdin ('-') can be read only once", flag);
    int rc = make_temp(cmd, "stdin", g_in, sizeof g_in);
    if (rc) return rc;
    FILE *fp = fopen(g_in, "wb");
    if (!fp) {
        fprintf(stderr, "dh %s: %s: cannot write %s: %s\n", cmd, flag, g_in, strerror(errno));
        return DH_EXIT_IO;
    }
    char buf[1 << 16];
    size_t got, total = 0;
    while ((got = fread(buf, 1, sizeof buf, stdin)) > 0) {
        total += got;
        if (total > DH_CLI_STDIN_MAX || fwrite(buf, 1, got, fp) != got) {
            fclose(fp);
            fprintf(stderr, "dh %s: %s: stdin %s\n", cmd, flag,
                    total > DH_CLI_STDIN_MAX ? "is over the 16 GiB limit"
                                             : "could not be copied to a temporary file");
            return DH_EXIT_IO;
        }
    }
    int bad = ferror(stdin);
    if (fclose(fp) != 0 || bad) {
        fprintf(stderr, "dh %s: %s: cannot read stdin\n", cmd, flag);
        return DH_EXIT_IO;
    }
    if (total == 0) {
        fprintf(stderr, "dh %s: %s: stdin is empty\n", cmd, flag);
        return DH_EXIT_IO;
    }
    *path = g_in;
    return 0;
}

int dh_cli_stdout_path(const char *cmd, const char *flag, const char **path)
{
    if (!*path || strcmp(*path, "-") != 0) return 0;
    if (g_out[0]) return dh_cli_usage_error(cmd, "%s: only one output can be stdout ('-')", flag);
    int rc = make_temp(cmd, "stdout", g_out, sizeof g_out);
    if (rc) return rc;
    *path = g_out;
    return 0;
}

int dh_cli_stdout_taken(void)
{
    return g_out[0] != '\0';
}

FILE *dh_cli_report(void)
{
    return g_out[0] ? stderr : stdout;
}

static int copy_out(void)
{
    FILE *fp = fopen(g_out, "rb");
    if (!fp) return DH_EXIT_IO;
    char buf[1 << 16];
    size_t got;
    int rc = 0;
    fflush(stdout);
    while (!rc && (got = fread(buf, 1, sizeof buf, fp)) > 0)
        if (fwrite(buf, 1, got, stdout) != got) rc = DH_EXIT_IO;
    if (ferror(fp)) rc = DH_EXIT_IO;
    fclose(fp);
    if (fflush(stdout) != 0) rc = DH_EXIT_IO;
    return rc;
}

int dh_cli_stdio_finish(int rc)
{
    if (g_out[0]) {
        if (rc == 0 && (rc = copy_out()) != 0)
            fprintf(stderr, "dh: cannot write the output to stdout\n");
        remove(g_out);
        g_out[0] = '\0';
    }
    if (g_in[0]) {
        remove(g_in);
        g_in[0] = '\0';
    }
    return rc;
}
