/* lib/train/unsup.c -- the trainer's side of the unsupervised regime
 * (lib/loss/unsup.h). Labels never reach these methods: the loss gets no training
 * labels or class counts, and batches are drawn without labels or class ids.
 *   - feature methods (ssdh, kmeans, bihalf, sgh): the loss's feature bank is filled
 *     at trainer creation from the input rows (variant 0) or the model's encoder
 *     features in inference mode (variant 1, refreshed every update_every epochs),
 *     unless the caller set it (dh_loss_set_features);
 *   - two-view methods (cibhash): the loader yields two augmented views; the network
 *     sees the 2n rows [view 1; view 2] in one pass (twice the images of a supervised
 *     step, so twice the cost per image);
 *   - shallow baselines (lsh, pcah, itq): dh_trainer_run fits the head in closed form
 *     on the encoder's features of the training set (no optimiser steps). */
#include <math.h>
#include <string.h>

#include "loss/unsup.h"
#include "model/model.h"
#include "train/train_impl.h"

uint32_t dh__trainer_views(const dh_trainer *t)
{
    return (dh__loss_unsup_flags(t->loss) & DH__UNSUP_VIEWS) ? 2u : 1u;
}

void dh__trainer_unsup_loader(const dh_trainer *t, dh_loader_options *lo)
{
    if (dh__trainer_views(t) != 2) return;
    lo->two_views = 1;
    if (lo->augment || !dh_dataset_is_image(t->train)) return;
    /* CIBHash's view augmentations (docs/methods.md#cibhash), when the caller chose none */
    lo->augment = DH_AUG_RESIZED_CROP | DH_AUG_FLIP | DH_AUG_COLOR_JITTER | DH_AUG_GRAYSCALE |
                  DH_AUG_BLUR;
    if (!t->user_scale_min && lo->scale_max >= 0.5f) lo->scale_min = 0.5f; /* else the caller's */
}

/* Every training sample's input row (model = 0) or encoder features (model = 1), in
 * dataset order, unaugmented. *out: N x *dim, caller frees. */
static dh_status dataset_rows(dh_trainer *t, int model, float **out, size_t *dim)
{
    *out = NULL;
    dh_loader_options lo;
    dh_loader_options_init(&lo);
    lo.batch_size = 256;
    lo.shuffle = 0;
    DH_TRY(dh__model_loader_options(t->model, t->train, &lo));
    dh_loader *ld = NULL;
    DH_TRY(dh_loader_create(t->train, &lo, &ld));
    const size_t N = dh_dataset_count(t->train), sf = dh_loader_sample_floats(ld);
    const size_t D = model ? t->model->D : sf;
    float *x = dh__alloc(dh_loader_batch_floats(ld) * sizeof(float));
    size_t bytes = 0;
    float *F = dh__mul_ok(N, D * sizeof(float), &bytes) ? dh__alloc(bytes) : NULL;
    dh_status st = x && F ? DH_OK : DH_E_NO_MEMORY;
    size_t done = 0;
    while (st == DH_OK && done < N) {
        size_t n = 0;
        st = dh_loader_next(ld, x, NULL, NULL, NULL, NULL, &n);
        if (st != DH_OK || n == 0) break;
        if (model) st = dh__model_features(t->model, x, n, 0, F + done * D);
        else memcpy(F + done * D, x, n * sf * sizeof(float));
        done += n;
    }
    if (st == DH_OK && done != N)
        st = dh__set_error(DH_E_INTERNAL, "trainer: the loader gave %zu of %zu rows", done, N);
    dh__free(x);
    dh_loader_free(ld);
    if (st != DH_OK) {
        dh__free(F);
        return st;
    }
    *out = F, *dim = D;
    return DH_OK;
}

static dh_status fill_bank(dh_trainer *t)
{
    float *F = NULL;
    size_t D = 0;
    DH_TRY(dataset_rows(t, t->loss->o.variant == DH__FEATS_MODEL, &F, &D));
    dh_status st = dh__unsup_set_features(t->loss, F, dh_dataset_count(t->train), D, 0);
    dh__free(F);
    return st;
}

dh_status dh__trainer_unsup_setup(dh_trainer *t)
{
    uint32_t fl = dh__loss_unsup_flags(t->loss);
    if ((fl & DH__UNSUP_VIEWS) && t->o.batch_size < 2)
        return dh__set_error(DH_E_INVALID_ARG, "dh_trainer_create(%s): batch size %u; a "
                             "contrastive method needs at least 2 images per batch (the other "
                             "images are the negatives)", t->loss->m->name, t->o.batch_size);
    if (!(fl & DH__UNSUP_FEATS)) return DH_OK;
    const dh__featbank *fb = dh__unsup_bank(t->loss);
    if (fb->user) return DH_OK;
    return fill_bank(t);
}

