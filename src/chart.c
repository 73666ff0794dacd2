/* src/chart.c -- line charts and scatter plots with cairo + pango (see chart.h). Every
 * margin is computed from the measured extents of the text it must hold. */
#include "chart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pango/pangocairo.h>

#define FONT "DejaVu Sans"
#define PAD 10.0

static const double palette[10][3] = {
    {0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173}, {0.839, 0.153, 0.157},
    {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294}, {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498},
    {0.737, 0.741, 0.133}, {0.090, 0.745, 0.812}};

void dh_chart_color(size_t i, double rgb[3])
{
    for (int c = 0; c < 3; c++) rgb[c] = palette[i % 10][c];
}

static PangoLayout *layout_for(cairo_t *cr, const char *s, double size, int bold)
{
    PangoLayout *l = pango_cairo_create_layout(cr);
    PangoFontDescription *fd = pango_font_description_new();
    pango_font_description_set_family(fd, FONT);
    pango_font_description_set_weight(fd, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_font_description_set_absolute_size(fd, size * PANGO_SCALE);
    pango_layout_set_font_description(l, fd);
    pango_font_description_free(fd);
    pango_layout_set_text(l, s, -1);
    return l;
}

void dh_chart_text_size(cairo_t *cr, const char *s, double size, int bold, int *w, int *h)
{
    PangoLayout *l = layout_for(cr, s, size, bold);
    pango_layout_get_pixel_size(l, w, h);
    g_object_unref(l);
}

void dh_chart_text(cairo_t *cr, double x, double y, const char *s, double size, int bold,
                   double angle)
{
    PangoLayout *l = layout_for(cr, s, size, bold);
    cairo_save(cr);
    cairo_move_to(cr, x, y);
    cairo_rotate(cr, angle);
    pango_cairo_update_layout(cr, l);
    pango_cairo_show_layout(cr, l);
    cairo_restore(cr);
    g_object_unref(l);
}

int dh_chart_image(cairo_t *cr, double x, double y, const uint8_t *img, int w, int h,
                   int channels, double scale)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) return -1;
    cairo_surface_flush(s);
    unsigned char *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++) {
            const uint8_t *p = img + ((size_t)r * (size_t)w + (size_t)c) * (size_t)channels;
            uint32_t v = channels == 3 ? ((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2])
                                       : ((uint32_t)p[0] * 0x010101u);
            memcpy(d + (size_t)r * (size_t)stride + 4 * (size_t)c, &v, 4);
        }
    cairo_surface_mark_dirty(s);
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_scale(cr, scale, scale);
    cairo_set_source_surface(cr, s, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, 0, 0, w, h);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_surface_destroy(s);
    return 0;
}

int dh_chart_finish(cairo_t *cr, cairo_surface_t *s, const char *path)
{
    int rc = cairo_status(cr) == CAIRO_STATUS_SUCCESS ? 0 : -1;
    cairo_destroy(cr);
    if (rc == 0 && cairo_surface_write_to_png(s, path) != CAIRO_STATUS_SUCCESS) rc = -1;
    cairo_surface_destroy(s);
    return rc;
}

/* ---- plot frame shared by both charts ---- */

typedef struct frame {
    double L, T, pw, ph;            /* plot area */
    double x0, x1, y0, y1;          /* data ranges */
} frame;

static double fx(const frame *f, double x) { return f->L + f->pw * (x - f->x0) / (f->x1 - f->x0); }
static double fy(const frame *f, double y) { return f->T + f->ph * (1 - (y - f->y0) / (f->y1 - f->y0)); }

/* Title, axes, grid and tick labels; margins from the text. W x H canvas; the plot
 * leaves `right` pixels for a legend column. */
