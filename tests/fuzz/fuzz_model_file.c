/* tests/fuzz/fuzz_model_file.c -- the whole model-file loader (dh_model_load without
 * the file read): safetensors parse, __metadata__ options, architecture built under the
 * tensor-bytes budget, parameters and extras loaded. It must refuse bad input with a
 * status (never crash, abort or allocate without bound); an accepted model encodes. */
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) dh_set_num_threads(1), once = 1;
    dh_model *m = NULL;
    if (dh__model_load_buffer(data, size, &m) != DH_OK) {
        if (m) abort();
        return 0;
    }
    int64_t shape[3] = {1, 1, 1};
    int32_t nd = dh_model_input_shape(m, shape);
    size_t len = nd == 3 ? (size_t)(shape[0] * shape[1] * shape[2]) : (size_t)shape[0];
    if (len && len <= 4096) {
        float *x = calloc(len, sizeof *x);
        uint8_t codes[512];
        if (x && dh_model_n_bits(m) <= 4096)
            (void)dh_model_encode_float(m, x, 1, len, codes, NULL);
        free(x);
    }
    dh_model_free(m);
    return 0;
}
