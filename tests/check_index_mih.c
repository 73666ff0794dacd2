/* tests/check_index_mih.c -- multi-index hashing: k-NN and range search with the tables
 * (forced and automatic) give exactly the linear scan's ids, distances and tie order on
 * random, clustered, duplicated and tied codes, every K the index accepts, many m,
 * every radius, k = 1..n+; after adds (tail and rebuild), removes, compaction, save /
 * load / mmap; concurrent searches during adds; bad arguments. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "check_index_ref.h"
#include "io/io.h"

/* K = 1, 12, 100 run where the index accepts any K (1..4096), and are skipped where it
 * takes multiples of 8 only. */
static const uint32_t k_bits[] = {8, 16, 24, 32, 64, 128, 256, 1, 12, 100};

static int k_supported(uint32_t K)
{
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = K;
    dh_index *ix = NULL;
    if (dh_index_create(&o, &ix) != DH_OK) return 0;
    dh_index_free(ix);
    return 1;
}

static size_t cbytes(uint32_t K) { return (K + 7) / 8; }

/* Zero the padding bits of n codes (K not a multiple of 8). */
static void clear_pad(uint8_t *c, size_t n, uint32_t K)
{
    size_t nb = cbytes(K);
    if (K % 8)
        for (size_t i = 0; i < n; i++) c[i * nb + nb - 1] &= (uint8_t)((1u << (K % 8)) - 1);
}

static uint8_t *rnd(size_t n, uint32_t K, uint64_t seed)
{
    uint8_t *c = malloc(n * cbytes(K) + 1);
    dh_test_fill(c, n * cbytes(K), seed);
    clear_pad(c, n, K);
    return c;
}

enum { D_RANDOM, D_CLUSTER, D_DUP, D_TIES, D_KINDS };

/* n codes of kind `kind`. Clustered: 8 centres, each row flips 0..3 random bits. */
static uint8_t *make_codes(int kind, size_t n, uint32_t K, uint64_t seed)
{
    size_t nb = cbytes(K);
    if (kind == D_RANDOM) return rnd(n, K, seed);
    if (kind == D_TIES) {
        uint8_t *t = tie_codes(n, nb * 8, seed);
        clear_pad(t, n, K);
        return t;
    }
    uint8_t *c = malloc(n * nb + 1), *cent = rnd(8, K, seed ^ 77);
    uint64_t s = seed | 1;
    for (size_t i = 0; i < n; i++) {
        size_t from = kind == D_DUP ? dh_test_rand(&s) % 5 : dh_test_rand(&s) % 8;
        memcpy(c + i * nb, cent + from * nb, nb);
        int flips = kind == D_DUP ? 0 : (int)(dh_test_rand(&s) % 4);
        for (int f = 0; f < flips; f++) {
            uint32_t b = (uint32_t)(dh_test_rand(&s) % K);
            c[i * nb + b / 8] ^= (uint8_t)(1u << (b % 8));
        }
    }
    free(cent);
    return c;
}

/* Queries: half copies of database rows with 0..2 bits flipped, half fresh codes. */
static uint8_t *make_queries(const uint8_t *db, size_t n, size_t nq, uint32_t K, uint64_t seed)
{
    size_t nb = cbytes(K);
    uint8_t *q = rnd(nq, K, seed);
    uint64_t s = seed | 1;
    for (size_t i = 0; i < nq; i += 2) {
        memcpy(q + i * nb, db + (dh_test_rand(&s) % n) * nb, nb);
        for (uint64_t f = dh_test_rand(&s) % 3; f > 0; f--) {
            uint32_t b = (uint32_t)(dh_test_rand(&s) % K);
            q[i * nb + b / 8] ^= (uint8_t)(1u << (b % 8));
        }
    }
    return q;
}

static dh_index *new_index(uint32_t K, int32_t mih, int32_t mode)
{
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = K;
    o.multi_index = mih;
    o.search_mode = mode;
    dh_index *ix = NULL;
    ck_assert_dh_ok(dh_index_create(&o, &ix));
    return ix;
}

