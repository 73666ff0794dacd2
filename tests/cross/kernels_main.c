/* tests/cross/kernels_main.c -- a standalone check of the Hamming layer (lib/core) and
 * eval's per-query pass (lib/eval/scan*.c) on every kernel set the CPU has, against the
 * scalar references: index row scans (every K, unaligned starts, tombstones, little
 * room), distance rows, and eval's counts + relevant entries for each relevance kind.
 * No Check framework and no other libdh folders, so scripts/cross-aarch64.sh can build
 * it with a bare cross compiler and run it under qemu-user (the NEON path). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hamming.h"
#include "eval/scan_isa.h"

static int failures = 0;
static long checks = 0;

#define EXPECT(cond, ...)                                                                  \
    do {                                                                                   \
        checks++;                                                                          \
        if (!(cond)) {                                                                     \
            if (failures++ < 20) {                                                         \
                printf("FAIL %s:%d: ", __FILE__, __LINE__);                                \
                printf(__VA_ARGS__);                                                       \
                printf("\n");                                                              \
            }                                                                              \
        }                                                                                  \
    } while (0)

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return rs;
}

/* n rows of K bits as w words (bits >= K zero), clustered so that ties are common. */
static uint64_t *make_rows(size_t n, uint32_t K)
{
    uint32_t w = (K + 63) / 64;
    uint64_t *x = calloc(n * w + 8, 8), centre[64];
    for (uint32_t j = 0; j < w; j++) centre[j] = rnd();
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < w; j++) {
            uint64_t v = centre[j] ^ (rnd() & rnd() & rnd());
            if (64 * j + 64 > K) v &= K % 64 ? (1ull << (K % 64)) - 1 : ~0ull;
            x[i * w + j] = v;
        }
    return x;
}

static void check_index(const dh__kernels *kn, uint32_t K)
{
    const uint32_t w = (K + 63) / 64;
    const size_t ns[] = {0, 1, 7, 8, 9, 17, 63, 100, 1027};
    uint64_t *x = make_rows(1028, K), tomb[32];
    const uint64_t *q = x + 1027 * (size_t)w;
    for (int i = 0; i < 32; i++) tomb[i] = rnd() & rnd();
    uint64_t *pos = malloc(1100 * 8), *rpos = malloc(1100 * 8);
    uint16_t *d = malloc(1100 * 2), *rd = malloc(1100 * 2);
    int32_t *dist = malloc(1100 * 4);
    for (size_t b = 0; b < sizeof ns / sizeof *ns; b++) {
        size_t n = ns[b];
        const uint32_t bounds[] = {0, K / 2, K / 2 + 1, K + 1};
        for (int t = 0; t < 4; t++)
            for (int tm = 0; tm < 2; tm++) {
                const uint64_t *tb = tm ? tomb : NULL;
                size_t r = n > 3 ? 3 : 0, total = 0, got = 0, rgot = 0;
                size_t space = tm ? DH__SCAN_MIN_SPACE : n + 1;
                while (r < n) {
                    size_t stop = kn->scan(q, x, w, r, n, bounds[t], tb, pos + total, d + total,
                                           space, &got);
                    EXPECT(stop > r && got <= space, "isa %d K=%u: no progress", kn->isa, K);
                    if (stop <= r) break;
                    total += got, r = stop;
                }
                dh__scan_rows_scalar(q, x, w, n > 3 ? 3 : 0, n, bounds[t], tb, rpos, rd, n + 1,
                                     &rgot);
                EXPECT(total == rgot, "isa %d K=%u n=%zu: %zu rows vs %zu", kn->isa, K, n, total,
                       rgot);
                for (size_t i = 0; i < total && i < rgot; i++)
                    EXPECT(pos[i] == rpos[i] && d[i] == rd[i] &&
                               d[i] == dh__hamming_ref(q, x + pos[i] * w, w),
                           "isa %d K=%u n=%zu entry %zu", kn->isa, K, n, i);
            }
        kn->dist(q, x, w, n, dist);
        for (size_t i = 0; i < n; i++)
            EXPECT(dist[i] == (int32_t)dh__hamming_ref(q, x + i * w, w),
                   "isa %d K=%u dist row %zu", kn->isa, K, i);
    }
    free(x), free(pos), free(rpos), free(d), free(rd), free(dist);
}

