/* tests/fuzz/fuzz_finegrained_lists.c -- CUB-200-2011 / FGVC-Aircraft annotation
 * parsing. The input is up to three files separated by NUL bytes; the first byte picks
 * the format. CUB: images.txt, image_class_labels.txt, train_test_split.txt. Aircraft:
 * variants.txt, images_variant_train.txt (the third part is ignored). The files go to a
 * private temporary folder and the converted list to /dev/null-like scratch there. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dh.h"

static char dir[256];

static void put(const char *name, const uint8_t *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(p, 1, n, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/dh_fuzz_fg_XXXXXX", t && t[0] ? t : "/tmp");
        if (!mkdtemp(dir)) return 0;
    }
    int cub = data[0] % 2 == 0;
    const char *names[2][3] = {{"variants.txt", "images_variant_train.txt", "unused"},
                               {"images.txt", "image_class_labels.txt", "train_test_split.txt"}};
    const uint8_t *p = data + 1, *end = data + size;
    for (int k = 0; k < 3; k++) {
        const uint8_t *z = memchr(p, 0, (size_t)(end - p));
        const uint8_t *e = z ? z : end;
        put(names[cub][k], p, (size_t)(e - p));
        p = z ? z + 1 : end;
    }
    char out[512];
    snprintf(out, sizeof out, "%s/out.list", dir);
    uint32_t nc;
    size_t n;
    (void)dh_finegrained_write_list(cub ? DH_FINEGRAINED_CUB : DH_FINEGRAINED_AIRCRAFT_VARIANT,
                                    dir, cub ? "all" : "train", out, &nc, &n);
    (void)dh_finegrained_write_list(cub ? DH_FINEGRAINED_CUB : DH_FINEGRAINED_AIRCRAFT_VARIANT,
                                    dir, cub ? "train" : "trainval", out, &nc, &n);
    return 0;
}
