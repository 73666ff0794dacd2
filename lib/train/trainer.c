/* lib/train/trainer.c -- the epoch/batch loop: loader -> model -> loss -> backward ->
 * optimizer, with schedules, validation, best-weights keeping, checkpoints and
 * progress. Checkpoints live in checkpoint.c, validation in validate.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/model.h"
#include "loss/loss.h"
#include "loss/unsup.h"
#include "nn/optim.h"
#include "train/train_impl.h"

/* Resolve the recipe's fields (resolve.c) against the loss's method and the model's
 * encoder and input size. */
static dh_status resolve_options(dh_trainer *t)
{
    int64_t shape[3] = {0, 0, 0};
    int32_t nd = dh_model_input_shape(t->model, shape);
    uint32_t h = nd == 3 ? (uint32_t)shape[1] : 0, w = nd == 3 ? (uint32_t)shape[2] : 0;
    const dh_model_options *mo = dh_model_get_options(t->model);
    return dh__trainer_resolve(&t->o, t->loss->m->name, mo ? mo->encoder : NULL, h, w,
                               &t->nesterov);
}

/* Build the optimizer over model + loss from the resolved options. */
static dh_status build_optimizer(dh_trainer *t)
{
    const dh_trainer_options *o = &t->o;
    dh_loss_recipe r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    DH_TRY(dh_loss_recipe_lookup(t->loss->m->name, o->recipe_setting, o->recipe, 0, &r));
    dh_optimizer_options oo;
    dh_optimizer_options_init(&oo);
    oo.type = o->optimizer;
    oo.nesterov = t->nesterov;
    oo.lr = o->lr;
    oo.momentum = o->momentum;
    oo.weight_decay = o->weight_decay;
    oo.lr_mult_backbone = o->backbone_lr_mult;
    oo.lr_mult_loss = r.param_lr_mult > 0 ? r.param_lr_mult : 1.0;
    oo.apply_no_decay = o->decay_scope == DH_DECAY_WEIGHTS;
    oo.schedule_unit = (uint32_t)(t->batches ? t->batches : 1);
    int32_t sched = o->schedule;
    oo.schedule = sched;
    if (sched == DH_SCHED_COSINE) {
        oo.t_max = o->epochs;
        oo.eta_min = oo.lr * o->lr_min_ratio;
    } else if (sched == DH_SCHED_STEP) {
        oo.step_size = o->epochs > 2 ? o->epochs * 2 / 3 : 1;
        oo.gamma = 0.1;
    }
    oo.warmup = o->warmup_epochs;
    DH_TRY(dh_optimizer_create(&oo, &t->opt));
    DH_TRY(dh_optimizer_add_model(t->opt, t->model));
    dh__param *lp;
    size_t nl = dh__loss_params(t->loss, &lp);
    for (size_t i = 0; i < nl; i++)
        DH_TRY(dh__optimizer_add_tensor(t->opt, lp[i].name, lp[i].data, lp[i].grad, lp[i].n,
                                        DH_PARAM_GROUP_LOSS, lp[i].no_decay));
    return DH_OK;
}

/* Give the loss the training set's labels and class counts. */
static dh_status init_loss(dh_trainer *t)
{
    if (dh__loss_unsup_flags(t->loss)) /* unsupervised: no labels, no class counts */
        return dh_loss_init(t->loss, NULL, dh_dataset_count(t->train), NULL);
    size_t n = dh_dataset_count(t->train);
    size_t C = dh_dataset_n_classes(t->train);
    float *Y = dh__calloc(n * C + 1, sizeof(float));
    int64_t *counts = dh__calloc(C + 1, sizeof(int64_t));
    dh_status st = (Y && counts) ? DH_OK : DH_E_NO_MEMORY;
    if (st == DH_OK) st = dh_dataset_get_labels(t->train, 0, n, Y);
    if (st == DH_OK) {
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < C; c++) counts[c] += Y[i * C + c] > 0;
        /* per-sample state (banks, database codes) needs the labels of every row */
        st = dh_loss_init(t->loss, t->loss->N == n ? Y : NULL, n, counts);
    }
    dh__free(Y);
    dh__free(counts);
    return st;
}

