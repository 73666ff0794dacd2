/* src/cmd_search.c -- `dh search`: encode query images (files or a data set) with a
 * model and rank an index's codes by Hamming distance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>
#include <stb_image_resize.h>

#include "cli.h"
#include "cli_data.h"

static const char *CMD = "search";

typedef struct search_args {
    const char *index, *model, *data, *split;
    const char *images[256];
    int n_images;
    uint32_t k, threads, size;
    int json;
} search_args;

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: dh search --index DB.dhi --model MODEL (--image FILE... | --data SPEC) [options]\n"
        "  Encode the queries with the model and print each one's k nearest database codes\n"
        "  (ties: the code added first). For query codes use 'dh index search'.\n"
        "  --image FILE       a query image (JPEG, PNG, BMP, ...; resized to the model's\n"
        "                     input); repeat for more\n"
        "  --data SPEC        every sample of a data set (see 'dh train --help');\n"
        "                     --split train|test (default test)\n"
        "  -k, --k K          results per query (default 10)\n"
        "  --json             JSON output: {\"k\", \"n_bits\", \"results\": [{\"query\", \"ids\",\n"
        "                     \"distances\"}, ...]} (as 'dh index search --json')\n"
        "  --threads N        threads (default: all cores)\n"
        "  -q, --quiet        no progress or summary line (stderr)\n"
        "  -h, --help         this text\n"
        "  any one of --index, --model and --image may be '-' (read from stdin)\n"
        "text output: one line 'query rank id distance' per result.\n");
}

static int on_option(void *user, const char *flag, const char *v)
{
    search_args *a = user;
    (void)flag;
    if (a->n_images == 256) return dh_cli_usage_error(CMD, "at most 256 --image");
    a->images[a->n_images++] = v;
    return 0;
}

static int parse(int argc, char **argv, search_args *a)
{
    memset(a, 0, sizeof *a);
    a->k = 10;
    a->split = "test";
    const dh_cli_opt opts[] = {
        {"index", 0, DH_CLI_STR, &a->index, 0, 0},
        {"model", 0, DH_CLI_STR, &a->model, 0, 0},
        {"data", 0, DH_CLI_STR, &a->data, 0, 0},
        {"split", 0, DH_CLI_STR, &a->split, 0, 0},
        {"image", 0, DH_CLI_CALL, NULL, 0, 0},
        {"k", 'k', DH_CLI_U32, &a->k, 1, 1000000},
        {"json", 0, DH_CLI_SET, &a->json, 0, 0},
        {"threads", 0, DH_CLI_U32, &a->threads, 1, 4096}};
    const dh_cli_spec spec = {CMD, usage, opts, sizeof opts / sizeof opts[0], on_option};
    int rc = dh_cli_parse(&spec, argc, argv, a, NULL);
    if (rc) return rc;
    if (!a->index || !a->model) return dh_cli_usage_error(CMD, "--index and --model are required");
    if (!a->n_images == !a->data)
        return dh_cli_usage_error(CMD, "give either --image files or --data");
    if ((rc = dh_cli_stdin_path(CMD, "--index", &a->index)) ||
        (rc = dh_cli_stdin_path(CMD, "--model", &a->model)))
        return rc;
    for (int i = 0; i < a->n_images; i++)
        if ((rc = dh_cli_stdin_path(CMD, "--image", &a->images[i]))) return rc;
    return 0;
}

/* Decode + resize image files to the model's input, then encode them. */
static int encode_images(const search_args *a, dh_model *m, uint8_t *codes)
{
    int64_t shape[3];
    if (dh_model_input_shape(m, shape) != 3)
        return dh_cli_usage_error(CMD, "the model takes feature rows, not images; use --data");
    int C = (int)shape[0], H = (int)shape[1], W = (int)shape[2];
    uint8_t *img = malloc((size_t)H * (size_t)W * (size_t)C);
    if (!img) return DH_EXIT_FAIL;
    size_t cb = dh_code_bytes(dh_model_n_bits(m));
    for (int i = 0; i < a->n_images; i++) {
        int w, h, c;
        uint8_t *px = stbi_load(a->images[i], &w, &h, &c, C);
        if (!px) {
            fprintf(stderr, "dh %s: cannot decode '%s': %s\n", CMD, a->images[i],
                    stbi_failure_reason());
            free(img);
            return DH_EXIT_IO;
        }
        int ok = stbir_resize_uint8(px, w, h, 0, img, W, H, 0, C);
        stbi_image_free(px);
        dh_status st = ok ? dh_model_encode(m, img, 1, (uint32_t)H, (uint32_t)W, (uint32_t)C,
                                            codes + (size_t)i * cb, NULL)
                          : DH_E_NO_MEMORY;
        if (st != DH_OK) {
            free(img);
            return dh_cli_fail(CMD, st);
        }
    }
    free(img);
    return 0;
}

