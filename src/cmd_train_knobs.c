/* src/cmd_train_knobs.c -- `dh train`'s recipe and augmentation flags and
 * --show-recipe (docs/recipes.md). The values are resolved by the library
 * (dh_trainer_options_resolve), so what --show-recipe prints is what dh_trainer_create
 * uses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_train_knobs.h"

void dh_cli_knobs_init(dh_cli_knobs *k)
{
    memset(k, 0, sizeof *k);
    k->crop_padding = UINT32_MAX;
    k->flip_prob = k->gray_prob = k->blur_prob = k->lr_floor = NAN;
}

int dh_cli_knobs_parse(const char *cmd, int argc, char **argv, int *i, dh_cli_knobs *k,
                       int *matched)
{
    static const struct { const char *flag; size_t off; } strs[] = {
        {"--recipe", offsetof(dh_cli_knobs, recipe)},
        {"--recipe-setting", offsetof(dh_cli_knobs, setting)},
        {"--crop-scale", offsetof(dh_cli_knobs, crop_scale)},
        {"--crop-ratio", offsetof(dh_cli_knobs, crop_ratio)},
        {"--jitter", offsetof(dh_cli_knobs, jitter)},
        {"--decay-scope", offsetof(dh_cli_knobs, decay_scope)}};
    static const struct { const char *flag; size_t off; } f64s[] = {
        {"--flip-prob", offsetof(dh_cli_knobs, flip_prob)},
        {"--gray-prob", offsetof(dh_cli_knobs, gray_prob)},
        {"--blur-prob", offsetof(dh_cli_knobs, blur_prob)},
        {"--lr-floor", offsetof(dh_cli_knobs, lr_floor)}};
    const char *v;
    *matched = 1;
    if (!strcmp(argv[*i], "--show-recipe")) return (k->show = 1), 0;
    for (size_t j = 0; j < sizeof strs / sizeof strs[0]; j++) {
        int r = dh_cli_flag(argc, argv, i, strs[j].flag, (const char **)((char *)k + strs[j].off));
        if (r < 0) return dh_cli_usage_error(cmd, "%s needs a value", strs[j].flag);
        if (r) return 0;
    }
    for (size_t j = 0; j < sizeof f64s / sizeof f64s[0]; j++) {
        int r = dh_cli_flag(argc, argv, i, f64s[j].flag, &v);
        if (r < 0) return dh_cli_usage_error(cmd, "%s needs a value", f64s[j].flag);
        if (r) return dh_cli_f64(cmd, f64s[j].flag, v, 0, 1, (double *)((char *)k + f64s[j].off));
    }
    int r = dh_cli_flag(argc, argv, i, "--crop-padding", &v);
    if (r < 0) return dh_cli_usage_error(cmd, "--crop-padding needs a value");
    if (r) return dh_cli_u32(cmd, "--crop-padding", v, 0, 4096, &k->crop_padding);
    *matched = 0;
    return 0;
}

int32_t dh_cli_knobs_setting(const dh_cli_knobs *k, int has_backbone)
{
    if (k->setting && !strcmp(k->setting, "scratch")) return DH_RECIPE_SCRATCH;
    if (k->setting && !strcmp(k->setting, "pretrained")) return DH_RECIPE_PRETRAINED;
    if (k->setting && strcmp(k->setting, "auto")) return -2;
    return has_backbone && !k->setting ? DH_RECIPE_PRETRAINED : DH_RECIPE_AUTO;
}

/* "a,b[,c]": n numbers into out (fewer given: the last repeats). */
static int numbers(const char *cmd, const char *flag, const char *s, int n, float *out)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    int got = 0;
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        char *end;
        if (got == n) return dh_cli_usage_error(cmd, "%s: at most %d numbers", flag, n);
        out[got++] = strtof(t, &end);
        if (end == t || *end) return dh_cli_usage_error(cmd, "%s: '%s' is not a number", flag, t);
    }
    if (!got) return dh_cli_usage_error(cmd, "%s: expected comma-separated numbers", flag);
    for (int j = got; j < n; j++) out[j] = out[got - 1];
    return 0;
}