static dh_status check_shapes(dh_trainer *t)
{
    uint32_t K = dh_model_n_bits(t->model);
    if (t->loss->K != K)
        return dh__set_error(DH_E_SHAPE, "dh_trainer_create: loss has K = %u but the model %u",
                             t->loss->K, K);
    uint32_t C = dh_dataset_n_classes(t->train);
    if (t->loss->C != C && !dh__loss_unsup_flags(t->loss))
        return dh__set_error(DH_E_SHAPE, "dh_trainer_create: loss has %u classes, the "
                             "dataset %u", t->loss->C, C);
    if (t->loss->N && t->loss->N != dh_dataset_count(t->train))
        return dh__set_error(DH_E_SHAPE, "dh_trainer_create: loss was created with n_train = "
                             "%zu but the dataset has %zu samples", t->loss->N,
                             dh_dataset_count(t->train));
    if (dh_dataset_count(t->train) == 0)
        return dh__set_error(DH_E_INVALID_ARG, "dh_trainer_create: the training set is empty");
    return DH_OK;
}

dh_status dh_trainer_create(dh_model *model, dh_loss *loss, const dh_dataset *train,
                            const dh_trainer_options *opts, dh_trainer **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(model != NULL && loss != NULL && train != NULL);
    dh_trainer *t = dh__calloc(1, sizeof *t);
    if (!t) return DH_E_NO_MEMORY;
    dh_trainer_options_init(&t->o);
    dh_status st;
    DH_TRY_GOTO(dh__options_copy(&t->o, sizeof t->o, opts, "dh_trainer_options"), fail);
    if (t->o.reserved0) {
        st = dh__set_error(DH_E_INVALID_ARG, "dh_trainer_options.reserved0 must be 0");
        goto fail;
    }
    if (t->o.checkpoint_path && !(t->checkpoint_path = dh__strdup(t->o.checkpoint_path))) {
        st = DH_E_NO_MEMORY;
        goto fail;
    }
    t->o.checkpoint_path = t->checkpoint_path;
    t->user_scale_min = t->o.scale_min > 0; /* before resolve fills the loader's default */
    if (t->o.resume && !t->checkpoint_path) {
        st = dh__set_error(DH_E_INVALID_ARG, "dh_trainer_options: resume needs checkpoint_path");
        goto fail;
    }
    dh_train_parallel_init(&t->par);
    t->model = model;
    t->loss = loss;
    t->train = train;
    DH_TRY_GOTO(dh__trainer_tag_view(t), fail);
    t->best_epoch = -1;
    t->best_map = NAN;
    t->last_map = NAN;
    DH_TRY_GOTO(check_shapes(t), fail);
    DH_TRY_GOTO(resolve_options(t), fail);
    DH_TRY_GOTO(dh__trainer_make_loader(t), fail);
    DH_TRY_GOTO(init_loss(t), fail);
    DH_TRY_GOTO(dh__trainer_unsup_setup(t), fail);
    DH_TRY_GOTO(build_optimizer(t), fail);
    DH_TRY_GOTO(dh__trainer_alloc_buffers(t), fail);
    *out = t;
    return DH_OK;
fail:
    dh_trainer_free(t);
    return st;
}

void dh_trainer_free(dh_trainer *t)
{
    if (!t) return;
    dh_loader_free(t->loader);
    dh_optimizer_free(t->opt);
    dh__free(t->checkpoint_path);
    dh__free(t->x);
    dh__free(t->y);
    dh__free(t->cls);
    dh__free(t->idx);
    dh__free(t->U);
    dh__free(t->dU);
    dh__free(t->best);
    dh__trainer_teacher_free(t);
    dh__trainer_parallel_drop(t);
    dh_dataset_free(t->tag_view);
    dh__free(t);
}

dh_status dh_trainer_set_callback(dh_trainer *t, dh_train_callback cb, void *user)
{
    DH_CHECK_ARG(t != NULL);
    t->o.callback = cb;
    t->o.callback_user = user;
    return DH_OK;
}

