/* lib/train/incremental.c -- one class-incremental session (docs/incremental.md):
 * fine-tune the model on the new items with the trainer, compute their codes (learned
 * by the loss or from the network) and append them to the index. The index's existing
 * rows are only read (DIHN's fixed codes), never rewritten. */
#include <stddef.h>
#include <string.h>

#include "model/model.h"
#include "loss/loss.h"
#include "train/train_impl.h"

void dh_incremental_options_init(dh_incremental_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->new_codes = DH_INCR_CODES_AUTO;
    o->first_id = -1;
    o->distill_codes = -1;
    o->distill_features = -1;
}

/* 1 + the largest live id (0 for an empty index). */
static dh_status next_id(const dh_index *ix, int64_t *out)
{
    size_t n = dh_index_count(ix);
    *out = 0;
    if (n == 0) return DH_OK;
    int64_t *ids = dh__alloc(n * sizeof(int64_t));
    if (!ids) return DH_E_NO_MEMORY;
    dh_status st = dh_index_export(ix, DH_CODE_PACKED, 0, n, NULL, ids);
    for (size_t i = 0; st == DH_OK && i < n; i++)
        if (ids[i] + 1 > *out) *out = ids[i] + 1;
    dh__free(ids);
    return st;
}

/* Old images a session trains on: all n_old, or opts.old_samples of them. */
static size_t old_in_train(const dh_dataset *old, size_t n_old, const dh_incremental_options *o)
{
    if (!old) return 0;
    return o->old_samples && o->old_samples < n_old ? (size_t)o->old_samples : n_old;
}

/* order[0..m): m distinct rows of 0..n-1 drawn with `seed`, ascending; order[m..n): the
 * others, ascending (partial Fisher-Yates, splitmix64). */
static dh_status sample_order(size_t n, size_t m, uint64_t seed, int64_t **out)
{
    int64_t *perm = dh__alloc(n * sizeof(int64_t));
    uint8_t *mark = dh__calloc(n, 1);
    if (!perm || !mark) {
        dh__free(perm), dh__free(mark);
        return DH_E_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++) perm[i] = (int64_t)i;
    uint64_t x = seed ^ 0x6a09e667f3bcc909ull;
    for (size_t i = 0; i < m; i++) {
        size_t j = i + (size_t)(dh__splitmix64(&x) % (uint64_t)(n - i));
        int64_t t = perm[i];
        perm[i] = perm[j], perm[j] = t;
        mark[perm[i]] = 1;
    }
    size_t k = 0;
    for (int pass = 1; pass >= 0; pass--)
        for (size_t i = 0; i < n; i++)
            if (mark[i] == pass) perm[k++] = (int64_t)i;
    dh__free(mark);
    *out = perm;
    return DH_OK;
}

/* Methods with fixed rows (dihn): the index's live rows (with the caller's labels)
 * become the fixed rows, in `order` when given (its first m rows are the old images in
 * training), else in insertion order with the first m in training. */
static dh_status set_fixed_rows(dh_loss *loss, const dh_index *ix, const float *labels,
                                const int64_t *order, size_t m)
{
    size_t n = dh_index_count(ix), K = loss->K, C = loss->C;
    if (n && !labels)
        return dh__set_error(DH_E_INVALID_ARG, "dh_incremental_session(%s): index_labels is "
                             "NULL but the index has %zu rows (DIHN needs the labels of the "
                             "old database items)", loss->m->name, n);
    float *codes = dh__alloc((n * K + 1) * sizeof(float));
    float *pc = order ? dh__alloc((n * K + 1) * sizeof(float)) : NULL;
    float *pl = order ? dh__alloc((n * C + 1) * sizeof(float)) : NULL;
    dh_status st = codes && (!order || (pc && pl)) ? DH_OK : DH_E_NO_MEMORY;
    if (st == DH_OK && n) st = dh_index_export(ix, DH_CODE_FLOAT32, 0, n, codes, NULL);
    for (size_t i = 0; st == DH_OK && order && i < n; i++) {
        memcpy(pc + i * K, codes + (size_t)order[i] * K, K * sizeof(float));
        memcpy(pl + i * C, labels + (size_t)order[i] * C, C * sizeof(float));
    }
    if (st == DH_OK)
        st = dh__loss_set_fixed(loss, order ? pc : codes, order ? pl : labels, n, m);
    dh__free(codes), dh__free(pc), dh__free(pl);
    return st;
}

