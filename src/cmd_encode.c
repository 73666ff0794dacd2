/* src/cmd_encode.c -- `dh encode`: a model turns a data set (or a protocol's part)
 * into codes: an index file (.dhi) or a .npy code file, plus optional labels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_data.h"

static const char *CMD = "encode";

typedef struct enc_args {
    const char *model, *data, *protocol, *part, *split, *out, *labels_out, *format, *deephash;
    uint32_t seed, threads, size;
} enc_args;

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: dh encode --model MODEL --data SPEC -o OUT [options]\n"
        "       dh encode --model MODEL --data SPEC --deephash-dir DIR [--protocol NAME]\n"
        "  Encode every sample of a data set with a trained model.\n"
        "  -o, --out OUT      OUT.dhi: an index (ids = sample positions);\n"
        "                     OUT.npy: a code file in --format; '-': the .npy to stdout\n"
        "  --deephash-dir DIR DeepHash-pytorch's saved-code layout (what 'dh eval\n"
        "                     --deephash-dir' reads): DIR/tst_binary.npy, trn_binary.npy\n"
        "                     (+-1 float32 rows) and tst_label.npy, trn_label.npy (float32\n"
        "                     multi-hot rows; one-hot for class ids). tst = the protocol's\n"
        "                     queries, trn = its database; without --protocol the data\n"
        "                     spec's test and train splits\n"
        "  --data SPEC        as in 'dh train --help'\n"
        "  --split train|test which file set of the spec (default test)\n"
        "  --protocol NAME --part train|query|database   encode a protocol's part instead\n"
        "  --seed S           protocol seed (default 1, as dh train)\n"
        "  --format F         .npy format: int8 (default; +-1 rows, DeepHash-pytorch style),\n"
        "                     float32, packed (uint8 LSB-first), packbits (numpy.packbits),\n"
        "                     continuous (float32 head outputs before sign)\n"
        "  --labels-out FILE  also write the labels (.npy: int32 class ids, or float32\n"
        "                     multi-hot rows for multi-label data) for 'dh eval'; '-': stdout\n"
        "  --size S           image lists: decode at S x S\n"
        "  --threads N        threads (default: all cores)\n"
        "  --model -          read the model from stdin\n"
        "  -q, --quiet        no progress or summary   -v, --verbose  also what is encoded\n"
        "  -h, --help         this text\n");
}

static int parse(int argc, char **argv, enc_args *a)
{
    memset(a, 0, sizeof *a);
    a->split = NULL;
    a->format = NULL;
    a->seed = 1;
    const dh_cli_opt opts[] = {
        {"model", 0, DH_CLI_STR, &a->model, 0, 0},
        {"data", 0, DH_CLI_STR, &a->data, 0, 0},
        {"protocol", 0, DH_CLI_STR, &a->protocol, 0, 0},
        {"part", 0, DH_CLI_STR, &a->part, 0, 0},
        {"split", 0, DH_CLI_STR, &a->split, 0, 0},
        {"out", 'o', DH_CLI_STR, &a->out, 0, 0},
        {"labels-out", 0, DH_CLI_STR, &a->labels_out, 0, 0},
        {"format", 0, DH_CLI_STR, &a->format, 0, 0},
        {"deephash-dir", 0, DH_CLI_STR, &a->deephash, 0, 0},
        {"seed", 0, DH_CLI_U32, &a->seed, 0, 0xFFFFFFFFu},
        {"threads", 0, DH_CLI_U32, &a->threads, 1, 4096},
        {"size", 0, DH_CLI_U32, &a->size, 8, 4096}};
    const dh_cli_spec spec = {CMD, usage, opts, sizeof opts / sizeof opts[0], NULL};
    int rc = dh_cli_parse(&spec, argc, argv, a, NULL);
    if (rc) return rc;
    if (!a->model || !a->data || (!a->out && !a->deephash))
        return dh_cli_usage_error(CMD, "--model, --data and -o (or --deephash-dir) are required");
    if (a->deephash && (a->out || a->labels_out || a->part || a->split || a->format))
        return dh_cli_usage_error(CMD, "--deephash-dir writes its own four files: no -o, "
                                  "--labels-out, --part, --split or --format");
    if (!a->deephash && !!a->protocol != !!a->part)
        return dh_cli_usage_error(CMD, "--protocol and --part go together");
    if (!a->split) a->split = "test";
    if (!a->format) a->format = "int8";
    const char *fmts[] = {"int8", "float32", "packed", "packbits", "continuous"};
    int ok = 0;
    for (int i = 0; i < 5; i++) ok |= !strcmp(a->format, fmts[i]);
    if (!ok) return dh_cli_usage_error(CMD, "--format: unknown format '%s'", a->format);
    if (strcmp(a->split, "train") && strcmp(a->split, "test"))
        return dh_cli_usage_error(CMD, "--split: '%s' is not train or test", a->split);
    if (a->out && a->labels_out && !strcmp(a->out, "-") && !strcmp(a->labels_out, "-"))
        return dh_cli_usage_error(CMD, "-o and --labels-out cannot both be stdout ('-')");
    if ((rc = dh_cli_stdin_path(CMD, "--model", &a->model)) ||
        (rc = dh_cli_stdout_path(CMD, "-o", &a->out)) ||
        (rc = dh_cli_stdout_path(CMD, "--labels-out", &a->labels_out)))
        return rc;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static dh_status write_labels(const dh_dataset *ds, const char *path)
{
    size_t n = dh_dataset_count(ds), C = dh_dataset_n_classes(ds);
    if (!dh_dataset_is_multilabel(ds)) {
        int32_t *cls = malloc((n + 1) * sizeof(int32_t));
        if (!cls) return DH_E_NO_MEMORY;
        dh_status st = dh_dataset_get_class_ids(ds, 0, n, cls);
        int64_t shape[1] = {(int64_t)n};
        if (st == DH_OK) st = dh_npy_save(path, DH_DTYPE_INT32, 1, shape, cls);
        free(cls);
        return st;
    }
    float *y = malloc((n * C + 1) * sizeof(float));
    if (!y) return DH_E_NO_MEMORY;
    dh_status st = dh_dataset_get_labels(ds, 0, n, y);
    int64_t shape[2] = {(int64_t)n, (int64_t)C};
    if (st == DH_OK) st = dh_npy_save(path, DH_DTYPE_FLOAT32, 2, shape, y);
    free(y);
    return st;
}

static dh_status write_npy(const enc_args *a, const uint8_t *codes, const float *u, size_t n,
                           uint32_t K)
{
    int64_t shape[2] = {(int64_t)n, (int64_t)K};
    size_t cb = dh_code_bytes(K);
    if (!strcmp(a->format, "continuous")) return dh_npy_save(a->out, DH_DTYPE_FLOAT32, 2, shape, u);
    if (!strcmp(a->format, "packed")) {
        shape[1] = (int64_t)cb;
        return dh_npy_save(a->out, DH_DTYPE_UINT8, 2, shape, codes);
    }
    if (!strcmp(a->format, "packbits")) {
        uint8_t *rev = malloc(n * cb + 1);
        if (!rev) return DH_E_NO_MEMORY;
        dh_status st = dh_codes_reverse_bit_order(codes, n, K, rev);
        shape[1] = (int64_t)cb;
        if (st == DH_OK) st = dh_npy_save(a->out, DH_DTYPE_UINT8, 2, shape, rev);
        free(rev);
        return st;
    }
    if (!strcmp(a->format, "float32")) {
        float *f = malloc(n * K * sizeof(float) + 1);
        if (!f) return DH_E_NO_MEMORY;
        dh_status st = dh_codes_unpack_float(codes, n, K, 0, f);
        if (st == DH_OK) st = dh_npy_save(a->out, DH_DTYPE_FLOAT32, 2, shape, f);
        free(f);
        return st;
    }
    if (strcmp(a->format, "int8") != 0)
        return DH_E_INVALID_ARG; /* parse() accepted only known formats */
    int8_t *b = malloc(n * K + 1);
    if (!b) return DH_E_NO_MEMORY;
    dh_status st = dh_codes_unpack_int8(codes, n, K, 0, b);
    if (st == DH_OK) st = dh_npy_save(a->out, DH_DTYPE_INT8, 2, shape, b);
    free(b);
    return st;
}

