/* tests/check_optim.c -- optimizers against torch.optim golden trajectories
 * (tests/golden/optim_golden.h from gen_optim_golden.py), schedules against
 * torch.optim.lr_scheduler, gradient clipping against clip_grad_norm_, group
 * multipliers, no-decay, state listing/resume, and every error path. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "golden/optim_golden.h"
#include "nn/optim.h"
#include "testutil.h"

static void assert_close_f(const float *got, const float *want, size_t n, double rtol,
                           const char *what, int step)
{
    for (size_t i = 0; i < n; i++) {
        double tol = rtol * fabs((double)want[i]) + 1e-7;
        ck_assert_msg(fabs((double)got[i] - (double)want[i]) <= tol,
                      "%s step %d elem %zu: got %.9g want %.9g", what, step, i, (double)got[i],
                      (double)want[i]);
    }
}

typedef struct golden_case {
    const char *name;
    const float *traj;
    int type;
    double lr, momentum, dampening, wd, b1, b2, eps, alpha;
    int nesterov, amsgrad, centered;
} golden_case;

#define D_ADAM 0.9, 0.999, 1e-8, 0.99
static const golden_case cases[] = {
    {"sgd_plain", optim_sgd_plain, DH_OPTIM_SGD, 0.1, 0, 0, 0, D_ADAM, 0, 0, 0},
    {"sgd_momentum_wd", optim_sgd_momentum_wd, DH_OPTIM_SGD, 0.05, 0.9, 0, 5e-4, D_ADAM, 0, 0, 0},
    {"sgd_nesterov", optim_sgd_nesterov, DH_OPTIM_SGD, 0.05, 0.9, 0, 1e-3, D_ADAM, 1, 0, 0},
    {"sgd_dampening", optim_sgd_dampening, DH_OPTIM_SGD, 0.02, 0.5, 0.3, 0, D_ADAM, 0, 0, 0},
    {"adam", optim_adam, DH_OPTIM_ADAM, 1e-3, 0, 0, 0, D_ADAM, 0, 0, 0},
    {"adam_wd_betas", optim_adam_wd_betas, DH_OPTIM_ADAM, 3e-3, 0, 0, 1e-2, 0.8, 0.99, 1e-6, 0.99,
     0, 0, 0},
    {"adam_amsgrad", optim_adam_amsgrad, DH_OPTIM_ADAM, 1e-2, 0, 0, 0, D_ADAM, 0, 1, 0},
    {"adamw", optim_adamw, DH_OPTIM_ADAMW, 1e-3, 0, 0, 0.05, D_ADAM, 0, 0, 0},
    {"adamw_amsgrad", optim_adamw_amsgrad, DH_OPTIM_ADAMW, 2e-3, 0, 0, 0.01, D_ADAM, 0, 1, 0},
    {"rmsprop", optim_rmsprop, DH_OPTIM_RMSPROP, 1e-3, 0, 0, 0, D_ADAM, 0, 0, 0},
    {"rmsprop_wd", optim_rmsprop_wd, DH_OPTIM_RMSPROP, 1e-4, 0, 0, 1e-5, 0.9, 0.999, 1e-8, 0.9, 0,
     0, 0},
    {"rmsprop_centered_momentum", optim_rmsprop_centered_momentum, DH_OPTIM_RMSPROP, 1e-3, 0.9, 0,
     0, 0.9, 0.999, 1e-6, 0.99, 0, 0, 1},
};

static void case_options(const golden_case *c, dh_optimizer_options *o)
{
    dh_optimizer_options_init(o);
    o->type = c->type;
    o->lr = c->lr;
    o->momentum = c->momentum;
    o->dampening = c->dampening;
    o->weight_decay = c->wd;
    o->beta1 = c->b1;
    o->beta2 = c->b2;
    o->eps = c->eps;
    o->alpha = c->alpha;
    o->nesterov = c->nesterov;
    o->amsgrad = c->amsgrad;
    o->centered = c->centered;
}

START_TEST(test_optim_step_matches_torch)
{
    const golden_case *c = &cases[_i];
    dh_optimizer_options o;
    case_options(c, &o);
    dh_optimizer *opt;
    ck_assert_dh_ok(dh_optimizer_create(&o, &opt));
    float x[OPTIM_N], g[OPTIM_N];
    memcpy(x, optim_x0, sizeof x);
    ck_assert_dh_ok(dh_optimizer_add_param(opt, "w", x, g, OPTIM_N, DH_PARAM_GROUP_BACKBONE, 0));
    for (int k = 0; k < OPTIM_STEPS; k++) {
        memcpy(g, optim_grads[k], sizeof g);
        ck_assert_dh_ok(dh_optimizer_step(opt));
        assert_close_f(x, c->traj + (size_t)k * OPTIM_N, OPTIM_N, 2e-6, c->name, k);
    }
    ck_assert_uint_eq(dh_optimizer_get_step(opt), OPTIM_STEPS);
    dh_optimizer_free(opt);
}
END_TEST

static void check_schedule(const dh_optimizer_options *o, const double *want, int n,
                           const char *what)
{
    for (int s = 0; s < n; s++) {
        double lr;
        ck_assert_dh_ok(dh_schedule_lr(o, (uint64_t)s, &lr));
        ck_assert_msg(fabs(lr - want[s]) <= 1e-12 * fabs(want[s]) + 1e-15,
                      "%s step %d: %.17g vs %.17g", what, s, lr, want[s]);
    }
}

START_TEST(test_optim_schedules_match_torch)
{
    dh_optimizer_options o;
    dh_optimizer_options_init(&o);
    o.lr = 0.1;
    o.schedule = DH_SCHED_STEP;
    o.step_size = 3;
    o.gamma = 0.5;
    check_schedule(&o, sched_step, 12, "step");
    o.schedule = DH_SCHED_MULTISTEP;
    o.gamma = 0.1;
    o.milestones[0] = 2, o.milestones[1] = 5, o.milestones[2] = 9;
    check_schedule(&o, sched_multistep, 12, "multistep");
    o.schedule = DH_SCHED_COSINE;
    o.t_max = 10;
    o.eta_min = 0.001;
    check_schedule(&o, sched_cosine, 11, "cosine"); /* torch rises again after t_max */
    double lr;
    ck_assert_dh_ok(dh_schedule_lr(&o, 25, &lr));
    ck_assert_double_eq(lr, 0.001); /* libdh clamps at eta_min */
    o.schedule = DH_SCHED_STEP;
    o.step_size = 3;
    o.gamma = 0.5;
    o.warmup = 4;
    o.warmup_start = 0.25;
    check_schedule(&o, sched_warmup_step, 12, "warmup+step");
}
END_TEST

