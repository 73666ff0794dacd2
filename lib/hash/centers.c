/* lib/hash/centers.c -- hash-center generation for center-based losses (CSQ, DPN,
 * OrthoHash, MDSH): Hadamard rows, random (Bernoulli / balanced) with a minimum-
 * distance check, OrthoHash's greedy acceptance, and centers optimised up to the
 * Gilbert-Varshamov distance (docs/methods.md#hash-centers). */
#include <math.h>
#include <string.h>

#include "hash/hash.h"

/* ---- Gilbert-Varshamov ---------------------------------------------------- */

__extension__ typedef unsigned __int128 dh__u128;

/* log2 of C * V(K, r), V = sum_{i <= r} binom(K, i); exact (128-bit) for K <= 64. */
static int cmp_ball(uint32_t K, uint32_t r, uint32_t C)
{
    /* returns sign of C * V(K, r) - 2^K */
    if (K <= 64) {
        dh__u128 b = 1, v = 1;
        for (uint32_t i = 1; i <= r && i <= K; i++) {
            b = b * (K - i + 1) / i;
            v += b;
        }
        dh__u128 lhs = v * C, rhs = (dh__u128)1 << K;
        return lhs < rhs ? -1 : lhs > rhs ? 1 : 0;
    }
    long double lv = 0; /* log2 V via log-sum-exp of log2 binomials */
    for (uint32_t i = 0; i <= r && i <= K; i++) {
        long double lb = (lgammal(K + 1.0L) - lgammal(i + 1.0L) - lgammal(K - i + 1.0L)) /
                         logl(2.0L);
        lv = i == 0 ? lb : (lv > lb ? lv + log2l(1 + exp2l(lb - lv)) : lb + log2l(1 + exp2l(lv - lb)));
    }
    long double lhs = lv + log2l((long double)C);
    return lhs < (long double)K - 1e-12L ? -1 : lhs > (long double)K + 1e-12L ? 1 : 0;
}

dh_status dh_centers_gv_distance(uint32_t C, uint32_t K, uint32_t *d_gv, uint32_t *d_target)
{
    DH_CHECK_ARG_MSG(C >= 2 && dh__bits_valid(K), "dh_centers_gv_distance: n_classes %u "
                     "(>= 2) or n_bits %u (1..4096) out of range", C, K);
    uint32_t r = 0; /* smallest r with C V(K, r) >= 2^K */
    while (r < K && cmp_ball(K, r, C) < 0) r++;
    uint32_t gv = cmp_ball(K, r, C) == 0 ? r + 1 : r;
    if (d_gv) *d_gv = gv;
    if (d_target) *d_target = r + 1 > K ? K : r + 1;
    return DH_OK;
}

/* ---- helpers -------------------------------------------------------------- */

static uint32_t dist(const float *a, const float *b, size_t K)
{
    uint32_t d = 0;
    for (size_t k = 0; k < K; k++) d += (a[k] > 0) != (b[k] > 0);
    return d;
}

static void min_mean(const float *T, size_t C, size_t K, uint32_t *mn, double *mean)
{
    uint32_t m = (uint32_t)K;
    double s = 0, n = 0;
    for (size_t i = 0; i < C; i++)
        for (size_t j = i + 1; j < C; j++) {
            uint32_t d = dist(T + i * K, T + j * K, K);
            m = d < m ? d : m;
            s += d, n++;
        }
    *mn = m;
    *mean = n > 0 ? s / n : (double)K;
}

static void draw(float *T, size_t C, size_t K, int balanced, uint64_t *rng)
{
    for (size_t i = 0; i < C; i++) {
        float *t = T + i * K;
        for (size_t k = 0; k < K; k++) t[k] = (dh__splitmix64(rng) >> 63) ? 1.0f : -1.0f;
        if (!balanced) continue;
        for (size_t k = 0; k < K; k++) t[k] = k < K / 2 ? -1.0f : 1.0f;
        for (size_t k = K; k > 1; k--) { /* Fisher-Yates */
            size_t j = (size_t)(dh__splitmix64(rng) % k);
            float x = t[k - 1];
            t[k - 1] = t[j], t[j] = x;
        }
    }
}

