/* src/cmd_encode.c -- `dh encode`: a model turns a data set (or a protocol's part)
 * into codes: an index file (.dhi) or a .npy code file, plus optional labels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_data.h"

static const char *CMD = "encode";

typedef struct enc_args {
    const char *model, *data, *protocol, *part, *split, *out, *labels_out, *format;
    uint32_t seed, threads, size;
} enc_args;

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: dh encode --model MODEL --data SPEC -o OUT [options]\n"
        "  Encode every sample of a data set with a trained model.\n"
        "  -o OUT             OUT.dhi: an index (ids = sample positions);\n"
        "                     OUT.npy: a code file in --format\n"
        "  --data SPEC        as in 'dh train --help'\n"
        "  --split train|test which file set of the spec (default test)\n"
        "  --protocol NAME --part train|query|database   encode a protocol's part instead\n"
        "  --seed S           protocol seed (default 1, as dh train)\n"
        "  --format F         .npy format: int8 (default; +-1 rows, DeepHash-pytorch style),\n"
        "                     float32, packed (uint8 LSB-first), packbits (numpy.packbits),\n"
        "                     continuous (float32 head outputs before sign)\n"
        "  --labels-out FILE  also write the labels (.npy: int32 class ids, or float32\n"
        "                     multi-hot rows for multi-label data) for 'dh eval'\n"
        "  --size S           image lists: decode at S x S\n"
        "  --threads N        threads (default: all cores)\n");
}

static int parse(int argc, char **argv, enc_args *a)
{
    memset(a, 0, sizeof *a);
    a->split = "test";
    a->format = "int8";
    a->seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = 0, e = 0;
        if ((r = dh_cli_flag(argc, argv, &i, "--model", &a->model)) ||
            (r = dh_cli_flag(argc, argv, &i, "--data", &a->data)) ||
            (r = dh_cli_flag(argc, argv, &i, "--protocol", &a->protocol)) ||
            (r = dh_cli_flag(argc, argv, &i, "--part", &a->part)) ||
            (r = dh_cli_flag(argc, argv, &i, "--split", &a->split)) ||
            (r = dh_cli_flag(argc, argv, &i, "-o", &a->out)) ||
            (r = dh_cli_flag(argc, argv, &i, "--out", &a->out)) ||
            (r = dh_cli_flag(argc, argv, &i, "--labels-out", &a->labels_out)) ||
            (r = dh_cli_flag(argc, argv, &i, "--format", &a->format)))
            e = r < 0;
        else if ((r = dh_cli_flag(argc, argv, &i, "--seed", &v)))
            e = r < 0 || dh_cli_u32(CMD, "--seed", v, 0, 0xFFFFFFFFu, &a->seed);
        else if ((r = dh_cli_flag(argc, argv, &i, "--threads", &v)))
            e = r < 0 || dh_cli_u32(CMD, "--threads", v, 1, 4096, &a->threads);
        else if ((r = dh_cli_flag(argc, argv, &i, "--size", &v)))
            e = r < 0 || dh_cli_u32(CMD, "--size", v, 8, 4096, &a->size);
        else return dh_cli_usage_error(CMD, "unknown option '%s'", argv[i]);
        if (e) return r < 0 ? dh_cli_usage_error(CMD, "%s needs a value", argv[i]) : DH_EXIT_USAGE;
    }
    if (!a->model || !a->data || !a->out)
        return dh_cli_usage_error(CMD, "--model, --data and -o are required");
    if (!!a->protocol != !!a->part)
        return dh_cli_usage_error(CMD, "--protocol and --part go together");
    const char *fmts[] = {"int8", "float32", "packed", "packbits", "continuous"};
    int ok = 0;
    for (int i = 0; i < 5; i++) ok |= !strcmp(a->format, fmts[i]);
    if (!ok) return dh_cli_usage_error(CMD, "--format: unknown format '%s'", a->format);
    if (strcmp(a->split, "train") && strcmp(a->split, "test"))
        return dh_cli_usage_error(CMD, "--split: '%s' is not train or test", a->split);
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

static int run(const enc_args *a, dh_dataset **sets)
{
    int rc;
    dh_dataset *ds;
    if (a->protocol) {
        rc = dh_cli_load_protocol(CMD, a->data, a->protocol, a->seed, a->size, &sets[0], &sets[1],
                                  &sets[2]);
        if (rc) return rc;
        dh_dataset **p = dh_cli_part(a->part, &sets[0], &sets[1], &sets[2]);
        if (!p) return dh_cli_usage_error(CMD, "--part: '%s' is not train, query or database", a->part);
        ds = *p;
    } else {
        if ((rc = dh_cli_load_data(CMD, a->data, !strcmp(a->split, "test"), a->size, &sets[0])))
            return rc;
        ds = sets[0];
    }
    dh_model *m = NULL;
    dh_status st = dh_model_load(a->model, &m);
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    uint32_t K = dh_model_n_bits(m);
    size_t n = dh_dataset_count(ds);
    uint8_t *codes = malloc(n * dh_code_bytes(K) + 1);
    float *u = !strcmp(a->format, "continuous") ? malloc(n * K * sizeof(float) + 1) : NULL;
    double t0 = dh_cli_now();
    st = codes ? dh_model_encode_dataset(m, ds, codes, u) : DH_E_NO_MEMORY;
    double dt = dh_cli_now() - t0;
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
    fprintf(stderr, "dh encode: %zu samples -> %s (%u bits) in %.1f s (%.0f samples/s)\n", n,
            a->out, K, dt, dt > 0 ? (double)n / dt : 0.0);
    return 0;
}

int dh_cmd_encode(int argc, char **argv)
{
    if (dh_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    enc_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc;
    if (a.threads) dh_set_num_threads(a.threads);
    dh_dataset *sets[3] = {NULL, NULL, NULL};
    rc = run(&a, sets);
    for (int i = 0; i < 3; i++) dh_dataset_free(sets[i]);
    return rc;
}
