/* lib/nn/optim_rules.c -- per-tensor update rules, written to match PyTorch 1.13's
 * single-tensor implementations (torch/optim/{sgd,adam,adamw,rmsprop}.py) operation
 * by operation: the same float32 intermediate values in the same order, with the
 * scalar coefficients (bias corrections, step sizes) computed in double as Python
 * does and rounded to float where PyTorch converts a Python scalar for the kernel.
 * The golden test (tests/check_optim.c, data from tests/golden/gen_optim_golden.py)
 * holds the results to within a few float32 ulps of torch.optim (PyTorch's vectorised
 * kernels fuse some multiply-adds, so bit equality is not expected). */
#include "nn/optim.h"

#include <math.h>
#include <string.h>

int dh__optim_slots(const dh_optimizer_options *o, const char *names[DH__OPTIM_MAX_SLOTS])
{
    switch (o->type) {
    case DH_OPTIM_SGD:
        if (o->momentum == 0) return 0;
        names[0] = "momentum_buffer";
        return 1;
    case DH_OPTIM_ADAM:
    case DH_OPTIM_ADAMW:
        names[0] = "exp_avg";
        names[1] = "exp_avg_sq";
        if (!o->amsgrad) return 2;
        names[2] = "max_exp_avg_sq";
        return 3;
    case DH_OPTIM_RMSPROP: {
        int k = 0;
        names[k++] = "square_avg";
        if (o->momentum > 0) names[k++] = "momentum_buffer";
        if (o->centered) names[k++] = "grad_avg";
        return k;
    }
    default:
        return 0;
    }
}

/* d_p = grad + wd * param (torch: grad.add(param, alpha=weight_decay)) */
static inline float decayed_grad(float g, float x, float wd) { return wd != 0.0f ? g + wd * x : g; }

void dh__sgd_update(const dh_optimizer_options *o, dh__optim_param *p, double lr, double wd,
                    uint64_t step)
{
    const float flr = (float)lr, fwd = (float)wd, mom = (float)o->momentum;
    const float damp1 = (float)(1.0 - o->dampening);
    float *x = p->data, *buf = p->state[0];
    const float *g = p->grad;
    if (o->momentum == 0) {
        for (size_t i = 0; i < p->n; i++) x[i] -= flr * decayed_grad(g[i], x[i], fwd);
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        float d = decayed_grad(g[i], x[i], fwd);
        /* the first step stores d_p itself (torch.clone(d_p)), later steps blend */
        buf[i] = step == 1 ? d : mom * buf[i] + damp1 * d;
        if (o->nesterov) d = d + mom * buf[i];
        else d = buf[i];
        x[i] -= flr * d;
    }
}

void dh__adam_update(const dh_optimizer_options *o, dh__optim_param *p, double lr, double wd,
                     uint64_t step, int decoupled)
{
    const float b1 = (float)o->beta1, b2 = (float)o->beta2;
    const float one_b1 = (float)(1.0 - o->beta1), one_b2 = (float)(1.0 - o->beta2);
    const double bc1 = 1.0 - pow(o->beta1, (double)step);
    const double bc2 = 1.0 - pow(o->beta2, (double)step);
    const float neg_step_size = (float)(-(lr / bc1));
    const float bc2_sqrt = (float)sqrt(bc2), eps = (float)o->eps;
    const float decay_mul = (float)(1.0 - lr * wd), fwd = (float)wd;
    float *x = p->data, *m = p->state[0], *v = p->state[1], *vmax = p->state[2];
    const float *g = p->grad;
    for (size_t i = 0; i < p->n; i++) {
        float gi = g[i];
        if (decoupled) {
            if (wd != 0) x[i] *= decay_mul; /* AdamW: param.mul_(1 - lr * weight_decay) */
        } else {
            gi = decayed_grad(gi, x[i], fwd);
        }
        m[i] = m[i] * b1 + one_b1 * gi;
        v[i] = v[i] * b2 + one_b2 * gi * gi;
        float vv = v[i];
        if (o->amsgrad) {
            vmax[i] = vmax[i] > v[i] ? vmax[i] : v[i];
            vv = vmax[i];
        }
        float denom = sqrtf(vv) / bc2_sqrt + eps;
        x[i] += neg_step_size * m[i] / denom;
    }
}

void dh__rmsprop_update(const dh_optimizer_options *o, dh__optim_param *p, double lr, double wd)
{
    const float a = (float)o->alpha, one_a = (float)(1.0 - o->alpha), eps = (float)o->eps;
    const float mom = (float)o->momentum, flr = (float)lr, fwd = (float)wd;
    float *x = p->data, *sq = p->state[0];
    float *buf = o->momentum > 0 ? p->state[1] : NULL;
    float *gavg = o->centered ? p->state[o->momentum > 0 ? 2 : 1] : NULL;
    const float *g = p->grad;
    for (size_t i = 0; i < p->n; i++) {
        float gi = decayed_grad(g[i], x[i], fwd);
        sq[i] = sq[i] * a + one_a * gi * gi;
        float avg;
        if (gavg) {
            gavg[i] = gavg[i] * a + one_a * gi;
            avg = sqrtf(sq[i] + -1.0f * (gavg[i] * gavg[i]));
        } else {
            avg = sqrtf(sq[i]);
        }
        avg = avg + eps;
        if (buf) {
            buf[i] = buf[i] * mom + gi / avg;
            x[i] += -flr * buf[i];
        } else {
            x[i] += -flr * gi / avg;
        }
    }
}
