/* lib/nn/optim.c -- the dh_optimizer object: registered tensors, gradient clipping,
 * the step driver (schedule x group multiplier -> per-tensor rule) and the state
 * listing used by checkpoints. The update rules are in optim_rules.c, the
 * schedules in sched.c. */
#include "nn/optim.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CHUNK ((size_t)1 << 15) /* elements per parallel work item */

typedef struct chunk {
    uint32_t param;
    size_t off, len;
} chunk;

struct dh_optimizer {
    dh_optimizer_options o;
    dh__optim_param *params;
    size_t n_params, cap;
    char **state_names; /* [n_params * n_slots] "<param>.<slot>" */
    chunk *chunks;      /* built at the first step */
    size_t n_chunks;
    uint64_t step;      /* completed steps */
    double grad_norm;   /* before clipping, last step */
    int n_slots;
    const char *slot_names[DH__OPTIM_MAX_SLOTS];
};

dh_status dh_optimizer_create(const dh_optimizer_options *opts, dh_optimizer **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    dh_optimizer_options o;
    dh_optimizer_options_init(&o);
    DH_TRY(dh__options_copy(&o, sizeof o, opts, "dh_optimizer_options"));
    DH_TRY(dh__optim_validate(&o));
    dh_optimizer *opt = dh__calloc(1, sizeof *opt);
    if (!opt) return DH_E_NO_MEMORY;
    opt->o = o;
    opt->n_slots = dh__optim_slots(&o, opt->slot_names);
    *out = opt;
    return DH_OK;
}

void dh_optimizer_free(dh_optimizer *opt)
{
    if (!opt) return;
    for (size_t i = 0; i < opt->n_params; i++) {
        dh__free(opt->params[i].name);
        for (int s = 0; s < DH__OPTIM_MAX_SLOTS; s++) dh__free_aligned(opt->params[i].state[s]);
    }
    if (opt->state_names)
        for (size_t i = 0; i < opt->n_params * (size_t)opt->n_slots; i++)
            dh__free(opt->state_names[i]);
    dh__free(opt->state_names);
    dh__free(opt->params);
    dh__free(opt->chunks);
    dh__free(opt);
}

static dh_status alloc_state(dh_optimizer *opt, dh__optim_param *p, char **names)
{
    for (int s = 0; s < opt->n_slots; s++) {
        size_t bytes;
        if (!dh__mul_ok(p->n, sizeof(float), &bytes)) return DH_E_NO_MEMORY;
        p->state[s] = dh__alloc_aligned(bytes, 64);
        if (!p->state[s]) return DH_E_NO_MEMORY;
        memset(p->state[s], 0, bytes);
        size_t len = strlen(p->name) + strlen(opt->slot_names[s]) + 2;
        names[s] = dh__alloc(len);
        if (!names[s]) return DH_E_NO_MEMORY;
        snprintf(names[s], len, "%s.%s", p->name, opt->slot_names[s]);
    }
    return DH_OK;
}

static dh_status grow(dh_optimizer *opt)
{
    if (opt->n_params < opt->cap) return DH_OK;
    size_t cap = opt->cap ? opt->cap * 2 : 16;
    dh__optim_param *np = dh__realloc(opt->params, cap * sizeof *np);
    if (!np) return DH_E_NO_MEMORY;
    opt->params = np;
    size_t slots = opt->n_slots ? (size_t)opt->n_slots : 1;
    char **nn = dh__realloc(opt->state_names, cap * slots * sizeof *nn);
    if (!nn) return DH_E_NO_MEMORY;
    opt->state_names = nn;
    opt->cap = cap;
    return DH_OK;
}

