/* tests/check_eval_parts.c -- evaluation over a database held in parts
 * (dh_eval_part_histograms / dh_eval_part_sums / dh_eval_from_parts) against
 * dh_eval_all on the whole database, on random and heavily tied codes, with empty
 * parts; bad inputs; dh_range_result_create and dh_set_error (the libdh 1.2 helpers
 * libdh_mpi is built on). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define NQ 23
#define NDB 611
#define MAXK 64

static uint64_t rs = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void)
{
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (uint32_t)(rs >> 32);
}

/* Evaluate the whole database as the parts [cut[i], cut[i+1]) and compare. */
static void check_split(uint32_t bits, int32_t ties, uint64_t topk, const size_t *cut, int n_parts)
{
    const size_t cb = bits / 8, kb = bits + 1, cells = NQ * 2 * kb;
    static uint8_t q[NQ * MAXK / 8], db[NDB * MAXK / 8];
    static int32_t ql[NQ], dl[NDB];
    for (size_t i = 0; i < NQ * cb; i++) q[i] = (uint8_t)rnd();
    for (size_t i = 0; i < NDB * cb; i++) db[i] = (uint8_t)rnd();
    for (size_t i = 0; i < NQ; i++) ql[i] = (int32_t)(rnd() % 5) - (i == 2);
    for (size_t i = 0; i < NDB; i++) dl[i] = (int32_t)(rnd() % 5);
    dh_eval_options o;
    dh_eval_options_init(&o);
    o.n_bits = bits, o.ties = ties, o.topk = topk, o.radius = bits / 4;
    const uint64_t ns[3] = {NDB, 1, 50};
    double m0, m1, ap0[NQ], ap1[NQ], p0[3], p1[3], r0[3], r1[3], pr0[2 * MAXK + 2],
        pr1[2 * MAXK + 2], b0[3], b1[3];
    ck_assert_dh_ok(dh_eval_all(&o, q, ql, NQ, db, dl, NDB, ns, 3, &m0, ap0, p0, r0, pr0,
                                pr0 + kb, b0, b0 + 1, b0 + 2));
    uint32_t *hist = calloc(cells * (size_t)n_parts, 4), *total = calloc(cells, 4);
    uint32_t *before = calloc(cells, 4);
    double *sums = calloc(NQ * 5, 8), *part = calloc(NQ * 5, 8);
    for (int p = 0; p < n_parts; p++) {
        ck_assert_dh_ok(dh_eval_part_histograms(&o, q, ql, NQ, db + cut[p] * cb, dl + cut[p],
                                                cut[p + 1] - cut[p], hist + p * cells));
        for (size_t c = 0; c < cells; c++) total[c] += hist[p * cells + c];
    }
    for (int p = 0; p < n_parts; p++) {
        ck_assert_dh_ok(dh_eval_part_sums(&o, q, ql, NQ, db + cut[p] * cb, dl + cut[p],
                                          cut[p + 1] - cut[p], total, p ? before : NULL, ns, 3,
                                          part));
        for (size_t c = 0; c < NQ * 5; c++) sums[c] += part[c];
        for (size_t c = 0; c < cells; c++) before[c] += hist[p * cells + c];
    }
    ck_assert_dh_ok(dh_eval_from_parts(&o, ql, NQ, total, sums, ns, 3, &m1, ap1, p1, r1, pr1,
                                       pr1 + kb, b1, b1 + 1, b1 + 2));
    ck_assert_double_eq_tol(m0, m1, 1e-13);
    for (int i = 0; i < NQ; i++)
        ck_assert(isnan(ap0[i]) ? isnan(ap1[i]) : fabs(ap0[i] - ap1[i]) < 1e-13);
    ck_assert(!memcmp(p0, p1, sizeof p0) && !memcmp(r0, r1, sizeof r0)); /* exact counts */
    ck_assert(!memcmp(pr0, pr1, 2 * kb * 8));
    ck_assert(!memcmp(b0, b1, sizeof b0));
    if (ties == DH_TIES_EXPECTED) ck_assert(m0 == m1); /* histograms alone: bit-identical */
    free(hist), free(total), free(before), free(sums), free(part);
}

