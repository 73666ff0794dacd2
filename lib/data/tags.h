/* lib/data/tags.h -- tag matrices for weak supervision (internal): the dh_tags object
 * (n images x T tags, 0/1, with the tag names), the vocabulary hash shared by the
 * readers (tags.c: NUS-WIDE matrices, MIRFlickr per-image files, `path tag ...` lists),
 * the word-vector reader (wordvec.c) and the fashion-mnist-tags generator
 * (tags_synth.c). docs/data.md#tags. */
#ifndef DH_DATA_TAGS_H
#define DH_DATA_TAGS_H

#include "data/data.h"

#define DH__TAGS_MAX_VOCAB 65536u    /* default and hard limit of T */
#define DH__TAGS_MAX_IMAGES (1u << 26)
#define DH__TAGS_MAX_NAME 256        /* bytes of one tag name */

struct dh_tags {
    size_t n;
    uint32_t T;
    float *M;      /* [n, T] 0/1 */
    char **names;  /* [T], each its own allocation */
};

/** A string -> id hash (open addressing, FNV-1a); keys are copied. */
typedef struct dh__vocab {
    char **keys;
    uint32_t *ids;
    uint64_t *counts; /* per id: images using it */
    size_t cap, n;    /* slots (power of 2), entries */
} dh__vocab;

/** Insert (or find) key[0..len); *id receives its id. DH_E_NO_MEMORY only. */
dh_status dh__vocab_add(dh__vocab *v, const char *key, size_t len, uint32_t *id);
/** Id of key[0..len), or UINT32_MAX. */
uint32_t dh__vocab_find(const dh__vocab *v, const char *key, size_t len);
void dh__vocab_free(dh__vocab *v);

/** A dh_tags with n x T zeros and T NULL names (filled by the caller). */
dh_status dh__tags_new(size_t n, uint32_t T, dh_tags **out);

/** Parsers over text held in memory (the file readers and tests use them). `vocab`
 *  (may be NULL for lists) is the tag-name list text; `name` names the input in
 *  messages. */
dh_status dh__tags_parse_matrix(const char *text, size_t len, const char *vocab, size_t vlen,
                                const char *name, const dh_tags_options *o, dh_tags **out);
dh_status dh__tags_parse_list(const char *text, size_t len, const char *vocab, size_t vlen,
                              const char *name, const dh_tags_options *o, dh_tags **out);

/** fashion-mnist-tags: tags of a 10-class Fashion-MNIST dataset (docs/data.md#tags). */
dh_status dh__tags_fashion(const dh_dataset *ds, double keep, double noise, uint64_t seed,
                           dh_tags **out);

#endif
