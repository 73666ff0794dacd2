/* tests/check_eval.c -- retrieval metrics: hand-computed cases, tie-aware expectation
 * against brute force over all database orders and an independent dynamic programme,
 * no-relevant policies, progress, options and bad inputs. The random comparisons with a
 * naive sort-based evaluator are in check_eval_ref.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "testutil.h"

#define EPS 1e-12

static dh_eval_options opts8(void)
{
    dh_eval_options o;
    dh_eval_options_init(&o);
    o.n_bits = 8;
    return o;
}

/* Query 0: code 0x00, class 1. Database distances 0,1,2,3,8 with classes 1,2,1,1,2: relevant
 * at ranks 1, 3, 4. Query 1: code 0xF0, class 3 (nothing relevant; distances 4,5,6,7,4).
 * Query 2: class -1 (no label). */
static const uint8_t HQ[3] = {0x00, 0xF0, 0x00};
static const int32_t HQL[3] = {1, 3, -1};
static const uint8_t HD[5] = {0x00, 0x01, 0x03, 0x07, 0xFF};
static const int32_t HDL[5] = {1, 2, 1, 1, 2};

START_TEST(test_eval_map_hand_computed)
{
    dh_eval_options o = opts8();
    double map, ap[3];
    ck_assert_dh_ok(dh_eval_map(&o, HQ, HQL, 1, HD, HDL, 5, &map, ap));
    ck_assert_double_eq_tol(map, 29.0 / 36.0, EPS); /* (1/1 + 2/3 + 3/4) / 3 */
    ck_assert_double_eq_tol(ap[0], 29.0 / 36.0, EPS);
    o.topk = 2; /* only rank 1 is relevant among the top 2: AP@2 = 1 */
    ck_assert_dh_ok(dh_eval_map(&o, HQ, HQL, 1, HD, HDL, 5, &map, NULL));
    ck_assert_double_eq_tol(map, 1.0, EPS);
    o.topk = 3; /* (1/1 + 2/3) / 2 */
    ck_assert_dh_ok(dh_eval_map(&o, HQ, HQL, 1, HD, HDL, 5, &map, NULL));
    ck_assert_double_eq_tol(map, 5.0 / 6.0, EPS);
    o.topk = 5; /* = all */
    ck_assert_dh_ok(dh_eval_map(&o, HQ, HQL, 1, HD, HDL, 5, &map, NULL));
    ck_assert_double_eq_tol(map, 29.0 / 36.0, EPS);
    o.topk = 0; /* query 1 has no relevant item: AP 0, counted by default */
    ck_assert_dh_ok(dh_eval_map(&o, HQ, HQL, 2, HD, HDL, 5, &map, ap));
    ck_assert_double_eq_tol(map, 29.0 / 72.0, EPS);
    ck_assert_double_eq(ap[1], 0.0);
}
END_TEST

START_TEST(test_eval_precision_at_n_hand_computed)
{
    dh_eval_options o = opts8();
    const uint64_t ns[5] = {4, 1, 2, 5, 3}; /* any order */
    double p[5], r[5];
    ck_assert_dh_ok(dh_eval_precision_at_n(&o, HQ, HQL, 1, HD, HDL, 5, ns, 5, p, r));
    const double wp[5] = {0.75, 1.0, 0.5, 0.6, 2.0 / 3.0};
    const double wr[5] = {1.0, 1.0 / 3.0, 1.0 / 3.0, 1.0, 2.0 / 3.0};
    for (int i = 0; i < 5; i++) {
        ck_assert_double_eq_tol(p[i], wp[i], EPS);
        ck_assert_double_eq_tol(r[i], wr[i], EPS);
    }
    ck_assert_dh_ok(dh_eval_precision_at_n(&o, HQ, HQL, 1, HD, HDL, 5, ns, 1, NULL, r));
    ck_assert_double_eq_tol(r[0], 1.0, EPS);
}
END_TEST

