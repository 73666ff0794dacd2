/* tests/check_incremental_session.c -- dh_incremental_session: old index rows stay
 * bit-for-bit unchanged, ids, retrieval quality on synthetic class-incremental data
 * (with and without old images), bad arguments leave the index unchanged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incremental_fixture.h"

START_TEST(test_incremental_session_dihn_appends_without_rewriting)
{
    const size_t n_old = OLDC_ * PER_, n_new = (CS_ - OLDC_) * PER_;
    int32_t dbc[CS_ * PER_], qc[CS_ * 40];
    dh_dataset *old = make_set(0, OLDC_, PER_, 1, dbc);
    dh_dataset *neu = make_set(OLDC_, CS_ - OLDC_, PER_, 2, dbc + n_old);
    dh_dataset *q = make_set(0, CS_, 40, 3, qc);
    dh_model *m = make_model(5);
    dh_index *ix = new_index(KS_);
    dh_trainer_options to;
    train_opts(&to, 6);
    /* session 0 on an empty index: ADSH, learned codes, ids from 0 */
    dh_loss *adsh = session_loss("adsh", n_old);
    int64_t first = -5;
    ck_assert_dh_ok(dh_incremental_session(m, adsh, old, ix, NULL, NULL, &to, NULL, &first));
    ck_assert_int_eq(first, 0);
    ck_assert_uint_eq(dh_index_count(ix), n_old);
    size_t cb = dh_code_bytes(KS_);
    uint8_t *before = malloc(n_old * cb), *after = malloc(n_old * cb);
    int64_t *ids = malloc((n_old + n_new) * sizeof(int64_t));
    ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 0, n_old, before, NULL));
    float *V = malloc(n_old * KS_ * sizeof(float));
    uint8_t *Vp = malloc(n_old * cb);
    ck_assert_dh_ok(dh_loss_get_tensor(adsh, "codes", V, n_old * KS_));
    ck_assert_dh_ok(dh_codes_pack_float(V, n_old, KS_, 0, Vp));
    ck_assert_mem_eq(before, Vp, n_old * cb); /* AUTO took the learned codes */
    /* a copy of the session-0 model and index for the second protocol below */
    char path[512];
    snprintf(path, sizeof path, "%s/s0.dhm", dh_test_tmpdir());
    ck_assert_dh_ok(dh_model_save(m, path));
    dh_index *ix2 = new_index(KS_);
    ck_assert_dh_ok(dh_index_add(ix2, before, n_old));
    /* session 1: DIHN on the new classes */
    float *yold = onehot(dbc, n_old);
    dh_loss *dihn = session_loss("dihn", n_new);
    train_opts(&to, 8);
    ck_assert_dh_ok(dh_incremental_session(m, dihn, neu, ix, yold, NULL, &to, NULL, &first));
    ck_assert_int_eq(first, (int64_t)n_old);
    ck_assert_uint_eq(dh_index_count(ix), n_old + n_new);
    ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 0, n_old, after, NULL));
    ck_assert_mem_eq(before, after, n_old * cb); /* old codes never rewritten */
    ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 0, n_old + n_new, NULL, ids));
    for (size_t i = 0; i < n_old + n_new; i++) ck_assert_int_eq(ids[i], (int64_t)i);
    /* retrieval over old + new: well above chance (about 0.2 for 5 balanced classes) */
    int32_t qoc[OLDC_ * 40], qnc[(CS_ - OLDC_) * 40];
    dh_dataset *qo = make_set(0, OLDC_, 40, 3, qoc);
    dh_dataset *qn = make_set(OLDC_, CS_ - OLDC_, 40, 4, qnc);
    double mo = index_map(m, qo, qoc, ix, dbc), mn = index_map(m, qn, qnc, ix, dbc);
    ck_assert_msg(mn > 0.8, "mAP of new-class queries after the DIHN session %.3f (old-class "
                  "queries %.3f: without old images the encoder drifts)", mn, mo);
    /* the reference protocol: the old images train too (their codes stay fixed) */
    dh_model *m2 = NULL;
    ck_assert_dh_ok(dh_model_load(path, &m2));
    dh_loss *dihn2 = session_loss("dihn", n_new + n_old);
    ck_assert_dh_ok(dh_incremental_session(m2, dihn2, neu, ix2, yold, old, &to, NULL, &first));
    ck_assert_int_eq(first, (int64_t)n_old);
    ck_assert_dh_ok(dh_index_export(ix2, DH_CODE_PACKED, 0, n_old, after, NULL));
    ck_assert_mem_eq(before, after, n_old * cb);
    double ro = index_map(m2, qo, qoc, ix2, dbc), rn = index_map(m2, qn, qnc, ix2, dbc);
    ck_assert_msg(ro > 0.8 && rn > 0.8, "mAP after DIHN with old images: old %.3f, new %.3f",
                  ro, rn);
    dh_loss_free(dihn2), dh_model_free(m2), dh_index_free(ix2);
    dh_dataset_free(qo), dh_dataset_free(qn);
    free(before), free(after), free(ids), free(V), free(Vp), free(yold);
    dh_loss_free(adsh), dh_loss_free(dihn);
    dh_index_free(ix), dh_model_free(m);
    dh_dataset_free(old), dh_dataset_free(neu), dh_dataset_free(q);
}
END_TEST

