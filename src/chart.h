/* src/chart.h -- the tool's pictures, drawn with cairo and laid out with pango (text
 * extents decide every margin, so titles, tick labels and legends are never clipped):
 * line charts (PR curves), scatter plots (t-SNE / PCA maps of codes) and the drawing
 * helpers the retrieval grid (pictures.c) uses. PNG output through cairo. */
#ifndef DH_CHART_H
#define DH_CHART_H
#include <stddef.h>
#include <stdint.h>

#include <cairo.h>

/** One line of a chart: n points (x, y), both in [0, 1]. */
typedef struct dh_chart_series {
    const double *x, *y;
    size_t n;
    const char *label;
} dh_chart_series;

/** A line chart over [0,1]^2 with axes, grid, ticks, title, axis labels and a legend.
 *  Returns 0, or -1 when the file could not be written. */
int dh_chart_png(const char *path, const char *title, const char *xlabel, const char *ylabel,
                 const dh_chart_series *series, size_t n_series);

/** A scatter plot of n points xy [n, 2] (any range), coloured by cls[i] in 0..n_classes-1
 *  (negative: grey), with a legend of class names (NULL: "class c"). Returns 0 or -1. */
int dh_chart_scatter_png(const char *path, const char *title, const float *xy,
                         const int32_t *cls, size_t n, const char *const *class_names,
                         uint32_t n_classes);

/* ---- drawing helpers shared with pictures.c ---- */
/** Text with the chart font ("DejaVu Sans" at `size` points, bold when `bold`), its top
 *  left corner at (x, y) after rotating by `angle` radians around that corner; returns
 *  nothing. dh_chart_text_size measures without drawing. */
void dh_chart_text(cairo_t *cr, double x, double y, const char *s, double size, int bold,
                   double angle);
void dh_chart_text_size(cairo_t *cr, const char *s, double size, int bold, int *w, int *h);
/** Paint an 8-bit image (h x w x channels, channels 1 or 3) at (x, y) scaled by `scale`
 *  (nearest neighbour, as pixels). Returns 0 or -1 (no memory). */
int dh_chart_image(cairo_t *cr, double x, double y, const uint8_t *img, int w, int h,
                   int channels, double scale);
/** The i-th colour of the chart palette (Tableau 10), as r, g, b in [0, 1]. */
void dh_chart_color(size_t i, double rgb[3]);
/** Finish: write the surface as PNG; returns 0 or -1. Destroys cr and the surface. */
int dh_chart_finish(cairo_t *cr, cairo_surface_t *s, const char *path);

#endif