START_TEST(test_eval_pr_curve_and_ball_hand_computed)
{
    dh_eval_options o = opts8();
    double pp[9], pr[9];
    ck_assert_dh_ok(dh_eval_pr_curve(&o, HQ, HQL, 1, HD, HDL, 5, pp, pr));
    const double wp[9] = {1, 0.5, 2.0 / 3, 0.75, 0.75, 0.75, 0.75, 0.75, 0.6};
    const double wr[9] = {1.0 / 3, 1.0 / 3, 2.0 / 3, 1, 1, 1, 1, 1, 1};
    for (int h = 0; h < 9; h++) {
        ck_assert_double_eq_tol(pp[h], wp[h], EPS);
        ck_assert_double_eq_tol(pr[h], wr[h], EPS);
    }
    double bp, br, be;
    ck_assert_dh_ok(dh_eval_hamming_ball(&o, HQ, HQL, 2, HD, HDL, 5, &bp, &br, &be));
    ck_assert_double_eq_tol(bp, (2.0 / 3) / 2, EPS); /* query 1's ball (r = 2) is empty */
    ck_assert_double_eq_tol(br, (2.0 / 3) / 2, EPS);
    ck_assert_double_eq_tol(be, 0.5, EPS);
    o.radius = 4; /* query 1 now retrieves items 0 and 4, neither relevant */
    ck_assert_dh_ok(dh_eval_hamming_ball(&o, HQ, HQL, 2, HD, HDL, 5, &bp, NULL, &be));
    ck_assert_double_eq_tol(bp, 0.75 / 2, EPS);
    ck_assert_double_eq_tol(be, 0.0, EPS);
    o.radius = 0;
    ck_assert_dh_ok(dh_eval_hamming_ball(&o, HQ, HQL, 1, HD, HDL, 5, &bp, &br, NULL));
    ck_assert_double_eq_tol(bp, 1.0, EPS);
    ck_assert_double_eq_tol(br, 1.0 / 3, EPS);
}
END_TEST

START_TEST(test_eval_no_relevant_policies)
{
    dh_eval_options o = opts8();
    double map, ap[3], be, p;
    const uint64_t n1 = 1;
    /* default: every query counts, no relevant -> 0 */
    ck_assert_dh_ok(dh_eval_map(&o, HQ, HQL, 3, HD, HDL, 5, &map, ap));
    ck_assert_double_eq_tol(map, 29.0 / 36 / 3, EPS);
    ck_assert_double_eq(ap[2], 0.0);
    o.no_relevant = DH_NO_RELEVANT_SKIP;
    ck_assert_dh_ok(dh_eval_map(&o, HQ, HQL, 3, HD, HDL, 5, &map, ap));
    ck_assert_double_eq_tol(map, 29.0 / 36, EPS);
    ck_assert(isnan(ap[1]) && isnan(ap[2]) && !isnan(ap[0]));
    ck_assert_dh_ok(dh_eval_hamming_ball(&o, HQ, HQL, 3, HD, HDL, 5, &p, NULL, &be));
    ck_assert_double_eq_tol(p, 2.0 / 3, EPS);
    ck_assert_double_eq_tol(be, 0.0, EPS);
    /* mAP@1 under SKIP: a query whose top 1 holds no relevant item is left out */
    o.topk = 1;
    const uint8_t q2[1] = {0x01}; /* nearest is item 1 (class 2), then items 0, 2 */
    ck_assert_dh_ok(dh_eval_map(&o, q2, HQL, 1, HD, HDL, 5, &map, ap));
    ck_assert_double_eq(map, 0.0); /* nothing counts: defined as 0 */
    ck_assert(isnan(ap[0]));
    /* CSQ's convention: only the unlabeled query 2 is left out */
    o.topk = 0;
    o.no_relevant = DH_NO_RELEVANT_SKIP_UNLABELED;
    ck_assert_dh_ok(dh_eval_map(&o, HQ, HQL, 3, HD, HDL, 5, &map, ap));
    ck_assert_double_eq_tol(map, 29.0 / 72, EPS);
    ck_assert(!isnan(ap[1]) && isnan(ap[2]));
    ck_assert_dh_ok(dh_eval_precision_at_n(&o, HQ, HQL, 3, HD, HDL, 5, &n1, 1, &p, NULL));
    ck_assert_double_eq_tol(p, 0.5, EPS);
}
END_TEST

