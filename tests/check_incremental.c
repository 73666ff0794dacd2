/* tests/check_incremental.c -- incremental hashing losses: dihn and dih
 * (finite-difference gradients, a naive reference of the DIHN objective, the code
 * update keeps the fixed rows and never raises the objective, prefix-stable DIH
 * targets, bad inputs). Sessions: check_incremental_session.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loss/loss.h"
#include "testutil.h"

enum { K_ = 8, C_ = 5, NN_ = 20, NO_ = 30, B_ = 10 };

static double urand(uint64_t *s) { return (double)(dh_test_rand(s) >> 11) * 0x1.0p-53; }

static void rand_labels(uint64_t *s, float *Y, size_t n, int multi)
{
    memset(Y, 0, n * C_ * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        Y[i * C_ + dh_test_rand(s) % C_] = 1;
        if (multi && i % 3 == 1) Y[i * C_ + (i + 1) % C_] = 1;
    }
}

static void rand_signs(uint64_t *s, float *V, size_t n)
{
    for (size_t i = 0; i < n; i++) V[i] = (dh_test_rand(s) >> 63) ? 1.0f : -1.0f;
}

static dh_loss *make_loss(const char *m, uint32_t C, uint64_t n_train)
{
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = K_;
    o.n_classes = C;
    o.n_train = n_train;
    dh_loss *L = NULL;
    ck_assert_dh_ok(dh_loss_create(m, &o, &L));
    return L;
}

/* A dihn loss with NN_ new rows (labels Yn) and NO_ fixed rows (Vo, Yo). */
static dh_loss *make_dihn(uint64_t seed, float *Yn, float *Vo, float *Yo)
{
    uint64_t s = seed;
    dh_loss *L = make_loss("dihn", C_, NN_);
    rand_labels(&s, Yn, NN_, 1);
    rand_labels(&s, Yo, NO_, 1);
    rand_signs(&s, Vo, NO_ * K_);
    ck_assert_dh_ok(dh_loss_init(L, Yn, NN_, NULL));
    ck_assert_dh_ok(dh_loss_set_fixed_codes(L, Vo, Yo, NO_, 0));
    return L;
}

static void make_batch(uint64_t seed, float *U, float *Y, int64_t *idx)
{
    uint64_t s = seed;
    for (size_t i = 0; i < B_ * K_; i++) U[i] = (float)((2 * urand(&s) - 1) * 0.9);
    rand_labels(&s, Y, B_, 1);
    for (size_t i = 0; i < B_; i++) idx[i] = (int64_t)((i * 7) % NN_);
}

/* max |fd - analytic| / max |analytic| over all entries of U. */
static double fd_error(dh_loss *L, float *U, const float *Y, const int64_t *idx)
{
    float dU[B_ * K_], tmp[B_ * K_];
    double v0, vp, vm, mx = 1e-9, err = 0;
    ck_assert_dh_ok(dh_loss_forward_backward(L, U, B_, Y, NULL, idx, dU, &v0));
    for (size_t i = 0; i < B_ * K_; i++) {
        float u = U[i];
        const double h = 1e-2;
        U[i] = (float)(u + h);
        ck_assert_dh_ok(dh_loss_forward_backward(L, U, B_, Y, NULL, idx, tmp, &vp));
        U[i] = (float)(u - h);
        ck_assert_dh_ok(dh_loss_forward_backward(L, U, B_, Y, NULL, idx, tmp, &vm));
        U[i] = u;
        double fd = (vp - vm) / (2 * h), d = fabs(fd - dU[i]);
        if (d > err) err = d;
        if (fabs(dU[i]) > mx) mx = fabs(dU[i]);
    }
    return err / mx;
}

START_TEST(test_incremental_dihn_gradient)
{
    float Yn[NN_ * C_], Vo[NO_ * K_], Yo[NO_ * C_], U[B_ * K_], Y[B_ * C_];
    int64_t idx[B_];
    dh_loss *L = make_dihn(3, Yn, Vo, Yo);
    dh__loss_set_frozen(L, 1);
    make_batch(5, U, Y, idx);
    double e = fd_error(L, U, Y, idx);
    ck_assert_msg(e < 2e-3, "dihn: relative gradient error %g", e);
    dh_loss_free(L);
}
END_TEST

