/* tests/fuzz/fuzz_index_mih.c -- libFuzzer target for the multi-index section of index
 * files (format version 2): load the input copying and in place; if it loads with
 * tables, every k-NN and range search through the tables (DH_SEARCH_MIH) must equal
 * the linear scan exactly (a mismatch traps), then the tables are rebuilt and dropped.
 * Nothing may crash, leak or read out of bounds.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -Ilib \
 *     -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION tests/fuzz/fuzz_index_mih.c \
 *     lib/index/[a-z]*.c lib/core/[a-z]*.c lib/io/crc32c.c lib/io/atomic_write.c \
 *     lib/data/npy.c -fopenmp -lz -lm -o /tmp/fzm
 *   /tmp/fzm -max_total_time=120 /tmp/fzmc tests/fuzz/corpus/index_mih
 * tests/fuzz/gen_index_mih_corpus.py writes the seed corpus. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/index.h"

static int same_knn(dh_index *ix, const uint8_t *q, size_t nq, uint32_t k)
{
    int32_t D[2][4 * 8];
    int64_t I[2][4 * 8];
    for (int mode = 0; mode < 2; mode++) {
        dh_index_set_search_mode(ix, mode ? DH_SEARCH_MIH : DH_SEARCH_SCAN);
        if (dh_index_search(ix, q, nq, k, D[mode], I[mode]) != DH_OK) return 1;
    }
    return memcmp(D[0], D[1], nq * k * sizeof D[0][0]) == 0 &&
           memcmp(I[0], I[1], nq * k * sizeof I[0][0]) == 0;
}

static int same_range(dh_index *ix, const uint8_t *q, size_t nq, uint32_t r)
{
    dh_range_result *res[2] = {NULL, NULL};
    int ok = 1;
    for (int mode = 0; mode < 2; mode++) {
        dh_index_set_search_mode(ix, mode ? DH_SEARCH_MIH : DH_SEARCH_SCAN);
        if (dh_index_range_search(ix, q, nq, r, &res[mode]) != DH_OK) ok = 0;
    }
    if (ok) {
        size_t h = dh_range_result_n_hits(res[0]);
        ok = h == dh_range_result_n_hits(res[1]) &&
             !memcmp(dh_range_result_lims(res[0]), dh_range_result_lims(res[1]),
                     (nq + 1) * sizeof(size_t)) &&
             (h == 0 || (!memcmp(dh_range_result_ids(res[0]), dh_range_result_ids(res[1]),
                                 h * 8) &&
                         !memcmp(dh_range_result_distances(res[0]),
                                 dh_range_result_distances(res[1]), h * 4)));
    }
    dh_range_result_free(res[0]);
    dh_range_result_free(res[1]);
    return ok;
}

static void exercise(dh_index *ix)
{
    uint32_t K = dh_index_n_bits(ix), m = 0;
    size_t cb = dh_code_bytes(K), n = dh_index_count(ix);
    uint8_t q[4 * 512];
    memset(q, 0x5A, sizeof q);
    if (n && dh_index_export(ix, DH_CODE_PACKED, 0, 1, q, NULL) != DH_OK) return;
    if (n > 1) (void)dh_index_export(ix, DH_CODE_PACKED, n - 1, 1, q + cb, NULL);
    dh_index_mih_info(ix, &m, NULL, NULL);
    if (m) {
        if (!same_knn(ix, q, 4, 1) || !same_knn(ix, q, 4, 8) || !same_range(ix, q, 4, 0) ||
            !same_range(ix, q, 4, K < 3 ? K : 3))
            __builtin_trap(); /* the tables gave a different answer than the scan */
    }
    if (dh_index_build_mih(ix, DH_MIH_AUTO) == DH_OK && !same_knn(ix, q, 4, 3))
        __builtin_trap();
    (void)dh_index_drop_mih(ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dh_index *ix = NULL;
    if (dh__index_load_buffer(data, size, 0, "fuzz", &ix) == DH_OK) {
        exercise(ix);
        dh_index_free(ix);
    }
    uint64_t *aligned = malloc(size / 8 * 8 + 8);
    if (!aligned) return 0;
    memcpy(aligned, data, size);
    if (dh__index_load_buffer((const uint8_t *)aligned, size, 1, "fuzz", &ix) == DH_OK) {
        exercise(ix); /* tables borrowed from the buffer */
        dh_index_free(ix);
    }
    free(aligned);
    return 0;
}
