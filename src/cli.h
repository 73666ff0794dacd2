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

/* ---- command lines (src/cli_args.c): getopt_long over an option table ---- */
/** How an option is handled: DH_CLI_SET sets an `int` to 1 (no value); DH_CLI_STR stores
 *  the value (`const char *`); DH_CLI_U32 / DH_CLI_F64 parse it into a uint32_t / double
 *  in [lo, hi]; DH_CLI_CALL* pass (flag, value) to the spec's callback: with a required
 *  value, none, or an optional one (only as --name=value). */
enum { DH_CLI_SET = 1, DH_CLI_STR, DH_CLI_U32, DH_CLI_F64, DH_CLI_CALL, DH_CLI_CALL_NOARG,
       DH_CLI_CALL_OPTARG };
/** dh_cli_parse() printed the usage for -h/--help: the command exits 0. */
enum { DH_CLI_HELP = -1 };
typedef struct dh_cli_opt {
    const char *name; /* long name without "--", or NULL */
    char short_name;  /* one letter, or 0 */
    int kind;         /* DH_CLI_* */
    void *dst;        /* SET: int *, STR: const char **, U32: uint32_t *, F64: double * */
    double lo, hi;    /* U32, F64 */
} dh_cli_opt;
/** Callback of DH_CLI_CALL options: `flag` is "--name" (or "-c" for a short-only option),
 *  `val` the value (NULL when none); 0 or an exit code (message printed). */
typedef int (*dh_cli_call)(void *user, const char *flag, const char *val);
typedef struct dh_cli_spec {
    const char *cmd;          /* for messages: "dh <cmd>: ..." */
    void (*usage)(FILE *fp);  /* what -h/--help prints (stdout) */
    const dh_cli_opt *opts;
    size_t n_opts;
    dh_cli_call call;
} dh_cli_spec;
/** Parse argv[1..] (argv[0] is the command name) with getopt_long: --name=value and
 *  --name value, bundled short options (-qk5), `--` ends the options, operands may come
 *  anywhere and are moved to the end: they are argv[*first..argc-1] (first NULL: operands
 *  are a usage error). -h/--help anywhere prints the usage and returns DH_CLI_HELP;
 *  -v/--verbose and -q/--quiet set dh_cli_verbosity() (the last one wins). Long names
 *  may be abbreviated while unambiguous (getopt_long). 0, DH_CLI_HELP or an exit code. */
int dh_cli_parse(const dh_cli_spec *spec, int argc, char **argv, void *user, int *first);
/** 0 with -q/--quiet (errors only), 1 by default (a progress line on a terminal, else one
 *  summary line, on stderr), 2 with -v/--verbose (also details). */
int dh_cli_verbosity(void);

/* ---- `-` for stdin/stdout (src/cli_stdio.c) ---- */
/** If *path is "-", copy stdin (at most DH_CLI_STDIN_MAX bytes) into a temporary file and
 *  point *path at it (stdin is read once: a second "-" input is a usage error). `flag`
 *  names the option in messages. 0 or an exit code (message printed). */
int dh_cli_stdin_path(const char *cmd, const char *flag, const char **path);
#define DH_CLI_STDIN_MAX ((size_t)1 << 34) /* 16 GiB */
/** If *path is "-", point it at a temporary file whose bytes go to stdout when the
 *  command succeeds (one output may be "-"). 0 or an exit code (message printed). */
int dh_cli_stdout_path(const char *cmd, const char *flag, const char **path);
/** True if some output was "-" (reports then go to stderr, not stdout). */
int dh_cli_stdout_taken(void);
/** Where a command's report goes: stdout, or stderr when an output file is stdout. */
FILE *dh_cli_report(void);
/** main(): copy the "-" output to stdout if rc is 0, remove the temporary files; the
 *  exit code (DH_EXIT_IO if stdout could not be written). */
int dh_cli_stdio_finish(int rc);

/* ---- progress (src/cli_progress.c) ---- */
/** A progress line with ETA, on stderr when it is a terminal and not --quiet; a summary
 *  line at the end unless --quiet. */
typedef struct dh_cli_progress {
    const char *cmd, *unit;
    size_t total;
    double t0, last;
    int tty, shown;
} dh_cli_progress;
void dh_cli_progress_start(dh_cli_progress *p, const char *cmd, const char *unit, size_t total);
/** `done` of `total` units; redrawn at most every 0.1 s (and at the end). */
void dh_cli_progress_update(dh_cli_progress *p, size_t done);
/** Clear the line and print "dh <cmd>: <summary>" (unless --quiet). */
void dh_cli_progress_done(dh_cli_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Seconds since dh_cli_progress_start. */
double dh_cli_progress_elapsed(const dh_cli_progress *p);

/** For src/cmd_train_knobs.c (dh train's recipe flags reach it as a two-word argv, see
 *  cmd_train.c): if argv[*i] is `name`, take its value from argv[*i + 1] (advancing *i) and return 1;
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

/** Encode rows [at, at + c) of ds into codes (and u when not NULL); idx is scratch for
 *  c row numbers. Training builds only (src/cli_model_eval.c). */
dh_status dh_cli_encode_rows(dh_model *m, const dh_dataset *ds, size_t at, size_t c,
                             int64_t *idx, uint8_t *codes, float *u);
/** Encode every sample of ds (codes, and u when not NULL) in chunks of 2048 rows (the
 *  same codes as one dh_model_encode_dataset call), updating p to base + rows done.
 *  Training builds only (src/cli_model_eval.c). */
dh_status dh_cli_encode_chunks(dh_model *m, const dh_dataset *ds, uint8_t *codes, float *u,
                               dh_cli_progress *p, size_t base);
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

/** The usage text of `dh index SUB` (NULL: of `dh index`) (src/cmd_index_usage.c). */
void dh_cli_index_usage(FILE *fp, const char *sub);

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