START_TEST(test_eval_ties_two_way_hand_computed)
{
    /* two items at distance 1, the relevant one second in the database */
    const uint8_t q[1] = {0x00}, db[2] = {0x01, 0x02};
    const int32_t ql[1] = {1}, dl[2] = {2, 1};
    dh_eval_options o = opts8();
    double map, p;
    const uint64_t n1 = 1;
    ck_assert_dh_ok(dh_eval_map(&o, q, ql, 1, db, dl, 2, &map, NULL));
    ck_assert_double_eq_tol(map, 0.5, EPS);
    ck_assert_dh_ok(dh_eval_precision_at_n(&o, q, ql, 1, db, dl, 2, &n1, 1, &p, NULL));
    ck_assert_double_eq_tol(p, 0.0, EPS);
    o.ties = DH_TIES_EXPECTED; /* ranks 1 or 2 equally likely */
    ck_assert_dh_ok(dh_eval_map(&o, q, ql, 1, db, dl, 2, &map, NULL));
    ck_assert_double_eq_tol(map, 0.75, EPS);
    ck_assert_dh_ok(dh_eval_precision_at_n(&o, q, ql, 1, db, dl, 2, &n1, 1, &p, NULL));
    ck_assert_double_eq_tol(p, 0.5, EPS);
    o.topk = 1; /* AP@1 is 1 if the relevant item comes first, else R_k = 0 -> 0 */
    ck_assert_dh_ok(dh_eval_map(&o, q, ql, 1, db, dl, 2, &map, NULL));
    ck_assert_double_eq_tol(map, 0.5, EPS);
}
END_TEST

static int next_perm(size_t *a, size_t n)
{
    size_t i = n - 1;
    while (i > 0 && a[i - 1] >= a[i]) i--;
    if (i == 0) return 0;
    size_t j = n - 1;
    while (a[j] <= a[i - 1]) j--;
    size_t t = a[i - 1];
    a[i - 1] = a[j];
    a[j] = t;
    for (size_t l = i, r = n - 1; l < r; l++, r--) {
        t = a[l];
        a[l] = a[r];
        a[r] = t;
    }
    return 1;
}

/* Tie-aware AP@k and P@N equal the mean of the database-order values over every
 * permutation of the database (all orders inside each tie group equally likely). */
START_TEST(test_eval_expected_equals_mean_over_permutations)
{
    enum { NQ = 3, ND = 7 };
    uint64_t rs = 1234 + (uint64_t)_i;
    uint8_t qc[NQ], dc[ND], pc[ND];
    int32_t ql[NQ], dl[ND], pl[ND];
    const uint8_t vals[4] = {0x00, 0x01, 0x03, 0x07}; /* few distances: big ties */
    for (int i = 0; i < NQ; i++) {
        qc[i] = vals[dh_test_rand(&rs) % 2];
        ql[i] = (int32_t)(dh_test_rand(&rs) % 2);
    }
    for (int i = 0; i < ND; i++) {
        dc[i] = vals[dh_test_rand(&rs) % 4];
        dl[i] = (int32_t)(dh_test_rand(&rs) % 3);
    }
    uint64_t ns[ND];
    for (int i = 0; i < ND; i++) ns[i] = (uint64_t)i + 1;
    for (uint64_t k = 0; k <= ND; k++) {
        dh_eval_options o = opts8();
        o.topk = k;
        double sum_ap[NQ] = {0}, sum_p[ND] = {0}, ap[NQ], p[ND], map;
        size_t perm[ND], n_perm = 0;
        for (size_t i = 0; i < ND; i++) perm[i] = i;
        do {
            for (size_t i = 0; i < ND; i++) {
                pc[i] = dc[perm[i]];
                pl[i] = dl[perm[i]];
            }
            ck_assert_dh_ok(dh_eval_all(&o, qc, ql, NQ, pc, pl, ND, ns, ND, &map, ap, p, NULL,
                                        NULL, NULL, NULL, NULL, NULL));
            for (int q = 0; q < NQ; q++) sum_ap[q] += ap[q];
            for (int i = 0; i < ND; i++) sum_p[i] += p[i];
            n_perm++;
        } while (next_perm(perm, ND));
        o.ties = DH_TIES_EXPECTED;
        ck_assert_dh_ok(dh_eval_all(&o, qc, ql, NQ, dc, dl, ND, ns, ND, &map, ap, p, NULL, NULL,
                                    NULL, NULL, NULL, NULL));
        for (int q = 0; q < NQ; q++)
            ck_assert_msg(fabs(ap[q] - sum_ap[q] / (double)n_perm) < EPS,
                          "k=%d q=%d: %.15f vs %.15f", (int)k, q, ap[q],
                          sum_ap[q] / (double)n_perm);
        for (int i = 0; i < ND; i++)
            ck_assert_double_eq_tol(p[i], sum_p[i] / (double)n_perm, EPS);
    }
}
END_TEST