static dh_status write_deephash_part(const char *dir, const char *part, const dh_dataset *ds,
                                     const uint8_t *codes, uint32_t K)
{
    char path[4200];
    size_t n = dh_dataset_count(ds), C = dh_dataset_n_classes(ds);
    float *f = malloc(n * ((size_t)K > C ? (size_t)K : C) * sizeof(float) + 1);
    if (!f) return DH_E_NO_MEMORY;
    int64_t shape[2] = {(int64_t)n, (int64_t)K};
    snprintf(path, sizeof path, "%s/%s_binary.npy", dir, part);
    dh_status st = dh_codes_unpack_float(codes, n, K, 0, f); /* +1 / -1 */
    if (st == DH_OK) st = dh_npy_save(path, DH_DTYPE_FLOAT32, 2, shape, f);
    shape[1] = (int64_t)C;
    snprintf(path, sizeof path, "%s/%s_label.npy", dir, part);
    if (st == DH_OK) st = dh_dataset_get_labels(ds, 0, n, f); /* one-hot / multi-hot rows */
    if (st == DH_OK) st = dh_npy_save(path, DH_DTYPE_FLOAT32, 2, shape, f);
    free(f);
    return st;
}

/* --deephash-dir: tst = queries (test split), trn = database (train split). */
static int run_deephash(const enc_args *a, dh_model *m, dh_dataset **sets)
{
    int rc;
    if (a->protocol)
        rc = dh_cli_load_protocol(CMD, a->data, a->protocol, a->seed, a->size, &sets[0],
                                  &sets[1], &sets[2]);
    else if (!(rc = dh_cli_load_data(CMD, a->data, 1, a->size, &sets[1])))
        rc = dh_cli_load_data(CMD, a->data, 0, a->size, &sets[2]);
    if (rc || (rc = dh_cli_mkdir(CMD, a->deephash))) return rc;
    const uint32_t K = dh_model_n_bits(m);
    const dh_dataset *parts[2] = {sets[1], sets[2]};
    const char *names[2] = {"tst", "trn"};
    size_t n[2] = {dh_dataset_count(parts[0]), dh_dataset_count(parts[1])};
    if (dh_cli_verbosity() > 1)
        fprintf(stderr, "dh encode: %zu queries (tst) and %zu database items (trn), %u bits\n",
                n[0], n[1], K);
    dh_cli_progress p;
    dh_cli_progress_start(&p, CMD, "samples", n[0] + n[1]);
    dh_status st = DH_OK;
    for (int k = 0; k < 2 && st == DH_OK; k++) {
        uint8_t *codes = malloc(n[k] * dh_code_bytes(K) + 1);
        st = codes ? dh_cli_encode_chunks(m, parts[k], codes, NULL, &p, k ? n[0] : 0) : DH_E_NO_MEMORY;
        if (st == DH_OK) st = write_deephash_part(a->deephash, names[k], parts[k], codes, K);
        free(codes);
    }
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    double dt = dh_cli_progress_elapsed(&p);
    dh_cli_progress_done(&p, "%zu + %zu samples -> %s/{tst,trn}_{binary,label}.npy (%u bits) "
                         "in %.1f s", n[0], n[1], a->deephash, K, dt);
    return 0;
}

