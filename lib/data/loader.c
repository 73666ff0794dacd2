/* lib/data/loader.c -- dh_loader: shuffled, augmented mini-batches prepared by a small
 * pthread pool, optionally one batch ahead (prefetch) while the caller computes.
 *
 * Determinism: the order of epoch e is a permutation drawn from (seed, e); sample i's
 * augmentation draws from (seed, e, i, view). Workers take samples from an atomic
 * counter, but each writes only its own rows, so the output never depends on timing.
 * One job is in flight at a time; the caller reuses a job only once every worker has
 * left it (busy == 0), so the job fields are never written while a worker reads them. */
#include "data/data.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct job {
    uint64_t epoch, batch;
    size_t n; /* samples in this batch */
    float *x, *x2, *labels;
    int32_t *cls;
    int64_t *idx;
    atomic_size_t next;
    atomic_int cancel;
    atomic_int failed;
    size_t done;
    dh_status st;
    char msg[512];
} job;

typedef struct worker {
    struct dh_loader *L;
    uint8_t *img;
    dh__aug_scratch sc;
    pthread_t th;
} worker;

struct dh_loader {
    dh_dataset *ds;
    dh_loader_options o;
    dh__aug_params ap;
    size_t sample_floats, img_bytes;
    uint32_t C, out_c;
    uint64_t bpe, epoch, batch;
    int64_t *perm;
    uint64_t perm_epoch;
    int perm_valid;
    int n_workers, threaded;
    worker *w;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    uint64_t job_seq;
    job *active;
    int busy, stop;
    job pf; /* prefetch job with internal buffers */
    int pf_posted;
};

/* ---- one sample ---- */

static void job_fail(dh_loader *L, job *j, dh_status st)
{
    pthread_mutex_lock(&L->mu);
    if (j->st == DH_OK) {
        j->st = st;
        atomic_store(&j->failed, 1);
        snprintf(j->msg, sizeof j->msg, "%s", dh_last_error());
    }
    pthread_mutex_unlock(&L->mu);
}

static void fill_sample(dh_loader *L, worker *w, job *j, size_t k)
{
    const dh_dataset *ds = L->ds;
    uint64_t pos = j->batch * L->o.batch_size + k;
    size_t i = L->o.shuffle ? (size_t)L->perm[pos] : (size_t)pos;
    size_t sf = L->sample_floats, C = L->C;
    size_t src = (size_t)dh__ds_src_index(ds, i);
    if (j->labels && C) memcpy(j->labels + k * C, ds->labels + i * C, C * sizeof(float));
    if (j->cls) j->cls[k] = ds->class_ids[i];
    if (j->idx) j->idx[k] = (int64_t)i;
    dh_status st;
    if (!ds->src->is_image) {
        st = dh__source_features(ds->src, src, j->x + k * sf);
        if (st == DH_OK && j->x2) memcpy(j->x2 + k * sf, j->x + k * sf, sf * sizeof(float));
        if (st != DH_OK) job_fail(L, j, st);
        return;
    }
    const dh__source *s = ds->src;
    st = dh__source_image(ds->src, src, w->img);
    for (uint64_t v = 0; st == DH_OK && v < (j->x2 ? 2u : 1u); v++) {
        dh__rng r = dh__rng_derive(L->o.seed, j->epoch, (uint64_t)i, v);
        st = dh__augment(w->img, s->height, s->width, s->channels, &L->ap, &r, &w->sc,
                         (v ? j->x2 : j->x) + k * sf);
    }
    if (st != DH_OK) job_fail(L, j, st);
}