/* Independent oracle for one cut tie group: a dynamic programme over the group's slots
 * (probability of j hits so far, and the expected hit-precision sum jointly with it). */
static double dp_expected(uint64_t base, uint64_t rb, double a_before, uint64_t n, uint64_t r,
                          uint64_t c)
{
    double *f = calloc(r + 2, sizeof(double)), *g = calloc(r + 2, sizeof(double));
    f[0] = 1.0;
    for (uint64_t s = 0; s < c; s++) {
        for (uint64_t j = (s < r ? s : r) + 1; j-- > 0;) {
            if (f[j] == 0.0 && g[j] == 0.0) continue;
            double pr = (double)(r - j) / (double)(n - s);
            double prec = (double)(rb + j + 1) / (double)(base + s + 1);
            if (j < r) {
                f[j + 1] += f[j] * pr;
                g[j + 1] += (g[j] + f[j] * prec) * pr;
            }
            f[j] *= 1.0 - pr;
            g[j] *= 1.0 - pr;
        }
    }
    double e = 0.0;
    for (uint64_t x = 0; x <= r; x++)
        if (rb + x > 0) e += (a_before * f[x] + g[x]) / (double)(rb + x);
    free(f);
    free(g);
    return e;
}

START_TEST(test_eval_expected_cut_group_matches_dp)
{
    /* groups: [10 items, 3 relevant] then [n, r] cut at c, then 50 items */
    const uint64_t cases[][3] = {{200, 50, 70}, {200, 50, 1},   {200, 50, 199}, {97, 0, 40},
                                 {97, 97, 40},  {1000, 3, 600}, {500, 250, 250}, {64, 10, 64}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        uint64_t n = cases[t][0], r = cases[t][1], c = cases[t][2];
        uint32_t cnt[9] = {0}, rcnt[9] = {0};
        cnt[1] = 10;
        rcnt[1] = 3;
        cnt[4] = (uint32_t)n;
        rcnt[4] = (uint32_t)r;
        cnt[7] = 50;
        rcnt[7] = 5;
        dh__eval_profile p = {8, 10 + n + 50, 3 + r + 5, cnt, rcnt, NULL};
        int has;
        double got = dh__eval_ap(&p, DH_TIES_EXPECTED, 10 + c, &has);
        /* a_before: full first group, 10 items with 3 hits from rank 1 */
        double a0 = dp_expected(0, 0, 0.0, 10, 3, 10) * 3.0;
        double want = dp_expected(10, 3, a0, n, r, c);
        ck_assert_msg(fabs(got - want) < 1e-11, "case %zu: %.15f vs %.15f", t, got, want);
        ck_assert(has);
    }
}
END_TEST

