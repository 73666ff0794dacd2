/* lib/model/model.h -- dh_model internals and the training interface the trainer
 * (lib/train) uses. Not public. The safetensors format itself is lib/io/safetensors.h.
 *
 * Training interface (one batch):
 *     dh__model_zero_grad(m);
 *     dh__model_forward_train(m, x, n, U);        x [n, C, H, W] (or [n, d]) float32,
 *                                                 U [n, K]: continuous codes
 *     ... loss computes dU [n, K] ...
 *     dh__model_backward(m, dU);                  accumulates encoder + head grads
 *     dh_optimizer_step(opt);                     opt filled by dh_optimizer_add_model
 * dh__model_set_training(m, 0) makes forward_train run in inference mode (BN running
 * statistics, no dropout; backward then fails with DH_E_STATE). The parameter list
 * (dh__model_params) tags each tensor with its DH_PARAM_GROUP_*.
 */
#ifndef DH_MODEL_MODEL_H
#define DH_MODEL_MODEL_H

#include "hash/hash.h"
#include "io/safetensors.h"
#include "model/fmap_pool.h"
#include "model/meta_embed.h"
#include "nn/nn.h"

/* ---- the model ---- */

typedef struct dh__model_param {
    dh__param p;
    int32_t group; /* DH_PARAM_GROUP_* */
    int32_t pad_;
} dh__model_param;

typedef struct dh__extra_tensor {
    char *name;
    int32_t dtype; /* DH_DTYPE_FLOAT32 or DH_DTYPE_INT64 */
    uint32_t ndim;
    int64_t shape[DH__ST_MAX_DIMS];
    void *data;
    size_t nbytes;
} dh__extra_tensor;

struct dh_model {
    dh_model_options o;     /* resolved; o.encoder points at `spec` */
    char *spec;
    dh_encoder *enc;
    dh_head *head;
    size_t D, K, sample_len;
    int64_t in_shape[3];
    int32_t in_ndim;
    int32_t training;       /* mode of dh__model_forward_train (default 1) */
    dh__model_param *params;
    size_t n_params;
    dh__extra_tensor *extra;
    size_t n_extra;
    char **meta_keys, **meta_vals;
    size_t n_meta;
    float *feat, *dfeat;    /* [rows, D] scratch for training */
    size_t feat_rows;
    /* fine-grained models (fmap.c): encoder feature map -> pool -> features */
    struct dh__fmap_pool *pool; /* NULL unless o.fmap_pool != DH_FMAP_POOL_NONE */
    float *fmap, *dfmap;        /* [fmap_rows, fmap_len] scratch */
    size_t fmap_rows, fmap_len;
    /* o.fmap_global == DH_FMAP_GLOBAL_ENCODER: Z = [f_enc; l_1..l_T] */
    float *fenc, *zpool;        /* [fmap_rows, enc_dim], [fmap_rows, pool->Dz] scratch */
    size_t enc_dim;             /* the encoder's feature width D_enc (0 without a pool) */
    dh__meta *meta;         /* LTHNet meta-embedding between encoder and head, or NULL */
};

/** Build the combined parameter list (encoder then head). */
dh_status dh__model_collect_params(dh_model *m);
/** Parameters and buffers, encoder first then head, with group tags. Borrowed. */
size_t dh__model_params(dh_model *m, dh__model_param **out);
dh_status dh__model_forward_train(dh_model *m, const float *x, size_t n, float *U);
dh_status dh__model_backward(dh_model *m, const float *dU);
/** Backward with dfeat_add [n, D] added to the head's input gradient (feature
 *  distillation); NULL adds nothing. */
dh_status dh__model_backward_ex(dh_model *m, const float *dU, const float *dfeat_add, size_t n);
/** The encoder (+ pool) features of the last dh__model_forward_train [rows, D]. */
const float *dh__model_train_features(const dh_model *m, size_t *dim);
/** A deep copy of the weights, buffers and head beta (not the extra tensors or
 *  metadata): a frozen teacher for distillation. */
dh_status dh__model_clone(dh_model *m, dh_model **out);
void dh__model_zero_grad(dh_model *m);
void dh__model_set_training(dh_model *m, int32_t training);
/** Tell the encoder its weights changed (after loading values into dh__param data). */
void dh__model_params_changed(dh_model *m);
/** Loader options for feeding `ds` to the model: input size and normalisation (a centre
 *  crop when the images are larger), or a row-length check for feature rows
 *  (encode_dataset.c; the trainer starts from these too). */
dh_status dh__model_loader_options(dh_model *m, const dh_dataset *ds, dh_loader_options *lo);
/** Resolve and validate options, create encoder + head (model.c). */
dh_status dh__model_build(const dh_model_options *opts, dh_model **out);
/** dh_model_load from a whole file image in memory (the fuzz target's entry). */
dh_status dh__model_load_buffer(const uint8_t *buf, size_t len, dh_model **out);
/* ---- feature-map pools (fmap.c) ---- */
/** After the encoder exists: validate the fmap_* options and, when a pool is asked
 *  for, create it and set m->D to its output width (what the head reads). */
dh_status dh__model_fmap_build(dh_model *m);
void dh__model_fmap_free(dh_model *m);
/** Encoder (+ pool) features [n, m->D]. */
dh_status dh__model_features(dh_model *m, const float *x, size_t n, int32_t training,
                             float *feat);
/** Back-propagate dfeat [n, m->D] through the pool (if any) and the encoder. */
dh_status dh__model_features_backward(dh_model *m, const float *dfeat);
/** Metadata of a fine-grained model ("fmap_pool" = gap|attn|part, "fmap_parts",
 *  "fmap_aux_weight", and "fmap_global" = encoder only when it is not the default)
 *  into keys/vals; returns the count written (0, 3 or 4). */
int dh__model_fmap_meta(const dh_model *m, const char **keys, char (*vals)[512]);
/** Read those keys (absent: no pool; "fmap_global" absent: DH_FMAP_GLOBAL_POOL) into o. */
dh_status dh__model_fmap_read_meta(const dh__safetensors *st, dh_model_options *o);

/** Reserved metadata keys written by dh_model_save (user keys may not use them). */
int dh__model_reserved_key(const char *key);
/** A loaded file's metadata (reserved keys skipped) and one extra tensor, without the
 *  setters' duplicate lookups (the parser refused duplicates): O(1) amortised each;
 *  `cap` is the capacity of m->extra (start with m->n_extra). Bad items: DH_E_FORMAT. */
dh_status dh__model_add_file_metadata(dh_model *m, const dh__safetensors *st);
dh_status dh__model_add_file_tensor(dh_model *m, const dh__st_tensor *t, size_t *cap);

/* ---- meta-embedding hooks (meta.c) ---- */
/** Head input for rows f [n, D]: f itself, or the meta embedding when the model has
 *  one (*hin borrowed until the next forward). */
dh_status dh__model_meta_forward(dh_model *m, const float *f, size_t n, int32_t training,
                                 const float **hin);
/** When the file holds "meta.memory" [C, D], attach a meta-embedding with C classes
 *  before the tensors are loaded. */
dh_status dh__model_meta_from_file(dh_model *m, const dh__safetensors *st);

#endif
