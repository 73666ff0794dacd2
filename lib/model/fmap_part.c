/* lib/model/fmap_part.c -- the part-diversity loss of the PART feature-map pool
 * (ExchNet's L_sp, docs/methods.md#exchnet-parts, on the part maps themselves).
 *
 * For one image with M part maps a_m = softmax(s_m) over P positions:
 *   L = 1 - (1 / #pairs) sum_{m < m'} H(a_m, a_m'),   H(p, q) = ||sqrt p - sqrt q|| / sqrt 2
 * H is 1 for maps on disjoint positions and 0 for equal maps, so L pushes the parts
 * to different places. Gradient (stable form, no division by sqrt(p)):
 *   dH/dp_j = (sqrt p_j - sqrt q_j) / (4 H sqrt p_j), and through the softmax
 *   ds_j = h_j - p_j sum_i h_i,  h_j = p_j dL/dp_j = (p_j - sqrt(p_j q_j)) / (4 H) (x -1/#pairs)
 * H = 0 (identical maps) has no gradient direction; such pairs contribute none.
 * dh__fmap_part_diversity adds weight x h_j (not ds_j) so that the caller can sum it with
 * the pooling's own h_j = a_j dL/da_j and apply the softmax backward once. */
#include "model/fmap_pool.h"

#include <math.h>

static double hellinger(const float *p, const float *q, size_t P)
{
    double d = 0;
    for (size_t j = 0; j < P; j++) {
        double t = sqrt((double)p[j]) - sqrt((double)q[j]);
        d += t * t;
    }
    return sqrt(d / 2);
}

/* h[j] += coef * (p_j - sqrt(p_j q_j)) / (4 H) */
static void add_h(const float *p, const float *q, size_t P, double H, double coef, double *h)
{
    double c = coef / (4 * H);
    for (size_t j = 0; j < P; j++)
        h[j] += c * ((double)p[j] - sqrt((double)p[j] * (double)q[j]));
}

double dh__fmap_part_diversity(const float *att, size_t M, size_t P, double weight, double *dh)
{
    if (M < 2) return 0;
    double npairs = (double)(M * (M - 1) / 2), sumH = 0;
    for (size_t m = 0; m < M; m++) {
        const float *a = att + m * P;
        double *h = dh ? dh + m * P : NULL; /* h_j of map m, accumulated */
        for (size_t o = 0; o < M; o++) {
            if (o == m) continue;
            double H = hellinger(a, att + o * P, P);
            if (o > m) sumH += H;
            if (h && H > 1e-12) add_h(a, att + o * P, P, H, -weight / npairs, h);
        }
    }
    return weight * (1.0 - sumH / npairs);
}

void dh__fmap_softmax_backward(const float *a, size_t P, double *h)
{
    double sum = 0;
    for (size_t j = 0; j < P; j++) sum += h[j];
    for (size_t j = 0; j < P; j++) h[j] -= (double)a[j] * sum;
}
