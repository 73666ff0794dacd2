/* src/cmd_index_split.c -- `dh index split INDEX --shards N -o 'OUT-%d.dhi'`: N shard
 * files of consecutive live rows with their ids, the DH_DIST_CONTIGUOUS layout that
 * `mpirun -np N dh index search 'OUT-%d.dhi'` opens (docs/scale.md). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* One "%d" and no other conversion. */
static int one_rank_field(const char *p)
{
    const char *d = strstr(p, "%d");
    return d && !strchr(d + 2, '%') && !memchr(p, '%', (size_t)(d - p));
}

static dh_status write_shard(const dh_index *ix, size_t start, size_t n, const char *path)
{
    uint32_t bits = dh_index_n_bits(ix);
    size_t cb = dh_code_bytes(bits);
    uint8_t *codes = malloc(n * cb + 1);
    int64_t *ids = malloc(n * sizeof *ids + 8);
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = bits;
    o.reserve = n;
    dh_index *out = NULL;
    dh_status st = codes && ids ? DH_OK : DH_E_NO_MEMORY;
    if (st == DH_OK) st = dh_index_export(ix, DH_CODE_PACKED, start, n, codes, ids);
    if (st == DH_OK) st = dh_index_create(&o, &out);
    if (st == DH_OK) st = dh_index_add_with_ids(out, codes, n, ids);
    if (st == DH_OK) st = dh_index_save(out, path);
    dh_index_free(out);
    free(codes);
    free(ids);
    return st;
}

int dh_cli_index_split(const char *cmd, const char *path, int n_files, uint32_t shards,
                       const char *pattern)
{
    if (n_files != 1 || !shards || !pattern)
        return dh_cli_usage_error(cmd, "split needs INDEX.dhi, --shards N and -o 'OUT-%%d.dhi'");
    if (!one_rank_field(pattern))
        return dh_cli_usage_error(cmd, "-o: '%s' must hold one %%d (the shard number) and no "
                                  "other %% conversion", pattern);
    dh_index *ix = NULL;
    dh_status st = dh_index_load_mmap(path, &ix);
    if (st != DH_OK) return dh_cli_fail(cmd, st);
    const size_t n = dh_index_count(ix);
    char name[4096];
    for (uint32_t r = 0; st == DH_OK && r < shards; r++) {
        size_t a = n * r / shards, b = n * (r + 1) / shards; /* rows of shard r */
        snprintf(name, sizeof name, pattern, (int)r);
        st = write_shard(ix, a, b - a, name);
    }
    dh_index_free(ix);
    if (st != DH_OK) return dh_cli_fail(cmd, st);
    printf("%s: %zu rows into %u shards '%s'\n", path, n, shards, pattern);
    return 0;
}