/* k-NN of `a` (with tables) equals `ref` (scan). */
static void same_knn(const dh_index *a, const dh_index *ref, const uint8_t *q, size_t nq,
                     uint32_t k, const char *what)
{
    size_t c = nq * k;
    int32_t *D = malloc(c * 4 + 4), *RD = malloc(c * 4 + 4);
    int64_t *I = malloc(c * 8 + 8), *RI = malloc(c * 8 + 8);
    ck_assert_dh_ok(dh_index_search(ref, q, nq, k, RD, RI));
    memset(D, 0x55, c * 4);
    ck_assert_dh_ok(dh_index_search(a, q, nq, k, D, I));
    for (size_t j = 0; j < c; j++)
        ck_assert_msg(D[j] == RD[j] && I[j] == RI[j],
                      "%s k=%u: result %zu (query %zu) is (%d,%lld), scan says (%d,%lld)", what,
                      k, j, j / k, D[j], (long long)I[j], RD[j], (long long)RI[j]);
    ck_assert_dh_ok(dh_index_search(a, q, nq, k, NULL, I)); /* distances not wanted */
    for (size_t j = 0; j < c; j++) ck_assert_int_eq(I[j], RI[j]);
    free(D), free(RD), free(I), free(RI);
}

static void same_range(const dh_index *a, const dh_index *ref, const uint8_t *q, size_t nq,
                       uint32_t r, const char *what)
{
    dh_range_result *x = NULL, *y = NULL;
    ck_assert_dh_ok(dh_index_range_search(a, q, nq, r, &x));
    ck_assert_dh_ok(dh_index_range_search(ref, q, nq, r, &y));
    const size_t *lx = dh_range_result_lims(x), *ly = dh_range_result_lims(y);
    for (size_t i = 0; i <= nq; i++)
        ck_assert_msg(lx[i] == ly[i], "%s r=%u: lims[%zu] %zu, scan %zu", what, r, i, lx[i],
                      ly[i]);
    for (size_t j = 0; j < lx[nq]; j++)
        ck_assert_msg(dh_range_result_ids(x)[j] == dh_range_result_ids(y)[j] &&
                          dh_range_result_distances(x)[j] == dh_range_result_distances(y)[j],
                      "%s r=%u: hit %zu is (%d,%lld), scan (%d,%lld)", what, r, j,
                      dh_range_result_distances(x)[j], (long long)dh_range_result_ids(x)[j],
                      dh_range_result_distances(y)[j], (long long)dh_range_result_ids(y)[j]);
    dh_range_result_free(x);
    dh_range_result_free(y);
}

/* Every m for K <= 16; else 1..6, K/4, K/2 and K (those three up to 64 tables: a
 * candidate's canonical-probe check is O(m), so m = 256 over 240 rows is slow, not
 * different), and auto. */
static int m_values(uint32_t K, int32_t *out)
{
    int n = 0;
    uint32_t top = K <= 16 ? K : 6;
    for (uint32_t m = 1; m <= top; m++) out[n++] = (int32_t)m;
    uint32_t extra[3] = {K / 4, K / 2, K};
    for (int i = 0; K > 16 && i < 3; i++)
        if (extra[i] > top && extra[i] <= 64 && out[n - 1] != (int32_t)extra[i])
            out[n++] = (int32_t)extra[i];
    out[n++] = DH_MIH_AUTO;
    return n;
}

