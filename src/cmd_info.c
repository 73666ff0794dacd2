/* src/cmd_info.c -- `dh info FILE...`: what a file is and what it holds (index,
 * model or checkpoint safetensors, .npy array). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char *CMD = "info";

static void usage(FILE *fp)
{
    fprintf(fp, "usage: dh info FILE...\n"
                "  Describe libdh files: code indexes (.dhi), models and checkpoints\n"
                "  (safetensors) and .npy arrays. Exit code 1 if a file is malformed.\n"
                "  FILE '-' is read from stdin (once).\n");
}

static const char *head_name(int32_t t)
{
    static const char *names[] = {"identity", "tanh", "scaled-tanh", "sign (STE)", "batch-norm"};
    return t >= 0 && t < 5 ? names[t] : "?";
}

static int info_index(const char *path)
{
    dh_index *ix = NULL;
    dh_status st = dh_index_load_mmap(path, &ix);
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    printf("%s: libdh code index, %u-bit codes, %zu live codes, %zu removed (tombstones)\n", path,
           dh_index_n_bits(ix), dh_index_count(ix), dh_index_n_removed(ix));
    dh_index_free(ix);
    return 0;
}

static int info_model(const char *path)
{
    dh_model *m = NULL;
    dh_status st = dh_model_load(path, &m);
    if (st != DH_OK) {
        fprintf(stderr, "%s: safetensors file, not a loadable libdh model (a checkpoint or "
                        "weights file?)\n", path);
        return dh_cli_fail(CMD, st);
    }
    const dh_model_options *o = dh_model_get_options(m);
    int64_t s[3] = {0, 0, 0};
    int32_t nd = dh_model_input_shape(m, s);
    printf("%s: libdh model\n  encoder   %s\n  code      %u bits, head %s\n", path, o->encoder,
           o->n_bits, head_name(o->head));
    if (nd == 3)
        printf("  input     %lld x %lld x %lld (CHW), mean %g std %g\n", (long long)s[0],
               (long long)s[1], (long long)s[2], (double)o->mean[0], (double)o->std[0]);
    else printf("  input     %lld features\n", (long long)s[0]);
    const char *keys[] = {"train.method", "train.data", "train.protocol", "libdh_version"};
    for (int i = 0; i < 4; i++) {
        const char *v = dh_model_get_metadata(m, keys[i]);
        if (v) printf("  %-14s %s\n", keys[i], v);
    }
    dh_model_free(m);
    return 0;
}

static int info_npy(const char *path)
{
    dh_array *a = NULL;
    dh_status st = dh_npy_load(path, &a);
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    static const char *dt[] = {"?", "uint8", "int8", "int32", "int64", "float32", "float64"};
    int32_t d = dh_array_dtype(a);
    printf("%s: .npy array, %s, shape (", path, d >= 0 && d <= 6 ? dt[d] : "?");
    for (uint32_t i = 0; i < dh_array_ndim(a); i++)
        printf("%s%lld", i ? ", " : "", (long long)dh_array_dim(a, i));
    printf(")\n");
    dh_array_free(a);
    return 0;
}

static int info_one(const char *path)
{
    /* O_NONBLOCK + fstat: a FIFO (or device) is refused instead of blocking forever */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat sb;
    if (fd >= 0 && (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))) {
        close(fd);
        fprintf(stderr, "dh %s: '%s' is not a regular file\n", CMD, path);
        return DH_EXIT_IO;
    }
    FILE *fp = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!fp) {
        if (fd >= 0) close(fd);
        fprintf(stderr, "dh %s: cannot open '%s'\n", CMD, path);
        return DH_EXIT_IO;
    }
    unsigned char b[9] = {0};
    size_t n = fread(b, 1, sizeof b, fp);
    fclose(fp);
    if (n >= 8 && b[0] == 0x89 && !memcmp(b + 1, "DHIX", 4)) return info_index(path);
    if (n >= 6 && b[0] == 0x93 && !memcmp(b + 1, "NUMPY", 5)) return info_npy(path);
    if (n == 9 && b[8] == '{') return info_model(path);
    fprintf(stderr, "dh %s: '%s' is not a libdh index, safetensors or .npy file\n", CMD, path);
    return DH_EXIT_FAIL;
}

int dh_cmd_info(int argc, char **argv)
{
    const dh_cli_spec spec = {CMD, usage, NULL, 0, NULL};
    int first = argc, rc = dh_cli_parse(&spec, argc, argv, NULL, &first);
    if (rc) return rc == DH_CLI_HELP ? DH_EXIT_OK : rc;
    if (first >= argc) {
        usage(stderr);
        return DH_EXIT_USAGE;
    }
    for (int i = first; i < argc; i++) {
        const char *path = argv[i];
        int r = dh_cli_stdin_path(CMD, "FILE", &path);
        if (!r) r = info_one(path);
        if (r && !rc) rc = r;
    }
    return rc;
}
