/* lib/hash/head_bn.c -- BatchNorm1d over the K head outputs (OrthoHash's head), with
 * PyTorch's semantics: training normalises with the batch mean and the biased
 * variance, and moves the running statistics by `momentum` using the unbiased
 * variance; inference uses the running statistics. Statistics are accumulated in
 * double. Arrays are row-major [n, k]. */
#include "hash/hash.h"

#include <math.h>
#include <string.h>

void dh__bn1d_forward_train(dh__bn1d *bn, const float *z, size_t n, size_t k, float *xhat,
                            float *out)
{
    const double m = bn->momentum;
    for (size_t j = 0; j < k; j++) {
        double s = 0, ss = 0;
        for (size_t i = 0; i < n; i++) s += z[i * k + j];
        double mean = s / (double)n;
        for (size_t i = 0; i < n; i++) {
            double d = z[i * k + j] - mean;
            ss += d * d;
        }
        double var = ss / (double)n;
        double inv_std = 1.0 / sqrt(var + bn->eps);
        bn->mean[j] = (float)mean;
        bn->inv_std[j] = (float)inv_std;
        for (size_t i = 0; i < n; i++) {
            float xh = (float)((z[i * k + j] - mean) * inv_std);
            xhat[i * k + j] = xh;
            out[i * k + j] = bn->gamma[j] * xh + bn->beta[j];
        }
        double unbiased = n > 1 ? ss / (double)(n - 1) : var;
        bn->rmean[j] = (float)((1.0 - m) * bn->rmean[j] + m * mean);
        bn->rvar[j] = (float)((1.0 - m) * bn->rvar[j] + m * unbiased);
    }
    bn->nbt[0] += 1.0f;
}

void dh__bn1d_forward_infer(const dh__bn1d *bn, const float *z, size_t n, size_t k, float *out)
{
    for (size_t j = 0; j < k; j++) {
        float scale = (float)(bn->gamma[j] / sqrt((double)bn->rvar[j] + bn->eps));
        float shift = bn->beta[j] - scale * bn->rmean[j];
        for (size_t i = 0; i < n; i++) out[i * k + j] = scale * z[i * k + j] + shift;
    }
}

/* dz = gamma * inv_std / n * (n * dy - sum(dy) - xhat * sum(dy * xhat)), per column. */
void dh__bn1d_backward(dh__bn1d *bn, const float *dout, const float *xhat, size_t n, size_t k,
                       float *dz)
{
    for (size_t j = 0; j < k; j++) {
        double sdy = 0, sdyx = 0;
        for (size_t i = 0; i < n; i++) {
            sdy += dout[i * k + j];
            sdyx += (double)dout[i * k + j] * xhat[i * k + j];
        }
        bn->gbeta[j] += (float)sdy;
        bn->ggamma[j] += (float)sdyx;
        double c = (double)bn->gamma[j] * bn->inv_std[j] / (double)n;
        for (size_t i = 0; i < n; i++)
            dz[i * k + j] = (float)(c * ((double)n * dout[i * k + j] - sdy -
                                         (double)xhat[i * k + j] * sdyx));
    }
}
