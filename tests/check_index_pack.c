/* tests/check_index_pack.c -- the public packing helpers (dh_codes_*) and
 * dh_hamming_distances: hand-computed bit orders, round trips, odd K, bad input. */
#include <math.h>

#include "check_index_ref.h"

START_TEST(test_index_pack_bit_order_by_hand)
{
    /* bit 0 set, then bit 9 set (K = 12): LSB-first bytes 0x01 0x02, MSB-first 0x80 0x40 */
    float x[12];
    for (int j = 0; j < 12; j++) x[j] = -1.0f;
    x[0] = 0.5f;
    x[9] = 2.0f;
    uint8_t lsb[2], msb[2];
    ck_assert_dh_ok(dh_codes_pack_float(x, 1, 12, 0, lsb));
    ck_assert_dh_ok(dh_codes_pack_float(x, 1, 12, DH_CODES_MSB_FIRST, msb));
    ck_assert_uint_eq(lsb[0], 0x01);
    ck_assert_uint_eq(lsb[1], 0x02);
    ck_assert_uint_eq(msb[0], 0x80);
    ck_assert_uint_eq(msb[1], 0x40);
    /* zero (and -0.0) is bit 1: the x >= 0 convention */
    float z[8] = {0.0f, -0.0f, -1e-30f, 1e-30f, -1, -1, -1, -1};
    ck_assert_dh_ok(dh_codes_pack_float(z, 1, 8, 0, lsb));
    ck_assert_uint_eq(lsb[0], 0x0B);
    int8_t s[8] = {1, -1, 0, -128, 127, -1, -1, 1};
    ck_assert_dh_ok(dh_codes_pack_int8(s, 1, 8, 0, lsb));
    ck_assert_uint_eq(lsb[0], 0x95);
}
END_TEST

START_TEST(test_index_pack_roundtrip_every_type)
{
    const uint32_t bits[] = {1, 7, 8, 13, 64, 100, 4096};
    for (size_t b = 0; b < sizeof bits / sizeof *bits; b++) {
        uint32_t K = bits[b];
        size_t n = 9, nb = dh_code_bytes(K);
        float *f = malloc(n * K * sizeof *f), *fb = malloc(n * K * sizeof *fb);
        double *d = malloc(n * K * sizeof *d);
        int8_t *s = malloc(n * K), *sb = malloc(n * K);
        uint64_t st = K;
        for (size_t i = 0; i < n * K; i++) {
            int pos = (int)(dh_test_rand(&st) & 1);
            f[i] = pos ? 1.0f : -1.0f;
            d[i] = pos ? 3.5 : -0.25;
            s[i] = (int8_t)(pos ? 1 : -1);
        }
        uint8_t *p1 = malloc(n * nb), *p2 = malloc(n * nb), *p3 = malloc(n * nb);
        for (uint32_t flags = 0; flags <= DH_CODES_MSB_FIRST; flags++) {
            ck_assert_dh_ok(dh_codes_pack_float(f, n, K, flags, p1));
            ck_assert_dh_ok(dh_codes_pack_double(d, n, K, flags, p2));
            ck_assert_dh_ok(dh_codes_pack_int8(s, n, K, flags, p3));
            ck_assert_mem_eq(p1, p2, n * nb);
            ck_assert_mem_eq(p1, p3, n * nb);
            ck_assert_dh_ok(dh_codes_unpack_float(p1, n, K, flags, fb));
            ck_assert_mem_eq(fb, f, n * K * sizeof *f);
            ck_assert_dh_ok(dh_codes_unpack_int8(p1, n, K, flags, sb));
            ck_assert_mem_eq(sb, s, n * K);
        }
        /* MSB <-> LSB conversion, also in place */
        ck_assert_dh_ok(dh_codes_pack_float(f, n, K, 0, p1));
        ck_assert_dh_ok(dh_codes_pack_float(f, n, K, DH_CODES_MSB_FIRST, p2));
        ck_assert_dh_ok(dh_codes_reverse_bit_order(p1, n, K, p3));
        ck_assert_mem_eq(p3, p2, n * nb);
        ck_assert_dh_ok(dh_codes_reverse_bit_order(p3, n, K, p3));
        ck_assert_mem_eq(p3, p1, n * nb);
        free(f), free(fb), free(d), free(s), free(sb), free(p1), free(p2), free(p3);
    }
}
END_TEST

