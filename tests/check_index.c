/* tests/check_index.c -- the Hamming index: k-NN and range search against brute force
 * (every ISA, 1 and 2 threads, odd K, ties), ids, removal, compaction, export, options
 * and bad arguments. Kernels are in check_index_kernels.c, file I/O and .npy in
 * check_index_io.c, packing helpers in check_index_pack.c. */
#include <pthread.h>

#include "check_index_ref.h"

static const uint32_t k_bits[] = {8, 24, 32, 64, 72, 128, 200, 256, 512, 4096};

/* ---- k-NN against brute force ---- */

static void knn_case(uint32_t K, size_t n, size_t nq, uint32_t k, int ties, uint64_t seed)
{
    uint8_t *db = ties ? tie_codes(n, K, seed) : rand_codes(n, K, seed);
    uint8_t *q = ties ? tie_codes(nq, K, seed + 1) : rand_codes(nq, K, seed + 1);
    int32_t *D = malloc(nq * k * sizeof *D + 4), *RD = malloc(nq * k * sizeof *RD + 4);
    int64_t *I = malloc(nq * k * sizeof *I + 8), *RI = malloc(nq * k * sizeof *RI + 8);
    dh_index *ix = make_index(K);
    ck_assert_dh_ok(dh_index_add(ix, db, n));
    ref_knn(db, NULL, NULL, n, q, nq, K, k, RD, RI);
    int32_t isas[8];
    int n_isa = all_isas(isas);
    for (int i = 0; i < n_isa; i++)
        for (uint32_t th = 1; th <= 2; th++) {
            ck_assert_dh_ok(dh_set_isa(isas[i]));
            ck_assert_dh_ok(dh_set_num_threads(th));
            memset(D, 0x55, nq * k * sizeof *D);
            ck_assert_dh_ok(dh_index_search(ix, q, nq, k, D, I));
            for (size_t j = 0; j < nq * k; j++)
                ck_assert_msg(D[j] == RD[j] && I[j] == RI[j],
                              "K=%u n=%zu nq=%zu k=%u isa=%s threads=%u: result %zu is (%d,%lld), "
                              "want (%d,%lld)", K, n, nq, k, dh_isa_name(isas[i]), th, j, D[j],
                              (long long)I[j], RD[j], (long long)RI[j]);
        }
    dh_set_isa(DH_ISA_AUTO);
    dh_set_num_threads(0);
    dh_index_free(ix);
    free(db), free(q), free(D), free(RD), free(I), free(RI);
}

START_TEST(test_index_search_matches_bruteforce)
{
    for (size_t a = 0; a < sizeof k_bits / sizeof *k_bits; a++) {
        uint32_t K = k_bits[a];
        size_t n = K >= 512 ? 300 : 1500;
        knn_case(K, n, 9, 1, 0, K);
        knn_case(K, n, 9, 10, 0, K + 1);
        knn_case(K, n, 5, 300, 0, K + 2);
    }
}
END_TEST

START_TEST(test_index_search_k_larger_than_n_pads)
{
    knn_case(64, 37, 4, 50, 0, 5);
    knn_case(200, 1, 2, 3, 0, 6);
    /* padding values are exactly FAISS's */
    dh_index *ix = make_index(32);
    uint8_t q[4] = {1, 2, 3, 4};
    int32_t D[3];
    int64_t I[3];
    ck_assert_dh_ok(dh_index_search(ix, q, 1, 3, D, I)); /* empty index */
    for (int j = 0; j < 3; j++) {
        ck_assert_int_eq(I[j], -1);
        ck_assert_int_eq(D[j], INT32_MAX);
    }
    ck_assert_dh_ok(dh_index_search(ix, q, 1, 3, NULL, I)); /* distances optional */
    dh_index_free(ix);
}
END_TEST

START_TEST(test_index_search_ties_by_insertion_order)
{
    knn_case(64, 2000, 7, 100, 1, 9);
    knn_case(24, 3001, 3, 1000, 1, 10);
    /* all rows equal: results follow insertion order, not id order */
    dh_index *ix = make_index(16);
    uint8_t codes[6 * 2] = {0};
    int64_t ids[6] = {50, 40, 30, 20, 10, 0};
    ck_assert_dh_ok(dh_index_add_with_ids(ix, codes, 6, ids));
    int32_t D[4];
    int64_t I[4];
    ck_assert_dh_ok(dh_index_search(ix, codes, 1, 4, D, I));
    for (int j = 0; j < 4; j++) {
        ck_assert_int_eq(I[j], ids[j]);
        ck_assert_int_eq(D[j], 0);
    }
    dh_index_free(ix);
}
END_TEST