START_TEST(test_eval_tie_sums_accuracy)
{
    const uint64_t bases[] = {0, 1, 5, 63, 64, 100, 59000, 1000000000ull};
    const uint64_t lens[] = {1, 2, 63, 64, 65, 100, 1000, 60000};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++)
        for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++) {
            long double hw = 0, tw = 0;
            for (uint64_t s = 0; s < lens[j]; s++) {
                hw += 1.0L / (long double)(bases[i] + 1 + s);
                tw += (long double)s / (long double)(bases[i] + 1 + s);
            }
            double h, t;
            dh__eval_tie_sums(bases[i], lens[j], &h, &t);
            ck_assert_msg(fabsl((long double)h - hw) <= 1e-14L * hw, "h(%llu,%llu)",
                          (unsigned long long)bases[i], (unsigned long long)lens[j]);
            /* t = m - (base+1) h cancels when base >> m; its absolute error stays ~eps*m,
             * which is what the AP it enters (weighted by <= 1/m) can feel */
            ck_assert_msg(fabsl((long double)t - tw) <= 1e-14L * (long double)lens[j],
                          "t(%llu,%llu)",
                          (unsigned long long)bases[i], (unsigned long long)lens[j]);
        }
}
END_TEST

START_TEST(test_eval_multihot_labels)
{
    /* 3 classes; query shares class 0 with item 0, class 2 with item 2; item 1 has none */
    const uint8_t q[1] = {0x00}, db[3] = {0x03, 0x00, 0x01};
    const uint8_t qu[3] = {1, 0, 7}, du[9] = {1, 0, 0, 0, 0, 0, 0, 1, 1};
    const float qf[3] = {1.f, -1.f, 0.5f}, df[9] = {2.f, 0, 0, -1.f, -1.f, -1.f, 0, 0, 1.f};
    dh_eval_options o = opts8();
    o.label_type = DH_LABELS_MULTIHOT_U8;
    o.n_classes = 3;
    double mu, mf;
    ck_assert_dh_ok(dh_eval_map(&o, q, qu, 1, db, du, 3, &mu, NULL));
    /* ranking: item 1 (d0, -), item 2 (d1, +), item 0 (d2, +): (1/2 + 2/3) / 2 */
    ck_assert_double_eq_tol(mu, (0.5 + 2.0 / 3) / 2, EPS);
    o.label_type = DH_LABELS_MULTIHOT_F32;
    ck_assert_dh_ok(dh_eval_map(&o, q, qf, 1, db, df, 3, &mf, NULL));
    ck_assert_double_eq(mu, mf);
}
END_TEST

static int calls;
static double last_frac;
static int32_t count_progress(double f, void *user)
{
    calls++;
    ck_assert(f >= last_frac && f <= 1.0);
    last_frac = f;
    return user != NULL && f < 1.0; /* a non-NULL user asks to stop */
}

START_TEST(test_eval_progress_reports_and_interrupts)
{
    enum { NQ = 600, ND = 50 };
    uint8_t qc[NQ], dc[ND];
    int32_t ql[NQ], dl[ND];
    dh_test_fill(qc, NQ, 1);
    dh_test_fill(dc, ND, 2);
    for (int i = 0; i < NQ; i++) ql[i] = i % 3;
    for (int i = 0; i < ND; i++) dl[i] = i % 3;
    dh_eval_options o = opts8();
    o.progress = count_progress;
    o.n_threads = 2;
    double map;
    calls = 0;
    last_frac = 0;
    ck_assert_dh_ok(dh_eval_map(&o, qc, ql, NQ, dc, dl, ND, &map, NULL));
    ck_assert_int_ge(calls, 2);
    ck_assert_int_le(calls, 300);
    ck_assert_double_eq(last_frac, 1.0);
    int stop = 1;
    o.progress_user = &stop;
    o.n_threads = 1; /* the first report (after block 1 of 256) stops it */
    calls = 0;
    last_frac = 0;
    ck_assert_dh_fail(dh_eval_map(&o, qc, ql, NQ, dc, dl, ND, &map, NULL), DH_E_INTERRUPTED);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "progress callback"));
}
END_TEST

