/* src/cli_tags.c -- tags on the dh train command line (see cli_tags.h). */
#include "cli_tags.h"

#include "cli.h"
#include "cli_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dh_cli_tags_wanted(const dh_cli_tag_args *a, const char *protocol)
{
    return a->tags || (protocol && !strcmp(protocol, "fashion-mnist-tags"));
}

static int tag_format(const char *cmd, const char *s, int32_t *out)
{
    if (!s || !strcmp(s, "list")) return (*out = DH_TAGS_LIST), 0;
    if (!strcmp(s, "matrix") || !strcmp(s, "nuswide")) return (*out = DH_TAGS_MATRIX), 0;
    if (!strcmp(s, "files") || !strcmp(s, "mirflickr")) return (*out = DH_TAGS_FILES), 0;
    return dh_cli_usage_error(cmd, "--tag-format: '%s' is not matrix (NUS-WIDE), files "
                              "(MIRFlickr) or list", s);
}

int dh_cli_tags_load(const char *cmd, const char *spec, const char *protocol, uint64_t seed,
                     uint32_t size, const dh_cli_tag_args *a, dh_dataset **train,
                     dh_dataset **query, dh_dataset **db, dh_tags **tags)
{
    int rc;
    dh_status st = DH_OK;
    *tags = NULL;
    if (!a->tags) { /* fashion-mnist-tags: the split, then tags generated on train */
        if ((rc = dh_cli_load_protocol(cmd, spec, protocol, seed, size, train, query, db)))
            return rc;
        double keep = isnan(a->keep) ? 0.5 : a->keep, noise = isnan(a->noise) ? 0.2 : a->noise;
        st = dh_tags_synthesize(*train, "fashion-mnist-tags", keep, noise, seed, tags);
        if (st == DH_OK) st = dh_dataset_attach_tags(*train, *tags);
        return st == DH_OK ? 0 : dh_cli_fail(cmd, st);
    }
    if (!isnan(a->keep) || !isnan(a->noise))
        return dh_cli_usage_error(cmd, "--tag-keep/--tag-noise generate tags "
                                  "(--protocol fashion-mnist-tags), not with --tags");
    dh_tags_options o;
    dh_tags_options_init(&o);
    if ((rc = tag_format(cmd, a->format, &o.format))) return rc;
    o.vocabulary = a->vocab;
    o.unknown = a->skip_unknown ? DH_TAGS_UNKNOWN_SKIP : DH_TAGS_UNKNOWN_ERROR;
    dh_dataset *all = NULL;
    if ((rc = dh_cli_load_data(cmd, spec, 0, size, &all))) return rc;
    st = dh_tags_load(a->tags, &o, tags);
    if (st == DH_OK) st = dh_dataset_attach_tags(all, *tags);
    if (st == DH_OK && protocol) st = dh_protocol_split(protocol, all, NULL, seed, train, query, db);
    if (st == DH_OK && !protocol) *train = all, all = NULL;
    dh_dataset_free(all);
    return st == DH_OK ? 0 : dh_cli_fail(cmd, st);
}

int dh_cli_tags_vectors(const char *cmd, const char *path, const dh_tags *tags, dh_loss *loss)
{
    uint32_t dim = 0, found = 0, T = dh_tags_vocab_size(tags);
    dh_status st = dh_word_vectors_dim(path, &dim);
    float *E = st == DH_OK ? calloc((size_t)T * dim + 1, sizeof(float)) : NULL;
    if (st == DH_OK && !E) st = DH_E_NO_MEMORY;
    if (st == DH_OK) st = dh_word_vectors_load(path, tags, dim, E, &found);
    if (st == DH_OK) {
        fprintf(stderr, "dh %s: %u of %u tags have a vector in %s (%u dimensions)\n", cmd, found,
                T, path, dim);
        st = dh_loss_set_tag_vectors(loss, E, T, dim);
    }
    free(E);
    return st == DH_OK ? 0 : dh_cli_fail(cmd, st);
}
