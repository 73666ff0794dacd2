/* examples/example_util.h -- the few helpers the retrieval examples share:
 * error checking, and "encode query + database, print mAP". Public API only. */
#ifndef DH_EXAMPLE_UTIL_H
#define DH_EXAMPLE_UTIL_H
#include <stdio.h>
#include <stdlib.h>

#include <dh.h>

#define CHECK(call)                                                                  \
    do {                                                                             \
        dh_status st_ = (call);                                                      \
        if (st_ != DH_OK) {                                                          \
            fprintf(stderr, "%s failed: %s\n", #call, dh_last_error());              \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

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
