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
    uint32_t k, json, threads, size;
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
        "  -k K               results per query (default 10)\n"
        "  --json             JSON output: {\"k\", \"n_bits\", \"results\": [{\"query\", \"ids\",\n"
        "                     \"distances\"}, ...]} (as 'dh index search --json')\n"
        "  --threads N        threads (default: all cores)\n"
        "text output: one line 'query rank id distance' per result.\n");
}

static int parse(int argc, char **argv, search_args *a)
{
    memset(a, 0, sizeof *a);
    a->k = 10;
    a->split = "test";
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = 0, e = 0;
        if (!strcmp(argv[i], "--json")) a->json = 1;
        else if ((r = dh_cli_flag(argc, argv, &i, "--index", &a->index)) ||
                 (r = dh_cli_flag(argc, argv, &i, "--model", &a->model)) ||
                 (r = dh_cli_flag(argc, argv, &i, "--data", &a->data)) ||
                 (r = dh_cli_flag(argc, argv, &i, "--split", &a->split)))
            e = r < 0;
        else if ((r = dh_cli_flag(argc, argv, &i, "--image", &v))) {
            if (r > 0 && a->n_images == 256) return dh_cli_usage_error(CMD, "at most 256 --image");
            if (r > 0) a->images[a->n_images++] = v;
            e = r < 0;
        } else if ((r = dh_cli_flag(argc, argv, &i, "-k", &v)))
            e = r < 0 || dh_cli_u32(CMD, "-k", v, 1, 1000000, &a->k);
        else if ((r = dh_cli_flag(argc, argv, &i, "--threads", &v)))
            e = r < 0 || dh_cli_u32(CMD, "--threads", v, 1, 4096, &a->threads);
        else return dh_cli_usage_error(CMD, "unknown option '%s'", argv[i]);
        if (e) return r < 0 ? dh_cli_usage_error(CMD, "%s needs a value", argv[i]) : DH_EXIT_USAGE;
    }
    if (!a->index || !a->model) return dh_cli_usage_error(CMD, "--index and --model are required");
    if (!a->n_images == !a->data)
        return dh_cli_usage_error(CMD, "give either --image files or --data");
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
    if (!codes || !dist || !ids) rc = DH_EXIT_FAIL;
    else if (a->data) st = dh_model_encode_dataset(m, *ds, codes, NULL);
    else rc = encode_images(a, m, codes);
    if (!rc && st == DH_OK) st = dh_index_search(ix, codes, nq, a->k, dist, ids);
    if (!rc && st != DH_OK) rc = dh_cli_fail(CMD, st);
    if (!rc) print_results(a, K, nq, dist, ids);
    free(codes);
    free(dist);
    free(ids);
    return rc;
}

int dh_cmd_search(int argc, char **argv)
{
    if (dh_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    search_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc;
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