static int run(const enc_args *a, dh_dataset **sets)
{
    int rc;
    dh_model *m = NULL;
    dh_status st = dh_model_load(a->model, &m);
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    if (a->deephash) {
        rc = run_deephash(a, m, sets);
        dh_model_free(m);
        return rc;
    }
    dh_dataset *ds;
    if (a->protocol) {
        rc = dh_cli_load_protocol(CMD, a->data, a->protocol, a->seed, a->size, &sets[0], &sets[1],
                                  &sets[2]);
        dh_dataset **p = rc ? NULL : dh_cli_part(a->part, &sets[0], &sets[1], &sets[2]);
        if (!rc && !p)
            rc = dh_cli_usage_error(CMD, "--part: '%s' is not train, query or database", a->part);
        ds = p ? *p : NULL;
    } else {
        rc = dh_cli_load_data(CMD, a->data, !strcmp(a->split, "test"), a->size, &sets[0]);
        ds = sets[0];
    }
    if (rc) {
        dh_model_free(m);
        return rc;
    }
    uint32_t K = dh_model_n_bits(m);
    size_t n = dh_dataset_count(ds);
    if (dh_cli_verbosity() > 1)
        fprintf(stderr, "dh encode: %zu samples of %s, %u-bit model %s\n", n, a->data, K,
                a->model);
    uint8_t *codes = malloc(n * dh_code_bytes(K) + 1);
    float *u = !strcmp(a->format, "continuous") ? malloc(n * K * sizeof(float) + 1) : NULL;
    dh_cli_progress p;
    dh_cli_progress_start(&p, CMD, "samples", n);
    st = codes ? dh_cli_encode_chunks(m, ds, codes, u, &p, 0) : DH_E_NO_MEMORY;
    double dt = dh_cli_progress_elapsed(&p);
    if (st == DH_OK && ends_with(a->out, ".dhi")) {
        dh_index_options io;
        dh_index_options_init(&io);
        io.n_bits = K;
        dh_index *ix = NULL;
        st = dh_index_create(&io, &ix);
        if (st == DH_OK) st = dh_index_add(ix, codes, n);
        if (st == DH_OK) st = dh_index_save(ix, a->out);
        dh_index_free(ix);
    } else if (st == DH_OK) {
        st = write_npy(a, codes, u, n, K);
    }
    if (st == DH_OK && a->labels_out) st = write_labels(ds, a->labels_out);
    free(codes);
    free(u);
    dh_model_free(m);
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    dh_cli_progress_done(&p, "%zu samples -> %s (%u bits) in %.1f s (%.0f samples/s)", n,
                         dh_cli_stdout_taken() ? "stdout" : a->out, K, dt,
                         dt > 0 ? (double)n / dt : 0.0);
    return 0;
}

int dh_cmd_encode(int argc, char **argv)
{
    enc_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc == DH_CLI_HELP ? DH_EXIT_OK : rc;
    if (a.threads) dh_set_num_threads(a.threads);
    dh_dataset *sets[3] = {NULL, NULL, NULL};
    rc = run(&a, sets);
    for (int i = 0; i < 3; i++) dh_dataset_free(sets[i]);
    return rc;
}
