/* src/cmd_eval.h -- `dh eval`'s command line (cmd_eval_args.c), shared with the command
 * itself (cmd_eval.c). */
#ifndef DH_CMD_EVAL_H
#define DH_CMD_EVAL_H
#include <stdint.h>
#include <stdio.h>

typedef struct eval_args {
    const char *qc, *dc, *ql, *dl, *pr_csv, *pr_png, *model, *data, *protocol;
    const char *tsne_png, *pca_png, *deephash_dir, *pr_rank_json;
    char dh_paths[4][4096];
    uint64_t rank_at[256];
    size_t n_rank_at;
    uint64_t map_points;
    uint32_t seed;
    uint64_t topk;
    uint32_t radius, threads, bits;
    int32_t ties, no_relevant;
    int json;
    uint64_t at[64];
    size_t n_at;
} eval_args;

/** The usage text of `dh eval`. */
void dh__eval_usage(FILE *fp);
/** Parse argv into *a (zeroed first, defaults set); 0 or an exit code (message printed). */
int dh__eval_parse_args(int argc, char **argv, eval_args *a);
#endif
