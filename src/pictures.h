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
 *  green when the result's class equals the query's and red when not.
 *  ids: [n_queries, k] database positions (-1: none). Returns 0 or -1. */
int dh_pic_retrieval_grid(const char *png_path, const dh_dataset *queries,
                          const size_t *query_rows, size_t n_queries, const dh_dataset *db,
                          const int64_t *ids, uint32_t k);
#endif
