/* lib/loss/loss.c -- the public loss API: method table, options with per-method
 * defaults, batch validation (the tensor registry is in tensors.c). */
#include "loss/loss.h"
#include "loss/unsup.h"
#include "loss/weak.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const dh__loss_method *const methods[] = {
    &dh__loss_dpsh,     &dh__loss_hashnet,  &dh__loss_dch,        &dh__loss_dsh,
    &dh__loss_dtsh,     &dh__loss_triplet,  &dh__loss_adsh,       &dh__loss_greedyhash,
    &dh__loss_csq,      &dh__loss_dpn,      &dh__loss_orthohash,  &dh__loss_mdsh,
    &dh__loss_sprch,    &dh__loss_twostage,
    &dh__loss_dihn,     &dh__loss_dih,      /* incremental.c */
    &dh__loss_lthnet,   &dh__loss_dualproxy, /* longtail.c */
    &dh__loss_cibhash,  &dh__loss_bihalf,   &dh__loss_ssdh,       &dh__loss_kmeans,
    &dh__loss_sgh,      &dh__loss_lsh,      &dh__loss_pcah,       &dh__loss_itq, /* unsup.h */
    &dh__loss_wdht,     &dh__loss_tagrefine, /* weak.h (tags only) */
};
#define N_METHODS (sizeof methods / sizeof methods[0])

size_t dh_loss_method_count(void) { return N_METHODS; }

const char *dh_loss_method_name(size_t i) { return i < N_METHODS ? methods[i]->name : NULL; }

void dh_loss_options_init(dh_loss_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->seed = 1;
    o->variant = o->schedule = o->centers = o->update_every = -1;
    o->n_epochs = o->sweeps = 0;
    o->quant_weight = o->scale = o->margin = o->gamma = o->tau = NAN;
    o->pos_weight = o->pair_weight = o->center_weight = NAN;
    o->cb_beta = NAN;
}

static const dh__loss_method *find_method(const char *name)
{
    char low[32];
    size_t n = strlen(name);
    if (n >= sizeof low) return NULL;
    for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)name[i]);
    for (size_t i = 0; i < N_METHODS; i++)
        if (strcmp(methods[i]->name, low) == 0) return methods[i];
    return NULL;
}

uint32_t dh_loss_method_flags(const char *method)
{
    const dh__loss_method *m = method ? find_method(method) : NULL;
    return m ? m->flags : 0;
}

/* The 1.2 name for the tag bit alone; kept (released ABI) as an alias. */
uint32_t dh_loss_method_tag_flags(const char *method)
{
    return dh_loss_method_flags(method) & DH_LOSS_FLAG_TAGS;
}

static dh_status unknown_method(const char *name)
{
    char list[256];
    size_t off = 0;
    for (size_t i = 0; i < N_METHODS && off < sizeof list; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                                methods[i]->name);
    return dh__set_error(DH_E_NOT_FOUND, "dh_loss_create: unknown method '%.40s'; valid: %s",
                         name, list);
}

/* Fields left at "default" take the method's values; the rest must be sane. */
static dh_status check_options(const dh_loss_options *o, const char *m)
{
    const double v[] = {o->quant_weight, o->scale, o->margin, o->gamma, o->tau,
                        o->pos_weight, o->pair_weight, o->center_weight};
    const char *nm[] = {"quant_weight", "scale", "margin", "gamma", "tau",
                        "pos_weight", "pair_weight", "center_weight"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!isfinite(v[i]) || v[i] < 0)
            return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(%s): option %s = %g must be "
                                 "finite and >= 0", m, nm[i], v[i]);
    if (!(o->cb_beta >= 0 && o->cb_beta < 1))
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(%s): option cb_beta = %g must be "
                             "in [0, 1)", m, o->cb_beta);
    if (o->tau <= 0 || o->gamma <= 0)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(%s): tau and gamma must be > 0",
                             m);
    if (o->centers < 0 || o->centers > DH_CENTERS_GV)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(%s): centers = %d unknown", m,
                             o->centers);
    if (o->variant < 0 || o->variant > 2 || o->schedule < 0 || o->schedule > 2)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(%s): variant %d / schedule %d "
                             "out of range", m, o->variant, o->schedule);
    if (o->n_epochs <= 0 || o->update_every < 0 || o->sweeps <= 0 || o->sweeps > 1000)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(%s): n_epochs %d, update_every "
                             "%d or sweeps %d out of range", m, o->n_epochs, o->update_every,
                             o->sweeps);
    return DH_OK;
}

