/* lib/nn/sched.c -- learning-rate schedules and validation of optimizer options.
 *
 * A schedule is a pure function of the completed step count, so a resumed run
 * (dh__optimizer_set_step) continues exactly where it stopped. Values follow
 * PyTorch's closed forms: StepLR, MultiStepLR, CosineAnnealingLR (clamped at
 * eta_min after t_max instead of rising again), and LinearLR as the warm-up,
 * chained multiplicatively (ChainedScheduler), so milestones keep their absolute
 * positions when a warm-up is added. */
#include "nn/optim.h"

#include <math.h>

static uint64_t sched_tick(const dh_optimizer_options *o, uint64_t step)
{
    return o->schedule_unit > 1 ? step / o->schedule_unit : step;
}

static double main_factor(const dh_optimizer_options *o, uint64_t t, double lr)
{
    switch (o->schedule) {
    case DH_SCHED_STEP:
        return lr * pow(o->gamma, (double)(t / o->step_size));
    case DH_SCHED_MULTISTEP: {
        int passed = 0;
        for (int i = 0; i < 8 && o->milestones[i] != 0; i++)
            passed += t >= o->milestones[i];
        return lr * pow(o->gamma, (double)passed);
    }
    case DH_SCHED_COSINE:
        if (t >= o->t_max) return o->eta_min;
        return o->eta_min +
               (lr - o->eta_min) * (1.0 + cos(M_PI * (double)t / (double)o->t_max)) / 2.0;
    default:
        return lr;
    }
}

double dh__schedule_lr(const dh_optimizer_options *o, uint64_t step)
{
    uint64_t t = sched_tick(o, step);
    double lr = main_factor(o, t, o->lr);
    if (o->warmup > 0 && t < o->warmup)
        lr *= o->warmup_start + (1.0 - o->warmup_start) * (double)t / (double)o->warmup;
    return lr;
}

static int finite_in(double v, double lo, double hi) { return isfinite(v) && v >= lo && v <= hi; }

#define DH__FIELD(cond, ...)                                                                 \
    do {                                                                                     \
        if (!(cond)) return dh__set_error(DH_E_INVALID_ARG, "dh_optimizer_options: " __VA_ARGS__); \
    } while (0)

static dh_status validate_rule(const dh_optimizer_options *o)
{
    DH__FIELD(o->type >= DH_OPTIM_SGD && o->type <= DH_OPTIM_RMSPROP,
              "type %d is not a DH_OPTIM_* value", (int)o->type);
    DH__FIELD(isfinite(o->lr) && o->lr > 0, "lr %g must be finite and > 0", o->lr);
    DH__FIELD(finite_in(o->momentum, 0, 0.999999), "momentum %g must be in [0, 1)", o->momentum);
    DH__FIELD(finite_in(o->dampening, 0, 1), "dampening %g must be in [0, 1]", o->dampening);
    DH__FIELD(finite_in(o->weight_decay, 0, 1e6), "weight_decay %g must be >= 0",
              o->weight_decay);
    DH__FIELD(finite_in(o->beta1, 0, 0.999999999), "beta1 %g must be in [0, 1)", o->beta1);
    DH__FIELD(finite_in(o->beta2, 0, 0.999999999), "beta2 %g must be in [0, 1)", o->beta2);
    DH__FIELD(isfinite(o->eps) && o->eps > 0, "eps %g must be > 0", o->eps);
    DH__FIELD(finite_in(o->alpha, 0, 0.999999999), "alpha %g must be in [0, 1)", o->alpha);
    DH__FIELD(o->nesterov == 0 || o->nesterov == 1, "nesterov must be 0 or 1");
    DH__FIELD(!o->nesterov || o->type != DH_OPTIM_SGD || (o->momentum > 0 && o->dampening == 0),
              "nesterov needs momentum > 0 and dampening 0 (momentum %g, dampening %g)",
              o->momentum, o->dampening);
    DH__FIELD(o->amsgrad == 0 || o->amsgrad == 1, "amsgrad must be 0 or 1");
    DH__FIELD(o->centered == 0 || o->centered == 1, "centered must be 0 or 1");
    DH__FIELD(o->apply_no_decay == 0 || o->apply_no_decay == 1, "apply_no_decay must be 0 or 1");
    DH__FIELD(finite_in(o->clip_norm, 0, INFINITY), "clip_norm %g must be >= 0", o->clip_norm);
    DH__FIELD(finite_in(o->lr_mult_backbone, 0, 1e6), "lr_mult_backbone %g must be >= 0",
              o->lr_mult_backbone);
    DH__FIELD(finite_in(o->lr_mult_head, 0, 1e6), "lr_mult_head %g must be >= 0",
              o->lr_mult_head);
    DH__FIELD(finite_in(o->lr_mult_loss, 0, 1e6), "lr_mult_loss %g must be >= 0",
              o->lr_mult_loss);
    return DH_OK;
}