START_TEST(test_optim_schedule_unit_counts_epochs)
{
    dh_optimizer_options o;
    dh_optimizer_options_init(&o);
    o.lr = 1.0;
    o.schedule = DH_SCHED_STEP;
    o.step_size = 3; /* epochs */
    o.schedule_unit = 10; /* steps per epoch */
    double lr;
    ck_assert_dh_ok(dh_schedule_lr(&o, 29, &lr));
    ck_assert_double_eq(lr, 1.0);
    ck_assert_dh_ok(dh_schedule_lr(&o, 30, &lr));
    ck_assert_double_eq_tol(lr, 0.1, 1e-15);
    /* the optimizer follows the schedule as it steps */
    dh_optimizer *opt;
    o.schedule_unit = 1;
    o.step_size = 2;
    ck_assert_dh_ok(dh_optimizer_create(&o, &opt));
    float x = 0, g = 1;
    ck_assert_dh_ok(dh_optimizer_add_param(opt, "x", &x, &g, 1, 0, 0));
    for (int s = 0; s < 4; s++) ck_assert_dh_ok(dh_optimizer_step(opt));
    ck_assert_float_eq_tol(x, -(1.0f + 1.0f + 0.1f + 0.1f), 1e-6f);
    ck_assert_dh_ok(dh_optimizer_get_lr(opt, &lr));
    ck_assert_double_eq_tol(lr, 0.01, 1e-15);
    ck_assert_dh_ok(dh_optimizer_set_lr(opt, 2.0));
    ck_assert_dh_ok(dh_optimizer_get_lr(opt, &lr));
    ck_assert_double_eq_tol(lr, 0.02, 1e-15);
    ck_assert_dh_fail(dh_optimizer_set_lr(opt, -1), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_optimizer_set_lr(opt, NAN), DH_E_INVALID_ARG);
    dh_optimizer_free(opt);
}
END_TEST