/* Few queries over a large database: the database is split among threads. */
START_TEST(test_index_search_few_queries_chunked)
{
    knn_case(64, 40000, 1, 100, 0, 21);
    knn_case(128, 40000, 3, 7, 1, 22);
    knn_case(32, 40000, 2, 50000, 0, 23); /* k > n in chunk mode */
}
END_TEST

START_TEST(test_index_search_bad_arguments)
{
    dh_index *ix = make_index(64);
    uint8_t q[8] = {0};
    int32_t D[4];
    int64_t I[4];
    ck_assert_dh_fail(dh_index_search(NULL, q, 1, 1, D, I), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_search(ix, q, 1, 0, D, I), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_search(ix, NULL, 1, 1, D, I), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_search(ix, q, 1, 1, D, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_search(ix, q, SIZE_MAX / 2, 4, D, I), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh_index_search(ix, NULL, 0, 5, NULL, NULL)); /* no queries: no-op */
    dh_index_free(ix);
}
END_TEST

/* ---- range search ---- */

static void range_case(uint32_t K, size_t n, size_t nq, uint32_t radius, int ties, uint64_t seed)
{
    uint8_t *db = ties ? tie_codes(n, K, seed) : rand_codes(n, K, seed);
    uint8_t *q = rand_codes(nq, K, seed + 7);
    if (ties) memcpy(q, db, K / 8);
    dh_index *ix = make_index(K);
    ck_assert_dh_ok(dh_index_add(ix, db, n));
    /* the k-NN reference with k = n gives the sorted order; cut at the radius */
    int32_t *RD = malloc(n * sizeof *RD + 4);
    int64_t *RI = malloc(n * sizeof *RI + 8);
    int32_t isas[8];
    int n_isa = all_isas(isas);
    for (int i = 0; i < n_isa; i++)
        for (uint32_t th = 1; th <= 2; th++) {
            dh_set_isa(isas[i]);
            dh_set_num_threads(th);
            dh_range_result *res = NULL;
            ck_assert_dh_ok(dh_index_range_search(ix, q, nq, radius, &res));
            ck_assert_uint_eq(dh_range_result_n_queries(res), nq);
            const size_t *lims = dh_range_result_lims(res);
            const int64_t *ids = dh_range_result_ids(res);
            const int32_t *dist = dh_range_result_distances(res);
            ck_assert_uint_eq(lims[0], 0);
            for (size_t a = 0; a < nq; a++) {
                size_t want = ref_range_count(db, NULL, n, q + a * (K / 8), K, radius);
                ck_assert_uint_eq(lims[a + 1] - lims[a], want);
                ref_knn(db, NULL, NULL, n, q + a * (K / 8), 1, K, (uint32_t)n, RD, RI);
                for (size_t j = 0; j < want; j++) {
                    ck_assert_int_eq(dist[lims[a] + j], RD[j]);
                    ck_assert_int_eq(ids[lims[a] + j], RI[j]);
                }
            }
            ck_assert_uint_eq(dh_range_result_n_hits(res), lims[nq]);
            dh_range_result_free(res);
        }
    dh_set_isa(DH_ISA_AUTO);
    dh_set_num_threads(0);
    dh_index_free(ix);
    free(db), free(q), free(RD), free(RI);
}

START_TEST(test_index_range_search_matches_bruteforce)
{
    range_case(64, 3000, 5, 26, 0, 1);
    range_case(64, 3000, 5, 0, 1, 2);
    range_case(72, 1000, 3, 30, 0, 3);
    range_case(200, 500, 2, 200, 0, 4);  /* radius K: everything */
    range_case(32, 500, 2, 1000, 0, 5);  /* radius > K is clamped */
    range_case(256, 1200, 4, 110, 0, 6);
    range_case(128, 40000, 1, 52, 0, 7); /* chunked */
}
END_TEST

START_TEST(test_index_range_search_bad_arguments)
{
    dh_index *ix = make_index(64);
    uint8_t q[8] = {0};
    dh_range_result *res = (dh_range_result *)1;
    ck_assert_dh_fail(dh_index_range_search(ix, q, 1, 3, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_range_search(NULL, q, 1, 3, &res), DH_E_INVALID_ARG);
    ck_assert_ptr_null(res);
    ck_assert_dh_fail(dh_index_range_search(ix, NULL, 1, 3, &res), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh_index_range_search(ix, NULL, 0, 3, &res));
    ck_assert_uint_eq(dh_range_result_n_queries(res), 0);
    ck_assert_uint_eq(dh_range_result_n_hits(res), 0);
    ck_assert_uint_eq(dh_range_result_lims(res)[0], 0);
    dh_range_result_free(res);
    dh_range_result_free(NULL);
    ck_assert_uint_eq(dh_range_result_n_hits(NULL), 0);
    ck_assert_ptr_null(dh_range_result_lims(NULL));
    ck_assert_ptr_null(dh_range_result_ids(NULL));
    ck_assert_ptr_null(dh_range_result_distances(NULL));
    dh_index_free(ix);
}
END_TEST

/* ---- ids, removal, compaction ---- */

START_TEST(test_index_ids_sequential_after_custom)
{
    dh_index *ix = make_index(8);
    uint8_t c[4] = {1, 2, 3, 4};
    ck_assert_dh_ok(dh_index_add(ix, c, 2)); /* ids 0, 1 */
    int64_t ids[1] = {41};
    ck_assert_dh_ok(dh_index_add_with_ids(ix, c + 2, 1, ids));
    ck_assert_dh_ok(dh_index_add(ix, c + 3, 1)); /* id 42 */
    int64_t out[4];
    ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 0, 4, NULL, out));
    ck_assert_int_eq(out[0], 0);
    ck_assert_int_eq(out[1], 1);
    ck_assert_int_eq(out[2], 41);
    ck_assert_int_eq(out[3], 42);
    int64_t bad[2] = {3, -5};
    ck_assert_dh_fail(dh_index_add_with_ids(ix, c, 2, bad), DH_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "ids[1]"));
    ck_assert_uint_eq(dh_index_count(ix), 4); /* unchanged */
    int64_t top[1] = {INT64_MAX};
    ck_assert_dh_ok(dh_index_add_with_ids(ix, c, 1, top));
    ck_assert_dh_fail(dh_index_add(ix, c, 1), DH_E_INVALID_ARG); /* id space exhausted */
    ck_assert_dh_fail(dh_index_add_with_ids(ix, c, 1, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_add(NULL, c, 1), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_add(ix, NULL, 1), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh_index_add(ix, NULL, 0));
    dh_index_free(ix);
}
END_TEST

