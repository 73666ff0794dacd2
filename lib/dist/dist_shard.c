/* lib/dist/dist_shard.c -- shards: wrap or open this process's part of the database,
 * agree on K, and compute the global row offsets (MPI_Exscan) and total. */
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One "%d" and no other conversion ("%%" allowed): a file per shard. -1: malformed. */
static int count_rank_fields(const char *path)
{
    int n = 0;
    for (const char *p = path; *p; p++) {
        if (*p != '%') continue;
        if (p[1] == '%') { p++; continue; }
        if (p[1] != 'd') return -1;
        n++;
        p++;
    }
    return n;
}

/* Live rows r, r+P, ... of `all` into a new index whose ids are the global rows; the
 * real ids go to s->ids. Chunks of the file are exported one at a time. */
static dh_status take_strided(struct dh_dist_shard *s, const dh_index *all)
{
    const uint64_t n = dh_index_count(all), P = (uint64_t)s->size, r = (uint64_t)s->rank;
    const uint64_t mine = n > r ? (n - r + P - 1) / P : 0;
    const size_t cb = dh_code_bytes(dh_index_n_bits(all));
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = dh_index_n_bits(all);
    o.reserve = mine;
    dh_status st = dh_index_create(&o, &s->owned);
    if (st != DH_OK) return st;
    s->ids = malloc((mine ? mine : 1) * sizeof *s->ids);
    const size_t chunk = (size_t)1 << 20; /* rows of the file per export */
    uint8_t *codes = malloc(chunk * cb), *pick = malloc((chunk / P + 1) * cb);
    int64_t *ids = malloc(chunk * sizeof *ids), *rows = malloc((chunk / P + 1) * sizeof *rows);
    if (!s->ids || !codes || !pick || !ids || !rows) st = DH_E_NO_MEMORY;
    uint64_t got = 0;
    for (uint64_t start = 0; st == DH_OK && start < n; start += chunk) {
        size_t m = n - start < chunk ? (size_t)(n - start) : chunk, np = 0;
        st = dh_index_export(all, DH_CODE_PACKED, (size_t)start, m, codes, ids);
        for (size_t i = (size_t)((P - start % P + r) % P); st == DH_OK && i < m; i += P) {
            memcpy(pick + np * cb, codes + i * cb, cb);
            rows[np] = (int64_t)(start + i);
            s->ids[got + np] = ids[i];
            np++;
        }
        if (st == DH_OK) st = dh_index_add_with_ids(s->owned, pick, np, rows);
        got += np;
    }
    free(codes), free(pick), free(ids), free(rows);
    if (st == DH_E_NO_MEMORY) dh__dist_error(st, "strided shard: out of memory for %llu rows",
                                             (unsigned long long)mine);
    return st;
}

/* Collective tail of create/open: agree on the local status, then on K, then the
 * offsets. Frees s on failure. */
static dh_status finish(struct dh_dist_shard *s, dh_status st, dh_dist_shard **out)
{
    if (st == DH_OK && s->ix) {
        s->n_bits = dh_index_n_bits(s->ix);
        s->count = dh_index_count(s->ix);
    }
    st = dh__dist_agree(s->comm, st);
    unsigned long long mm[2] = {s->ix ? s->n_bits : UINT32_MAX, s->ix ? s->n_bits : 0}, g[2];
    mm[1] = ~mm[1]; /* one MIN reduction for min and max */
    if (st == DH_OK && MPI_Allreduce(mm, g, 2, MPI_UNSIGNED_LONG_LONG, MPI_MIN, s->comm))
        st = dh__dist_error(DH_E_BACKEND, "dh_dist_shard: MPI_Allreduce of K failed");
    if (st == DH_OK) {
        g[1] = ~g[1];
        if (g[0] == UINT32_MAX) /* every shard empty and without K */
            st = dh__dist_error(DH_E_INVALID_ARG, "dh_dist_shard: no process has an index");
        else if (g[0] != g[1])
            st = dh__dist_error(DH_E_SHAPE, "dh_dist_shard: the shards' K differ (%llu and "
                                "%llu bits)", g[0], g[1]);
        s->n_bits = (uint32_t)g[0];
    }
    unsigned long long c = s->count, off = 0, tot = 0;
    if (st == DH_OK && (MPI_Exscan(&c, &off, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, s->comm) ||
                        MPI_Allreduce(&c, &tot, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, s->comm)))
        st = dh__dist_error(DH_E_BACKEND, "dh_dist_shard: MPI_Exscan of the row counts failed");
    s->offset = s->rank == 0 ? 0 : off;
    s->total = tot;
    if (st == DH_OK && tot >= (1ull << DH__DIST_ROW_BITS))
        st = dh__dist_error(DH_E_INVALID_ARG, "dh_dist_shard: %llu rows is more than 2^%d",
                            tot, DH__DIST_ROW_BITS);
    if (st != DH_OK) {
        dh_dist_shard_free(s);
        return st;
    }
    *out = s;
    return DH_OK;
}

