/* lib/loss/shallow.c -- the shallow baselines (docs/methods.md#shallow) as methods: LSH
 * (random Gaussian projections), PCAH (top-K principal directions), ITQ (Gong &
 * Lazebnik, CVPR 2011: PCA then an orthogonal rotation R alternating B = sgn(V R) and
 * R = the Procrustes solution of min ||B - V R||_F, o.sweeps iterations, 50 by default).
 * All centre the rows on the training mean mu. They are fitted in closed form on the
 * rows the model's encoder produces (for the "pixels" encoder: the images themselves)
 * and become the model's hash head: weight = P^T (K x D), bias = -mu P, head IDENTITY,
 * so codes are sgn(P^T (x - mu)) and the model encodes and indexes like any other.
 * The eigen- and singular-value problems use LAPACK (dsyevd, dgesvd) from OpenBLAS. */
#include <cblas.h>
#include <string.h>

#include "loss/unsup.h"

/* LAPACK (Fortran ABI, trailing hidden string lengths) */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a,
                    const int *lda, double *w, double *work, const int *lwork, int *iwork,
                    const int *liwork, int *info, size_t, size_t);
extern void dgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, double *a,
                    const int *lda, double *s, double *u, const int *ldu, double *vt,
                    const int *ldvt, double *work, const int *lwork, int *info, size_t, size_t);

/* Top-K eigenvectors of the covariance of Xc (n x d, centred) into P (d x K,
 * row-major; column j = the j-th largest). */
static dh_status pca(const float *Xc, size_t n, size_t d, size_t K, double *P)
{
    double *A = dh__alloc(d * d * sizeof(double)), *w = dh__alloc(d * sizeof(double));
    float *Cf = dh__alloc(d * d * sizeof(float));
    double *work = NULL;
    int *iwork = NULL;
    dh_status st = DH_E_NO_MEMORY;
    if (!A || !w || !Cf) goto done;
    /* C = Xc^T Xc / n (upper triangle, float accumulation by BLAS, then double) */
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)d, (blasint)n,
                (float)(1.0 / (double)n), Xc, (blasint)d, 0.0f, Cf, (blasint)d);
    for (size_t i = 0; i < d; i++)
        for (size_t j = i; j < d; j++) A[i * d + j] = A[j * d + i] = Cf[i * d + j];
    int nn = (int)d, lwork = -1, liwork = -1, info = 0, iw = 0;
    double wq = 0;
    dsyevd_("V", "U", &nn, A, &nn, w, &wq, &lwork, &iw, &liwork, &info, 1, 1);
    lwork = (int)wq, liwork = iw;
    work = dh__alloc((size_t)lwork * sizeof(double));
    iwork = dh__alloc((size_t)liwork * sizeof(int));
    if (!work || !iwork) goto done;
    dsyevd_("V", "U", &nn, A, &nn, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    if (info != 0) {
        st = dh__set_error(DH_E_INTERNAL, "PCA: dsyevd failed (info %d)", info);
        goto done;
    }
    /* A (symmetric, so row/column order is immaterial for the input) holds the
     * eigenvectors as columns in column-major = rows of A in row-major; ascending */
    for (size_t j = 0; j < K; j++) {
        const double *v = A + (d - 1 - j) * d;
        for (size_t i = 0; i < d; i++) P[i * K + j] = v[i];
    }
    st = DH_OK;
done:
    dh__free(A), dh__free(w), dh__free(Cf), dh__free(work), dh__free(iwork);
    return st;
}

/* R = the orthogonal polar factor maximising tr(R^T M), M = V^T B (K x K): with
 * M = U S W^T, R = U W^T. */