START_TEST(test_index_remove_keeps_other_ids)
{
    const uint32_t K = 64;
    const size_t n = 3000, nq = 6;
    const uint32_t k = 40;
    uint8_t *db = rand_codes(n, K, 77), *q = rand_codes(nq, K, 78);
    int64_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = (int64_t)(1000 + 3 * i);
    dh_index *ix = make_index(K);
    ck_assert_dh_ok(dh_index_add_with_ids(ix, db, n, ids));
    /* remove every id of the reference top-10 of query 0, plus every 7th row */
    char *removed = calloc(n, 1);
    int64_t *rm = malloc(n * sizeof *rm);
    size_t n_rm = 0;
    for (size_t i = 0; i < n; i += 7) removed[i] = 1;
    int32_t RD[6 * 40];
    int64_t RI[6 * 40];
    ref_knn(db, ids, NULL, n, q, 1, K, 10, RD, RI);
    for (int j = 0; j < 10; j++) removed[(RI[j] - 1000) / 3] = 1;
    for (size_t i = 0; i < n; i++)
        if (removed[i]) rm[n_rm++] = ids[i];
    rm[n_rm++] = 5; /* unknown id: ignored */
    size_t got = 0;
    ck_assert_dh_ok(dh_index_remove_ids(ix, rm, n_rm, &got));
    ck_assert_uint_eq(got, n_rm - 1);
    ck_assert_uint_eq(dh_index_count(ix), n - got);
    ck_assert_uint_eq(dh_index_n_removed(ix), got);
    ref_knn(db, ids, removed, n, q, nq, K, k, RD, RI);
    int32_t D[6 * 40];
    int64_t I[6 * 40];
    for (int pass = 0; pass < 2; pass++) { /* before and after compaction */
        ck_assert_dh_ok(dh_index_search(ix, q, nq, k, D, I));
        ck_assert_mem_eq(D, RD, sizeof D);
        ck_assert_mem_eq(I, RI, sizeof I);
        ck_assert_dh_ok(dh_index_compact(ix));
        ck_assert_uint_eq(dh_index_n_removed(ix), 0);
        ck_assert_uint_eq(dh_index_count(ix), n - got);
    }
    ck_assert_dh_ok(dh_index_remove_ids(ix, rm, n_rm, &got)); /* already gone */
    ck_assert_uint_eq(got, 0);
    ck_assert_dh_fail(dh_index_remove_ids(ix, NULL, 1, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_remove_ids(NULL, rm, 1, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_compact(NULL), DH_E_INVALID_ARG);
    dh_index_free(ix);
    free(db), free(q), free(ids), free(removed), free(rm);
}
END_TEST

START_TEST(test_index_remove_duplicates_and_autocompact)
{
    dh_index *ix = make_index(16);
    uint8_t c[10 * 2];
    dh_test_fill(c, sizeof c, 3);
    int64_t ids[10] = {1, 2, 2, 3, 4, 5, 6, 7, 2, 9};
    ck_assert_dh_ok(dh_index_add_with_ids(ix, c, 10, ids));
    size_t got;
    int64_t two = 2;
    ck_assert_dh_ok(dh_index_remove_ids(ix, &two, 1, &got));
    ck_assert_uint_eq(got, 3);
    ck_assert_uint_eq(dh_index_n_removed(ix), 3);
    int64_t more[3] = {1, 3, 4};
    ck_assert_dh_ok(dh_index_remove_ids(ix, more, 3, &got));
    ck_assert_uint_eq(got, 3);
    ck_assert_uint_eq(dh_index_n_removed(ix), 0); /* 6 of 10 removed: compacted */
    ck_assert_uint_eq(dh_index_count(ix), 4);
    int64_t out[4];
    uint8_t rows[4 * 2];
    ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 0, 4, rows, out));
    const int keep[4] = {5, 6, 7, 9};
    for (int j = 0; j < 4; j++) {
        ck_assert_int_eq(out[j], ids[keep[j]]);
        ck_assert_mem_eq(rows + 2 * j, c + 2 * keep[j], 2);
    }
    dh_index_free(ix);
}
END_TEST

