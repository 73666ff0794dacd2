/* tests/check_index_kernels.c -- the Hamming kernels of every ISA the CPU has against
 * the scalar reference: row scans (every K, unaligned starts, tombstones, little room),
 * transposed-block scans and distance rows. */
#include <stdio.h>

#include "check_index_ref.h"
#include "core/hamming.h"

static const uint32_t k_bits[] = {8, 24, 32, 64, 72, 128, 200, 256, 512, 4096};

static void check_scan(const dh__kernels *kn, const uint64_t *codes, const uint64_t *q,
                       uint32_t w, size_t n, uint32_t bound, const uint64_t *tomb, size_t space)
{
    uint64_t *pos = malloc((n + 1) * sizeof *pos), *rpos = malloc((n + 1) * sizeof *rpos);
    uint16_t *d = malloc((n + 1) * sizeof *d), *rd = malloc((n + 1) * sizeof *rd);
    size_t r = 3 < n ? 3 : 0; /* unaligned start */
    size_t got = 0, total = 0, rgot = 0;
    while (r < n) { /* drain in pieces of `space` entries (>= DH__SCAN_MIN_SPACE) */
        size_t stop = kn->scan(q, codes, w, r, n, bound, tomb, pos + total, d + total, space, &got);
        ck_assert_uint_le(got, space);
        ck_assert_msg(stop > r, "no progress with %zu entries of room", space);
        total += got;
        r = stop;
    }
    dh__scan_rows_scalar(q, codes, w, 3 < n ? 3 : 0, n, bound, tomb, rpos, rd, n + 1, &rgot);
    ck_assert_uint_eq(total, rgot);
    for (size_t i = 0; i < total; i++) {
        ck_assert_uint_eq(pos[i], rpos[i]);
        ck_assert_uint_eq(d[i], rd[i]);
        ck_assert_uint_eq(d[i], dh__hamming_ref(q, codes + pos[i] * w, w));
    }
    free(pos), free(rpos), free(d), free(rd);
}

START_TEST(test_index_kernels_match_scalar_reference)
{
    int32_t isas[8];
    int n_isa = all_isas(isas);
    const size_t ns[] = {0, 1, 7, 8, 9, 17, 63, 100, 1027};
    for (size_t a = 0; a < sizeof k_bits / sizeof *k_bits; a++) {
        uint32_t K = k_bits[a], w = (K + 63) / 64;
        size_t nmax = 1027;
        uint64_t *codes = calloc(nmax * w + 8, 8), q[64] = {0};
        uint8_t *bytes = rand_codes(nmax + 1, K, 11 + K);
        ck_assert_dh_ok(dh__rows_to_words(bytes, DH_CODE_PACKED, nmax, K, codes, "t"));
        ck_assert_dh_ok(dh__rows_to_words(bytes + nmax * (K / 8), DH_CODE_PACKED, 1, K, q, "t"));
        uint64_t tomb[32];
        dh_test_fill((uint8_t *)tomb, sizeof tomb, K);
        int32_t *dist = malloc(nmax * sizeof *dist), *rdist = malloc(nmax * sizeof *rdist);
        for (int i = 0; i < n_isa; i++) {
            const dh__kernels *kn = dh__hamming_kernels(isas[i]);
            ck_assert_ptr_nonnull(kn);
            for (size_t b = 0; b < sizeof ns / sizeof *ns; b++) {
                uint32_t bounds[] = {0, K / 2, K / 2 + 1, K + 1};
                for (int t = 0; t < 4; t++) {
                    check_scan(kn, codes, q, w, ns[b], bounds[t], NULL, ns[b] + 1);
                    check_scan(kn, codes, q, w, ns[b], bounds[t], tomb, DH__SCAN_MIN_SPACE);
                    check_scan(kn, codes, q, w, ns[b], bounds[t], tomb, DH__SCAN_MIN_SPACE + 3);
                }
                kn->dist(q, codes, w, ns[b], dist);
                for (size_t r = 0; r < ns[b]; r++)
                    ck_assert_int_eq(dist[r], (int32_t)dh__hamming_ref(q, codes + r * w, w));
            }
        }
        (void)rdist;
        free(codes), free(bytes), free(dist), free(rdist);
    }
}
END_TEST