START_TEST(test_optim_clip_matches_torch)
{
    dh_optimizer_options o;
    dh_optimizer_options_init(&o);
    o.clip_norm = 2.5;
    o.lr = 1e-3;
    dh_optimizer *opt;
    ck_assert_dh_ok(dh_optimizer_create(&o, &opt));
    float a[OPTIM_N] = {0}, ga[OPTIM_N], b[5] = {0}, gb[5];
    memcpy(ga, clip_a_in, sizeof ga);
    memcpy(gb, clip_b_in, sizeof gb);
    ck_assert_dh_ok(dh_optimizer_add_param(opt, "a", a, ga, OPTIM_N, 0, 0));
    ck_assert_dh_ok(dh_optimizer_add_param(opt, "b", b, gb, 5, 1, 0));
    ck_assert_dh_ok(dh_optimizer_step(opt));
    double norm;
    ck_assert_dh_ok(dh_optimizer_get_grad_norm(opt, &norm));
    ck_assert_double_eq_tol(norm, clip_norm_before, 1e-5 * clip_norm_before);
    assert_close_f(ga, clip_a_out, OPTIM_N, 1e-6, "clip a", 0);
    assert_close_f(gb, clip_b_out, 5, 1e-6, "clip b", 0);
    /* a non-finite gradient is refused before anything changes */
    float before = a[0];
    ga[3] = NAN;
    ck_assert_dh_fail(dh_optimizer_step(opt), DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "'a'"));
    ck_assert_float_eq(a[0], before);
    ck_assert_uint_eq(dh_optimizer_get_step(opt), 1);
    ck_assert_dh_ok(dh_optimizer_zero_grad(opt));
    ck_assert_float_eq(ga[3], 0.0f);
    ck_assert_float_eq(gb[4], 0.0f);
    dh_optimizer_free(opt);
}
END_TEST

START_TEST(test_optim_groups_and_no_decay)
{
    dh_optimizer_options o;
    dh_optimizer_options_init(&o);
    o.lr = 0.5;
    o.lr_mult_backbone = 0.01;
    o.lr_mult_head = 1.0;
    o.lr_mult_loss = 10.0;
    o.weight_decay = 0.1;
    o.apply_no_decay = 1;
    dh_optimizer *opt;
    ck_assert_dh_ok(dh_optimizer_create(&o, &opt));
    float x[4] = {1, 1, 1, 1}, g[4] = {1, 1, 1, 1};
    ck_assert_dh_ok(dh_optimizer_add_param(opt, "bb", &x[0], &g[0], 1, DH_PARAM_GROUP_BACKBONE, 0));
    ck_assert_dh_ok(dh_optimizer_add_param(opt, "hd", &x[1], &g[1], 1, DH_PARAM_GROUP_HEAD, 0));
    ck_assert_dh_ok(dh_optimizer_add_param(opt, "ls", &x[2], &g[2], 1, DH_PARAM_GROUP_LOSS, 0));
    ck_assert_dh_ok(dh_optimizer_add_param(opt, "bias", &x[3], &g[3], 1, DH_PARAM_GROUP_HEAD,
                                           DH_PARAM_NO_DECAY));
    ck_assert_dh_ok(dh_optimizer_step(opt));
    ck_assert_float_eq_tol(x[0], 1.0f - 0.005f * 1.1f, 1e-7f);
    ck_assert_float_eq_tol(x[1], 1.0f - 0.5f * 1.1f, 1e-6f);
    ck_assert_float_eq_tol(x[2], 1.0f - 5.0f * 1.1f, 1e-5f);
    ck_assert_float_eq_tol(x[3], 1.0f - 0.5f, 1e-6f); /* no decay on the flagged tensor */
    dh_optimizer_free(opt);
}
END_TEST

