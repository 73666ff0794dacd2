/* tests/check_eval_ref.c -- the histogram evaluator against a naive one that sorts the
 * database for every query (stable sort by distance, ties in database order, the
 * DeepHash-pytorch CalcTopMap loop), on random data with many shapes: code lengths,
 * database sizes, class-id and multi-hot labels, top-k and cut-offs inside tie
 * groups, every no-relevant policy. Per-query AP must be bit-identical; means agree to
 * rounding. Also: thread counts and kernel sets give bit-identical results. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct dataset {
    uint32_t K;
    size_t bytes, nq, nd;
    uint8_t *qc, *dc;
    int32_t type;
    uint32_t C;
    void *ql, *dl;
} dataset;

/* Codes near one of 6 centres (so distances are small and ties common), labels tied to
 * the centre with noise; about 1 in 8 rows has no label at all. */
static void make_rows(dataset *ds, uint64_t *rs, size_t n, uint8_t *codes, void *labels)
{
    uint8_t centre[6][520];
    uint64_t cs = 99;
    for (int c = 0; c < 6; c++)
        for (size_t b = 0; b < ds->bytes; b++) centre[c][b] = (uint8_t)(dh_test_rand(&cs) >> 56);
    for (size_t i = 0; i < n; i++) {
        int c = (int)(dh_test_rand(rs) % 6);
        for (size_t b = 0; b < ds->bytes; b++) {
            uint8_t flip = 0;
            for (int t = 0; t < 8; t++) flip |= (uint8_t)((dh_test_rand(rs) % 16 == 0) << t);
            codes[i * ds->bytes + b] = centre[c][b] ^ flip;
        }
        int unlabeled = dh_test_rand(rs) % 8 == 0;
        if (ds->type == DH_LABELS_CLASS_I32) {
            int32_t id = (int32_t)((uint32_t)c + (dh_test_rand(rs) % 4 == 0)) % (int32_t)ds->C;
            ((int32_t *)labels)[i] = unlabeled ? -1 : id;
            continue;
        }
        for (uint32_t k = 0; k < ds->C; k++) {
            int on = !unlabeled && (k % 6 == (uint32_t)c ? dh_test_rand(rs) % 2 == 0
                                                         : dh_test_rand(rs) % 9 == 0);
            if (ds->type == DH_LABELS_MULTIHOT_U8)
                ((uint8_t *)labels)[i * ds->C + k] = (uint8_t)(on ? 1 + dh_test_rand(rs) % 200 : 0);
            else
                ((float *)labels)[i * ds->C + k] = on ? 0.5f : (dh_test_rand(rs) % 2 ? -1.f : 0.f);
        }
    }
}

static dataset make_data(uint64_t seed, uint32_t K, size_t nq, size_t nd, int32_t type,
                         uint32_t C)
{
    dataset ds = {K, K / 8, nq, nd, NULL, NULL, type, C, NULL, NULL};
    size_t lsz = type == DH_LABELS_CLASS_I32 ? 4 : type == DH_LABELS_MULTIHOT_U8 ? C : 4 * C;
    ds.qc = malloc(nq * ds.bytes);
    ds.dc = malloc(nd * ds.bytes);
    ds.ql = malloc(nq * lsz);
    ds.dl = malloc(nd * lsz);
    uint64_t rs = seed * 7919 + 3;
    make_rows(&ds, &rs, nq, ds.qc, ds.ql);
    make_rows(&ds, &rs, nd, ds.dc, ds.dl);
    return ds;
}

static void free_data(dataset *ds)
{
    free(ds->qc);
    free(ds->dc);
    free(ds->ql);
    free(ds->dl);
}

static int has_label(const dataset *ds, const void *labels, size_t i)
{
    if (ds->type == DH_LABELS_CLASS_I32) return ((const int32_t *)labels)[i] >= 0;
    for (uint32_t k = 0; k < ds->C; k++)
        if (ds->type == DH_LABELS_MULTIHOT_U8 ? ((const uint8_t *)labels)[i * ds->C + k] != 0
                                              : ((const float *)labels)[i * ds->C + k] > 0)
            return 1;
    return 0;
}