/* Best of 20 draws: accept when min > K/4 and mean >= K/2 (swuxyj's CSQ rule). */
static dh_status random_centers(float *T, size_t C, size_t K, int balanced, uint64_t *rng)
{
    float *cand = dh__alloc(C * K * sizeof(float));
    if (!cand) return DH_E_NO_MEMORY;
    uint32_t best = 0;
    double best_mean = -1;
    for (int t = 0; t < 20; t++) {
        draw(cand, C, K, balanced, rng);
        uint32_t mn;
        double mean;
        min_mean(cand, C, K, &mn, &mean);
        if (mn > best || (mn == best && mean > best_mean)) {
            best = mn, best_mean = mean;
            memcpy(T, cand, C * K * sizeof(float));
        }
        if (4.0 * mn > (double)K && 2.0 * mean >= (double)K) break;
    }
    dh__free(cand);
    return DH_OK;
}

static int is_pow2(uint32_t K) { return K && (K & (K - 1)) == 0; }

static void hadamard(float *T, size_t C, size_t K)
{
    for (size_t r = 0; r < C; r++) {
        size_t i = r % K;
        float sg = r < K ? 1.0f : -1.0f;
        for (size_t j = 0; j < K; j++)
            T[r * K + j] = sg * ((__builtin_popcountll((unsigned long long)(i & j)) & 1) ? -1.0f
                                                                                      : 1.0f);
    }
}

/* OrthoHash 'O': accept a random candidate when its normalised distance to every
 * accepted center is >= theta (0.61, lowered by 0.01 after 10 000 rejections). */
static void greedy_centers(float *T, size_t C, size_t K, uint64_t *rng)
{
    double theta = 0.61;
    size_t n = 0, rej = 0;
    while (n < C) {
        draw(T + n * K, 1, K, 0, rng);
        int ok = 1;
        for (size_t j = 0; j < n && ok; j++)
            ok = (double)dist(T + n * K, T + j * K, K) >= theta * (double)K - 1e-9;
        if (ok) {
            n++, rej = 0;
        } else if (++rej >= 10000) {
            theta -= 0.01;
            rej = 0;
        }
    }
    for (size_t i = C; i > 1; i--) { /* permute the rows */
        size_t j = (size_t)(dh__splitmix64(rng) % i);
        for (size_t k = 0; k < K; k++) {
            float x = T[(i - 1) * K + k];
            T[(i - 1) * K + k] = T[j * K + k], T[j * K + k] = x;
        }
    }
}

/* ---- GV target by local search ------------------------------------------- */

/* Maximise the minimum pairwise distance by single-bit flips: repeatedly take a
 * center with the most pairs at the current minimum d and flip the bit that removes
 * most of them without creating a pair below d (plateau moves allowed), until
 * d >= target or the step budget is spent. Keeps the best set seen. */
