/* lib/loss/weak.h -- the weakly supervised regime (not public): methods that learn
 * from tags only (wdht.c: WDHT and the EWSH-style tag refinement), the co-occurrence
 * tag embedding (tagembed.c). The trainer feeds these methods the dataset's tag
 * matrix in place of labels (their n_classes is the vocabulary size T); the true
 * labels never reach them. docs/methods.md#wdht, #tagrefine, #tag-embeddings. */
#ifndef DH_LOSS_WEAK_H
#define DH_LOSS_WEAK_H

#include "loss/loss.h"

#define DH__TAGEMBED_MAX 8192u /* vocabulary limit of the co-occurrence embedding */
#define DH__TAGEMBED_DIM 64u   /* its default dimension (min with T) */

/** DH_LOSS_FLAG_TAGS for the tag methods (m->flags & DH_LOSS_FLAG_TAGS), 0 for the
 *  others (and NULL). */
uint32_t dh__method_weak_flags(const dh__loss_method *m);

/** PPMI (T x T, doubles, row-major) of the co-occurrence of the 0/1 rows Y (n x T). */
dh_status dh__tag_ppmi(const float *Y, size_t n, uint32_t T, double *P);

/** Pieces with their own gradient checks (B rows, K bits, T tags, D dimensions).
 *  Semantic vectors: S_h (B x D) = unit mean of the rows' tag vectors E (T x D), mask
 *  (B) = 1 for rows with a non-zero vector. */
void dh__weak_semantic(const float *Y, size_t B, uint32_t T, const float *E, uint32_t D,
                       float *Sh, uint8_t *mask);
/** WDHT's objective (docs/methods.md#wdht) for codes U (B x K) against the unit
 *  semantic rows Sh with alignment projection W (K x D): writes dU (B x K) and dW
 *  (K x D), returns the value (NAN when out of memory). */
double dh__wdht_objective(const float *U, size_t B, size_t K, const float *Sh,
                          const uint8_t *mask, const float *W, size_t D, double pair_w,
                          double align_w, double quant_w, double margin, float *dU, float *dW);
/** One refinement step (docs/methods.md#tagrefine): codes U (N x K, signs used), the
 *  current tags Tcur (N x T) vote through each row's h Hamming neighbours; the
 *  observed tags Tobs gain the tags with vote >= add and lose those with vote <=
 *  drop, into Tnew (N x T; may alias Tcur). Neighbours are searched among all rows
 *  when N <= 20000, else among 20000 rows drawn with `seed`. Returns the number of
 *  added and dropped tags. */
dh_status dh__tag_refine(const float *U, size_t N, size_t K, const float *Tobs,
                         const float *Tcur, uint32_t T, uint32_t h, double add, double drop,
                         uint64_t seed, float *Tnew, size_t *added, size_t *dropped);

extern const dh__loss_method dh__loss_wdht, dh__loss_tagrefine;

#endif