/* ---- add in every format, export ---- */

START_TEST(test_index_add_rows_every_format)
{
    const uint32_t K = 72;
    const size_t n = 50;
    float *f = malloc(n * K * sizeof *f);
    double *g = malloc(n * K * sizeof *g);
    int8_t *s = malloc(n * K);
    uint64_t st = 99;
    for (size_t i = 0; i < n * K; i++) {
        f[i] = (float)((double)(dh_test_rand(&st) % 2001) / 1000.0 - 1.0);
        g[i] = f[i];
        s[i] = (int8_t)(f[i] >= 0 ? 1 : -1);
    }
    uint8_t *packed = malloc(n * 9), *msb = malloc(n * 9), *back = malloc(n * 9);
    ck_assert_dh_ok(dh_codes_pack_float(f, n, K, 0, packed));
    ck_assert_dh_ok(dh_codes_pack_float(f, n, K, DH_CODES_MSB_FIRST, msb));
    const void *inputs[5] = {packed, msb, f, g, s};
    for (int32_t fmt = DH_CODE_PACKED; fmt <= DH_CODE_INT8; fmt++) {
        dh_index *ix = make_index(K);
        ck_assert_dh_ok(dh_index_add_rows(ix, inputs[fmt], fmt, n, NULL));
        ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 0, n, back, NULL));
        ck_assert_mem_eq(back, packed, n * 9);
        /* export in every format and compare with the packed truth */
        for (int32_t ef = DH_CODE_PACKED; ef <= DH_CODE_INT8; ef++) {
            uint8_t *buf = malloc(n * K * 8);
            ck_assert_dh_ok(dh_index_export(ix, ef, 0, n, buf, NULL));
            dh_index *iy = make_index(K);
            ck_assert_dh_ok(dh_index_add_rows(iy, buf, ef, n, NULL));
            ck_assert_dh_ok(dh_index_export(iy, DH_CODE_PACKED, 0, n, back, NULL));
            ck_assert_mem_eq(back, packed, n * 9);
            dh_index_free(iy);
            free(buf);
        }
        dh_index_free(ix);
    }
    dh_index *ix = make_index(K);
    ck_assert_dh_fail(dh_index_add_rows(ix, f, 17, n, NULL), DH_E_INVALID_ARG);
    f[5 * K + 3] = (float)NAN;
    ck_assert_dh_fail(dh_index_add_rows(ix, f, DH_CODE_FLOAT32, n, NULL), DH_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "row 5 column 3"));
    ck_assert_uint_eq(dh_index_count(ix), 0);
    dh_index_free(ix);
    free(f), free(g), free(s), free(packed), free(msb), free(back);
}
END_TEST