START_TEST(test_eval_options_old_and_oversized_struct)
{
    double map_new, map;
    dh_eval_options o = opts8();
    ck_assert_dh_ok(dh_eval_map(&o, HQ, HQL, 2, HD, HDL, 5, &map_new, NULL));
    /* a caller built before the progress fields existed */
    o.struct_size = offsetof(dh_eval_options, progress);
    ck_assert_dh_ok(dh_eval_map(&o, HQ, HQL, 2, HD, HDL, 5, &map, NULL));
    ck_assert_double_eq(map, map_new);
    struct {
        dh_eval_options base;
        uint64_t future[2];
    } big;
    memset(&big, 0, sizeof big);
    big.base = opts8();
    big.base.struct_size = sizeof big;
    ck_assert_dh_ok(dh_eval_map(&big.base, HQ, HQL, 2, HD, HDL, 5, &map, NULL));
    ck_assert_double_eq(map, map_new);
    big.future[1] = 3;
    ck_assert_dh_fail(dh_eval_map(&big.base, HQ, HQL, 2, HD, HDL, 5, &map, NULL),
                      DH_E_VERSION);
    o.struct_size = 3;
    ck_assert_dh_fail(dh_eval_map(&o, HQ, HQL, 2, HD, HDL, 5, &map, NULL), DH_E_INVALID_ARG);
    dh_eval_options_init(NULL); /* ignored */
    dh_eval_options d;
    dh_eval_options_init(&d);
    ck_assert_uint_eq(d.struct_size, sizeof d);
    ck_assert_uint_eq(d.radius, 2);
    ck_assert_int_eq(d.ties, DH_TIES_INDEX_ORDER);
    ck_assert_int_eq(d.no_relevant, DH_NO_RELEVANT_ZERO);
    ck_assert_uint_eq(sizeof d % 8, 0);
}
END_TEST

#define FAIL_HAS(expr, text)                                                               \
    do {                                                                                   \
        ck_assert_dh_fail(expr, DH_E_INVALID_ARG);                                         \
        ck_assert_msg(strstr(dh_last_error(), text) != NULL, "'%s' lacks '%s'",            \
                      dh_last_error(), text);                                              \
    } while (0)

START_TEST(test_eval_bad_arguments_fail_with_clear_errors)
{
    dh_eval_options o = opts8();
    double m;
    FAIL_HAS(dh_eval_map(NULL, HQ, HQL, 1, HD, HDL, 5, &m, NULL), "opts is NULL");
    FAIL_HAS(dh_eval_map(&o, NULL, HQL, 1, HD, HDL, 5, &m, NULL), "query_codes");
    FAIL_HAS(dh_eval_map(&o, HQ, HQL, 1, NULL, HDL, 5, &m, NULL), "db_codes");
    FAIL_HAS(dh_eval_map(&o, HQ, NULL, 1, HD, HDL, 5, &m, NULL), "query_labels");
    FAIL_HAS(dh_eval_map(&o, HQ, HQL, 1, HD, NULL, 5, &m, NULL), "db_labels");
    FAIL_HAS(dh_eval_map(&o, HQ, HQL, 1, HD, HDL, 5, NULL, NULL), "out_map");
    FAIL_HAS(dh_eval_map(&o, HQ, HQL, 0, HD, HDL, 5, &m, NULL), "n_queries");
    FAIL_HAS(dh_eval_map(&o, HQ, HQL, 1, HD, HDL, 0, &m, NULL), "n_db");
    FAIL_HAS(dh_eval_map(&o, HQ, HQL, 1, HD, HDL, (size_t)1 << 33, &m, NULL), "n_db");
    const uint32_t bad_bits[] = {0, 4097, 4104, 1u << 31}; /* 1..DH_MAX_BITS is valid */
    for (size_t i = 0; i < 4; i++) {
        o.n_bits = bad_bits[i];
        FAIL_HAS(dh_eval_map(&o, HQ, HQL, 1, HD, HDL, 5, &m, NULL), "n_bits");
    }
}
END_TEST

