/* tests/fuzz/fuzz_idx.c -- the IDX parser: the input is split into an image file and a
 * label file at a position given by its first byte. */
#include <stdint.h>
#include <stdlib.h>

#include "data/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t cut = 1 + (size_t)data[0] * (size - 1) / 255;
    dh_dataset *ds = NULL;
    if (dh__idx_parse(data + 1, cut - 1, "images", data + cut, size - cut, "labels", &ds) ==
        DH_OK) {
        uint8_t *img = malloc(dh_dataset_sample_size(ds) + 1);
        if (dh_dataset_count(ds) && dh_dataset_get_image(ds, dh_dataset_count(ds) - 1, img) != DH_OK)
            abort();
        free(img);
    }
    dh_dataset_free(ds);
    return 0;
}
