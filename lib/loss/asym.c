/* lib/loss/asym.c -- ADSH: asymmetric square loss between network outputs of
 * sampled training points and learned database codes V (n_train x K), plus the
 * bit-wise discrete code update (docs/methods.md#asymmetric-update). The block residual, the
 * similarity sums and the DCC solve are exported (dh__asym_*, loss.h) for DIHN. */
#include <string.h>

#include "loss/loss.h"

typedef dh__asym_priv adsh_priv; /* cache, seen flags, r (loss.h) */

static void adsh_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->gamma = 200.0;
}

static dh_status adsh_create(dh_loss *L)
{
    DH_TRY(dh__loss_add_tensor(L, "codes", 1, 2, (int64_t)L->N, L->K, NULL));
    adsh_priv *p = dh__calloc(1, sizeof *p);
    if (!p) return DH_E_NO_MEMORY;
    L->priv = p;
    p->cache = dh__calloc(L->N * L->K, sizeof(float));
    p->seen = dh__calloc(L->N, 1);
    if (!p->cache || !p->seen) return DH_E_NO_MEMORY;
    return DH_OK;
}

static void adsh_destroy(dh_loss *L)
{
    adsh_priv *p = L->priv;
    if (!p) return;
    dh__free(p->cache), dh__free(p->seen), dh__free(p);
}

dh_status dh__asym_sim(const float *Ya, const float *Ua, size_t na, const float *Ydb, size_t N,
                       size_t K, size_t C, float *SU, double *s1)
{
    size_t nb = ((size_t)1 << 22) / (na ? na : 1);
    if (nb < 1) nb = 1;
    if (nb > N) nb = N;
    float *S = dh__alloc((na * nb + 1) * sizeof(float));
    if (!S) return DH_E_NO_MEMORY;
    double n1 = 0;
    for (size_t r0 = 0; r0 < N; r0 += nb) {
        size_t n = N - r0 < nb ? N - r0 : nb;
        n1 += (double)dh__loss_similarity(Ya, na, Ydb + r0 * C, n, C, S);
        if (SU) dh__gemm_tn(na, n, K, 1.0f, S, Ua, 0.0f, SU + r0 * K);
    }
    *s1 = n1;
    dh__free(S);
    return DH_OK;
}

/* |S1|/|S0| of rows (Ya, na) against the whole training set, in blocks. Optionally
 * accumulates SU (N x K) = S^T Ua (the similarity-weighted sum of the rows of Ua). */
static dh_status adsh_block_sim(dh_loss *L, const float *Ya, const float *Ua, size_t na,
                                float *SU, double *r)
{
    double s1 = 0;
    DH_TRY(dh__asym_sim(Ya, Ua, na, L->train_Y, L->N, L->K, L->C, SU, &s1));
    double s0 = (double)na * (double)L->N - s1;
    *r = s0 > 0 ? s1 / s0 : 0.0;
    return DH_OK;
}

static dh_status adsh_init(dh_loss *L)
{
    if (!L->train_Y) return DH_OK;
    /* initial r from up to 2000 evenly spaced rows (ADSH samples m = 2000) */
    size_t m = L->N < 2000 ? L->N : 2000;
    float *Ya = dh__alloc(m * L->C * sizeof(float));
    if (!Ya) return DH_E_NO_MEMORY;
    for (size_t i = 0; i < m; i++)
        memcpy(Ya + i * L->C, L->train_Y + (i * L->N / m) * L->C, L->C * sizeof(float));
    adsh_priv *p = L->priv;
    dh_status st = adsh_block_sim(L, Ya, NULL, m, NULL, &p->r);
    dh__free(Ya);
    return st;
}

