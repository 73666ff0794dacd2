/* lib/loss/recipe.c -- libdh's recipe table: one row per method x setting x variant
 * (docs/recipes.md), its lookup, and the method constants a row may set.
 *
 * A lookup (method, setting, variant) takes the row of that exact setting, else the
 * DH_RECIPE_ANY row; "default" falls back to the method's "paper" row. So every
 * method has a "paper" row (the papers' / official code's values, meant for
 * pretrained ImageNet backbones, docs/methods.md), the supervised methods a scratch
 * "default" row (small encoders trained from scratch) and a "reference" row (the
 * PyTorch reference recipe of issue 14), and a method may add its own variants.
 * Values are tuned on a validation split (bench/, docs/results.md); edit the rows,
 * not the code. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "loss/loss.h"

typedef struct opt_d { int set; double v; } opt_d; /* unset: NaN = the method's own */
typedef struct opt_i { int set; int32_t v; } opt_i; /* unset: -1 */
#define SET(x) {1, (x)}

typedef struct row {
    const char *method, *variant;
    int32_t setting;
    const char *optimizer;
    double lr, momentum, weight_decay;
    double backbone_lr_mult, param_lr_mult; /* 0: 1 */
    uint32_t batch_size, epochs;
    int32_t schedule;
    double lr_min_ratio;
    uint32_t warmup_epochs, augment;
    opt_i crop_padding; /* unset: size-aware (dh_crop_padding_default) */
    int32_t decay_scope;
    opt_d quant_weight, scale, margin;
    opt_i loss_variant, loss_schedule;
    const char *source;
    opt_d tau;
} row;

#define CROP_FLIP (DH_AUG_RANDOM_CROP | DH_AUG_FLIP)
#define OPT(name, lr_, mom, wd, bs, ep)                                                      \
    .optimizer = name, .lr = lr_, .momentum = mom, .weight_decay = wd, .batch_size = bs,    \
    .epochs = ep
/* The papers' rows: cosine per epoch to lr/100 (the schedule libdh 1.0-1.2 always used),
 * no warm-up, no decay on biases and norm layers. */
#define PAPER(m) .method = m, .variant = "paper", .setting = DH_RECIPE_ANY,                  \
    .schedule = DH_SCHED_COSINE, .lr_min_ratio = 0.01, .decay_scope = DH_DECAY_WEIGHTS
/* Scratch defaults and the reference: the PyTorch reference recipe's shape (cosine per
 * epoch to 0, decay on every tensor as torch.optim over model.parameters(), random crop
 * with the size-aware padding + horizontal flip). */
#define SCRATCH_AUG(m, aug) .method = m, .variant = "default", .setting = DH_RECIPE_SCRATCH, \
    .schedule = DH_SCHED_COSINE, .decay_scope = DH_DECAY_ALL, .augment = aug
#define SCRATCH(m) SCRATCH_AUG(m, CROP_FLIP)
/* The same without augmentation: what the validation split preferred for some. */
#define SCRATCH_NOAUG(m) SCRATCH_AUG(m, 0)
#define REFERENCE(m) .method = m, .variant = "reference", .setting = DH_RECIPE_ANY,          \
    .schedule = DH_SCHED_COSINE, .decay_scope = DH_DECAY_ALL, .augment = CROP_FLIP,          \
    .source = "issue 14 PyTorch reference (smallcnn, fashion-mnist)"
/* Chosen on fashion-mnist's validation split (1,000 queries held out of the training
 * images, 20 epochs, 64 and 16 bits; docs/recipes.md): */
#define VAL_KEPT "issue 14 reference recipe, kept on the validation split"
#define VAL_NOAUG "issue 14 reference recipe without crop/flip (validation split)"
/* Unsupervised and weak scratch defaults: the paper row's shape with what the validation
 * split preferred (bench/unsup_validate.py at 32 bits; bench/weak_fashion_mnist.py
 * --validation at 16 bits, four seeds). */
#define VALIDATED(m) .method = m, .variant = "default", .setting = DH_RECIPE_SCRATCH,         \
    .schedule = DH_SCHED_COSINE, .lr_min_ratio = 0.01, .decay_scope = DH_DECAY_WEIGHTS

