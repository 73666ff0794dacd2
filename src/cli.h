/* src/cli.h -- the `dh` command-line tool: shared helpers and the subcommand table. */
#ifndef DH_CLI_H
#define DH_CLI_H
#include <stdint.h>
#include <stdio.h>

#include "dh.h"

/* Exit codes (documented in docs/cli.md): 0 ok, 1 a libdh call failed (message
 * printed), 2 bad command line, 3 file not found or unreadable. */
enum { DH_EXIT_OK = 0, DH_EXIT_FAIL = 1, DH_EXIT_USAGE = 2, DH_EXIT_IO = 3 };

typedef int (*dh_cli_fn)(int argc, char **argv); /* argv[0] is the subcommand name */

/** Print "dh <cmd>: <libdh message>" for a failed status; returns the exit code. */
int dh_cli_fail(const char *cmd, dh_status st);
/** Print a usage error naming the bad flag; returns DH_EXIT_USAGE. */
int dh_cli_usage_error(const char *cmd, const char *fmt, ...);
/** True if argv has -h/--help. */
int dh_cli_wants_help(int argc, char **argv);

/** If argv[*i] is `name`, take its value from argv[*i + 1] (advancing *i) and return 1;
 *  -1 if the value is missing; 0 if argv[*i] is another flag. */
int dh_cli_flag(int argc, char **argv, int *i, const char *name, const char **val);
/** Parse an integer/number flag value in [lo, hi]; 0 or a usage-error exit code. */
int dh_cli_u32(const char *cmd, const char *flag, const char *s, uint32_t lo, uint32_t hi,
               uint32_t *out);
int dh_cli_f64(const char *cmd, const char *flag, const char *s, double lo, double hi,
               double *out);
/** Monotonic seconds. */
double dh_cli_now(void);
/** mkdir -p; 0 or DH_EXIT_IO (message printed). */
int dh_cli_mkdir(const char *cmd, const char *dir);

/** dh eval --model: encode a protocol's query/database parts into four temporary .npy
 *  files (codes, labels) in `dir`; *topk gets the protocol's default if 0. 0 or an exit
 *  code (message printed). Training builds only. */
int dh_cli_eval_model_inputs(const char *cmd, const char *model, const char *data,
                             const char *protocol, uint32_t seed, char dir[64],
                             char paths[4][128], uint64_t *topk);
void dh_cli_eval_model_cleanup(const char dir[64], char paths[4][128]);

/** `dh index split` (src/cmd_index_split.c): n_files must be 1. 0 or an exit code. */
int dh_cli_index_split(const char *cmd, const char *path, int n_files, uint32_t shards,
                       const char *pattern);

/* Subcommands; each lives in src/cmd_<name>.c */
int dh_cmd_index(int argc, char **argv);
int dh_cmd_eval(int argc, char **argv);
int dh_cmd_info(int argc, char **argv);
int dh_cmd_demo(int argc, char **argv);
int dh_cmd_train(int argc, char **argv);
int dh_cmd_encode(int argc, char **argv);
int dh_cmd_search(int argc, char **argv);
int dh_cmd_extend(int argc, char **argv);
int dh_cmd_import(int argc, char **argv);
#endif
