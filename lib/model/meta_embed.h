/* lib/model/meta_embed.h -- the LTHNet meta-embedding stage of a model (between the
 * encoder's features and the hash head). Not public. */
#ifndef DH_MODEL_META_EMBED_H
#define DH_MODEL_META_EMBED_H

#include "core/core.h"
#include "core/param.h"
#include "core/rng.h"

/* ---- LTHNet meta-embedding (meta_embed.c) ----
 * v = f + tanh(f We^T + be) (.) (softmax(f Wa^T + ba) M), between encoder and head.
 * Tensors: meta.hallucinator.{weight [C,D], bias [C]}, meta.selector.{weight [D,D],
 * bias [D]}, buffer meta.memory [C,D] (class centroids of f, no gradient). */
typedef struct dh__meta dh__meta;

dh_status dh__meta_create(uint32_t n_classes, uint32_t dim, uint64_t seed, dh__meta **out);
void dh__meta_free(dh__meta *meta);
/** The five tensors above in that order (borrowed). Returns 5. */
size_t dh__meta_params(dh__meta *meta, dh__param **out);
uint32_t dh__meta_classes(const dh__meta *meta);
uint32_t dh__meta_dim(const dh__meta *meta);
void dh__meta_zero_grad(dh__meta *meta);
/** f [n, D] -> *v [n, D] (borrowed, valid until the next forward). training = 1 keeps
 *  what backward needs. */
dh_status dh__meta_forward(dh__meta *meta, const float *f, size_t n, int32_t training,
                           const float **v);
/** dv [n, D] -> *df [n, D] (borrowed); parameter gradients accumulate. DH_E_STATE
 *  without a pending training forward. */
dh_status dh__meta_backward(dh__meta *meta, const float *dv, const float **df);
/** Memory refresh: begin (optionally with the labels Y [n_rows, C] of a pass: every
 *  inference forward until commit then accumulates its input rows, in order, against
 *  the next rows of Y), accumulate rows f [n, D] with multi-hot labels Y [n, C] (a row
 *  counts for every positive class), commit (classes seen get their mean; unseen
 *  classes keep their row). Commit returns the number of classes filled and the rows
 *  the inference forwards delivered (rows_seen, may be NULL). */
void dh__meta_memory_begin(dh__meta *meta, const float *Y, size_t n_rows);
void dh__meta_memory_accumulate(dh__meta *meta, const float *f, size_t n, const float *Y);
size_t dh__meta_memory_commit(dh__meta *meta, size_t *rows_seen);

#endif
