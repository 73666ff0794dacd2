/* lib/nn/ref.c -- naive reference kernels in double precision, NCHW (llm.c style):
 * the slow twins of the oneDNN path, used by the tests for finite-difference
 * gradient checks and optimised-vs-reference comparisons. Forward writes, backward
 * accumulates (+=); NULL gradient pointers are skipped. */
#include <math.h>
#include <string.h>

#include "nn/nn.h"

void dh__conv_ref_dims_init(dh__conv_ref_dims *d)
{
    if (d->dh < 1) d->dh = 1;
    if (d->dw < 1) d->dw = 1;
    if (d->groups < 1) d->groups = 1;
    d->oh = (d->h + 2 * d->ph - d->dh * (d->kh - 1) - 1) / d->sh + 1;
    d->ow = (d->w + 2 * d->pw - d->dw * (d->kw - 1) - 1) / d->sw + 1;
}

/* Visit every (output, input, weight) triple of a convolution. */
#define CONV_LOOP(d, BODY)                                                                   \
    do {                                                                                     \
        int cg_ = (d)->c / (d)->groups, og_ = (d)->o / (d)->groups;                          \
        for (int n = 0; n < (d)->n; n++)                                                     \
            for (int o = 0; o < (d)->o; o++) {                                               \
                int g = o / og_;                                                             \
                for (int y = 0; y < (d)->oh; y++)                                            \
                    for (int x = 0; x < (d)->ow; x++) {                                      \
                        size_t oi = (((size_t)n * (d)->o + o) * (d)->oh + y) * (d)->ow + x;  \
                        for (int ci = 0; ci < cg_; ci++) {                                   \
                            int c = g * cg_ + ci;                                            \
                            for (int ky = 0; ky < (d)->kh; ky++) {                           \
                                int iy = y * (d)->sh - (d)->ph + ky * (d)->dh;               \
                                if (iy < 0 || iy >= (d)->h) continue;                        \
                                for (int kx = 0; kx < (d)->kw; kx++) {                       \
                                    int ix = x * (d)->sw - (d)->pw + kx * (d)->dw;           \
                                    if (ix < 0 || ix >= (d)->w) continue;                    \
                                    size_t ii = (((size_t)n * (d)->c + c) * (d)->h + iy) *   \
                                                    (d)->w + ix;                             \
                                    size_t wi = (((size_t)o * cg_ + ci) * (d)->kh + ky) *    \
                                                    (d)->kw + kx;                            \
                                    BODY;                                                    \
                                }                                                            \
                            }                                                                \
                        }                                                                    \
                    }                                                                        \
            }                                                                                \
    } while (0)

void dh__conv2d_ref_forward(double *out, const double *in, const double *w, const double *b,
                            const dh__conv_ref_dims *d)
{
    size_t hw = (size_t)d->oh * d->ow;
    for (int n = 0; n < d->n; n++)
        for (int o = 0; o < d->o; o++)
            for (size_t k = 0; k < hw; k++)
                out[((size_t)n * d->o + o) * hw + k] = b ? b[o] : 0.0;
    CONV_LOOP(d, out[oi] += in[ii] * w[wi]);
}

void dh__conv2d_ref_backward(double *din, double *dw, double *db, const double *dout,
                             const double *in, const double *w, const dh__conv_ref_dims *d)
{
    if (din) CONV_LOOP(d, din[ii] += dout[oi] * w[wi]);
    if (dw) CONV_LOOP(d, dw[wi] += dout[oi] * in[ii]);
    if (db) {
        size_t hw = (size_t)d->oh * d->ow;
        for (int n = 0; n < d->n; n++)
            for (int o = 0; o < d->o; o++)
                for (size_t k = 0; k < hw; k++) db[o] += dout[((size_t)n * d->o + o) * hw + k];
    }
}

#define AT(p, n, c, k) (p)[((size_t)(n) * (size_t)c_ + (size_t)(c)) * (size_t)hw + (size_t)(k)]