static const row table[] = {
    /* ---- pairwise ---- */
    {PAPER("dpsh"), OPT("sgd", 0.05, 0, 1e-5, 128, 150), .augment = CROP_FLIP,
     .source = "official DPSH (jiangqy): lr x0.1 every 50 epochs there"},
    {SCRATCH_NOAUG("dpsh"), OPT("adam", 1e-3, 0, 0, 128, 20), .source = VAL_NOAUG},
    {REFERENCE("dpsh"), OPT("adam", 1e-3, 0, 0, 128, 20)},
    {PAPER("hashnet"), OPT("sgd-nesterov", 3e-4, 0.9, 5e-4, 72, 100), .augment = CROP_FLIP,
     .backbone_lr_mult = 0.1, .source = "official HashNet (thuml): head x10 of the backbone"},
    {SCRATCH("hashnet"), OPT("adam", 1e-3, 0, 0, 128, 20), .source = VAL_KEPT},
    {REFERENCE("hashnet"), OPT("adam", 1e-3, 0, 0, 128, 20)},
    {.method = "hashnet", .variant = "dhp", .setting = DH_RECIPE_ANY,
     OPT("rmsprop", 1e-5, 0, 1e-5, 64, 150), .schedule = DH_SCHED_CONSTANT,
     .decay_scope = DH_DECAY_ALL, .augment = CROP_FLIP, .scale = SET(0.1),
     .loss_schedule = SET(0),
     .source = "DeepHash-pytorch (swuxyj): alpha 0.1, beta sqrt(floor(e/20)+1) per epoch"},
    {PAPER("dch"), OPT("rmsprop", 1e-5, 0, 1e-5, 128, 150), .augment = CROP_FLIP,
     .source = "DeepHash-pytorch DCH (official: SGD-momentum lr 0.005)"},
    {SCRATCH_NOAUG("dch"), OPT("adam", 1e-3, 0, 0, 128, 20), .source = VAL_NOAUG},
    {REFERENCE("dch"), OPT("adam", 1e-3, 0, 0, 128, 20)},
    {PAPER("dsh"), OPT("adam", 1e-3, 0, 4e-3, 256, 500), .augment = CROP_FLIP,
     .source = "DSH paper (Liu et al. 2016), from scratch on CIFAR-10"},
    {SCRATCH_NOAUG("dsh"), OPT("adam", 1e-3, 0, 4e-3, 128, 20), .source = VAL_NOAUG},
    {REFERENCE("dsh"), OPT("adam", 1e-3, 0, 4e-3, 128, 20)},
    /* ---- triplet, asymmetric ---- */
    {PAPER("dtsh"), OPT("rmsprop", 1e-5, 0, 1e-5, 128, 150), .augment = CROP_FLIP,
     .source = "DeepHash-pytorch DTSH"},
    {SCRATCH_NOAUG("dtsh"), OPT("adam", 1e-3, 0, 0, 128, 20), .source = VAL_NOAUG},
    {REFERENCE("dtsh"), OPT("adam", 1e-3, 0, 0, 128, 20)},
    {PAPER("triplet"), OPT("adam", 1e-4, 0, 5e-4, 128, 100), .augment = CROP_FLIP,
     .source = "libdh hinge-triplet baseline"},
    {SCRATCH("triplet"), OPT("adam", 1e-3, 0, 0, 128, 20), .source = VAL_KEPT},
    {REFERENCE("triplet"), OPT("adam", 1e-3, 0, 0, 128, 20)},
    {PAPER("adsh"), OPT("sgd", 1e-3, 0, 5e-4, 64, 150), .augment = CROP_FLIP,
     .source = "official ADSH: 50 outer iterations x 3 epochs over m = 2000 samples"},
    /* ---- class-label ---- */
    {PAPER("greedyhash"), OPT("sgd", 1e-3, 0.9, 5e-4, 32, 50), .augment = CROP_FLIP,
     .source = "official GreedyHash (ssppp)"},
    {SCRATCH_NOAUG("greedyhash"), OPT("adam", 1e-3, 0, 0, 128, 20), .source = VAL_NOAUG},
    {REFERENCE("greedyhash"), OPT("adam", 1e-3, 0, 0, 128, 20)},
    {PAPER("csq"), OPT("adam", 1e-3, 0, 0, 64, 90), .augment = CROP_FLIP,
     .backbone_lr_mult = 0.01, .source = "official CSQ (yuanli2333): backbone lr x0.01"},
    {SCRATCH("csq"), OPT("adam", 1e-3, 0, 0, 128, 20), .source = VAL_KEPT},
    {REFERENCE("csq"), OPT("adam", 1e-3, 0, 0, 128, 20)},
    {PAPER("dpn"), OPT("sgd", 1e-4, 0.9, 5e-4, 256, 200), .augment = CROP_FLIP,
     .source = "official DPN: lr x0.1 at epoch 100 there"},
    {SCRATCH("dpn"), OPT("adam", 1e-3, 0, 0, 128, 20), .source = VAL_KEPT},
    {REFERENCE("dpn"), OPT("adam", 1e-3, 0, 0, 128, 20)},
    {PAPER("orthohash"), OPT("adam", 1e-4, 0, 5e-4, 256, 100), .augment = CROP_FLIP,
     .backbone_lr_mult = 0.1, .source = "official OrthoHash (kamwoh)"},
    {SCRATCH("orthohash"), OPT("adam", 1e-3, 0, 5e-4, 128, 20), .source = VAL_KEPT},
    {REFERENCE("orthohash"), OPT("adam", 1e-3, 0, 5e-4, 128, 20)},
    {PAPER("mdsh"), OPT("adam", 1e-4, 0, 5e-4, 64, 100), .augment = CROP_FLIP,
     .backbone_lr_mult = 0.1, .source = "MDSH (OrthoHash-style training)"},
    {SCRATCH_NOAUG("mdsh"), OPT("adam", 1e-3, 0, 0, 128, 20), .source = VAL_NOAUG},
    {REFERENCE("mdsh"), OPT("adam", 1e-3, 0, 0, 128, 20)},
    /* ---- joint, two-stage ---- */
    {PAPER("sprch"), OPT("adam", 1e-4, 0, 0, 128, 100), .augment = CROP_FLIP,
     .backbone_lr_mult = 0.1, .param_lr_mult = 10.0,
     .source = "SPRCH: hash layer 1e-4, backbone 1e-5, proxies 1e-3"},
    {SCRATCH("sprch"), OPT("adam", 1e-3, 0, 0, 128, 20), .source = VAL_KEPT},
    {REFERENCE("sprch"), OPT("adam", 1e-3, 0, 0, 128, 20)},
    {PAPER("twostage"), OPT("sgd", 1e-3, 0.9, 5e-4, 64, 100), .augment = CROP_FLIP,
     .source = "CNNH stage 2"},
    /* ---- incremental, long-tail ---- */
    {PAPER("dihn"), OPT("adam", 1e-4, 0, 1e-5, 64, 150), .augment = CROP_FLIP,
     .source = "DIHN reference code: 50 outer iterations x 3 epochs"},
    {PAPER("dih"), OPT("adam", 1e-4, 0, 1e-5, 64, 50), .augment = CROP_FLIP,
     .source = "libdh recipe (docs/methods.md#dih)"},
    {PAPER("lthnet"), OPT("rmsprop", 1e-5, 0, 5e-4, 128, 100), .augment = CROP_FLIP,
     .source = "LTHNet"},
    {PAPER("dualproxy"), OPT("adam", 1e-4, 0, 0, 128, 100), .augment = CROP_FLIP,
     .backbone_lr_mult = 0.1, .param_lr_mult = 10.0, .source = "libdh dual-proxy: proxies x10"},
    /* ---- unsupervised (their own views; no augmentation flags: cibhash's default
     * two-view augmentations apply), weak ---- */
    {PAPER("cibhash"), OPT("adam", 1e-3, 0, 0, 64, 60), .tau = SET(0.3),
     .source = "CIBHash; batch in images (the network sees two views)"},
    {VALIDATED("cibhash"), OPT("adam", 8e-3, 0, 0, 64, 60), .tau = SET(0.7),
     .source = "CIBHash's recipe with tau 0.7 and lr 8e-3 (validation split: tau 0.3-1.0, "
               "lr 1e-3-8e-3 tried)"},
    {PAPER("bihalf"), OPT("adam", 1e-3, 0, 0, 64, 50),
     .source = "libdh from scratch (the paper: SGD 1e-4 on a frozen VGG-16)"},
    {VALIDATED("bihalf"), OPT("adam", 1e-4, 0, 0, 64, 1),
     .source = "libdh from scratch on pixel-cosine targets: 1 epoch at lr 1e-4 (validation "
               "split: longer training lowers mAP; lr 1e-4 to 1e-3 tried)"},
    {PAPER("ssdh"), OPT("adam", 1e-3, 0, 0, 64, 50),
     .source = "libdh from scratch (the paper: batch 24 on a fine-tuned VGG-16)"},
    {VALIDATED("ssdh"), OPT("adam", 1e-3, 0, 0, 64, 20), .margin = SET(0.0),
     .source = "libdh from scratch, thresholds at the distance histogram's peak (margin 0; "
               "validation split: 2, 1, 0.5, 0.25, 0 tried)"},
    {PAPER("kmeans"), OPT("adam", 1e-3, 0, 0, 64, 50), .source = "libdh"},
    {PAPER("sgh"), OPT("adam", 1e-3, 0, 0, 64, 50), .source = "libdh"},
    {PAPER("lsh"), OPT("sgd", 1e-3, 0, 0, 256, 1), .source = "closed form: no optimiser steps"},
    {PAPER("pcah"), OPT("sgd", 1e-3, 0, 0, 256, 1), .source = "closed form: no optimiser steps"},
    {PAPER("itq"), OPT("sgd", 1e-3, 0, 0, 256, 1), .source = "closed form: no optimiser steps"},
    {PAPER("wdht"), OPT("adam", 1e-3, 0, 1e-5, 128, 20), .source = "libdh (WDHT)"},
    {VALIDATED("wdht"), OPT("adam", 3e-3, 0, 1e-5, 128, 20),
     .source = "libdh (WDHT) with lr 3e-3 (validation split: 1e-3, 2e-3, 3e-3, 5e-3 and "
               "10-30 epochs tried)"},
    {PAPER("tagrefine"), OPT("adam", 1e-3, 0, 1e-5, 128, 20), .source = "libdh (WDHT)"},
    {VALIDATED("tagrefine"), OPT("adam", 3e-3, 0, 1e-5, 32, 20),
     .source = "libdh (WDHT) with lr 3e-3 and batch 32 (validation split: lr as wdht's; "
               "batch 32 / 64 / 128 at 16, 32 and 64 bits)"},
};
#define N_ROWS (sizeof table / sizeof table[0])

