/* lib/index/store.c -- the index object: create/free, adding rows with ids, removal by
 * tombstones, compaction, export, and the reader/writer lock. */
#include "index/index.h"
#include "index/mih.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- locking ----
 * pthread_rwlock_* only fail on misuse (EDEADLK, EAGAIN at ~2^31 readers); libdh never
 * holds the lock across calls, so the results are ignored. */
void dh__index_rdlock(const dh_index *ix) { (void)pthread_rwlock_rdlock(&((dh_index *)ix)->lock); }
void dh__index_wrlock(dh_index *ix) { (void)pthread_rwlock_wrlock(&ix->lock); }
void dh__index_unlock(const dh_index *ix) { (void)pthread_rwlock_unlock(&((dh_index *)ix)->lock); }

static dh_status check_n_bits(uint32_t n_bits, const char *fn)
{
    return dh__check_bits(n_bits, fn); /* any K in 1..DH_MAX_BITS (lib/core/codelen.c) */
}

dh_status dh__index_new(uint32_t n_bits, dh_index **out)
{
    *out = NULL;
    DH_TRY(check_n_bits(n_bits, "index"));
    dh_index *ix = dh__calloc(1, sizeof *ix);
    if (!ix) return DH_E_NO_MEMORY;
    ix->n_bits = n_bits;
    ix->n_words = (n_bits + 63) / 64;
    /* Writers must not starve behind a stream of searches (glibc's default prefers
     * readers: with 3 searching threads an add waited 7 s). The writer-preferring kind
     * makes new readers queue behind a waiting writer; libdh never takes a read lock
     * it already holds, which this kind would deadlock. */
    pthread_rwlockattr_t attr;
    int attr_ok = pthread_rwlockattr_init(&attr) == 0;
#if defined(__GLIBC__) && defined(__USE_GNU)
    if (attr_ok)
        (void)pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    int lock_rc = pthread_rwlock_init(&ix->lock, attr_ok ? &attr : NULL);
    if (attr_ok) (void)pthread_rwlockattr_destroy(&attr);
    if (lock_rc != 0) {
        dh__free(ix);
        return dh__set_error(DH_E_NO_MEMORY, "index: cannot initialise its lock");
    }
    *out = ix;
    return DH_OK;
}

void dh_index_options_init(dh_index_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    opts->n_bits = 64;
}

dh_status dh_index_create(const dh_index_options *opts, dh_index **out)
{
    DH_CHECK_ARG(out != NULL);
    *out = NULL;
    dh_index_options o;
    dh_index_options_init(&o);
    DH_TRY(dh__options_copy(&o, sizeof o, opts, "dh_index_options"));
    DH_TRY(check_n_bits(o.n_bits, "dh_index_create"));
    DH_CHECK_ARG_MSG(o.n_threads <= 4096, "dh_index_create: n_threads %u is more than 4096",
                     o.n_threads);
    uint32_t mcap = o.n_bits < DH__MIH_MAX_TABLES ? o.n_bits : DH__MIH_MAX_TABLES;
    DH_CHECK_ARG_MSG(o.multi_index >= -1 && (o.multi_index <= 0 || (uint32_t)o.multi_index <= mcap),
                     "dh_index_create: multi_index %d is not 0 (off), -1 (auto) or 1..%u tables",
                     o.multi_index, mcap);
    DH_CHECK_ARG_MSG(o.search_mode >= DH__SEARCH_AUTO && o.search_mode <= DH__SEARCH_MIH,
                     "dh_index_create: search_mode %d is not DH_SEARCH_AUTO, _SCAN or _MIH",
                     o.search_mode);
    dh_index *ix;
    DH_TRY(dh__index_new(o.n_bits, &ix));
    ix->n_threads = o.n_threads;
    ix->mih_want = o.multi_index;
    ix->search_mode = o.search_mode;
    if (o.reserve > 0) {
        dh_status st = o.reserve > SIZE_MAX / 2
                           ? dh__set_error(DH_E_NO_MEMORY, "dh_index_create: reserve %llu rows "
                                           "is too large", (unsigned long long)o.reserve)
                           : dh__index_reserve(ix, (size_t)o.reserve);
        if (st != DH_OK) {
            dh_index_free(ix);
            return st;
        }
    }
    *out = ix;
    return DH_OK;
}

