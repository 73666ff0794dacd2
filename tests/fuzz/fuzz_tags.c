/* tests/fuzz/fuzz_tags.c -- tag readers from a buffer (lib/data/tags.c): the first byte
 * picks the layout (NUS-WIDE matrix or `path tag ...` list) and whether a vocabulary
 * is given; a second NUL-separated part is the tag list. Accepted tags must be a 0/1
 * matrix with named columns. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/tags.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const int matrix = data[0] & 1, with_vocab = (data[0] >> 1) & 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1, vlen = 0;
    const char *vocab = NULL;
    const char *sep = memchr(text, '\0', len);
    if (sep && with_vocab) {
        vocab = sep + 1;
        vlen = len - (size_t)(sep + 1 - text);
        len = (size_t)(sep - text);
    }
    dh_tags_options o;
    dh_tags_options_init(&o);
    o.max_tags = 512;
    o.max_images = 4096;
    o.unknown = (data[0] >> 2) & 1;
    o.min_count = 1 + ((data[0] >> 3) & 3);
    dh_tags *t = NULL;
    dh_status st = matrix ? dh__tags_parse_matrix(text, len, vocab, vlen, "fuzz", &o, &t)
                          : dh__tags_parse_list(text, len, vocab, vlen, "fuzz", &o, &t);
    if (st == DH_OK) {
        if (!t || t->n == 0 || t->T == 0 || t->T > 512 || t->n > 4096) abort();
        for (uint32_t k = 0; k < t->T; k++)
            if (!t->names[k] || !t->names[k][0]) abort();
        for (size_t i = 0; i < t->n * t->T; i++)
            if (t->M[i] != 0.0f && t->M[i] != 1.0f) abort();
        dh_tags_free(t);
    } else if (t) {
        abort();
    }
    return 0;
}