static void draw_frame(cairo_t *cr, frame *f, int W, int H, double right, const char *title,
                       const char *xlabel, const char *ylabel, int ticks)
{
    int tw = 0, th = 0, lw = 0, lh = 0, kw = 0, kh = 0, yw = 0, yh = 0;
    dh_chart_text_size(cr, title, 18, 1, &tw, &th);
    dh_chart_text_size(cr, xlabel ? xlabel : "", 14, 0, &lw, &lh);
    dh_chart_text_size(cr, ylabel ? ylabel : "", 14, 0, &yw, &yh);
    char lab[32];
    int maxk = 0;
    for (int i = 0; ticks && i <= 5; i++) {
        snprintf(lab, sizeof lab, "%.1f", f->y0 + (f->y1 - f->y0) * i / 5.0);
        dh_chart_text_size(cr, lab, 12, 0, &kw, &kh);
        if (kw > maxk) maxk = kw;
    }
    f->T = PAD + th + PAD;
    f->L = PAD + (ylabel ? yh + PAD : 0) + maxk + 8;
    double B = PAD + (xlabel ? lh + 6 : 0) + (ticks ? kh + 8 : 0);
    /* the last x tick label is centred on the right edge of the plot: leave half of it */
    double rpad = PAD;
    if (ticks) {
        snprintf(lab, sizeof lab, "%.1f", f->x1);
        dh_chart_text_size(cr, lab, 12, 0, &kw, &kh);
        if (kw / 2.0 + 4 > rpad) rpad = kw / 2.0 + 4;
    }
    f->pw = W - f->L - rpad - right;
    f->ph = H - f->T - B;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    dh_chart_text(cr, (W - tw) / 2.0 > PAD ? (W - tw) / 2.0 : PAD, PAD, title, 18, 1, 0);
    cairo_set_line_width(cr, 1);
    for (int i = 0; ticks && i <= 10; i++) {
        double gx = f->L + f->pw * i / 10.0, gy = f->T + f->ph - f->ph * i / 10.0;
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, gx, f->T);
        cairo_line_to(cr, gx, f->T + f->ph);
        cairo_move_to(cr, f->L, gy);
        cairo_line_to(cr, f->L + f->pw, gy);
        cairo_stroke(cr);
        if (i % 2) continue;
        cairo_set_source_rgb(cr, 0, 0, 0);
        snprintf(lab, sizeof lab, "%.1f", f->x0 + (f->x1 - f->x0) * i / 10.0);
        dh_chart_text_size(cr, lab, 12, 0, &kw, &kh);
        dh_chart_text(cr, gx - kw / 2.0, f->T + f->ph + 6, lab, 12, 0, 0);
        snprintf(lab, sizeof lab, "%.1f", f->y0 + (f->y1 - f->y0) * i / 10.0);
        dh_chart_text_size(cr, lab, 12, 0, &kw, &kh);
        dh_chart_text(cr, f->L - 6 - kw, gy - kh / 2.0, lab, 12, 0, 0);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1.5);
    cairo_rectangle(cr, f->L, f->T, f->pw, f->ph);
    cairo_stroke(cr);
    if (xlabel) dh_chart_text(cr, f->L + (f->pw - lw) / 2, H - PAD - lh, xlabel, 14, 0, 0);
    if (ylabel) /* rotated: reads bottom to top, left of the tick labels */
        dh_chart_text(cr, PAD, f->T + (f->ph + yw) / 2, ylabel, 14, 0, -M_PI / 2);
}

