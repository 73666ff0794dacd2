/* tests/check_index_ref.h -- brute-force references and data makers shared by the
 * index Check suites (check_index*.c). Everything here is deliberately naive. */
#ifndef DH_CHECK_INDEX_REF_H
#define DH_CHECK_INDEX_REF_H

#include <stdlib.h>
#include <string.h>

#include "index/index.h"
#include "testutil.h"

static inline uint32_t ref_dist_bytes(const uint8_t *a, const uint8_t *b, size_t nb)
{
    uint32_t d = 0;
    for (size_t i = 0; i < nb; i++)
        for (int t = 0; t < 8; t++) d += (uint32_t)(((a[i] ^ b[i]) >> t) & 1);
    return d;
}

/* n random codes of K bits. */
static inline uint8_t *rand_codes(size_t n, uint32_t K, uint64_t seed)
{
    size_t nb = K / 8;
    uint8_t *c = malloc(n * nb + 1);
    dh_test_fill(c, n * nb, seed);
    return c;
}

/* Codes with few distinct distances (only the low 3 bits of byte 0 vary): huge ties. */
static inline uint8_t *tie_codes(size_t n, uint32_t K, uint64_t seed)
{
    size_t nb = K / 8;
    uint8_t *c = calloc(n * nb + 1, 1);
    uint64_t s = seed | 1;
    for (size_t i = 0; i < n; i++) c[i * nb] = (uint8_t)(dh_test_rand(&s) & 7u);
    return c;
}

/* Exact k-NN by (distance, insertion position); removed[i] != 0 skips row i. */
static inline void ref_knn(const uint8_t *db, const int64_t *ids, const char *removed, size_t n,
                           const uint8_t *q, size_t nq, uint32_t K, uint32_t k, int32_t *D,
                           int64_t *I)
{
    size_t nb = K / 8;
    uint32_t *d = malloc((n + 1) * sizeof *d);
    for (size_t a = 0; a < nq; a++) {
        for (size_t i = 0; i < n; i++) d[i] = ref_dist_bytes(q + a * nb, db + i * nb, nb);
        size_t j = 0;
        for (uint32_t t = 0; t <= K && j < k; t++)
            for (size_t i = 0; i < n && j < k; i++)
                if (d[i] == t && !(removed && removed[i])) {
                    D[a * k + j] = (int32_t)t;
                    I[a * k + j] = ids ? ids[i] : (int64_t)i;
                    j++;
                }
        for (; j < k; j++) {
            D[a * k + j] = INT32_MAX;
            I[a * k + j] = -1;
        }
    }
    free(d);
}

/* Number of rows within radius r (inclusive) of query a. */
static inline size_t ref_range_count(const uint8_t *db, const char *removed, size_t n,
                                     const uint8_t *q, uint32_t K, uint32_t r)
{
    size_t c = 0, nb = K / 8;
    for (size_t i = 0; i < n; i++)
        if (!(removed && removed[i]) && ref_dist_bytes(q, db + i * nb, nb) <= r) c++;
    return c;
}

/* Every ISA the CPU has (scalar first); returns the count. */
static inline int all_isas(int32_t *out)
{
    int n = 0;
    for (int32_t i = DH_ISA_SCALAR; i <= DH_ISA_AVX512VPOPCNT; i++)
        if (dh_cpu_has_isa(i)) out[n++] = i;
    return n;
}

static inline dh_index *make_index(uint32_t K)
{
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = K;
    dh_index *ix = NULL;
    ck_assert_dh_ok(dh_index_create(&o, &ix));
    return ix;
}

#endif
