/* lib/loss/loss.h -- the loss vtable and helpers shared by the method families
 * (not public). One file per family: pairwise.c (DPSH, HashNet, DCH, DSH),
 * triplet.c (DTSH, hinge), asym.c (ADSH and the asymmetric code update DIHN shares),
 * center.c (GreedyHash, CSQ, DPN), cosine.c (OrthoHash, MDSH), proxy.c (SPRCH),
 * twostage.c (CNNH recipe), incremental.c (DIHN, DIH), longtail.c (LTHNet,
 * dualproxy), and the unsupervised methods behind unsup.h (ssdh.c, cibhash.c,
 * bihalf.c, sgh.c, shallow.c, kmeans.c; unsup_common.c). common.c holds what the
 * families share (similarity, GEMM wrappers, row normalisation, center votes, banks,
 * softmax CE); loss.c the public API and the method table; tensors.c the tensor
 * registry (methods call tensors.c and common.c, never loss.c); recipe.c the training
 * recipes of every method (one table, docs/recipes.md).
 * Formulas: docs/methods.md. */
#ifndef DH_LOSS_H
#define DH_LOSS_H

#include <math.h>

#include "core/core.h"
#include "core/param.h"
#include "core/rng.h"

#define DH__LOSS_MAX_TENSORS 8

typedef struct dh__loss_method dh__loss_method;

/** Everything one forward_backward call sees, validated by loss.c. */
typedef struct dh__loss_batch {
    const float *U;        /* B x K */
    size_t B;
    const float *Y;        /* B x C multi-hot (built from class ids when only those came) */
    const int32_t *cls;    /* B class ids, or NULL when some row is not single-label */
    const int64_t *idx;    /* B training-set positions, or NULL */
    float *dU;             /* B x K, written */
} dh__loss_batch;

struct dh_loss {
    const dh__loss_method *m;
    dh_loss_options o;     /* with the method's defaults applied */
    uint32_t K, C;
    size_t N;
    int32_t epoch;         /* last dh_loss_epoch_begin value, -1 before the first */
    int64_t iter;          /* forward_backward calls (not counted while frozen) */
    int32_t frozen;        /* tests: state (banks, counters) is not updated */
    float beta;            /* head scale reported to the trainer (HashNet) */
    uint64_t rng;          /* private generator state */
    /* tensors: parameters first (is_buffer 0) then state (is_buffer 1) */
    dh__param t[DH__LOSS_MAX_TENSORS];
    size_t n_params, n_tensors;
    /* data-set facts from dh_loss_init */
    float *train_Y;        /* N x C or NULL */
    int64_t *class_counts; /* C or NULL */
    void *priv;            /* method-private */
};

struct dh__loss_method {
    const char *name;
    const char *summary;
    int32_t head;           /* DH_LOSS_HEAD_* */
    int32_t single_label;   /* 1: rejects multi-label rows */
    int32_t needs_index;    /* 1: indices + n_train required */
    uint32_t flags;         /* DH_LOSS_FLAG_* (dh_loss_method_flags); 0: supervised */
    void (*defaults)(dh_loss_options *o, uint32_t K, uint32_t C);
    dh_status (*create)(dh_loss *L);   /* allocate tensors and state */
    dh_status (*init)(dh_loss *L);     /* after dh_loss_init stored facts; may be NULL */
    dh_status (*epoch_begin)(dh_loss *L, int32_t epoch); /* may be NULL */
    dh_status (*fb)(dh_loss *L, const dh__loss_batch *b, double *value);
    void (*destroy)(dh_loss *L);       /* may be NULL: frees priv */
    /* ---- what the trainer asks of a method (NULL: the method has no such part) ---- */
    /** Learns database codes by a discrete step between network epochs (adsh, dihn):
     *  dh_loss_update_codes calls it with validated rows; the trainer's epoch hook
     *  encodes the training set for it (dh__loss_learns_codes). */
    dh_status (*update_codes)(dh_loss *L, const float *U, const int64_t *idx, size_t m);
    /** Keeps fixed database rows (dihn): dh_loss_set_fixed_codes, and an incremental
     *  session hands it the index's rows (the first n_in_train of the n rows have their
     *  images as the last training rows), so the loss trains on new + old items. */
    dh_status (*set_fixed)(dh_loss *L, const float *codes, const float *labels, size_t n,
                           size_t n_in_train);
    /** Default distillation weights (codes, features) of an incremental session that
     *  extends a non-empty index without old images (docs/incremental.md); NULL: 0, 0. */
    void (*distill)(uint32_t K, double *w_codes, double *w_features);
};

