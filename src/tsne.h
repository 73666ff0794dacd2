/* src/tsne.h -- 2-D maps of binary codes for the pictures (t-SNE and PCA). */
#ifndef DH_TSNE_H
#define DH_TSNE_H
#include <stddef.h>
#include <stdint.h>

typedef struct dh_tsne_options {
    double perplexity;    /* 30; capped at (n - 1) / 3 */
    uint32_t iterations;  /* 1000: 250 with early exaggeration 12 and momentum 0.5, then 0.8 */
    double learning_rate; /* 200 */
    uint64_t seed;
} dh_tsne_options;

typedef void (*dh_tsne_progress)(double fraction, void *user);

/** Exact t-SNE of n packed codes (ceil(K/8) bytes each) over Hamming distances into
 *  out_xy [n, 2]. O(n^2) memory and time per iteration: meant for n <= ~5000.
 *  Returns 0, or -1 when memory is short. */
int dh_tsne_codes(const uint8_t *codes, size_t n, uint32_t n_bits, const dh_tsne_options *o,
                  float *out_xy, dh_tsne_progress progress, void *user);

/** The first two principal components of the codes as +-1 vectors, into out_xy [n, 2]. */
int dh_pca_codes(const uint8_t *codes, size_t n, uint32_t n_bits, float *out_xy);
#endif