START_TEST(test_incremental_session_dih_network_codes)
{
    const size_t n_old = OLDC_ * PER_, n_new = (CS_ - OLDC_) * PER_;
    int32_t dbc[CS_ * PER_], qc[CS_ * 40];
    dh_dataset *old = make_set(0, OLDC_, PER_, 1, dbc);
    dh_dataset *neu = make_set(OLDC_, CS_ - OLDC_, PER_, 2, dbc + n_old);
    dh_dataset *q = make_set(0, CS_, 40, 3, qc);
    dh_model *m = make_model(5);
    dh_index *ix = new_index(KS_);
    dh_trainer_options to;
    train_opts(&to, 8);
    dh_loss *dih = session_loss("dih", 0);
    dh_incremental_options o;
    dh_incremental_options_init(&o);
    o.first_id = 1000;
    int64_t first = 0;
    ck_assert_dh_ok(dh_incremental_session(m, dih, old, ix, NULL, NULL, &to, &o, &first));
    ck_assert_int_eq(first, 1000);
    size_t cb = dh_code_bytes(KS_);
    uint8_t *enc = malloc(n_old * cb), *got = malloc(n_old * cb), *before = malloc(n_old * cb);
    ck_assert_dh_ok(dh_model_encode_dataset(m, old, enc, NULL));
    ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 0, n_old, before, NULL));
    ck_assert_mem_eq(enc, before, n_old * cb); /* dih: network codes */
    o.first_id = -1; /* next free id: 1000 + n_old */
    ck_assert_dh_ok(dh_incremental_session(m, dih, neu, ix, NULL, NULL, &to, &o, &first));
    ck_assert_int_eq(first, 1000 + (int64_t)n_old);
    ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 0, n_old, got, NULL));
    ck_assert_mem_eq(got, before, n_old * cb);
    ck_assert_dh_ok(dh_model_encode_dataset(m, neu, enc, NULL));
    uint8_t *newc = malloc(n_new * cb);
    ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, n_old, n_new, newc, NULL));
    ck_assert_mem_eq(newc, enc, n_new * cb);
    double map = index_map(m, q, qc, ix, dbc);
    ck_assert_msg(map > 0.5, "mAP after the DIH session %.3f", map);
    free(enc), free(got), free(before), free(newc);
    dh_loss_free(dih), dh_index_free(ix), dh_model_free(m);
    dh_dataset_free(old), dh_dataset_free(neu), dh_dataset_free(q);
}
END_TEST