static void apply_defaults(dh_loss_options *o, const dh__loss_method *m)
{
    dh_loss_options d;
    dh_loss_options_init(&d);
    /* generic fallbacks for fields a method does not use (keeps checks uniform) */
    d.variant = d.schedule = 0;
    d.centers = DH_CENTERS_AUTO;
    d.n_epochs = 100;
    d.update_every = 0;
    d.sweeps = 10;
    d.quant_weight = 0;
    d.scale = 1;
    d.margin = 0;
    d.gamma = 1;
    d.tau = 1;
    d.pos_weight = 1;
    d.pair_weight = 1;
    d.center_weight = 1;
    d.cb_beta = 0;
    m->defaults(&d, o->n_bits, o->n_classes);
#define DEF_I(f) if (o->f < 0) o->f = d.f
#define DEF_Z(f) if (o->f == 0) o->f = d.f
#define DEF_D(f) if (isnan(o->f)) o->f = d.f
    DEF_I(variant); DEF_I(schedule); DEF_I(centers); DEF_I(update_every);
    DEF_Z(n_epochs); DEF_Z(sweeps);
    DEF_D(quant_weight); DEF_D(scale); DEF_D(margin); DEF_D(gamma); DEF_D(tau);
    DEF_D(pos_weight); DEF_D(pair_weight); DEF_D(center_weight); DEF_D(cb_beta);
#undef DEF_I
#undef DEF_Z
#undef DEF_D
}

dh_status dh_loss_create(const char *method, const dh_loss_options *opts, dh_loss **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(method != NULL);
    DH_CHECK_ARG_MSG(opts != NULL, "dh_loss_create: opts is NULL (n_bits and n_classes are "
                     "required; use dh_loss_options_init)");
    const dh__loss_method *m = find_method(method);
    if (!m) return unknown_method(method);
    dh_loss_options o;
    dh_loss_options_init(&o);
    DH_TRY(dh__options_copy(&o, sizeof o, opts, "dh_loss_options"));
    if (!dh__bits_valid(o.n_bits)) {
        dh__check_bits(o.n_bits, "dh_loss_create");
        dh__error_prefix("dh_loss_create(%s)", m->name);
        return DH_E_INVALID_ARG;
    }
    if (dh__method_unsup_flags(m) && o.n_classes == 0) o.n_classes = dh__unsup_default_classes(m);
    if (o.n_classes < 1 || o.n_classes > 65536)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(%s): n_classes = %u, want "
                             "1..65536", m->name, o.n_classes);
    if (m->needs_index && (o.n_train == 0 || o.n_train > ((uint64_t)1 << 32)))
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(%s): n_train = %llu; this method "
                             "keeps per-sample state and needs the training-set size (1..2^32)",
                             m->name, (unsigned long long)o.n_train);
    if (o.n_train > ((uint64_t)1 << 32))
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_create(%s): n_train too large", m->name);
    apply_defaults(&o, m);
    DH_TRY(check_options(&o, m->name));
    dh_loss *L = dh__calloc(1, sizeof *L);
    if (!L) return DH_E_NO_MEMORY;
    L->m = m;
    L->o = o;
    L->K = o.n_bits;
    L->C = o.n_classes;
    L->N = (size_t)o.n_train;
    L->epoch = -1;
    L->beta = 1.0f;
    L->rng = o.seed ^ 0x9e3779b97f4a7c15ull;
    dh_status st = m->create ? m->create(L) : DH_OK;
    if (st != DH_OK) {
        dh_loss_free(L);
        return st;
    }
    *out = L;
    return DH_OK;
}

void dh_loss_free(dh_loss *L)
{
    if (!L) return;
    if (L->m && L->m->destroy) L->m->destroy(L);
    for (size_t i = 0; i < L->n_tensors; i++) {
        dh__free((void *)L->t[i].name);
        dh__free_aligned(L->t[i].data);
        dh__free_aligned(L->t[i].grad);
    }
    dh__free(L->train_Y);
    dh__free(L->class_counts);
    dh__free(L);
}

