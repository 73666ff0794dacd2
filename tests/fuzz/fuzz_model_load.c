/* tests/fuzz/fuzz_model_load.c -- the safetensors parser behind dh_model_load and
 * dh_model_load_backbone, on arbitrary bytes: it must either reject the input with
 * DH_E_FORMAT (never crash, hang or read out of bounds) or return tensors whose data
 * lie inside the buffer; every accepted tensor is converted to float to prove it. */
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dh__safetensors st;
    if (dh__safetensors_parse(data, size, &st) != DH_OK) return 0;
    for (size_t i = 0; i < st.n; i++) {
        const dh__st_tensor *t = &st.t[i];
        if (t->data < data || t->data + t->nbytes > data + size) abort();
        if (t->numel > ((size_t)1 << 24)) continue;
        float *f = malloc((t->numel ? t->numel : 1) * sizeof *f);
        if (!f) continue;
        dh__st_to_float(t, f);
        free(f);
        if (dh__safetensors_find(&st, t->name) == NULL) abort();
    }
    (void)dh__safetensors_meta(&st, "format");
    dh__safetensors_free(&st);
    return 0;
}
