/* tests/check_loss_train.c -- "the loss falls and retrieval improves" for every
 * method, without the neural engine: a linear map W (D x K) of fixed synthetic
 * class-clustered features is trained with Adam on each loss, and the mAP of
 * sign(X W) (brute force, ties by index) must clearly beat chance and the start. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loss/loss.h"
#include "testutil.h"

enum { C = 5, D = 24, K = 16, NTR = 250, NQ = 100, BATCH = 50, STEPS = 300 };

static double gauss(uint64_t *s)
{
    double u1 = ((double)(dh_test_rand(s) >> 11) + 1) * 0x1.0p-53;
    double u2 = (double)(dh_test_rand(s) >> 11) * 0x1.0p-53;
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

typedef struct data {
    float X[(NTR + NQ) * D];
    float Y[(NTR + NQ) * C];
    int32_t cls[NTR + NQ];
} data;

static void make_data(data *d)
{
    uint64_t s = 77;
    float mu[C * D];
    for (size_t i = 0; i < C * D; i++) mu[i] = (float)gauss(&s);
    memset(d->Y, 0, sizeof d->Y);
    for (size_t i = 0; i < NTR + NQ; i++) {
        size_t c = i % C;
        d->cls[i] = (int32_t)c;
        d->Y[i * C + c] = 1;
        for (size_t j = 0; j < D; j++) d->X[i * D + j] = mu[c * D + j] + (float)(1.6 * gauss(&s));
    }
}

/* mAP@all of sign codes, queries = rows NTR.., database = training rows */
static double map_all(const data *d, const float *W)
{
    static float Z[(NTR + NQ) * K];
    for (size_t i = 0; i < NTR + NQ; i++)
        for (size_t k = 0; k < K; k++) {
            double z = 0;
            for (size_t j = 0; j < D; j++) z += d->X[i * D + j] * W[j * K + k];
            Z[i * K + k] = z >= 0 ? 1.0f : -1.0f;
        }
    double total = 0;
    for (size_t q = NTR; q < NTR + NQ; q++) {
        size_t cnt[K + 1] = {0}, rel[K + 1] = {0};
        for (size_t x = 0; x < NTR; x++) {
            int h = 0;
            for (size_t k = 0; k < K; k++) h += Z[q * K + k] != Z[x * K + k];
            cnt[h]++;
            rel[h] += d->cls[q] == d->cls[x];
        }
        /* expected AP with random order inside ties (tie-aware, exact) */
        double ap = 0, R = 0, Rb = 0, Nb = 0;
        for (int h = 0; h <= K; h++) R += (double)rel[h];
        for (int h = 0; h <= K; h++) {
            double n = (double)cnt[h], r = (double)rel[h];
            for (double t = 1; t <= n && r > 0; t++) {
                double f = n > 1 ? (r - 1) / (n - 1) : 0;
                ap += (r / n) * (Rb + 1 + (t - 1) * f) / (Nb + t);
            }
            Rb += r, Nb += n;
        }
        total += R > 0 ? ap / R : 0;
    }
    return total / NQ;
}

typedef struct adam {
    float *m, *v;
    size_t n;
    int t;
} adam;

static void adam_step(adam *a, float *w, const float *g, size_t n, double lr, size_t off)
{
    const double b1 = 0.9, b2 = 0.999;
    for (size_t i = 0; i < n; i++) {
        float *m = a->m + off + i, *v = a->v + off + i;
        *m = (float)(b1 * *m + (1 - b1) * g[i]);
        *v = (float)(b2 * *v + (1 - b2) * g[i] * g[i]);
        double mh = *m / (1 - pow(b1, a->t)), vh = *v / (1 - pow(b2, a->t));
        w[i] -= (float)(lr * mh / (sqrt(vh) + 1e-8));
    }
}

static const char *methods[] = {"dpsh", "hashnet", "dch", "dsh", "dtsh", "triplet", "adsh",
                                "greedyhash", "csq", "dpn", "orthohash", "mdsh", "sprch",
                                "twostage"};