dh_status dh__optimizer_add_tensor(dh_optimizer *opt, const char *name, float *data, float *grad,
                                   size_t n, int32_t group, int32_t no_decay)
{
    if (opt->step > 0)
        return dh__set_error(DH_E_STATE, "dh_optimizer_add_param: '%s' added after step %llu; "
                             "register every tensor before the first step",
                             name, (unsigned long long)opt->step);
    for (size_t i = 0; i < opt->n_params; i++)
        if (!strcmp(opt->params[i].name, name))
            return dh__set_error(DH_E_INVALID_ARG,
                                 "dh_optimizer_add_param: a tensor named '%s' is already "
                                 "registered", name);
    DH_TRY(grow(opt));
    dh__optim_param *p = &opt->params[opt->n_params];
    memset(p, 0, sizeof *p);
    p->data = data;
    p->grad = grad;
    p->n = n;
    p->group = group;
    p->no_decay = no_decay;
    p->name = dh__strdup(name);
    char **names = opt->state_names + opt->n_params * (size_t)opt->n_slots;
    for (int s = 0; s < opt->n_slots; s++) names[s] = NULL;
    dh_status st = p->name ? alloc_state(opt, p, names) : DH_E_NO_MEMORY;
    if (st != DH_OK) {
        dh__free(p->name);
        for (int s = 0; s < opt->n_slots; s++) {
            dh__free_aligned(p->state[s]);
            dh__free(names[s]);
        }
        return st;
    }
    opt->n_params++;
    return DH_OK;
}

dh_status dh_optimizer_add_param(dh_optimizer *opt, const char *name, float *data, float *grad,
                                 size_t n, int32_t group, int32_t flags)
{
    DH_CHECK_ARG(opt != NULL);
    DH_CHECK_ARG(name != NULL && name[0] != '\0');
    DH_CHECK_ARG(data != NULL && grad != NULL);
    DH_CHECK_ARG_MSG(n >= 1 && n <= ((size_t)1 << 40),
                     "dh_optimizer_add_param: '%s': n = %zu must be in [1, 2^40]", name, n);
    DH_CHECK_ARG_MSG(group >= DH_PARAM_GROUP_BACKBONE && group <= DH_PARAM_GROUP_LOSS,
                     "dh_optimizer_add_param: '%s': group %d is not a DH_PARAM_GROUP_* value",
                     name, (int)group);
    DH_CHECK_ARG_MSG((flags & ~DH_PARAM_NO_DECAY) == 0,
                     "dh_optimizer_add_param: '%s': unknown flags 0x%x", name, (unsigned)flags);
    return dh__optimizer_add_tensor(opt, name, data, grad, n, group,
                                    (flags & DH_PARAM_NO_DECAY) != 0);
}

static dh_status build_chunks(dh_optimizer *opt)
{
    size_t count = 0;
    for (size_t i = 0; i < opt->n_params; i++) count += (opt->params[i].n + CHUNK - 1) / CHUNK;
    opt->chunks = dh__calloc(count, sizeof *opt->chunks);
    if (!opt->chunks) return DH_E_NO_MEMORY;
    size_t k = 0;
    for (size_t i = 0; i < opt->n_params; i++)
        for (size_t off = 0; off < opt->params[i].n; off += CHUNK) {
            size_t rest = opt->params[i].n - off;
            opt->chunks[k++] = (chunk){(uint32_t)i, off, rest < CHUNK ? rest : CHUNK};
        }
    opt->n_chunks = k;
    return DH_OK;
}

/* Global L2 norm over every gradient (double accumulation), then the in-place scale
 * torch.nn.utils.clip_grad_norm_ applies: coef = max_norm / (norm + 1e-6), clamped at 1. */
static dh_status clip_gradients(dh_optimizer *opt)
{
    double total = 0;
    for (size_t i = 0; i < opt->n_params; i++) {
        const dh__optim_param *p = &opt->params[i];
        double s = 0;
        for (size_t j = 0; j < p->n; j++) s += (double)p->grad[j] * (double)p->grad[j];
        if (!isfinite(s))
            return dh__set_error(DH_E_FORMAT,
                                 "dh_optimizer_step: gradient of '%s' is not finite "
                                 "(NaN or Inf); no tensor was updated", p->name);
        total += s;
    }
    opt->grad_norm = sqrt(total);
    double coef = opt->o.clip_norm / (opt->grad_norm + 1e-6);
    if (coef >= 1.0) return DH_OK;
    const float c = (float)coef;
    for (size_t i = 0; i < opt->n_params; i++)
        for (size_t j = 0; j < opt->params[i].n; j++) opt->params[i].grad[j] *= c;
    return DH_OK;
}

static double group_mult(const dh_optimizer_options *o, int32_t group)
{
    return group == DH_PARAM_GROUP_HEAD   ? o->lr_mult_head
           : group == DH_PARAM_GROUP_LOSS ? o->lr_mult_loss
                                          : o->lr_mult_backbone;
}