START_TEST(test_incremental_dih_gradient)
{
    float U[B_ * K_], Y[B_ * C_];
    int64_t idx[B_];
    for (int multi = 0; multi < 2; multi++) {
        dh_loss *L = make_loss("dih", C_, 0);
        make_batch(9 + (uint64_t)multi, U, Y, idx);
        if (!multi) {
            uint64_t s = 4;
            rand_labels(&s, Y, B_, 0);
        }
        double e = fd_error(L, U, Y, NULL);
        ck_assert_msg(e < 2e-3, "dih (multi %d): relative gradient error %g", multi, e);
        dh_loss_free(L);
    }
}
END_TEST

/* The DIHN objective written out naively: S~ over [new; old], the gamma term on the
 * batch's own new rows, the linear mu term; normalised by B (n_new + n_old). */
static double dihn_reference(dh_loss *L, const float *U, const float *Y, const int64_t *idx,
                             const float *Yn, const float *Vo, const float *Yo, double r)
{
    float V[NN_ * K_];
    ck_assert_dh_ok(dh_loss_get_tensor(L, "codes", V, NN_ * K_));
    double v = 0;
    for (size_t i = 0; i < B_; i++) {
        for (size_t j = 0; j < NN_ + NO_; j++) {
            const float *yj = j < NN_ ? Yn + j * C_ : Yo + (j - NN_) * C_;
            const float *bj = j < NN_ ? V + j * K_ : Vo + (j - NN_) * K_;
            double dot = 0, sim = 0;
            for (size_t c = 0; c < C_; c++) sim += Y[i * C_ + c] * yj[c];
            for (size_t k = 0; k < K_; k++) dot += (double)U[i * K_ + k] * bj[k];
            double t = K_ * (sim > 0 ? 1.0 : -r);
            v += (dot - t) * (dot - t);
        }
        for (size_t k = 0; k < K_; k++) {
            double d = U[i * K_ + k] - V[(size_t)idx[i] * K_ + k];
            v += 200.0 * d * d + 50.0 * U[i * K_ + k];
        }
    }
    return v / (B_ * (double)(NN_ + NO_));
}

/* r = |S1| / |S0| of the rows dihn_init samples (all NN_ new rows) vs the database. */
static double ratio(const float *Yn, const float *Yo)
{
    double s1 = 0, s0 = 0;
    for (size_t i = 0; i < NN_; i++)
        for (size_t j = 0; j < NN_ + NO_; j++) {
            const float *yj = j < NN_ ? Yn + j * C_ : Yo + (j - NN_) * C_;
            double sim = 0;
            for (size_t c = 0; c < C_; c++) sim += Yn[i * C_ + c] * yj[c];
            if (sim > 0) s1 += 1;
            else s0 += 1;
        }
    return s1 / s0;
}

START_TEST(test_incremental_dihn_value_matches_reference)
{
    float Yn[NN_ * C_], Vo[NO_ * K_], Yo[NO_ * C_], U[B_ * K_], Y[B_ * C_], dU[B_ * K_];
    int64_t idx[B_];
    dh_loss *L = make_dihn(11, Yn, Vo, Yo);
    make_batch(12, U, Y, idx);
    double v;
    ck_assert_dh_ok(dh_loss_forward_backward(L, U, B_, Y, NULL, idx, dU, &v));
    double ref = dihn_reference(L, U, Y, idx, Yn, Vo, Yo, ratio(Yn, Yo));
    ck_assert_msg(fabs(v - ref) <= 1e-5 * fabs(ref), "dihn value %.9g, reference %.9g", v, ref);
    /* with no fixed rows and mu = 0 DIHN is ADSH on the same codes */
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = K_, o.n_classes = C_, o.n_train = NN_, o.quant_weight = 0;
    dh_loss *D = NULL, *A = NULL;
    ck_assert_dh_ok(dh_loss_create("dihn", &o, &D));
    ck_assert_dh_ok(dh_loss_create("adsh", &o, &A));
    float V[NN_ * K_];
    ck_assert_dh_ok(dh_loss_get_tensor(D, "codes", V, NN_ * K_));
    ck_assert_dh_ok(dh_loss_set_tensor(A, "codes", V, NN_ * K_));
    ck_assert_dh_ok(dh_loss_init(D, Yn, NN_, NULL));
    ck_assert_dh_ok(dh_loss_init(A, Yn, NN_, NULL));
    float dA[B_ * K_];
    double va, vd;
    ck_assert_dh_ok(dh_loss_forward_backward(D, U, B_, Y, NULL, idx, dU, &vd));
    ck_assert_dh_ok(dh_loss_forward_backward(A, U, B_, Y, NULL, idx, dA, &va));
    ck_assert_double_eq_tol(vd, va, 1e-9 * fabs(va));
    for (size_t i = 0; i < B_ * K_; i++) ck_assert_float_eq_tol(dU[i], dA[i], 1e-6f);
    dh_loss_free(D), dh_loss_free(A), dh_loss_free(L);
}
END_TEST

