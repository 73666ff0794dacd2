/* lib/index/mih.c -- multi-index hashing tables (mih.h): substring layout, the number
 * of tables, building by counting sort, upkeep after add / compaction, and the public
 * calls dh_index_build_mih, dh_index_drop_mih, dh_index_mih_info and
 * dh_index_set_search_mode. */
#include "index/mih.h"

#include <math.h>
#include <string.h>

/* The tail (rows added since the build, checked one by one by every search) is merged
 * by a rebuild once it passes max(DH__MIH_TAIL_MIN, n_built / DH__MIH_TAIL_DIV). A
 * rebuild costs about what 1/DH__MIH_TAIL_DIV of a scan per added row amortises. */
#define DH__MIH_TAIL_MIN ((size_t)1024)
#define DH__MIH_TAIL_DIV ((size_t)32)

static uint32_t ceil_log2(size_t n)
{
    uint32_t b = 0;
    while (b < 63 && ((size_t)1 << b) < n) b++;
    return b;
}

uint32_t dh__mih_hmax(size_t n)
{
    /* floor(log2 n) - 2 key bits: at most n / 4 buckets, so the offsets cost <= 1 byte
     * per row and table (the row lists cost 3). */
    uint32_t b = n < 2 ? 0 : ceil_log2(n + 1) - 1;
    uint32_t h = b > 6 ? b - 2 : 4;
    return h > DH__MIH_MAX_KEY_BITS ? DH__MIH_MAX_KEY_BITS : h;
}

uint32_t dh__mih_auto_m(uint32_t n_bits, size_t n, int32_t requested)
{
    uint32_t cap = n_bits < DH__MIH_MAX_TABLES ? n_bits : DH__MIH_MAX_TABLES;
    if (requested > 0) return (uint32_t)requested;
    /* Norouzi et al.: substrings of about log2(n) bits, m = K / log2 n. */
    double l = log2((double)(n < 16 ? 16 : n));
    long m = lround((double)n_bits / l);
    if (m < 1) m = 1;
    return (uint32_t)m > cap ? cap : (uint32_t)m;
}

void dh__mih_layout(dh__mih *mh, uint32_t n_bits, uint32_t m, uint32_t hmax)
{
    uint32_t base = n_bits / m, extra = n_bits % m, off = 0;
    for (uint32_t t = 0; t < m; t++) {
        dh__mih_table *tb = &mh->t[t];
        tb->bit_off = off;
        tb->len = base + (t < extra);
        tb->key_bits = tb->len < hmax ? tb->len : hmax;
        tb->reserved = 0;
        off += tb->len;
    }
    mh->m = m;
}

dh__mih *dh__mih_alloc(uint32_t m)
{
    dh__mih *mh = dh__calloc(1, sizeof *mh + (size_t)m * sizeof(dh__mih_table));
    if (mh) mh->m = m;
    return mh;
}

void dh__mih_free(dh__mih *mh)
{
    if (!mh) return;
    if (mh->owned)
        for (uint32_t t = 0; t < mh->m; t++) {
            dh__free_aligned((void *)(uintptr_t)mh->t[t].offs);
            dh__free_aligned((void *)(uintptr_t)mh->t[t].rows);
        }
    dh__free(mh);
}

/* Counting sort of rows [0, n) by their key: offs[b] = first position of bucket b. */
static dh_status build_table(dh__mih_table *tb, const uint64_t *codes, uint32_t w, size_t n,
                             uint32_t row_bytes)
{
    size_t nb = (size_t)1 << tb->key_bits;
    uint32_t *offs = dh__alloc_aligned((nb + 1) * sizeof *offs, 64);
    uint8_t *rows = dh__alloc_aligned(dh__mih_rows_bytes(n, row_bytes), 64);
    if (!offs || !rows) {
        dh__free_aligned(offs);
        dh__free_aligned(rows);
        return DH_E_NO_MEMORY;
    }
    memset(offs, 0, (nb + 1) * sizeof *offs);
    memset(rows + n * row_bytes, 0, dh__mih_rows_bytes(n, row_bytes) - n * row_bytes);
    for (size_t r = 0; r < n; r++) offs[dh__mih_key(tb, codes + r * w) + 1]++;
    for (size_t b = 0; b < nb; b++) offs[b + 1] += offs[b];
    /* Scatter with offs[b] as the cursor of bucket b; afterwards offs[b] is the end of
     * bucket b = the start of b + 1, so shift back by one. Rows stay ascending. */
    for (size_t r = 0; r < n; r++) {
        uint32_t pos = offs[dh__mih_key(tb, codes + r * w)]++;
        uint8_t *p = rows + (size_t)pos * row_bytes;
        p[0] = (uint8_t)r;
        p[1] = (uint8_t)(r >> 8);
        p[2] = (uint8_t)(r >> 16);
        if (row_bytes == 4) p[3] = (uint8_t)(r >> 24);
    }
    memmove(offs + 1, offs, nb * sizeof *offs);
    offs[0] = 0;
    tb->offs = offs;
    tb->rows = rows;
    return DH_OK;
}