void dh__bn_ref_forward(double *out, double *mean, double *var, const double *in,
                        const double *gamma, const double *beta, int n, int c_, int hw,
                        double eps)
{
    double cnt = (double)n * hw;
    for (int c = 0; c < c_; c++) {
        double m = 0, v = 0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < hw; k++) m += AT(in, i, c, k);
        m /= cnt;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < hw; k++) v += (AT(in, i, c, k) - m) * (AT(in, i, c, k) - m);
        v /= cnt;
        if (mean) mean[c] = m;
        if (var) var[c] = v;
        double inv = 1.0 / sqrt(v + eps);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < hw; k++)
                AT(out, i, c, k) = gamma[c] * (AT(in, i, c, k) - m) * inv + beta[c];
    }
}

void dh__bn_ref_forward_infer(double *out, const double *in, const double *gamma,
                              const double *beta, const double *mean, const double *var, int n,
                              int c_, int hw, double eps)
{
    for (int c = 0; c < c_; c++) {
        double inv = 1.0 / sqrt(var[c] + eps);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < hw; k++)
                AT(out, i, c, k) = gamma[c] * (AT(in, i, c, k) - mean[c]) * inv + beta[c];
    }
}

void dh__bn_ref_backward(double *din, double *dgamma, double *dbeta, const double *dout,
                         const double *in, const double *gamma, int n, int c_, int hw,
                         double eps)
{
    double cnt = (double)n * hw;
    for (int c = 0; c < c_; c++) {
        double m = 0, v = 0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < hw; k++) m += AT(in, i, c, k);
        m /= cnt;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < hw; k++) v += (AT(in, i, c, k) - m) * (AT(in, i, c, k) - m);
        v /= cnt;
        double inv = 1.0 / sqrt(v + eps), sg = 0, sgx = 0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < hw; k++) {
                double xh = (AT(in, i, c, k) - m) * inv;
                sg += AT(dout, i, c, k);
                sgx += AT(dout, i, c, k) * xh;
            }
        if (dgamma) dgamma[c] += sgx;
        if (dbeta) dbeta[c] += sg;
        if (!din) continue;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < hw; k++) {
                double xh = (AT(in, i, c, k) - m) * inv;
                AT(din, i, c, k) += gamma[c] * inv * (AT(dout, i, c, k) - sg / cnt - xh * sgx / cnt);
            }
    }
}
#undef AT

static double act_f(double x, int kind, double alpha)
{
    switch (kind) {
    case DH__ACT_TANH: return tanh(x);
    case DH__ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case DH__ACT_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    default: return x > 0 ? x : alpha * x;
    }
}

static double act_df(double x, int kind, double alpha)
{
    switch (kind) {
    case DH__ACT_TANH: return 1.0 - tanh(x) * tanh(x);
    case DH__ACT_SIGMOID: {
        double s = 1.0 / (1.0 + exp(-x));
        return s * (1.0 - s);
    }
    case DH__ACT_GELU:
        return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
    default: return x > 0 ? 1.0 : alpha;
    }
}

void dh__act_ref_forward(double *out, const double *in, size_t n, int kind, double alpha)
{
    for (size_t i = 0; i < n; i++) out[i] = act_f(in[i], kind, alpha);
}

void dh__act_ref_backward(double *din, const double *dout, const double *in, size_t n, int kind,
                          double alpha)
{
    for (size_t i = 0; i < n; i++) din[i] += dout[i] * act_df(in[i], kind, alpha);
}

/* pooling: output size floor((h + 2p - k) / s) + 1 */
#define POOL_LOOP(BODY_INIT, BODY, BODY_END)                                                 \
    int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;                          \
    for (int nc = 0; nc < n * c; nc++)                                                       \
        for (int y = 0; y < oh; y++)                                                         \
            for (int x = 0; x < ow; x++) {                                                   \
                size_t oi = ((size_t)nc * oh + y) * ow + x;                                  \
                BODY_INIT;                                                                   \
                for (int ky = 0; ky < k; ky++)                                               \
                    for (int kx = 0; kx < k; kx++) {                                         \
                        int iy = y * s - p + ky, ix = x * s - p + kx;                        \
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;                \
                        size_t ii = ((size_t)nc * h + iy) * w + ix;                          \
                        BODY;                                                                \
                    }                                                                        \
                BODY_END;                                                                    \
            }

