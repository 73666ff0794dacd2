/* lib/data/tags_synth.c -- the fashion-mnist-tags weak protocol: a 40-word vocabulary
 * over the 10 Fashion-MNIST classes (class words, synonyms, attributes shared across
 * classes, non-visual noise words). Every image keeps each tag of its class with
 * probability `keep` (missing tags) and, for each of its class's tags, gains with
 * probability `noise` one wrong tag drawn uniformly from the words outside its class's
 * set (wrong tags). Seeded: image i's draws come from a generator derived from (seed,
 * i), so a subset gets the rows it would get in the whole set. docs/data.md#tags. */
#include "data/tags.h"
#include "core/rng.h"

#include <string.h>

/* classes: 0 t-shirt/top 1 trouser 2 pullover 3 dress 4 coat 5 sandal 6 shirt
 * 7 sneaker 8 bag 9 ankle boot; mask bit c = the word is a tag of class c */
static const struct { const char *word; uint16_t mask; } VOCAB[] = {
    /* class words */
    {"tshirt", 1u << 0}, {"trousers", 1u << 1}, {"pullover", 1u << 2}, {"dress", 1u << 3},
    {"coat", 1u << 4}, {"sandal", 1u << 5}, {"shirt", 1u << 6}, {"sneaker", 1u << 7},
    {"bag", 1u << 8}, {"boot", 1u << 9},
    /* synonyms */
    {"tee", 1u << 0}, {"pants", 1u << 1}, {"sweater", 1u << 2}, {"gown", 1u << 3},
    {"jacket", 1u << 4}, {"flipflop", 1u << 5}, {"blouse", 1u << 6}, {"trainer", 1u << 7},
    {"handbag", 1u << 8}, {"ankleboot", 1u << 9},
    /* shared attributes */
    {"footwear", 1u << 5 | 1u << 7 | 1u << 9}, {"sleeves", 1u << 2 | 1u << 4 | 1u << 6},
    {"top", 1u << 0 | 1u << 2 | 1u << 6}, {"summer", 1u << 0 | 1u << 3 | 1u << 5},
    {"winter", 1u << 2 | 1u << 4 | 1u << 9}, {"casual", 1u << 0 | 1u << 1 | 1u << 7},
    {"formal", 1u << 3 | 1u << 6}, {"accessory", 1u << 8}, {"leather", 1u << 8 | 1u << 9},
    {"outerwear", 1u << 4}, {"sport", 1u << 7 | 1u << 1},
    /* non-visual noise words: no class */
    {"photo", 0}, {"me", 0}, {"love", 0}, {"instagram", 0}, {"2019", 0}, {"nikon", 0},
    {"friends", 0}, {"sale", 0}, {"cute", 0},
};
#define N_WORDS (sizeof VOCAB / sizeof VOCAB[0])

dh_status dh__tags_fashion(const dh_dataset *ds, double keep, double noise, uint64_t seed,
                           dh_tags **out)
{
    *out = NULL;
    if (!(keep >= 0 && keep <= 1) || !(noise >= 0 && noise <= 1))
        return dh__set_error(DH_E_INVALID_ARG, "fashion-mnist-tags: keep %g and noise %g must "
                             "be in [0, 1]", keep, noise);
    if (ds->n_classes != 10)
        return dh__set_error(DH_E_SHAPE, "fashion-mnist-tags: the dataset has %u classes, want "
                             "the 10 of Fashion-MNIST", ds->n_classes);
    for (size_t i = 0; i < ds->n; i++)
        if (ds->class_ids[i] < 0 || ds->class_ids[i] > 9)
            return dh__set_error(DH_E_INVALID_ARG, "fashion-mnist-tags: sample %zu has no single "
                                 "class in 0..9", i);
    dh_tags *t;
    DH_TRY(dh__tags_new(ds->n, (uint32_t)N_WORDS, &t));
    for (size_t w = 0; w < N_WORDS; w++)
        if (!(t->names[w] = dh__strdup(VOCAB[w].word))) return dh_tags_free(t), DH_E_NO_MEMORY;
    for (size_t i = 0; i < ds->n; i++) {
        const int c = ds->class_ids[i];
        /* the row depends on (seed, source index) only */
        dh__rng r = dh__rng_derive(seed, 0x7a65ull, (uint64_t)dh__ds_src_index(ds, i), 0);
        float *row = t->M + i * N_WORDS;
        uint32_t outside[N_WORDS], n_out = 0;
        for (size_t w = 0; w < N_WORDS; w++)
            if (!(VOCAB[w].mask >> c & 1u)) outside[n_out++] = (uint32_t)w;
        for (size_t w = 0; w < N_WORDS; w++) {
            if (!(VOCAB[w].mask >> c & 1u)) continue;
            if (dh__rng_unif(&r) < keep) row[w] = 1.0f;
            if (dh__rng_unif(&r) < noise) row[outside[dh__rng_below(&r, n_out)]] = 1.0f;
        }
    }
    *out = t;
    return DH_OK;
}

dh_status dh_tags_synthesize(const dh_dataset *ds, const char *scheme, double keep,
                             double noise, uint64_t seed, dh_tags **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    DH_CHECK_ARG(ds != NULL && scheme != NULL);
    if (strcmp(scheme, "fashion-mnist-tags"))
        return dh__set_error(DH_E_NOT_FOUND, "dh_tags_synthesize: unknown scheme '%.40s' "
                             "(known: fashion-mnist-tags)", scheme);
    return dh__tags_fashion(ds, keep, noise, seed, out);
}