START_TEST(test_mih_equals_scan_every_k_m_radius)
{
    const size_t n = 240, nq = 6;
    dh_set_num_threads(1);
    for (size_t a = 0; a < sizeof k_bits / sizeof *k_bits; a++) {
        uint32_t K = k_bits[a];
        if (!k_supported(K)) continue;
        for (int kind = 0; kind < D_KINDS; kind++) {
            uint8_t *db = make_codes(kind, n, K, K * 10 + (uint64_t)kind);
            uint8_t *q = make_queries(db, n, nq, K, K + 99);
            dh_index *ref = new_index(K, 0, DH_SEARCH_SCAN);
            ck_assert_dh_ok(dh_index_add(ref, db, n));
            int32_t ms[24];
            int nm = m_values(K, ms);
            for (int mi = 0; mi < nm; mi++) {
                dh_index *ix = new_index(K, 0, DH_SEARCH_MIH);
                ck_assert_dh_ok(dh_index_add(ix, db, n));
                ck_assert_dh_ok(dh_index_build_mih(ix, ms[mi]));
                uint32_t m = 0;
                size_t rows = 0;
                ck_assert_dh_ok(dh_index_mih_info(ix, &m, &rows, NULL));
                ck_assert_uint_eq(rows, n);
                if (ms[mi] > 0) ck_assert_uint_eq(m, (uint32_t)ms[mi]);
                char what[96];
                snprintf(what, sizeof what, "K=%u kind=%d m=%d", K, kind, ms[mi]);
                static const uint32_t ks[] = {1, 2, 3, 5, 10, 17, 64, 239, 240, 241, 300};
                for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
                    same_knn(ix, ref, q, nq, ks[ki], what);
                for (uint32_t r = 0; r <= K + 1; r += (K > 64 && r >= 8) ? 7 : 1)
                    same_range(ix, ref, q, nq, r, what);
                dh_index_free(ix);
            }
            dh_index_free(ref);
            free(db), free(q);
        }
    }
}
END_TEST

START_TEST(test_mih_every_k_small_n)
{
    const size_t n = 50, nq = 4;
    uint32_t Ks[] = {16, 64};
    dh_set_num_threads(1);
    for (int a = 0; a < 2; a++)
        for (int kind = 0; kind < D_KINDS; kind++) {
            uint32_t K = Ks[a];
            uint8_t *db = make_codes(kind, n, K, 5 + (uint64_t)kind);
            uint8_t *q = make_queries(db, n, nq, K, 6);
            dh_index *ref = new_index(K, 0, DH_SEARCH_SCAN), *ix = new_index(K, 0,
                                                                             DH_SEARCH_MIH);
            ck_assert_dh_ok(dh_index_add(ref, db, n));
            ck_assert_dh_ok(dh_index_add(ix, db, n));
            ck_assert_dh_ok(dh_index_build_mih(ix, 3));
            for (uint32_t k = 1; k <= n + 3; k++) same_knn(ix, ref, q, nq, k, "every k");
            for (uint32_t r = 0; r <= K; r++) same_range(ix, ref, q, nq, r, "every r");
            dh_index_free(ix), dh_index_free(ref);
            free(db), free(q);
        }
}
END_TEST

/* A larger index: real key widths (hmax = 11) and the AUTO cost model. */
START_TEST(test_mih_larger_index_auto_and_forced)
{
    const size_t n = 6000, nq = 40;
    uint32_t Ks[] = {32, 64, 128};
    for (int a = 0; a < 3; a++)
        for (int kind = 0; kind < D_KINDS; kind++) {
            uint32_t K = Ks[a];
            uint8_t *db = make_codes(kind, n, K, 11 + (uint64_t)kind);
            uint8_t *q = make_queries(db, n, nq, K, 12);
            dh_index *ref = new_index(K, 0, DH_SEARCH_SCAN);
            dh_index *ix = new_index(K, DH_MIH_AUTO, DH_SEARCH_MIH);
            ck_assert_dh_ok(dh_index_add(ref, db, n));
            ck_assert_dh_ok(dh_index_add(ix, db, n)); /* tables built by the add */
            uint32_t m = 0;
            ck_assert_dh_ok(dh_index_mih_info(ix, &m, NULL, NULL));
            ck_assert_uint_ge(m, 1);
            for (int mode = DH_SEARCH_AUTO; mode <= DH_SEARCH_MIH; mode++) {
                ck_assert_dh_ok(dh_index_set_search_mode(ix, mode));
                for (uint32_t th = 1; th <= 2; th++) {
                    dh_set_num_threads(th);
                    uint32_t ks[] = {1, 10, 100};
                    for (int ki = 0; ki < 3; ki++) same_knn(ix, ref, q, nq, ks[ki], "large");
                    same_knn(ix, ref, q, 1, 7, "large, one query");
                    for (uint32_t r = 0; r <= 4; r++) same_range(ix, ref, q, nq, r, "large");
                }
            }
            dh_set_num_threads(0);
            dh_index_free(ix), dh_index_free(ref);
            free(db), free(q);
        }
}
END_TEST

