/* tests/check_codelen.c -- the one code-length rule (dh.h "Code length", DH_MAX_BITS):
 * every K in 1..4096 works everywhere, K = 0 and K = 4097 fail with clear errors.
 *  - End to end for 12-, 24- and 48-bit models (the usual DPSH/ADSH lengths): train
 *    with validation, checkpoint + resume, encode, index, save/load/mmap, .npy
 *    export/import, evaluate; a tiny MLP on synthetic clustered rows keeps it fast.
 *  - Index, distances and evaluation for odd K (1, 7, 12, 63, 65, 100, 4095, 4096)
 *    against a naive bit-by-bit reference, with garbage in the padding bits of the
 *    inputs (masked: distances never see them) and zero padding in every output.
 *  - Files: nonzero padding bits in index files and packed .npy codes are refused. */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/npy.h"
#include "index/index.h"
#include "io/io.h"
#include "testutil.h"

/* ---- naive references (bit by bit, only bits j < K) ---- */

static int bit_of(const uint8_t *row, uint32_t j) { return (row[j / 8] >> (j % 8)) & 1; }

static uint32_t ref_dist(const uint8_t *a, const uint8_t *b, uint32_t K)
{
    uint32_t d = 0;
    for (uint32_t j = 0; j < K; j++) d += (uint32_t)(bit_of(a, j) != bit_of(b, j));
    return d;
}

/* k-NN by (distance, position): D/I [nq, k]; missing results are INT32_MAX / -1. */
static void ref_knn(const uint8_t *db, size_t n, const uint8_t *q, size_t nq, uint32_t K,
                    uint32_t k, int32_t *D, int64_t *I)
{
    size_t cb = dh_code_bytes(K);
    uint32_t *d = malloc((n + 1) * sizeof *d);
    for (size_t a = 0; a < nq; a++) {
        for (size_t i = 0; i < n; i++) d[i] = ref_dist(q + a * cb, db + i * cb, K);
        size_t j = 0;
        for (uint32_t t = 0; t <= K && j < k; t++)
            for (size_t i = 0; i < n && j < k; i++)
                if (d[i] == t) D[a * k + j] = (int32_t)t, I[a * k + j] = (int64_t)i, j++;
        for (; j < k; j++) D[a * k + j] = INT32_MAX, I[a * k + j] = -1;
    }
    free(d);
}

/* mAP over the whole database, ties in database order (stable sort by distance). */
static double ref_map(const uint8_t *q, const int32_t *ql, size_t nq, const uint8_t *db,
                      const int32_t *dl, size_t n, uint32_t K)
{
    size_t cb = dh_code_bytes(K);
    uint32_t *d = malloc((n + 1) * sizeof *d);
    double sum = 0;
    for (size_t a = 0; a < nq; a++) {
        for (size_t i = 0; i < n; i++) d[i] = ref_dist(q + a * cb, db + i * cb, K);
        double ap = 0, hits = 0, rank = 0;
        for (uint32_t t = 0; t <= K; t++)
            for (size_t i = 0; i < n; i++)
                if (d[i] == t) {
                    rank++;
                    if (dl[i] == ql[a]) hits++, ap += hits / rank;
                }
        sum += hits > 0 ? ap / hits : 0;
    }
    free(d);
    return sum / (double)nq;
}

/* n random codes of K bits; with `garbage`, the padding bits are random too. */
static uint8_t *rand_codes(size_t n, uint32_t K, uint64_t seed, int garbage)
{
    size_t cb = dh_code_bytes(K);
    uint8_t *c = malloc(n * cb + 1);
    dh_test_fill(c, n * cb, seed);
    uint8_t keep = K % 8 ? (uint8_t)((1u << (K % 8)) - 1) : 0xFF;
    for (size_t i = 0; !garbage && i < n; i++) c[i * cb + cb - 1] &= keep;
    return c;
}

static int padding_is_zero(const uint8_t *codes, size_t n, uint32_t K)
{
    size_t cb = dh_code_bytes(K);
    uint8_t pad = K % 8 ? (uint8_t)(0xFFu << (K % 8)) : 0;
    for (size_t i = 0; i < n; i++)
        if (codes[i * cb + cb - 1] & pad) return 0;
    return 1;
}