START_TEST(test_index_kernels_unsupported_isa_is_null)
{
    ck_assert_ptr_null(dh__hamming_kernels(DH_ISA_AUTO));
    ck_assert_ptr_null(dh__hamming_kernels(99));
    ck_assert_ptr_nonnull(dh__hamming_kernels(DH_ISA_SCALAR));
}
END_TEST

/* The transposed-block kernel sees the same rows as the row kernel. */
static void check_scan_t(const dh__kernels *kn, const uint64_t *codes, const uint64_t *q,
                         uint32_t w, size_t n, uint32_t bound, const uint64_t *tomb)
{
    size_t base = 8, groups = n > base ? (n - base) / 8 : 0, end = base + groups * 8;
    if (!groups) return;
    uint64_t *tb = dh__alloc_aligned(groups * 8 * w * 8, 64);
    dh__transpose_block(codes, w, base, groups, tb);
    uint64_t *pos = malloc((n + 1) * sizeof *pos), *rpos = malloc((n + 1) * sizeof *rpos);
    uint16_t *d = malloc((n + 1) * sizeof *d), *rd = malloc((n + 1) * sizeof *rd);
    size_t r = base + 8, total = 0, got = 0, rgot = 0; /* start one group in */
    while (r < end) {
        size_t stop = kn->scan_t(q, tb, w, base, r, end, bound, tomb, pos + total, d + total,
                                 DH__SCAN_MIN_SPACE, &got);
        ck_assert_msg(stop > r && (stop - base) % 8 == 0, "bad stop %zu from %zu", stop, r);
        total += got;
        r = stop;
    }
    dh__scan_rows_scalar(q, codes, w, base + 8, end, bound, tomb, rpos, rd, n + 1, &rgot);
    ck_assert_uint_eq(total, rgot);
    for (size_t i = 0; i < total; i++) {
        ck_assert_uint_eq(pos[i], rpos[i]);
        ck_assert_uint_eq(d[i], rd[i]);
    }
    dh__free_aligned(tb);
    free(pos), free(rpos), free(d), free(rd);
}

START_TEST(test_index_kernels_transposed_match_scalar_reference)
{
    int32_t isas[8];
    int n_isa = all_isas(isas), tested = 0;
    for (size_t a = 0; a < sizeof k_bits / sizeof *k_bits; a++) {
        uint32_t K = k_bits[a], w = (K + 63) / 64;
        const size_t n = 8 + 8 * 70;
        uint64_t *codes = calloc(n * w + 8, 8), q[64] = {0}, tomb[16];
        uint8_t *bytes = rand_codes(n + 1, K, 5 + K);
        ck_assert_dh_ok(dh__rows_to_words(bytes, DH_CODE_PACKED, n, K, codes, "t"));
        ck_assert_dh_ok(dh__rows_to_words(bytes + n * (K / 8), DH_CODE_PACKED, 1, K, q, "t"));
        dh_test_fill((uint8_t *)tomb, sizeof tomb, K + 3);
        for (int i = 0; i < n_isa; i++) {
            const dh__kernels *kn = dh__hamming_kernels(isas[i]);
            if (!kn->scan_t) continue;
            tested++;
            const uint32_t bounds[] = {0, K / 2, K / 2 + 2, K + 1};
            for (int t = 0; t < 4; t++) {
                check_scan_t(kn, codes, q, w, n, bounds[t], NULL);
                check_scan_t(kn, codes, q, w, n, bounds[t], tomb);
            }
        }
        free(codes), free(bytes);
    }
    if (!tested) printf("note: no kernel set with a transposed scan on this CPU\n");
}
END_TEST

static Suite *index_kernels_suite(void)
{
    Suite *s = suite_create("index_kernels");
    TCase *t = tcase_create("Kernels");
    tcase_add_test(t, test_index_kernels_match_scalar_reference);
    tcase_add_test(t, test_index_kernels_transposed_match_scalar_reference);
    tcase_add_test(t, test_index_kernels_unsupported_isa_is_null);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(index_kernels_suite()); }