/* ---- the method families (each file defines its vtables) ---- */
extern const dh__loss_method dh__loss_dpsh, dh__loss_hashnet, dh__loss_dch, dh__loss_dsh,
    dh__loss_dtsh, dh__loss_triplet, dh__loss_adsh, dh__loss_greedyhash, dh__loss_csq,
    dh__loss_dpn, dh__loss_orthohash, dh__loss_mdsh, dh__loss_sprch, dh__loss_twostage;
/* incremental (lib/loss/incremental.c) */
extern const dh__loss_method dh__loss_dihn, dh__loss_dih;
/** The method's fixed rows (m->set_fixed, dh_loss_set_fixed_codes) where only the first
 *  n_in_train of the n rows have their images in training, as the last n_in_train
 *  training rows (0: none; n: DH_FIXED_CODES_IN_TRAIN); DH_E_STATE for a method
 *  without fixed rows. */
dh_status dh__loss_set_fixed(dh_loss *L, const float *codes, const float *labels, size_t n,
                             size_t n_in_train);
/* long-tail (lib/loss/longtail.c) */
extern const dh__loss_method dh__loss_lthnet, dh__loss_dualproxy;

/** 1 for methods that learn database codes by a discrete update between network
 *  epochs (m->update_codes: adsh, dihn). The trainer's epoch hook uses it. */
static inline int dh__loss_learns_codes(const dh_loss *L) { return L->m->update_codes != NULL; }
/** 1 for methods that keep fixed database rows (m->set_fixed: dihn). */
static inline int dh__loss_has_fixed(const dh_loss *L) { return L->m->set_fixed != NULL; }
/** The method's default distillation weights at code length L->K (m->distill; 0, 0
 *  when it has none). */
static inline void dh__loss_distill_defaults(const dh_loss *L, double *w_codes,
                                             double *w_features)
{
    *w_codes = 0, *w_features = 0;
    if (L->m->distill) L->m->distill(L->K, w_codes, w_features);
}

/** The method's pretrained default row of the recipe table (lib/loss/recipe.c). */
dh_status dh__loss_recipe_default(const char *method, dh_loss_recipe *out);

/* ---- tensors ---- */
/** Add a zero-filled tensor (parameter when is_buffer == 0, with a grad array). */
dh_status dh__loss_add_tensor(dh_loss *L, const char *name, int32_t is_buffer, int32_t ndim,
                              int64_t d0, int64_t d1, float **data);
dh__param *dh__loss_find(dh_loss *L, const char *name);
/** Borrowed arrays of the parameters (grads overwritten by every forward_backward). */
size_t dh__loss_params(dh_loss *L, dh__param **out);
/** Borrowed array of the state tensors saved with a model (centers, codes, banks). */
size_t dh__loss_state(dh_loss *L, dh__param **out);
/** Tests: 1 = do not update banks, counters or caches in forward_backward. */
void dh__loss_set_frozen(dh_loss *L, int32_t frozen);