static size_t run_share(dh_loader *L, worker *w, job *j)
{
    size_t k, mine = 0;
    while ((k = atomic_fetch_add(&j->next, 1)) < j->n) {
        if (!atomic_load(&j->cancel) && !atomic_load(&j->failed)) fill_sample(L, w, j, k);
        mine++;
    }
    return mine;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    dh_loader *L = w->L;
    uint64_t seen = 0;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        while (!L->stop && L->job_seq == seen) pthread_cond_wait(&L->cv_work, &L->mu);
        if (L->stop) break;
        seen = L->job_seq;
        job *j = L->active;
        L->busy++;
        pthread_mutex_unlock(&L->mu);
        size_t mine = run_share(L, w, j);
        pthread_mutex_lock(&L->mu);
        j->done += mine;
        L->busy--;
        if (j->done >= j->n && L->busy == 0) pthread_cond_broadcast(&L->cv_done);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

/* ---- jobs ---- */

static dh_status ensure_perm(dh_loader *L, uint64_t epoch)
{
    if (!L->o.shuffle || (L->perm_valid && L->perm_epoch == epoch)) return DH_OK;
    size_t n = L->ds->n;
    for (size_t i = 0; i < n; i++) L->perm[i] = (int64_t)i;
    dh__rng r = dh__rng_derive(L->o.seed, epoch, 0x5E0F1E5u, 0);
    dh__shuffle_i64(L->perm, n, &r);
    L->perm_epoch = epoch, L->perm_valid = 1;
    return DH_OK;
}

static size_t batch_len(const dh_loader *L, uint64_t b)
{
    size_t start = (size_t)b * L->o.batch_size, n = L->ds->n - start;
    return n < L->o.batch_size ? n : L->o.batch_size;
}

/* Start job j for (epoch, batch); workers (or nobody, if unthreaded) pick it up. */
static void post(dh_loader *L, job *j, uint64_t epoch, uint64_t batch)
{
    ensure_perm(L, epoch); /* no worker is inside a job here */
    j->epoch = epoch, j->batch = batch, j->n = batch_len(L, batch);
    atomic_store(&j->next, 0);
    atomic_store(&j->cancel, 0);
    atomic_store(&j->failed, 0);
    j->done = 0, j->st = DH_OK, j->msg[0] = '\0';
    if (!L->threaded) return;
    pthread_mutex_lock(&L->mu);
    L->active = j;
    L->job_seq++;
    pthread_cond_broadcast(&L->cv_work);
    pthread_mutex_unlock(&L->mu);
}

static dh_status wait_job(dh_loader *L, job *j)
{
    if (!L->threaded) {
        j->done = run_share(L, &L->w[0], j);
    } else {
        pthread_mutex_lock(&L->mu);
        while (!(j->done >= j->n && L->busy == 0)) pthread_cond_wait(&L->cv_done, &L->mu);
        pthread_mutex_unlock(&L->mu);
    }
    if (j->st != DH_OK) return dh__set_error(j->st, "%s", j->msg);
    return DH_OK;
}

static void drain(dh_loader *L)
{
    if (!L->pf_posted) return;
    atomic_store(&L->pf.cancel, 1);
    wait_job(L, &L->pf);
    L->pf_posted = 0;
}

static void copy_out(const dh_loader *L, const job *j, float *x, float *x2, float *labels,
                     int32_t *cls, int64_t *idx)
{
    size_t n = j->n;
    memcpy(x, j->x, n * L->sample_floats * sizeof(float));
    if (x2) memcpy(x2, j->x2, n * L->sample_floats * sizeof(float));
    if (labels && L->C) memcpy(labels, j->labels, n * L->C * sizeof(float));
    if (cls) memcpy(cls, j->cls, n * sizeof(int32_t));
    if (idx) memcpy(idx, j->idx, n * sizeof(int64_t));
}

dh_status dh_loader_next(dh_loader *L, float *x, float *x2, float *labels, int32_t *class_ids,
                         int64_t *indices, size_t *n_out)
{
    DH_CHECK_ARG(n_out != NULL);
    *n_out = 0;
    DH_CHECK_ARG(L != NULL && x != NULL);
    DH_CHECK_ARG_MSG(!x2 || L->o.two_views, "dh_loader_next: x2 given but two_views is off");
    if (L->batch >= L->bpe) { /* end of epoch: report it once, then move on */
        L->epoch++, L->batch = 0;
        return DH_OK;
    }
    dh_status st;
    if (L->o.prefetch) {
        if (!L->pf_posted || L->pf.epoch != L->epoch || L->pf.batch != L->batch) {
            drain(L);
            post(L, &L->pf, L->epoch, L->batch);
        }
        L->pf_posted = 0;
        DH_TRY(wait_job(L, &L->pf));
        copy_out(L, &L->pf, x, x2, labels, class_ids, indices);
        *n_out = L->pf.n;
    } else {
        job j = {0};
        j.x = x, j.x2 = x2, j.labels = labels, j.cls = class_ids, j.idx = indices;
        post(L, &j, L->epoch, L->batch);
        st = wait_job(L, &j);
        if (st != DH_OK) return st;
        *n_out = j.n;
    }
    L->batch++;
    if (L->o.prefetch) { /* start the batch after this one */
        uint64_t e = L->epoch, b = L->batch;
        if (b >= L->bpe) e++, b = 0;
        post(L, &L->pf, e, b);
        L->pf_posted = 1;
    }
    return DH_OK;
}

dh_status dh_loader_seek(dh_loader *L, uint64_t epoch, uint64_t batch)
{
    DH_CHECK_ARG(L != NULL);
    if (batch > L->bpe)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loader_seek: batch %llu is past the %llu "
                             "batches of an epoch", (unsigned long long)batch,
                             (unsigned long long)L->bpe);
    drain(L);
    L->epoch = epoch, L->batch = batch;
    return DH_OK;
}