START_TEST(test_eval_bad_options_fail_with_clear_errors)
{
    dh_eval_options o = opts8();
    double m, v[9];
    uint64_t ns[2] = {1, 6};
    o.topk = 6;
    FAIL_HAS(dh_eval_map(&o, HQ, HQL, 1, HD, HDL, 5, &m, NULL), "topk");
    o = opts8();
    o.ties = 7;
    FAIL_HAS(dh_eval_map(&o, HQ, HQL, 1, HD, HDL, 5, &m, NULL), "ties");
    o = opts8();
    o.no_relevant = -1;
    FAIL_HAS(dh_eval_map(&o, HQ, HQL, 1, HD, HDL, 5, &m, NULL), "no_relevant");
    o = opts8();
    o.label_type = 9;
    FAIL_HAS(dh_eval_map(&o, HQ, HQL, 1, HD, HDL, 5, &m, NULL), "label_type");
    o = opts8();
    o.reserved0 = 1;
    FAIL_HAS(dh_eval_map(&o, HQ, HQL, 1, HD, HDL, 5, &m, NULL), "reserved0");
    o = opts8();
    o.radius = 9;
    FAIL_HAS(dh_eval_hamming_ball(&o, HQ, HQL, 1, HD, HDL, 5, &m, NULL, NULL), "radius");
    o = opts8();
    o.n_classes = 2; /* class ids must be below it: db has class 2 */
    FAIL_HAS(dh_eval_map(&o, HQ, HQL, 1, HD, HDL, 5, &m, NULL), "db_labels[1] = 2");
    o = opts8();
    o.label_type = DH_LABELS_MULTIHOT_U8; /* n_classes missing */
    FAIL_HAS(dh_eval_map(&o, HQ, HQL, 1, HD, HDL, 5, &m, NULL), "n_classes");
    o.label_type = DH_LABELS_MULTIHOT_F32;
    o.n_classes = 1;
    const float qf[1] = {1.f}, df[5] = {1.f, 0.f, NAN, 1.f, 0.f};
    FAIL_HAS(dh_eval_map(&o, HQ, qf, 1, HD, df, 5, &m, NULL), "db_labels[2, 0] is NaN");
    o = opts8();
    FAIL_HAS(dh_eval_precision_at_n(&o, HQ, HQL, 1, HD, HDL, 5, ns, 2, v, v + 2), "ns[1] = 6");
    ns[1] = 0;
    FAIL_HAS(dh_eval_precision_at_n(&o, HQ, HQL, 1, HD, HDL, 5, ns, 2, v, NULL), "ns[1] = 0");
    FAIL_HAS(dh_eval_precision_at_n(&o, HQ, HQL, 1, HD, HDL, 5, NULL, 2, v, NULL), "ns is NULL");
    FAIL_HAS(dh_eval_precision_at_n(&o, HQ, HQL, 1, HD, HDL, 5, ns, 0, v, NULL), "n_ns");
    FAIL_HAS(dh_eval_precision_at_n(&o, HQ, HQL, 1, HD, HDL, 5, ns, 1, NULL, NULL), "NULL");
    FAIL_HAS(dh_eval_pr_curve(&o, HQ, HQL, 1, HD, HDL, 5, NULL, NULL), "NULL");
    FAIL_HAS(dh_eval_hamming_ball(&o, HQ, HQL, 1, HD, HDL, 5, NULL, NULL, NULL), "NULL");
    FAIL_HAS(dh_eval_all(&o, HQ, HQL, 1, HD, HDL, 5, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL,
                         NULL, NULL, NULL),
             "every output");
    FAIL_HAS(dh_eval_all(&o, HQ, HQL, 1, HD, HDL, 5, NULL, 0, NULL, NULL, v, NULL, NULL, NULL,
                         NULL, NULL, NULL),
             "n_ns");
    /* the name of the public function leads the message */
    FAIL_HAS(dh_eval_pr_curve(&o, HQ, HQL, 1, HD, NULL, 5, v, NULL), "dh_eval_pr_curve");
}
END_TEST