void dh_index_free(dh_index *ix)
{
    if (!ix) return;
    if (ix->readonly) { /* rows live in the mapping (or a borrowed buffer) */
        if (ix->map) {
            munmap(ix->map, ix->map_len);
            close(ix->map_fd);
            dh__free(ix->map_path);
        }
    } else {
        dh__free_aligned(ix->codes);
        dh__free(ix->ids);
        dh__free(ix->tomb);
    }
    dh__mih_free(ix->mih);
    pthread_rwlock_destroy(&ix->lock);
    dh__free(ix);
}

dh_status dh__index_reserve(dh_index *ix, size_t rows)
{
    if (rows <= ix->cap) return DH_OK;
    size_t cap = ix->cap < 1024 ? 1024 : ix->cap;
    while (cap < rows) cap = cap > SIZE_MAX / 2 ? rows : cap * 2;
    size_t code_bytes, id_bytes;
    if (!dh__mul_ok(cap, (size_t)ix->n_words * 8, &code_bytes) ||
        !dh__mul_ok(cap, sizeof(int64_t), &id_bytes))
        return dh__set_error(DH_E_NO_MEMORY, "index: %zu rows do not fit in memory", rows);
    uint64_t *codes = dh__alloc_aligned(code_bytes, 64);
    if (!codes) return DH_E_NO_MEMORY;
    int64_t *ids = dh__realloc(ix->ids, id_bytes);
    if (!ids) {
        dh__free_aligned(codes);
        return DH_E_NO_MEMORY;
    }
    ix->ids = ids;
    if (ix->tomb) {
        size_t old_w = (ix->cap + 63) / 64, new_w = (cap + 63) / 64;
        uint64_t *t = dh__realloc(ix->tomb, new_w * 8);
        if (!t) {
            dh__free_aligned(codes);
            return DH_E_NO_MEMORY;
        }
        memset(t + old_w, 0, (new_w - old_w) * 8);
        ix->tomb = t;
    }
    if (ix->n) memcpy(codes, ix->codes, ix->n * (size_t)ix->n_words * 8);
    dh__free_aligned(ix->codes);
    ix->codes = codes;
    ix->cap = cap;
    return DH_OK;
}

static dh_status check_ids(const int64_t *ids, size_t n, const char *fn)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0)
            return dh__set_error(DH_E_INVALID_ARG, "%s: ids[%zu] = %lld is negative", fn, i,
                                 (long long)ids[i]);
    return DH_OK;
}

/* Append rows with the write lock held; ids NULL = sequential. */
static dh_status add_locked(dh_index *ix, const void *rows, int32_t format, size_t n,
                            const int64_t *ids, const char *fn)
{
    if (ix->readonly)
        return dh__set_error(DH_E_STATE, "%s: the index is read-only (memory-mapped)", fn);
    if (!ids && n > 0 &&
        (ix->next_id > (uint64_t)INT64_MAX || (uint64_t)n - 1 > (uint64_t)INT64_MAX - ix->next_id))
        return dh__set_error(DH_E_INVALID_ARG, "%s: sequential ids would pass INT64_MAX", fn);
    if (n > SIZE_MAX / 2 - ix->n)
        return dh__set_error(DH_E_NO_MEMORY, "%s: %zu rows is too many", fn, n);
    DH_TRY(dh__index_reserve(ix, ix->n + n));
    /* Convert straight into place: a failure (NaN) leaves the rows beyond n unused. */
    DH_TRY(dh__rows_to_words(rows, format, n, ix->n_bits, ix->codes + ix->n * ix->n_words, fn));
    uint64_t next = ix->next_id;
    for (size_t i = 0; i < n; i++) {
        int64_t id = ids ? ids[i] : (int64_t)(ix->next_id + i);
        ix->ids[ix->n + i] = id;
        if ((uint64_t)id >= next) next = (uint64_t)id + 1; /* ids are >= 0 here */
    }
    ix->n += n;
    ix->next_id = next;
    dh__mih_maintain_locked(ix, 0);
    return DH_OK;
}