static void check_eval(const int32_t *isas, int n_isa, uint32_t K, size_t n_db, int kind)
{
    const uint32_t w = (K + 63) / 64, lw = kind == 2 ? 3 : 1;
    const size_t nq = 4;
    uint64_t *qc = make_rows(nq, K), *dc = make_rows(n_db, K);
    int32_t *qid = malloc(nq * 4), *did = malloc(n_db * 4 + 4);
    uint64_t *qm = calloc(nq * lw, 8), *dm = calloc(n_db * lw + 1, 8);
    for (size_t i = 0; i < nq; i++) qid[i] = rnd() % 5 == 0 ? -2 : (int32_t)(rnd() % 4);
    for (size_t i = 0; i < n_db; i++) did[i] = (int32_t)(rnd() % 5) - 1;
    for (size_t i = 0; i < nq * lw; i++) qm[i] = rnd() & rnd() & rnd();
    for (size_t i = 0; i < n_db * lw; i++) dm[i] = rnd() & rnd() & rnd();
    dh__eval_data dd = {.n_bits = K, .words = w, .n_queries = nq, .n_db = n_db,
                        .q_codes = (const uint8_t *)qc, .db_codes = (const uint8_t *)dc,
                        .q_stride = 8 * (size_t)w, .db_stride = 8 * (size_t)w,
                        .rel_kind = kind ? DH__REL_MASK : DH__REL_CLASS, .label_words = lw,
                        .q_ids = qid, .db_ids = did, .q_mask = qm, .db_mask = dm};
    uint32_t *c0 = calloc(K + 1, 4), *c1 = calloc(K + 1, 4);
    uint64_t *r0 = malloc(n_db * 8 + 8), *r1 = malloc(n_db * 8 + 8);
    for (size_t q = 0; q < nq; q++) {
        memset(c0, 0, (K + 1) * 4);
        uint64_t R0 = dh__eval_scan_ref(&dd, q, c0, r0);
        for (int i = 0; i < n_isa; i++) {
            dh_set_isa(isas[i]);
            memset(c1, 0, (K + 1) * 4);
            uint64_t R1 = dh__eval_scan_select(&dd)(&dd, q, c1, r1);
            EXPECT(R1 == R0 && !memcmp(c0, c1, (K + 1) * 4) && !memcmp(r0, r1, R0 * 8),
                   "eval %s K=%u n=%zu kind=%d query %zu", dh_isa_name(isas[i]), K, n_db, kind,
                   q);
        }
    }
    dh_set_isa(DH_ISA_AUTO);
    free(qc), free(dc), free(qid), free(did), free(qm), free(dm);
    free(c0), free(c1), free(r0), free(r1);
}

int main(void)
{
    int32_t isas[8];
    int n_isa = 0;
    for (int32_t i = DH_ISA_SCALAR; i <= DH_ISA_NEON; i++)
        if (dh_cpu_has_isa(i)) isas[n_isa++] = i;
    printf("kernel sets:");
    for (int i = 0; i < n_isa; i++) printf(" %s", dh_isa_name(isas[i]));
    printf(" (auto: %s)\n", dh_isa_name(dh_get_isa()));
    const uint32_t Ks[] = {8, 24, 64, 72, 128, 200, 256, 320, 512, 1024};
    for (size_t a = 0; a < sizeof Ks / sizeof *Ks; a++) {
        for (int i = 0; i < n_isa; i++) check_index(dh__hamming_kernels(isas[i]), Ks[a]);
        const size_t ndb[] = {1, 63, 64, 65, 130, 1000};
        for (size_t b = 0; b < sizeof ndb / sizeof *ndb; b++)
            for (int kind = 0; kind < 3; kind++) check_eval(isas, n_isa, Ks[a], ndb[b], kind);
    }
    printf("%ld checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
