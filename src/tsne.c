/* src/tsne.c -- 2-D maps of binary codes for the pictures: exact t-SNE (van der Maaten
 * & Hinton, JMLR 2008) for up to a few thousand points, and PCA (power iteration) when
 * speed matters. Codes enter as packed bits; t-SNE's input distances are Hamming
 * distances (the geometry the index ranks by). */
#include "tsne.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/core/rng.h" /* header-only: the library's splitmix64 stream */

static uint32_t hamming(const uint8_t *a, const uint8_t *b, size_t nb)
{
    uint32_t d = 0;
    for (size_t i = 0; i < nb; i++) d += (uint32_t)__builtin_popcount((unsigned)(a[i] ^ b[i]));
    return d;
}

/* Row i of P: Gaussian conditional probabilities with the precision beta found by
 * bisection so that the entropy equals log(perplexity). */
static void row_p(const float *D, size_t n, size_t i, double perplexity, double *P)
{
    double lo = 0, hi = HUGE_VAL, beta = 1, target = log(perplexity);
    for (int it = 0; it < 100; it++) {
        double sum = 0, hsum = 0;
        for (size_t j = 0; j < n; j++) {
            P[j] = j == i ? 0 : exp(-beta * D[j]);
            sum += P[j];
            hsum += D[j] * P[j];
        }
        if (sum <= 0) sum = 1e-300;
        double H = log(sum) + beta * hsum / sum, diff = H - target;
        for (size_t j = 0; j < n; j++) P[j] /= sum;
        if (fabs(diff) < 1e-5) break;
        if (diff > 0) { /* too flat: sharpen */
            lo = beta;
            beta = isinf(hi) ? beta * 2 : (beta + hi) / 2;
        } else {
            hi = beta;
            beta = (beta + lo) / 2;
        }
    }
}

int dh_tsne_codes(const uint8_t *codes, size_t n, uint32_t n_bits, const dh_tsne_options *o,
                  float *out_xy, dh_tsne_progress progress, void *user)
{
    size_t nb = (n_bits + 7) / 8;
    if (n < 2) {
        for (size_t i = 0; i < 2 * n; i++) out_xy[i] = 0;
        return 0;
    }
    double perp = o->perplexity;
    if (perp > (double)(n - 1) / 3) perp = (double)(n - 1) / 3;
    if (perp < 1) perp = 1;
    double *P = malloc(n * n * sizeof(double));
    float *Drow = malloc(n * sizeof(float));
    double *Y = malloc(2 * n * sizeof(double)), *G = calloc(2 * n, sizeof(double));
    double *V = calloc(2 * n, sizeof(double)), *gain = malloc(2 * n * sizeof(double));
    double *num = malloc(n * n * sizeof(double));
    int rc = (P && Drow && Y && G && V && gain && num) ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            double d = hamming(codes + i * nb, codes + j * nb, nb);
            Drow[j] = (float)(d * d);
        }
        row_p(Drow, n, i, perp, P + i * n);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) /* symmetrise */
        for (size_t j = i + 1; j < n; j++) {
            double v = (P[i * n + j] + P[j * n + i]) / (2.0 * (double)n);
            if (v < 1e-12) v = 1e-12;
            P[i * n + j] = P[j * n + i] = v;
        }
    uint64_t s = o->seed;
    for (size_t i = 0; rc == 0 && i < 2 * n; i++) {
        double u1 = dh__splitmix64_unif(&s), u2 = dh__splitmix64_unif(&s);
        Y[i] = 1e-4 * sqrt(-2 * log(u1 > 1e-300 ? u1 : 1e-300)) * cos(2 * M_PI * u2);
        gain[i] = 1;
    }
    double lr = o->learning_rate > 0 ? o->learning_rate : 200.0;
    for (uint32_t it = 0; rc == 0 && it < o->iterations; it++) {
        double exag = it < 250 ? 12.0 : 1.0, mom = it < 250 ? 0.5 : 0.8, Z = 0;
#pragma omp parallel for reduction(+ : Z) schedule(static)
        for (size_t i = 0; i < n; i++) {
            double zi = 0;
            for (size_t j = 0; j < n; j++) {
                double dx = Y[2 * i] - Y[2 * j], dy = Y[2 * i + 1] - Y[2 * j + 1];
                double q = j == i ? 0 : 1.0 / (1.0 + dx * dx + dy * dy);
                num[i * n + j] = q;
                zi += q;
            }
            Z += zi;
        }
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            double gx = 0, gy = 0;
            for (size_t j = 0; j < n; j++) {
                if (j == i) continue;
                double q = num[i * n + j], m = (exag * P[i * n + j] - q / Z) * q;
                gx += m * (Y[2 * i] - Y[2 * j]);
                gy += m * (Y[2 * i + 1] - Y[2 * j + 1]);
            }
            G[2 * i] = 4 * gx;
            G[2 * i + 1] = 4 * gy;
        }
        double mean[2] = {0, 0};
        for (size_t i = 0; i < 2 * n; i++) {
            gain[i] = (G[i] > 0) != (V[i] > 0) ? gain[i] + 0.2 : gain[i] * 0.8;
            if (gain[i] < 0.01) gain[i] = 0.01;
            V[i] = mom * V[i] - lr * gain[i] * G[i];
            Y[i] += V[i];
            mean[i & 1] += Y[i];
        }
        for (size_t i = 0; i < 2 * n; i++) Y[i] -= mean[i & 1] / (double)n;
        if (progress && (it % 50 == 49 || it + 1 == o->iterations))
            progress((double)(it + 1) / o->iterations, user);
    }
    for (size_t i = 0; rc == 0 && i < 2 * n; i++) out_xy[i] = (float)Y[i];
    free(P), free(Drow), free(Y), free(G), free(V), free(gain), free(num);
    return rc;
}

