/* tests/fuzz/fuzz_index_load.c -- libFuzzer target for the index file loader: parse the
 * input as an index file image (copying and in place, as dh_index_load and
 * dh_index_load_mmap do), and if it loads, exercise search, range search, export,
 * removal and compaction on it. Nothing may crash, leak or read out of bounds.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -Ilib \
 *     -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (skips CRC checks, to reach the rest) \
 *     tests/fuzz/fuzz_index_load.c lib/index/[a-z]*.c lib/core/[a-z]*.c lib/io/crc32c.c \
 *     lib/io/atomic_write.c lib/data/npy.c -fopenmp -lz -lm -o /tmp/fz
 *   mkdir -p /tmp/fzc && /tmp/fz -max_total_time=120 /tmp/fzc tests/fuzz/corpus/index_load */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/index.h"

static void exercise(dh_index *ix)
{
    uint32_t K = dh_index_n_bits(ix);
    size_t cb = K / 8, n = dh_index_count(ix);
    uint8_t q[2 * 512];
    memset(q, 0x5A, sizeof q);
    int32_t D[2 * 5];
    int64_t I[2 * 5];
    (void)dh_index_search(ix, q, 2, 5, D, I);
    dh_range_result *res = NULL;
    if (dh_index_range_search(ix, q, 2, K / 3, &res) == DH_OK) dh_range_result_free(res);
    size_t m = n < 3 ? n : 3;
    uint8_t rows[3 * 512];
    float f[3 * 4096];
    int64_t ids[3];
    if (m && dh_index_export(ix, DH_CODE_PACKED, n - m, m, rows, ids) == DH_OK) {
        (void)dh_index_export(ix, DH_CODE_FLOAT32, 0, m, f, NULL);
        (void)dh_index_remove_ids(ix, ids, 1, NULL);
        (void)dh_index_compact(ix);
        (void)dh_index_add(ix, rows, 1);
        (void)dh_index_search(ix, rows, 1, 3, D, I);
    }
    (void)cb;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dh_index *ix = NULL;
    if (dh__index_load_buffer(data, size, 0, "fuzz", &ix) == DH_OK) {
        exercise(ix);
        dh_index_free(ix);
    }
    /* In place, as a mapped file: needs an 8-byte aligned copy. */
    uint64_t *aligned = malloc(size / 8 * 8 + 8);
    if (!aligned) return 0;
    memcpy(aligned, data, size);
    if (dh__index_load_buffer((const uint8_t *)aligned, size, 1, "fuzz", &ix) == DH_OK) {
        exercise(ix); /* read-only: add/remove/compact must refuse */
        dh_index_free(ix);
    }
    free(aligned);
    return 0;
}
