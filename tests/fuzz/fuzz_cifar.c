/* tests/fuzz/fuzz_cifar.c -- CIFAR record parsing; the first byte picks the variant. */
#include <stdint.h>

#include "data/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const int32_t v[3] = {DH_CIFAR10, DH_CIFAR100, DH_CIFAR100_COARSE};
    dh_dataset *ds = NULL;
    if (dh__cifar_parse(data + 1, size - 1, v[data[0] % 3], "fuzz", &ds) == DH_OK) {
        uint8_t img[3072];
        for (size_t i = 0; i < dh_dataset_count(ds); i++) dh_dataset_get_image(ds, i, img);
    }
    dh_dataset_free(ds);
    return 0;
}