START_TEST(test_index_export_ranges)
{
    dh_index *ix = make_index(32);
    uint8_t c[5 * 4];
    dh_test_fill(c, sizeof c, 1);
    ck_assert_dh_ok(dh_index_add(ix, c, 5));
    int64_t rm = 1, ids[3];
    ck_assert_dh_ok(dh_index_remove_ids(ix, &rm, 1, NULL));
    uint8_t out[3 * 4];
    ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 1, 3, out, ids)); /* live rows 1..3 */
    ck_assert_int_eq(ids[0], 2);
    ck_assert_int_eq(ids[2], 4);
    ck_assert_mem_eq(out, c + 8, 12);
    ck_assert_dh_fail(dh_index_export(ix, DH_CODE_PACKED, 2, 3, out, ids), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_export(ix, DH_CODE_PACKED, 9, 0, out, ids), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_export(ix, 42, 0, 1, out, ids), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_export(NULL, DH_CODE_PACKED, 0, 1, out, ids), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 4, 0, NULL, NULL));
    dh_index_free(ix);
}
END_TEST

/* ---- create, options, NULL ---- */

START_TEST(test_index_create_options)
{
    dh_index *ix = (dh_index *)1;
    ck_assert_dh_ok(dh_index_create(NULL, &ix)); /* defaults: K = 64 */
    ck_assert_uint_eq(dh_index_n_bits(ix), 64);
    ck_assert_uint_eq(dh_index_count(ix), 0);
    ck_assert_int_eq(dh_index_is_readonly(ix), 0);
    dh_index_free(ix);
    dh_index_options o;
    const uint32_t bad_bits[] = {0, 4097, 4104, 8192}; /* any K in 1..DH_MAX_BITS is valid */
    for (size_t i = 0; i < sizeof bad_bits / sizeof *bad_bits; i++) {
        dh_index_options_init(&o);
        o.n_bits = bad_bits[i];
        ix = (dh_index *)1;
        ck_assert_dh_fail(dh_index_create(&o, &ix), DH_E_INVALID_ARG);
        ck_assert_ptr_null(ix);
    }
    dh_index_options_init(&o);
    o.n_threads = 5000;
    ck_assert_dh_fail(dh_index_create(&o, &ix), DH_E_INVALID_ARG);
    /* an older caller's struct (no reserve field) */
    struct { size_t struct_size; uint32_t n_bits, n_threads; } old = {16, 128, 0};
    ck_assert_dh_ok(dh_index_create((const dh_index_options *)(const void *)&old, &ix));
    ck_assert_uint_eq(dh_index_n_bits(ix), 128);
    dh_index_free(ix);
    /* a newer caller's struct: zero tail accepted, nonzero tail refused */
    struct { dh_index_options base; uint64_t future; } big;
    memset(&big, 0, sizeof big);
    dh_index_options_init(&big.base);
    big.base.struct_size = sizeof big;
    big.base.reserve = 10000;
    ck_assert_dh_ok(dh_index_create(&big.base, &ix));
    dh_index_free(ix);
    big.future = 1;
    ck_assert_dh_fail(dh_index_create(&big.base, &ix), DH_E_VERSION);
    o.struct_size = 2;
    ck_assert_dh_fail(dh_index_create(&o, &ix), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_create(NULL, NULL), DH_E_INVALID_ARG);
    dh_index_options_init(NULL);
    dh_index_free(NULL);
    ck_assert_uint_eq(dh_index_count(NULL), 0);
    ck_assert_uint_eq(dh_index_n_bits(NULL), 0);
    ck_assert_uint_eq(dh_index_n_removed(NULL), 0);
    ck_assert_int_eq(dh_index_is_readonly(NULL), 0);
}
END_TEST

