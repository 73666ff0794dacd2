/* lib/eval/ties.c -- one query's AP@k and hits@N from its distance profile, under
 * database-order ties (exact, from the ranks of the relevant items) and under
 * tie-aware expectation (closed forms, docs/methods.md#ties).
 *
 * Expected AP. A tie group of n items with r relevant, after `base` items and Rb hits,
 * contributes (r/n) sum_{s=0}^{n-1} (Rb + 1 + s*beta) / (base + 1 + s), beta =
 * (r-1)/(n-1) (0 for n = 1): the probability that slot s holds a relevant item times
 * the expected precision there (linear in the number of earlier hits). With
 * h = sum 1/(base+1+s) and t = sum s/(base+1+s) it is (r/n) ((Rb+1) h + beta t).
 * A cut at k inside a group (c of its n slots inside) makes the number x of relevant
 * items inside hypergeometric; given x the inside slots behave like a group of c
 * items with x relevant, and the AP normaliser is Rb + x. */
#include "eval/eval.h"

#include <math.h>

#define DIRECT_MAX 64 /* below this many terms sums are added directly */

/* H(b) - H(a) for a >= DIRECT_MAX by the asymptotic series of the harmonic numbers
 * (the first omitted term is below 1e-17 there). */
static double harm_diff_asym(double a, double b)
{
    double ia = 1.0 / a, ib = 1.0 / b;
    double ia2 = ia * ia, ib2 = ib * ib;
    double v = log1p((b - a) / a);
    v += 0.5 * (ib - ia);
    v -= (ib2 - ia2) / 12.0;
    v += (ib2 * ib2 - ia2 * ia2) / 120.0;
    v -= (ib2 * ib2 * ib2 - ia2 * ia2 * ia2) / 252.0;
    return v;
}

void dh__eval_tie_sums(uint64_t base, uint64_t m, double *h, double *t)
{
    double hs = 0, ts = 0;
    if (m <= DIRECT_MAX) {
        for (uint64_t s = 0; s < m; s++) {
            double inv = 1.0 / (double)(base + 1 + s);
            hs += inv;
            ts += (double)s * inv;
        }
        *h = hs;
        *t = ts;
        return;
    }
    uint64_t a = base, b = base + m; /* h = H(b) - H(a) */
    while (a < DIRECT_MAX && a < b) hs += 1.0 / (double)(++a);
    if (a < b) hs += harm_diff_asym((double)a, (double)b);
    *h = hs;
    /* sum s/(base+1+s) = sum (1 - (base+1)/(base+1+s)) */
    *t = (double)m - (double)(base + 1) * hs;
}

/* Expected sum of precision-at-hit over a whole group (see the header comment). */
static double group_sum(uint64_t base, uint64_t rb, uint64_t n, uint64_t r)
{
    if (r == 0) return 0.0;
    double h, t;
    dh__eval_tie_sums(base, n, &h, &t);
    double beta = n > 1 ? (double)(r - 1) / (double)(n - 1) : 0.0;
    return (double)r / (double)n * ((double)(rb + 1) * h + beta * t);
}

/* E[AP@k] when the cut leaves c (1 <= c < n) of a group's n items inside; a_before is
 * the expected hit-precision sum of the earlier groups (rb hits, base items). */
static double cut_expected(uint64_t base, uint64_t rb, double a_before, uint64_t n, uint64_t r,
                           uint64_t c)
{
    uint64_t xlo = c > n - r ? c - (n - r) : 0, xhi = c < r ? c : r;
    double h, t;
    dh__eval_tie_sums(base, c, &h, &t);
    const double fn = (double)n, fr = (double)r, fc = (double)c;
    /* hypergeometric weights relative to the mode, by the ratio recurrence */
    uint64_t mode = (uint64_t)(((fc + 1) * (fr + 1)) / (fn + 2));
    if (mode < xlo) mode = xlo;
    if (mode > xhi) mode = xhi;
    double wsum = 0, vsum = 0;
    for (int dir = 0; dir < 2; dir++) {
        double w = 1.0;
        uint64_t x = mode;
        for (;;) {
            if (dir == 0 || x != mode) {
                double beta = c > 1 ? ((double)x - 1.0) / (fc - 1.0) : 0.0;
                double ag = x ? (double)x / fc * ((double)(rb + 1) * h + beta * t) : 0.0;
                if (rb + x > 0) vsum += w * (a_before + ag) / (double)(rb + x);
                wsum += w;
            }
            if (w < 1e-20) break; /* the mode weighs 1; the rest is negligible */
            const double fx = (double)x;
            if (dir == 0) { /* upward */
                if (x >= xhi) break;
                w *= (fr - fx) * (fc - fx) / ((fx + 1) * (fn - fr - fc + fx + 1));
                x++;
            } else { /* downward */
                if (x <= xlo) break;
                w *= fx * (fn - fr - fc + fx) / ((fr - fx + 1) * (fc - fx + 1));
                x--;
            }
        }
    }
    return vsum / wsum;
}

static double ap_expected(const dh__eval_profile *p, uint64_t k, int *has_hits)
{
    uint64_t base = 0, rb = 0;
    double a = 0.0;
    for (uint32_t d = 0; d <= p->n_bits && base < k; d++) {
        uint64_t n = p->cnt[d], r = p->rcnt[d];
        if (n == 0) continue;
        if (base + n <= k) {
            a += group_sum(base, rb, n, r);
            base += n;
            rb += r;
            continue;
        }
        *has_hits = rb > 0 || r > 0;
        return *has_hits ? cut_expected(base, rb, a, n, r, k - base) : 0.0;
    }
    *has_hits = rb > 0;
    return rb ? a / (double)rb : 0.0;
}

static double ap_index(const dh__eval_profile *p, uint64_t k, int *has_hits)
{
    double sum = 0.0;
    uint64_t j = 0;
    for (; j < p->R && p->ranks[j] <= k; j++) sum += (double)(j + 1) / (double)p->ranks[j];
    *has_hits = j > 0;
    return j ? sum / (double)j : 0.0;
}

double dh__eval_ap(const dh__eval_profile *p, int32_t ties, uint64_t k, int *has_hits)
{
    if (k == 0 || k > p->n_db) k = p->n_db;
    return ties == DH_TIES_EXPECTED ? ap_expected(p, k, has_hits) : ap_index(p, k, has_hits);
}

/* Hits among the first n, for ascending cut-offs ns[0..m). */
void dh__eval_hits_at(const dh__eval_profile *p, int32_t ties, const uint64_t *ns, size_t m,
                      double *out)
{
    if (ties != DH_TIES_EXPECTED) {
        uint64_t j = 0;
        for (size_t i = 0; i < m; i++) {
            while (j < p->R && p->ranks[j] <= ns[i]) j++;
            out[i] = (double)j;
        }
        return;
    }
    uint64_t base = 0, rb = 0;
    uint32_t d = 0;
    for (size_t i = 0; i < m; i++) {
        /* advance over groups that end at or before ns[i] */
        while (d <= p->n_bits && base + p->cnt[d] <= ns[i]) {
            base += p->cnt[d];
            rb += p->rcnt[d];
            d++;
        }
        double part = 0.0;
        if (d <= p->n_bits && ns[i] > base)
            part = (double)p->rcnt[d] * (double)(ns[i] - base) / (double)p->cnt[d];
        out[i] = (double)rb + part;
    }
}
