/* tests/fuzz/fuzz_npy.c -- the .npy parser on arbitrary bytes: it must return a status,
 * never crash, and an accepted array must hold exactly the elements its shape says. */
#include <stdint.h>
#include <stdlib.h>

#include "data/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dh__npy a;
    if (dh__npy_read_buffer(data, size, &a) == DH_OK) {
        size_t n = 1;
        for (int d = 0; d < a.ndim; d++) n *= (size_t)a.shape[d];
        if (n != a.n_elems) abort();
        float *f = malloc(a.n_elems * sizeof(float) + 1);
        if (f) dh__convert_to_f32(a.dtype, a.data, a.n_elems, f);
        free(f);
        dh__npy_free(&a);
    }
    return 0;
}
