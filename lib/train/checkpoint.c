/* lib/train/checkpoint.c -- trainer checkpoints: one safetensors file holding the
 * model's tensors ("model.*"), the optimizer state ("optim.*"), the loss's
 * parameters and state ("loss.*"), the best-weights snapshot and the run counters
 * ("trainer.*"). Written atomically (a crash or Ctrl-C never leaves a torn file);
 * resuming restores every piece so the run continues bit-exactly (same threads). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/model.h"
#include "loss/loss.h"
#include "nn/optim.h"
#include "train/train_impl.h"

#define CKPT_FORMAT "libdh-checkpoint"
#define CKPT_VERSION "1"

enum { ST_VERSION, ST_NEXT_EPOCH, ST_OPT_STEP, ST_LOSS_ITER, ST_LOSS_RNG, ST_LOSS_EPOCH,
       ST_BEST_EPOCH, ST_BATCHES, ST_COUNT };
enum { F_BEST_MAP, F_LAST_MAP, F_LOSS_BETA, F_COUNT };

typedef struct ckpt_list {
    dh__st_entry *e;
    char **names;
    size_t n, cap;
} ckpt_list;

static dh_status add(ckpt_list *l, const char *prefix, const char *name, int32_t dtype,
                     const void *data, size_t count, size_t elem)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        dh__st_entry *e = dh__realloc(l->e, cap * sizeof *e);
        if (!e) return DH_E_NO_MEMORY;
        l->e = e;
        char **nm = dh__realloc(l->names, cap * sizeof *nm);
        if (!nm) return DH_E_NO_MEMORY;
        l->names = nm;
        l->cap = cap;
    }
    size_t len = strlen(prefix) + strlen(name) + 1;
    char *full = dh__alloc(len);
    if (!full) return DH_E_NO_MEMORY;
    snprintf(full, len, "%s%s", prefix, name);
    dh__st_entry *e = &l->e[l->n];
    memset(e, 0, sizeof *e);
    e->name = full;
    e->dtype = dtype;
    e->ndim = 1;
    e->shape[0] = (int64_t)count;
    e->data = data;
    e->nbytes = count * elem;
    l->names[l->n++] = full;
    return DH_OK;
}

static void list_free(ckpt_list *l)
{
    for (size_t i = 0; i < l->n; i++) dh__free(l->names[i]);
    dh__free(l->names);
    dh__free(l->e);
}

static dh_status collect(dh_trainer *t, ckpt_list *l, int64_t *st, double *f)
{
    dh__model_param *mp;
    size_t nm = dh__model_params(t->model, &mp);
    for (size_t i = 0; i < nm; i++)
        DH_TRY(add(l, "model.", mp[i].p.name, DH__ST_F32, mp[i].p.data, mp[i].p.n, 4));
    size_t ns = dh__optimizer_state_count(t->opt);
    for (size_t i = 0; i < ns; i++) {
        const char *name;
        float *data;
        size_t n;
        DH_TRY(dh__optimizer_state_get(t->opt, i, &name, &data, &n));
        DH_TRY(add(l, "optim.", name, DH__ST_F32, data, n, 4));
    }
    dh__param *lp;
    size_t nl = dh__loss_params(t->loss, &lp);
    for (size_t i = 0; i < nl; i++) DH_TRY(add(l, "loss.", lp[i].name, DH__ST_F32, lp[i].data, lp[i].n, 4));
    nl = dh__loss_state(t->loss, &lp);
    for (size_t i = 0; i < nl; i++) DH_TRY(add(l, "loss.", lp[i].name, DH__ST_F32, lp[i].data, lp[i].n, 4));
    if (t->best) DH_TRY(add(l, "trainer.", "best_weights", DH__ST_F32, t->best, t->best_len, 4));
    st[ST_VERSION] = 1;
    st[ST_NEXT_EPOCH] = t->epoch + 1;
    st[ST_OPT_STEP] = (int64_t)dh_optimizer_get_step(t->opt);
    st[ST_LOSS_ITER] = t->loss->iter;
    memcpy(&st[ST_LOSS_RNG], &t->loss->rng, sizeof(int64_t));
    st[ST_LOSS_EPOCH] = t->loss->epoch;
    st[ST_BEST_EPOCH] = t->best_epoch;
    st[ST_BATCHES] = (int64_t)t->batches;
    DH_TRY(add(l, "trainer.", "state", DH__ST_I64, st, ST_COUNT, 8));
    f[F_BEST_MAP] = t->best_map;
    f[F_LAST_MAP] = t->last_map;
    f[F_LOSS_BETA] = t->loss->beta;
    return add(l, "trainer.", "values", DH__ST_F64, f, F_COUNT, 8);
}

dh_status dh__checkpoint_save(dh_trainer *t, const char *path)
{
    ckpt_list l = {0};
    int64_t st_vals[ST_COUNT];
    double f[F_COUNT];
    char kbuf[32];
    snprintf(kbuf, sizeof kbuf, "%u", dh_model_n_bits(t->model));
    const char *keys[] = {"format", "version", "encoder", "n_bits", "loss", "libdh"};
    const char *vals[] = {CKPT_FORMAT, CKPT_VERSION, dh_model_get_options(t->model)->encoder,
                          kbuf, t->loss->m->name, dh_version_string()};
    dh_status st = collect(t, &l, st_vals, f);
    if (st == DH_OK) st = dh__safetensors_write(path, l.e, l.n, keys, vals, 6);
    list_free(&l);
    if (st != DH_OK) dh__error_prefix("checkpoint '%s'", path);
    return st;
}

/* Resuming is all or nothing: a first pass checks every tensor and counter without
 * touching the trainer, the second copies (and cannot fail), so a refused checkpoint
 * leaves the model, optimizer and loss as they were. */