static dh_status procrustes(const double *M, size_t K, double *R)
{
    const size_t kk = K * K;
    double *A = dh__alloc(kk * sizeof(double)), *U = dh__alloc(kk * sizeof(double));
    double *VT = dh__alloc(kk * sizeof(double)), *s = dh__alloc(K * sizeof(double));
    double *work = NULL, wq = 0;
    dh_status st = DH_E_NO_MEMORY;
    if (!A || !U || !VT || !s) goto done;
    for (size_t i = 0; i < K; i++) /* to column-major */
        for (size_t j = 0; j < K; j++) A[j * K + i] = M[i * K + j];
    int k = (int)K, lwork = -1, info = 0;
    dgesvd_("A", "A", &k, &k, A, &k, s, U, &k, VT, &k, &wq, &lwork, &info, 1, 1);
    lwork = (int)wq;
    if (!(work = dh__alloc((size_t)lwork * sizeof(double)))) goto done;
    dgesvd_("A", "A", &k, &k, A, &k, s, U, &k, VT, &k, work, &lwork, &info, 1, 1);
    if (info != 0) {
        st = dh__set_error(DH_E_INTERNAL, "ITQ: dgesvd failed (info %d)", info);
        goto done;
    }
    for (size_t i = 0; i < K; i++) /* R_ij = sum_t U_it VT_tj (column-major inputs) */
        for (size_t j = 0; j < K; j++) {
            double v = 0;
            for (size_t t = 0; t < K; t++) v += U[t * K + i] * VT[j * K + t];
            R[i * K + j] = v;
        }
    st = DH_OK;
done:
    dh__free(A), dh__free(U), dh__free(VT), dh__free(s), dh__free(work);
    return st;
}

/* Random orthogonal K x K (Gram-Schmidt on Gaussian rows, as the QR of a Gaussian). */
static void random_rotation(size_t K, uint64_t *rng, double *R)
{
    for (size_t i = 0; i < K * K; i++) R[i] = dh__loss_normal(rng);
    for (size_t i = 0; i < K; i++) {
        double *r = R + i * K;
        for (size_t p = 0; p < i; p++) {
            const double *q = R + p * K;
            double dot = 0;
            for (size_t j = 0; j < K; j++) dot += r[j] * q[j];
            for (size_t j = 0; j < K; j++) r[j] -= dot * q[j];
        }
        double nrm = 0;
        for (size_t j = 0; j < K; j++) nrm += r[j] * r[j];
        nrm = sqrt(nrm);
        for (size_t j = 0; j < K; j++) r[j] /= nrm > 0 ? nrm : 1;
    }
}

/* ITQ on V (n x K): R (K x K) after `iters` alternations; obj[t] = ||B_t - V R_t||^2 / n
 * with B_t = sgn(V R_t), before the t-th rotation update. */
static dh_status itq(const double *V, size_t n, size_t K, int iters, uint64_t *rng, double *R,
                     double *obj)
{
    double *VR = dh__alloc(n * K * sizeof(double)), *M = dh__alloc(K * K * sizeof(double));
    double *Bm = dh__alloc(n * K * sizeof(double));
    dh_status st = VR && M && Bm ? DH_OK : DH_E_NO_MEMORY;
    if (st == DH_OK) random_rotation(K, rng, R);
    for (int t = 0; st == DH_OK && t < iters; t++) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)n, (blasint)K,
                    (blasint)K, 1.0, V, (blasint)K, R, (blasint)K, 0.0, VR, (blasint)K);
        double q = 0;
        for (size_t i = 0; i < n * K; i++) {
            Bm[i] = VR[i] >= 0 ? 1.0 : -1.0;
            q += (Bm[i] - VR[i]) * (Bm[i] - VR[i]);
        }
        if (obj) obj[t] = q / (double)n;
        /* M = V^T B; R = polar factor */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)K, (blasint)K, (blasint)n,
                    1.0, V, (blasint)K, Bm, (blasint)K, 0.0, M, (blasint)K);
        st = procrustes(M, K, R);
    }
    dh__free(VR), dh__free(M), dh__free(Bm);
    return st;
}

