/* src/pictures.h -- the pictures and tables the tools write: PR curves (PNG + CSV)
 * and retrieval grids (PNG). */
#ifndef DH_PICTURES_H
#define DH_PICTURES_H
#include <stddef.h>
#include <stdint.h>

#include "dh.h"

/** Precision-recall by Hamming radius 0..K: CSV (radius,precision,recall) and a PNG
 *  chart. Returns 0 or -1 (message printed). */
int dh_pic_pr_curve(const char *csv_path, const char *png_path, const char *title,
                    const double *precision, const double *recall, uint32_t K);

/** Retrieval grid: one row per query: the query image, then its top results, framed
 *  green when the result's class equals the query's and red when not, with the class
 *  name, rank and Hamming distance under each image and a legend of the colours.
 *  ids, dists: [n_queries, k] database positions (-1: none) and distances (dists may be
 *  NULL); class_names: n_names names or NULL. Returns 0 or -1. */
int dh_pic_retrieval_grid(const char *png_path, const dh_dataset *queries,
                          const size_t *query_rows, size_t n_queries, const dh_dataset *db,
                          const int64_t *ids, const int32_t *dists, uint32_t k,
                          const char *const *class_names, uint32_t n_names);

/** A 2-D map of n packed codes coloured by class (cls[i], -1: grey) as a PNG scatter
 *  plot: exact t-SNE over Hamming distances (n up to a few thousand), or PCA when `pca`.
 *  Returns 0 or -1 (message printed). */
int dh_pic_code_map(const char *png_path, const char *title, const uint8_t *codes, size_t n,
                    uint32_t n_bits, const int32_t *cls, const char *const *class_names,
                    uint32_t n_classes, int pca, uint64_t seed, int show_progress);
/** Class names of a known data set ("fashion-mnist[:DIR]", "cifar10..."), else NULL. */
const char *const *dh_pic_class_names(const char *data_spec, uint32_t *n);
#endif