START_TEST(test_incremental_session_bad_args)
{
    int32_t dbc[CS_ * PER_];
    dh_dataset *neu = make_set(OLDC_, 2, 20, 2, dbc);
    dh_model *m = make_model(5);
    dh_index *ix = new_index(KS_), *ix8 = new_index(8);
    uint8_t old[4 * KS_ / 8];
    dh_test_fill(old, sizeof old, 9);
    ck_assert_dh_ok(dh_index_add(ix, old, 2));
    dh_trainer_options to;
    train_opts(&to, 1);
    dh_loss *dihn = session_loss("dihn", 40), *dih = session_loss("dih", 0);
    dh_loss *dihn_bad = session_loss("dihn", 39);
    float yold[2 * CS_] = {1, 0, 0, 0, 0, 0, 1, 0, 0, 0};
    ck_assert_dh_fail(dh_incremental_session(NULL, dih, neu, ix, NULL, NULL, &to, NULL, NULL),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_incremental_session(m, dih, neu, NULL, NULL, NULL, &to, NULL, NULL),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_incremental_session(m, dih, neu, ix8, NULL, NULL, &to, NULL, NULL),
                      DH_E_SHAPE);
    ck_assert_dh_fail(dh_incremental_session(m, dihn_bad, neu, ix, yold, NULL, &to, NULL,
                                             NULL), DH_E_SHAPE);
    ck_assert_dh_fail(dh_incremental_session(m, dihn, neu, ix, yold, neu, &to, NULL, NULL),
                      DH_E_SHAPE); /* index_images must match the index's rows */
    ck_assert_dh_fail(dh_incremental_session(m, dihn, neu, ix, NULL, NULL, &to, NULL, NULL),
                      DH_E_INVALID_ARG); /* old labels missing */
    dh_incremental_options o;
    dh_incremental_options_init(&o);
    o.new_codes = 7;
    ck_assert_dh_fail(dh_incremental_session(m, dih, neu, ix, NULL, NULL, &to, &o, NULL),
                      DH_E_INVALID_ARG);
    dh_incremental_options_init(&o);
    o.reserved0 = 1;
    ck_assert_dh_fail(dh_incremental_session(m, dih, neu, ix, NULL, NULL, &to, &o, NULL),
                      DH_E_INVALID_ARG);
    dh_incremental_options_init(&o);
    o.first_id = -2;
    ck_assert_dh_fail(dh_incremental_session(m, dih, neu, ix, NULL, NULL, &to, &o, NULL),
                      DH_E_INVALID_ARG);
    /* an oversized struct with a nonzero tail is from a newer libdh */
    struct { dh_incremental_options o; uint64_t extra; } big;
    memset(&big, 0, sizeof big);
    dh_incremental_options_init(&big.o);
    big.o.struct_size = sizeof big;
    big.extra = 1;
    ck_assert_dh_fail(dh_incremental_session(m, dih, neu, ix, NULL, NULL, &to, &big.o, NULL),
                      DH_E_VERSION);
    /* LEARNED codes from a loss without them: trains, then refuses; index unchanged */
    dh_incremental_options_init(&o);
    o.new_codes = DH_INCR_CODES_LEARNED;
    ck_assert_dh_fail(dh_incremental_session(m, dih, neu, ix, NULL, NULL, &to, &o, NULL),
                      DH_E_STATE);
    ck_assert_uint_eq(dh_index_count(ix), 2);
    /* an old struct_size (first_id unknown) takes the default */
    dh_incremental_options_init(&o);
    o.struct_size = offsetof(dh_incremental_options, first_id);
    int64_t first = -1;
    ck_assert_dh_ok(dh_incremental_session(m, dih, neu, ix, NULL, NULL, &to, &o, &first));
    ck_assert_int_eq(first, 2);
    ck_assert_uint_eq(dh_index_count(ix), 42);
    /* a read-only (memory-mapped) index cannot be extended */
    char path[512];
    snprintf(path, sizeof path, "%s/ro.dhi", dh_test_tmpdir());
    ck_assert_dh_ok(dh_index_save(ix, path));
    dh_index *ro = NULL;
    ck_assert_dh_ok(dh_index_load_mmap(path, &ro));
    ck_assert_dh_fail(dh_incremental_session(m, dih, neu, ro, NULL, NULL, &to, NULL, NULL),
                      DH_E_STATE);
    dh_incremental_options_init(NULL); /* no-op */
    dh_index_free(ro);
    dh_loss_free(dihn), dh_loss_free(dih), dh_loss_free(dihn_bad);
    dh_index_free(ix), dh_index_free(ix8), dh_model_free(m), dh_dataset_free(neu);
}
END_TEST

/* DIHN with a random third of the old images (old_samples): every old code stays
 * fixed and in the index; the loss counts new items + samples; bad combinations. */