static dh_status add_common(dh_index *ix, const void *rows, int32_t format, size_t n,
                            const int64_t *ids, int ids_required, const char *fn)
{
    DH_CHECK_ARG_MSG(ix != NULL, "%s: index is NULL", fn);
    DH_CHECK_ARG_MSG(rows != NULL || n == 0, "%s: codes is NULL", fn);
    DH_CHECK_ARG_MSG(!ids_required || ids != NULL || n == 0, "%s: ids is NULL", fn);
    if (dh__code_row_bytes(format, ix->n_bits) == 0)
        return dh__set_error(DH_E_INVALID_ARG, "%s: unknown code format %d", fn, format);
    if (ids) DH_TRY(check_ids(ids, n, fn));
    dh__index_wrlock(ix);
    dh_status st = add_locked(ix, rows, format, n, ids, fn);
    dh__index_unlock(ix);
    return st;
}

dh_status dh_index_add(dh_index *ix, const uint8_t *codes, size_t n)
{
    return add_common(ix, codes, DH_CODE_PACKED, n, NULL, 0, "dh_index_add");
}

dh_status dh_index_add_with_ids(dh_index *ix, const uint8_t *codes, size_t n, const int64_t *ids)
{
    return add_common(ix, codes, DH_CODE_PACKED, n, ids, 1, "dh_index_add_with_ids");
}

dh_status dh_index_add_rows(dh_index *ix, const void *rows, int32_t format, size_t n,
                            const int64_t *ids)
{
    return add_common(ix, rows, format, n, ids, 0, "dh_index_add_rows");
}

void dh__index_compact_locked(dh_index *ix)
{
    if (!ix->tomb || ix->n_removed == 0) return;
    size_t w = ix->n_words, j = 0;
    for (size_t i = 0; i < ix->n; i++) {
        if (dh__tomb_get(ix->tomb, i)) continue;
        if (i != j) {
            memcpy(ix->codes + j * w, ix->codes + i * w, w * 8);
            ix->ids[j] = ix->ids[i];
        }
        j++;
    }
    ix->n = j;
    ix->n_removed = 0;
    memset(ix->tomb, 0, (ix->cap + 63) / 64 * 8);
    if (ix->mih) { /* rows were renumbered: the tables are stale */
        dh__mih_free(ix->mih);
        ix->mih = NULL;
        if (ix->mih_want) dh__mih_maintain_locked(ix, 1);
    }
}

