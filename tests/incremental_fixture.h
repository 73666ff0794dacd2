/* tests/incremental_fixture.h -- synthetic class-incremental data shared by
 * check_incremental_session.c and check_train_distill.c: class-clustered feature rows,
 * a small mlp model, trainer options, losses and mAP of queries against an index. */
#ifndef DH_TESTS_INCREMENTAL_FIXTURE_H
#define DH_TESTS_INCREMENTAL_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* D_ features, CS_ classes (OLDC_ of them in session 0), PER_ rows per class, K = KS_ */
enum { D_ = 24, CS_ = 5, PER_ = 60, OLDC_ = 3, KS_ = 16 };

static inline double fx_urand(uint64_t *s) { return (double)(dh_test_rand(s) >> 11) * 0x1.0p-53; }

/* n rows of classes [c0, c0 + nc): class c shifts coordinates c, c + 5, ... by 1.5. */
static inline dh_dataset *make_set(int c0, int nc, int per, uint64_t seed, int32_t *cls_out)
{
    size_t n = (size_t)nc * (size_t)per;
    float *x = malloc(n * D_ * sizeof(float));
    int32_t *y = malloc(n * sizeof(int32_t));
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        y[i] = c0 + (int32_t)(i % (size_t)nc);
        for (size_t d = 0; d < D_; d++)
            x[i * D_ + d] =
                (float)((d % CS_ == (size_t)y[i] ? 1.5 : 0.0) + (fx_urand(&s) - 0.5) * 2);
    }
    if (cls_out) memcpy(cls_out, y, n * sizeof(int32_t));
    dh_dataset *ds = NULL;
    ck_assert_dh_ok(dh_dataset_from_features(x, n, D_, y, NULL, CS_, &ds));
    free(x), free(y);
    return ds;
}

static inline dh_model *make_model(uint64_t seed)
{
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = "mlp:24-48";
    mo.n_bits = KS_;
    mo.head = DH_LOSS_HEAD_TANH;
    mo.seed = seed;
    dh_model *m = NULL;
    ck_assert_dh_ok(dh_model_create(&mo, &m));
    return m;
}

static inline void train_opts(dh_trainer_options *to, uint32_t epochs)
{
    dh_trainer_options_init(to);
    to->epochs = epochs;
    to->optimizer = DH_OPTIM_ADAM;
    to->lr = 3e-3;
    to->batch_size = 32;
}

static inline dh_loss *session_loss(const char *m, uint64_t n_train)
{
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = KS_, o.n_classes = CS_, o.n_train = n_train;
    dh_loss *L = NULL;
    ck_assert_dh_ok(dh_loss_create(m, &o, &L));
    return L;
}

/* An empty index of `bits`-bit codes. */
static inline dh_index *new_index(uint32_t bits)
{
    dh_index_options io;
    dh_index_options_init(&io);
    io.n_bits = bits;
    dh_index *ix = NULL;
    ck_assert_dh_ok(dh_index_create(&io, &ix));
    return ix;
}

/* Class ids [n] -> one-hot rows [n, CS_] (calloc'ed). */
static inline float *onehot(const int32_t *cls, size_t n)
{
    float *y = calloc(n * CS_ + 1, sizeof(float));
    for (size_t i = 0; i < n; i++) y[i * CS_ + (size_t)cls[i]] = 1;
    return y;
}

/* mAP@all of queries q (classes qc) against the index's rows (labels dbc). */
static inline double index_map(dh_model *m, const dh_dataset *q, const int32_t *qc,
                               const dh_index *ix, const int32_t *dbc)
{
    size_t nq = dh_dataset_count(q), nd = dh_index_count(ix), cb = dh_code_bytes(KS_);
    uint8_t *qcodes = malloc(nq * cb), *dcodes = malloc(nd * cb);
    ck_assert_dh_ok(dh_model_encode_dataset(m, q, qcodes, NULL));
    ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 0, nd, dcodes, NULL));
    dh_eval_options eo;
    dh_eval_options_init(&eo);
    eo.n_bits = KS_, eo.label_type = DH_LABELS_CLASS_I32, eo.n_classes = CS_;
    double map = 0;
    ck_assert_dh_ok(dh_eval_map(&eo, qcodes, qc, nq, dcodes, dbc, nd, &map, NULL));
    free(qcodes), free(dcodes);
    return map;
}

#endif
