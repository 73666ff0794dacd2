/* lib/train/train.h -- training progress (dh__progress: the terminal line, the per-epoch
 * log and the numbers behind dh_train_progress). The trainer object itself is in
 * train_impl.h. */
#ifndef DH_TRAIN_H
#define DH_TRAIN_H

#include <stdio.h>

#include "core/core.h"

typedef struct dh__progress {
    FILE *fp;
    int verbose, is_tty;
    int32_t epochs;
    size_t batches;
    double t_start, t_epoch_start, t_last_print;
    size_t images_done, epoch_images;
    double loss_sum;
    size_t loss_count;
} dh__progress;

void dh__progress_init(dh__progress *p, FILE *fp, int verbose, int32_t epochs, size_t batches);
void dh__progress_epoch_begin(dh__progress *p);
void dh__progress_batch(dh__progress *p, int32_t epoch, size_t batch, size_t n_images, double loss);
/** Returns the epoch's mean loss; prints the epoch line when verbose. */
double dh__progress_epoch_end(dh__progress *p, int32_t epoch, double *images_per_s);

#endif