/* Adds (tail, then rebuild), removes, compaction: always equal to the scan. */
START_TEST(test_mih_after_add_remove_compact)
{
    const uint32_t K = 64;
    const size_t n = 3000, nq = 12;
    for (int kind = 0; kind < D_KINDS; kind++) {
        uint8_t *db = make_codes(kind, 2 * n, K, 31 + (uint64_t)kind);
        uint8_t *q = make_queries(db, 2 * n, nq, K, 32);
        dh_index *ref = new_index(K, 0, DH_SEARCH_SCAN), *ix = new_index(K, 0, DH_SEARCH_MIH);
        ck_assert_dh_ok(dh_index_add(ref, db, n));
        ck_assert_dh_ok(dh_index_add(ix, db, n));
        ck_assert_dh_ok(dh_index_build_mih(ix, 4));
        /* 500 rows: stay in the tail */
        ck_assert_dh_ok(dh_index_add(ref, db + n * 8, 500));
        ck_assert_dh_ok(dh_index_add(ix, db + n * 8, 500));
        size_t rows = 0;
        ck_assert_dh_ok(dh_index_mih_info(ix, NULL, &rows, NULL));
        ck_assert_uint_eq(rows, n);
        same_knn(ix, ref, q, nq, 10, "tail");
        same_range(ix, ref, q, nq, 3, "tail");
        /* 1500 more: the tail passes 1024 and the tables are rebuilt */
        ck_assert_dh_ok(dh_index_add(ref, db + (n + 500) * 8, 1500));
        ck_assert_dh_ok(dh_index_add(ix, db + (n + 500) * 8, 1500));
        ck_assert_dh_ok(dh_index_mih_info(ix, NULL, &rows, NULL));
        ck_assert_uint_eq(rows, n + 2000);
        same_knn(ix, ref, q, nq, 10, "rebuilt");
        /* remove every third id and a query's own neighbours */
        int64_t rm[1700];
        for (size_t i = 0; i < 1700; i++) rm[i] = (int64_t)(i * 3);
        size_t got_a = 0, got_b = 0;
        ck_assert_dh_ok(dh_index_remove_ids(ix, rm, 1700, &got_a));
        ck_assert_dh_ok(dh_index_remove_ids(ref, rm, 1700, &got_b));
        ck_assert_uint_eq(got_a, got_b);
        for (uint32_t k = 1; k <= 200; k += 33) same_knn(ix, ref, q, nq, k, "removed");
        for (uint32_t r = 0; r <= 6; r++) same_range(ix, ref, q, nq, r, "removed");
        ck_assert_dh_ok(dh_index_compact(ix));
        ck_assert_dh_ok(dh_index_compact(ref));
        uint32_t m = 0;
        ck_assert_dh_ok(dh_index_mih_info(ix, &m, &rows, NULL));
        ck_assert_uint_eq(m, 4);
        ck_assert_uint_eq(rows, dh_index_count(ix));
        same_knn(ix, ref, q, nq, 10, "compacted");
        same_range(ix, ref, q, nq, 2, "compacted");
        /* more than half removed: automatic compaction rebuilds too */
        int64_t rm2[5000];
        for (size_t i = 0; i < 5000; i++) rm2[i] = (int64_t)i;
        ck_assert_dh_ok(dh_index_remove_ids(ix, rm2, 4000, NULL));
        ck_assert_dh_ok(dh_index_remove_ids(ref, rm2, 4000, NULL));
        ck_assert_uint_eq(dh_index_n_removed(ix), 0);
        same_knn(ix, ref, q, nq, 5, "auto-compacted");
        dh_index_free(ix), dh_index_free(ref);
        free(db), free(q);
    }
}
END_TEST