static dh_status check_args(dh_model *model, dh_loss *loss, const dh_dataset *ds,
                            const dh_index *ix, const dh_dataset *old,
                            const dh_incremental_options *o)
{
    uint32_t K = dh_model_n_bits(model);
    if (dh_index_n_bits(ix) != K || loss->K != K)
        return dh__set_error(DH_E_SHAPE, "dh_incremental_session: K differs: model %u, loss "
                             "%u, index %u", K, loss->K, dh_index_n_bits(ix));
    if (dh_dataset_n_classes(ds) != loss->C)
        return dh__set_error(DH_E_SHAPE, "dh_incremental_session: new_data has %u classes, the "
                             "loss %u (create the loss for all classes, old and new)",
                             dh_dataset_n_classes(ds), loss->C);
    DH_CHECK_ARG_MSG(dh_dataset_count(ds) > 0, "dh_incremental_session: new_data is empty");
    if (dh_index_is_readonly(ix))
        return dh__set_error(DH_E_STATE, "dh_incremental_session: the index is read-only "
                             "(memory-mapped); load it with dh_index_load to extend it");
    size_t n_old = old ? dh_dataset_count(old) : 0;
    if (old && n_old != dh_index_count(ix))
        return dh__set_error(DH_E_SHAPE, "dh_incremental_session: index_images has %zu samples, "
                             "the index %zu live rows", n_old, dh_index_count(ix));
    DH_CHECK_ARG_MSG(old || !o->old_samples, "dh_incremental_options.old_samples = %llu "
                     "needs index_images", (unsigned long long)o->old_samples);
    const size_t m = old_in_train(old, n_old, o);
    if (dh__loss_has_fixed(loss) && loss->N != dh_dataset_count(ds) + m)
        return dh__set_error(DH_E_SHAPE, "dh_incremental_session(%s): the loss was created "
                             "with n_train = %zu, want %zu (new items%s)", loss->m->name,
                             loss->N, dh_dataset_count(ds) + m,
                             m < n_old ? " + old_samples" : old ? " + index_images" : "");
    DH_CHECK_ARG_MSG(o->new_codes >= DH_INCR_CODES_AUTO && o->new_codes <= DH_INCR_CODES_LEARNED,
                     "dh_incremental_options.new_codes = %d unknown", o->new_codes);
    DH_CHECK_ARG_MSG(o->reserved0 == 0, "dh_incremental_options.reserved0 must be 0");
    DH_CHECK_ARG_MSG((o->distill_codes == -1 || (o->distill_codes >= 0 && o->distill_codes < 1e12)) &&
                     (o->distill_features == -1 ||
                      (o->distill_features >= 0 && o->distill_features < 1e12)),
                     "dh_incremental_options: distill_codes = %g, distill_features = %g (want "
                     ">= 0, or -1 for the default)", o->distill_codes, o->distill_features);
    DH_CHECK_ARG_MSG(o->first_id >= -1, "dh_incremental_options.first_id = %lld (want >= 0, "
                     "or -1 for the next free id)", (long long)o->first_id);
    return DH_OK;
}

/* The loss's learned codes for the training rows (the n new items come first), or
 * NULL when it has none. */
static const dh__param *learned_codes(dh_loss *loss, size_t n)
{
    const dh__param *p = dh__loss_find(loss, "codes");
    return p && p->ndim == 2 && (size_t)p->shape[0] == loss->N && loss->N >= n &&
                   (size_t)p->shape[1] == loss->K
               ? p : NULL;
}

/* Packed codes of the new items (n x dh_code_bytes(K)). */
static dh_status new_item_codes(dh_model *model, dh_loss *loss, const dh_dataset *ds,
                                int32_t mode, uint8_t *out)
{
    size_t n = dh_dataset_count(ds);
    const dh__param *V = learned_codes(loss, n);
    if (mode == DH_INCR_CODES_LEARNED && !V)
        return dh__set_error(DH_E_STATE, "dh_incremental_session: new_codes = LEARNED but loss "
                             "'%s' learns no database codes for the %zu new items",
                             loss->m->name, n);
    if (mode == DH_INCR_CODES_NETWORK || !V) return dh_model_encode_dataset(model, ds, out, NULL);
    return dh_codes_pack_float(V->data, n, loss->K, 0, out);
}

/* Distillation weights: the caller's, else the method's defaults (m->distill: dihn,
 * dih) when the session extends a non-empty index without old images. A first session
 * (empty index: nothing to keep), a session with old images and the other methods: no
 * distillation unless asked for. */