START_TEST(test_parts_equal_whole_database)
{
    const size_t three[] = {0, 200, 200, NDB}; /* middle part empty */
    const size_t many[] = {0, 1, 2, 100, 333, 334, NDB, NDB};
    const size_t one[] = {0, NDB};
    const uint32_t bits[] = {8, 16, 64};
    for (int b = 0; b < 3; b++)
        for (int32_t ties = 0; ties <= 1; ties++) {
            check_split(bits[b], ties, 0, three, 3);
            check_split(bits[b], ties, 40, many, 7);
            check_split(bits[b], ties, 0, one, 1);
        }
}
END_TEST

START_TEST(test_parts_bad_inputs)
{
    dh_eval_options o;
    dh_eval_options_init(&o);
    o.n_bits = 8;
    uint8_t q[2] = {0, 255}, db[3] = {0, 1, 3};
    int32_t ql[2] = {0, 1}, dl[3] = {0, 1, 0};
    uint32_t h[2 * 2 * 9], small[2 * 2 * 9] = {0};
    double sums[2 * 2], m;
    ck_assert_dh_fail(dh_eval_part_histograms(&o, q, ql, 2, db, dl, 3, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh_eval_part_histograms(&o, q, ql, 2, db, dl, 3, h));
    ck_assert_uint_eq(h[0], 1);  /* query 0: one item at distance 0 */
    ck_assert_uint_eq(h[9], 1);  /* ... and it is relevant */
    /* totals that do not contain the part */
    ck_assert_dh_fail(dh_eval_part_sums(&o, q, ql, 2, db, dl, 3, small, NULL, NULL, 0, sums),
                      DH_E_SHAPE);
    ck_assert(strstr(dh_last_error(), "total_hist") != NULL);
    /* totals that disagree between queries */
    memcpy(small, h, sizeof h);
    small[0] += 1;
    ck_assert_dh_fail(dh_eval_from_parts(&o, ql, 2, small, NULL, NULL, 0, NULL, NULL, NULL,
                                         NULL, NULL, NULL, &m, NULL, NULL), DH_E_INVALID_ARG);
    /* mAP under index order needs the sums */
    ck_assert_dh_fail(dh_eval_from_parts(&o, ql, 2, h, NULL, NULL, 0, &m, NULL, NULL, NULL,
                                         NULL, NULL, NULL, NULL, NULL), DH_E_INVALID_ARG);
    o.topk = 4;
    ck_assert_dh_fail(dh_eval_from_parts(&o, ql, 2, h, sums, NULL, 0, &m, NULL, NULL, NULL,
                                         NULL, NULL, NULL, NULL, NULL), DH_E_INVALID_ARG);
}
END_TEST

START_TEST(test_range_result_create_and_set_error)
{
    size_t lims[3] = {0, 2, 3};
    int64_t ids[3] = {7, 9, 4};
    int32_t d[3] = {0, 1, 5};
    dh_range_result *r = NULL;
    ck_assert_dh_ok(dh_range_result_create(2, lims, ids, d, &r));
    ck_assert_uint_eq(dh_range_result_n_hits(r), 3);
    ck_assert_int_eq(dh_range_result_ids(r)[2], 4);
    ck_assert_int_eq(dh_range_result_distances(r)[1], 1);
    dh_range_result_free(r);
    size_t bad[3] = {0, 2, 1};
    ck_assert_dh_fail(dh_range_result_create(2, bad, ids, d, &r), DH_E_INVALID_ARG);
    ck_assert(r == NULL);
    ck_assert_dh_fail(dh_range_result_create(2, lims, NULL, d, &r), DH_E_INVALID_ARG);
    size_t none[2] = {0, 0};
    ck_assert_dh_ok(dh_range_result_create(1, none, NULL, NULL, &r));
    ck_assert_uint_eq(dh_range_result_n_hits(r), 0);
    dh_range_result_free(r);
    ck_assert_int_eq(dh_set_error(DH_E_IO, "rank 3: cannot open x"), DH_E_IO);
    ck_assert_str_eq(dh_last_error(), "rank 3: cannot open x");
    dh_set_error(DH_OK, NULL);
    ck_assert_str_eq(dh_last_error(), "");
}
END_TEST

static Suite *parts_suite(void)
{
    Suite *s = suite_create("eval_parts");
    TCase *tc = tcase_create("Parts");
    tcase_add_test(tc, test_parts_equal_whole_database);
    tcase_add_test(tc, test_parts_bad_inputs);
    tcase_add_test(tc, test_range_result_create_and_set_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dh_test_run(parts_suite()); }