static void update_chunk(const dh_optimizer *opt, const chunk *c, double lr, uint64_t step)
{
    const dh_optimizer_options *o = &opt->o;
    const dh__optim_param *whole = &opt->params[c->param];
    dh__optim_param v = *whole; /* a view of elements [off, off + len) */
    v.data += c->off;
    v.grad += c->off;
    v.n = c->len;
    for (int s = 0; s < opt->n_slots; s++) v.state[s] += c->off;
    double glr = lr * group_mult(o, whole->group);
    double wd = o->apply_no_decay && whole->no_decay ? 0.0 : o->weight_decay;
    switch (o->type) {
    case DH_OPTIM_SGD: dh__sgd_update(o, &v, glr, wd, step); break;
    case DH_OPTIM_ADAM: dh__adam_update(o, &v, glr, wd, step, 0); break;
    case DH_OPTIM_ADAMW: dh__adam_update(o, &v, glr, wd, step, 1); break;
    default: dh__rmsprop_update(o, &v, glr, wd); break;
    }
}

dh_status dh_optimizer_step(dh_optimizer *opt)
{
    DH_CHECK_ARG(opt != NULL);
    if (opt->n_params == 0)
        return dh__set_error(DH_E_STATE, "dh_optimizer_step: no tensors registered "
                                         "(dh_optimizer_add_param / dh_optimizer_add_model)");
    if (!opt->chunks) DH_TRY(build_chunks(opt));
    if (opt->o.clip_norm > 0) DH_TRY(clip_gradients(opt));
    double lr = dh__schedule_lr(&opt->o, opt->step);
    uint64_t step = opt->step + 1;
    long nc = (long)opt->n_chunks;
#pragma omp parallel for schedule(dynamic, 1) if (nc > 4) num_threads(dh__num_threads())
    for (long k = 0; k < nc; k++) update_chunk(opt, &opt->chunks[k], lr, step);
    opt->step = step;
    return DH_OK;
}

dh_status dh_optimizer_zero_grad(dh_optimizer *opt)
{
    DH_CHECK_ARG(opt != NULL);
    for (size_t i = 0; i < opt->n_params; i++)
        memset(opt->params[i].grad, 0, opt->params[i].n * sizeof(float));
    return DH_OK;
}

uint64_t dh_optimizer_get_step(const dh_optimizer *opt) { return opt ? opt->step : 0; }

dh_status dh_optimizer_get_lr(const dh_optimizer *opt, double *out_lr)
{
    DH_CHECK_ARG(opt != NULL && out_lr != NULL);
    *out_lr = dh__schedule_lr(&opt->o, opt->step);
    return DH_OK;
}

dh_status dh_optimizer_set_lr(dh_optimizer *opt, double lr)
{
    DH_CHECK_ARG(opt != NULL);
    DH_CHECK_ARG_MSG(isfinite(lr) && lr > 0, "dh_optimizer_set_lr: lr %g must be finite and > 0",
                     lr);
    DH_CHECK_ARG_MSG(opt->o.schedule != DH_SCHED_COSINE || opt->o.eta_min <= lr,
                     "dh_optimizer_set_lr: lr %g is below the cosine schedule's eta_min %g", lr,
                     opt->o.eta_min);
    opt->o.lr = lr;
    return DH_OK;
}

dh_status dh_optimizer_get_grad_norm(const dh_optimizer *opt, double *out_norm)
{
    DH_CHECK_ARG(opt != NULL && out_norm != NULL);
    *out_norm = opt->grad_norm;
    return DH_OK;
}

size_t dh__optimizer_state_count(const dh_optimizer *opt)
{
    return opt->n_params * (size_t)opt->n_slots;
}

dh_status dh__optimizer_state_get(dh_optimizer *opt, size_t i, const char **name, float **data,
                                  size_t *n)
{
    if (i >= dh__optimizer_state_count(opt))
        return dh__set_error(DH_E_INVALID_ARG, "optimizer state index %zu out of range (%zu)", i,
                             dh__optimizer_state_count(opt));
    size_t p = i / (size_t)opt->n_slots, s = i % (size_t)opt->n_slots;
    *name = opt->state_names[i];
    *data = opt->params[p].state[s];
    *n = opt->params[p].n;
    return DH_OK;
}

void dh__optimizer_set_step(dh_optimizer *opt, uint64_t step) { opt->step = step; }

const dh_optimizer_options *dh__optimizer_options(const dh_optimizer *opt) { return &opt->o; }