START_TEST(test_eval_all_equals_separate_calls)
{
    enum { NQ = 40, ND = 300, K = 24 };
    uint8_t qc[NQ * 3], dc[ND * 3];
    int32_t ql[NQ], dl[ND];
    dh_test_fill(qc, sizeof qc, 5);
    dh_test_fill(dc, sizeof dc, 6);
    for (int i = 0; i < NQ; i++) ql[i] = i % 4;
    for (int i = 0; i < ND; i++) dl[i] = (i * 7) % 5 - 1;
    dh_eval_options o;
    dh_eval_options_init(&o);
    o.n_bits = K;
    o.topk = 50;
    const uint64_t ns[3] = {10, 300, 1};
    double m1, ap1[NQ], p1[3], r1[3], pp1[K + 1], pr1[K + 1], b1[3];
    double m2, ap2[NQ], p2[3], r2[3], pp2[K + 1], pr2[K + 1], b2[3];
    ck_assert_dh_ok(dh_eval_all(&o, qc, ql, NQ, dc, dl, ND, ns, 3, &m1, ap1, p1, r1, pp1, pr1,
                                b1, b1 + 1, b1 + 2));
    ck_assert_dh_ok(dh_eval_map(&o, qc, ql, NQ, dc, dl, ND, &m2, ap2));
    ck_assert_dh_ok(dh_eval_precision_at_n(&o, qc, ql, NQ, dc, dl, ND, ns, 3, p2, r2));
    ck_assert_dh_ok(dh_eval_pr_curve(&o, qc, ql, NQ, dc, dl, ND, pp2, pr2));
    ck_assert_dh_ok(dh_eval_hamming_ball(&o, qc, ql, NQ, dc, dl, ND, b2, b2 + 1, b2 + 2));
    ck_assert(m1 == m2 && !memcmp(ap1, ap2, sizeof ap1));
    ck_assert(!memcmp(p1, p2, sizeof p1) && !memcmp(r1, r2, sizeof r1));
    ck_assert(!memcmp(pp1, pp2, sizeof pp1) && !memcmp(pr1, pr2, sizeof pr1));
    ck_assert(!memcmp(b1, b2, sizeof b1));
    ck_assert_double_eq_tol(pr1[K], 1.0, EPS); /* radius K finds every relevant item */
}
END_TEST

static Suite *eval_suite(void)
{
    Suite *s = suite_create("eval");
    TCase *tc = tcase_create("HandComputed");
    tcase_add_test(tc, test_eval_map_hand_computed);
    tcase_add_test(tc, test_eval_precision_at_n_hand_computed);
    tcase_add_test(tc, test_eval_pr_curve_and_ball_hand_computed);
    tcase_add_test(tc, test_eval_no_relevant_policies);
    tcase_add_test(tc, test_eval_multihot_labels);
    tcase_add_test(tc, test_eval_all_equals_separate_calls);
    suite_add_tcase(s, tc);
    tc = tcase_create("Ties");
    tcase_add_test(tc, test_eval_ties_two_way_hand_computed);
    tcase_add_loop_test(tc, test_eval_expected_equals_mean_over_permutations, 0, 4);
    tcase_add_test(tc, test_eval_expected_cut_group_matches_dp);
    tcase_add_test(tc, test_eval_tie_sums_accuracy);
    suite_add_tcase(s, tc);
    tc = tcase_create("Limits");
    tcase_add_test(tc, test_eval_progress_reports_and_interrupts);
    tcase_add_test(tc, test_eval_options_old_and_oversized_struct);
    tcase_add_test(tc, test_eval_bad_arguments_fail_with_clear_errors);
    tcase_add_test(tc, test_eval_bad_options_fail_with_clear_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dh_test_run(eval_suite()); }