int dh_cli_knobs_trainer(const char *cmd, const dh_cli_knobs *k, int has_backbone,
                         dh_trainer_options *to)
{
    int rc;
    float v[3];
    to->recipe = k->recipe;
    to->recipe_setting = dh_cli_knobs_setting(k, has_backbone);
    if (to->recipe_setting == -2)
        return dh_cli_usage_error(cmd, "--recipe-setting: '%s' is not scratch, pretrained or "
                                  "auto", k->setting);
    if (k->crop_padding != UINT32_MAX) to->crop_padding = (int32_t)k->crop_padding;
    if (!isnan(k->flip_prob)) to->flip_prob = (float)k->flip_prob;
    if (!isnan(k->gray_prob)) to->grayscale_prob = (float)k->gray_prob;
    if (!isnan(k->blur_prob)) to->blur_prob = (float)k->blur_prob;
    if (!isnan(k->lr_floor)) to->lr_min_ratio = k->lr_floor;
    if (k->crop_scale) {
        if ((rc = numbers(cmd, "--crop-scale", k->crop_scale, 2, v))) return rc;
        to->scale_min = v[0], to->scale_max = v[1];
    }
    if (k->crop_ratio) {
        if ((rc = numbers(cmd, "--crop-ratio", k->crop_ratio, 2, v))) return rc;
        to->ratio_min = v[0], to->ratio_max = v[1];
    }
    if (k->jitter) {
        if ((rc = numbers(cmd, "--jitter", k->jitter, 3, v))) return rc;
        to->brightness = v[0], to->contrast = v[1], to->saturation = v[2];
    }
    if (k->decay_scope) {
        if (!strcmp(k->decay_scope, "all")) to->decay_scope = DH_DECAY_ALL;
        else if (!strcmp(k->decay_scope, "weights")) to->decay_scope = DH_DECAY_WEIGHTS;
        else return dh_cli_usage_error(cmd, "--decay-scope: '%s' is not all or weights",
                                       k->decay_scope);
    }
    return 0;
}

/* The lookup's setting: the flags' choice, else the trainer's rule for the encoder. */
static int32_t lookup_setting(const dh_cli_knobs *k, const char *encoder, int has_backbone)
{
    int32_t s = dh_cli_knobs_setting(k, has_backbone);
    if (s != DH_RECIPE_AUTO) return s;
    return encoder && (!strcmp(encoder, "alexnet") || !strcmp(encoder, "resnet18"))
               ? DH_RECIPE_PRETRAINED : DH_RECIPE_SCRATCH;
}

int dh_cli_knobs_loss(const char *cmd, const dh_cli_knobs *k, const char *method,
                      const char *encoder, int has_backbone, dh_loss_options *lo)
{
    int32_t s = lookup_setting(k, encoder, has_backbone);
    if (s == -2)
        return dh_cli_usage_error(cmd, "--recipe-setting: '%s' is not scratch, pretrained or "
                                  "auto", k->setting);
    dh_loss_recipe r = {.struct_size = sizeof r};
    dh_status st = dh_loss_recipe_lookup(method, s, k->recipe, 0, &r);
    if (st == DH_OK) st = dh_loss_options_apply_recipe(lo, &r);
    return st == DH_OK ? 0 : dh_cli_fail(cmd, st);
}

static void print_augment(uint32_t f)
{
    static const struct { uint32_t bit; const char *name; } names[] = {
        {DH_AUG_RANDOM_CROP, "crop"}, {DH_AUG_RESIZED_CROP, "resized-crop"},
        {DH_AUG_FLIP, "flip"}, {DH_AUG_COLOR_JITTER, "jitter"}, {DH_AUG_GRAYSCALE, "gray"},
        {DH_AUG_BLUR, "blur"}};
    int any = 0;
    for (size_t j = 0; j < sizeof names / sizeof names[0]; j++)
        if (f & names[j].bit) printf("%s%s", any++ ? "," : "", names[j].name);
    printf("%s\n", any ? "" : "none");
}

static void print_const(const char *name, double v)
{
    if (isnan(v)) printf("%-17s method default\n", name);
    else printf("%-17s %g\n", name, v);
}