/* ---- hints -------------------------------------------------------------- */

dh_status dh_loss_head_hint(const dh_loss *L, int32_t *activation, float *beta)
{
    DH_CHECK_ARG(L != NULL);
    if (activation) *activation = L->m->head;
    if (beta) *beta = L->m->head == DH_LOSS_HEAD_SCALED_TANH ? L->beta : 1.0f;
    return DH_OK;
}

dh_status dh_loss_get_recipe(const dh_loss *L, dh_loss_recipe *r)
{
    DH_CHECK_ARG(L != NULL && r != NULL);
    DH_CHECK_ARG_MSG(r->struct_size >= sizeof(size_t), "dh_loss_get_recipe: recipe->struct_size "
                     "%zu not set", r->struct_size);
    return dh__loss_recipe_default(L->m->name, r); /* the table, lib/loss/recipe.c */
}

dh_status dh_loss_get_options(const dh_loss *L, dh_loss_options *o)
{
    DH_CHECK_ARG(L != NULL && o != NULL);
    size_t want = o->struct_size;
    DH_CHECK_ARG_MSG(want >= sizeof(size_t), "dh_loss_get_options: opts->struct_size %zu "
                     "not set", want);
    memcpy((char *)o + sizeof(size_t), (const char *)&L->o + sizeof(size_t),
           (want < sizeof L->o ? want : sizeof L->o) - sizeof(size_t));
    return DH_OK;
}

/* ---- lifecycle ---------------------------------------------------------- */

dh_status dh_loss_init(dh_loss *L, const float *train_labels, size_t n_train,
                       const int64_t *class_counts)
{
    DH_CHECK_ARG(L != NULL);
    if (dh__method_unsup_flags(L->m)) train_labels = NULL, class_counts = NULL; /* never read */
    if (train_labels) {
        if (n_train != L->N)
            return dh__set_error(DH_E_SHAPE, "dh_loss_init(%s): %zu label rows but n_train = "
                                 "%zu", L->m->name, n_train, L->N);
        size_t n = n_train * L->C;
        for (size_t i = 0; i < n; i++)
            if (train_labels[i] != 0.0f && train_labels[i] != 1.0f)
                return dh__set_error(DH_E_INVALID_ARG, "dh_loss_init: train_labels[%zu][%zu] = "
                                     "%g is not 0 or 1", i / L->C, i % L->C,
                                     (double)train_labels[i]);
        float *y = dh__alloc((n ? n : 1) * sizeof(float));
        if (!y) return DH_E_NO_MEMORY;
        memcpy(y, train_labels, n * sizeof(float));
        dh__free(L->train_Y);
        L->train_Y = y;
    }
    if (class_counts) {
        for (uint32_t c = 0; c < L->C; c++)
            if (class_counts[c] < 0)
                return dh__set_error(DH_E_INVALID_ARG, "dh_loss_init: class_counts[%u] = %lld "
                                     "is negative", c, (long long)class_counts[c]);
        int64_t *cc = dh__alloc(L->C * sizeof(int64_t));
        if (!cc) return DH_E_NO_MEMORY;
        memcpy(cc, class_counts, L->C * sizeof(int64_t));
        dh__free(L->class_counts);
        L->class_counts = cc;
    }
    return L->m->init ? L->m->init(L) : DH_OK;
}

dh_status dh_loss_epoch_begin(dh_loss *L, int32_t epoch)
{
    DH_CHECK_ARG(L != NULL);
    DH_CHECK_ARG_MSG(epoch >= 0, "dh_loss_epoch_begin: epoch %d is negative", epoch);
    L->epoch = epoch;
    return L->m->epoch_begin ? L->m->epoch_begin(L, epoch) : DH_OK;
}

