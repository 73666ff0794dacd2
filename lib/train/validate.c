/* lib/train/validate.c -- the trainer's loaders and buffers, periodic validation with best-weights snapshots, and per-epoch method hooks. */
#include <math.h>
#include <string.h>

#include "model/model.h"
#include "loss/loss.h"
#include "train/train_impl.h"

dh_status dh__trainer_make_loader(dh_trainer *t)
{
    dh_loader_options lo;
    dh_loader_options_init(&lo);
    dh_trainer_options *o = &t->o; /* resolved (resolve.c) */
    uint32_t bs = o->batch_size;
    size_t n = dh_dataset_count(t->train);
    if (bs > n) bs = (uint32_t)n;
    o->batch_size = bs;
    lo.batch_size = bs;
    lo.shuffle = 1;
    lo.drop_last = n >= 2 * (size_t)bs; /* batch-norm needs full-ish batches */
    lo.seed = o->seed;
    if (!dh_dataset_is_image(t->train)) o->augment = 0;
    lo.augment = o->augment;
    if (o->crop_padding >= 0) lo.crop_padding = (uint32_t)o->crop_padding;
    lo.flip_prob = o->flip_prob;
    lo.scale_min = o->scale_min, lo.scale_max = o->scale_max;
    lo.ratio_min = o->ratio_min, lo.ratio_max = o->ratio_max;
    lo.brightness = o->brightness, lo.contrast = o->contrast, lo.saturation = o->saturation;
    lo.grayscale_prob = o->grayscale_prob;
    lo.blur_prob = o->blur_prob;
    dh__trainer_unsup_loader(t, &lo); /* two views + their default augmentations */
    o->augment = lo.augment, o->scale_min = lo.scale_min; /* report what the loader uses */
    o->crop_padding = (int32_t)lo.crop_padding;
    DH_TRY(dh__model_loader_options(t->model, t->train, &lo));
    DH_TRY(dh_loader_create(t->train, &lo, &t->loader));
    t->batches = dh_loader_batches_per_epoch(t->loader);
    return DH_OK;
}

dh_status dh__trainer_alloc_buffers(dh_trainer *t)
{
    size_t V = dh__trainer_views(t), B = t->o.batch_size, K = dh_model_n_bits(t->model) * V;
    size_t C = dh_dataset_n_classes(t->train);
    t->x = dh__calloc(dh_loader_batch_floats(t->loader) * V + 1, sizeof(float));
    t->y = dh__calloc(B * C + 1, sizeof(float));
    t->cls = dh__calloc(B + 1, sizeof(int32_t));
    t->idx = dh__calloc(B + 1, sizeof(int64_t));
    t->U = dh__calloc(B * K + 1, sizeof(float));
    t->dU = dh__calloc(B * K + 1, sizeof(float));
    if (!t->x || !t->y || !t->cls || !t->idx || !t->U || !t->dU) return DH_E_NO_MEMORY;
    return DH_OK;
}

dh_status dh_trainer_set_validation(dh_trainer *t, const dh_dataset *q, const dh_dataset *db)
{
    DH_CHECK_ARG(t != NULL && (q == NULL) == (db == NULL));
    if (q) {
        /* with tag supervision the training "classes" are tags: query and database
         * need only agree with each other */
        uint32_t C = dh_dataset_n_classes(t->tag_view ? q : t->train);
        if (dh_dataset_n_classes(q) != C || dh_dataset_n_classes(db) != C)
            return dh__set_error(DH_E_SHAPE, "dh_trainer_set_validation: query/database have "
                                 "%u/%u classes, training %u", dh_dataset_n_classes(q),
                                 dh_dataset_n_classes(db), C);
        DH_CHECK_ARG_MSG(dh_dataset_count(q) > 0 && dh_dataset_count(db) > 0,
                         "dh_trainer_set_validation: empty query or database set");
    }
    t->val_query = q;
    t->val_db = db;
    return DH_OK;
}

/* Labels of a whole dataset for dh_eval: class ids when every row has one. */
static dh_status eval_labels(const dh_dataset *ds, void **out, int32_t *type)
{
    size_t n = dh_dataset_count(ds), C = dh_dataset_n_classes(ds);
    int32_t *cls = dh__alloc((n + 1) * sizeof(int32_t));
    if (!cls) return DH_E_NO_MEMORY;
    dh_status st = dh_dataset_get_class_ids(ds, 0, n, cls);
    int single = st == DH_OK;
    for (size_t i = 0; single && i < n; i++) single = cls[i] >= 0;
    if (single) {
        *out = cls;
        *type = DH_LABELS_CLASS_I32;
        return DH_OK;
    }
    dh__free(cls);
    float *y = dh__alloc((n * C + 1) * sizeof(float));
    if (!y) return DH_E_NO_MEMORY;
    st = dh_dataset_get_labels(ds, 0, n, y);
    if (st != DH_OK) {
        dh__free(y);
        return st;
    }
    *out = y;
    *type = DH_LABELS_MULTIHOT_F32;
    return DH_OK;
}