/* The stored tensor prefix+name, checked to hold n elements of dtype; copied into dst
 * when copy is set. Variances (BatchNorm running_var) must be finite and >= 0, as in
 * model files. */
static dh_status restore(const dh__safetensors *s, const char *prefix, const char *name,
                         void *dst, size_t n, int32_t dtype, int copy)
{
    char full[512];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    const dh__st_tensor *x = dh__safetensors_find(s, full);
    if (!x) return dh__set_error(DH_E_FORMAT, "tensor '%s' is missing", full);
    if (x->dtype != dtype || x->numel != n)
        return dh__set_error(DH_E_SHAPE, "tensor '%s' has %zu elements of %s, expected %zu",
                             full, x->numel, dh__st_dtype_name(x->dtype), n);
    if (copy) {
        memcpy(dst, x->data, x->nbytes);
        return DH_OK;
    }
    size_t k = strlen(full), kv = strlen("running_var");
    if (dtype == DH__ST_F32 && k >= kv && !strcmp(full + k - kv, "running_var"))
        for (size_t i = 0; i < n; i++) {
            float v;
            memcpy(&v, x->data + i * sizeof v, sizeof v); /* file data may be unaligned */
            if (!(v >= 0.0f && v <= FLT_MAX))
                return dh__set_error(DH_E_FORMAT, "tensor '%s' element %zu is %g; a variance "
                                     "must be finite and >= 0", full, i, (double)v);
        }
    return DH_OK;
}