/* Legend rows (swatch + label) in a box whose top right corner is (x1, y0). */
static void draw_legend(cairo_t *cr, double x1, double y0, const char *const *labels, size_t n,
                        int dots)
{
    int w = 0, h = 0, mw = 0, rh = 0;
    for (size_t i = 0; i < n; i++) {
        dh_chart_text_size(cr, labels[i], 12, 0, &w, &h);
        if (w > mw) mw = w;
        if (h > rh) rh = h;
    }
    double bw = mw + 42, bh = (double)n * (rh + 4) + 10, x0 = x1 - bw;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_rectangle(cr, x0, y0, bw, bh);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (size_t i = 0; i < n; i++) {
        double rgb[3], y = y0 + 5 + (double)i * (rh + 4);
        dh_chart_color(i, rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        if (dots) {
            cairo_arc(cr, x0 + 16, y + rh / 2.0, 4, 0, 2 * M_PI);
            cairo_fill(cr);
        } else {
            cairo_set_line_width(cr, 3);
            cairo_move_to(cr, x0 + 6, y + rh / 2.0);
            cairo_line_to(cr, x0 + 28, y + rh / 2.0);
            cairo_stroke(cr);
        }
        cairo_set_source_rgb(cr, 0, 0, 0);
        dh_chart_text(cr, x0 + 34, y, labels[i], 12, 0, 0);
    }
}

int dh_chart_png(const char *path, const char *title, const char *xlabel, const char *ylabel,
                 const dh_chart_series *series, size_t n_series)
{
    const int W = 760, H = 600;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(s);
    frame f = {0, 0, 0, 0, 0, 1, 0, 1};
    draw_frame(cr, &f, W, H, 0, title, xlabel, ylabel, 1);
    const char *labels[16];
    size_t nl = 0;
    cairo_save(cr);
    cairo_rectangle(cr, f.L, f.T, f.pw, f.ph);
    cairo_clip(cr);
    for (size_t k = 0; k < n_series; k++) {
        double rgb[3];
        dh_chart_color(k, rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width(cr, 2.5);
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        for (size_t i = 0; i < series[k].n; i++) {
            double x = fx(&f, series[k].x[i]), y = fy(&f, series[k].y[i]);
            if (i == 0) cairo_move_to(cr, x, y);
            else cairo_line_to(cr, x, y);
        }
        cairo_stroke(cr);
        for (size_t i = 0; i < series[k].n; i++) {
            cairo_arc(cr, fx(&f, series[k].x[i]), fy(&f, series[k].y[i]), 3.5, 0, 2 * M_PI);
            cairo_fill(cr);
        }
        if (series[k].label && nl < 16) labels[nl++] = series[k].label;
    }
    cairo_restore(cr);
    if (nl) draw_legend(cr, f.L + f.pw - 8, f.T + 8, labels, nl, 0);
    return dh_chart_finish(cr, s, path);
}

int dh_chart_scatter_png(const char *path, const char *title, const float *xy,
                         const int32_t *cls, size_t n, const char *const *class_names,
                         uint32_t n_classes)
{
    const int W = 860, H = 700;
    if (n_classes > 64) n_classes = 64;
    char names[64][48];
    const char *labels[64];
    int lw = 0, w = 0, h = 0;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(s);
    for (uint32_t c = 0; c < n_classes; c++) {
        if (class_names && class_names[c]) snprintf(names[c], sizeof names[c], "%s", class_names[c]);
        else snprintf(names[c], sizeof names[c], "class %u", c);
        labels[c] = names[c];
        dh_chart_text_size(cr, labels[c], 12, 0, &w, &h);
        if (w > lw) lw = w;
    }
    double mn[2] = {HUGE_VAL, HUGE_VAL}, mx[2] = {-HUGE_VAL, -HUGE_VAL};
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < 2; d++) {
            if (xy[2 * i + d] < mn[d]) mn[d] = xy[2 * i + d];
            if (xy[2 * i + d] > mx[d]) mx[d] = xy[2 * i + d];
        }
    for (int d = 0; d < 2; d++) {
        if (!(mx[d] > mn[d])) mn[d] -= 1, mx[d] += 1;
        double m = 0.04 * (mx[d] - mn[d]);
        mn[d] -= m, mx[d] += m;
    }
    frame f = {0, 0, 0, 0, mn[0], mx[0], mn[1], mx[1]};
    draw_frame(cr, &f, W, H, n_classes ? lw + 42 + PAD : 0, title, NULL, NULL, 0);
    for (size_t i = 0; i < n; i++) {
        double rgb[3] = {0.6, 0.6, 0.6};
        if (cls[i] >= 0) dh_chart_color((size_t)cls[i], rgb);
        cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], 0.75);
        cairo_arc(cr, fx(&f, xy[2 * i]), fy(&f, xy[2 * i + 1]), 2.6, 0, 2 * M_PI);
        cairo_fill(cr);
    }
    if (n_classes) draw_legend(cr, W - PAD, f.T, labels, n_classes, 1);
    return dh_chart_finish(cr, s, path);
}