static dh_status snapshot(dh_trainer *t)
{
    dh__model_param *p;
    size_t np = dh__model_params(t->model, &p), total = 0;
    for (size_t i = 0; i < np; i++) total += p[i].p.n;
    if (!t->best) {
        t->best = dh__alloc((total + 1) * sizeof(float));
        if (!t->best) return DH_E_NO_MEMORY;
        t->best_len = total;
    }
    size_t off = 0;
    for (size_t i = 0; i < np; i++) {
        memcpy(t->best + off, p[i].p.data, p[i].p.n * sizeof(float));
        off += p[i].p.n;
    }
    return DH_OK;
}

void dh__trainer_restore_best(dh_trainer *t)
{
    dh__model_param *p;
    size_t np = dh__model_params(t->model, &p), off = 0;
    for (size_t i = 0; i < np; i++) {
        memcpy(p[i].p.data, t->best + off, p[i].p.n * sizeof(float));
        off += p[i].p.n;
    }
    dh__model_params_changed(t->model);
}

dh_status dh__trainer_validate(dh_trainer *t)
{
    const dh_dataset *q = t->val_query, *db = t->val_db;
    uint32_t K = dh_model_n_bits(t->model);
    size_t nq = dh_dataset_count(q), nd = dh_dataset_count(db), cb = dh_code_bytes(K);
    uint8_t *qc = dh__alloc(nq * cb + 1), *dc = dh__alloc(nd * cb + 1);
    void *ql = NULL, *dl = NULL;
    int32_t type = 0, type2 = 0;
    dh_status st = (qc && dc) ? DH_OK : DH_E_NO_MEMORY;
    if (st == DH_OK) st = dh_model_encode_dataset(t->model, q, qc, NULL);
    if (st == DH_OK) st = dh_model_encode_dataset(t->model, db, dc, NULL);
    if (st == DH_OK) st = eval_labels(q, &ql, &type);
    if (st == DH_OK) st = eval_labels(db, &dl, &type2);
    if (st == DH_OK && type != type2) {
        /* mixed: use multi-hot floats for both */
        dh__free(ql);
        dh__free(dl);
        ql = dl = NULL;
        float *a = dh__alloc((nq * dh_dataset_n_classes(q) + 1) * sizeof(float));
        float *b = dh__alloc((nd * dh_dataset_n_classes(db) + 1) * sizeof(float));
        ql = a;
        dl = b;
        st = (a && b) ? dh_dataset_get_labels(q, 0, nq, a) : DH_E_NO_MEMORY;
        if (st == DH_OK) st = dh_dataset_get_labels(db, 0, nd, b);
        type = DH_LABELS_MULTIHOT_F32;
    }
    double map = NAN;
    if (st == DH_OK) {
        dh_eval_options eo;
        dh_eval_options_init(&eo);
        eo.n_bits = K;
        eo.label_type = type;
        eo.n_classes = dh_dataset_n_classes(q);
        eo.topk = t->o.eval_topk < nd ? t->o.eval_topk : 0;
        st = dh_eval_map(&eo, qc, ql, nq, dc, dl, nd, &map, NULL);
    }
    dh__free(qc);
    dh__free(dc);
    dh__free(ql);
    dh__free(dl);
    DH_TRY(st);
    t->last_map = map;
    if (t->prog.verbose && t->prog.fp) {
        fprintf(t->prog.fp, "epoch %d/%u  validation mAP%s %.4f\n", t->epoch + 1, t->o.epochs,
                t->o.eval_topk ? "@k" : "", map);
        fflush(t->prog.fp);
    }
    if (isnan(t->best_map) || map > t->best_map) {
        t->best_map = map;
        t->best_epoch = t->epoch;
        if (t->o.keep_best) DH_TRY(snapshot(t));
    }
    return DH_OK;
}

dh_status dh__trainer_epoch_hooks(dh_trainer *t)
{
    /* Asymmetric methods (ADSH, DIHN) learn database codes: after each network epoch
     * the whole training set is encoded and the codes are updated by the discrete step
     * (DIHN: only the new session's rows; its fixed old rows never change). */
    if (!dh__loss_learns_codes(t->loss))
        return DH_OK;
    size_t n = dh_dataset_count(t->train), K = dh_model_n_bits(t->model);
    float *U = dh__alloc((n * K + 1) * sizeof(float));
    int64_t *idx = dh__alloc((n + 1) * sizeof(int64_t));
    dh_status st = (U && idx) ? DH_OK : DH_E_NO_MEMORY;
    for (size_t i = 0; st == DH_OK && i < n; i++) idx[i] = (int64_t)i;
    if (st == DH_OK) st = dh_model_encode_dataset(t->model, t->train, NULL, U);
    if (st == DH_OK) st = dh_loss_update_codes(t->loss, U, idx, n);
    dh__free(U);
    dh__free(idx);
    return st;
}