START_TEST(test_incremental_session_old_samples)
{
    const size_t n_old = OLDC_ * PER_, n_new = (CS_ - OLDC_) * PER_, m = n_old / 3;
    int32_t dbc[CS_ * PER_], qoc[OLDC_ * 40], qnc[(CS_ - OLDC_) * 40];
    dh_dataset *old = make_set(0, OLDC_, PER_, 1, dbc);
    dh_dataset *neu = make_set(OLDC_, CS_ - OLDC_, PER_, 2, dbc + n_old);
    dh_dataset *qo = make_set(0, OLDC_, 40, 3, qoc), *qn = make_set(OLDC_, CS_ - OLDC_, 40, 4, qnc);
    dh_model *m0 = make_model(5);
    dh_index *ix = new_index(KS_);
    dh_trainer_options to;
    train_opts(&to, 6);
    dh_loss *adsh = session_loss("adsh", n_old);
    ck_assert_dh_ok(dh_incremental_session(m0, adsh, old, ix, NULL, NULL, &to, NULL, NULL));
    size_t cb = dh_code_bytes(KS_);
    uint8_t *before = malloc(n_old * cb), *after = malloc(n_old * cb);
    ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 0, n_old, before, NULL));
    float *yold = onehot(dbc, n_old);
    dh_incremental_options o;
    dh_incremental_options_init(&o);
    o.old_samples = m;
    train_opts(&to, 8);
    dh_loss *all = session_loss("dihn", n_new + n_old), *part = session_loss("dihn", n_new + m);
    ck_assert_dh_fail(dh_incremental_session(m0, all, neu, ix, yold, old, &to, &o, NULL),
                      DH_E_SHAPE); /* the loss must count the samples, not all old images */
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "old_samples"));
    ck_assert_dh_fail(dh_incremental_session(m0, part, neu, ix, yold, NULL, &to, &o, NULL),
                      DH_E_INVALID_ARG); /* old_samples without index_images */
    ck_assert_uint_eq(dh_index_count(ix), n_old);
    ck_assert_dh_ok(dh_incremental_session(m0, part, neu, ix, yold, old, &to, &o, NULL));
    ck_assert_uint_eq(dh_index_count(ix), n_old + n_new);
    ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 0, n_old, after, NULL));
    ck_assert_mem_eq(before, after, n_old * cb);
    /* the loss's database holds every old code (fixed), permuted: samples first */
    float *fixed = malloc(n_old * KS_ * sizeof(float));
    ck_assert_dh_ok(dh_loss_get_tensor(part, "old_codes", fixed, n_old * KS_));
    uint8_t *fp = malloc(n_old * cb);
    ck_assert_dh_ok(dh_codes_pack_float(fixed, n_old, KS_, 0, fp));
    size_t found = 0;
    for (size_t i = 0; i < n_old; i++)
        for (size_t j = 0; j < n_old; j++)
            if (memcmp(fp + i * cb, before + j * cb, cb) == 0) {
                found++;
                break;
            }
    ck_assert_uint_eq(found, n_old);
    double mo = index_map(m0, qo, qoc, ix, dbc), mn = index_map(m0, qn, qnc, ix, dbc);
    ck_assert_msg(mo > 0.7 && mn > 0.7, "mAP after DIHN with %zu of %zu old images: old %.3f, "
                  "new %.3f", m, n_old, mo, mn);
    free(before), free(after), free(yold), free(fixed), free(fp);
    dh_loss_free(adsh), dh_loss_free(all), dh_loss_free(part);
    dh_index_free(ix), dh_model_free(m0);
    dh_dataset_free(old), dh_dataset_free(neu), dh_dataset_free(qo), dh_dataset_free(qn);
}
END_TEST

static Suite *incremental_session_suite(void)
{
    Suite *s = suite_create("incremental_session");
    TCase *t = tcase_create("Session");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_incremental_session_dihn_appends_without_rewriting);
    tcase_add_test(t, test_incremental_session_dih_network_codes);
    tcase_add_test(t, test_incremental_session_bad_args);
    tcase_add_test(t, test_incremental_session_old_samples);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(incremental_session_suite()); }