static dh_status check_meta(dh_trainer *t, const dh__safetensors *s)
{
    const char *fmt = dh__safetensors_meta(s, "format"), *ver = dh__safetensors_meta(s, "version");
    if (!fmt || strcmp(fmt, CKPT_FORMAT) != 0)
        return dh__set_error(DH_E_FORMAT, "not a libdh checkpoint (metadata format is '%s')",
                             fmt ? fmt : "(none)");
    if (!ver || strcmp(ver, CKPT_VERSION) != 0)
        return dh__set_error(DH_E_VERSION, "checkpoint version '%s' is not %s", ver ? ver : "?",
                             CKPT_VERSION);
    const char *enc = dh__safetensors_meta(s, "encoder"), *loss = dh__safetensors_meta(s, "loss");
    const char *kb = dh__safetensors_meta(s, "n_bits");
    char kbuf[32];
    snprintf(kbuf, sizeof kbuf, "%u", dh_model_n_bits(t->model));
    if (!enc || !loss || !kb || strcmp(enc, dh_model_get_options(t->model)->encoder) ||
        strcmp(loss, t->loss->m->name) || strcmp(kb, kbuf))
        return dh__set_error(DH_E_SHAPE, "checkpoint is for encoder '%s', loss '%s', %s bits; "
                             "this run has '%s', '%s', %s bits", enc ? enc : "?",
                             loss ? loss : "?", kb ? kb : "?",
                             dh_model_get_options(t->model)->encoder, t->loss->m->name, kbuf);
    return DH_OK;
}

/* The run counters and values: each within what a run can reach (they become int32
 * epochs, an unsigned step count and the loss's scale). */
static dh_status check_counters(const dh_trainer *t, const int64_t *st, const double *f)
{
    static const char *const name[ST_COUNT] = {"version", "next epoch", "optimizer step",
                                               "loss iteration", "loss rng", "loss epoch",
                                               "best epoch", "batches per epoch"};
    if (st[ST_BATCHES] != (int64_t)t->batches)
        return dh__set_error(DH_E_SHAPE, "checkpoint was written with %lld batches per epoch, "
                             "this run has %llu (batch size or data set differ)",
                             (long long)st[ST_BATCHES], (unsigned long long)t->batches);
    int bad = st[ST_VERSION] != 1 ? ST_VERSION
            : st[ST_NEXT_EPOCH] < 0 || st[ST_NEXT_EPOCH] > INT32_MAX ? ST_NEXT_EPOCH
            : st[ST_OPT_STEP] < 0 ? ST_OPT_STEP
            : st[ST_LOSS_ITER] < 0 ? ST_LOSS_ITER
            : st[ST_LOSS_EPOCH] < 0 || st[ST_LOSS_EPOCH] > INT32_MAX ? ST_LOSS_EPOCH
            : st[ST_BEST_EPOCH] < -1 || st[ST_BEST_EPOCH] > INT32_MAX ? ST_BEST_EPOCH : -1;
    if (bad >= 0)
        return dh__set_error(DH_E_FORMAT, "tensor 'trainer.state' element %d (%s) is %lld, "
                             "out of range", bad, name[bad], (long long)st[bad]);
    for (int i = 0; i < 2; i++) /* mAP: NaN before the first validation */
        if (!isnan(f[i]) && !(f[i] >= 0.0 && f[i] <= 1.0))
            return dh__set_error(DH_E_FORMAT, "tensor 'trainer.values' element %d (%s mAP) is "
                                 "%g, not in [0, 1]", i, i ? "last" : "best", f[i]);
    if (!(f[F_LOSS_BETA] > 0.0 && f[F_LOSS_BETA] <= FLT_MAX))
        return dh__set_error(DH_E_FORMAT, "tensor 'trainer.values' element 2 (loss scale "
                             "beta) is %g, not a positive float", f[F_LOSS_BETA]);
    return DH_OK;
}