static int relevant(const dataset *ds, size_t q, size_t i)
{
    if (ds->type == DH_LABELS_CLASS_I32) {
        int32_t a = ((const int32_t *)ds->ql)[q], b = ((const int32_t *)ds->dl)[i];
        return a >= 0 && a == b;
    }
    for (uint32_t k = 0; k < ds->C; k++) {
        if (ds->type == DH_LABELS_MULTIHOT_U8) {
            if (((const uint8_t *)ds->ql)[q * ds->C + k] && ((const uint8_t *)ds->dl)[i * ds->C + k])
                return 1;
        } else if (((const float *)ds->ql)[q * ds->C + k] > 0 &&
                   ((const float *)ds->dl)[i * ds->C + k] > 0) {
            return 1;
        }
    }
    return 0;
}

typedef struct item {
    uint32_t d;
    size_t i;
} item;

static int cmp_item(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return x->i < y->i ? -1 : 1; /* = a stable sort by distance */
}

typedef struct ref_out {
    double map, ap[64], p[4], r[4], prp[4097], prr[4097], bp, br, be;
} ref_out;

/* PR by radius and the Hamming ball of one sorted query, added into o. */
static void ref_radius(const dataset *ds, const item *it, const int *rel, size_t R,
                       uint32_t radius, ref_out *o)
{
    for (uint32_t r = 0; r <= ds->K; r++) {
        size_t ret = 0, h = 0;
        for (size_t t = 0; t < ds->nd && it[t].d <= r; t++) {
            ret++;
            h += (size_t)rel[t];
        }
        double p = ret ? (double)h / (double)ret : 0.0, rc = R ? (double)h / (double)R : 0;
        o->prp[r] += p;
        o->prr[r] += rc;
        if (r == radius) {
            o->bp += p;
            o->br += rc;
            o->be += ret == 0;
        }
    }
}

/* The naive evaluator: sort, then walk the ranking. */
static void ref_eval(const dataset *ds, int32_t policy, uint64_t topk, const uint64_t *ns,
                     size_t n_ns, uint32_t radius, ref_out *o)
{
    memset(o, 0, sizeof *o);
    item *it = malloc(ds->nd * sizeof *it);
    int *rel = malloc(ds->nd * sizeof *rel);
    size_t n_map = 0, n_other = 0;
    uint64_t k = topk ? topk : ds->nd;
    for (size_t q = 0; q < ds->nq; q++) {
        size_t R = 0;
        for (size_t i = 0; i < ds->nd; i++) {
            uint32_t d = 0;
            for (size_t b = 0; b < ds->bytes; b++)
                d += (uint32_t)__builtin_popcount(ds->qc[q * ds->bytes + b] ^ ds->dc[i * ds->bytes + b]);
            it[i] = (item){d, i};
            R += (size_t)relevant(ds, q, i);
        }
        qsort(it, ds->nd, sizeof *it, cmp_item);
        for (size_t t = 0; t < ds->nd; t++) rel[t] = relevant(ds, q, it[t].i);
        double sum = 0;
        size_t hits = 0;
        for (size_t t = 0; t < k; t++)
            if (rel[t]) sum += (double)++hits / (double)(t + 1);
        double ap = hits ? sum / (double)hits : 0.0;
        int lab = has_label(ds, ds->ql, q);
        int in_map = policy == 0 || (policy == 1 && hits > 0) || (policy == 2 && lab);
        o->ap[q] = in_map ? ap : NAN;
        if (in_map) {
            o->map += ap;
            n_map++;
        }
        if (!(policy == 0 || (policy == 1 && R > 0) || (policy == 2 && lab))) continue;
        n_other++;
        for (size_t j = 0; j < n_ns; j++) {
            size_t h = 0;
            for (size_t t = 0; t < ns[j]; t++) h += (size_t)rel[t];
            o->p[j] += (double)h / (double)ns[j];
            o->r[j] += R ? (double)h / (double)R : 0.0;
        }
        ref_radius(ds, it, rel, R, radius, o);
    }
    o->map = n_map ? o->map / (double)n_map : 0.0;
    double inv = n_other ? 1.0 / (double)n_other : 0.0;
    for (size_t j = 0; j < n_ns; j++) {
        o->p[j] *= inv;
        o->r[j] *= inv;
    }
    for (uint32_t r = 0; r <= ds->K; r++) {
        o->prp[r] *= inv;
        o->prr[r] *= inv;
    }
    o->bp *= inv;
    o->br *= inv;
    o->be *= inv;
    free(it);
    free(rel);
}

