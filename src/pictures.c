/* src/pictures.c -- PR-curve CSV/PNG and retrieval-grid PNG. */
#include "pictures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canvas.h"

int dh_pic_pr_curve(const char *csv_path, const char *png_path, const char *title,
                    const double *precision, const double *recall, uint32_t K)
{
    FILE *fp = fopen(csv_path, "w");
    if (!fp) {
        fprintf(stderr, "dh: cannot write '%s'\n", csv_path);
        return -1;
    }
    fprintf(fp, "radius,precision,recall\n");
    for (uint32_t r = 0; r <= K; r++) fprintf(fp, "%u,%.6f,%.6f\n", r, precision[r], recall[r]);
    if (fclose(fp) != 0) return -1;
    /* plot recall on x, precision on y; radii past full recall add nothing */
    double *x = malloc((K + 1) * sizeof(double)), *y = malloc((K + 1) * sizeof(double));
    if (!x || !y) {
        free(x);
        free(y);
        return -1;
    }
    size_t n = 0;
    for (uint32_t r = 0; r <= K; r++) {
        x[n] = recall[r];
        y[n] = precision[r];
        n++;
        if (recall[r] >= 0.999999) break;
    }
    dh_chart_series s = {x, y, n, "Hamming radius 0..K"};
    int rc = dh_chart_png(png_path, title, "recall", "precision", &s, 1);
    free(x);
    free(y);
    if (rc) fprintf(stderr, "dh: cannot write '%s'\n", png_path);
    return rc;
}

static int class_of(const dh_dataset *ds, size_t i)
{
    int32_t c = -1;
    if (dh_dataset_get_class_ids(ds, i, 1, &c) != DH_OK) return -1;
    return c;
}

int dh_pic_retrieval_grid(const char *png_path, const dh_dataset *queries,
                          const size_t *query_rows, size_t n_queries, const dh_dataset *db,
                          const int64_t *ids, uint32_t k)
{
    int h = (int)dh_dataset_height(queries), w = (int)dh_dataset_width(queries);
    int ch = (int)dh_dataset_channels(queries);
    int scale = h < 64 ? 3 : 1, cell = h * scale + 12, gap = 16, label_w = 0;
    int W = cell * (int)(k + 1) + gap + label_w, H = cell * (int)n_queries + 30;
    dh_canvas c;
    if (dh_canvas_init(&c, W, H, 255)) return -1;
    uint8_t *img = malloc((size_t)h * (size_t)w * (size_t)ch);
    const uint8_t black[3] = {0, 0, 0}, green[3] = {30, 170, 60}, red[3] = {220, 40, 40},
                  blue[3] = {40, 90, 220};
    dh_canvas_text(&c, 6, 8, "query", 2, black);
    dh_canvas_text(&c, cell + gap + 6, 8, "top results by Hamming distance (green: same class)", 2,
                   black);
    for (size_t q = 0; img && q < n_queries; q++) {
        int y0 = 30 + (int)q * cell, qc = class_of(queries, query_rows[q]);
        if (dh_dataset_get_image(queries, query_rows[q], img) == DH_OK) {
            dh_canvas_frame(&c, 2, y0 + 2, cell - 2, y0 + cell - 2, 3, blue);
            dh_canvas_blit(&c, 6, y0 + 6, img, w, h, ch, scale);
        }
        for (uint32_t j = 0; j < k; j++) {
            int64_t id = ids[q * k + j];
            if (id < 0 || dh_dataset_get_image(db, (size_t)id, img) != DH_OK) continue;
            int x0 = cell * (int)(j + 1) + gap;
            dh_canvas_frame(&c, x0 + 2, y0 + 2, x0 + cell - 2, y0 + cell - 2, 3,
                            class_of(db, (size_t)id) == qc ? green : red);
            dh_canvas_blit(&c, x0 + 6, y0 + 6, img, w, h, ch, scale);
        }
    }
    int rc = img ? dh_canvas_write_png(&c, png_path) : -1;
    free(img);
    dh_canvas_free(&c);
    if (rc) fprintf(stderr, "dh: cannot write '%s'\n", png_path);
    return rc;
}