dh_status dh__trainer_unsup_epoch(dh_trainer *t)
{
    dh_loss *L = t->loss;
    const dh__featbank *fb = dh__unsup_bank(L);
    int32_t every = L->o.update_every;
    if (!fb || fb->user || L->o.variant != DH__FEATS_MODEL || every <= 0 || t->epoch == 0 ||
        t->epoch % every != 0)
        return DH_OK;
    return fill_bank(t);
}

dh_status dh__trainer_unsup_next(dh_trainer *t, size_t *n)
{
    const size_t B = t->o.batch_size, sf = dh_loader_sample_floats(t->loader);
    float *x2 = dh__trainer_views(t) == 2 ? t->x + B * sf : NULL;
    DH_TRY(dh_loader_next(t->loader, t->x, x2, NULL, NULL, t->idx, n));
    if (x2 && *n && *n < B) memmove(t->x + *n * sf, x2, *n * sf * sizeof(float));
    return DH_OK;
}

dh_status dh__trainer_unsup_step(dh_trainer *t, size_t n, double *value)
{
    const size_t rows = n * dh__trainer_views(t);
    dh__model_zero_grad(t->model);
    DH_TRY(dh__model_forward_train(t->model, t->x, rows, t->U));
    const int64_t *idx = (dh__loss_unsup_flags(t->loss) & DH__UNSUP_FEATS) ? t->idx : NULL;
    DH_TRY(dh_loss_forward_backward(t->loss, t->U, rows, NULL, NULL, idx, t->dU, value));
    if (!isfinite(*value))
        return dh__set_error(DH_E_FORMAT, "dh_trainer_run: the loss is %g at epoch %d; lower "
                             "the learning rate", *value, t->epoch + 1);
    DH_TRY(dh__model_backward_ex(t->model, t->dU, NULL, rows));
    return dh_optimizer_step(t->opt);
}

/* The head's weight [K, D] and bias [K] of an IDENTITY head with bias. */
static dh_status head_tensors(dh_trainer *t, float **W, float **b)
{
    dh_head *h = dh_model_head(t->model);
    dh__param *p = NULL;
    size_t np = dh__head_params(h, &p);
    const char *m = t->loss->m->name;
    if (dh_head_type(h) != DH_HEAD_IDENTITY || np < 2 || strcmp(p[1].name, "head.bias") != 0)
        return dh__set_error(DH_E_INVALID_ARG, "dh_trainer_run(%s): a shallow baseline becomes "
                             "the model's head and needs head = DH_HEAD_IDENTITY with a bias "
                             "(dh_loss_head_hint, head_bias = 1)", m);
    *W = p[0].data, *b = p[1].data;
    return DH_OK;
}

dh_status dh__trainer_fit_shallow(dh_trainer *t)
{
    float *W = NULL, *b = NULL, *F = NULL;
    size_t D = 0;
    DH_TRY(head_tensors(t, &W, &b));
    t->t_run = dh__now_seconds();
    t->epoch = 0;
    dh__model_set_training(t->model, 0);
    dh_status st = dataset_rows(t, 1, &F, &D);
    if (st == DH_OK)
        st = dh__shallow_fit(t->loss, F, dh_dataset_count(t->train), D, W, b, NULL);
    dh__free(F);
    dh__model_params_changed(t->model);
    dh__model_set_training(t->model, 1);
    DH_TRY(st);
    memset(&t->last, 0, sizeof t->last);
    t->last.struct_size = sizeof t->last;
    t->last.event = DH_TRAIN_EVENT_EPOCH;
    t->last.epochs = 1;
    t->last.best_epoch = -1;
    t->last.map = t->last.best_map = NAN;
    if (t->val_query) {
        DH_TRY(dh__trainer_validate(t));
        t->last.map = t->last_map;
        t->last.best_map = t->best_map;
        t->last.best_epoch = t->best_epoch;
    }
    t->last.elapsed_s = dh__now_seconds() - t->t_run;
    if (t->o.callback && t->o.callback(&t->last, t->o.callback_user) != 0)
        return dh__set_error(DH_E_INTERRUPTED, "dh_trainer_run: stopped by the callback");
    return DH_OK;
}