static void run_lib(const dataset *ds, int32_t policy, uint64_t topk, const uint64_t *ns,
                    size_t n_ns, uint32_t radius, uint32_t threads, ref_out *o)
{
    dh_eval_options opt;
    dh_eval_options_init(&opt);
    opt.n_bits = ds->K;
    opt.label_type = ds->type;
    opt.n_classes = ds->type == DH_LABELS_CLASS_I32 ? 0 : ds->C;
    opt.no_relevant = policy;
    opt.topk = topk;
    opt.radius = radius;
    opt.n_threads = threads;
    memset(o, 0, sizeof *o);
    ck_assert_dh_ok(dh_eval_all(&opt, ds->qc, ds->ql, ds->nq, ds->dc, ds->dl, ds->nd, ns, n_ns,
                                &o->map, o->ap, o->p, o->r, o->prp, o->prr, &o->bp, &o->br,
                                &o->be));
}

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

#define NEAR(a, b, what)                                                                   \
    ck_assert_msg(fabs((a) - (b)) <= 1e-12, "%s: lib %.17g vs naive %.17g (%s)", what, (a), \
                  (b), ctx)

START_TEST(test_eval_matches_naive_sort_reference)
{
    const uint32_t Ks[] = {8, 16, 24, 64, 72, 128, 200, 256, 520};
    const size_t nds[] = {1, 7, 64, 257};
    const struct { int32_t type; uint32_t C; } labs[] = {
        {DH_LABELS_CLASS_I32, 4}, {DH_LABELS_CLASS_I32, 10}, {DH_LABELS_MULTIHOT_U8, 5},
        {DH_LABELS_MULTIHOT_F32, 5}, {DH_LABELS_MULTIHOT_U8, 70}, {DH_LABELS_MULTIHOT_F32, 130}};
    const uint32_t K = Ks[_i];
    size_t cases = 0;
    for (size_t a = 0; a < sizeof nds / sizeof nds[0]; a++)
        for (size_t b = 0; b < sizeof labs / sizeof labs[0]; b++) {
            size_t nd = nds[a];
            dataset ds = make_data(1000 * (uint64_t)_i + 10 * a + b, K, 23, nd, labs[b].type,
                                   labs[b].C);
            const uint64_t topks[4] = {0, 1, nd / 2 + 1, nd};
            const uint64_t ns[4] = {nd, 1, nd / 3 + 1, (nd + 1) / 2};
            for (int policy = 0; policy < 3; policy++)
                for (int t = 0; t < 4; t++) {
                    ref_out want, got;
                    uint32_t radius = (uint32_t)(t * 3) % (K + 1);
                    ref_eval(&ds, policy, topks[t], ns, 4, radius, &want);
                    run_lib(&ds, policy, topks[t], ns, 4, radius, 0, &got);
                    char ctx[128];
                    snprintf(ctx, sizeof ctx, "K=%u nd=%zu labels=%d/%u policy=%d topk=%llu", K,
                             nd, labs[b].type, labs[b].C, policy,
                             (unsigned long long)topks[t]);
                    for (size_t q = 0; q < ds.nq; q++)
                        ck_assert_msg(same_bits(got.ap[q], want.ap[q]) ||
                                          (isnan(got.ap[q]) && isnan(want.ap[q])),
                                      "AP[%zu]: %.17g vs %.17g (%s)", q, got.ap[q], want.ap[q],
                                      ctx);
                    NEAR(got.map, want.map, "mAP");
                    for (int j = 0; j < 4; j++) {
                        NEAR(got.p[j], want.p[j], "P@N");
                        NEAR(got.r[j], want.r[j], "R@N");
                    }
                    for (uint32_t r = 0; r <= K; r++) {
                        NEAR(got.prp[r], want.prp[r], "PR precision");
                        NEAR(got.prr[r], want.prr[r], "PR recall");
                    }
                    NEAR(got.bp, want.bp, "ball precision");
                    NEAR(got.br, want.br, "ball recall");
                    NEAR(got.be, want.be, "ball empty");
                    cases++;
                }
            free_data(&ds);
        }
    ck_assert_uint_eq(cases, 4 * 6 * 12);
}
END_TEST

