/* src/cli_tags.h -- tags on the dh train command line (weak supervision,
 * docs/data.md#tags): --tags FILE with --tag-format matrix|files|list and
 * --tag-list FILE (names), the fashion-mnist-tags protocol with --tag-keep P and
 * --tag-noise Q, --tag-vectors FILE (GloVe / word2vec text). */
#ifndef DH_CLI_TAGS_H
#define DH_CLI_TAGS_H
#include "dh.h"

typedef struct dh_cli_tag_args {
    const char *tags, *format, *vocab, *vectors;
    double keep, noise;  /* NAN: the protocol's defaults (0.5, 0.2) */
    uint32_t skip_unknown;
} dh_cli_tag_args;

/** 1 when the command line asks for tags (--tags, or the fashion-mnist-tags protocol). */
int dh_cli_tags_wanted(const dh_cli_tag_args *a, const char *protocol);
/** Load the data with its tags and split it: --tags are read for the whole data set
 *  (row i = sample i) before the protocol splits it; fashion-mnist-tags generates
 *  them on the training part. *tags receives the tag object (names for word
 *  vectors) of the training part or of the whole set. Returns 0 or an exit code. */
int dh_cli_tags_load(const char *cmd, const char *spec, const char *protocol, uint64_t seed,
                     uint32_t size, const dh_cli_tag_args *a, dh_dataset **train,
                     dh_dataset **query, dh_dataset **db, dh_tags **tags);
/** --tag-vectors: read the tags' word vectors and give them to the loss. */
int dh_cli_tags_vectors(const char *cmd, const char *path, const dh_tags *tags, dh_loss *loss);
#endif