void dh__maxpool_ref_forward(double *out, const double *in, int n, int c, int h, int w, int k,
                             int s, int p)
{
    POOL_LOOP(double best = -INFINITY, if (in[ii] > best) best = in[ii], out[oi] = best)
}

void dh__maxpool_ref_backward(double *din, const double *dout, const double *in, int n, int c,
                              int h, int w, int k, int s, int p)
{
    /* the gradient goes to the first maximum in scan order (as oneDNN and PyTorch) */
    POOL_LOOP(double best = -INFINITY; size_t arg = (size_t)-1,
              if (in[ii] > best) { best = in[ii]; arg = ii; },
              if (arg != (size_t)-1) din[arg] += dout[oi])
}

void dh__avgpool_ref_forward(double *out, const double *in, int n, int c, int h, int w, int k,
                             int s, int p)
{
    POOL_LOOP(double acc = 0, acc += in[ii], out[oi] = acc / (k * k))
}

void dh__avgpool_ref_backward(double *din, const double *dout, int n, int c, int h, int w, int k,
                              int s, int p)
{
    int oh2 = (h + 2 * p - k) / s + 1, ow2 = (w + 2 * p - k) / s + 1;
    for (int nc = 0; nc < n * c; nc++)
        for (int y = 0; y < oh2; y++)
            for (int x = 0; x < ow2; x++) {
                double g = dout[((size_t)nc * oh2 + y) * ow2 + x] / (k * k);
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        int iy = y * s - p + ky, ix = x * s - p + kx;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                        din[((size_t)nc * h + iy) * w + ix] += g;
                    }
            }
}

void dh__linear_ref_forward(double *out, const double *in, const double *w, const double *b,
                            int n, int k, int m)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            double acc = b ? b[j] : 0.0;
            for (int q = 0; q < k; q++) acc += in[(size_t)i * k + q] * w[(size_t)j * k + q];
            out[(size_t)i * m + j] = acc;
        }
}

void dh__linear_ref_backward(double *din, double *dw, double *db, const double *dout,
                             const double *in, const double *w, int n, int k, int m)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            double g = dout[(size_t)i * m + j];
            if (db) db[j] += g;
            for (int q = 0; q < k; q++) {
                if (din) din[(size_t)i * k + q] += g * w[(size_t)j * k + q];
                if (dw) dw[(size_t)j * k + q] += g * in[(size_t)i * k + q];
            }
        }
}

void dh__softmax_ref_forward(double *out, const double *in, int outer, int axis, int inner)
{
    for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++) {
            const double *x = in + (size_t)o * axis * inner + i;
            double *y = out + (size_t)o * axis * inner + i;
            double mx = -INFINITY, sum = 0;
            for (int a = 0; a < axis; a++) mx = fmax(mx, x[(size_t)a * inner]);
            for (int a = 0; a < axis; a++) sum += exp(x[(size_t)a * inner] - mx);
            for (int a = 0; a < axis; a++) y[(size_t)a * inner] = exp(x[(size_t)a * inner] - mx) / sum;
        }
}

void dh__softmax_ref_backward(double *din, const double *dout, const double *out, int outer,
                              int axis, int inner)
{
    for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++) {
            size_t base = (size_t)o * axis * inner + i;
            double dot = 0;
            for (int a = 0; a < axis; a++)
                dot += dout[base + (size_t)a * inner] * out[base + (size_t)a * inner];
            for (int a = 0; a < axis; a++) {
                size_t q = base + (size_t)a * inner;
                din[q] += out[q] * (dout[q] - dot);
            }
        }
}

void dh__dropout_ref_forward(double *out, const double *in, const uint8_t *mask, size_t n,
                             double p)
{
    for (size_t i = 0; i < n; i++) out[i] = mask[i] ? in[i] / (1.0 - p) : 0.0;
}

void dh__dropout_ref_backward(double *din, const double *dout, const uint8_t *mask, size_t n,
                              double p)
{
    for (size_t i = 0; i < n; i++) din[i] += mask[i] ? dout[i] / (1.0 - p) : 0.0;
}