dh_status dh__asym_block(const float *U, const float *Yb, size_t B, const float *V,
                         const float *Ydb, size_t N, size_t K, size_t C, double r, double norm,
                         float *dU, double *value)
{
    if (N == 0) return DH_OK;
    float *R = dh__alloc(B * N * sizeof(float));
    if (!R) return DH_E_NO_MEMORY;
    dh__loss_similarity(Yb, B, Ydb, N, C, R);
    for (size_t i = 0; i < B * N; i++) R[i] = R[i] > 0.5f ? -(float)K : (float)((double)K * r);
    dh__gemm_nt(B, N, K, 1.0f, U, V, 1.0f, R); /* R = U V^T - K S~ */
    double v = 0;
    for (size_t i = 0; i < B * N; i++) v += (double)R[i] * R[i];
    dh__gemm_nn(B, N, K, (float)(2 * norm), R, V, 1.0f, dU);
    *value += v;
    dh__free(R);
    return DH_OK;
}

static dh_status adsh_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    if (!L->train_Y)
        return dh__set_error(DH_E_STATE, "adsh: call dh_loss_init with the training labels "
                             "first (the loss needs the similarity to every database item)");
    adsh_priv *p = L->priv;
    const size_t B = b->B, K = L->K, N = L->N;
    const float *V = dh__loss_find(L, "codes")->data;
    const double norm = 1.0 / ((double)N * (double)B), g = L->o.gamma;
    double v = 0;
    memset(b->dU, 0, B * K * sizeof(float));
    DH_TRY(dh__asym_block(b->U, b->Y, B, V, L->train_Y, N, K, L->C, p->r, norm, b->dU, &v));
    for (size_t i = 0; i < B; i++) {
        const float *vi = V + (size_t)b->idx[i] * K, *u = b->U + i * K;
        for (size_t k = 0; k < K; k++) {
            double d = (double)u[k] - vi[k];
            v += g * d * d;
            b->dU[i * K + k] += (float)(2 * norm * g * d);
        }
        if (!L->frozen) {
            memcpy(p->cache + (size_t)b->idx[i] * K, u, K * sizeof(float));
            p->seen[b->idx[i]] = 1;
        }
    }
    *value = v * norm;
    return DH_OK;
}

/* One DCC sweep: for k = 1..K, V[:,k] = sgn(Q[:,k] - V' (U'^T U[:,k])). */
void dh__asym_sweep(float *V, const float *Q, const float *U, size_t m, size_t N, size_t K,
                    float *w, float *t)
{
    for (size_t k = 0; k < K; k++) {
        for (size_t j = 0; j < K; j++) {
            double s = 0;
            for (size_t i = 0; i < m; i++) s += (double)U[i * K + j] * U[i * K + k];
            w[j] = j == k ? 0.0f : (float)s;
        }
        dh__gemm_nn(N, K, 1, 1.0f, V, w, 0.0f, t);
        for (size_t n = 0; n < N; n++)
            V[n * K + k] = Q[n * K + k] - t[n] >= 0 ? 1.0f : -1.0f; /* sgn(0) -> +1 */
    }
}

dh_status dh__asym_solve(float *V, float *Q, const float *U, const int64_t *idx, size_t m,
                         size_t N, size_t K, double r, double gamma)
{
    float *w = dh__alloc(K * sizeof(float)), *t = dh__alloc((N + 1) * sizeof(float));
    double *col = dh__calloc(K, sizeof(double));
    dh_status st = DH_E_NO_MEMORY;
    if (!w || !t || !col) goto done;
    for (size_t i = 0; i < m; i++)
        for (size_t k = 0; k < K; k++) col[k] += U[i * K + k];
    /* Q = K S~^T U + gamma Ubar with S~ = (1 + r) S - r */
    for (size_t n = 0; n < N; n++)
        for (size_t k = 0; k < K; k++)
            Q[n * K + k] = (float)((double)K * ((1 + r) * Q[n * K + k] - r * col[k]));
    for (size_t i = 0; i < m; i++)
        if (idx[i] >= 0)
            for (size_t k = 0; k < K; k++)
                Q[(size_t)idx[i] * K + k] += (float)(gamma * U[i * K + k]);
    dh__asym_sweep(V, Q, U, m, N, K, w, t);
    st = DH_OK;
done:
    dh__free(w), dh__free(t), dh__free(col);
    return st;
}