/* Validate labels / class ids / indices and produce the B x C label matrix. */
static dh_status check_batch(dh_loss *L, const float *U, size_t B, const float *labels,
                             const int32_t *class_ids, const int64_t *indices, float *Y,
                             int32_t *cls)
{
    const size_t K = L->K, C = L->C;
    const char *m = L->m->name;
    for (size_t i = 0; i < B * K; i++)
        if (!isfinite(U[i]))
            return dh__set_error(DH_E_INVALID_ARG, "dh_loss_forward_backward(%s): U[%zu][%zu] "
                                 "is not finite", m, i / K, i % K);
    if (labels) {
        memcpy(Y, labels, B * C * sizeof(float));
    } else {
        memset(Y, 0, B * C * sizeof(float));
        for (size_t i = 0; i < B; i++) {
            if (class_ids[i] < 0 || (uint32_t)class_ids[i] >= C)
                return dh__set_error(DH_E_INVALID_ARG, "dh_loss_forward_backward(%s): "
                                     "class_ids[%zu] = %d not in [0, %zu)", m, i, class_ids[i],
                                     C);
            Y[i * C + (size_t)class_ids[i]] = 1.0f;
        }
    }
    for (size_t i = 0; i < B; i++) {
        int n_pos = 0;
        for (size_t c = 0; c < C; c++) {
            float v = Y[i * C + c];
            if (v != 0.0f && v != 1.0f)
                return dh__set_error(DH_E_INVALID_ARG, "dh_loss_forward_backward(%s): "
                                     "labels[%zu][%zu] = %g is not 0 or 1", m, i, c, (double)v);
            if (v == 1.0f) {
                if (n_pos == 0) cls[i] = (int32_t)c;
                n_pos++;
            }
        }
        if (n_pos != 1) cls[0] = -1; /* marks "not all single-label" */
        if (n_pos != 1 && L->m->single_label)
            return dh__set_error(DH_E_INVALID_ARG, "dh_loss_forward_backward(%s): row %zu has "
                                 "%d classes; this method is single-label (one class per "
                                 "sample)", m, i, n_pos);
    }
    if (L->m->needs_index && !indices)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_forward_backward(%s): indices are "
                             "required (training-set positions of the batch rows)", m);
    if (indices && L->N)
        for (size_t i = 0; i < B; i++)
            if (indices[i] < 0 || (uint64_t)indices[i] >= (uint64_t)L->N)
                return dh__set_error(DH_E_INVALID_ARG, "dh_loss_forward_backward(%s): "
                                     "indices[%zu] = %lld not in [0, n_train = %zu)", m, i,
                                     (long long)indices[i], L->N);
    return DH_OK;
}

dh_status dh_loss_forward_backward(dh_loss *L, const float *U, size_t B, const float *labels,
                                   const int32_t *class_ids, const int64_t *indices, float *dU,
                                   double *value)
{
    DH_CHECK_ARG(L != NULL && U != NULL && dU != NULL);
    if (dh__method_unsup_flags(L->m) && B > 0 && B <= (1u << 20)) /* labels are not looked at */
        return dh__unsup_forward_backward(L, U, B, indices, dU, value);
    DH_CHECK_ARG_MSG(B > 0 && B <= (1u << 20), "dh_loss_forward_backward(%s): batch size %zu "
                     "not in 1..2^20", L->m->name, B);
    DH_CHECK_ARG_MSG(labels != NULL || class_ids != NULL, "dh_loss_forward_backward(%s): "
                     "labels and class_ids are both NULL", L->m->name);
    float *Y = dh__alloc(B * L->C * sizeof(float));
    int32_t *cls = dh__alloc(B * sizeof(int32_t));
    dh_status st = DH_E_NO_MEMORY;
    if (!Y || !cls) goto done;
    cls[0] = 0;
    st = check_batch(L, U, B, labels, class_ids, indices, Y, cls);
    if (st != DH_OK) goto done;
    /* methods that keep no per-sample state ignore indices when n_train is 0 */
    dh__loss_batch b = {U, B, Y, cls[0] >= 0 ? cls : NULL, L->N ? indices : NULL, dU};
    for (size_t i = 0; i < L->n_params; i++) memset(L->t[i].grad, 0, L->t[i].n * sizeof(float));
    double v = 0;
    st = L->m->fb(L, &b, &v);
    if (st == DH_OK && !isfinite(v))
        st = dh__set_error(DH_E_INTERNAL, "dh_loss_forward_backward(%s): value is not finite",
                           L->m->name);
    if (st == DH_OK && !L->frozen) L->iter++;
    if (st == DH_OK && value) *value = v;
done:
    dh__free(Y);
    dh__free(cls);
    return st;
}