/* Resume: copying state tensors and the step counter into a fresh optimizer gives the
 * same trajectory as never stopping. */
START_TEST(test_optim_state_resume_is_exact)
{
    dh_optimizer_options o;
    dh_optimizer_options_init(&o);
    o.type = DH_OPTIM_ADAMW;
    o.lr = 1e-2;
    o.weight_decay = 0.01;
    o.amsgrad = 1;
    o.schedule = DH_SCHED_COSINE;
    o.t_max = 8;
    dh_optimizer *a, *b;
    ck_assert_dh_ok(dh_optimizer_create(&o, &a));
    ck_assert_dh_ok(dh_optimizer_create(&o, &b));
    float xa[OPTIM_N], xb[OPTIM_N], ga[OPTIM_N], gb[OPTIM_N], y[3] = {1, 2, 3}, gy[3], y2[3], gy2[3];
    memcpy(xa, optim_x0, sizeof xa);
    ck_assert_dh_ok(dh_optimizer_add_param(a, "w", xa, ga, OPTIM_N, 0, 0));
    ck_assert_dh_ok(dh_optimizer_add_param(a, "v", y, gy, 3, 1, 0));
    ck_assert_uint_eq(dh__optimizer_state_count(a), 6);
    for (int k = 0; k < 3; k++) {
        memcpy(ga, optim_grads[k], sizeof ga);
        for (int j = 0; j < 3; j++) gy[j] = 0.1f * (float)(j + k);
        ck_assert_dh_ok(dh_optimizer_step(a));
    }
    memcpy(xb, xa, sizeof xb);
    memcpy(y2, y, sizeof y2);
    ck_assert_dh_ok(dh_optimizer_add_param(b, "w", xb, gb, OPTIM_N, 0, 0));
    ck_assert_dh_ok(dh_optimizer_add_param(b, "v", y2, gy2, 3, 1, 0));
    for (size_t i = 0; i < dh__optimizer_state_count(a); i++) {
        const char *na, *nb;
        float *da, *db;
        size_t la, lb;
        ck_assert_dh_ok(dh__optimizer_state_get(a, i, &na, &da, &la));
        ck_assert_dh_ok(dh__optimizer_state_get(b, i, &nb, &db, &lb));
        ck_assert_str_eq(na, nb);
        ck_assert_uint_eq(la, lb);
        memcpy(db, da, la * sizeof(float));
    }
    const char *nm;
    float *d;
    size_t n;
    ck_assert_dh_ok(dh__optimizer_state_get(a, 0, &nm, &d, &n));
    ck_assert_str_eq(nm, "w.exp_avg");
    ck_assert_dh_ok(dh__optimizer_state_get(a, 5, &nm, &d, &n));
    ck_assert_str_eq(nm, "v.max_exp_avg_sq");
    ck_assert_dh_fail(dh__optimizer_state_get(a, 6, &nm, &d, &n), DH_E_INVALID_ARG);
    dh__optimizer_set_step(b, dh_optimizer_get_step(a));
    for (int k = 3; k < OPTIM_STEPS; k++) {
        memcpy(ga, optim_grads[k], sizeof ga);
        memcpy(gb, optim_grads[k], sizeof gb);
        for (int j = 0; j < 3; j++) gy[j] = gy2[j] = 0.1f * (float)(j - k);
        ck_assert_dh_ok(dh_optimizer_step(a));
        ck_assert_dh_ok(dh_optimizer_step(b));
    }
    ck_assert(memcmp(xa, xb, sizeof xa) == 0);
    ck_assert(memcmp(y, y2, sizeof y) == 0);
    dh_optimizer_free(a);
    dh_optimizer_free(b);
}
END_TEST

