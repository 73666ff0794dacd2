/* lib/train/resolve.c -- a trainer's options: their defaults (dh_trainer_options_init),
 * and their resolution against the recipe table
 * (lib/loss/recipe.c, docs/recipes.md): every field left at "default" takes the value
 * of the recipe row for (method, setting, variant, input size), the loader knobs the
 * loader's defaults. dh_trainer_create, dh_trainer_options_resolve and --show-recipe
 * share this one function, so what is printed is what runs. */
#include <string.h>

#include "model/model.h"
#include "train/train_impl.h"

void dh_trainer_options_init(dh_trainer_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->seed = 1;
    o->optimizer = -1;
    o->schedule = -1;
    o->momentum = -1;
    o->weight_decay = -1;
    o->keep_best = 1;
    o->augment = DH_AUG_RECIPE; /* Since 1.3: the recipe's (0 = none) */
    o->crop_padding = -1;
    o->flip_prob = o->scale_min = o->scale_max = o->ratio_min = o->ratio_max = -1.0f;
    o->brightness = o->contrast = o->saturation = o->grayscale_prob = o->blur_prob = -1.0f;
    o->lr_min_ratio = -1;
    o->recipe_setting = DH_RECIPE_AUTO;
    o->decay_scope = -1;
}

int32_t dh__trainer_setting_for(const char *encoder)
{
    /* the ImageNet-stem encoders are the ones pretrained weights exist for */
    if (encoder && (!strcmp(encoder, "alexnet") || !strcmp(encoder, "resnet18")))
        return DH_RECIPE_PRETRAINED;
    return DH_RECIPE_SCRATCH;
}

static int32_t optimizer_from_name(const char *s, int32_t *nesterov)
{
    *nesterov = 0;
    if (!s) return DH_OPTIM_ADAM;
    if (!strcmp(s, "sgd")) return DH_OPTIM_SGD;
    if (!strcmp(s, "sgd-nesterov")) return (*nesterov = 1), DH_OPTIM_SGD;
    if (!strcmp(s, "rmsprop")) return DH_OPTIM_RMSPROP;
    if (!strcmp(s, "adamw")) return DH_OPTIM_ADAMW;
    return DH_OPTIM_ADAM;
}

static int prob_ok(float p) { return p >= 0 && p <= 1; }

static dh_status check_knobs(const dh_trainer_options *o)
{
    const char *bad = NULL;
    if (!prob_ok(o->flip_prob)) bad = "flip_prob";
    else if (!prob_ok(o->grayscale_prob)) bad = "grayscale_prob";
    else if (!prob_ok(o->blur_prob)) bad = "blur_prob";
    else if (!prob_ok(o->brightness)) bad = "brightness";
    else if (!prob_ok(o->contrast)) bad = "contrast";
    else if (!prob_ok(o->saturation)) bad = "saturation";
    else if (!(o->lr_min_ratio >= 0 && o->lr_min_ratio <= 1)) bad = "lr_min_ratio";
    if (bad)
        return dh__set_error(DH_E_INVALID_ARG, "dh_trainer_options.%s must be in [0, 1] (or "
                             "negative for the default)", bad);
    DH_CHECK_ARG_MSG(o->scale_min <= o->scale_max && o->scale_max <= 1,
                     "dh_trainer_options: need 0 < scale_min <= scale_max <= 1 (got %g, %g)",
                     (double)o->scale_min, (double)o->scale_max);
    DH_CHECK_ARG_MSG(o->ratio_min <= o->ratio_max, "dh_trainer_options: need 0 < ratio_min <= "
                     "ratio_max (got %g, %g)", (double)o->ratio_min, (double)o->ratio_max);
    DH_CHECK_ARG_MSG(o->crop_padding <= 4096, "dh_trainer_options.crop_padding %d > 4096",
                     o->crop_padding);
    DH_CHECK_ARG_MSG(o->decay_scope == DH_DECAY_ALL || o->decay_scope == DH_DECAY_WEIGHTS,
                     "dh_trainer_options.decay_scope %d is not DH_DECAY_ALL or DH_DECAY_WEIGHTS",
                     o->decay_scope);
    DH_CHECK_ARG_MSG(o->augment == DH_AUG_RECIPE || !(o->augment & DH_AUG_RECIPE),
                     "dh_trainer_options.augment: DH_AUG_RECIPE cannot be combined with flags");
    return DH_OK;
}