START_TEST(test_index_options_n_threads_gives_same_results)
{
    const uint32_t K = 128;
    const size_t n = 20000, nq = 3;
    uint8_t *db = rand_codes(n, K, 5), *q = rand_codes(nq, K, 6);
    int32_t D[3][3 * 20];
    int64_t I[3][3 * 20];
    for (uint32_t t = 1; t <= 3; t++) {
        dh_index_options o;
        dh_index_options_init(&o);
        o.n_bits = K;
        o.n_threads = t;
        dh_index *ix;
        ck_assert_dh_ok(dh_index_create(&o, &ix));
        ck_assert_dh_ok(dh_index_add(ix, db, n));
        ck_assert_dh_ok(dh_index_search(ix, q, nq, 20, D[t - 1], I[t - 1]));
        dh_index_free(ix);
    }
    ck_assert_mem_eq(I[0], I[1], sizeof I[0]);
    ck_assert_mem_eq(I[0], I[2], sizeof I[0]);
    ck_assert_mem_eq(D[0], D[2], sizeof D[0]);
    free(db), free(q);
}
END_TEST

/* ---- concurrency: searches share the index while a writer adds ---- */

typedef struct conc {
    dh_index *ix;
    const uint8_t *q;
    const int64_t *want;
    int failures;
} conc;

static void *searcher(void *arg)
{
    conc *c = arg;
    int64_t I[4 * 10];
    for (int it = 0; it < 30; it++) {
        if (dh_index_search(c->ix, c->q, 4, 10, NULL, I) != DH_OK) c->failures++;
        /* the writer only appends far rows, so the top-10 never changes */
        else if (memcmp(I, c->want, sizeof I) != 0) c->failures++;
    }
    return NULL;
}

START_TEST(test_index_concurrent_search_and_add)
{
    const uint32_t K = 64;
    const size_t n = 5000;
    uint8_t *db = rand_codes(n, K, 1);
    uint8_t q[4 * 8];
    memcpy(q, db, sizeof q); /* the first 4 rows are queries: distance 0 to themselves */
    dh_index *ix = make_index(K);
    ck_assert_dh_ok(dh_index_add(ix, db, n));
    int64_t want[40];
    ck_assert_dh_ok(dh_index_search(ix, q, 4, 10, NULL, want));
    conc c[3] = {{ix, q, want, 0}, {ix, q, want, 0}, {ix, q, want, 0}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, searcher, &c[i]);
    uint8_t far[8];
    for (int it = 0; it < 200; it++) {
        for (int b = 0; b < 8; b++) far[b] = (uint8_t)~q[b]; /* distance 64 from query 0 */
        ck_assert_dh_ok(dh_index_add(ix, far, 1));
    }
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(c[i].failures, 0);
    ck_assert_uint_eq(dh_index_count(ix), n + 200);
    dh_index_free(ix);
    free(db);
}
END_TEST

static Suite *index_suite(void)
{
    Suite *s = suite_create("index");
    TCase *t = tcase_create("Search");
    tcase_add_test(t, test_index_search_matches_bruteforce);
    tcase_add_test(t, test_index_search_k_larger_than_n_pads);
    tcase_add_test(t, test_index_search_ties_by_insertion_order);
    tcase_add_test(t, test_index_search_few_queries_chunked);
    tcase_add_test(t, test_index_search_bad_arguments);
    tcase_add_test(t, test_index_options_n_threads_gives_same_results);
    tcase_add_test(t, test_index_concurrent_search_and_add);
    suite_add_tcase(s, t);
    t = tcase_create("Range");
    tcase_add_test(t, test_index_range_search_matches_bruteforce);
    tcase_add_test(t, test_index_range_search_bad_arguments);
    suite_add_tcase(s, t);
    t = tcase_create("Store");
    tcase_add_test(t, test_index_ids_sequential_after_custom);
    tcase_add_test(t, test_index_remove_keeps_other_ids);
    tcase_add_test(t, test_index_remove_duplicates_and_autocompact);
    tcase_add_test(t, test_index_add_rows_every_format);
    tcase_add_test(t, test_index_export_ranges);
    tcase_add_test(t, test_index_create_options);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(index_suite()); }