dh_status dh_loader_set_epoch(dh_loader *L, uint64_t epoch) { return dh_loader_seek(L, epoch, 0); }

const dh_loader_options *dh__loader_options(const dh_loader *L) { return L ? &L->o : NULL; }
dh_status dh_loader_reset(dh_loader *L) { return dh_loader_seek(L, 0, 0); }

/* ---- creation ---- */

void dh_loader_options_init(dh_loader_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->batch_size = 64;
    o->shuffle = 1;
    o->prefetch = 1;
    o->crop_padding = 4;
    o->flip_prob = 0.5f;
    o->scale_min = 0.08f, o->scale_max = 1.0f;
    o->ratio_min = 3.0f / 4.0f, o->ratio_max = 4.0f / 3.0f;
    o->brightness = o->contrast = o->saturation = 0.4f;
    o->grayscale_prob = 0.2f;
    o->resize_ratio = 0.875f;
    for (int k = 0; k < 4; k++) o->std[k] = 1.0f;
    o->blur_prob = 0.5f;
}

static dh_status check_image_opts(const dh_loader_options *o, const dh__source *s)
{
    uint32_t oh = o->out_height, ow = o->out_width;
    DH_CHECK_ARG_MSG(oh <= 16384 && ow <= 16384, "dh_loader_create: output %ux%u too large", oh,
                     ow);
    if ((o->augment & DH_AUG_RANDOM_CROP) &&
        ((uint64_t)s->height + 2u * o->crop_padding < oh ||
         (uint64_t)s->width + 2u * o->crop_padding < ow))
        return dh__set_error(DH_E_INVALID_ARG, "dh_loader_create: random crop %ux%u does not fit "
                             "the %ux%u image padded by %u", oh, ow, s->height, s->width,
                             o->crop_padding);
    DH_CHECK_ARG_MSG(o->crop_padding <= 4096, "dh_loader_create: crop_padding %u too large",
                     o->crop_padding);
    DH_CHECK_ARG_MSG(o->scale_min > 0 && o->scale_min <= o->scale_max && o->scale_max <= 1,
                     "dh_loader_create: need 0 < scale_min <= scale_max <= 1");
    DH_CHECK_ARG_MSG(o->ratio_min > 0 && o->ratio_min <= o->ratio_max,
                     "dh_loader_create: need 0 < ratio_min <= ratio_max");
    DH_CHECK_ARG_MSG(o->resize_ratio > 0 && o->resize_ratio <= 1,
                     "dh_loader_create: resize_ratio must be in (0, 1]");
    DH_CHECK_ARG_MSG(o->brightness >= 0 && o->brightness <= 1 && o->contrast >= 0 &&
                     o->contrast <= 1 && o->saturation >= 0 && o->saturation <= 1,
                     "dh_loader_create: jitter strengths must be in [0, 1]");
    DH_CHECK_ARG_MSG(o->flip_prob >= 0 && o->flip_prob <= 1 && o->grayscale_prob >= 0 &&
                     o->grayscale_prob <= 1 && o->blur_prob >= 0 && o->blur_prob <= 1,
                     "dh_loader_create: flip_prob, grayscale_prob and blur_prob must be in "
                     "[0, 1]");
    for (uint32_t k = 0; k < s->channels; k++)
        DH_CHECK_ARG_MSG(o->std[k] > 0, "dh_loader_create: std[%u] must be > 0", k);
    return DH_OK;
}