static void print_results(const search_args *a, uint32_t K, size_t nq, const int32_t *dist,
                          const int64_t *ids)
{
    if (a->json) printf("{\"k\": %u, \"n_bits\": %u, \"results\": [", a->k, K);
    for (size_t q = 0; q < nq; q++) {
        if (a->json) printf("%s\n {\"query\": %zu, \"ids\": [", q ? "," : "", q);
        for (uint32_t r = 0; r < a->k; r++) {
            size_t j = q * a->k + r;
            if (ids[j] < 0) break;
            if (a->json) printf("%s%lld", r ? ", " : "", (long long)ids[j]);
            else printf("%zu %u %lld %d\n", q, r, (long long)ids[j], dist[j]);
        }
        if (a->json) {
            printf("], \"distances\": [");
            for (uint32_t r = 0; r < a->k && ids[q * a->k + r] >= 0; r++)
                printf("%s%d", r ? ", " : "", dist[q * a->k + r]);
            printf("]}");
        }
    }
    if (a->json) printf("\n]}\n");
}

/* --data queries: encoded and searched in chunks, with the progress line between. */
static dh_status search_data(const search_args *a, dh_index *ix, dh_model *m,
                             const dh_dataset *ds, uint8_t *codes, int32_t *dist, int64_t *ids,
                             dh_cli_progress *p)
{
    const size_t nq = dh_dataset_count(ds), chunk = 2048, cb = dh_code_bytes(dh_model_n_bits(m));
    int64_t *idx = malloc(chunk * sizeof *idx);
    if (!idx) return DH_E_NO_MEMORY;
    dh_status st = DH_OK;
    for (size_t at = 0; st == DH_OK && at < nq; at += chunk) {
        size_t c = nq - at < chunk ? nq - at : chunk;
        st = dh_cli_encode_rows(m, ds, at, c, idx, codes + at * cb, NULL);
        if (st == DH_OK)
            st = dh_index_search(ix, codes + at * cb, c, a->k, dist + at * a->k, ids + at * a->k);
        dh_cli_progress_update(p, at + c);
    }
    free(idx);
    return st;
}

static int run(const search_args *a, dh_index *ix, dh_model *m, dh_dataset **ds)
{
    uint32_t K = dh_model_n_bits(m);
    if (K != dh_index_n_bits(ix))
        return dh_cli_usage_error(CMD, "the model makes %u-bit codes, the index holds %u-bit codes",
                                  K, dh_index_n_bits(ix));
    int rc = 0;
    size_t nq = (size_t)a->n_images;
    if (a->data) {
        if ((rc = dh_cli_load_data(CMD, a->data, !strcmp(a->split, "test"), a->size, ds))) return rc;
        nq = dh_dataset_count(*ds);
    }
    uint8_t *codes = malloc(nq * dh_code_bytes(K) + 1);
    int32_t *dist = malloc(nq * a->k * sizeof(int32_t) + 1);
    int64_t *ids = malloc(nq * a->k * sizeof(int64_t) + 1);
    dh_status st = DH_OK;
    dh_cli_progress p;
    dh_cli_progress_start(&p, CMD, "queries", nq);
    if (!codes || !dist || !ids) rc = DH_EXIT_FAIL;
    else if (a->data) st = search_data(a, ix, m, *ds, codes, dist, ids, &p);
    else if (!(rc = encode_images(a, m, codes))) st = dh_index_search(ix, codes, nq, a->k, dist, ids);
    if (!rc && st != DH_OK) rc = dh_cli_fail(CMD, st);
    if (!rc) print_results(a, K, nq, dist, ids);
    if (!rc) {
        double dt = dh_cli_progress_elapsed(&p);
        dh_cli_progress_done(&p, "%zu queries, k = %u, against %zu codes in %.2f s (%.0f "
                             "queries/s)", nq, a->k, dh_index_count(ix), dt,
                             dt > 0 ? (double)nq / dt : 0.0);
    }
    free(codes);
    free(dist);
    free(ids);
    return rc;
}

int dh_cmd_search(int argc, char **argv)
{
    search_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc == DH_CLI_HELP ? DH_EXIT_OK : rc;
    if (a.threads) dh_set_num_threads(a.threads);
    dh_index *ix = NULL;
    dh_model *m = NULL;
    dh_dataset *ds = NULL;
    dh_status st = dh_index_load_mmap(a.index, &ix);
    if (st == DH_OK) st = dh_model_load(a.model, &m);
    rc = st != DH_OK ? dh_cli_fail(CMD, st) : run(&a, ix, m, &ds);
    dh_dataset_free(ds);
    dh_model_free(m);
    dh_index_free(ix);
    return rc;
}