static dh_status validate_schedule(const dh_optimizer_options *o)
{
    DH__FIELD(o->schedule >= DH_SCHED_CONSTANT && o->schedule <= DH_SCHED_COSINE,
              "schedule %d is not a DH_SCHED_* value", (int)o->schedule);
    if (o->schedule == DH_SCHED_STEP || o->schedule == DH_SCHED_MULTISTEP)
        DH__FIELD(isfinite(o->gamma) && o->gamma > 0 && o->gamma <= 1,
                  "gamma %g must be in (0, 1]", o->gamma);
    if (o->schedule == DH_SCHED_STEP)
        DH__FIELD(o->step_size >= 1, "step_size must be >= 1 for DH_SCHED_STEP");
    if (o->schedule == DH_SCHED_MULTISTEP) {
        DH__FIELD(o->milestones[0] > 0, "milestones[0] must be > 0 for DH_SCHED_MULTISTEP");
        int ended = 0;
        for (int i = 1; i < 8; i++) {
            if (o->milestones[i] == 0) {
                ended = 1;
                continue;
            }
            DH__FIELD(!ended, "milestones[%d] = %u follows an unused (0) entry", i,
                      o->milestones[i]);
            DH__FIELD(o->milestones[i] > o->milestones[i - 1],
                      "milestones[%d] = %u is not greater than milestones[%d] = %u", i,
                      o->milestones[i], i - 1, o->milestones[i - 1]);
        }
    }
    if (o->schedule == DH_SCHED_COSINE) {
        DH__FIELD(o->t_max >= 1, "t_max must be >= 1 for DH_SCHED_COSINE");
        DH__FIELD(finite_in(o->eta_min, 0, o->lr), "eta_min %g must be in [0, lr = %g]",
                  o->eta_min, o->lr);
    }
    if (o->warmup > 0)
        DH__FIELD(finite_in(o->warmup_start, 1e-12, 1), "warmup_start %g must be in (0, 1]",
                  o->warmup_start);
    return DH_OK;
}

dh_status dh__optim_validate(const dh_optimizer_options *o)
{
    DH_TRY(validate_rule(o));
    return validate_schedule(o);
}

void dh_optimizer_options_init(dh_optimizer_options *o)
{
    if (!o) return;
    *o = (dh_optimizer_options){0};
    o->struct_size = sizeof *o;
    o->type = DH_OPTIM_SGD;
    o->lr = 0.01;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->alpha = 0.99;
    o->lr_mult_backbone = 1.0;
    o->lr_mult_head = 1.0;
    o->lr_mult_loss = 1.0;
    o->gamma = 0.1;
    o->warmup_start = 0.1;
}

dh_status dh_schedule_lr(const dh_optimizer_options *opts, uint64_t step, double *out_lr)
{
    DH_CHECK_ARG(out_lr != NULL);
    dh_optimizer_options o;
    dh_optimizer_options_init(&o);
    DH_TRY(dh__options_copy(&o, sizeof o, opts, "dh_optimizer_options"));
    DH_TRY(dh__optim_validate(&o));
    *out_lr = dh__schedule_lr(&o, step);
    return DH_OK;
}
