/* src/cmd_eval_args.c -- `dh eval`: its usage text and command-line parsing (the command
 * is cmd_eval.c). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_eval.h"

static const char *CMD = "eval";

void dh__eval_usage(FILE *fp)
{
    fprintf(fp,
            "usage: dh eval --query-codes Q.npy --db-codes D.npy --query-labels QL.npy\n"
            "               --db-labels DL.npy [options]\n"
            "   or: dh eval --model M.safetensors --data SPEC --protocol NAME [--seed S (1)] [options]\n"
            "       (encodes the protocol's queries and database with the model first; the\n"
            "       protocol's mAP@K is the default --topk; data specs as in 'dh train')\n"
            "\n"
            "Ranks the database by Hamming distance for every query (no sorting: per-distance\n"
            "histograms) and prints mAP, P@N / R@N, P@H<=r and the PR curve by radius.\n"
            "\n"
            "inputs (.npy):\n"
            "  codes   uint8 [n, ceil(K/8)] packed LSB-first (K = 8 x columns unless --bits;\n"
            "          padding bits zero), or sign rows [n, K] of float32/float64/int8\n"
            "          (x >= 0 is bit 1)\n"
            "  labels  int32/int64 [n]: class ids (negative = no label); or multi-hot\n"
            "          [n, C] of uint8/bool/int32/int64 (nonzero = label) or float32/float64\n"
            "          (> 0 = label). Relevant = at least one shared label.\n"
            "\n"
            "options:\n"
            "  --topk N          mAP@N (default: 0 = over the whole database)\n"
            "  --ties MODE       index (default: database order inside a tie, as a stable\n"
            "                    sort) or expected (mean over all orders inside each tie)\n"
            "  --no-relevant P   zero (default: such queries score 0 and count), skip, or\n"
            "                    skip-unlabeled (only queries without any label are left out)\n"
            "  --bits K          code length 1..4096 of packed codes (default 8 x columns)\n"
            "  --radius R        Hamming radius of P@H<=R (default 2)\n"
            "  --at N[,N...]     cut-offs of P@N and R@N (default 100,1000, capped at n_db)\n"
            "  --pr-csv FILE     write the PR curve by radius: radius,precision,recall\n"
            "  --pr-png FILE     draw the PR curve by radius as a PNG chart\n"
            "  --tsne-png FILE   t-SNE map of the query codes (Hamming distances), coloured by\n"
            "                    class (the first label of multi-hot rows), as a PNG\n"
            "  --pca-png FILE    the same map by PCA (fast, linear)\n"
            "  --map-points N    points in those maps: the first N queries (default 1000)\n"
            "  --deephash-dir D  read DeepHash-pytorch's saved codes: D/tst_binary.npy (queries),\n"
            "                    D/trn_binary.npy (database), D/tst_label.npy, D/trn_label.npy\n"
            "  --pr-rank-json F  write the PR curve by rank as DeepHash-pytorch's JSON\n"
            "                    {\"index\": [N...], \"P\": [...], \"R\": [...]}\n"
            "  --pr-rank-at N,.. its cut-offs (default DeepHash-pytorch's 1, 500, 1000, ...,\n"
            "                    10000, capped at the database size)\n"
            "  --json            print the results as one JSON object\n"
            "  -q, --quiet       no progress or summary line (stderr)\n"
            "'-' as a file name: one input read from stdin, one output written to stdout\n"
            "  (the metrics then go to stderr)\n"
            "  --threads N       threads (default: all cores / OMP_NUM_THREADS)\n"
            "under mpirun: --db-codes/--db-labels name rank r's part with %%d ('db-%%d.npy'),\n"
            "  parts in rank order; rank 0 prints what one process prints for the whole\n"
            "  database (docs/scale.md)\n"
            "  -h, --help        this text\n");
}


static int parse_u64(const char *flag, const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-' || v > max)
        return dh_cli_usage_error(CMD, "%s: '%s' is not an integer in 0..%llu", flag, s,
                                  (unsigned long long)max);
    *out = v;
    return 0;
}

static int parse_list(const char *s, eval_args *a)
{
    char buf[1024];
    if (strlen(s) >= sizeof buf) return dh_cli_usage_error(CMD, "--at: list too long");
    strcpy(buf, s);
    a->n_at = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (a->n_at == 64) return dh_cli_usage_error(CMD, "--at: more than 64 cut-offs");
        if (parse_u64("--at", tok, UINT64_MAX, &a->at[a->n_at]) != 0) return DH_EXIT_USAGE;
        if (a->at[a->n_at] == 0) return dh_cli_usage_error(CMD, "--at: cut-offs start at 1");
        a->n_at++;
    }
    return a->n_at ? 0 : dh_cli_usage_error(CMD, "--at: empty list");
}

static int parse_enum(const char *flag, const char *v, const char *const *names, int n,
                      int32_t *out)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(v, names[i])) {
            *out = i;
            return 0;
        }
    return dh_cli_usage_error(CMD, "%s: unknown value '%s'", flag, v);
}

/* One option with its value; 0 or an exit code. */
static int on_option(void *user, const char *f, const char *v)
{
    static const char *const ties[] = {"index", "expected"};
    static const char *const norel[] = {"zero", "skip", "skip-unlabeled"};
    eval_args *a = user;
    uint64_t u = 0;
    if (!strcmp(f, "--query-codes")) a->qc = v;
    else if (!strcmp(f, "--db-codes")) a->dc = v;
    else if (!strcmp(f, "--query-labels")) a->ql = v;
    else if (!strcmp(f, "--db-labels")) a->dl = v;
    else if (!strcmp(f, "--pr-csv")) a->pr_csv = v;
    else if (!strcmp(f, "--pr-png")) a->pr_png = v;
    else if (!strcmp(f, "--tsne-png")) a->tsne_png = v;
    else if (!strcmp(f, "--pca-png")) a->pca_png = v;
    else if (!strcmp(f, "--map-points")) return parse_u64(f, v, 20000, &a->map_points);
    else if (!strcmp(f, "--deephash-dir")) a->deephash_dir = v;
    else if (!strcmp(f, "--pr-rank-json")) a->pr_rank_json = v;
    else if (!strcmp(f, "--pr-rank-at")) {
        char buf[4096];
        if (strlen(v) >= sizeof buf) return dh_cli_usage_error(CMD, "--pr-rank-at: list too long");
        strcpy(buf, v);
        a->n_rank_at = 0;
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            if (a->n_rank_at == 256) return dh_cli_usage_error(CMD, "--pr-rank-at: over 256 cut-offs");
            if (parse_u64(f, tok, UINT64_MAX, &a->rank_at[a->n_rank_at])) return DH_EXIT_USAGE;
            if (!a->rank_at[a->n_rank_at++]) return dh_cli_usage_error(CMD, "--pr-rank-at: cut-offs start at 1");
        }
        if (!a->n_rank_at) return dh_cli_usage_error(CMD, "--pr-rank-at: empty list");
    }
    else if (!strcmp(f, "--model")) a->model = v;
    else if (!strcmp(f, "--data")) a->data = v;
    else if (!strcmp(f, "--protocol")) a->protocol = v;
    else if (!strcmp(f, "--seed")) {
        if (parse_u64(f, v, 0xFFFFFFFFu, &u) != 0) return DH_EXIT_USAGE;
        a->seed = (uint32_t)u;
    }
    else if (!strcmp(f, "--topk")) return parse_u64(f, v, UINT64_MAX, &a->topk);
    else if (!strcmp(f, "--bits")) {
        if (parse_u64(f, v, DH_MAX_BITS, &u) != 0) return DH_EXIT_USAGE;
        if (u == 0) return dh_cli_usage_error(CMD, "--bits: K must be 1..%d", DH_MAX_BITS);
        a->bits = (uint32_t)u;
    }
    else if (!strcmp(f, "--ties")) return parse_enum(f, v, ties, 2, &a->ties);
    else if (!strcmp(f, "--no-relevant")) return parse_enum(f, v, norel, 3, &a->no_relevant);
    else if (!strcmp(f, "--at")) return parse_list(v, a);
    else if (!strcmp(f, "--radius") || !strcmp(f, "--threads")) {
        if (parse_u64(f, v, 4096, &u) != 0) return DH_EXIT_USAGE;
        *(f[2] == 'r' ? &a->radius : &a->threads) = (uint32_t)u;
    } else {
        return dh_cli_usage_error(CMD, "unknown option '%s'", f);
    }
    return 0;
}

