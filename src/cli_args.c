/* src/cli_args.c -- command-line parsing shared by every `dh` command: getopt_long over
 * an option table (--opt=value and --opt value, bundled short options, `--` ends the
 * options, operands anywhere, also under POSIXLY_CORRECT), -h/--help, and the one
 * -v/--verbose, -q/--quiet rule. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int g_verbosity = 1; /* 0 quiet, 1 normal, 2 verbose */

int dh_cli_verbosity(void)
{
    return g_verbosity;
}

enum { MAX_OPTS = 96, ID_BASE = 256, ID_HELP = 1000, ID_VERBOSE, ID_QUIET };

/* getopt's tables for opts + the common -h, -v, -q. */
static int build(const dh_cli_opt *opts, size_t n, struct option *lo, char *shorts)
{
    size_t k = 0, s = 0;
    shorts[s++] = '-'; /* operands come back in order as 1 (whatever POSIXLY_CORRECT says) */
    shorts[s++] = ':'; /* a missing value is ':', not '?' */
    for (size_t i = 0; i < n; i++) {
        int arg = opts[i].kind == DH_CLI_SET || opts[i].kind == DH_CLI_CALL_NOARG ? no_argument
                  : opts[i].kind == DH_CLI_CALL_OPTARG ? optional_argument : required_argument;
        if (opts[i].name)
            lo[k++] = (struct option){opts[i].name, arg, NULL, ID_BASE + (int)i};
        if (opts[i].short_name) {
            shorts[s++] = opts[i].short_name;
            if (arg == required_argument) shorts[s++] = ':';
        }
    }
    lo[k++] = (struct option){"help", no_argument, NULL, ID_HELP};
    lo[k++] = (struct option){"verbose", no_argument, NULL, ID_VERBOSE};
    lo[k++] = (struct option){"quiet", no_argument, NULL, ID_QUIET};
    lo[k] = (struct option){NULL, 0, NULL, 0};
    memcpy(shorts + s, "hvq", 4);
    return 0;
}

/* The option a getopt result names: table index, or -1. */
static int which(const dh_cli_opt *opts, size_t n, int c)
{
    if (c >= ID_BASE && c < ID_BASE + (int)n) return c - ID_BASE;
    for (size_t i = 0; c > 0 && c < 256 && i < n; i++)
        if (opts[i].short_name == c) return (int)i;
    return -1;
}

static void flag_name(const dh_cli_opt *o, char *buf, size_t cap)
{
    if (o->name) snprintf(buf, cap, "--%s", o->name);
    else snprintf(buf, cap, "-%c", o->short_name);
}

static int apply(const char *cmd, const dh_cli_opt *o, const char *v, dh_cli_call call,
                 void *user)
{
    char f[64];
    flag_name(o, f, sizeof f);
    switch (o->kind) {
    case DH_CLI_SET: *(int *)o->dst = 1; return 0;
    case DH_CLI_STR: *(const char **)o->dst = v; return 0;
    case DH_CLI_U32:
        return dh_cli_u32(cmd, f, v, (uint32_t)o->lo, (uint32_t)o->hi, (uint32_t *)o->dst);
    case DH_CLI_F64: return dh_cli_f64(cmd, f, v, o->lo, o->hi, (double *)o->dst);
    default: return call ? call(user, f, v) : DH_EXIT_USAGE;
    }
}

/* '--name' that getopt_long refused: ambiguous (a prefix of several) or unknown. */
static int unknown(const char *cmd, const struct option *lo, const char *arg)
{
    if (strncmp(arg, "--", 2) != 0) return dh_cli_usage_error(cmd, "unknown option '%s'", arg);
    size_t n = strcspn(arg + 2, "="), hits = 0;
    char list[256] = "";
    for (const struct option *o = lo; o->name; o++)
        if (!strncmp(o->name, arg + 2, n) && strlen(list) + strlen(o->name) + 8 < sizeof list) {
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s--%s", hits ? ", " : "",
                     o->name);
            hits++;
        }
    if (hits > 1)
        return dh_cli_usage_error(cmd, "ambiguous option '%.*s' (%s)", (int)n + 2, arg, list);
    return dh_cli_usage_error(cmd, "unknown option '%.*s'", (int)n + 2, arg);
}

int dh_cli_parse(const dh_cli_spec *spec, int argc, char **argv, void *user, int *first)
{
    struct option lo[MAX_OPTS + 4];
    char shorts[2 * MAX_OPTS + 10];
    const char *cmd = spec->cmd;
    if (spec->n_opts > MAX_OPTS) return dh_cli_usage_error(cmd, "internal: too many options");
    build(spec->opts, spec->n_opts, lo, shorts);
    /* pass 1, on a copy: --help anywhere (but not as another option's value) wins */
    char **copy = malloc(((size_t)argc + 1) * sizeof *copy);
    if (!copy) return DH_EXIT_FAIL;
    memcpy(copy, argv, ((size_t)argc + 1) * sizeof *copy);
    int c, help = 0;
    opterr = 0;
    optind = 0; /* glibc: start afresh */
    while ((c = getopt_long(argc, copy, shorts, lo, NULL)) != -1) help |= c == 'h' || c == ID_HELP;
    free(copy);
    if (help) {
        spec->usage(stdout);
        return DH_CLI_HELP;
    }
    optind = 0;
    int n_ops = 0; /* operands so far, in order: ops[0 .. n_ops) */
    char **ops = malloc(((size_t)argc + 1) * sizeof *ops);
    if (!ops) return DH_EXIT_FAIL;
    int rc = 0;
    while (!rc && (c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        if (c == 1) { /* an operand, in its place among the options */
            ops[n_ops++] = optarg;
            continue;
        }
        const char *bad = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        if (c == ':' || c == '?') {
            int i = which(spec->opts, spec->n_opts, optopt);
            char f[64];
            if (i >= 0) flag_name(&spec->opts[i], f, sizeof f);
            if (c == ':') rc = dh_cli_usage_error(cmd, "%s needs a value", i >= 0 ? f : bad);
            else if (i >= 0 && optopt >= ID_BASE)
                rc = dh_cli_usage_error(cmd, "%s takes no value ('%s')", f, bad);
            else if (optopt > 0 && optopt < 256)
                rc = dh_cli_usage_error(cmd, "unknown option '-%c'", optopt);
            else rc = unknown(cmd, lo, bad);
            continue;
        }
        if (c == 'v' || c == ID_VERBOSE) g_verbosity = 2;
        else if (c == 'q' || c == ID_QUIET) g_verbosity = 0;
        else {
            int i = which(spec->opts, spec->n_opts, c);
            rc = i < 0 ? DH_EXIT_USAGE : apply(cmd, &spec->opts[i], optarg, spec->call, user);
        }
    }
    for (int i = optind; !rc && i < argc; i++) ops[n_ops++] = argv[i]; /* after `--` */
    if (!rc && !first && n_ops)
        rc = dh_cli_usage_error(cmd, "unexpected argument '%s'", ops[0]);
    if (!rc && first) { /* the operands, in order, at the end of argv */
        *first = argc - n_ops;
        memmove(argv + *first, ops, (size_t)n_ops * sizeof *ops);
    }
    free(ops);
    return rc;
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

int dh_cli_flag(int argc, char **argv, int *i, const char *name, const char **val)
{
    if (strcmp(argv[*i], name) != 0) return 0;
    if (*i + 1 >= argc) return -1;
    *val = argv[++*i];
    return 1;
}