START_TEST(test_optim_large_tensor_parallel_equals_serial)
{
    /* several chunks run in parallel; each element must equal the one-element update */
    size_t n = 100000;
    float *x = malloc(n * sizeof *x), *g = malloc(n * sizeof *g);
    for (size_t i = 0; i < n; i++) x[i] = (float)i * 1e-5f, g[i] = (float)(i % 7) - 3.0f;
    dh_optimizer_options o;
    dh_optimizer_options_init(&o);
    o.type = DH_OPTIM_ADAM;
    dh_optimizer *opt, *one;
    ck_assert_dh_ok(dh_optimizer_create(&o, &opt));
    ck_assert_dh_ok(dh_optimizer_create(&o, &one));
    ck_assert_dh_ok(dh_optimizer_add_param(opt, "big", x, g, n, 0, 0));
    float x1 = x[77777], g1 = g[77777];
    ck_assert_dh_ok(dh_optimizer_add_param(one, "one", &x1, &g1, 1, 0, 0));
    for (int s = 0; s < 3; s++) {
        ck_assert_dh_ok(dh_optimizer_step(opt));
        ck_assert_dh_ok(dh_optimizer_step(one));
    }
    ck_assert_float_eq(x[77777], x1);
    dh_optimizer_free(opt);
    dh_optimizer_free(one);
    free(x);
    free(g);
}
END_TEST