/* J(V_new) = ||U [V_new; V_old]^T - K S~||^2 + gamma ||V_new[idx] - U||^2 (the part of
 * the objective the discrete update minimises; r fixed). */
static double dcc_objective(const float *U, const float *Ya, const int64_t *idx, size_t m,
                            const float *V, const float *Yn, const float *Vo, const float *Yo,
                            double r)
{
    double J = 0;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < NN_ + NO_; j++) {
            const float *yj = j < NN_ ? Yn + j * C_ : Yo + (j - NN_) * C_;
            const float *bj = j < NN_ ? V + j * K_ : Vo + (j - NN_) * K_;
            double dot = 0, sim = 0;
            for (size_t c = 0; c < C_; c++) sim += Ya[i * C_ + c] * yj[c];
            for (size_t k = 0; k < K_; k++) dot += (double)U[i * K_ + k] * bj[k];
            double t = K_ * (sim > 0 ? 1.0 : -r);
            J += (dot - t) * (dot - t);
        }
        for (size_t k = 0; k < K_; k++) {
            double d = U[i * K_ + k] - V[(size_t)idx[i] * K_ + k];
            J += 200.0 * d * d;
        }
    }
    return J;
}

START_TEST(test_incremental_dihn_update_keeps_old_rows)
{
    float Yn[NN_ * C_], Vo[NO_ * K_], Yo[NO_ * C_], U[NN_ * K_], Ya[NN_ * C_];
    float V0[NN_ * K_], V1[NN_ * K_], Vo1[NO_ * K_];
    int64_t idx[NN_];
    dh_loss *L = make_dihn(21, Yn, Vo, Yo);
    uint64_t s = 22;
    const size_t m = 12;
    for (size_t i = 0; i < m * K_; i++) U[i] = (float)((2 * urand(&s) - 1) * 0.9);
    for (size_t i = 0; i < m; i++) {
        idx[i] = (int64_t)((i * 5 + 1) % NN_);
        memcpy(Ya + i * C_, Yn + (size_t)idx[i] * C_, C_ * sizeof(float));
    }
    ck_assert_dh_ok(dh_loss_get_tensor(L, "codes", V0, NN_ * K_));
    /* r of the update's block, computed as the loss does */
    double s1 = 0, s0 = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < NN_ + NO_; j++) {
            const float *yj = j < NN_ ? Yn + j * C_ : Yo + (j - NN_) * C_;
            double sim = 0;
            for (size_t c = 0; c < C_; c++) sim += Ya[i * C_ + c] * yj[c];
            if (sim > 0) s1 += 1;
            else s0 += 1;
        }
    double r = s1 / s0, J0 = dcc_objective(U, Ya, idx, m, V0, Yn, Vo, Yo, r);
    ck_assert_dh_ok(dh_loss_update_codes(L, U, idx, m));
    ck_assert_dh_ok(dh_loss_get_tensor(L, "codes", V1, NN_ * K_));
    ck_assert_dh_ok(dh_loss_get_tensor(L, "old_codes", Vo1, NO_ * K_));
    ck_assert_mem_eq(Vo1, Vo, sizeof Vo); /* fixed rows bit-for-bit */
    for (size_t i = 0; i < NN_ * K_; i++) ck_assert(V1[i] == 1.0f || V1[i] == -1.0f);
    double J1 = dcc_objective(U, Ya, idx, m, V1, Yn, Vo, Yo, r);
    ck_assert_msg(J1 <= J0 * (1 + 1e-6), "the DCC sweep raised J: %g -> %g", J0, J1);
    ck_assert_msg(memcmp(V0, V1, sizeof V0) != 0, "the update changed no code");
    /* the cached path: forward_backward with indices, then update with no arguments */
    float Ub[B_ * K_], Yb[B_ * C_], dU[B_ * K_];
    int64_t ib[B_];
    make_batch(23, Ub, Yb, ib);
    ck_assert_dh_ok(dh_loss_forward_backward(L, Ub, B_, Yb, NULL, ib, dU, NULL));
    ck_assert_dh_ok(dh_loss_update_codes(L, NULL, NULL, 0));
    ck_assert_dh_fail(dh_loss_update_codes(L, NULL, NULL, 0), DH_E_STATE); /* cache used */
    ck_assert_dh_ok(dh_loss_get_tensor(L, "old_codes", Vo1, NO_ * K_));
    ck_assert_mem_eq(Vo1, Vo, sizeof Vo);
    dh_loss_free(L);
}
END_TEST