static dh_status shard_new(MPI_Comm comm, dh_dist_shard **out, struct dh_dist_shard **s)
{
    if (out) *out = NULL;
    *s = calloc(1, sizeof **s);
    if (!*s) return DH_E_NO_MEMORY; /* cannot agree without a communicator */
    dh_status st = dh__dist_dup(comm, &(*s)->comm);
    if (st != DH_OK) {
        free(*s);
        *s = NULL;
        return st;
    }
    MPI_Comm_rank((*s)->comm, &(*s)->rank);
    MPI_Comm_size((*s)->comm, &(*s)->size);
    return DH_OK;
}

dh_status dh_dist_shard_create(MPI_Comm comm, const dh_index *index, dh_dist_shard **out)
{
    struct dh_dist_shard *s;
    dh_status st = shard_new(comm, out, &s);
    if (st != DH_OK) return st;
    st = out ? DH_OK : dh__dist_error(DH_E_INVALID_ARG, "dh_dist_shard_create: out is NULL");
    s->layout = DH_DIST_CONTIGUOUS;
    s->ix = index;
    return finish(s, st, out);
}

dh_status dh_dist_shard_open(MPI_Comm comm, const char *path, dh_dist_shard **out)
{
    struct dh_dist_shard *s;
    dh_status st = shard_new(comm, out, &s);
    if (st != DH_OK) return st;
    int fields = path ? count_rank_fields(path) : -1;
    if (!out || !path || fields < 0 || fields > 1)
        st = dh__dist_error(DH_E_INVALID_ARG, "dh_dist_shard_open: %s", !out ? "out is NULL"
                            : !path ? "path is NULL"
                            : "path may hold one %d (the rank) and no other % conversion");
    char name[4096];
    if (st == DH_OK && fields == 1) {
        s->layout = DH_DIST_CONTIGUOUS;
        if (snprintf(name, sizeof name, path, s->rank) >= (int)sizeof name)
            st = dh__dist_error(DH_E_INVALID_ARG, "dh_dist_shard_open: path is too long");
        if (st == DH_OK) st = dh_index_load_mmap(name, &s->owned);
    } else if (st == DH_OK) {
        s->layout = DH_DIST_STRIDED;
        dh_index *all = NULL;
        st = dh_index_load_mmap(path, &all);
        if (st == DH_OK) st = take_strided(s, all);
        dh_index_free(all);
    }
    s->ix = st == DH_OK ? s->owned : NULL;
    return finish(s, st, out);
}

void dh_dist_shard_free(dh_dist_shard *s)
{
    if (!s) return;
    if (s->comm != MPI_COMM_NULL) MPI_Comm_free(&s->comm);
    dh_index_free(s->owned);
    free(s->ids);
    free(s);
}

const dh_index *dh_dist_shard_index(const dh_dist_shard *s) { return s ? s->ix : NULL; }
int32_t dh_dist_shard_layout(const dh_dist_shard *s) { return s ? s->layout : -1; }
uint64_t dh_dist_shard_total(const dh_dist_shard *s) { return s ? s->total : 0; }
uint64_t dh_dist_shard_count(const dh_dist_shard *s) { return s ? s->count : 0; }
uint32_t dh_dist_shard_n_bits(const dh_dist_shard *s) { return s ? s->n_bits : 0; }
