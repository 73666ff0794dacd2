/* lib/train/train_impl.h -- the trainer object, shared by trainer.c, validate.c and
 * checkpoint.c. */
#ifndef DH_TRAIN_IMPL_H
#define DH_TRAIN_IMPL_H

#include "train/train.h"

struct dh_trainer {
    dh_trainer_options o;       /* resolved (epochs, batch size filled in) */
    char *checkpoint_path;
    dh_model *model;
    dh_loss *loss;
    const dh_dataset *train;
    dh_dataset *tag_view;        /* tag supervision: train with labels := tags (owned) */
    const dh_dataset *val_query, *val_db;
    dh_loader *loader;
    dh_optimizer *opt;
    uint64_t batches;           /* per epoch */
    int32_t nesterov;           /* the recipe's "sgd-nesterov" (resolve.c) */
    int32_t user_scale_min;     /* the caller set scale_min (> 0): two-view defaults keep it */
    /* batch buffers */
    float *x, *y, *U, *dU;
    int32_t *cls;
    int64_t *idx;
    /* run state */
    int32_t epoch, start_epoch, best_epoch;
    double best_map, last_map, epoch_loss, t_run;
    float *best;                /* snapshot of every model tensor at best_map */
    size_t best_len;
    dh__progress prog;
    dh_train_progress last;
    /* distillation from a frozen teacher (incremental sessions), see distill.c */
    dh_model *teacher;          /* owned; NULL: none */
    double distill_codes;       /* weight of mean (u - u_teacher)^2 */
    double distill_features;    /* weight of mean (f - f_teacher)^2 */
    float *Ut, *Ft, *dF;        /* [B, K], [B, D], [B, D] */
    /* data-parallel hooks (parallel.c); par.size 1: one process */
    dh_train_parallel par;
    size_t *par_counts;         /* [par.size] rows of the current batch per process */
    float *par_bucket;          /* flat bucket of tensors for one collective */
};

/** Recipes (resolve.c): fill o's "default" fields from the recipe row of (method, the
 *  setting of o or the encoder's, o->recipe, min(height, width)) and the loader's
 *  defaults; validate the knobs. nesterov (may be NULL) receives the recipe's flag. */
dh_status dh__trainer_resolve(dh_trainer_options *o, const char *method, const char *encoder,
                              uint32_t height, uint32_t width, int32_t *nesterov);
/** DH_RECIPE_PRETRAINED for the ImageNet-stem encoders (alexnet, resnet18), else scratch. */
int32_t dh__trainer_setting_for(const char *encoder);
dh_status dh__trainer_make_loader(dh_trainer *t);
dh_status dh__trainer_alloc_buffers(dh_trainer *t);
/** After each epoch: method hooks (ADSH's database-code update). */
dh_status dh__trainer_epoch_hooks(dh_trainer *t);
/** Encode the validation split, compute mAP, snapshot the weights if best. */
dh_status dh__trainer_validate(dh_trainer *t);
void dh__trainer_restore_best(dh_trainer *t);
/** Distillation (distill.c): the teacher is a frozen copy of `teacher_src` taken
 *  now; every step then adds w_codes * mean_{B x K} (u - u_t)^2 and w_features *
 *  mean_{B x D} (f - f_t)^2 to the loss (teacher in inference mode on the same batch). */
dh_status dh__trainer_set_teacher(dh_trainer *t, dh_model *teacher_src, double w_codes,
                                  double w_features);
/** Add the distillation terms for the batch in t->x (n rows) whose student outputs are
 *  t->U: adds to t->dU and *value, and sets *dfeat (NULL when there is no feature
 *  term) for dh__model_backward_ex. */
dh_status dh__trainer_distill(dh_trainer *t, size_t n, double *value, const float **dfeat);
void dh__trainer_teacher_free(dh_trainer *t);
/** Data parallel (parallel.c): one step on this process's slice of the batch in t->x
 *  (n rows), the loss on the gathered batch, gradients summed over processes. */
dh_status dh__trainer_parallel_step(dh_trainer *t, size_t n, double *value);
/** Broadcast process 0's model tensors (BatchNorm running statistics) after an epoch. */
dh_status dh__trainer_parallel_sync(dh_trainer *t);
/** Release the hooks (dh_trainer_free, dh_trainer_set_parallel). */
void dh__trainer_parallel_drop(dh_trainer *t);
/** Checkpoints (checkpoint.c). */
dh_status dh__checkpoint_save(dh_trainer *t, const char *path);
/** If `path` exists, restore everything and set start_epoch; a missing file starts
 *  from scratch; a file for another model/loss is DH_E_SHAPE / DH_E_FORMAT. */
dh_status dh__checkpoint_try_resume(dh_trainer *t);
/** Restore from a checkpoint image in memory (the fuzz target's entry): all or
 *  nothing, every tensor and counter checked before anything is copied. */
dh_status dh__checkpoint_resume_buffer(dh_trainer *t, const uint8_t *buf, size_t len);
/** The unsupervised regime (unsup.c): images per network row group (2 for two-view
 *  methods, else 1); feature bank at creation and per epoch; label-free batches; the
 *  shallow baselines' closed-form fit (dh_trainer_run's whole work for them). */
uint32_t dh__trainer_views(const dh_trainer *t);
void dh__trainer_unsup_loader(const dh_trainer *t, dh_loader_options *lo);
dh_status dh__trainer_unsup_setup(dh_trainer *t);
/** Tag supervision (train/weak.c): t->train becomes a view whose labels are the tags. */
dh_status dh__trainer_tag_view(dh_trainer *t);
dh_status dh__trainer_unsup_epoch(dh_trainer *t);
dh_status dh__trainer_unsup_next(dh_trainer *t, size_t *n);
dh_status dh__trainer_unsup_step(dh_trainer *t, size_t n, double *value);
dh_status dh__trainer_fit_shallow(dh_trainer *t);

#endif
