/* tests/fuzz/fuzz_faiss.c -- libFuzzer target for the FAISS binary index reader
 * (lib/index/faiss_io.c): parse the input as a FAISS file image; when it loads, search
 * it and write it back as a FAISS file, which must load again with the same rows.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -Ilib \
 *     tests/fuzz/fuzz_faiss.c lib/index/[a-z]*.c lib/core/[a-z]*.c lib/io/[a-z]*.c \
 *     lib/data/npy.c -fopenmp -lz -lm -lcjson -o /tmp/fz
 *   mkdir -p /tmp/fzc && /tmp/fz -max_total_time=120 /tmp/fzc tests/fuzz/corpus/faiss */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dh_index *ix = NULL;
    if (dh__index_import_faiss_buffer(data, size, "fuzz", &ix) != DH_OK) return 0;
    uint32_t K = dh_index_n_bits(ix);
    uint8_t q[512];
    memset(q, 0xA5, sizeof q);
    int32_t D[4];
    int64_t I[4];
    if (dh_index_search(ix, q, 1, 4, D, I) != DH_OK) abort();
    char path[64];
    snprintf(path, sizeof path, "/tmp/dh_fuzz_faiss_%d.bin", (int)getpid());
    if (dh_index_export_faiss(ix, path, 0) == DH_OK) {
        dh_index *back = NULL;
        if (dh_index_import_faiss(path, &back) != DH_OK) abort();
        if (dh_index_count(back) != dh_index_count(ix) || dh_index_n_bits(back) != K) abort();
        dh_index_free(back);
        remove(path);
    }
    dh_index_free(ix);
    return 0;
}