dh_status dh_index_compact(dh_index *ix)
{
    DH_CHECK_ARG_MSG(ix != NULL, "dh_index_compact: index is NULL");
    if (ix->readonly)
        return dh__set_error(DH_E_STATE,
                             "dh_index_compact: the index is read-only (memory-mapped)");
    dh__index_wrlock(ix);
    dh__index_compact_locked(ix);
    dh__index_unlock(ix);
    return DH_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int sorted_contains(const int64_t *s, size_t n, int64_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && s[lo] == v;
}

static dh_status remove_locked(dh_index *ix, const int64_t *sorted, size_t n, size_t *removed)
{
    if (!ix->tomb && ix->cap > 0) {
        ix->tomb = dh__calloc((ix->cap + 63) / 64, 8);
        if (!ix->tomb) return DH_E_NO_MEMORY;
    }
    size_t count = 0;
    for (size_t i = 0; i < ix->n && n > 0; i++) {
        if (dh__tomb_get(ix->tomb, i) || !sorted_contains(sorted, n, ix->ids[i])) continue;
        ix->tomb[i >> 6] |= UINT64_C(1) << (i & 63);
        count++;
    }
    ix->n_removed += count;
    *removed = count;
    /* Searches scan tombstoned rows too; once they are the majority, drop them. */
    if (ix->n_removed > ix->n / 2) dh__index_compact_locked(ix);
    return DH_OK;
}

dh_status dh_index_remove_ids(dh_index *ix, const int64_t *ids, size_t n, size_t *out_n_removed)
{
    const char *fn = "dh_index_remove_ids";
    if (out_n_removed) *out_n_removed = 0;
    DH_CHECK_ARG_MSG(ix != NULL, "%s: index is NULL", fn);
    DH_CHECK_ARG_MSG(ids != NULL || n == 0, "%s: ids is NULL", fn);
    if (ix->readonly)
        return dh__set_error(DH_E_STATE, "%s: the index is read-only (memory-mapped)", fn);
    if (n == 0) return DH_OK;
    size_t bytes;
    if (!dh__mul_ok(n, sizeof(int64_t), &bytes))
        return dh__set_error(DH_E_INVALID_ARG, "%s: n %zu is too large", fn, n);
    int64_t *sorted = dh__alloc(bytes);
    if (!sorted) return DH_E_NO_MEMORY;
    memcpy(sorted, ids, bytes);
    qsort(sorted, n, sizeof *sorted, cmp_i64);
    size_t removed = 0;
    dh__index_wrlock(ix);
    dh_status st = remove_locked(ix, sorted, n, &removed);
    dh__index_unlock(ix);
    dh__free(sorted);
    if (st == DH_OK && out_n_removed) *out_n_removed = removed;
    return st;
}

size_t dh_index_count(const dh_index *ix)
{
    if (!ix) return 0;
    dh__index_rdlock(ix);
    size_t n = ix->n - ix->n_removed;
    dh__index_unlock(ix);
    return n;
}

uint32_t dh_index_n_bits(const dh_index *ix) { return ix ? ix->n_bits : 0; }

size_t dh_index_n_removed(const dh_index *ix)
{
    if (!ix) return 0;
    dh__index_rdlock(ix);
    size_t n = ix->n_removed;
    dh__index_unlock(ix);
    return n;
}

int dh_index_is_readonly(const dh_index *ix) { return ix ? ix->readonly : 0; }

static dh_status export_locked(const dh_index *ix, int32_t format, size_t start, size_t n,
                               void *out_rows, int64_t *out_ids)
{
    size_t live = ix->n - ix->n_removed;
    if (start > live || n > live - start)
        return dh__set_error(DH_E_INVALID_ARG,
                             "dh_index_export: rows %zu..%zu are past the %zu live rows", start,
                             start + n, live);
    size_t rb = dh__code_row_bytes(format, ix->n_bits), seen = 0, j = 0;
    for (size_t i = 0; i < ix->n && j < n; i++) {
        if (dh__tomb_get(ix->tomb, i)) continue;
        if (seen++ < start) continue;
        if (out_rows)
            DH_TRY(dh__words_to_rows(ix->codes + i * ix->n_words, 1, ix->n_bits, format,
                                     (uint8_t *)out_rows + j * rb));
        if (out_ids) out_ids[j] = ix->ids[i];
        j++;
    }
    return DH_OK;
}

dh_status dh_index_export(const dh_index *ix, int32_t format, size_t start, size_t n,
                          void *out_rows, int64_t *out_ids)
{
    DH_CHECK_ARG_MSG(ix != NULL, "dh_index_export: index is NULL");
    DH_TRY(dh__index_map_check(ix, "dh_index_export"));
    if (out_rows && dh__code_row_bytes(format, ix->n_bits) == 0)
        return dh__set_error(DH_E_INVALID_ARG, "dh_index_export: unknown code format %d", format);
    dh__index_rdlock(ix);
    dh_status st = export_locked(ix, format, start, n, out_rows, out_ids);
    dh__index_unlock(ix);
    return st;
}