dh_optimizer *dh_trainer_optimizer(dh_trainer *t) { return t ? t->opt : NULL; }

dh_status dh_trainer_get_progress(const dh_trainer *t, dh_train_progress *out)
{
    DH_CHECK_ARG(t != NULL && out != NULL);
    DH_CHECK_ARG_MSG(out->struct_size >= sizeof(size_t),
                     "dh_trainer_get_progress: out->struct_size is not set");
    size_t n = out->struct_size < sizeof t->last ? out->struct_size : sizeof t->last;
    memcpy((char *)out + sizeof(size_t), (const char *)&t->last + sizeof(size_t),
           n - sizeof(size_t));
    return DH_OK;
}

/* Set the head's beta from the loss (HashNet continuation), once per step. */
static void sync_beta(dh_trainer *t)
{
    int32_t act = 0;
    float beta = 1;
    if (dh_loss_head_hint(t->loss, &act, &beta) == DH_OK && act == DH_LOSS_HEAD_SCALED_TANH &&
        dh_head_type(dh_model_head(t->model)) == DH_HEAD_SCALED_TANH)
        (void)dh_head_set_beta(dh_model_head(t->model), beta);
}

static dh_status train_step(dh_trainer *t, size_t n, double *value)
{
    sync_beta(t);
    if (t->par.size > 1) { /* data parallel: parallel.c */
        DH_TRY(dh__trainer_parallel_step(t, n, value));
        if (!isfinite(*value))
            return dh__set_error(DH_E_FORMAT, "dh_trainer_run: the loss is %g at epoch %d; "
                                 "lower the learning rate", *value, t->epoch + 1);
        return dh_optimizer_step(t->opt);
    }
    dh__model_zero_grad(t->model);
    DH_TRY(dh__model_forward_train(t->model, t->x, n, t->U));
    int single = t->cls[0] >= 0;
    for (size_t i = 0; i < n && single; i++) single = t->cls[i] >= 0;
    DH_TRY(dh_loss_forward_backward(t->loss, t->U, n, t->y, single ? t->cls : NULL, t->idx,
                                    t->dU, value));
    const float *dfeat = NULL;
    if (t->teacher) DH_TRY(dh__trainer_distill(t, n, value, &dfeat));
    if (!isfinite(*value))
        return dh__set_error(DH_E_FORMAT, "dh_trainer_run: the loss is %g at epoch %d; lower "
                             "the learning rate", *value, t->epoch + 1);
    DH_TRY(dh__model_backward_ex(t->model, t->dU, dfeat, n));
    return dh_optimizer_step(t->opt);
}

static void fill_progress(dh_trainer *t, int32_t event, uint64_t batch, double loss)
{
    dh_train_progress *p = &t->last;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->event = event;
    p->epoch = t->epoch;
    p->epochs = (int32_t)t->o.epochs;
    p->best_epoch = t->best_epoch;
    p->batch = batch;
    p->batches = t->batches;
    p->loss = loss;
    double now = dh__now_seconds();
    p->elapsed_s = now - t->t_run;
    double el = now - t->prog.t_epoch_start;
    p->images_per_s = el > 0 ? (double)t->prog.epoch_images / el : 0;
    double done = (double)(t->epoch - t->start_epoch) * (double)t->batches + (double)batch + 1;
    double total = (double)(t->o.epochs - (uint32_t)t->start_epoch) * (double)t->batches;
    p->eta_s = done > 0 ? p->elapsed_s / done * (total - done) : 0;
    if (p->eta_s < 0) p->eta_s = 0;
    (void)dh_optimizer_get_lr(t->opt, &p->lr);
    p->map = t->last_map;
    p->best_map = t->best_map;
}

static dh_status report(dh_trainer *t, int32_t event, uint64_t batch, double loss)
{
    fill_progress(t, event, batch, loss);
    if (t->o.callback && t->o.callback(&t->last, t->o.callback_user) != 0)
        return dh__set_error(DH_E_INTERRUPTED, "dh_trainer_run: stopped by the callback at "
                             "epoch %d, batch %llu", t->epoch + 1, (unsigned long long)batch + 1);
    return DH_OK;
}