int dh_pca_codes(const uint8_t *codes, size_t n, uint32_t n_bits, float *out_xy)
{
    size_t K = n_bits, nb = (n_bits + 7) / 8;
    double *X = malloc(n * K * sizeof(double)), *mu = calloc(K, sizeof(double));
    double *C = calloc(K * K, sizeof(double)), *v = malloc(2 * K * sizeof(double));
    int rc = (X && mu && C && v) ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++)
        for (size_t k = 0; k < K; k++) {
            X[i * K + k] = (codes[i * nb + k / 8] >> (k % 8)) & 1 ? 1.0 : -1.0;
            mu[k] += X[i * K + k] / (double)n;
        }
    for (size_t i = 0; rc == 0 && i < n; i++)
        for (size_t a = 0; a < K; a++)
            for (size_t b = 0; b < K; b++)
                C[a * K + b] += (X[i * K + a] - mu[a]) * (X[i * K + b] - mu[b]);
    /* the two leading eigenvectors by power iteration with deflation */
    for (size_t e = 0; rc == 0 && e < 2; e++) {
        double *w = v + e * K;
        for (size_t k = 0; k < K; k++) w[k] = 1.0 + 0.01 * (double)((k * 7 + e * 3) % 11);
        for (int it = 0; it < 300; it++) {
            double t[4096 + 1], nrm = 0;
            for (size_t a = 0; a < K; a++) {
                t[a] = 0;
                for (size_t b = 0; b < K; b++) t[a] += C[a * K + b] * w[b];
            }
            if (e == 1) { /* orthogonal to the first */
                double dp = 0;
                for (size_t a = 0; a < K; a++) dp += t[a] * v[a];
                for (size_t a = 0; a < K; a++) t[a] -= dp * v[a];
            }
            for (size_t a = 0; a < K; a++) nrm += t[a] * t[a];
            nrm = sqrt(nrm);
            if (nrm == 0) break;
            for (size_t a = 0; a < K; a++) w[a] = t[a] / nrm;
        }
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        for (size_t e = 0; e < 2; e++) {
            double p = 0;
            for (size_t k = 0; k < K; k++) p += (X[i * K + k] - mu[k]) * v[e * K + k];
            out_xy[2 * i + e] = (float)p;
        }
    free(X), free(mu), free(C), free(v);
    return rc;
}