size_t dh_loss_recipe_count(void) { return N_ROWS; }

static int same(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

static void fill(const row *w, dh_loss_recipe *d)
{
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->optimizer = w->optimizer;
    d->lr = w->lr, d->momentum = w->momentum, d->weight_decay = w->weight_decay;
    d->backbone_lr_mult = w->backbone_lr_mult > 0 ? w->backbone_lr_mult : 1.0;
    d->param_lr_mult = w->param_lr_mult > 0 ? w->param_lr_mult : 1.0;
    d->batch_size = w->batch_size, d->epochs = w->epochs;
    d->method = w->method, d->variant = w->variant, d->source = w->source ? w->source : "";
    d->setting = w->setting;
    d->schedule = w->schedule, d->lr_min_ratio = w->lr_min_ratio;
    d->warmup_epochs = w->warmup_epochs, d->augment = w->augment;
    d->crop_padding = w->crop_padding.set ? w->crop_padding.v : -1;
    d->decay_scope = w->decay_scope;
    d->quant_weight = w->quant_weight.set ? w->quant_weight.v : NAN;
    d->scale = w->scale.set ? w->scale.v : NAN;
    d->margin = w->margin.set ? w->margin.v : NAN;
    d->loss_variant = w->loss_variant.set ? w->loss_variant.v : -1;
    d->loss_schedule = w->loss_schedule.set ? w->loss_schedule.v : -1;
    d->tau = w->tau.set ? w->tau.v : NAN;
}

/* Copy the first out->struct_size bytes of a full recipe (struct_size kept). */
static dh_status give(const dh_loss_recipe *d, dh_loss_recipe *out, const char *fn)
{
    size_t want = out->struct_size;
    if (want < sizeof(size_t))
        return dh__set_error(DH_E_INVALID_ARG, "%s: recipe->struct_size %zu not set", fn, want);
    memcpy((char *)out + sizeof(size_t), (const char *)d + sizeof(size_t),
           (want < sizeof *d ? want : sizeof *d) - sizeof(size_t));
    return DH_OK;
}

dh_status dh_loss_recipe_row(size_t i, dh_loss_recipe *out)
{
    DH_CHECK_ARG(out != NULL);
    if (i >= N_ROWS)
        return dh__set_error(DH_E_INVALID_ARG, "dh_loss_recipe_row: row %zu of %zu", i,
                             (size_t)N_ROWS);
    dh_loss_recipe d;
    fill(&table[i], &d);
    return give(&d, out, "dh_loss_recipe_row");
}

static const row *find(const char *method, int32_t setting, const char *variant)
{
    const row *any = NULL;
    for (size_t i = 0; i < N_ROWS; i++) {
        const row *w = &table[i];
        if (!same(w->method, method) || !same(w->variant, variant)) continue;
        if (w->setting == setting) return w;
        if (w->setting == DH_RECIPE_ANY && !any) any = w;
    }
    return any;
}

static dh_status no_variant(const char *method, const char *variant)
{
    char list[256] = "";
    size_t off = 0;
    for (size_t i = 0; i < N_ROWS && off < sizeof list; i++)
        if (same(table[i].method, method) && !same(table[i].variant, "default") &&
            !strstr(list, table[i].variant))
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", off ? ", " : "",
                                    table[i].variant);
    return dh__set_error(DH_E_NOT_FOUND, "dh_loss_recipe_lookup: method '%.40s' has no recipe "
                         "variant '%.40s'; its variants: default, %s", method, variant, list);
}

