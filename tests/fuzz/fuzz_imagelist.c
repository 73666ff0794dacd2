/* tests/fuzz/fuzz_imagelist.c -- image-list parsing from a buffer; the first byte picks
 * the label format and a class count. Accepted lists must have consistent labels. */
#include <stdint.h>
#include <stdlib.h>

#include "data/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    dh__listfile lf;
    int32_t fmt = data[0] % 3;
    uint32_t C = (data[0] >> 2) % 8;
    if (dh__imagelist_parse((const char *)data + 1, size - 1, "fuzz", fmt, C, &lf) == DH_OK) {
        if (lf.n == 0) abort();
        for (size_t i = 0; i < lf.n; i++) {
            if (!lf.paths[i] || !lf.paths[i][0]) abort();
            if (lf.class_ids && (lf.class_ids[i] < 0 || (uint32_t)lf.class_ids[i] >= lf.n_classes))
                abort();
            if (lf.labels)
                for (uint32_t c = 0; c < lf.n_classes; c++)
                    if (lf.labels[i * lf.n_classes + c] != 0.0f &&
                        lf.labels[i * lf.n_classes + c] != 1.0f)
                        abort();
        }
        dh__listfile_free(&lf);
    }
    return 0;
}