static dh_status adsh_update(dh_loss *L, const float *U, const int64_t *idx, size_t m)
{
    adsh_priv *p = L->priv;
    const size_t N = L->N, K = L->K, C = L->C;
    float *Ya = dh__alloc(m * C * sizeof(float)), *Q = dh__alloc(N * K * sizeof(float));
    dh_status st = DH_E_NO_MEMORY;
    if (!Ya || !Q) goto done;
    for (size_t i = 0; i < m; i++)
        memcpy(Ya + i * C, L->train_Y + (size_t)idx[i] * C, C * sizeof(float));
    DH_TRY_GOTO(adsh_block_sim(L, Ya, U, m, Q, &p->r), done);
    st = dh__asym_solve(dh__loss_find(L, "codes")->data, Q, U, idx, m, N, K, p->r, L->o.gamma);
done:
    dh__free(Ya), dh__free(Q);
    return st;
}

dh_status dh_loss_update_codes(dh_loss *L, const float *U, const int64_t *indices, size_t m)
{
    DH_CHECK_ARG(L != NULL);
    if (!dh__loss_learns_codes(L))
        return dh__set_error(DH_E_STATE, "dh_loss_update_codes: method '%s' learns no "
                             "database codes (adsh and dihn do)", L->m->name);
    /* dihn keeps the same cache layout; only the solve differs (old rows stay fixed) */
    dh_status (*update)(dh_loss *, const float *, const int64_t *, size_t) =
        L->m->update_codes;
    if (!L->train_Y)
        return dh__set_error(DH_E_STATE, "dh_loss_update_codes: call dh_loss_init with the "
                             "training labels first");
    adsh_priv *p = L->priv;
    if (U || indices || m) {
        DH_CHECK_ARG_MSG(U && indices && m > 0 && m <= L->N, "dh_loss_update_codes: U, "
                         "indices and m (1..n_train) go together (or all NULL/0)");
        for (size_t i = 0; i < m; i++) {
            if (indices[i] < 0 || (uint64_t)indices[i] >= L->N)
                return dh__set_error(DH_E_INVALID_ARG, "dh_loss_update_codes: indices[%zu] = "
                                     "%lld not in [0, %zu)", i, (long long)indices[i], L->N);
        }
        for (size_t i = 0; i < m * L->K; i++)
            if (!isfinite(U[i]))
                return dh__set_error(DH_E_INVALID_ARG, "dh_loss_update_codes: U[%zu][%zu] is "
                                     "not finite", i / L->K, i % L->K);
        return update(L, U, indices, m);
    }
    size_t n = 0;
    for (size_t i = 0; i < L->N; i++) n += p->seen[i];
    if (n == 0)
        return dh__set_error(DH_E_STATE, "dh_loss_update_codes: no outputs cached since the "
                             "last update (run forward_backward with indices first)");
    float *Uc = dh__alloc(n * L->K * sizeof(float));
    int64_t *ix = dh__alloc(n * sizeof(int64_t));
    dh_status st = DH_E_NO_MEMORY;
    if (Uc && ix) {
        for (size_t i = 0, j = 0; i < L->N; i++)
            if (p->seen[i]) {
                memcpy(Uc + j * L->K, p->cache + i * L->K, L->K * sizeof(float));
                ix[j++] = (int64_t)i;
            }
        st = update(L, Uc, ix, n);
        if (st == DH_OK) memset(p->seen, 0, L->N);
    }
    dh__free(Uc), dh__free(ix);
    return st;
}

const dh__loss_method dh__loss_adsh = {
    .name = "adsh",
    .summary = "Asymmetric Deep Supervised Hashing (Jiang and Li, AAAI 2018)",
    .head = DH_LOSS_HEAD_TANH,
    .needs_index = 1,
    .defaults = adsh_defaults,
    .create = adsh_create,
    .init = adsh_init,
    .fb = adsh_fb,
    .destroy = adsh_destroy,
    .update_codes = adsh_update,
};