static dh_status gv_centers(float *T, size_t C, size_t K, uint64_t *rng)
{
    uint32_t target;
    DH_TRY(dh_centers_gv_distance((uint32_t)C, (uint32_t)K, NULL, &target));
    if (is_pow2((uint32_t)K) && C <= 2 * K) hadamard(T, C, K);
    else DH_TRY(random_centers(T, C, K, 0, rng));
    int32_t *D = dh__alloc(C * C * sizeof(int32_t));
    float *best = dh__alloc(C * K * sizeof(float));
    if (!D || !best) {
        dh__free(D), dh__free(best);
        return DH_E_NO_MEMORY;
    }
    for (size_t i = 0; i < C; i++)
        for (size_t j = 0; j < C; j++) D[i * C + j] = i == j ? (int32_t)K + 1 : (int32_t)dist(T + i * K, T + j * K, K);
    memcpy(best, T, C * K * sizeof(float));
    int32_t best_d = -1;
    /* step budget: about 3e8 distance updates in all */
    size_t best_cnt = 0, steps = (size_t)3e8 / (C * C + K * C) + 100;
    if (steps > 20 * C + 5000) steps = 20 * C + 5000;
    for (size_t it = 0; it < steps; it++) {
        int32_t d = (int32_t)K + 1;
        for (size_t i = 0; i < C * C; i++) d = D[i] < d ? D[i] : d;
        size_t cnt = 0, ci = 0, cmax = 0;
        for (size_t i = 0; i < C; i++) {
            size_t c = 0;
            for (size_t j = 0; j < C; j++) c += D[i * C + j] == d;
            cnt += c;
            if (c > cmax || (c == cmax && (dh__splitmix64(rng) & 1))) cmax = c, ci = i;
        }
        if (d > best_d || (d == best_d && cnt < best_cnt)) {
            best_d = d, best_cnt = cnt;
            memcpy(best, T, C * K * sizeof(float));
        }
        if (d >= (int32_t)target) break;
        long bk = -1, bg = -1;
        for (size_t k = 0; k < K; k++) {
            long nc = 0, bad = 0;
            for (size_t j = 0; j < C && !bad; j++) {
                if (j == ci) continue;
                int32_t nd = D[ci * C + j] + ((T[ci * K + k] > 0) == (T[j * K + k] > 0) ? 1 : -1);
                bad = nd < d, nc += nd == d;
            }
            long g = bad ? -1 : (long)cmax - nc;
            if (g > bg || (g == bg && g >= 0 && (dh__splitmix64(rng) & 1))) bg = g, bk = (long)k;
        }
        if (bk < 0 || bg < 0) bk = (long)(dh__splitmix64(rng) % K); /* kick */
        for (size_t j = 0; j < C; j++) {
            if (j == ci) continue;
            int32_t delta = (T[ci * K + (size_t)bk] > 0) == (T[j * K + (size_t)bk] > 0) ? 1 : -1;
            D[ci * C + j] += delta, D[j * C + ci] += delta;
        }
        T[ci * K + (size_t)bk] = -T[ci * K + (size_t)bk];
    }
    memcpy(T, best, C * K * sizeof(float));
    dh__free(D), dh__free(best);
    return DH_OK;
}

dh_status dh__centers_generate(uint32_t C, uint32_t K, int32_t method, uint64_t seed, float *out,
                               uint32_t *min_dist)
{
    uint64_t rng = seed ^ 0xc3a5c85c97cb3127ull;
    if (method == DH_CENTERS_AUTO)
        method = is_pow2(K) && C <= 2 * K ? DH_CENTERS_HADAMARD : DH_CENTERS_GV;
    switch (method) {
    case DH_CENTERS_HADAMARD:
        if (!is_pow2(K) || C > 2 * K)
            return dh__set_error(DH_E_INVALID_ARG, "hash centers: Hadamard needs n_bits a power "
                                 "of two and n_classes <= 2 n_bits (got K = %u, C = %u)", K, C);
        hadamard(out, C, K);
        break;
    case DH_CENTERS_BERNOULLI: DH_TRY(random_centers(out, C, K, 0, &rng)); break;
    case DH_CENTERS_BALANCED: DH_TRY(random_centers(out, C, K, 1, &rng)); break;
    case DH_CENTERS_GREEDY: greedy_centers(out, C, K, &rng); break;
    case DH_CENTERS_GV:
        if (C > 4096)
            return dh__set_error(DH_E_INVALID_ARG, "hash centers: the GV optimiser supports up "
                                 "to 4096 classes (got %u); use BERNOULLI or BALANCED", C);
        if (C < 2) draw(out, C, K, 0, &rng);
        else DH_TRY(gv_centers(out, C, K, &rng));
        break;
    default:
        return dh__set_error(DH_E_INVALID_ARG, "hash centers: unknown method %d", method);
    }
    if (min_dist) {
        double mean;
        min_mean(out, C, K, min_dist, &mean);
    }
    return DH_OK;
}

dh_status dh_centers_generate(uint32_t C, uint32_t K, int32_t method, uint64_t seed,
                              float *out, uint32_t *min_dist)
{
    DH_CHECK_ARG(out != NULL);
    DH_CHECK_ARG_MSG(C >= 1 && C <= 65536 && dh__bits_valid(K), "dh_centers_generate: "
                     "n_classes %u (1..65536) or n_bits %u (1..4096) out of range", C, K);
    DH_CHECK_ARG_MSG((size_t)C * K <= ((size_t)1 << 28), "dh_centers_generate: C x K too large");
    return dh__centers_generate(C, K, method, seed, out, min_dist);
}