START_TEST(test_incremental_dih_targets_prefix_stable)
{
    const int32_t centers[] = {DH_CENTERS_AUTO, DH_CENTERS_HADAMARD};
    for (int c = 0; c < 2; c++) {
        dh_loss_options o;
        dh_loss_options_init(&o);
        o.n_bits = K_, o.centers = centers[c], o.seed = 77;
        dh_loss *a = NULL, *b = NULL;
        o.n_classes = 3;
        ck_assert_dh_ok(dh_loss_create("dih", &o, &a));
        o.n_classes = 5;
        ck_assert_dh_ok(dh_loss_create("dih", &o, &b));
        float Ta[3 * K_], Tb[5 * K_], fa[K_], fb[K_];
        ck_assert_dh_ok(dh_loss_get_tensor(a, "centers", Ta, 3 * K_));
        ck_assert_dh_ok(dh_loss_get_tensor(b, "centers", Tb, 5 * K_));
        ck_assert_mem_eq(Ta, Tb, sizeof Ta); /* old classes keep their targets */
        ck_assert_dh_ok(dh_loss_get_tensor(a, "center_fill", fa, K_));
        ck_assert_dh_ok(dh_loss_get_tensor(b, "center_fill", fb, K_));
        ck_assert_mem_eq(fa, fb, sizeof fa);
        for (size_t i = 0; i < 5 * K_; i++) ck_assert(Tb[i] == 1.0f || Tb[i] == -1.0f);
        for (size_t i = 0; i < 5; i++)
            for (size_t j = 0; j < i; j++)
                ck_assert_msg(memcmp(Tb + i * K_, Tb + j * K_, K_ * sizeof(float)) != 0,
                              "classes %zu and %zu share a target", i, j);
        dh_loss_free(a), dh_loss_free(b);
    }
    /* a different seed gives different targets */
    dh_loss *x = make_loss("dih", C_, 0), *y = NULL;
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = K_, o.n_classes = C_, o.seed = 2;
    ck_assert_dh_ok(dh_loss_create("dih", &o, &y));
    float Tx[C_ * K_], Ty[C_ * K_];
    ck_assert_dh_ok(dh_loss_get_tensor(x, "centers", Tx, C_ * K_));
    ck_assert_dh_ok(dh_loss_get_tensor(y, "centers", Ty, C_ * K_));
    ck_assert(memcmp(Tx, Ty, sizeof Tx) != 0);
    dh_loss_free(x), dh_loss_free(y);
}
END_TEST

