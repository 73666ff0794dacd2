/* src/pictures.c -- PR-curve CSV/PNG, retrieval-grid PNG and 2-D maps of codes (t-SNE or
 * PCA), drawn through chart.c (cairo + pango). */
#include "pictures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "tsne.h"

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

static const char *const fashion_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                              "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                                              "Ankle boot"};
static const char *const cifar10_names[10] = {"airplane", "automobile", "bird", "cat", "deer",
                                              "dog", "frog", "horse", "ship", "truck"};

const char *const *dh_pic_class_names(const char *data_spec, uint32_t *n)
{
    *n = 0;
    if (!data_spec) return NULL;
    if (!strncmp(data_spec, "fashion-mnist", 13)) return *n = 10, fashion_names;
    if (!strncmp(data_spec, "cifar10", 7) || !strncmp(data_spec, "cifar-10", 8))
        return *n = 10, cifar10_names;
    return NULL;
}

static void label_of(char *buf, size_t len, const char *const *names, uint32_t n_names, int c)
{
    if (c >= 0 && names && (uint32_t)c < n_names && names[c]) snprintf(buf, len, "%s", names[c]);
    else if (c >= 0) snprintf(buf, len, "class %d", c);
    else snprintf(buf, len, "-");
}

int dh_pic_retrieval_grid(const char *png_path, const dh_dataset *queries,
                          const size_t *query_rows, size_t n_queries, const dh_dataset *db,
                          const int64_t *ids, const int32_t *dists, uint32_t k,
                          const char *const *class_names, uint32_t n_names)
{
    int h = (int)dh_dataset_height(queries), w = (int)dh_dataset_width(queries);
    int ch = (int)dh_dataset_channels(queries);
    double scale = h < 64 ? 3 : (h > 128 ? 128.0 / h : 1);
    cairo_surface_t *probe = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 8, 8);
    cairo_t *pc = cairo_create(probe);
    int tw = 0, th = 0, lw = 0, lh = 0;
    dh_chart_text_size(pc, "Ankle boot #10 d=64", 11, 0, &tw, &th);
    dh_chart_text_size(pc, "Query  Same class  Other class", 13, 1, &lw, &lh);
    cairo_destroy(pc);
    cairo_surface_destroy(probe);
    double img = w * scale, cw = (img > tw ? img : tw) + 14, chh = h * scale + 14 + 2 * th + 6;
    double gap = 18, top = 10 + lh + 14;
    int W = (int)(cw * (k + 1) + gap + 10), H = (int)(top + chh * (double)n_queries + 10);
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    /* legend of the frame colours */
    const double col[3][3] = {{0.16, 0.35, 0.86}, {0.12, 0.67, 0.24}, {0.86, 0.16, 0.16}};
    const char *leg[3] = {"query", "same class as the query", "other class"};
    double lx = 10;
    for (int i = 0; i < 3; i++) {
        cairo_set_source_rgb(cr, col[i][0], col[i][1], col[i][2]);
        cairo_set_line_width(cr, 3);
        cairo_rectangle(cr, lx, 12, 16, lh - 4);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        dh_chart_text(cr, lx + 22, 10, leg[i], 13, 0, 0);
        int ww = 0, hh = 0;
        dh_chart_text_size(cr, leg[i], 13, 0, &ww, &hh);
        lx += 22 + ww + 24;
    }
    dh_chart_text(cr, lx + 10, 10, "results ranked by Hamming distance, left to right", 13, 1, 0);
    uint8_t *buf = malloc((size_t)h * (size_t)w * (size_t)ch);
    char line[96], name[64];
    for (size_t q = 0; buf && q < n_queries; q++) {
        double y0 = top + (double)q * chh;
        int qc = class_of(queries, query_rows[q]);
        for (uint32_t j = 0; j <= k; j++) {
            int64_t id = j == 0 ? (int64_t)query_rows[q] : ids[q * k + j - 1];
            const dh_dataset *ds = j == 0 ? queries : db;
            if (id < 0 || dh_dataset_get_image(ds, (size_t)id, buf) != DH_OK) continue;
            double x0 = j == 0 ? 10 : 10 + gap + cw * j, ix = x0 + (cw - img) / 2;
            int c = class_of(ds, (size_t)id);
            const double *fc = j == 0 ? col[0] : (c == qc ? col[1] : col[2]);
            dh_chart_image(cr, ix, y0 + 4, buf, w, h, ch, scale);
            cairo_set_source_rgb(cr, fc[0], fc[1], fc[2]);
            cairo_set_line_width(cr, 3);
            cairo_rectangle(cr, ix - 2, y0 + 2, img + 4, h * scale + 4);
            cairo_stroke(cr);
            cairo_set_source_rgb(cr, 0, 0, 0);
            label_of(name, sizeof name, class_names, n_names, c);
            int ww = 0, hh = 0;
            dh_chart_text_size(cr, name, 11, j == 0, &ww, &hh);
            dh_chart_text(cr, x0 + (cw - ww) / 2, y0 + h * scale + 8, name, 11, j == 0, 0);
            if (j == 0) snprintf(line, sizeof line, "query");
            else if (dists) snprintf(line, sizeof line, "#%u  d=%d", j, dists[q * k + j - 1]);
            else snprintf(line, sizeof line, "#%u", j);
            dh_chart_text_size(cr, line, 11, 0, &ww, &hh);
            cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
            dh_chart_text(cr, x0 + (cw - ww) / 2, y0 + h * scale + 8 + th, line, 11, 0, 0);
        }
    }
    int rc = buf ? dh_chart_finish(cr, s, png_path) : (cairo_destroy(cr), cairo_surface_destroy(s), -1);
    free(buf);
    if (rc) fprintf(stderr, "dh: cannot write '%s'\n", png_path);
    return rc;
}

static void tsne_progress(double f, void *user)
{
    (void)user;
    if (f < 1.0) fprintf(stderr, "\rdh: t-SNE %3.0f%%", 100.0 * f);
    else fprintf(stderr, "\r                \r");
}

int dh_pic_code_map(const char *png_path, const char *title, const uint8_t *codes, size_t n,
                    uint32_t n_bits, const int32_t *cls, const char *const *class_names,
                    uint32_t n_classes, int pca, uint64_t seed, int show_progress)
{
    float *xy = malloc((2 * n + 1) * sizeof(float));
    int rc = xy ? 0 : -1;
    if (rc == 0 && pca) rc = dh_pca_codes(codes, n, n_bits, xy);
    else if (rc == 0) {
        dh_tsne_options o = {30.0, 1000, 200.0, seed};
        rc = dh_tsne_codes(codes, n, n_bits, &o, xy, show_progress ? tsne_progress : NULL, NULL);
    }
    if (rc == 0) rc = dh_chart_scatter_png(png_path, title, xy, cls, n, class_names, n_classes);
    free(xy);
    if (rc) fprintf(stderr, "dh: cannot write '%s'\n", png_path);
    return rc;
}