/* ---- numerics (lib/loss/common.c) ---- */
static inline double dh__softplus(double x)
{
    return (x > 0 ? x : 0) + log1p(exp(-fabs(x)));
}
static inline double dh__sigmoid(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
/** libdh sign: +1 for x >= 0, else -1. */
static inline float dh__sgn(float x) { return x >= 0.0f ? 1.0f : -1.0f; }
/** PyTorch sign (0 at 0), for sub-gradients at kinks. */
static inline double dh__sign0(double x) { return (x > 0) - (x < 0); }

double dh__loss_normal(uint64_t *s);           /* N(0, 1) from the splitmix64 stream (core/rng.h) */

/** S[i*ldS + j] = (Ya_i . Yb_j > 0) for Ya (na x C), Yb (nb x C); counts similar pairs. */
size_t dh__loss_similarity(const float *Ya, size_t na, const float *Yb, size_t nb, size_t C,
                           float *S);
/** G (n x K) = A (n x m) * Bm (m x K) (+ beta G), plain sgemm wrappers. */
void dh__gemm_nn(size_t n, size_t m, size_t K, float alpha, const float *A, const float *Bm,
                 float beta, float *G);
void dh__gemm_nt(size_t n, size_t m, size_t K, float alpha, const float *A, const float *Bm,
                 float beta, float *G); /* G (n x m) = A (n x K) Bm^T (m x K) */
void dh__gemm_tn(size_t n, size_t m, size_t K, float alpha, const float *A, const float *Bm,
                 float beta, float *G); /* G (m x K) = A^T (n x m) Bm (n x K) */
/** dU += scale * (G + G^T) U  for a B x B pair-gradient matrix G (scratch B x K). */
dh_status dh__loss_sym_grad(const float *G, const float *U, size_t B, size_t K, float scale,
                            float *dU);
/** Row norms, clamped below by eps. */
void dh__row_norms(const float *U, size_t B, size_t K, double eps, double *out);
/** Rows of X (n x K) divided by their norms (clamped at 1e-12) into Xh; nr receives
 *  the norms. */
void dh__row_normalise(const float *X, size_t n, size_t K, float *Xh, double *nr);
/** Backward of dh__row_normalise, in place on d: dX = (dXh - xh (xh . dXh)) / |x|. */
void dh__row_normalise_back(const float *Xh, const double *nr, size_t n, size_t K, float *d);

/** Method-specific per-sample class centers (CSQ/DPN): T (C x K) +-1, the row
 *  for sample i is the vote of its classes with ties filled from `fill` (K). */
void dh__loss_vote_center(const float *T, const float *y, size_t C, size_t K, const float *fill,
                          float *out);

/** Softmax cross-entropy of logits A (B x C) against soft targets Q (rows summing to
 *  1, or 0 for skipped rows); returns the summed loss, A becomes (p - q) * scale. */
double dh__loss_softmax_ce(float *A, const float *Q, size_t B, size_t C, double scale);
/** Add "centers" (C x K, DH_CENTERS_* method) and "center_fill" (K) state tensors. */
dh_status dh__loss_make_centers(dh_loss *L, int32_t method);

/** MDSH/CSQ/DPN/OrthoHash center generation (lib/hash/centers.c). */
dh_status dh__centers_generate(uint32_t C, uint32_t K, int32_t method, uint64_t seed,
                               float *out, uint32_t *min_dist);

/* ---- asymmetric (ADSH-family) building blocks, lib/loss/asym.c; used by dihn ---- */
/** Private state shared by the asymmetric methods (dihn embeds it first). */
typedef struct dh__asym_priv {
    float *cache;    /* N x K outputs seen since the last code update */
    uint8_t *seen;   /* N flags */
    double r;        /* soft similarity: dissimilar target is -r = -|S1|/|S0| */
} dh__asym_priv;
/** *s1 = similar pairs of rows Ya (na x C) against Ydb (N x C); if SU is not NULL,
 *  SU (N x K) = S^T Ua with Ua (na x K). */
dh_status dh__asym_sim(const float *Ya, const float *Ua, size_t na, const float *Ydb, size_t N,
                       size_t K, size_t C, float *SU, double *s1);
/** R = U V^T - K S~ (B x N; S~ = 1 similar, -r dissimilar): *value += ||R||^2 and
 *  dU (B x K) += 2 norm R V. */
dh_status dh__asym_block(const float *U, const float *Yb, size_t B, const float *V,
                         const float *Ydb, size_t N, size_t K, size_t C, double r, double norm,
                         float *dU, double *value);
/** Discrete update of V (N x K): Q (N x K) holds S^T U on entry (overwritten), becomes
 *  K((1+r) S^T U - r colsum U) + gamma Ubar (rows idx[i] >= 0 of V get gamma U_i), then
 *  one DCC sweep over the K columns. */
dh_status dh__asym_solve(float *V, float *Q, const float *U, const int64_t *idx, size_t m,
                         size_t N, size_t K, double r, double gamma);
/** One DCC sweep: V[:,k] = sgn(Q[:,k] - V' (U'^T U[:,k])), sgn(0) = +1 (w: K, t: N). */
void dh__asym_sweep(float *V, const float *Q, const float *U, size_t m, size_t N, size_t K,
                    float *w, float *t);

/** Write a batch's rows into a bank (N x K) and mark them visited (label bank N x C). */
void dh__loss_bank_write(float *bank, float *ybank, const dh__loss_batch *b, size_t K,
                         size_t C);

#endif