START_TEST(test_incremental_loss_bad_inputs)
{
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = K_, o.n_classes = C_;
    dh_loss *L = NULL;
    ck_assert_dh_fail(dh_loss_create("dihn", &o, &L), DH_E_INVALID_ARG); /* n_train */
    ck_assert_ptr_null(L);
    o.centers = DH_CENTERS_GV;
    ck_assert_dh_fail(dh_loss_create("dih", &o, &L), DH_E_INVALID_ARG);
    ck_assert_ptr_null(L);
    float Yn[NN_ * C_], Vo[NO_ * K_], Yo[NO_ * C_];
    L = make_dihn(31, Yn, Vo, Yo);
    ck_assert_dh_fail(dh_loss_set_fixed_codes(NULL, Vo, Yo, NO_, 0), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_loss_set_fixed_codes(L, NULL, Yo, NO_, 0), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_loss_set_fixed_codes(L, Vo, NULL, NO_, 0), DH_E_INVALID_ARG);
    Vo[7] = NAN;
    ck_assert_dh_fail(dh_loss_set_fixed_codes(L, Vo, Yo, NO_, 0), DH_E_INVALID_ARG);
    Vo[7] = 0.3f; /* not NaN: the sign is taken (>= 0 -> +1) */
    Yo[4] = 0.5f;
    ck_assert_dh_fail(dh_loss_set_fixed_codes(L, Vo, Yo, NO_, 0), DH_E_INVALID_ARG);
    Yo[4] = 1.0f;
    /* the failed calls kept the previous rows */
    int64_t shape[4];
    int32_t nd;
    ck_assert_dh_ok(dh_loss_tensor_shape(L, "old_codes", shape, &nd));
    ck_assert_int_eq(nd, 2);
    ck_assert_int_eq(shape[0], NO_);
    ck_assert_dh_ok(dh_loss_set_fixed_codes(L, Vo, Yo, NO_, 0));
    float got[NO_ * K_];
    ck_assert_dh_ok(dh_loss_get_tensor(L, "old_codes", got, NO_ * K_));
    ck_assert(got[7] == 1.0f);
    ck_assert_dh_ok(dh_loss_set_fixed_codes(L, NULL, NULL, 0, 0)); /* no old rows */
    ck_assert_dh_ok(dh_loss_tensor_shape(L, "old_codes", shape, &nd));
    ck_assert_int_eq(shape[0], 0);
    dh_loss_free(L);
    /* other methods have no fixed rows; dih learns no codes; dihn needs its labels */
    dh_loss *csq = make_loss("csq", C_, 0), *dih = make_loss("dih", C_, 0);
    ck_assert_dh_fail(dh_loss_set_fixed_codes(csq, Vo, Yo, NO_, 0), DH_E_STATE);
    ck_assert_dh_fail(dh_loss_update_codes(dih, NULL, NULL, 0), DH_E_STATE);
    dh_loss *d2 = make_loss("dihn", C_, NN_);
    float U[B_ * K_], Y[B_ * C_], dU[B_ * K_];
    int64_t idx[B_];
    make_batch(1, U, Y, idx);
    ck_assert_dh_fail(dh_loss_forward_backward(d2, U, B_, Y, NULL, idx, dU, NULL), DH_E_STATE);
    ck_assert_dh_fail(dh_loss_update_codes(d2, U, idx, B_), DH_E_STATE);
    ck_assert_dh_ok(dh_loss_init(d2, Yn, NN_, NULL));
    ck_assert_dh_fail(dh_loss_forward_backward(d2, U, B_, Y, NULL, NULL, dU, NULL),
                      DH_E_INVALID_ARG); /* indices required */
    idx[3] = NN_;
    ck_assert_dh_fail(dh_loss_update_codes(d2, U, idx, B_), DH_E_INVALID_ARG);
    dh_loss_free(csq), dh_loss_free(dih), dh_loss_free(d2);
    dh_loss_free(NULL);
}
END_TEST

static Suite *incremental_suite(void)
{
    Suite *s = suite_create("incremental");
    TCase *t = tcase_create("Loss");
    tcase_add_test(t, test_incremental_dihn_gradient);
    tcase_add_test(t, test_incremental_dih_gradient);
    tcase_add_test(t, test_incremental_dihn_value_matches_reference);
    tcase_add_test(t, test_incremental_dihn_update_keeps_old_rows);
    tcase_add_test(t, test_incremental_dih_targets_prefix_stable);
    tcase_add_test(t, test_incremental_loss_bad_inputs);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(incremental_suite()); }