static const char *tmp(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dh_test_tmpdir(), name);
    return buf[k];
}

/* ---- index, distances and evaluation for odd K ---- */

static const uint32_t k_odd[] = {1, 7, 12, 63, 65, 100, 4095, 4096};

static void check_search(const dh_index *ix, const uint8_t *clean, size_t n, const uint8_t *q,
                         size_t nq, uint32_t K, uint32_t k)
{
    int32_t *D = malloc(nq * k * sizeof *D), *RD = malloc(nq * k * sizeof *RD);
    int64_t *I = malloc(nq * k * sizeof *I), *RI = malloc(nq * k * sizeof *RI);
    ck_assert_dh_ok(dh_index_search(ix, q, nq, k, D, I));
    ref_knn(clean, n, q, nq, K, k, RD, RI);
    for (size_t i = 0; i < nq * k; i++)
        ck_assert_msg(D[i] == RD[i] && I[i] == RI[i], "K=%u result %zu: (%d, %lld) want (%d, "
                      "%lld)", K, i, D[i], (long long)I[i], RD[i], (long long)RI[i]);
    free(D), free(RD), free(I), free(RI);
}

START_TEST(test_index_odd_k_matches_naive_reference)
{
    for (size_t t = 0; t < sizeof k_odd / sizeof *k_odd; t++) {
        const uint32_t K = k_odd[t];
        const size_t n = K >= 1000 ? 150 : 400, nq = 7, cb = dh_code_bytes(K);
        const uint32_t k = 25;
        uint8_t *dirty = rand_codes(n, K, 11 + K, 1), *q = rand_codes(nq, K, 99 + K, 1);
        uint8_t *clean = malloc(n * cb), *out = malloc(n * cb);
        memcpy(clean, dirty, n * cb);
        uint8_t keep = K % 8 ? (uint8_t)((1u << (K % 8)) - 1) : 0xFF;
        for (size_t i = 0; i < n; i++) clean[i * cb + cb - 1] &= keep;
        dh_index_options o;
        dh_index_options_init(&o);
        o.n_bits = K;
        dh_index *ix = NULL;
        ck_assert_dh_ok(dh_index_create(&o, &ix));
        ck_assert_uint_eq(dh_index_n_bits(ix), K);
        ck_assert_dh_ok(dh_index_add(ix, dirty, n)); /* padding garbage is masked */
        check_search(ix, clean, n, q, nq, K, k);
        /* range search: every row within radius K/2 */
        uint32_t radius = K / 2;
        dh_range_result *res = NULL;
        ck_assert_dh_ok(dh_index_range_search(ix, q, nq, radius, &res));
        const size_t *lims = dh_range_result_lims(res);
        for (size_t a = 0; a < nq; a++) {
            size_t want = 0;
            for (size_t i = 0; i < n; i++) want += ref_dist(q + a * cb, clean + i * cb, K) <= radius;
            ck_assert_uint_eq(lims[a + 1] - lims[a], want);
            for (size_t h = lims[a]; h < lims[a + 1]; h++) {
                int64_t id = dh_range_result_ids(res)[h];
                ck_assert_uint_eq((uint32_t)dh_range_result_distances(res)[h],
                                  ref_dist(q + a * cb, clean + (size_t)id * cb, K));
            }
        }
        dh_range_result_free(res);
        /* export writes zero padding: exactly the clean codes */
        ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 0, n, out, NULL));
        ck_assert_mem_eq(out, clean, n * cb);
        /* all-pairs distances */
        int32_t *dist = malloc(nq * n * sizeof *dist);
        ck_assert_dh_ok(dh_hamming_distances(q, nq, dirty, n, K, 0, dist));
        for (size_t a = 0; a < nq; a++)
            for (size_t i = 0; i < n; i++)
                ck_assert_uint_eq((uint32_t)dist[a * n + i], ref_dist(q + a * cb, clean + i * cb, K));
        free(dist);
        /* save, load and mmap keep K and every result */
        const char *p = tmp("odd.dhi");
        ck_assert_dh_ok(dh_index_save(ix, p));
        dh_index *ld = NULL, *mm = NULL;
        ck_assert_dh_ok(dh_index_load(p, &ld));
        ck_assert_dh_ok(dh_index_load_mmap(p, &mm));
        ck_assert_uint_eq(dh_index_n_bits(ld), K);
        check_search(ld, clean, n, q, nq, K, k);
        check_search(mm, clean, n, q, nq, K, k);
        /* .npy: sign rows (K = columns) and packed rows (K given) round-trip */
        ck_assert_dh_ok(dh_index_export_npy(ix, tmp("odd_f.npy"), DH_CODE_FLOAT32, NULL));
        ck_assert_dh_ok(dh_index_export_npy(ix, tmp("odd_p.npy"), DH_CODE_PACKED_MSB, NULL));
        dh_index *fi = NULL, *pi = NULL;
        ck_assert_dh_ok(dh_index_import_npy(tmp("odd_f.npy"), 0, &fi));
        ck_assert_dh_ok(dh_index_import_npy_bits(tmp("odd_p.npy"), DH_CODES_MSB_FIRST, K, &pi));
        ck_assert_uint_eq(dh_index_n_bits(fi), K);
        ck_assert_uint_eq(dh_index_n_bits(pi), K);
        check_search(fi, clean, n, q, nq, K, k);
        check_search(pi, clean, n, q, nq, K, k);
        size_t added = 0;
        ck_assert_dh_ok(dh_index_add_npy(pi, tmp("odd_p.npy"), DH_CODES_MSB_FIRST, &added));
        ck_assert_uint_eq(added, n);
        dh_index_free(fi), dh_index_free(pi), dh_index_free(ld), dh_index_free(mm);
        dh_index_free(ix);
        /* evaluation (class ids = row % 5) against the naive mAP */
        int32_t *ql = malloc(nq * sizeof *ql), *dl = malloc(n * sizeof *dl);
        for (size_t a = 0; a < nq; a++) ql[a] = (int32_t)(a % 5);
        for (size_t i = 0; i < n; i++) dl[i] = (int32_t)(i % 5);
        dh_eval_options eo;
        dh_eval_options_init(&eo);
        eo.n_bits = K;
        double map = -1;
        ck_assert_dh_ok(dh_eval_map(&eo, q, ql, nq, dirty, dl, n, &map, NULL));
        double want = ref_map(q, ql, nq, clean, dl, n, K);
        ck_assert_msg(fabs(map - want) < 1e-12, "K=%u: mAP %.15g, reference %.15g", K, map, want);
        free(ql), free(dl), free(dirty), free(clean), free(out), free(q);
    }
}
END_TEST