/* The method's canonical name, NULL when unknown. */
static const char *method_name(const char *method)
{
    for (size_t i = 0; i < dh_loss_method_count(); i++)
        if (same(dh_loss_method_name(i), method)) return dh_loss_method_name(i);
    return NULL;
}

dh_status dh_loss_recipe_lookup(const char *method, int32_t setting, const char *variant,
                                uint32_t input_size, dh_loss_recipe *out)
{
    DH_CHECK_ARG(method != NULL && out != NULL);
    DH_CHECK_ARG_MSG(setting == DH_RECIPE_SCRATCH || setting == DH_RECIPE_PRETRAINED,
                     "dh_loss_recipe_lookup: setting %d is not DH_RECIPE_SCRATCH (0) or "
                     "DH_RECIPE_PRETRAINED (1)", setting);
    const char *m = method_name(method);
    if (!m)
        return dh__set_error(DH_E_NOT_FOUND, "dh_loss_recipe_lookup: unknown method '%.40s'",
                             method);
    const char *v = variant && *variant ? variant : "default";
    const row *w = find(m, setting, v);
    if (!w && same(v, "default")) w = find(m, setting, "paper");
    if (!w) return no_variant(m, v);
    dh_loss_recipe d;
    fill(w, &d);
    d.setting = setting;
    if (setting == DH_RECIPE_SCRATCH) d.backbone_lr_mult = 1.0; /* nothing pretrained */
    if (input_size) {
        if (d.crop_padding < 0) d.crop_padding = dh_crop_padding_default(input_size, input_size);
        if ((d.augment & DH_AUG_RANDOM_CROP) && input_size >= DH_RECIPE_RESIZED_CROP_MIN)
            d.augment = (d.augment & ~(uint32_t)DH_AUG_RANDOM_CROP) | DH_AUG_RESIZED_CROP;
    }
    return give(&d, out, "dh_loss_recipe_lookup");
}

