/* lib/nn/optim.h -- optimizers and learning-rate schedules (internal interface).
 *
 * The public object is dh_optimizer (dh.h, section nn). Inside libdh the trainer
 * registers parameter tensors with dh__optimizer_add_tensor (or the public
 * dh_optimizer_add_param / dh_optimizer_add_model), calls dh_optimizer_step once
 * per batch, and saves the optimizer state for checkpoints through
 * dh__optimizer_state_count / dh__optimizer_state_get: every state tensor has a
 * stable name "<param>.<slot>" (slots: momentum_buffer, exp_avg, exp_avg_sq,
 * max_exp_avg_sq, square_avg, grad_avg — PyTorch's names) and the step counter is
 * read and restored with dh_optimizer_get_step / dh__optimizer_set_step.
 */
#ifndef DH_NN_OPTIM_H
#define DH_NN_OPTIM_H

#include "core/core.h"

/* Upper bound on the state slots one parameter can have (AdamW+amsgrad: 3). */
#define DH__OPTIM_MAX_SLOTS 3

/** One registered parameter: borrowed data/grad, owned name and state. */
typedef struct dh__optim_param {
    char *name;
    float *data;       /* [n], borrowed, updated in place */
    float *grad;       /* [n], borrowed, read (zeroed by zero_grad) */
    size_t n;
    int32_t group;     /* DH_PARAM_GROUP_* : picks the lr multiplier */
    int32_t no_decay;  /* 1: weight decay skipped when opts.apply_no_decay is set */
    float *state[DH__OPTIM_MAX_SLOTS]; /* per-slot [n] buffers, owned */
} dh__optim_param;

/** Register one tensor (the public dh_optimizer_add_param without the argument
 *  checks' wording). DH_E_STATE after the first step. */
dh_status dh__optimizer_add_tensor(dh_optimizer *opt, const char *name, float *data, float *grad,
                                   size_t n, int32_t group, int32_t no_decay);

/** Number of state tensors (over all parameters) for checkpoints. */
size_t dh__optimizer_state_count(const dh_optimizer *opt);

/** State tensor i: name "<param>.<slot>" (borrowed), data [n] (writable, so a
 *  checkpoint loader restores it in place). DH_E_INVALID_ARG if i is out of range. */
dh_status dh__optimizer_state_get(dh_optimizer *opt, size_t i, const char **name, float **data,
                                  size_t *n);

/** Restore the step counter (checkpoint resume); the schedule follows it. */
void dh__optimizer_set_step(dh_optimizer *opt, uint64_t step);

/** Copy of the options the optimizer was created with. */
const dh_optimizer_options *dh__optimizer_options(const dh_optimizer *opt);

/* ---- update rules (optim_rules.c): one parameter, one step, PyTorch 1.13 semantics ----
 * `lr` is the scheduled rate times the group multiplier, `wd` the weight decay to
 * apply to this tensor (0 for no-decay tensors), `step` the 1-based step number. */
void dh__sgd_update(const dh_optimizer_options *o, dh__optim_param *p, double lr, double wd,
                    uint64_t step);
void dh__adam_update(const dh_optimizer_options *o, dh__optim_param *p, double lr, double wd,
                     uint64_t step, int decoupled);
void dh__rmsprop_update(const dh_optimizer_options *o, dh__optim_param *p, double lr, double wd);
/** Number of state slots the rule for `o` uses, and their names. */
int dh__optim_slots(const dh_optimizer_options *o, const char *names[DH__OPTIM_MAX_SLOTS]);

/** The schedule's learning rate at `step` (sched.c); opts already validated. */
double dh__schedule_lr(const dh_optimizer_options *o, uint64_t step);
/** Validate the optimizer and schedule fields; message names the field. */
dh_status dh__optim_validate(const dh_optimizer_options *o);

#endif