START_TEST(test_pack_unpack_odd_k_zero_padding)
{
    for (size_t t = 0; t < sizeof k_odd / sizeof *k_odd; t++) {
        const uint32_t K = k_odd[t];
        const size_t n = 5, cb = dh_code_bytes(K);
        float *x = malloc(n * K * sizeof *x), *back = malloc(n * K * sizeof *back);
        uint64_t s = K;
        for (size_t i = 0; i < n * K; i++) x[i] = (dh_test_rand(&s) & 1) ? 0.5f : -0.5f;
        uint8_t *c = malloc(n * cb), *m = malloc(n * cb);
        ck_assert_dh_ok(dh_codes_pack_float(x, n, K, 0, c));
        ck_assert(padding_is_zero(c, n, K));
        ck_assert_dh_ok(dh_codes_pack_float(x, n, K, DH_CODES_MSB_FIRST, m));
        ck_assert_dh_ok(dh_codes_reverse_bit_order(m, n, K, m));
        ck_assert_mem_eq(m, c, n * cb);
        ck_assert_dh_ok(dh_codes_unpack_float(c, n, K, 0, back));
        for (size_t i = 0; i < n * K; i++) ck_assert(back[i] == (x[i] >= 0 ? 1.0f : -1.0f));
        free(x), free(back), free(c), free(m);
    }
}
END_TEST

/* ---- bad K everywhere ---- */