START_TEST(test_loss_train_loss_falls_and_map_beats_chance)
{
    const char *m = methods[_i];
    static data d;
    make_data(&d);
    dh_loss_options o;
    dh_loss_options_init(&o);
    o.n_bits = K, o.n_classes = C, o.n_train = NTR, o.n_epochs = STEPS / (NTR / BATCH);
    dh_loss *L = NULL;
    ck_assert_dh_ok(dh_loss_create(m, &o, &L));
    ck_assert_dh_ok(dh_loss_init(L, d.Y, NTR, NULL));
    int32_t act;
    float beta;
    uint64_t s = 5;
    static float W[D * K], U[BATCH * K], dU[BATCH * K], dW[D * K], Xb[BATCH * D],
        Yb[BATCH * C];
    for (size_t i = 0; i < D * K; i++) W[i] = (float)(gauss(&s) * 0.1);
    double map0 = map_all(&d, W);
    dh__param *P;
    size_t np = dh__loss_params(L, &P), ntot = D * K;
    for (size_t p = 0; p < np; p++) ntot += P[p].n;
    adam a = {calloc(ntot, sizeof(float)), calloc(ntot, sizeof(float)), ntot, 0};
    double first = 0, last = 0;
    int64_t idx[BATCH];
    for (int step = 0; step < STEPS; step++) {
        if (step % (NTR / BATCH) == 0) ck_assert_dh_ok(dh_loss_epoch_begin(L, step / (NTR / BATCH)));
        ck_assert_dh_ok(dh_loss_head_hint(L, &act, &beta));
        for (size_t i = 0; i < BATCH; i++) {
            idx[i] = (int64_t)(dh_test_rand(&s) % NTR);
            memcpy(Xb + i * D, d.X + idx[i] * D, sizeof(float) * D);
            memcpy(Yb + i * C, d.Y + idx[i] * C, sizeof(float) * C);
        }
        for (size_t i = 0; i < BATCH; i++)
            for (size_t k = 0; k < K; k++) {
                double z = 0;
                for (size_t j = 0; j < D; j++) z += Xb[i * D + j] * W[j * K + k];
                U[i * K + k] = act == DH_LOSS_HEAD_TANH ? tanhf((float)z)
                               : act == DH_LOSS_HEAD_SCALED_TANH ? tanhf(beta * (float)z)
                                                                 : (float)z;
            }
        double v;
        ck_assert_dh_ok(dh_loss_forward_backward(L, U, BATCH, Yb, NULL, idx, dU, &v));
        if (step < 20) first += v / 20;
        if (step >= STEPS - 20) last += v / 20;
        for (size_t i = 0; i < BATCH * K; i++) {
            double u = U[i];
            if (act == DH_LOSS_HEAD_TANH) dU[i] *= (float)(1 - u * u);
            if (act == DH_LOSS_HEAD_SCALED_TANH) dU[i] *= (float)(beta * (1 - u * u));
        }
        memset(dW, 0, sizeof dW);
        for (size_t i = 0; i < BATCH; i++)
            for (size_t j = 0; j < D; j++)
                for (size_t k = 0; k < K; k++) dW[j * K + k] += Xb[i * D + j] * dU[i * K + k];
        a.t++;
        adam_step(&a, W, dW, D * K, 0.01, 0);
        for (size_t p = 0, off = D * K; p < np; off += P[p].n, p++)
            adam_step(&a, P[p].data, P[p].grad, P[p].n, 0.01, off);
        if (!strcmp(m, "adsh") && step % 15 == 14) ck_assert_dh_ok(dh_loss_update_codes(L, NULL, NULL, 0));
    }
    double map1 = map_all(&d, W);
    ck_assert_msg(last < first, "%s: loss did not fall (%g -> %g)", m, first, last);
    ck_assert_msg(map1 > 0.55 && map1 > map0 + 0.1, "%s: mAP %.3f (start %.3f, chance ~%.2f)", m,
                  map1, map0, 1.0 / C);
    if (getenv("DH_VERBOSE"))
        fprintf(stderr, "%-10s loss %.4g -> %.4g  mAP %.3f -> %.3f\n", m, first, last, map0, map1);
    free(a.m), free(a.v);
    dh_loss_free(L);
}
END_TEST

static Suite *loss_train_suite(void)
{
    Suite *s = suite_create("loss_train");
    TCase *t = tcase_create("Train");
    tcase_add_loop_test(t, test_loss_train_loss_falls_and_map_beats_chance, 0,
                        (int)(sizeof methods / sizeof methods[0]));
    tcase_set_timeout(t, 120);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(loss_train_suite()); }