START_TEST(test_mih_save_load_mmap)
{
    const uint32_t K = 128;
    const size_t n = 2500, nq = 10;
    uint8_t *db = make_codes(D_CLUSTER, n + 300, K, 41);
    uint8_t *q = make_queries(db, n, nq, K, 42);
    dh_index *ref = new_index(K, 0, DH_SEARCH_SCAN), *ix = new_index(K, 0, DH_SEARCH_MIH);
    ck_assert_dh_ok(dh_index_add(ref, db, n + 300));
    ck_assert_dh_ok(dh_index_add(ix, db, n));
    ck_assert_dh_ok(dh_index_build_mih(ix, 5));
    ck_assert_dh_ok(dh_index_add(ix, db + n * 16, 300)); /* a tail is saved as rows only */
    int64_t rm[3] = {7, 8, 2600};
    ck_assert_dh_ok(dh_index_remove_ids(ix, rm, 3, NULL));
    ck_assert_dh_ok(dh_index_remove_ids(ref, rm, 3, NULL));
    char path[512];
    snprintf(path, sizeof path, "%s/mih.dhi", dh_test_tmpdir());
    ck_assert_dh_ok(dh_index_save(ix, path));
    for (int mm = 1; mm >= 0; mm--) { /* mmap first: the load case adds to ref */
        dh_index *b = NULL;
        ck_assert_dh_ok(mm ? dh_index_load_mmap(path, &b) : dh_index_load(path, &b));
        uint32_t m = 0;
        size_t rows = 0;
        ck_assert_dh_ok(dh_index_mih_info(b, &m, &rows, NULL));
        ck_assert_uint_eq(m, 5);
        ck_assert_uint_eq(rows, n);
        ck_assert_dh_ok(dh_index_set_search_mode(b, DH_SEARCH_MIH));
        for (uint32_t k = 1; k <= 100; k += 11) same_knn(b, ref, q, nq, k, mm ? "mmap" : "load");
        for (uint32_t r = 0; r <= 8; r++) same_range(b, ref, q, nq, r, mm ? "mmap" : "load");
        if (mm) { /* tables can be rebuilt in memory for a mapped index */
            ck_assert_dh_ok(dh_index_build_mih(b, 3));
            same_knn(b, ref, q, nq, 10, "mmap rebuilt");
        } else { /* loaded tables stay maintained */
            ck_assert_dh_ok(dh_index_add(b, db, 1200));
            ck_assert_dh_ok(dh_index_add(ref, db, 1200));
            ck_assert_dh_ok(dh_index_mih_info(b, NULL, &rows, NULL));
            ck_assert_uint_eq(rows, n + 1500);
            same_knn(b, ref, q, nq, 10, "load + add");
        }
        dh_index_free(b);
    }
    /* without tables the file stays format version 1 */
    ck_assert_dh_ok(dh_index_drop_mih(ix));
    ck_assert_dh_ok(dh_index_save(ix, path));
    FILE *fp = fopen(path, "rb");
    uint8_t h[12];
    ck_assert_uint_eq(fread(h, 1, 12, fp), 12);
    fclose(fp);
    ck_assert_uint_eq(h[8], 1);
    dh_index_free(ix), dh_index_free(ref);
    free(db), free(q);
}
END_TEST

