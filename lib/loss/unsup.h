/* lib/loss/unsup.h -- the unsupervised regime (not public): flags the method table
 * carries, the per-sample feature bank some methods read (SSDH's similarity,
 * k-means pseudo-labels, BiHalf's and SGH's targets), k-means, and the shallow
 * baselines' closed-form fits (LSH, PCAH, ITQ). The trainer (lib/train/unsup.c)
 * fills the bank and runs the shallow fits; labels never reach these methods. */
#ifndef DH_LOSS_UNSUP_H
#define DH_LOSS_UNSUP_H

#include "loss/loss.h"

/* The unsupervised bits of dh__loss_method.flags (0: a supervised or tag method); the
 * public DH_LOSS_FLAG_* values */
enum {
    DH__UNSUP = DH_LOSS_FLAG_UNSUPERVISED, /* labels are neither required nor read */
    DH__UNSUP_VIEWS = DH_LOSS_FLAG_TWO_VIEWS, /* batch rows [0, B/2), [B/2, B): two views */
    DH__UNSUP_FEATS = DH_LOSS_FLAG_FEATURES,  /* reads the feature bank via batch indices */
    DH__UNSUP_SHALLOW = DH_LOSS_FLAG_SHALLOW, /* closed-form fit of the head (no gradient) */
    DH__UNSUP_MASK = DH__UNSUP | DH__UNSUP_VIEWS | DH__UNSUP_FEATS | DH__UNSUP_SHALLOW
};

/* Feature sources (dh_loss_options.variant of the feature methods) */
enum {
    DH__FEATS_INPUT = 0, /* the samples' own input values (pixels or feature rows) */
    DH__FEATS_MODEL = 1  /* the model's encoder features, refreshed every update_every */
};

/** The feature bank: N x D rows, first member of a feature method's priv. `refit`
 *  (may be NULL) recomputes what the method derives from the rows (thresholds,
 *  clusters) each time new rows arrive. */
typedef struct dh__featbank {
    float *F;
    size_t N, D;
    int32_t user;   /* 1: set through dh_loss_set_features (the trainer keeps it) */
    int32_t fits;   /* refits so far */
    dh_status (*refit)(dh_loss *L);
} dh__featbank;

/** The unsupervised flags (m->flags & DH__UNSUP_MASK) of a method / of the loss's method
 *  (0 for supervised and tag methods, and NULL). */
uint32_t dh__method_unsup_flags(const dh__loss_method *m);
uint32_t dh__loss_unsup_flags(const dh_loss *L);
/** n_classes a method uses when the caller gave 0 (k of k-means: 10; others 1). */
uint32_t dh__unsup_default_classes(const dh__loss_method *m);
/** Validated forward/backward of an unsupervised loss (labels never looked at). */
dh_status dh__unsup_forward_backward(dh_loss *L, const float *U, size_t B,
                                     const int64_t *indices, float *dU, double *value);
/** Copy F (n x d) into the bank (n must equal n_train), reject non-finite values,
 *  and refit. user = 1 marks a caller-provided bank. */
dh_status dh__unsup_set_features(dh_loss *L, const float *F, size_t n, size_t d, int32_t user);
/** Checks shared by the feature methods' create (n_train set, variant a source). */
dh_status dh__unsup_feats_create(dh_loss *L);
/** destroy of a method whose priv starts with a dh__featbank (frees it and priv). */
void dh__unsup_destroy_bank(dh_loss *L);
/** Cosine similarities (B x B) of the bank rows idx[0..B). */
dh_status dh__unsup_feature_cos(const dh__featbank *fb, const int64_t *idx, size_t B, float *S);
/** The bank of a feature method, or NULL. */
dh__featbank *dh__unsup_bank(dh_loss *L);

/* ---- building blocks with their own gradient checks ---- */
/** NT-Xent of Z (M = 2n rows; row i's positive is i +- n; cosine / tau): returns the
 *  value (NAN when out of memory), writes dZ (M x K). Scratch: Zh (M x K), G (M x M),
 *  nr (M). */
double dh__ntxent(const float *Z, size_t M, size_t K, double tau, float *dZ, float *Zh,
                  float *G, double *nr);
/** CIBHash's 1/2 [KL(q1 || sg q2) + KL(q2 || sg q1)] averaged over n images, Q = [q1; q2]
 *  (2n x K); dQ (2n x K) receives its derivative. */
double dh__bernoulli_kl_sym(const float *Q, size_t n, size_t K, float *dQ);
/** BiHalf's forward: per bit, the ceil(B/2) largest of the B values (ties: lower row
 *  first) become +1, the rest -1. U, Bc: B x K. */
dh_status dh__bihalf_split(const float *U, size_t B, size_t K, float *Bc);
/** sum_ij (Sf_ij - c_i.c_j / K)^2 / B^2 for codes C (B x K) against a target cosine
 *  matrix Sf (B x B); dC (B x K) receives its derivative. */
double dh__simrec(const float *Sf, const float *C, size_t B, size_t K, float *dC);
/** SSDH's thresholds on the bank (fills lo/hi: similar below lo, dissimilar above hi,
 *  distance d = 1 - cos) from all pairs of min(N, 4096) seeded rows. */
dh_status dh__ssdh_thresholds(const float *F, size_t N, size_t D, double alpha, uint64_t seed,
                              double *lo, double *hi);

/* ---- k-means (kmeans.c) ---- */
/** Seeded k-means++ initialisation then Lloyd iterations (at most iters, stop when
 *  no assignment changes); distances by one GEMM per pass. X: n x d, C: k x d
 *  (out), assign: n (out). *inertia (may be NULL) receives sum of squared distances.
 *  Returns DH_E_INVALID_ARG when k > n or k == 0. */
dh_status dh__kmeans(const float *X, size_t n, size_t d, size_t k, uint64_t seed, int iters,
                     float *C, int32_t *assign, double *inertia);

/* ---- shallow baselines (shallow.c) ---- */
/** Fit the projection of a shallow method on F (n x d): W (K x d, row-major, the
 *  head's weight) and b (K) such that codes are sgn(W x + b). obj (may be NULL):
 *  ITQ's quantisation loss ||B - V R||_F^2 / n after each of the iterations
 *  (o.sweeps slots; 50 by default). */
dh_status dh__shallow_fit(dh_loss *L, const float *F, size_t n, size_t d, float *W, float *b,
                          double *obj);

extern const dh__loss_method dh__loss_cibhash, dh__loss_bihalf, dh__loss_ssdh,
    dh__loss_kmeans, dh__loss_sgh, dh__loss_lsh, dh__loss_pcah, dh__loss_itq;

#endif