dh_status dh__mih_build_locked(dh_index *ix, int32_t requested)
{
    size_t n = ix->n;
    if (n > DH__MIH_MAX_ROWS)
        return dh__set_error(DH_E_UNSUPPORTED, "multi-index tables hold at most %zu rows, "
                             "the index has %zu", DH__MIH_MAX_ROWS, n);
    uint32_t m = dh__mih_auto_m(ix->n_bits, n - ix->n_removed, requested);
    dh__mih *mh = dh__mih_alloc(m);
    if (!mh) return DH_E_NO_MEMORY;
    dh__mih_layout(mh, ix->n_bits, m, dh__mih_hmax(n));
    mh->owned = 1;
    mh->requested = requested;
    mh->n_built = n;
    mh->row_bytes = n < ((size_t)1 << 24) ? 3 : 4;
    dh_status st = DH_OK;
    int nt = ix->n_threads ? (int)ix->n_threads : dh__num_threads();
    if (nt > (int)m) nt = (int)m;
    long long ml = m;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1 && n > 65536)
    for (long long t = 0; t < ml; t++) {
        if (build_table(&mh->t[t], ix->codes, ix->n_words, n, mh->row_bytes) != DH_OK) {
#pragma omp critical(dh_mih_build_err)
            st = DH_E_NO_MEMORY;
        }
    }
    if (st != DH_OK) {
        dh__mih_free(mh);
        return dh__set_error(st, "multi-index tables: out of memory for %zu rows x %u tables",
                             n, m);
    }
    for (uint32_t t = 0; t < m; t++)
        mh->bytes += (((size_t)1 << mh->t[t].key_bits) + 1) * 4 +
                     dh__mih_rows_bytes(n, mh->row_bytes);
    dh__mih_free(ix->mih);
    ix->mih = mh;
    return DH_OK;
}

void dh__mih_maintain_locked(dh_index *ix, int renumbered)
{
    if (!ix->mih_want) return;
    size_t built = ix->mih ? ix->mih->n_built : 0;
    size_t lim = built / DH__MIH_TAIL_DIV;
    if (lim < DH__MIH_TAIL_MIN) lim = DH__MIH_TAIL_MIN;
    if (!renumbered && ix->n - built <= lim) return;
    if (dh__mih_build_locked(ix, ix->mih_want) != DH_OK) {
        /* The rows are stored; without tables the searches scan, still exact. */
        dh__mih_free(ix->mih);
        ix->mih = NULL;
    }
}

/* ---- public calls ---- */

dh_status dh_index_build_mih(dh_index *ix, int32_t m)
{
    const char *fn = "dh_index_build_mih";
    DH_CHECK_ARG_MSG(ix != NULL, "%s: index is NULL", fn);
    uint32_t cap = ix->n_bits < DH__MIH_MAX_TABLES ? ix->n_bits : DH__MIH_MAX_TABLES;
    if (m == 0 || m < -1 || (m > 0 && (uint32_t)m > cap))
        return dh__set_error(DH_E_INVALID_ARG, "%s: m = %d tables; use -1 (auto) or 1..%u "
                             "(at most K = %u and %u)", fn, m, cap, ix->n_bits,
                             DH__MIH_MAX_TABLES);
    dh__index_wrlock(ix);
    dh_status st = dh__mih_build_locked(ix, m);
    if (st == DH_OK) ix->mih_want = m;
    dh__index_unlock(ix);
    if (st != DH_OK) dh__error_prefix("%s", fn);
    return st;
}

dh_status dh_index_drop_mih(dh_index *ix)
{
    DH_CHECK_ARG_MSG(ix != NULL, "dh_index_drop_mih: index is NULL");
    dh__index_wrlock(ix);
    dh__mih_free(ix->mih);
    ix->mih = NULL;
    ix->mih_want = 0;
    dh__index_unlock(ix);
    return DH_OK;
}

dh_status dh_index_mih_info(const dh_index *ix, uint32_t *out_m, size_t *out_rows,
                            size_t *out_bytes)
{
    if (out_m) *out_m = 0;
    if (out_rows) *out_rows = 0;
    if (out_bytes) *out_bytes = 0;
    DH_CHECK_ARG_MSG(ix != NULL, "dh_index_mih_info: index is NULL");
    dh__index_rdlock(ix);
    if (ix->mih) {
        if (out_m) *out_m = ix->mih->m;
        if (out_rows) *out_rows = ix->mih->n_built;
        if (out_bytes) *out_bytes = ix->mih->bytes;
    }
    dh__index_unlock(ix);
    return DH_OK;
}

dh_status dh_index_set_search_mode(dh_index *ix, int32_t mode)
{
    DH_CHECK_ARG_MSG(ix != NULL, "dh_index_set_search_mode: index is NULL");
    DH_CHECK_ARG_MSG(mode >= DH__SEARCH_AUTO && mode <= DH__SEARCH_MIH,
                     "dh_index_set_search_mode: mode %d is not DH_SEARCH_AUTO (0), "
                     "DH_SEARCH_SCAN (1) or DH_SEARCH_MIH (2)", mode);
    dh__index_wrlock(ix);
    ix->search_mode = mode;
    dh__index_unlock(ix);
    return DH_OK;
}
