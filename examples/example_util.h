/* examples/example_util.h -- the few helpers the retrieval examples share:
 * error checking, strict command-line values, and "encode query + database, print mAP".
 * Public API only. */
#ifndef DH_EXAMPLE_UTIL_H
#define DH_EXAMPLE_UTIL_H
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dh.h>

#define CHECK(call)                                                                  \
    do {                                                                             \
        dh_status st_ = (call);                                                      \
        if (st_ != DH_OK) {                                                          \
            fprintf(stderr, "%s failed: %s\n", #call, dh_last_error());              \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

/* -h/--help anywhere in argv: print the usage to stdout and exit 0 (so that no example
 * reads "--help" as a folder or a number). */
static inline void example_help(int argc, char **argv, const char *usage)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: %s %s\n", argv[0], usage);
            exit(0);
        }
}

/* A whole decimal number in [lo, hi], else a message and exit 2 (never atoi's 0). */
static inline uint32_t example_u32(const char *flag, const char *s, uint32_t lo, uint32_t hi)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-' || v < lo || v > hi) {
        fprintf(stderr, "%s: '%s' is not an integer in %u..%u\n", flag, s, lo, hi);
        exit(2);
    }
    return (uint32_t)v;
}

/* The value of option argv[i] (argv[i + 1]), else a message and exit 2. */
static inline const char *example_value(int argc, char **argv, int i)
{
    if (i + 1 >= argc) {
        fprintf(stderr, "%s needs a value\n", argv[i]);
        exit(2);
    }
    return argv[i + 1];
}

/* "Q,T" of --small, else a message and exit 2. */
static inline void example_pair(const char *s, uint32_t *a, uint32_t *b)
{
    char extra;
    if (sscanf(s, "%u,%u%c", a, b, &extra) != 2) {
        fprintf(stderr, "--small: '%s' is not Q,T\n", s);
        exit(2);
    }
}

/* Encode both sets and return mAP@topk (0 = all); multi-hot labels when the data
 * set is multi-label, class ids otherwise. */
static inline double example_map(dh_model *model, const dh_dataset *query, const dh_dataset *db,
                                 uint64_t topk)
{
    uint32_t K = dh_model_n_bits(model), C = dh_dataset_n_classes(db);
    size_t nq = dh_dataset_count(query), nd = dh_dataset_count(db), cb = dh_code_bytes(K);
    uint8_t *qc = malloc(nq * cb), *dc = malloc(nd * cb);
    float *ql = malloc(nq * C * sizeof(float)), *dl = malloc(nd * C * sizeof(float));
    CHECK(dh_model_encode_dataset(model, query, qc, NULL));
    CHECK(dh_model_encode_dataset(model, db, dc, NULL));
    CHECK(dh_dataset_get_labels(query, 0, nq, ql));
    CHECK(dh_dataset_get_labels(db, 0, nd, dl));
    dh_eval_options eo;
    dh_eval_options_init(&eo);
    eo.n_bits = K;
    eo.label_type = DH_LABELS_MULTIHOT_F32; /* shares a label = relevant; also single-label */
    eo.n_classes = C;
    eo.topk = topk < nd ? topk : 0;
    double map = 0;
    CHECK(dh_eval_map(&eo, qc, ql, nq, dc, dl, nd, &map, NULL));
    free(qc);
    free(dc);
    free(ql);
    free(dl);
    return map;
}
#endif
