/* lib/train/progress.c -- progress reporting for training and long evaluations.
 * On a terminal: one line rewritten in place (epoch, batch, loss, images/s, ETA);
 * otherwise one log line per epoch. libdh prints only when the caller asked for it
 * (trainer option `verbose`); the callback gets the same numbers either way. */
#include "train/train.h"

#include <stdio.h>
#include <unistd.h>

void dh__progress_init(dh__progress *p, FILE *fp, int verbose, int32_t epochs, size_t batches)
{
    p->fp = fp;
    p->verbose = verbose;
    p->is_tty = fp && isatty(fileno(fp));
    p->epochs = epochs;
    p->batches = batches;
    p->t_start = dh__now_seconds();
    p->t_last_print = 0;
    p->images_done = 0;
    p->t_epoch_start = p->t_start;
    p->loss_sum = 0;
    p->loss_count = 0;
}

static void fmt_eta(char *buf, size_t n, double s)
{
    if (s < 0 || s > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    int t = (int)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%02d:%02d", t / 60, t % 60);
}

void dh__progress_epoch_begin(dh__progress *p)
{
    p->t_epoch_start = dh__now_seconds();
    p->loss_sum = 0;
    p->loss_count = 0;
    p->epoch_images = 0;
}

void dh__progress_batch(dh__progress *p, int32_t epoch, size_t batch, size_t n_images, double loss)
{
    p->images_done += n_images;
    p->epoch_images += n_images;
    p->loss_sum += loss;
    p->loss_count++;
    if (!p->verbose || !p->is_tty) return;
    double now = dh__now_seconds();
    if (now - p->t_last_print < 0.25 && batch + 1 < p->batches) return;
    p->t_last_print = now;
    double el = now - p->t_epoch_start;
    double ips = el > 0 ? (double)p->epoch_images / el : 0;
    double done = (double)epoch * (double)p->batches + (double)(batch + 1);
    double total = (double)p->epochs * (double)p->batches;
    double rate = (now - p->t_start) / (done > 0 ? done : 1);
    char eta[32];
    fmt_eta(eta, sizeof eta, rate * (total - done));
    fprintf(p->fp, "\repoch %d/%d  batch %zu/%zu  loss %.4f  %.0f img/s  ETA %s   ", epoch + 1,
            p->epochs, batch + 1, p->batches, p->loss_sum / (double)p->loss_count, ips, eta);
    fflush(p->fp);
}

double dh__progress_epoch_end(dh__progress *p, int32_t epoch, double *images_per_s)
{
    double now = dh__now_seconds();
    double el = now - p->t_epoch_start;
    double mean = p->loss_count ? p->loss_sum / (double)p->loss_count : 0;
    *images_per_s = el > 0 ? (double)p->epoch_images / el : 0;
    if (p->verbose && p->fp) {
        char eta[32];
        double per_epoch = (now - p->t_start) / (double)(epoch + 1);
        fmt_eta(eta, sizeof eta, per_epoch * (double)(p->epochs - epoch - 1));
        fprintf(p->fp, "%sepoch %d/%d  loss %.4f  %.0f img/s  %.1f s  ETA %s%s\n",
                p->is_tty ? "\r" : "", epoch + 1, p->epochs, mean, *images_per_s, el, eta,
                p->is_tty ? "          " : "");
        fflush(p->fp);
    }
    return mean;
}
