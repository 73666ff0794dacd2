/* src/cli_progress.c -- the one progress rule of every `dh` command: on a terminal
 * (stderr) an updating line with the rate and ETA, then one summary line; otherwise only
 * the summary line; nothing with --quiet. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

void dh_cli_progress_start(dh_cli_progress *p, const char *cmd, const char *unit, size_t total)
{
    p->cmd = cmd;
    p->unit = unit;
    p->total = total;
    p->t0 = dh_cli_now();
    p->last = -1.0;
    p->tty = dh_cli_verbosity() > 0 && isatty(fileno(stderr));
    p->shown = 0;
}

double dh_cli_progress_elapsed(const dh_cli_progress *p)
{
    return dh_cli_now() - p->t0;
}

void dh_cli_progress_update(dh_cli_progress *p, size_t done)
{
    if (!p->tty || !p->total) return;
    double now = dh_cli_now(), dt = now - p->t0;
    if (done < p->total && p->last >= 0 && now - p->last < 0.1) return;
    p->last = now;
    double f = (double)done / (double)p->total;
    char eta[32] = "";
    if (done > 0 && done < p->total) {
        double left = dt / f - dt;
        int s = (int)(left + 0.5);
        if (s < 100) snprintf(eta, sizeof eta, "  ETA %d s", s);
        else snprintf(eta, sizeof eta, "  ETA %d:%02d", s / 60, s % 60);
    }
    fprintf(stderr, "\r\033[Kdh %s: %zu/%zu %s %3.0f%%  %.0f %s/s%s", p->cmd, done, p->total,
            p->unit, 100.0 * f, dt > 0 ? (double)done / dt : 0.0, p->unit, eta);
    fflush(stderr);
    p->shown = 1;
}

void dh_cli_progress_done(dh_cli_progress *p, const char *fmt, ...)
{
    if (p->shown) fprintf(stderr, "\r\033[K");
    p->shown = 0;
    if (dh_cli_verbosity() == 0) return;
    va_list ap;
    fprintf(stderr, "dh %s: ", p->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