dh_status dh_loss_options_apply_recipe(dh_loss_options *o, const dh_loss_recipe *r)
{
    DH_CHECK_ARG(o != NULL && r != NULL);
    DH_CHECK_ARG_MSG(o->struct_size >= offsetof(dh_loss_options, cb_beta) &&
                     r->struct_size >= offsetof(dh_loss_recipe, loss_schedule) + sizeof(int32_t),
                     "dh_loss_options_apply_recipe: opts or recipe struct_size not set (or "
                     "older than 1.3)");
    if (isnan(o->quant_weight) && !isnan(r->quant_weight)) o->quant_weight = r->quant_weight;
    if (isnan(o->scale) && !isnan(r->scale)) o->scale = r->scale;
    if (isnan(o->margin) && !isnan(r->margin)) o->margin = r->margin;
    if (o->variant < 0 && r->loss_variant >= 0) o->variant = r->loss_variant;
    if (o->schedule < 0 && r->loss_schedule >= 0) o->schedule = r->loss_schedule;
    if (r->struct_size >= offsetof(dh_loss_recipe, tau) + sizeof(double) && isnan(o->tau) &&
        !isnan(r->tau))
        o->tau = r->tau;
    return DH_OK;
}

/* dh_loss_get_recipe (loss.c): the method's pretrained default. */
dh_status dh__loss_recipe_default(const char *method, dh_loss_recipe *out)
{
    return dh_loss_recipe_lookup(method, DH_RECIPE_PRETRAINED, "default", 0, out);
}