/* A corrupted table entry (with a valid CRC recomputed) is refused, not searched. */
START_TEST(test_mih_load_rejects_bad_section)
{
    const uint32_t K = 32;
    dh_index *ix = new_index(K, 0, DH_SEARCH_AUTO);
    uint8_t *db = make_codes(D_RANDOM, 100, K, 3);
    ck_assert_dh_ok(dh_index_add(ix, db, 100));
    ck_assert_dh_ok(dh_index_build_mih(ix, 2));
    dh_index *b = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/mihbad.dhi", dh_test_tmpdir());
    ck_assert_dh_ok(dh_index_save(ix, path));
    FILE *fp = fopen(path, "rb");
    static uint8_t buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    ck_assert_int_eq(buf[8], 2);
    /* the header's flags say a section follows: clearing them leaves extra bytes */
    size_t mih_off = (64 + 100 * 8 + 63) / 64 * 64 + 100 * 8 + 16;
    mih_off = (mih_off + 63) / 64 * 64;
    ck_assert_int_eq(memcmp(buf + mih_off, "DHMIH", 5), 0);
    uint8_t *copy = malloc(len);
    memcpy(copy, buf, len);
    /* entry 0 of table 0 repeats entry 1 (a duplicate, or a row in the wrong bucket);
     * 3-byte rows follow the 2^h + 1 offsets; the data CRC is recomputed */
    size_t h0 = (size_t)copy[mih_off + 32 + 8];
    size_t rows0 = mih_off + 64 + ((((size_t)1 << h0) + 1) * 4 + 63) / 64 * 64;
    memcpy(copy + rows0, copy + rows0 + 3, 3);
    dh__put_le32(copy + len - 8, dh__crc32c(0, copy, len - 8));
    ck_assert_int_ne(memcmp(copy, buf, len), 0);
    ck_assert_dh_fail(dh__index_load_buffer(copy, len, 0, "test", &b), DH_E_FORMAT);
    ck_assert_msg(strstr(dh_last_error(), "multi-index row entry") != NULL, "%s",
                  dh_last_error());
    /* a table count above K */
    memcpy(copy, buf, len);
    dh__put_le32(copy + mih_off + 8, 33);
    dh__put_le32(copy + len - 8, dh__crc32c(0, copy, len - 8));
    ck_assert_dh_fail(dh__index_load_buffer(copy, len, 0, "test", &b), DH_E_FORMAT);
    /* truncated section */
    ck_assert_dh_fail(dh__index_load_buffer(buf, len - 72, 0, "test", &b), DH_E_FORMAT);
    ck_assert_ptr_null(b);
    ck_assert_dh_ok(dh__index_load_buffer(buf, len, 0, "test", &b));
    dh_index_free(b);
    free(copy), free(db);
    dh_index_free(ix);
}
END_TEST

typedef struct conc {
    const dh_index *ix;
    const uint8_t *q;
    const int64_t *want;
    int failures;
} conc;

static void *searcher(void *arg)
{
    conc *c = arg;
    int64_t I[40];
    for (int it = 0; it < 300; it++) {
        if (dh_index_search(c->ix, c->q, 4, 10, NULL, I) != DH_OK) c->failures++;
        for (int j = 0; j < 40; j++) c->failures += I[j] != c->want[j];
        dh_range_result *r = NULL;
        if (dh_index_range_search(c->ix, c->q, 4, 1, &r) != DH_OK) c->failures++;
        dh_range_result_free(r);
    }
    return NULL;
}

START_TEST(test_mih_concurrent_search_and_add)
{
    const uint32_t K = 64;
    const size_t n = 5000;
    uint8_t *db = make_codes(D_RANDOM, n, K, 1);
    uint8_t q[4 * 8];
    memcpy(q, db, sizeof q);
    dh_index *ix = new_index(K, DH_MIH_AUTO, DH_SEARCH_MIH);
    ck_assert_dh_ok(dh_index_add(ix, db, n));
    int64_t want[40];
    ck_assert_dh_ok(dh_index_search(ix, q, 4, 10, NULL, want));
    conc c[3] = {{ix, q, want, 0}, {ix, q, want, 0}, {ix, q, want, 0}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, searcher, &c[i]);
    uint8_t far[8 * 100];
    for (int b = 0; b < 800; b++) far[b] = (uint8_t)~q[b % 8]; /* distance 64 from query 0 */
    for (int it = 0; it < 30; it++) ck_assert_dh_ok(dh_index_add(ix, far, 100)); /* rebuilds */
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(c[i].failures, 0);
    size_t rows = 0;
    ck_assert_dh_ok(dh_index_mih_info(ix, NULL, &rows, NULL));
    ck_assert_uint_gt(rows, n);
    dh_index_free(ix);
    free(db);
}
END_TEST