static void distill_weights(const dh_loss *loss, const dh_index *ix, const dh_dataset *old,
                            const dh_incremental_options *o, double *wc, double *wf)
{
    const int keep = !old && dh_index_count(ix) > 0;
    double dc = 0, df = 0;
    if (keep) dh__loss_distill_defaults(loss, &dc, &df);
    *wc = o->distill_codes >= 0 ? o->distill_codes : dc;
    *wf = o->distill_features >= 0 ? o->distill_features : df;
}

/* Train on the new items (followed by the old images when given). */
static dh_status fine_tune(dh_model *model, dh_loss *loss, const dh_dataset *new_data,
                           const dh_index *ix, const dh_dataset *old,
                           const dh_trainer_options *train_opts,
                           const dh_incremental_options *io)
{
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    if (train_opts) DH_TRY(dh__options_copy(&to, sizeof to, train_opts, "dh_trainer_options"));
    dh_dataset *all = NULL;
    if (old) DH_TRY(dh_dataset_concat(new_data, old, &all));
    dh_trainer *t = NULL;
    double wc, wf;
    distill_weights(loss, ix, old, io, &wc, &wf);
    if ((wc > 0 || wf > 0) && to.resume) {
        dh_dataset_free(all);
        return dh__set_error(DH_E_INVALID_ARG, "dh_incremental_session: distillation (weights "
                             "%g, %g) cannot resume from a checkpoint (the teacher is the "
                             "session-start network); set distill_* to 0 or resume to 0",
                             wc, wf);
    }
    dh_status st = dh_trainer_create(model, loss, all ? all : new_data, &to, &t);
    if (st == DH_OK && (wc > 0 || wf > 0)) st = dh__trainer_set_teacher(t, model, wc, wf);
    if (st == DH_OK) st = dh_trainer_run(t);
    dh_trainer_free(t);
    dh_dataset_free(all);
    return st;
}

dh_status dh_incremental_session(dh_model *model, dh_loss *loss, const dh_dataset *new_data,
                                 dh_index *index, const float *index_labels,
                                 const dh_dataset *index_images,
                                 const dh_trainer_options *train_opts,
                                 const dh_incremental_options *opts, int64_t *out_first_id)
{
    DH_CHECK_ARG(model != NULL && loss != NULL && new_data != NULL && index != NULL);
    dh_incremental_options o;
    dh_incremental_options_init(&o);
    if (opts) DH_TRY(dh__options_copy(&o, sizeof o, opts, "dh_incremental_options"));
    DH_TRY(check_args(model, loss, new_data, index, index_images, &o));
    int64_t first = o.first_id;
    if (first < 0) DH_TRY(next_id(index, &first));
    const size_t n = dh_dataset_count(new_data);
    DH_CHECK_ARG_MSG((uint64_t)first <= (uint64_t)INT64_MAX - n, "dh_incremental_session: "
                     "ids from %lld overflow", (long long)first);
    /* old images in training: all, or old_samples drawn with the trainer's seed */
    const size_t n_old = dh_index_count(index), m = old_in_train(index_images, n_old, &o);
    int64_t *order = NULL;
    dh_dataset *old_sub = NULL;
    if (index_images && m < n_old) {
        uint64_t seed = 1;
        if (train_opts && train_opts->struct_size >= offsetof(dh_trainer_options, seed) +
                                                         sizeof train_opts->seed)
            seed = train_opts->seed;
        DH_TRY(sample_order(n_old, m, seed, &order));
    }
    dh_status st0 = order ? dh_dataset_subset(index_images, order, m, &old_sub) : DH_OK;
    if (st0 == DH_OK && dh__loss_has_fixed(loss))
        st0 = set_fixed_rows(loss, index, index_labels, order, m);
    if (st0 == DH_OK)
        st0 = fine_tune(model, loss, new_data, index, order ? old_sub : index_images,
                        train_opts, &o);
    dh__free(order);
    dh_dataset_free(old_sub);
    DH_TRY(st0);

    size_t cb = dh_code_bytes(loss->K);
    uint8_t *codes = dh__alloc(n * cb);
    int64_t *ids = dh__alloc(n * sizeof(int64_t));
    dh_status st = (codes && ids) ? DH_OK : DH_E_NO_MEMORY;
    if (st == DH_OK) st = new_item_codes(model, loss, new_data, o.new_codes, codes);
    for (size_t i = 0; st == DH_OK && i < n; i++) ids[i] = first + (int64_t)i;
    /* the only write to the index: an append (all rows or, on failure, none) */
    if (st == DH_OK) st = dh_index_add_with_ids(index, codes, n, ids);
    if (st == DH_OK && out_first_id) *out_first_id = first;
    dh__free(codes);
    dh__free(ids);
    return st;
}