int dh_cli_knobs_show(const char *cmd, const dh_cli_knobs *k, const char *method,
                      const char *encoder, int has_backbone, uint32_t size,
                      const char *size_from, const dh_trainer_options *to,
                      const dh_loss_options *lo)
{
    dh_trainer_options r;
    dh_trainer_options_init(&r);
    dh_trainer_options in = *to;
    if (has_backbone && in.recipe_setting == DH_RECIPE_AUTO) in.recipe_setting = DH_RECIPE_PRETRAINED;
    dh_status st = dh_trainer_options_resolve(&in, method, encoder, size, size, &r);
    if (st != DH_OK) return dh_cli_fail(cmd, st);
    dh_loss_recipe rr = {.struct_size = sizeof rr};
    st = dh_loss_recipe_lookup(method, r.recipe_setting, r.recipe, size, &rr);
    if (st != DH_OK) return dh_cli_fail(cmd, st);
    static const char *opt[] = {"sgd", "adam", "adamw", "rmsprop"};
    static const char *sched[] = {"constant", "step", "multistep", "cosine"};
    printf("%-17s %s / %s / %s\n", "recipe:", rr.method,
           r.recipe_setting == DH_RECIPE_PRETRAINED ? "pretrained" : "scratch", r.recipe);
    printf("%-17s %s\n", "source:", rr.source);
    printf("%-17s %s\n", "encoder:", encoder);
    if (size) printf("%-17s %ux%u (%s)\n", "input:", size, size, size_from);
    else printf("%-17s feature rows (no image augmentation)\n", "input:");
    printf("%-17s %u\n%-17s %u\n", "epochs:", r.epochs, "batch-size:", r.batch_size);
    printf("%-17s %s%s\n", "optimizer:", r.optimizer >= 0 && r.optimizer < 4 ? opt[r.optimizer] : "?",
           !strcmp(rr.optimizer, "sgd-nesterov") && r.optimizer == DH_OPTIM_SGD ? " (nesterov)" : "");
    printf("%-17s %g\n%-17s %g\n", "lr:", r.lr, "momentum:", r.momentum);
    printf("%-17s %g (%s)\n", "weight-decay:", r.weight_decay,
           r.decay_scope == DH_DECAY_ALL ? "all tensors" : "weights only");
    printf("%-17s %s", "schedule:", r.schedule >= 0 && r.schedule < 4 ? sched[r.schedule] : "?");
    if (r.schedule == DH_SCHED_COSINE) printf(", lr-floor %g (x lr)", r.lr_min_ratio);
    printf("\n%-17s %u\n%-17s %g\n", "warmup:", r.warmup_epochs, "backbone-lr-mult:",
           r.backbone_lr_mult);
    printf("%-17s ", "augment:");
    if (!r.augment && (dh_loss_method_flags(method) & DH_LOSS_FLAG_TWO_VIEWS))
        printf("two views, the method's own: resized-crop (scale 0.5-1), flip, jitter, gray, "
               "blur (the knobs below apply once --augment is given)\n");
    else print_augment(size ? r.augment : 0);
    if (r.crop_padding >= 0) printf("%-17s %d\n", "crop-padding:", r.crop_padding);
    else printf("%-17s size-aware (2 * floor(min(H, W) / 16))\n", "crop-padding:");
    printf("%-17s %g\n", "flip-prob:", (double)r.flip_prob);
    printf("%-17s %g,%g\n%-17s %g,%g\n", "crop-scale:", (double)r.scale_min,
           (double)r.scale_max, "crop-ratio:", (double)r.ratio_min, (double)r.ratio_max);
    printf("%-17s %g,%g,%g\n", "jitter:", (double)r.brightness, (double)r.contrast,
           (double)r.saturation);
    printf("%-17s %g\n%-17s %g\n", "gray-prob:", (double)r.grayscale_prob, "blur-prob:",
           (double)r.blur_prob);
    print_const("quant-weight:", lo->quant_weight);
    print_const("scale:", lo->scale);
    print_const("margin:", lo->margin);
    print_const("tau:", lo->tau);
    if (lo->variant >= 0) printf("%-17s %d\n", "loss-variant:", lo->variant);
    if (lo->schedule >= 0) printf("%-17s %d\n", "loss-schedule:", lo->schedule);
    (void)k;
    return 0;
}
