/* lib/loss/common.c -- numerics shared by the loss families: normal deviates, label
 * similarity, BLAS wrappers, symmetric pair gradients, banks, center votes. */
#include <cblas.h>
#include <string.h>

#include "loss/loss.h"

double dh__loss_normal(uint64_t *s)
{
    double u1 = dh__splitmix64_unif(s), u2 = dh__splitmix64_unif(s);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

size_t dh__loss_similarity(const float *Ya, size_t na, const float *Yb, size_t nb, size_t C,
                           float *S)
{
    /* multi-hot inner products are small integers, exact in float */
    dh__gemm_nt(na, nb, C, 1.0f, Ya, Yb, 0.0f, S);
    size_t n1 = 0;
    for (size_t i = 0; i < na * nb; i++) {
        S[i] = S[i] > 0.5f ? 1.0f : 0.0f;
        n1 += S[i] > 0.5f;
    }
    return n1;
}

void dh__gemm_nn(size_t n, size_t m, size_t K, float alpha, const float *A, const float *Bm,
                 float beta, float *G)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)n, (blasint)K, (blasint)m,
                alpha, A, (blasint)m, Bm, (blasint)K, beta, G, (blasint)K);
}

void dh__gemm_nt(size_t n, size_t m, size_t K, float alpha, const float *A, const float *Bm,
                 float beta, float *G)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)n, (blasint)m, (blasint)K,
                alpha, A, (blasint)K, Bm, (blasint)K, beta, G, (blasint)m);
}

void dh__gemm_tn(size_t n, size_t m, size_t K, float alpha, const float *A, const float *Bm,
                 float beta, float *G)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)m, (blasint)K, (blasint)n,
                alpha, A, (blasint)m, Bm, (blasint)K, beta, G, (blasint)K);
}

dh_status dh__loss_sym_grad(const float *G, const float *U, size_t B, size_t K, float scale,
                            float *dU)
{
    float *Gs = dh__alloc(B * B * sizeof(float));
    if (!Gs) return DH_E_NO_MEMORY;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++) Gs[i * B + j] = G[i * B + j] + G[j * B + i];
    dh__gemm_nn(B, B, K, scale, Gs, U, 1.0f, dU);
    dh__free(Gs);
    return DH_OK;
}

void dh__row_norms(const float *U, size_t B, size_t K, double eps, double *out)
{
    for (size_t i = 0; i < B; i++) {
        double s = 0;
        for (size_t k = 0; k < K; k++) s += (double)U[i * K + k] * U[i * K + k];
        s = sqrt(s);
        out[i] = s > eps ? s : eps;
    }
}

void dh__row_normalise(const float *X, size_t n, size_t K, float *Xh, double *nr)
{
    dh__row_norms(X, n, K, 1e-12, nr);
    for (size_t i = 0; i < n * K; i++) Xh[i] = (float)(X[i] / nr[i / K]);
}

void dh__row_normalise_back(const float *Xh, const double *nr, size_t n, size_t K, float *d)
{
    for (size_t i = 0; i < n; i++) {
        double dot = 0;
        for (size_t k = 0; k < K; k++) dot += (double)Xh[i * K + k] * d[i * K + k];
        for (size_t k = 0; k < K; k++)
            d[i * K + k] = (float)((d[i * K + k] - (nr[i] > 1e-12 ? Xh[i * K + k] * dot : 0)) /
                                   nr[i]);
    }
}

void dh__loss_vote_center(const float *T, const float *y, size_t C, size_t K, const float *fill,
                          float *out)
{
    for (size_t k = 0; k < K; k++) out[k] = 0.0f;
    for (size_t c = 0; c < C; c++)
        if (y[c] > 0.5f)
            for (size_t k = 0; k < K; k++) out[k] += T[c * K + k];
    for (size_t k = 0; k < K; k++)
        out[k] = out[k] > 0 ? 1.0f : out[k] < 0 ? -1.0f : fill[k];
}

void dh__loss_bank_write(float *bank, float *ybank, const dh__loss_batch *b, size_t K, size_t C)
{
    for (size_t i = 0; i < b->B; i++) {
        size_t r = (size_t)b->idx[i];
        memcpy(bank + r * K, b->U + i * K, K * sizeof(float));
        if (ybank) memcpy(ybank + r * C, b->Y + i * C, C * sizeof(float));
    }
}

/* Softmax cross-entropy of logits A (B x C) against soft targets Q (rows sum to 1
 * or to 0 for skipped rows); A is replaced by dL/dA = (p - q) * scale. */
double dh__loss_softmax_ce(float *A, const float *Q, size_t B, size_t C, double scale)
{
    double v = 0;
    for (size_t i = 0; i < B; i++) {
        float *a = A + i * C;
        const float *q = Q + i * C;
        double mx = a[0], s = 0, qs = 0;
        for (size_t c = 1; c < C; c++) mx = a[c] > mx ? a[c] : mx;
        for (size_t c = 0; c < C; c++) s += exp((double)a[c] - mx);
        double lse = mx + log(s);
        for (size_t c = 0; c < C; c++) qs += q[c];
        for (size_t c = 0; c < C; c++) {
            v -= q[c] * ((double)a[c] - lse);
            a[c] = qs > 0 ? (float)((exp((double)a[c] - lse) * qs - q[c]) * scale) : 0.0f;
        }
    }
    return v;
}