static dh_status check_opts(const dh_loader_options *o, const dh_dataset *ds)
{
    DH_CHECK_ARG_MSG(ds->n > 0, "dh_loader_create: the dataset is empty");
    DH_CHECK_ARG_MSG(o->batch_size > 0 && o->batch_size <= (1u << 20),
                     "dh_loader_create: batch_size %u must be 1..2^20", o->batch_size);
    DH_CHECK_ARG_MSG(!o->drop_last || ds->n >= o->batch_size,
                     "dh_loader_create: drop_last with %zu samples < batch_size %u", ds->n,
                     o->batch_size);
    DH_CHECK_ARG_MSG(o->n_threads <= 256, "dh_loader_create: n_threads %u > 256", o->n_threads);
    const uint32_t known = DH_AUG_RESIZED_CROP | DH_AUG_RANDOM_CROP | DH_AUG_CENTER_CROP |
                           DH_AUG_FLIP | DH_AUG_COLOR_JITTER | DH_AUG_GRAYSCALE |
                           DH_AUG_BLUR;
    DH_CHECK_ARG_MSG((o->augment & ~known) == 0, "dh_loader_create: unknown augment flags 0x%x",
                     o->augment & ~known);
    if (!ds->src->is_image) {
        DH_CHECK_ARG_MSG(o->augment == 0 && o->out_height == 0 && o->out_width == 0,
                         "dh_loader_create: augmentations and output sizes need an image dataset");
        return DH_OK;
    }
    return check_image_opts(o, ds->src);
}

static void set_aug(dh_loader *L)
{
    const dh_loader_options *o = &L->o;
    dh__aug_params *p = &L->ap;
    p->flags = o->augment, p->out_h = o->out_height, p->out_w = o->out_width;
    p->pad = o->crop_padding, p->flip_prob = o->flip_prob;
    p->scale_min = o->scale_min, p->scale_max = o->scale_max;
    p->ratio_min = o->ratio_min, p->ratio_max = o->ratio_max;
    p->brightness = o->brightness, p->contrast = o->contrast, p->saturation = o->saturation;
    p->gray_prob = o->grayscale_prob, p->resize_ratio = o->resize_ratio;
    p->blur_prob = o->blur_prob;
    for (int k = 0; k < 4; k++) p->mean[k] = o->mean[k], p->inv_std[k] = 1.0f / o->std[k];
}

static dh_status alloc_buffers(dh_loader *L)
{
    size_t B = L->o.batch_size, n = L->ds->n;
    L->perm = dh__alloc(n * sizeof(int64_t));
    L->w = dh__calloc((size_t)L->n_workers, sizeof(worker));
    if (!L->perm || !L->w) return DH_E_NO_MEMORY;
    for (int t = 0; t < L->n_workers; t++) {
        L->w[t].L = L;
        if (L->img_bytes && !(L->w[t].img = dh__alloc(L->img_bytes))) return DH_E_NO_MEMORY;
    }
    if (!L->o.prefetch) return DH_OK;
    job *j = &L->pf;
    j->x = dh__alloc_aligned(B * L->sample_floats * sizeof(float), 64);
    j->x2 = L->o.two_views ? dh__alloc_aligned(B * L->sample_floats * sizeof(float), 64) : NULL;
    j->labels = dh__alloc(B * L->C * sizeof(float) + 1);
    j->cls = dh__alloc(B * sizeof(int32_t));
    j->idx = dh__alloc(B * sizeof(int64_t));
    if (!j->x || (L->o.two_views && !j->x2) || !j->labels || !j->cls || !j->idx)
        return DH_E_NO_MEMORY;
    return DH_OK;
}

static dh_status start_threads(dh_loader *L)
{
    if (!L->threaded) return DH_OK;
    for (int t = 0; t < L->n_workers; t++)
        if (pthread_create(&L->w[t].th, NULL, worker_main, &L->w[t]) != 0) {
            L->n_workers = t; /* free() joins the ones that started */
            return dh__set_error(DH_E_NO_MEMORY, "dh_loader_create: cannot start thread %d", t);
        }
    return DH_OK;
}