#define FAILS_WITH(expr, st, needle)                                                         \
    do {                                                                                     \
        ck_assert_dh_fail(expr, st);                                                         \
        ck_assert_msg(strstr(dh_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'",  \
                      #expr, dh_last_error(), needle);                                       \
    } while (0)

START_TEST(test_bad_k_fails_clearly_everywhere)
{
    const uint32_t bad[] = {0, DH_MAX_BITS + 1};
    ck_assert_int_eq(DH_MAX_BITS, 4096);
    uint8_t codes[1024] = {0};
    float x[8200] = {0};
    int32_t lab[2] = {0, 0}, dist[4];
    for (size_t b = 0; b < 2; b++) {
        const uint32_t K = bad[b];
        dh_index_options io;
        dh_index_options_init(&io);
        io.n_bits = K;
        dh_index *ix = (dh_index *)1;
        FAILS_WITH(dh_index_create(&io, &ix), DH_E_INVALID_ARG, "1..4096");
        ck_assert_ptr_null(ix);
        dh_eval_options eo;
        dh_eval_options_init(&eo);
        eo.n_bits = K;
        double map;
        FAILS_WITH(dh_eval_map(&eo, codes, lab, 1, codes, lab, 2, &map, NULL), DH_E_INVALID_ARG,
                   "n_bits");
        FAILS_WITH(dh_codes_pack_float(x, 1, K, 0, codes), DH_E_INVALID_ARG, "1..4096");
        FAILS_WITH(dh_hamming_distances(codes, 1, codes, 1, K, 0, dist), DH_E_INVALID_ARG,
                   "1..4096");
        /* (n_bits 0 there means "from the file", so 2^32 - 1 stands in for it) */
        FAILS_WITH(dh_index_import_npy_bits(tmp("none.npy"), 0, K ? K : 0xFFFFFFFFu, &ix),
                   DH_E_INVALID_ARG, "1..4096");
        if (!dh_has_training()) continue;
        dh_head_options ho;
        dh_head_options_init(&ho);
        ho.n_bits = K;
        ho.in_dim = 8;
        dh_head *h = NULL;
        FAILS_WITH(dh_head_create(&ho, &h), DH_E_INVALID_ARG, "1..4096");
        dh_model_options mo;
        dh_model_options_init(&mo);
        mo.encoder = "mlp:8-16";
        mo.n_bits = K;
        dh_model *m = NULL;
        FAILS_WITH(dh_model_create(&mo, &m), DH_E_INVALID_ARG, "dh_model_create");
        ck_assert_ptr_null(m);
        dh_loss_options lo;
        dh_loss_options_init(&lo);
        lo.n_bits = K;
        lo.n_classes = 3;
        dh_loss *L = NULL;
        FAILS_WITH(dh_loss_create("csq", &lo, &L), DH_E_INVALID_ARG, "1..4096");
    }
    if (!dh_has_training()) return;
    /* a model file whose metadata says n_bits "00" (K = 0; same length as "12") */
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = "mlp:8-16";
    mo.n_bits = 12;
    dh_model *m = NULL;
    ck_assert_dh_ok(dh_model_create(&mo, &m));
    const char *p = tmp("k12.safetensors");
    ck_assert_dh_ok(dh_model_save(m, p));
    dh_model_free(m);
    uint8_t *b;
    size_t len;
    ck_assert_dh_ok(dh__read_file(p, &b, &len));
    const char key[] = "\"n_bits\":\"12\"";
    uint8_t *at = memmem(b, len, key, sizeof key - 1);
    ck_assert_ptr_nonnull(at);
    memcpy(at + sizeof key - 4, "00", 2);
    FILE *fp = fopen(p, "wb");
    ck_assert_uint_eq(fwrite(b, 1, len, fp), len);
    fclose(fp);
    free(b);
    m = (dh_model *)1;
    FAILS_WITH(dh_model_load(p, &m), DH_E_FORMAT, "n_bits");
    ck_assert_msg(strstr(dh_last_error(), "1..4096") != NULL, "%s", dh_last_error());
}
END_TEST

/* Rewrite the header CRC and the data CRC of an index file image after an edit. */
static void fix_crcs(uint8_t *b, size_t len)
{
    dh__put_le32(b + 60, dh__crc32c(0, b, 60));
    dh__put_le32(b + len - 8, dh__crc32c(0, b, len - 8));
}

START_TEST(test_files_refuse_bad_k_and_padding)
{
    /* an index file of K = 12 whose row 1 sets bit 12 (padding) */
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = 12;
    dh_index *ix = NULL;
    ck_assert_dh_ok(dh_index_create(&o, &ix));
    uint8_t c[6] = {0xFF, 0x0F, 0x01, 0x00, 0x12, 0x03};
    ck_assert_dh_ok(dh_index_add(ix, c, 3));
    const char *p = tmp("k12.dhi");
    ck_assert_dh_ok(dh_index_save(ix, p));
    dh_index_free(ix);
    uint8_t *b;
    size_t len;
    ck_assert_dh_ok(dh__read_file(p, &b, &len));
    size_t codes_off = (64 + 3 * 8 + 63) / 64 * 64; /* docs/file-formats.md */
    ck_assert_uint_eq(b[codes_off + 8 + 1], 0x00);
    b[codes_off + 8 + 1] = 0x10; /* row 1, bit 12 */
    fix_crcs(b, len);
    ix = (dh_index *)1;
    FAILS_WITH(dh__index_load_buffer(b, len, 0, "buf", &ix), DH_E_FORMAT, "beyond K = 12");
    b[codes_off + 8 + 1] = 0;
    dh__put_le32(b + 16, DH_MAX_BITS + 1); /* K = 4097 */
    fix_crcs(b, len);
    FAILS_WITH(dh__index_load_buffer(b, len, 0, "buf", &ix), DH_E_FORMAT, "offset 16");
    dh__put_le32(b + 16, 0);
    fix_crcs(b, len);
    FAILS_WITH(dh__index_load_buffer(b, len, 0, "buf", &ix), DH_E_FORMAT, "offset 16");
    free(b);
    /* packed .npy rows with a padding bit set, read as K = 12 (LSB- and MSB-first) */
    int64_t shape[2] = {2, 2};
    uint8_t lsb[4] = {0x01, 0x0F, 0x00, 0x10}, msb[4] = {0x80, 0xF0, 0x00, 0x08};
    ck_assert_dh_ok(dh__npy_write(tmp("pad_l.npy"), DH_DTYPE_UINT8, 2, shape, lsb));
    ck_assert_dh_ok(dh__npy_write(tmp("pad_m.npy"), DH_DTYPE_UINT8, 2, shape, msb));
    FAILS_WITH(dh_index_import_npy_bits(tmp("pad_l.npy"), 0, 12, &ix), DH_E_FORMAT, "row 1");
    FAILS_WITH(dh_index_import_npy_bits(tmp("pad_m.npy"), DH_CODES_MSB_FIRST, 12, &ix),
               DH_E_FORMAT, "row 1");
    lsb[3] = msb[3] = 0; /* now clean: K = 12 loads, K = 16 by default */
    ck_assert_dh_ok(dh__npy_write(tmp("pad_l.npy"), DH_DTYPE_UINT8, 2, shape, lsb));
    ck_assert_dh_ok(dh__npy_write(tmp("pad_m.npy"), DH_DTYPE_UINT8, 2, shape, msb));
    ck_assert_dh_ok(dh_index_import_npy_bits(tmp("pad_l.npy"), 0, 12, &ix));
    ck_assert_uint_eq(dh_index_n_bits(ix), 12);
    dh_index *im = NULL;
    ck_assert_dh_ok(dh_index_import_npy_bits(tmp("pad_m.npy"), DH_CODES_MSB_FIRST, 12, &im));
    uint8_t e1[4], e2[4];
    ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 0, 2, e1, NULL));
    ck_assert_dh_ok(dh_index_export(im, DH_CODE_PACKED, 0, 2, e2, NULL));
    ck_assert_mem_eq(e1, lsb, 4);
    ck_assert_mem_eq(e2, lsb, 4);
    dh_index_free(im);
    dh_index_free(ix);
    /* 3 packed columns are not a 12-bit code */
    int64_t s3[2] = {1, 3};
    ck_assert_dh_ok(dh__npy_write(tmp("pad3.npy"), DH_DTYPE_UINT8, 2, s3, lsb));
    FAILS_WITH(dh_index_import_npy_bits(tmp("pad3.npy"), 0, 12, &ix), DH_E_SHAPE, "12-bit");
    ck_assert_dh_ok(dh_index_import_npy(tmp("pad_l.npy"), 0, &ix));
    ck_assert_uint_eq(dh_index_n_bits(ix), 16);
    dh_index_free(ix);
}
END_TEST

/* ---- end to end: 12-, 24- and 48-bit models ---- */

enum { N = 600, D = 24, C = 6 };
static float *g_x;
static int32_t g_y[N];

/* Class c shifts coordinates c, c+C, ... by +1.5; uniform noise of width 3. */
static void make_data(void)
{
    if (g_x) return;
    g_x = malloc((size_t)N * D * sizeof(float));
    uint64_t s = 5;
    for (int i = 0; i < N; i++) {
        g_y[i] = i % C;
        for (int d = 0; d < D; d++) {
            double u = (double)(dh_test_rand(&s) >> 11) / 9007199254740992.0;
            g_x[i * D + d] = (float)((d % C == g_y[i] ? 1.5 : 0.0) + (u - 0.5) * 3.0);
        }
    }
}

typedef struct run {
    dh_dataset *ds;
    dh_model *m;
    dh_loss *loss;
    dh_trainer *t;
} run;

static dh_status setup(run *r, uint32_t K, dh_trainer_options *to)
{
    make_data();
    memset(r, 0, sizeof *r);
    DH_TRY_T(dh_dataset_from_features(g_x, N, D, g_y, NULL, C, &r->ds));
    dh_loss_options lo;
    dh_loss_options_init(&lo);
    lo.n_bits = K;
    lo.n_classes = C;
    lo.n_train = N;
    DH_TRY_T(dh_loss_create("dch", &lo, &r->loss)); /* in-batch: learns in 4 epochs */
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = "mlp:24-48";
    mo.n_bits = K;
    DH_TRY_T(dh_loss_head_hint(r->loss, &mo.head, NULL));
    DH_TRY_T(dh_model_create(&mo, &r->m));
    DH_TRY_T(dh_trainer_create(r->m, r->loss, r->ds, to, &r->t));
    return dh_trainer_set_validation(r->t, r->ds, r->ds); /* validation every epoch */
}

static void teardown(run *r)
{
    dh_trainer_free(r->t);
    dh_loss_free(r->loss);
    dh_model_free(r->m);
    dh_dataset_free(r->ds);
}

static int32_t stop_after_2(const dh_train_progress *p, void *user)
{
    (void)user;
    return p->event == DH_TRAIN_EVENT_EPOCH && p->epoch == 1;
}

static void end_to_end(uint32_t K)
{
    if (!dh_has_training()) return;
    const size_t cb = dh_code_bytes(K);
    char ck[512], mp[512];
    snprintf(ck, sizeof ck, "%s/k%u.ckpt", dh_test_tmpdir(), K);
    snprintf(mp, sizeof mp, "%s/k%u.safetensors", dh_test_tmpdir(), K);
    unlink(ck);
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    to.epochs = 4;
    to.batch_size = 100;
    to.optimizer = DH_OPTIM_ADAM;
    to.lr = 1e-3;
    to.eval_every = 1;
    to.keep_best = 0;
    run r;
    uint8_t *before = malloc(N * cb), *codes = malloc(N * cb), *again = malloc(N * cb);
    /* the straight run: trains and validates at every epoch */
    ck_assert_dh_ok(setup(&r, K, &to));
    ck_assert_uint_eq(dh_model_n_bits(r.m), K);
    ck_assert_dh_ok(dh_model_encode_dataset(r.m, r.ds, before, NULL));
    ck_assert_dh_ok(dh_trainer_run(r.t));
    dh_train_progress p = {.struct_size = sizeof p};
    ck_assert_dh_ok(dh_trainer_get_progress(r.t, &p));
    ck_assert_msg(p.map > 1.5 / C, "K=%u: validation mAP %g (chance ~%g)", K, p.map, 1.0 / C);
    ck_assert_dh_ok(dh_model_encode_dataset(r.m, r.ds, codes, NULL));
    ck_assert(padding_is_zero(codes, N, K));
    ck_assert_dh_ok(dh_model_save(r.m, mp));
    teardown(&r);
    /* checkpoint after epoch 2, then a fresh trainer resumes: the same codes */
    to.checkpoint_path = ck;
    to.resume = 1;
    to.callback = stop_after_2;
    ck_assert_dh_ok(setup(&r, K, &to));
    ck_assert_dh_fail(dh_trainer_run(r.t), DH_E_INTERRUPTED);
    teardown(&r);
    to.callback = NULL;
    ck_assert_dh_ok(setup(&r, K, &to));
    ck_assert_dh_ok(dh_trainer_run(r.t));
    ck_assert_dh_ok(dh_model_encode_dataset(r.m, r.ds, again, NULL));
    ck_assert_msg(memcmp(again, codes, N * cb) == 0, "K=%u: resumed codes differ", K);
    teardown(&r);
    /* the model file keeps K and the codes */
    dh_model *m = NULL;
    ck_assert_dh_ok(dh_model_load(mp, &m));
    ck_assert_uint_eq(dh_model_n_bits(m), K);
    memset(again, 0xAB, N * cb);
    dh_dataset *ds = NULL;
    ck_assert_dh_ok(dh_dataset_from_features(g_x, N, D, g_y, NULL, C, &ds));
    ck_assert_dh_ok(dh_model_encode_dataset(m, ds, again, NULL));
    ck_assert_mem_eq(again, codes, N * cb);
    dh_dataset_free(ds);
    dh_model_free(m);
    /* index -> save -> load: search equals the naive reference */
    dh_index_options io;
    dh_index_options_init(&io);
    io.n_bits = K;
    dh_index *ix = NULL, *ld = NULL;
    ck_assert_dh_ok(dh_index_create(&io, &ix));
    ck_assert_dh_ok(dh_index_add(ix, codes, N));
    const char *ip = tmp("e2e.dhi");
    ck_assert_dh_ok(dh_index_save(ix, ip));
    ck_assert_dh_ok(dh_index_load(ip, &ld));
    ck_assert_uint_eq(dh_index_n_bits(ld), K);
    check_search(ld, codes, N, codes, 20, K, 30);
    dh_index_free(ix);
    /* evaluation of the loaded codes: the naive mAP, and well above the untrained one */
    uint8_t *exported = malloc(N * cb);
    ck_assert_dh_ok(dh_index_export(ld, DH_CODE_PACKED, 0, N, exported, NULL));
    ck_assert_mem_eq(exported, codes, N * cb);
    dh_index_free(ld);
    dh_eval_options eo;
    dh_eval_options_init(&eo);
    eo.n_bits = K;
    double m0 = 0, m1 = 0;
    ck_assert_dh_ok(dh_eval_map(&eo, before, g_y, N, before, g_y, N, &m0, NULL));
    ck_assert_dh_ok(dh_eval_map(&eo, exported, g_y, N, exported, g_y, N, &m1, NULL));
    double want = ref_map(exported, g_y, N, exported, g_y, N, K);
    ck_assert_msg(fabs(m1 - want) < 1e-12, "K=%u: mAP %.15g, reference %.15g", K, m1, want);
    if (getenv("DH_VERBOSE")) printf("K=%u: mAP %.3f -> %.3f\n", K, m0, m1);
    ck_assert_msg(m1 > 0.5 && m1 > m0 + 0.15, "K=%u: mAP %g -> %g", K, m0, m1);
    free(before), free(codes), free(again), free(exported);
}

START_TEST(test_end_to_end_12_bits) { end_to_end(12); }
END_TEST
START_TEST(test_end_to_end_24_bits) { end_to_end(24); }
END_TEST
START_TEST(test_end_to_end_48_bits) { end_to_end(48); }
END_TEST

static Suite *codelen_suite(void)
{
    Suite *s = suite_create("codelen");
    TCase *t = tcase_create("Index");
    tcase_add_test(t, test_index_odd_k_matches_naive_reference);
    tcase_add_test(t, test_pack_unpack_odd_k_zero_padding);
    tcase_add_test(t, test_bad_k_fails_clearly_everywhere);
    tcase_add_test(t, test_files_refuse_bad_k_and_padding);
    suite_add_tcase(s, t);
    t = tcase_create("EndToEnd");
    tcase_add_test(t, test_end_to_end_12_bits);
    tcase_add_test(t, test_end_to_end_24_bits);
    tcase_add_test(t, test_end_to_end_48_bits);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(codelen_suite()); }
