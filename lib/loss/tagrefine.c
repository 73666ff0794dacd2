/* lib/loss/tagrefine.c -- the refinement step of the EWSH-style tag refinement
 * (docs/methods.md#tagrefine): each image's h Hamming nearest neighbours (by its
 * codes' signs; ties: the lower row) vote on the tags; the observed tags gain the
 * ones a share >= add of the neighbours carry and lose those carried by a share <=
 * drop, unless that would leave the image with no tag (then it keeps its own). Distances by blocked GEMM of the +-1 codes (K - b_i.b_j = 2 Hamming). */
#include <string.h>

#include "core/rng.h"
#include "loss/weak.h"

#define REF_MAX 20000u
#define BLOCK 256u

dh_status dh__tag_refine(const float *U, size_t N, size_t K, const float *Tobs,
                         const float *Tcur, uint32_t T, uint32_t h, double add, double drop,
                         uint64_t seed, float *Tnew, size_t *added, size_t *dropped)
{
    *added = *dropped = 0;
    if (N < 2 || h == 0) {
        if (Tnew != Tobs) memcpy(Tnew, Tobs, N * T * sizeof(float));
        return DH_OK;
    }
    const size_t R = N <= REF_MAX ? N : REF_MAX;
    if (h > R - 1) h = (uint32_t)(R - 1);
    int64_t *ref = dh__alloc(R * sizeof *ref);
    float *Bs = dh__alloc(N * K * sizeof(float)), *Br = dh__alloc(R * K * sizeof(float));
    float *G = dh__alloc((size_t)BLOCK * R * sizeof(float));
    int64_t *nb = dh__alloc(N * (size_t)h * sizeof *nb);
    float *nbv = dh__alloc((size_t)h * sizeof *nbv);
    float *votes = dh__alloc((size_t)T * sizeof *votes);
    dh_status st = (ref && Bs && Br && G && nb && nbv && votes) ? DH_OK : DH_E_NO_MEMORY;
    if (st != DH_OK) goto done;
    for (size_t i = 0; i < N * K; i++) Bs[i] = dh__sgn(U[i]);
    if (R == N) {
        for (size_t r = 0; r < R; r++) ref[r] = (int64_t)r;
    } else { /* a seeded sample in index order: partial Fisher-Yates over 0..N-1 */
        int64_t *all = dh__alloc(N * sizeof *all);
        if (!all) { st = DH_E_NO_MEMORY; goto done; }
        for (size_t i = 0; i < N; i++) all[i] = (int64_t)i;
        dh__rng rg = dh__rng_derive(seed, 0x7265ull, N, R);
        for (size_t i = 0; i < R; i++) {
            size_t j = i + (size_t)dh__rng_below(&rg, N - i);
            int64_t t = all[i];
            all[i] = all[j], all[j] = t;
            ref[i] = all[i];
        }
        dh__free(all);
    }
    for (size_t r = 0; r < R; r++) memcpy(Br + r * K, Bs + (size_t)ref[r] * K, K * sizeof(float));
    /* the h neighbours of every row: largest inner product, self excluded */
    for (size_t i0 = 0; i0 < N; i0 += BLOCK) {
        size_t nbk = N - i0 < BLOCK ? N - i0 : BLOCK;
        dh__gemm_nt(nbk, R, K, 1.0f, Bs + i0 * K, Br, 0.0f, G);
        for (size_t a = 0; a < nbk; a++) {
            const size_t i = i0 + a;
            int64_t *out = nb + i * h;
            uint32_t cnt = 0;
            for (size_t r = 0; r < R; r++) {
                if (ref[r] == (int64_t)i) continue;
                float g = G[a * R + r];
                if (cnt == h && g <= nbv[h - 1]) continue; /* ties keep the lower row */
                uint32_t p = cnt < h ? cnt++ : h - 1;
                while (p > 0 && nbv[p - 1] < g) {
                    nbv[p] = nbv[p - 1], out[p] = out[p - 1];
                    p--;
                }
                nbv[p] = g, out[p] = ref[r];
            }
        }
    }
    /* votes from the current tags, applied to the observed ones; all rows read Tcur
     * before any is written (Tnew may alias Tcur) */
    float *next = Tnew == Tcur ? dh__alloc(N * T * sizeof(float)) : Tnew;
    if (!next) { st = DH_E_NO_MEMORY; goto done; }
    for (size_t i = 0; i < N; i++) {
        memset(votes, 0, T * sizeof(float));
        for (uint32_t k = 0; k < h; k++) {
            const float *row = Tcur + (size_t)nb[i * h + k] * T;
            for (uint32_t t = 0; t < T; t++) votes[t] += row[t];
        }
        size_t n_add = 0, n_drop = 0, left = 0;
        for (uint32_t t = 0; t < T; t++) {
            double share = votes[t] / (double)h;
            float o = Tobs[i * T + t], v = o;
            if (o == 0.0f && share >= add) v = 1.0f, n_add++;
            else if (o == 1.0f && share <= drop) v = 0.0f, n_drop++;
            next[i * T + t] = v;
            left += v == 1.0f;
        }
        if (left == 0 && n_drop) { /* never leave an image without tags: keep its own */
            memcpy(next + i * T, Tobs + i * T, T * sizeof(float));
            n_drop = 0;
        }
        *added += n_add, *dropped += n_drop;
    }
    if (next != Tnew) {
        memcpy(Tnew, next, N * T * sizeof(float));
        dh__free(next);
    }
done:
    dh__free(ref), dh__free(Bs), dh__free(Br), dh__free(G), dh__free(nb), dh__free(nbv);
    dh__free(votes);
    return st;
}