static void assert_same(const ref_out *a, const ref_out *b, const char *what)
{
    ck_assert_msg(memcmp(a, b, sizeof *a) == 0, "%s: results differ", what);
}

START_TEST(test_eval_threads_give_identical_results)
{
    dataset ds = make_data(77, 64, 60, 3000, DH_LABELS_CLASS_I32, 6);
    const uint64_t ns[4] = {1, 100, 2999, 3000};
    for (int ties = 0; ties < 2; ties++) {
        ref_out one, two, three;
        dh_eval_options o;
        dh_eval_options_init(&o);
        o.n_bits = 64;
        o.ties = ties;
        o.topk = 500;
        for (uint32_t nt = 1; nt <= 3; nt++) {
            ref_out *r = nt == 1 ? &one : nt == 2 ? &two : &three;
            memset(r, 0, sizeof *r);
            o.n_threads = nt;
            ck_assert_dh_ok(dh_eval_all(&o, ds.qc, ds.ql, 60, ds.dc, ds.dl, 3000, ns, 4, &r->map,
                                        r->ap, r->p, r->r, r->prp, r->prr, &r->bp, &r->br,
                                        &r->be));
        }
        assert_same(&one, &two, "1 vs 2 threads");
        assert_same(&one, &three, "1 vs 3 threads");
    }
    free_data(&ds);
}
END_TEST

START_TEST(test_eval_kernel_sets_give_identical_results)
{
    const uint32_t Ks[] = {8, 64, 128, 200, 256, 1024, 4096};
    const uint32_t K = Ks[_i];
    for (int lab = 0; lab < 3; lab++) {
        int32_t type = lab == 0 ? DH_LABELS_CLASS_I32 : DH_LABELS_MULTIHOT_U8;
        dataset ds = make_data(5 + (uint64_t)_i, K, 17, 333, type, lab == 2 ? 100 : 7);
        const uint64_t ns[4] = {1, 10, 100, 333};
        ref_out base, got;
        ck_assert_dh_ok(dh_set_isa(DH_ISA_SCALAR));
        run_lib(&ds, 0, 0, ns, 4, 3, 0, &base);
        for (int32_t isa = DH_ISA_AVX2; isa <= DH_ISA_AVX512VPOPCNT; isa++) {
            if (!dh_cpu_has_isa(isa)) continue;
            ck_assert_dh_ok(dh_set_isa(isa));
            run_lib(&ds, 0, 0, ns, 4, 3, 0, &got);
            assert_same(&base, &got, dh_isa_name(isa));
        }
        ck_assert_dh_ok(dh_set_isa(DH_ISA_AUTO));
        free_data(&ds);
    }
}
END_TEST

static Suite *eval_ref_suite(void)
{
    Suite *s = suite_create("eval_ref");
    TCase *tc = tcase_create("Reference");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_eval_matches_naive_sort_reference, 0, 9);
    suite_add_tcase(s, tc);
    tc = tcase_create("Determinism");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_eval_threads_give_identical_results);
    tcase_add_loop_test(tc, test_eval_kernel_sets_give_identical_results, 0, 7);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dh_test_run(eval_ref_suite()); }