dh_status dh_loader_create(const dh_dataset *ds, const dh_loader_options *opts, dh_loader **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(ds != NULL);
    dh_loader_options o;
    dh_loader_options_init(&o);
    DH_TRY(dh__options_copy(&o, sizeof o, opts, "dh_loader_options"));
    if (ds->src->is_image && !o.out_height) o.out_height = ds->src->height;
    if (ds->src->is_image && !o.out_width) o.out_width = ds->src->width;
    DH_TRY(check_opts(&o, ds));
    dh_loader *L = dh__calloc(1, sizeof *L);
    if (!L) return DH_E_NO_MEMORY;
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv_work, NULL);
    pthread_cond_init(&L->cv_done, NULL);
    L->o = o;
    L->C = ds->n_classes;
    const dh__source *s = ds->src;
    L->out_c = s->is_image ? s->channels : 0;
    L->sample_floats = s->is_image ? (size_t)s->channels * o.out_height * o.out_width : s->dim;
    L->img_bytes = s->is_image ? (size_t)s->height * s->width * s->channels : 0;
    L->bpe = o.drop_last ? ds->n / o.batch_size : (ds->n + o.batch_size - 1) / o.batch_size;
    int nt = o.n_threads ? (int)o.n_threads : dh__num_threads();
    if (!o.n_threads && nt > 4) nt = 4;
    L->n_workers = nt < 1 ? 1 : nt;
    L->threaded = o.prefetch || L->n_workers > 1;
    set_aug(L);
    /* the loader's own view of ds: shares its storage, so ds may be freed first */
    int64_t *iota = dh__alloc(ds->n * sizeof(int64_t));
    dh_status st = iota ? DH_OK : DH_E_NO_MEMORY;
    for (size_t i = 0; st == DH_OK && i < ds->n; i++) iota[i] = (int64_t)i;
    if (st == DH_OK) st = dh__dataset_pick(ds, iota, ds->n, ds->n_classes, NULL, &L->ds);
    dh__free(iota);
    if (st == DH_OK) st = alloc_buffers(L);
    if (st == DH_OK) st = start_threads(L);
    if (st != DH_OK) {
        dh_loader_free(L);
        return st;
    }
    *out = L;
    return DH_OK;
}

void dh_loader_free(dh_loader *L)
{
    if (!L) return;
    if (L->threaded && L->w) {
        drain(L);
        pthread_mutex_lock(&L->mu);
        L->stop = 1;
        pthread_cond_broadcast(&L->cv_work);
        pthread_mutex_unlock(&L->mu);
        for (int t = 0; t < L->n_workers; t++) pthread_join(L->w[t].th, NULL);
    }
    for (int t = 0; L->w && t < L->n_workers; t++) {
        dh__free(L->w[t].img);
        dh__aug_scratch_free(&L->w[t].sc);
    }
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->cv_work);
    pthread_cond_destroy(&L->cv_done);
    dh__free(L->w);
    dh__free(L->perm);
    dh__free_aligned(L->pf.x);
    dh__free_aligned(L->pf.x2);
    dh__free(L->pf.labels);
    dh__free(L->pf.cls);
    dh__free(L->pf.idx);
    dh_dataset_free(L->ds);
    dh__free(L);
}

/* ---- getters ---- */

size_t dh_loader_sample_floats(const dh_loader *L) { return L ? L->sample_floats : 0; }
size_t dh_loader_batch_floats(const dh_loader *L)
{
    return L ? L->sample_floats * L->o.batch_size : 0;
}
uint32_t dh_loader_batch_size(const dh_loader *L) { return L ? L->o.batch_size : 0; }
uint32_t dh_loader_n_classes(const dh_loader *L) { return L ? L->C : 0; }
uint32_t dh_loader_channels(const dh_loader *L) { return L ? L->out_c : 0; }
uint32_t dh_loader_height(const dh_loader *L) { return L && L->out_c ? L->o.out_height : 0; }
uint32_t dh_loader_width(const dh_loader *L) { return L && L->out_c ? L->o.out_width : 0; }
uint64_t dh_loader_batches_per_epoch(const dh_loader *L) { return L ? L->bpe : 0; }

void dh_loader_position(const dh_loader *L, uint64_t *epoch, uint64_t *batch)
{
    if (epoch) *epoch = L ? L->epoch : 0;
    if (batch) *batch = L ? L->batch : 0;
}

/* Declared with the loader (dh.h data section), so both builds export it. */
int32_t dh_crop_padding_default(uint32_t height, uint32_t width)
{
    uint32_t m = height < width ? height : width;
    return (int32_t)(2u * (m / 16u));
}
