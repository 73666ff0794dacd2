/* src/main.c -- `dh`: train, encode, index, search, eval, demo, info. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    dh_cli_fn fn;
    const char *summary;
} commands[] = {
    /* @@COMMANDS (one line per subcommand, keep alphabetical) */
#ifndef DH_NO_TRAINING
    {"demo", dh_cmd_demo, "train, index and evaluate on Fashion-MNIST; writes pictures"},
#endif
#ifndef DH_NO_TRAINING
    {"encode", dh_cmd_encode, "encode a data set with a model into an index or .npy codes"},
#endif
    {"eval", dh_cmd_eval, "retrieval metrics from query/database codes and labels"},
#ifndef DH_NO_TRAINING
    {"extend", dh_cmd_extend, "add new classes to a model + index (class-incremental session)"},
#endif
#ifndef DH_NO_TRAINING
    {"import", dh_cmd_import, "make a libdh model from a trained network's weights (PyTorch)"},
#endif
    {"index", dh_cmd_index, "build, extend, inspect and search bit-packed code indexes"},
    {"info", dh_cmd_info, "describe a libdh file (index, model, .npy)"},
#ifndef DH_NO_TRAINING
    {"search", dh_cmd_search, "encode query images with a model and search an index"},
#endif
#ifndef DH_NO_TRAINING
    {"train", dh_cmd_train, "train an encoder + hash head with a deep-hashing loss"},
#endif
};

int dh_cli_fail(const char *cmd, dh_status st)
{
    fprintf(stderr, "dh %s: %s (%s)\n", cmd, dh_last_error(), dh_status_str(st));
    return st == DH_E_NOT_FOUND || st == DH_E_IO ? DH_EXIT_IO : DH_EXIT_FAIL;
}

int dh_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "dh %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'dh %s --help')\n", cmd);
    return DH_EXIT_USAGE;
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: dh [-V|--version] <command> [options]   (libdh %s)\n\ncommands:\n",
            dh_version_string());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(fp, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n'dh help <command>' or 'dh <command> --help' describes each command.\n"
                "every command: --opt=value or --opt value, bundled short options (-qk5),\n"
                "  '--' ends the options, '-' is stdin/stdout where a file is read or written,\n"
                "  -q/--quiet (errors only), -v/--verbose (more detail), -h/--help; progress\n"
                "  lines with ETA on a terminal (stderr), one summary line otherwise\n"
                "exit codes: 0 ok, 1 failure, 2 usage error, 3 file not found/unreadable\n");
}

static dh_cli_fn find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name)) return commands[i].fn;
    return NULL;
}

/* `dh help CMD [SUB]`: exactly what `dh CMD [SUB] --help` prints. */
static int help(int argc, char **argv)
{
    if (argc < 3) {
        usage(stdout);
        return DH_EXIT_OK;
    }
    dh_cli_fn fn = find(argv[2]);
    if (!fn) {
        fprintf(stderr, "dh help: unknown command '%s'\n", argv[2]);
        usage(stderr);
        return DH_EXIT_USAGE;
    }
    char *args[8];
    int n = 0;
    for (int i = 2; i < argc && n < 6; i++) args[n++] = argv[i];
    args[n++] = (char *)"--help";
    args[n] = NULL;
    return fn(n, args);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? DH_EXIT_USAGE : DH_EXIT_OK;
    }
    if (!strcmp(argv[1], "help")) return help(argc, argv);
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("dh %s\n", dh_version_string());
        return DH_EXIT_OK;
    }
    dh_cli_fn fn = find(argv[1]);
    if (fn) return dh_cli_stdio_finish(fn(argc - 1, argv + 1));
    fprintf(stderr, "dh: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return DH_EXIT_USAGE;
}
