/* src/canvas.c -- raster drawing for PR curves and retrieval grids. */
#include "canvas.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_easy_font.h>
#include <stb_image_write.h>

int dh_canvas_init(dh_canvas *c, int w, int h, uint8_t grey)
{
    c->w = w;
    c->h = h;
    c->rgb = malloc((size_t)w * (size_t)h * 3);
    if (!c->rgb) return -1;
    memset(c->rgb, grey, (size_t)w * (size_t)h * 3);
    return 0;
}

void dh_canvas_free(dh_canvas *c)
{
    free(c->rgb);
    c->rgb = NULL;
}

static void put(dh_canvas *c, int x, int y, const uint8_t rgb[3])
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    memcpy(c->rgb + ((size_t)y * (size_t)c->w + (size_t)x) * 3, rgb, 3);
}

void dh_canvas_rect(dh_canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3])
{
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) put(c, x, y, rgb);
}

void dh_canvas_frame(dh_canvas *c, int x0, int y0, int x1, int y1, int t, const uint8_t rgb[3])
{
    dh_canvas_rect(c, x0, y0, x1, y0 + t, rgb);
    dh_canvas_rect(c, x0, y1 - t, x1, y1, rgb);
    dh_canvas_rect(c, x0, y0, x0 + t, y1, rgb);
    dh_canvas_rect(c, x1 - t, y0, x1, y1, rgb);
}

void dh_canvas_line(dh_canvas *c, double x0, double y0, double x1, double y1, int t,
                    const uint8_t rgb[3])
{
    double len = hypot(x1 - x0, y1 - y0);
    int steps = (int)ceil(len * 2) + 1;
    for (int i = 0; i <= steps; i++) {
        double f = (double)i / steps;
        int x = (int)lround(x0 + f * (x1 - x0)), y = (int)lround(y0 + f * (y1 - y0));
        dh_canvas_rect(c, x - t / 2, y - t / 2, x - t / 2 + t, y - t / 2 + t, rgb);
    }
}

void dh_canvas_text(dh_canvas *c, int x, int y, const char *s, int scale, const uint8_t rgb[3])
{
    static float quads[4 * 4 * 2000]; /* x,y,z + colour (16 bytes) per vertex */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    int nq = stb_easy_font_print(0, 0, buf, NULL, quads, (int)sizeof quads);
    for (int q = 0; q < nq; q++) {
        const float *v0 = quads + q * 16, *v2 = quads + q * 16 + 8;
        dh_canvas_rect(c, x + (int)(v0[0] * (float)scale), y + (int)(v0[1] * (float)scale),
                       x + (int)(v2[0] * (float)scale), y + (int)(v2[1] * (float)scale), rgb);
    }
}

int dh_canvas_text_width(const char *s, int scale)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    return stb_easy_font_width(buf) * scale;
}

void dh_canvas_blit(dh_canvas *c, int x, int y, const uint8_t *img, int w, int h, int channels,
                    int scale)
{
    for (int i = 0; i < h * scale; i++)
        for (int j = 0; j < w * scale; j++) {
            const uint8_t *p = img + ((size_t)(i / scale) * (size_t)w + (size_t)(j / scale)) *
                                         (size_t)channels;
            uint8_t rgb[3] = {p[0], channels == 3 ? p[1] : p[0], channels == 3 ? p[2] : p[0]};
            put(c, x + j, y + i, rgb);
        }
}

int dh_canvas_write_png(const dh_canvas *c, const char *path)
{
    return stbi_write_png(path, c->w, c->h, 3, c->rgb, c->w * 3) ? 0 : -1;
}

static const uint8_t palette[6][3] = {{31, 119, 180}, {214, 39, 40}, {44, 160, 44},
                                      {255, 127, 14}, {148, 103, 189}, {23, 190, 207}};

int dh_chart_png(const char *path, const char *title, const char *xlabel, const char *ylabel,
                 const dh_chart_series *series, size_t n_series)
{
    const int W = 720, H = 570, L = 80, R = 30, T = 64, B = 70;
    const uint8_t black[3] = {0, 0, 0}, grid[3] = {220, 220, 220};
    dh_canvas c;
    if (dh_canvas_init(&c, W, H, 255)) return -1;
    int pw = W - L - R, ph = H - T - B;
    char lab[32];
    for (int i = 0; i <= 10; i++) {
        int gx = L + pw * i / 10, gy = T + ph - ph * i / 10;
        dh_canvas_line(&c, gx, T, gx, T + ph, 1, grid);
        dh_canvas_line(&c, L, gy, L + pw, gy, 1, grid);
        if (i % 2 == 0) {
            snprintf(lab, sizeof lab, "%.1f", i / 10.0);
            dh_canvas_text(&c, gx - 8, T + ph + 8, lab, 2, black);
            dh_canvas_text(&c, L - 44, gy - 6, lab, 2, black);
        }
    }
    dh_canvas_frame(&c, L, T, L + pw + 1, T + ph + 1, 2, black);
    for (size_t s = 0; s < n_series; s++) {
        const uint8_t *col = palette[s % 6];
        for (size_t i = 1; i < series[s].n; i++)
            dh_canvas_line(&c, L + pw * series[s].x[i - 1], T + ph - ph * series[s].y[i - 1],
                           L + pw * series[s].x[i], T + ph - ph * series[s].y[i], 3, col);
        for (size_t i = 0; i < series[s].n; i++)
            dh_canvas_rect(&c, L + (int)(pw * series[s].x[i]) - 3,
                           T + ph - (int)(ph * series[s].y[i]) - 3,
                           L + (int)(pw * series[s].x[i]) + 4,
                           T + ph - (int)(ph * series[s].y[i]) + 4, col);
        if (series[s].label) {
            int ly = T + 16 + 22 * (int)s;
            dh_canvas_rect(&c, L + pw - 200, ly, L + pw - 180, ly + 6, col);
            dh_canvas_text(&c, L + pw - 172, ly - 4, series[s].label, 2, black);
        }
    }
    dh_canvas_text(&c, (W - dh_canvas_text_width(title, 3)) / 2, 8, title, 3, black);
    dh_canvas_text(&c, L + (pw - dh_canvas_text_width(xlabel, 2)) / 2, H - 30, xlabel, 2, black);
    dh_canvas_text(&c, 8, T - 18, ylabel, 2, black);
    int rc = dh_canvas_write_png(&c, path);
    dh_canvas_free(&c);
    return rc;
}