dh_status dh__shallow_fit(dh_loss *L, const float *F, size_t n, size_t d, float *W, float *b,
                          double *obj)
{
    const size_t K = L->K;
    const char *m = L->m->name;
    DH_CHECK_ARG_MSG(F != NULL && n > 0 && d > 0, "%s: no training rows to fit on", m);
    if (L->m != &dh__loss_lsh && K > d)
        return dh__set_error(DH_E_INVALID_ARG, "%s: K = %zu bits but the features have only "
                             "%zu dimensions (PCA gives at most %zu directions)", m, K, d, d);
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite(F[i]))
            return dh__set_error(DH_E_INVALID_ARG, "%s: feature [%zu][%zu] is %g (not finite)",
                                 m, i / d, i % d, (double)F[i]);
    double *mu = dh__calloc(d, sizeof(double)), *P = dh__alloc(d * K * sizeof(double));
    float *Xc = dh__alloc(n * d * sizeof(float));
    double *V = NULL, *R = NULL, *PR = NULL;
    dh_status st = DH_E_NO_MEMORY;
    if (!mu || !P || !Xc) goto done;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) mu[j] += F[i * d + j];
    for (size_t j = 0; j < d; j++) mu[j] /= (double)n;
    for (size_t i = 0; i < n * d; i++) Xc[i] = (float)(F[i] - mu[i % d]);
    uint64_t rng = L->o.seed ^ 0x17Aull;
    if (L->m == &dh__loss_lsh) {
        for (size_t i = 0; i < d * K; i++) P[i] = dh__loss_normal(&rng);
    } else {
        DH_TRY_GOTO(pca(Xc, n, d, K, P), done);
    }
    if (L->m == &dh__loss_itq) {
        V = dh__alloc(n * K * sizeof(double)), R = dh__alloc(K * K * sizeof(double));
        PR = dh__alloc(d * K * sizeof(double));
        if (!V || !R || !PR) goto done;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < K; j++) {
                double s = 0;
                for (size_t t = 0; t < d; t++) s += (double)Xc[i * d + t] * P[t * K + j];
                V[i * K + j] = s;
            }
        DH_TRY_GOTO(itq(V, n, K, L->o.sweeps, &rng, R, obj), done);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)d, (blasint)K,
                    (blasint)K, 1.0, P, (blasint)K, R, (blasint)K, 0.0, PR, (blasint)K);
        memcpy(P, PR, d * K * sizeof(double));
    }
    for (size_t j = 0; j < K; j++) { /* head: weight [K, d] = P^T, bias = -mu P */
        double s = 0;
        for (size_t t = 0; t < d; t++) {
            W[j * d + t] = (float)P[t * K + j];
            s += mu[t] * P[t * K + j];
        }
        b[j] = (float)-s;
    }
    st = DH_OK;
done:
    dh__free(mu), dh__free(P), dh__free(Xc), dh__free(V), dh__free(R), dh__free(PR);
    return st;
}

static void shallow_defaults(dh_loss_options *o, uint32_t K, uint32_t C)
{
    (void)K, (void)C;
    o->sweeps = 50; /* ITQ iterations */
}

static dh_status shallow_fb(dh_loss *L, const dh__loss_batch *b, double *value)
{
    (void)b, (void)value;
    return dh__set_error(DH_E_STATE, "%s has no gradient (fitted in closed form)", L->m->name);
}

#define SHALLOW(id, nm, sum)                                                                    \
    const dh__loss_method id = {.name = nm, .summary = sum, .head = DH_LOSS_HEAD_IDENTITY,      \
                                .flags = DH_LOSS_FLAG_UNSUPERVISED | DH_LOSS_FLAG_SHALLOW,     \
                                .defaults = shallow_defaults,        \
                                .fb = shallow_fb}
SHALLOW(dh__loss_lsh, "lsh", "LSH: random Gaussian projections of the centred rows (shallow)");
SHALLOW(dh__loss_pcah, "pcah", "PCAH: top-K principal directions (shallow)");
SHALLOW(dh__loss_itq, "itq", "ITQ (Gong & Lazebnik, CVPR 2011): PCA + learned rotation (shallow)");
