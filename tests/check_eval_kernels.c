/* tests/check_eval_kernels.c -- eval's per-query pass (distance + relevance + histogram +
 * in-bucket position) on every kernel set the CPU has, against the portable reference
 * dh__eval_scan_ref: bit-identical counts and relevant-item entries for many code
 * widths, database sizes (not multiples of the kernels' blocks), clustered codes (many
 * ties) and every relevance kind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "testutil.h"

static const uint32_t k_bits[] = {8, 24, 64, 72, 128, 192, 256, 320, 512, 1024};
static const size_t k_ndb[] = {1, 7, 31, 63, 64, 65, 127, 129, 1000, 2053};

/* Codes near a few centres (ties are common) or uniform (seed odd). */
static uint8_t *make_codes(uint64_t seed, size_t n, uint32_t K)
{
    size_t nb = K / 8;
    uint8_t *c = malloc(n * nb + 1), centre[4][512];
    uint64_t rs = seed;
    for (int k = 0; k < 4; k++)
        for (size_t b = 0; b < nb; b++) centre[k][b] = (uint8_t)(dh_test_rand(&rs) >> 56);
    for (size_t i = 0; i < n; i++) {
        int k = (int)(dh_test_rand(&rs) % 4);
        for (size_t b = 0; b < nb; b++) {
            uint8_t v = (uint8_t)(dh_test_rand(&rs) >> 56);
            c[i * nb + b] = seed & 1 ? v : (uint8_t)(centre[k][b] ^ (v & (v >> 3) & (v >> 5)));
        }
    }
    return c;
}

/* Labels of `kind`: 0 class ids (some -1), 1 multi-hot 40 classes, 2 multi-hot 130. */
static void *make_labels(uint64_t seed, size_t n, int kind, uint32_t *n_classes)
{
    uint64_t rs = seed * 7 + 1;
    if (kind == 0) {
        int32_t *l = malloc(n * sizeof *l + 1);
        for (size_t i = 0; i < n; i++) l[i] = (int32_t)(dh_test_rand(&rs) % 6) - 1;
        *n_classes = 0;
        return l;
    }
    uint32_t C = kind == 1 ? 40 : 130;
    uint8_t *l = calloc(n * C + 1, 1);
    for (size_t i = 0; i < n; i++)
        for (uint32_t c = 0; c < C; c++) l[i * C + c] = dh_test_rand(&rs) % 23 == 0;
    *n_classes = C;
    return l;
}

static void check_shape(uint32_t K, size_t n_db, int kind, uint64_t seed, const int32_t *isas,
                        int n_isa)
{
    const size_t nq = 5;
    uint8_t *qc = make_codes(seed, nq, K), *dc = make_codes(seed, n_db, K);
    uint32_t C = 0;
    void *ql = make_labels(seed, nq, kind, &C), *dl = make_labels(seed + 3, n_db, kind, &C);
    dh_eval_options o;
    dh_eval_options_init(&o);
    o.n_bits = K;
    o.label_type = kind == 0 ? DH_LABELS_CLASS_I32 : DH_LABELS_MULTIHOT_U8;
    o.n_classes = C;
    dh__eval_data d;
    ck_assert_dh_ok(dh__eval_data_init(&d, &o, qc, ql, nq, dc, dl, n_db));
    uint32_t *cnt0 = calloc(K + 1, 4), *cnt = calloc(K + 1, 4);
    uint64_t *rel0 = malloc(n_db * 8), *rel = malloc(n_db * 8);
    for (size_t q = 0; q < nq; q++) {
        memset(cnt0, 0, (K + 1) * 4);
        uint64_t R0 = dh__eval_scan_ref(&d, q, cnt0, rel0);
        for (int i = 0; i < n_isa; i++) {
            ck_assert_dh_ok(dh_set_isa(isas[i]));
            dh__eval_scan_fn f = dh__eval_scan_select(&d);
            memset(cnt, 0, (K + 1) * 4);
            uint64_t R = f(&d, q, cnt, rel);
            ck_assert_msg(R == R0, "%s K=%u n=%zu kind=%d: R %llu vs %llu",
                          dh_isa_name(isas[i]), K, n_db, kind, (unsigned long long)R,
                          (unsigned long long)R0);
            ck_assert_msg(memcmp(cnt, cnt0, (K + 1) * 4) == 0, "%s K=%u n=%zu kind=%d: counts",
                          dh_isa_name(isas[i]), K, n_db, kind);
            ck_assert_msg(memcmp(rel, rel0, R0 * 8) == 0, "%s K=%u n=%zu kind=%d: entries",
                          dh_isa_name(isas[i]), K, n_db, kind);
        }
    }
    ck_assert_dh_ok(dh_set_isa(DH_ISA_AUTO));
    dh__eval_data_free(&d);
    free(cnt0), free(cnt), free(rel0), free(rel);
    free(qc), free(dc), free(ql), free(dl);
}

START_TEST(test_eval_kernels_match_reference_on_every_isa)
{
    int32_t isas[8];
    int n_isa = 0;
    for (int32_t i = DH_ISA_SCALAR; i < 16; i++)
        if (dh_cpu_has_isa(i)) isas[n_isa++] = i;
    ck_assert_int_ge(n_isa, 1);
    const uint32_t K = k_bits[_i];
    for (size_t b = 0; b < sizeof k_ndb / sizeof *k_ndb; b++)
        for (int kind = 0; kind < 3; kind++)
            for (uint64_t seed = 1; seed <= 2; seed++)
                check_shape(K, k_ndb[b], kind, seed * 100 + K + b, isas, n_isa);
}
END_TEST

static Suite *eval_kernels_suite(void)
{
    Suite *s = suite_create("eval_kernels");
    TCase *tc = tcase_create("Kernels");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_eval_kernels_match_reference_on_every_isa, 0,
                        (int)(sizeof k_bits / sizeof *k_bits));
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dh_test_run(eval_kernels_suite()); }
