/* src/cmd_train_knobs.h -- `dh train`'s recipe and augmentation flags (issue 14):
 * --recipe, --recipe-setting, --show-recipe, --crop-padding, --flip-prob, --crop-scale,
 * --crop-ratio, --jitter, --gray-prob, --blur-prob, --lr-floor, --decay-scope. */
#ifndef DH_CMD_TRAIN_KNOBS_H
#define DH_CMD_TRAIN_KNOBS_H

#include <stdint.h>

#include "dh.h"

typedef struct dh_cli_knobs {
    const char *recipe, *setting, *crop_scale, *crop_ratio, *jitter, *decay_scope;
    uint32_t crop_padding;                       /* UINT32_MAX: not given */
    double flip_prob, gray_prob, blur_prob, lr_floor; /* NaN: not given */
    uint32_t show;                               /* --show-recipe */
} dh_cli_knobs;

void dh_cli_knobs_init(dh_cli_knobs *k);
/** Parse argv[*i] if it is one of these flags: *matched = 1 (advancing *i past a value);
 *  0 or a usage-error exit code. */
int dh_cli_knobs_parse(const char *cmd, int argc, char **argv, int *i, dh_cli_knobs *k,
                       int *matched);
/** The recipe setting the flags ask for: --recipe-setting, else pretrained with a
 *  --backbone, else DH_RECIPE_AUTO (the trainer decides from the encoder). -2: bad name. */
int32_t dh_cli_knobs_setting(const dh_cli_knobs *k, int has_backbone);
/** Put the given knobs, the recipe name and setting into trainer options; 0 or an exit
 *  code. */
int dh_cli_knobs_trainer(const char *cmd, const dh_cli_knobs *k, int has_backbone,
                         dh_trainer_options *to);
/** Give the loss options the recipe's method constants (dh_loss_options_apply_recipe)
 *  where the command line left them at default; 0 or an exit code. */
int dh_cli_knobs_loss(const char *cmd, const dh_cli_knobs *k, const char *method,
                      const char *encoder, int has_backbone, dh_loss_options *lo);
/** --show-recipe: print the resolved recipe of `to` (flags applied) for method x
 *  encoder at size x size (0: feature rows); 0 or an exit code. */
int dh_cli_knobs_show(const char *cmd, const dh_cli_knobs *k, const char *method,
                      const char *encoder, int has_backbone, uint32_t size,
                      const char *size_from, const dh_trainer_options *to,
                      const dh_loss_options *lo);

#endif