static dh_status run_epoch(dh_trainer *t)
{
    const int unsup = dh__loss_unsup_flags(t->loss) != 0;
    if (unsup) DH_TRY(dh__trainer_unsup_epoch(t));
    DH_TRY(dh_loss_epoch_begin(t->loss, t->epoch));
    /* LTHNet's meta-embedding: class centroids of the training features, refreshed by
     * an inference pass at the start of every epoch */
    if (dh_model_meta_classes(t->model))
        DH_TRY(dh_model_update_class_memory(t->model, t->train));
    DH_TRY(dh_loader_seek(t->loader, (uint64_t)t->epoch, 0));
    dh__model_set_training(t->model, 1);
    dh__progress_epoch_begin(&t->prog);
    for (uint64_t b = 0; b < t->batches; b++) {
        size_t n = 0;
        if (unsup) DH_TRY(dh__trainer_unsup_next(t, &n));
        else DH_TRY(dh_loader_next(t->loader, t->x, NULL, t->y, t->cls, t->idx, &n));
        if (n == 0) break;
        double v = 0;
        DH_TRY(unsup ? dh__trainer_unsup_step(t, n, &v) : train_step(t, n, &v));
        dh__progress_batch(&t->prog, t->epoch, (size_t)b, n, v);
        DH_TRY(report(t, DH_TRAIN_EVENT_BATCH, b, v));
    }
    return DH_OK;
}

static int last_epoch(const dh_trainer *t) { return t->epoch + 1 == (int32_t)t->o.epochs; }

static dh_status end_epoch(dh_trainer *t)
{
    double ips;
    double mean = dh__progress_epoch_end(&t->prog, t->epoch, &ips);
    t->epoch_loss = mean;
    DH_TRY(dh__trainer_parallel_sync(t));
    DH_TRY(dh__trainer_epoch_hooks(t));
    uint32_t every = t->o.eval_every;
    if (t->val_query && ((every && (t->epoch + 1) % (int32_t)every == 0) || last_epoch(t))) {
        DH_TRY(dh__trainer_validate(t));
        DH_TRY(report(t, DH_TRAIN_EVENT_EVAL, t->batches ? t->batches - 1 : 0, mean));
    }
    if (t->checkpoint_path && t->par.rank == 0) { /* data parallel: process 0 writes */
        uint32_t ce = t->o.checkpoint_every ? t->o.checkpoint_every : 1;
        if ((t->epoch + 1) % (int32_t)ce == 0 || last_epoch(t))
            DH_TRY(dh__checkpoint_save(t, t->checkpoint_path));
    }
    fill_progress(t, DH_TRAIN_EVENT_EPOCH, t->batches ? t->batches - 1 : 0, mean);
    t->last.images_per_s = ips;
    if (t->o.callback && t->o.callback(&t->last, t->o.callback_user) != 0)
        return dh__set_error(DH_E_INTERRUPTED, "dh_trainer_run: stopped by the callback after "
                             "epoch %d", t->epoch + 1);
    return DH_OK;
}

dh_status dh_trainer_run(dh_trainer *t)
{
    DH_CHECK_ARG(t != NULL);
    if (dh__loss_unsup_flags(t->loss) & DH__UNSUP_SHALLOW) return dh__trainer_fit_shallow(t);
    t->start_epoch = 0;
    if (t->o.resume) DH_TRY(dh__checkpoint_try_resume(t));
    t->t_run = dh__now_seconds();
    dh__progress_init(&t->prog, stderr, (int)t->o.verbose, (int32_t)t->o.epochs,
                      (size_t)t->batches);
    dh_status st = DH_OK;
    for (t->epoch = t->start_epoch; t->epoch < (int32_t)t->o.epochs; t->epoch++) {
        st = run_epoch(t);
        if (st == DH_OK) st = end_epoch(t);
        if (st != DH_OK) break;
    }
    if (t->prog.verbose && t->prog.is_tty && st != DH_OK) fputc('\n', stderr);
    dh__model_set_training(t->model, 1);
    if (st == DH_OK && t->o.keep_best && t->best) dh__trainer_restore_best(t);
    return st;
}
