/* lib/train/weak.c -- tag supervision in the trainer (docs/methods.md#weak): for the
 * tag methods (DH_LOSS_FLAG_TAGS) and for DH_SUPERVISION_TAGS the trainer trains on a
 * view of the training set whose labels are its tag rows. Everything downstream (the
 * loader's label rows, dh_loss_init, the epoch hooks) reads the view, so the true
 * labels of the training set never reach the loss; validation sets keep theirs. */
#include "data/data.h"
#include "loss/unsup.h"
#include "loss/weak.h"
#include "train/train_impl.h"

dh_status dh__trainer_tag_view(dh_trainer *t)
{
    const int32_t sup = t->o.supervision;
    if (sup != DH_SUPERVISION_LABELS && sup != DH_SUPERVISION_TAGS)
        return dh__set_error(DH_E_INVALID_ARG, "dh_trainer_options.supervision = %d is not "
                             "DH_SUPERVISION_LABELS or DH_SUPERVISION_TAGS", sup);
    const int tag_method = dh__method_weak_flags(t->loss->m) != 0;
    if (!tag_method && sup != DH_SUPERVISION_TAGS) return DH_OK;
    if (dh__loss_unsup_flags(t->loss))
        return dh__set_error(DH_E_INVALID_ARG, "dh_trainer_create(%s): an unsupervised method "
                             "reads neither labels nor tags (supervision must be LABELS)",
                             t->loss->m->name);
    const dh_dataset *ds = t->train;
    if (!ds->n_tags)
        return dh__set_error(DH_E_STATE, "dh_trainer_create(%s): %s needs the training set's "
                             "tags (dh_dataset_attach_tags, dh_dataset_set_tags)",
                             t->loss->m->name, tag_method ? "this method" : "DH_SUPERVISION_TAGS");
    int64_t *idx = dh__alloc((ds->n + 1) * sizeof *idx);
    if (!idx) return DH_E_NO_MEMORY;
    for (size_t i = 0; i < ds->n; i++) idx[i] = (int64_t)i;
    dh_status st = dh__dataset_pick(ds, idx, ds->n, ds->n_tags, ds->tags, &t->tag_view);
    dh__free(idx);
    if (st != DH_OK) {
        dh__error_prefix("dh_trainer_create: the tags as labels");
        return st;
    }
    t->train = t->tag_view;
    return DH_OK;
}