START_TEST(test_mih_bad_arguments)
{
    dh_index *ix = new_index(16, 0, DH_SEARCH_AUTO);
    ck_assert_dh_fail(dh_index_build_mih(NULL, 2), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_build_mih(ix, 0), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_build_mih(ix, -2), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_build_mih(ix, 17), DH_E_INVALID_ARG); /* m > K */
    ck_assert_dh_fail(dh_index_set_search_mode(ix, 3), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_set_search_mode(NULL, 0), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_mih_info(NULL, NULL, NULL, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh_index_build_mih(ix, 16)); /* m = K: one bit per table */
    ck_assert_dh_ok(dh_index_build_mih(ix, 1));  /* m = 1: one table (valid) */
    uint32_t m = 9;
    ck_assert_dh_ok(dh_index_mih_info(ix, &m, NULL, NULL));
    ck_assert_uint_eq(m, 1);
    int64_t I[2];
    uint8_t q[2] = {0, 0};
    ck_assert_dh_ok(dh_index_search(ix, q, 1, 2, NULL, I)); /* empty index with tables */
    ck_assert_int_eq(I[0], -1);
    ck_assert_dh_ok(dh_index_drop_mih(ix));
    ck_assert_dh_ok(dh_index_mih_info(ix, &m, NULL, NULL));
    ck_assert_uint_eq(m, 0);
    dh_index_free(ix);
    dh_index_options o;
    dh_index_options_init(&o);
    ck_assert_int_eq(o.multi_index, 0);
    ck_assert_int_eq(o.search_mode, DH_SEARCH_AUTO);
    o.n_bits = 32;
    o.multi_index = 33;
    ck_assert_dh_fail(dh_index_create(&o, &ix), DH_E_INVALID_ARG);
    o.multi_index = -3;
    ck_assert_dh_fail(dh_index_create(&o, &ix), DH_E_INVALID_ARG);
    o.multi_index = 2;
    o.search_mode = 7;
    ck_assert_dh_fail(dh_index_create(&o, &ix), DH_E_INVALID_ARG);
    o.search_mode = 0;
    o.n_bits = 4; /* m > K */
    o.multi_index = 5;
    ck_assert_dh_fail(dh_index_create(&o, &ix), DH_E_INVALID_ARG);
    o.n_bits = 0; /* K = 0 is refused by the index itself */
    o.multi_index = DH_MIH_AUTO;
    ck_assert_dh_fail(dh_index_create(&o, &ix), DH_E_INVALID_ARG);
}
END_TEST

static Suite *mih_suite(void)
{
    Suite *s = suite_create("index_mih");
    TCase *t = tcase_create("Exact");
    tcase_add_test(t, test_mih_equals_scan_every_k_m_radius);
    tcase_add_test(t, test_mih_every_k_small_n);
    tcase_add_test(t, test_mih_larger_index_auto_and_forced);
    suite_add_tcase(s, t);
    t = tcase_create("Upkeep");
    tcase_add_test(t, test_mih_after_add_remove_compact);
    tcase_add_test(t, test_mih_save_load_mmap);
    tcase_add_test(t, test_mih_load_rejects_bad_section);
    tcase_add_test(t, test_mih_concurrent_search_and_add);
    tcase_add_test(t, test_mih_bad_arguments);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    /* Many small searches: idle OpenMP threads should sleep, not spin, on a shared box. */
    setenv("OMP_WAIT_POLICY", "passive", 0);
    return dh_test_run(mih_suite());
}