/* '-': one input from stdin, one output to stdout (the report then goes to stderr). */
static int stdio_paths(eval_args *a)
{
    const char **in[] = {&a->qc, &a->dc, &a->ql, &a->dl, &a->model};
    const char *in_f[] = {"--query-codes", "--db-codes", "--query-labels", "--db-labels", "--model"};
    const char **out[] = {&a->pr_csv, &a->pr_png, &a->tsne_png, &a->pca_png, &a->pr_rank_json};
    const char *out_f[] = {"--pr-csv", "--pr-png", "--tsne-png", "--pca-png", "--pr-rank-json"};
    int rc = 0;
    for (int i = 0; i < 5 && !rc; i++) rc = dh_cli_stdin_path(CMD, in_f[i], in[i]);
    for (int i = 0; i < 5 && !rc; i++) rc = dh_cli_stdout_path(CMD, out_f[i], out[i]);
    return rc;
}

int dh__eval_parse_args(int argc, char **argv, eval_args *a)
{
    memset(a, 0, sizeof *a);
    a->radius = 2;
    a->seed = 1; /* as dh train */
    static const char *const names[] = {"query-codes", "db-codes", "query-labels", "db-labels",
                                        "pr-csv", "pr-png", "topk", "ties", "no-relevant", "at",
                                        "radius", "threads", "model", "data", "protocol",
                                        "tsne-png", "pca-png", "map-points", "deephash-dir",
                                        "pr-rank-json", "pr-rank-at", "seed", "bits"};
    enum { N = sizeof names / sizeof names[0] };
    dh_cli_opt opts[N + 1];
    for (size_t k = 0; k < N; k++) opts[k] = (dh_cli_opt){names[k], 0, DH_CLI_CALL, NULL, 0, 0};
    opts[N] = (dh_cli_opt){"json", 0, DH_CLI_SET, &a->json, 0, 0};
    const dh_cli_spec spec = {CMD, dh__eval_usage, opts, N + 1, on_option};
    int rc = dh_cli_parse(&spec, argc, argv, a, NULL);
    if (rc) return rc;
    if (a->model || a->data || a->protocol) {
        if (!a->model || !a->data || !a->protocol)
            return dh_cli_usage_error(CMD, "--model, --data and --protocol go together");
        return stdio_paths(a);
    }
    if (a->deephash_dir) { /* DeepHash-pytorch's save_path layout */
        static const char *const dnames[4] = {"tst_binary", "trn_binary", "tst_label", "trn_label"};
        const char **dst[4] = {&a->qc, &a->dc, &a->ql, &a->dl};
        for (int k = 0; k < 4; k++) {
            if (*dst[k]) return dh_cli_usage_error(CMD, "--deephash-dir names all four inputs");
            snprintf(a->dh_paths[k], sizeof a->dh_paths[k], "%s/%s.npy", a->deephash_dir, dnames[k]);
            *dst[k] = a->dh_paths[k];
        }
    }
    const char *missing = !a->qc ? "--query-codes" : !a->dc ? "--db-codes"
                        : !a->ql ? "--query-labels" : !a->dl ? "--db-labels" : NULL;
    if (missing) return dh_cli_usage_error(CMD, "%s is required", missing);
    return stdio_paths(a);
}

