/* src/cli_args.c -- flag parsing shared by the train/encode/search/demo commands. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int dh_cli_flag(int argc, char **argv, int *i, const char *name, const char **val)
{
    if (strcmp(argv[*i], name) != 0) return 0;
    if (*i + 1 >= argc) return -1;
    *val = argv[++*i];
    return 1;
}

int dh_cli_u32(const char *cmd, const char *flag, const char *s, uint32_t lo, uint32_t hi,
               uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-' || v < lo || v > hi)
        return dh_cli_usage_error(cmd, "%s: '%s' is not an integer in %u..%u", flag, s, lo, hi);
    *out = (uint32_t)v;
    return 0;
}

int dh_cli_f64(const char *cmd, const char *flag, const char *s, double lo, double hi,
               double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= lo && v <= hi))
        return dh_cli_usage_error(cmd, "%s: '%s' is not a number in %g..%g", flag, s, lo, hi);
    *out = v;
    return 0;
}

