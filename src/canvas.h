/* src/canvas.h -- a tiny RGB raster for the tool's pictures (PR curves, retrieval
 * grids), written as PNG with stb_image_write. */
#ifndef DH_CANVAS_H
#define DH_CANVAS_H
#include <stddef.h>
#include <stdint.h>

typedef struct dh_canvas {
    int w, h;
    uint8_t *rgb; /* h × w × 3 */
} dh_canvas;

int dh_canvas_init(dh_canvas *c, int w, int h, uint8_t grey);
void dh_canvas_free(dh_canvas *c);
void dh_canvas_rect(dh_canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3]);
void dh_canvas_frame(dh_canvas *c, int x0, int y0, int x1, int y1, int t, const uint8_t rgb[3]);
void dh_canvas_line(dh_canvas *c, double x0, double y0, double x1, double y1, int t,
                    const uint8_t rgb[3]);
/** Text with the stb_easy_font bitmap font, scaled by `scale` (1 = 7 px high). */
void dh_canvas_text(dh_canvas *c, int x, int y, const char *s, int scale, const uint8_t rgb[3]);
int dh_canvas_text_width(const char *s, int scale);
/** Paste an image (h×w×channels uint8, channels 1 or 3) scaled by an integer factor. */
void dh_canvas_blit(dh_canvas *c, int x, int y, const uint8_t *img, int w, int h, int channels,
                    int scale);
/** Write PNG; returns 0 on success. */
int dh_canvas_write_png(const dh_canvas *c, const char *path);

/** A line chart: series of (x, y) in [0,1]², axes, grid, title, axis labels, legend. */
typedef struct dh_chart_series {
    const double *x, *y;
    size_t n;
    const char *label;
} dh_chart_series;
int dh_chart_png(const char *path, const char *title, const char *xlabel, const char *ylabel,
                 const dh_chart_series *series, size_t n_series);
#endif