START_TEST(test_optim_create_rejects_bad_fields)
{
    dh_optimizer *opt = (dh_optimizer *)1;
    dh_optimizer_options o;
#define BAD(stmt, code)                                                                      \
    do {                                                                                     \
        dh_optimizer_options_init(&o);                                                       \
        stmt;                                                                                \
        ck_assert_dh_fail(dh_optimizer_create(&o, &opt), code);                              \
        ck_assert_ptr_null(opt);                                                             \
    } while (0)
    BAD(o.lr = 0, DH_E_INVALID_ARG);
    BAD(o.lr = NAN, DH_E_INVALID_ARG);
    BAD(o.type = 9, DH_E_INVALID_ARG);
    BAD(o.momentum = 1.0, DH_E_INVALID_ARG);
    BAD(o.nesterov = 1, DH_E_INVALID_ARG); /* needs momentum */
    BAD((o.nesterov = 1, o.momentum = 0.9, o.dampening = 0.1), DH_E_INVALID_ARG);
    BAD(o.weight_decay = -1, DH_E_INVALID_ARG);
    BAD(o.beta2 = 1.0, DH_E_INVALID_ARG);
    BAD(o.eps = 0, DH_E_INVALID_ARG);
    BAD(o.clip_norm = -1, DH_E_INVALID_ARG);
    BAD(o.lr_mult_head = -1, DH_E_INVALID_ARG);
    BAD(o.schedule = 7, DH_E_INVALID_ARG);
    BAD((o.schedule = DH_SCHED_STEP, o.step_size = 0), DH_E_INVALID_ARG);
    BAD((o.schedule = DH_SCHED_STEP, o.step_size = 1, o.gamma = 0), DH_E_INVALID_ARG);
    BAD((o.schedule = DH_SCHED_MULTISTEP, o.milestones[0] = 5, o.milestones[1] = 3),
        DH_E_INVALID_ARG);
    BAD((o.schedule = DH_SCHED_MULTISTEP, o.milestones[0] = 5, o.milestones[2] = 9),
        DH_E_INVALID_ARG);
    BAD((o.schedule = DH_SCHED_COSINE, o.t_max = 0), DH_E_INVALID_ARG);
    BAD((o.schedule = DH_SCHED_COSINE, o.t_max = 5, o.eta_min = 1.0), DH_E_INVALID_ARG);
    BAD((o.warmup = 5, o.warmup_start = 0), DH_E_INVALID_ARG);
    BAD(o.struct_size = 3, DH_E_INVALID_ARG);
#undef BAD
    ck_assert_dh_fail(dh_optimizer_create(&o, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh_optimizer_create(NULL, &opt)); /* NULL options: defaults */
    double lr;
    ck_assert_dh_ok(dh_optimizer_get_lr(opt, &lr));
    ck_assert_double_eq(lr, 0.01);
    dh_optimizer_free(opt);
    dh_optimizer_free(NULL);
    ck_assert_dh_fail(dh_schedule_lr(NULL, 0, NULL), DH_E_INVALID_ARG);
}
END_TEST

START_TEST(test_optim_options_old_and_oversized_struct)
{
    /* an old caller that knew fields up to `nesterov` only: the rest keep defaults */
    dh_optimizer_options o;
    dh_optimizer_options_init(&o);
    o.struct_size = offsetof(dh_optimizer_options, lr);
    o.type = DH_OPTIM_ADAM;
    o.lr = -5; /* beyond struct_size: must be ignored */
    dh_optimizer *opt;
    ck_assert_dh_ok(dh_optimizer_create(&o, &opt));
    ck_assert_int_eq(dh__optimizer_options(opt)->type, DH_OPTIM_ADAM);
    ck_assert_double_eq(dh__optimizer_options(opt)->lr, 0.01);
    dh_optimizer_free(opt);
    struct {
        dh_optimizer_options base;
        uint64_t future;
    } big;
    memset(&big, 0, sizeof big);
    dh_optimizer_options_init(&big.base);
    big.base.struct_size = sizeof big;
    ck_assert_dh_ok(dh_optimizer_create(&big.base, &opt));
    dh_optimizer_free(opt);
    big.future = 1;
    ck_assert_dh_fail(dh_optimizer_create(&big.base, &opt), DH_E_VERSION);
}
END_TEST

START_TEST(test_optim_add_and_step_errors)
{
    dh_optimizer *opt;
    ck_assert_dh_ok(dh_optimizer_create(NULL, &opt));
    float x[2] = {0}, g[2] = {0};
    ck_assert_dh_fail(dh_optimizer_step(opt), DH_E_STATE);
    ck_assert_dh_fail(dh_optimizer_step(NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_optimizer_add_param(NULL, "x", x, g, 2, 0, 0), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_optimizer_add_param(opt, NULL, x, g, 2, 0, 0), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_optimizer_add_param(opt, "", x, g, 2, 0, 0), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_optimizer_add_param(opt, "x", NULL, g, 2, 0, 0), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_optimizer_add_param(opt, "x", x, NULL, 2, 0, 0), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_optimizer_add_param(opt, "x", x, g, 0, 0, 0), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_optimizer_add_param(opt, "x", x, g, (size_t)1 << 50, 0, 0),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_optimizer_add_param(opt, "x", x, g, 2, 3, 0), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_optimizer_add_param(opt, "x", x, g, 2, 0, 4), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh_optimizer_add_param(opt, "x", x, g, 2, 0, 0));
    ck_assert_dh_fail(dh_optimizer_add_param(opt, "x", x, g, 2, 0, 0), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh_optimizer_step(opt));
    ck_assert_dh_fail(dh_optimizer_add_param(opt, "y", x, g, 2, 0, 0), DH_E_STATE);
    ck_assert_dh_fail(dh_optimizer_zero_grad(NULL), DH_E_INVALID_ARG);
    ck_assert_uint_eq(dh_optimizer_get_step(NULL), 0);
    double v;
    ck_assert_dh_fail(dh_optimizer_get_lr(NULL, &v), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_optimizer_get_lr(opt, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_optimizer_get_grad_norm(opt, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh_optimizer_get_grad_norm(opt, &v));
    ck_assert_double_eq(v, 0.0); /* not computed without clipping */
    dh_optimizer_free(opt);
}
END_TEST

static Suite *optim_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("Golden");
    tcase_add_loop_test(tc, test_optim_step_matches_torch, 0,
                        (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, test_optim_schedules_match_torch);
    tcase_add_test(tc, test_optim_clip_matches_torch);
    suite_add_tcase(s, tc);
    tc = tcase_create("Behaviour");
    tcase_add_test(tc, test_optim_schedule_unit_counts_epochs);
    tcase_add_test(tc, test_optim_groups_and_no_decay);
    tcase_add_test(tc, test_optim_state_resume_is_exact);
    tcase_add_test(tc, test_optim_large_tensor_parallel_equals_serial);
    suite_add_tcase(s, tc);
    tc = tcase_create("Errors");
    tcase_add_test(tc, test_optim_create_rejects_bad_fields);
    tcase_add_test(tc, test_optim_options_old_and_oversized_struct);
    tcase_add_test(tc, test_optim_add_and_step_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dh_test_run(optim_suite()); }