START_TEST(test_index_pack_bad_arguments)
{
    float x[16] = {0};
    uint8_t out[2];
    ck_assert_dh_fail(dh_codes_pack_float(x, 1, 0, 0, out), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_codes_pack_float(x, 1, 70000, 0, out), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_codes_pack_float(x, 1, 16, 4, out), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_codes_pack_float(NULL, 1, 16, 0, out), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_codes_pack_float(x, 1, 16, 0, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_codes_pack_float(x, SIZE_MAX / 2, 16, 0, out), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh_codes_pack_float(NULL, 0, 16, 0, NULL));
    x[11] = NAN;
    ck_assert_dh_fail(dh_codes_pack_float(x, 1, 16, 0, out), DH_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "row 0 column 11"));
    double y[16] = {0};
    y[15] = NAN;
    ck_assert_dh_fail(dh_codes_pack_double(y, 1, 16, 0, out), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_codes_pack_int8(NULL, 2, 8, 0, out), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_codes_unpack_float(out, 1, 16, 0, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_codes_unpack_int8(NULL, 1, 16, 0, (int8_t *)x), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_codes_reverse_bit_order(out, 1, 0, out), DH_E_INVALID_ARG);
}
END_TEST

START_TEST(test_index_hamming_distances_match_reference)
{
    const uint32_t bits[] = {5, 8, 64, 72, 128, 256, 1000, 4096};
    int32_t isas[8];
    int n_isa = all_isas(isas);
    for (size_t b = 0; b < sizeof bits / sizeof *bits; b++) {
        uint32_t K = bits[b];
        size_t na = 7, nb = 21, cb = dh_code_bytes(K);
        uint8_t *a = malloc(na * cb), *c = malloc(nb * cb), *am = malloc(na * cb),
                *cm = malloc(nb * cb);
        dh_test_fill(a, na * cb, K);
        dh_test_fill(c, nb * cb, K + 1);
        int32_t *out = malloc(na * nb * sizeof *out);
        for (int i = 0; i < n_isa; i++) {
            ck_assert_dh_ok(dh_set_isa(isas[i]));
            ck_assert_dh_ok(dh_hamming_distances(a, na, c, nb, K, 0, out));
            for (size_t x = 0; x < na; x++)
                for (size_t y = 0; y < nb; y++) {
                    /* padding bits are random here and must be ignored */
                    uint8_t ra[512], rc[512];
                    memcpy(ra, a + x * cb, cb);
                    memcpy(rc, c + y * cb, cb);
                    if (K % 8) {
                        ra[cb - 1] &= (uint8_t)((1u << (K % 8)) - 1);
                        rc[cb - 1] &= (uint8_t)((1u << (K % 8)) - 1);
                    }
                    ck_assert_int_eq(out[x * nb + y], (int32_t)ref_dist_bytes(ra, rc, cb));
                }
            /* the same codes in MSB order give the same distances */
            int32_t *out2 = malloc(na * nb * sizeof *out2);
            ck_assert_dh_ok(dh_codes_reverse_bit_order(a, na, K, am));
            ck_assert_dh_ok(dh_codes_reverse_bit_order(c, nb, K, cm));
            ck_assert_dh_ok(dh_hamming_distances(am, na, cm, nb, K, DH_CODES_MSB_FIRST, out2));
            ck_assert_mem_eq(out, out2, na * nb * sizeof *out);
            free(out2);
        }
        dh_set_isa(DH_ISA_AUTO);
        free(a), free(c), free(am), free(cm), free(out);
    }
    uint8_t z[1] = {0};
    int32_t o[1];
    ck_assert_dh_ok(dh_hamming_distances(z, 0, z, 1, 8, 0, o));
    ck_assert_dh_fail(dh_hamming_distances(NULL, 1, z, 1, 8, 0, o), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_hamming_distances(z, 1, z, 1, 8, 0, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_hamming_distances(z, 1, z, 1, 8, 9, o), DH_E_INVALID_ARG);
}
END_TEST

static Suite *index_pack_suite(void)
{
    Suite *s = suite_create("index_pack");
    TCase *t = tcase_create("Pack");
    tcase_add_test(t, test_index_pack_bit_order_by_hand);
    tcase_add_test(t, test_index_pack_roundtrip_every_type);
    tcase_add_test(t, test_index_pack_bad_arguments);
    tcase_add_test(t, test_index_hamming_distances_match_reference);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(index_pack_suite()); }
