/* lib/loss/tagembed.c -- tag embeddings learnt from the tags' own co-occurrence, the
 * fallback when the user has no word vectors (docs/methods.md#tag-embeddings):
 * C_ab = images tagged with both a and b (a != b), PPMI_ab = max(0, log(C_ab C_** /
 * (C_a* C_*b))), then the rank-D truncated SVD of the symmetric PPMI matrix,
 * E = U_D Sigma_D^(1/2). It lives in lib/loss, not lib/data, because it needs LAPACK
 * (OpenBLAS's dsyevr_) and the search-only build has no OpenBLAS; the eigen-
 * decomposition of the symmetric matrix gives its SVD (singular values |lambda|,
 * singular vectors the eigenvectors), so no LAPACKE is needed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss/weak.h"

/* LAPACK (Fortran; hidden string lengths last) */
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n,
                    double *a, const int *lda, const double *vl, const double *vu, const int *il,
                    const int *iu, const double *abstol, int *m, double *w, double *z,
                    const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
                    const int *liwork, int *info, size_t l1, size_t l2, size_t l3);

typedef struct { double mag; int idx; } eig_rank;

static int by_mag_desc(const void *a, const void *b)
{
    const eig_rank *x = a, *y = b;
    if (x->mag != y->mag) return x->mag < y->mag ? 1 : -1;
    return x->idx - y->idx;
}

dh_status dh__tag_ppmi(const float *Y, size_t n, uint32_t T, double *P)
{
    const size_t TT = (size_t)T * T;
    memset(P, 0, TT * sizeof(double));
    uint32_t *on = dh__alloc(((size_t)T + 1) * sizeof *on);
    if (!on) return DH_E_NO_MEMORY;
    for (size_t i = 0; i < n; i++) { /* sparse rows: pairs of the row's tags */
        uint32_t k = 0;
        for (uint32_t t = 0; t < T; t++)
            if (Y[i * T + t] > 0.5f) on[k++] = t;
        for (uint32_t a = 0; a < k; a++)
            for (uint32_t b = 0; b < k; b++)
                if (a != b) P[(size_t)on[a] * T + on[b]] += 1.0;
    }
    dh__free(on);
    double *row = dh__calloc((size_t)T + 1, sizeof(double));
    if (!row) return DH_E_NO_MEMORY;
    double tot = 0;
    for (uint32_t a = 0; a < T; a++) {
        for (uint32_t b = 0; b < T; b++) row[a] += P[(size_t)a * T + b];
        tot += row[a];
    }
    for (uint32_t a = 0; a < T; a++)
        for (uint32_t b = 0; b < T; b++) {
            double c = P[(size_t)a * T + b];
            double v = c > 0 ? log(c * tot / (row[a] * row[b])) : 0.0;
            P[(size_t)a * T + b] = v > 0 ? v : 0.0;
        }
    dh__free(row);
    return DH_OK;
}

dh_status dh_tags_embed_cooccurrence(const float *tags, size_t n, uint32_t n_tags, uint32_t dim,
                                     float *out)
{
    DH_CHECK_ARG(tags != NULL && out != NULL && n > 0);
    DH_CHECK_ARG_MSG(n_tags >= 1 && n_tags <= DH__TAGEMBED_MAX && dim >= 1 && dim <= n_tags,
                     "dh_tags_embed_cooccurrence: want 1 <= dim (%u) <= n_tags (%u) <= %u; for "
                     "larger vocabularies give word vectors", dim, n_tags, DH__TAGEMBED_MAX);
    for (size_t i = 0; i < n * n_tags; i++)
        if (tags[i] != 0.0f && tags[i] != 1.0f)
            return dh__set_error(DH_E_INVALID_ARG, "dh_tags_embed_cooccurrence: tags[%zu][%zu] "
                                 "= %g is not 0 or 1", i / n_tags, i % n_tags, (double)tags[i]);
    const int N = (int)n_tags;
    const size_t TT = (size_t)N * N;
    double *A = dh__alloc(TT * sizeof(double)), *Z = dh__alloc(TT * sizeof(double));
    double *w = dh__alloc((size_t)N * sizeof(double));
    int *isuppz = dh__alloc(2 * (size_t)N * sizeof(int));
    eig_rank *rk = dh__alloc((size_t)N * sizeof *rk);
    double *work = NULL;
    int *iwork = NULL;
    dh_status st = (A && Z && w && isuppz && rk) ? DH_OK : DH_E_NO_MEMORY;
    if (st == DH_OK) st = dh__tag_ppmi(tags, n, n_tags, A);
    int m = 0, info = 0, lwork = -1, liwork = -1, iw_q = 0, il = 1, iu = N;
    double vl = 0, vu = 0, abstol = 0, w_q = 0;
    if (st == DH_OK) { /* workspace query, then all eigenpairs (A is symmetric) */
        dsyevr_("V", "A", "L", &N, A, &N, &vl, &vu, &il, &iu, &abstol, &m, w, Z, &N, isuppz,
                &w_q, &lwork, &iw_q, &liwork, &info, 1, 1, 1);
        lwork = (int)w_q + 1, liwork = iw_q + 1;
        work = dh__alloc((size_t)lwork * sizeof(double));
        iwork = dh__alloc((size_t)liwork * sizeof(int));
        if (!work || !iwork) st = DH_E_NO_MEMORY;
    }
    if (st == DH_OK) {
        dsyevr_("V", "A", "L", &N, A, &N, &vl, &vu, &il, &iu, &abstol, &m, w, Z, &N, isuppz,
                work, &lwork, iwork, &liwork, &info, 1, 1, 1);
        if (info != 0 || m != N)
            st = dh__set_error(DH_E_INTERNAL, "dh_tags_embed_cooccurrence: dsyevr failed "
                               "(info %d, %d of %d eigenpairs)", info, m, N);
    }
    if (st == DH_OK) {
        /* the SVD keeps the largest |lambda|; column j of Z (column-major) is vector j */
        for (int j = 0; j < N; j++) rk[j].mag = fabs(w[j]), rk[j].idx = j;
        qsort(rk, (size_t)N, sizeof *rk, by_mag_desc);
        for (uint32_t d = 0; d < dim; d++) {
            const double *v = Z + (size_t)rk[d].idx * N;
            double big = 0, s = sqrt(rk[d].mag);
            for (int t = 0; t < N; t++)
                if (fabs(v[t]) > fabs(big)) big = v[t];
            double sign = big < 0 ? -1.0 : 1.0; /* largest component positive */
            for (int t = 0; t < N; t++) out[(size_t)t * dim + d] = (float)(sign * v[t] * s);
        }
    }
    dh__free(A), dh__free(Z), dh__free(w), dh__free(isuppz), dh__free(rk);
    dh__free(work), dh__free(iwork);
    return st;
}