/* The loader knobs: negative (or 0 where 0 is meaningless) = the loader's default. */
static void loader_knobs(dh_trainer_options *o)
{
    dh_loader_options d;
    dh_loader_options_init(&d);
    if (o->flip_prob < 0) o->flip_prob = d.flip_prob;
    if (o->scale_min <= 0) o->scale_min = d.scale_min;
    if (o->scale_max <= 0) o->scale_max = d.scale_max;
    if (o->ratio_min <= 0) o->ratio_min = d.ratio_min;
    if (o->ratio_max <= 0) o->ratio_max = d.ratio_max;
    if (o->brightness < 0) o->brightness = d.brightness;
    if (o->contrast < 0) o->contrast = d.contrast;
    if (o->saturation < 0) o->saturation = d.saturation;
    if (o->grayscale_prob < 0) o->grayscale_prob = d.grayscale_prob;
    if (o->blur_prob < 0) o->blur_prob = d.blur_prob;
}

dh_status dh__trainer_resolve(dh_trainer_options *o, const char *method, const char *encoder,
                              uint32_t height, uint32_t width, int32_t *nesterov)
{
    int32_t setting = o->recipe_setting;
    if (setting == DH_RECIPE_AUTO) setting = dh__trainer_setting_for(encoder);
    DH_CHECK_ARG_MSG(setting == DH_RECIPE_SCRATCH || setting == DH_RECIPE_PRETRAINED,
                     "dh_trainer_options.recipe_setting %d is not DH_RECIPE_AUTO, _SCRATCH or "
                     "_PRETRAINED", o->recipe_setting);
    uint32_t size = height < width ? height : width;
    dh_loss_recipe r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    DH_TRY(dh_loss_recipe_lookup(method, setting, o->recipe, size, &r));
    o->recipe = r.variant;
    o->recipe_setting = setting;
    if (!o->epochs) o->epochs = r.epochs ? r.epochs : 20;
    if (!o->batch_size) o->batch_size = r.batch_size ? r.batch_size : 64;
    int32_t nest = 0, type = optimizer_from_name(r.optimizer, &nest);
    if (o->optimizer >= 0 && o->optimizer != type) nest = 0;
    if (o->optimizer < 0) o->optimizer = type;
    if (!(o->lr > 0)) o->lr = r.lr > 0 ? r.lr : 1e-3;
    if (o->momentum < 0) o->momentum = r.momentum;
    if (o->optimizer == DH_OPTIM_ADAM || o->optimizer == DH_OPTIM_ADAMW) o->momentum = 0;
    if (o->optimizer != DH_OPTIM_SGD || o->momentum <= 0) nest = 0;
    if (o->weight_decay < 0) o->weight_decay = r.weight_decay;
    if (!(o->backbone_lr_mult > 0)) o->backbone_lr_mult = r.backbone_lr_mult;
    if (!o->warmup_epochs) o->warmup_epochs = r.warmup_epochs;
    if (o->schedule < 0) o->schedule = r.schedule;
    if (o->lr_min_ratio < 0) o->lr_min_ratio = r.lr_min_ratio;
    if (o->decay_scope < 0) o->decay_scope = r.decay_scope;
    if (o->augment == DH_AUG_RECIPE) o->augment = r.augment;
    if (o->crop_padding < 0) o->crop_padding = r.crop_padding; /* -1 without an input size */
    loader_knobs(o);
    if (nesterov) *nesterov = nest;
    return check_knobs(o);
}

dh_status dh_trainer_options_resolve(const dh_trainer_options *opts, const char *method,
                                     const char *encoder, uint32_t height, uint32_t width,
                                     dh_trainer_options *out)
{
    DH_CHECK_ARG(method != NULL && out != NULL);
    DH_CHECK_ARG_MSG(out->struct_size >= sizeof(size_t),
                     "dh_trainer_options_resolve: out->struct_size is not set");
    dh_trainer_options o;
    dh_trainer_options_init(&o);
    DH_TRY(dh__options_copy(&o, sizeof o, opts, "dh_trainer_options"));
    DH_TRY(dh__trainer_resolve(&o, method, encoder, height, width, NULL));
    size_t n = out->struct_size < sizeof o ? out->struct_size : sizeof o;
    memcpy((char *)out + sizeof(size_t), (const char *)&o + sizeof(size_t), n - sizeof(size_t));
    return DH_OK;
}

dh_status dh_trainer_get_options(const dh_trainer *t, dh_trainer_options *out)
{
    DH_CHECK_ARG(t != NULL && out != NULL);
    DH_CHECK_ARG_MSG(out->struct_size >= sizeof(size_t),
                     "dh_trainer_get_options: out->struct_size is not set");
    size_t n = out->struct_size < sizeof t->o ? out->struct_size : sizeof t->o;
    memcpy((char *)out + sizeof(size_t), (const char *)&t->o + sizeof(size_t), n - sizeof(size_t));
    return DH_OK;
}