/* Every model, optimizer and loss tensor: checked (copy 0) or copied (copy 1). */
static dh_status restore_tensors(dh_trainer *t, const dh__safetensors *s, int copy)
{
    dh__model_param *mp;
    size_t nm = dh__model_params(t->model, &mp);
    for (size_t i = 0; i < nm; i++)
        DH_TRY(restore(s, "model.", mp[i].p.name, mp[i].p.data, mp[i].p.n, DH__ST_F32, copy));
    size_t ns = dh__optimizer_state_count(t->opt);
    for (size_t i = 0; i < ns; i++) {
        const char *name;
        float *data;
        size_t n;
        DH_TRY(dh__optimizer_state_get(t->opt, i, &name, &data, &n));
        DH_TRY(restore(s, "optim.", name, data, n, DH__ST_F32, copy));
    }
    dh__param *lp;
    size_t nl = dh__loss_params(t->loss, &lp);
    for (size_t i = 0; i < nl; i++)
        DH_TRY(restore(s, "loss.", lp[i].name, lp[i].data, lp[i].n, DH__ST_F32, copy));
    nl = dh__loss_state(t->loss, &lp);
    for (size_t i = 0; i < nl; i++)
        DH_TRY(restore(s, "loss.", lp[i].name, lp[i].data, lp[i].n, DH__ST_F32, copy));
    const dh__st_tensor *b = dh__safetensors_find(s, "trainer.best_weights");
    if (b) {
        size_t total = 0;
        for (size_t i = 0; i < nm; i++) total += mp[i].p.n;
        if (copy) t->best_len = total;
        DH_TRY(restore(s, "trainer.", "best_weights", t->best, total, DH__ST_F32, copy));
    }
    return DH_OK;
}

static dh_status restore_all(dh_trainer *t, const dh__safetensors *s)
{
    DH_TRY(check_meta(t, s));
    int64_t st[ST_COUNT];
    double f[F_COUNT];
    DH_TRY(restore(s, "trainer.", "state", NULL, ST_COUNT, DH__ST_I64, 0));
    DH_TRY(restore(s, "trainer.", "values", NULL, F_COUNT, DH__ST_F64, 0));
    DH_TRY(restore(s, "trainer.", "state", st, ST_COUNT, DH__ST_I64, 1));
    DH_TRY(restore(s, "trainer.", "values", f, F_COUNT, DH__ST_F64, 1));
    DH_TRY(check_counters(t, st, f));
    DH_TRY(restore_tensors(t, s, 0));
    if (dh__safetensors_find(s, "trainer.best_weights") && !t->best) {
        dh__model_param *mp;
        size_t nm = dh__model_params(t->model, &mp), total = 0;
        for (size_t i = 0; i < nm; i++) total += mp[i].p.n;
        if (!(t->best = dh__alloc((total + 1) * sizeof(float)))) return DH_E_NO_MEMORY;
    }
    DH_TRY(restore_tensors(t, s, 1)); /* checked above: cannot fail */
    dh__optimizer_set_step(t->opt, (uint64_t)st[ST_OPT_STEP]);
    t->loss->iter = st[ST_LOSS_ITER];
    memcpy(&t->loss->rng, &st[ST_LOSS_RNG], sizeof(int64_t));
    t->loss->epoch = (int32_t)st[ST_LOSS_EPOCH];
    t->loss->beta = (float)f[F_LOSS_BETA];
    t->best_epoch = (int32_t)st[ST_BEST_EPOCH];
    t->best_map = f[F_BEST_MAP];
    t->last_map = f[F_LAST_MAP];
    t->start_epoch = (int32_t)st[ST_NEXT_EPOCH];
    dh__model_params_changed(t->model);
    return DH_OK;
}

dh_status dh__checkpoint_resume_buffer(dh_trainer *t, const uint8_t *buf, size_t len)
{
    dh__safetensors s;
    memset(&s, 0, sizeof s);
    dh_status st = dh__safetensors_parse(buf, len, &s);
    if (st == DH_OK) st = restore_all(t, &s);
    dh__safetensors_free(&s);
    return st;
}

dh_status dh__checkpoint_try_resume(dh_trainer *t)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    dh_status st = dh__read_file(t->checkpoint_path, &buf, &len);
    if (st == DH_E_NOT_FOUND) {
        dh_clear_error();
        return DH_OK; /* nothing to resume: start from scratch */
    }
    DH_TRY(st);
    st = dh__checkpoint_resume_buffer(t, buf, len);
    dh__free(buf);
    if (st != DH_OK) dh__error_prefix("resume from '%s'", t->checkpoint_path);
    return st;
}
