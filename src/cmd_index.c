/* src/cmd_index.c -- `dh index build|add|remove|search|info|export`: bit-packed code
 * indexes from .npy code files (±1 rows, bool rows, packed uint8 rows) or raw packed
 * files, searched by Hamming distance with text or JSON output. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_mpi.h"

static const char *CMD = "index";

typedef struct ix_args {
    const char *sub, *out, *queries, *ids, *ids_out, *format, *isa;
    const char *files[256];
    int n_files;
    uint32_t bits, k, threads, flags, shards;
    int64_t radius; /* -1: k-NN */
    int json, mmap, compact, faiss, idmap2, raw;
    int32_t mih;         /* --mih[=M]: 0 none, -1 auto, else M tables */
    int32_t search_mode; /* --search-mode: DH_SEARCH_* */
} ix_args;

static int g_raw; /* --raw: files that are not .npy/.npz are raw packed codes */

static const char *const SUBS[] = {"build", "add", "remove", "search", "info", "export",
                                    "split", "import"};
static const char *g_sub = "build"; /* for usage() */

static void usage(FILE *fp)
{
    dh_cli_index_usage(fp, g_sub);
}

/* ---- argument parsing ---- */

static int parse_u32(const char *flag, const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    return dh_cli_u32(CMD, flag, s, lo, hi, out);
}

/* The options with their own parsing (--radius, --bitorder, --search-mode, --mih[=M]). */
static int on_option(void *user, const char *f, const char *v)
{
    ix_args *a = user;
    if (!strcmp(f, "--radius")) {
        uint32_t r;
        if (parse_u32(f, v, 0, 4096, &r)) return DH_EXIT_USAGE;
        a->radius = r;
    } else if (!strcmp(f, "--bitorder")) {
        if (strcmp(v, "big") && strcmp(v, "little"))
            return dh_cli_usage_error(CMD, "--bitorder: '%s' is not 'big' or 'little'", v);
        a->flags = !strcmp(v, "big") ? DH_CODES_MSB_FIRST : 0;
    } else if (!strcmp(f, "--search-mode")) {
        static const char *const modes[] = {"auto", "scan", "mih"};
        for (int32_t i = 0; i < 3; i++)
            if (!strcmp(v, modes[i])) {
                a->search_mode = i;
                return 0;
            }
        return dh_cli_usage_error(CMD, "--search-mode: '%s' is not auto, scan or mih", v);
    } else { /* --mih[=M] */
        uint32_t m = 0;
        if (!v || !strcmp(v, "auto")) a->mih = DH_MIH_AUTO;
        else if (parse_u32("--mih", v, 1, 256, &m)) return DH_EXIT_USAGE;
        else a->mih = (int32_t)m;
    }
    return 0;
}

static int parse_args(int argc, char **argv, ix_args *a)
{
    memset(a, 0, sizeof *a);
    a->sub = argv[0];
    a->radius = -1;
    const dh_cli_opt opts[] = {
        {"out", 'o', DH_CLI_STR, &a->out, 0, 0},
        {"queries", 0, DH_CLI_STR, &a->queries, 0, 0},
        {"ids", 0, DH_CLI_STR, &a->ids, 0, 0},
        {"ids-out", 0, DH_CLI_STR, &a->ids_out, 0, 0},
        {"format", 0, DH_CLI_STR, &a->format, 0, 0},
        {"isa", 0, DH_CLI_STR, &a->isa, 0, 0},
        {"bits", 0, DH_CLI_U32, &a->bits, 1, DH_MAX_BITS},
        {"k", 'k', DH_CLI_U32, &a->k, 1, 1u << 30},
        {"threads", 0, DH_CLI_U32, &a->threads, 0, 4096},
        {"shards", 0, DH_CLI_U32, &a->shards, 1, 65536},
        {"radius", 0, DH_CLI_CALL, NULL, 0, 0},
        {"bitorder", 0, DH_CLI_CALL, NULL, 0, 0},
        {"search-mode", 0, DH_CLI_CALL, NULL, 0, 0},
        {"mih", 0, DH_CLI_CALL_OPTARG, NULL, 0, 0},
        {"json", 0, DH_CLI_SET, &a->json, 0, 0},
        {"mmap", 0, DH_CLI_SET, &a->mmap, 0, 0},
        {"compact", 0, DH_CLI_SET, &a->compact, 0, 0},
        {"faiss", 0, DH_CLI_SET, &a->faiss, 0, 0},
        {"idmap2", 0, DH_CLI_SET, &a->idmap2, 0, 0},
        {"raw", 0, DH_CLI_SET, &a->raw, 0, 0}};
    const dh_cli_spec spec = {CMD, usage, opts, sizeof opts / sizeof opts[0], on_option};
    int first = argc, rc = dh_cli_parse(&spec, argc, argv, a, &first);
    if (rc) return rc;
    g_raw = a->raw;
    for (int i = first; i < argc; i++) {
        if (a->n_files == (int)(sizeof a->files / sizeof a->files[0]))
            return dh_cli_usage_error(CMD, "too many files");
        a->files[a->n_files++] = argv[i];
    }
    /* '-': one input from stdin (a code file, the index, --queries or --ids), -o to stdout */
    for (int i = 0; i < a->n_files; i++)
        if ((rc = dh_cli_stdin_path(CMD, "a file operand", &a->files[i]))) return rc;
    if ((rc = dh_cli_stdin_path(CMD, "--queries", &a->queries)) ||
        (rc = dh_cli_stdin_path(CMD, "--ids", &a->ids)) ||
        (rc = dh_cli_stdout_path(CMD, "-o", &a->out)) ||
        (rc = dh_cli_stdout_path(CMD, "--ids-out", &a->ids_out)))
        return rc;
    if (a->threads) dh_set_num_threads(a->threads);
    if (a->isa) {
        for (int32_t i = DH_ISA_SCALAR; i <= DH_ISA_AVX512VPOPCNT; i++)
            if (!strcmp(a->isa, dh_isa_name(i))) {
                dh_status st = dh_set_isa(i);
                return st == DH_OK ? 0 : dh_cli_fail(CMD, st);
            }
        return dh_cli_usage_error(CMD, "--isa: unknown kernel set '%s'", a->isa);
    }
    return 0;
}

/* ---- files ---- */

/* What the first bytes say: 1 for a .npy (\x93NUMPY) or a .npz (a zip; also
 * "archive.npz:member"), 0 for anything else. Never the file name's extension. */
static int has_npy_ext(const char *p)
{
    char file[4096];
    snprintf(file, sizeof file, "%s", p);
    FILE *fp = fopen(file, "rb");
    if (!fp) { /* "archive.npz:member" */
        char *colon = strrchr(file, ':');
        if (colon && colon != file) *colon = '\0', fp = fopen(file, "rb");
    }
    unsigned char m[6] = {0};
    size_t got = fp ? fread(m, 1, 6, fp) : 0;
    if (fp) fclose(fp);
    if (got == 6 && m[0] == 0x93 && !memcmp(m + 1, "NUMPY", 5)) return 1;
    return got >= 4 && m[0] == 'P' && m[1] == 'K' && m[2] == 3 && m[3] == 4;
}

/* A raw file of packed codes, K bits each, LSB-first afterwards. */
static int read_raw(const char *path, uint32_t bits, uint32_t flags, uint8_t **out, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "dh %s: cannot open '%s': %s\n", CMD, path, strerror(errno));
        return DH_EXIT_IO;
    }
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    size_t cb = dh_code_bytes(bits);
    if (len < 0 || (size_t)len % cb) {
        fclose(fp);
        fprintf(stderr, "dh %s: '%s' is %ld bytes, not a whole number of %zu-byte (%u-bit) "
                "codes\n", CMD, path, len, cb, bits);
        return DH_EXIT_FAIL;
    }
    *n = (size_t)len / cb;
    *out = malloc((size_t)len + 1);
    if (!*out || fread(*out, 1, (size_t)len, fp) != (size_t)len) {
        fclose(fp);
        free(*out);
        fprintf(stderr, "dh %s: cannot read '%s'\n", CMD, path);
        return DH_EXIT_IO;
    }
    fclose(fp);
    if (flags & DH_CODES_MSB_FIRST) dh_codes_reverse_bit_order(*out, *n, bits, *out);
    return 0;
}

/* Packed LSB-first rows of any code file; *bits in: expected K (0 = any), out: K. */
static int read_codes(const char *path, uint32_t flags, uint32_t *bits, uint8_t **out,
                      size_t *n)
{
    if (!has_npy_ext(path)) {
        if (!g_raw)
            return dh_cli_usage_error(CMD, "'%s' is neither a .npy nor a .npz file (by its first "
                                      "bytes); for a raw file of packed codes give --raw and "
                                      "--bits", path);
        if (!*bits)
            return dh_cli_usage_error(CMD, "'%s' is a raw code file: give --bits", path);
        return read_raw(path, *bits, flags, out, n);
    }
    dh_index *tmp = NULL;
    dh_status st = dh_index_import_npy_bits(path, flags, *bits, &tmp); /* packed: K = --bits */
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    uint32_t k = dh_index_n_bits(tmp);
    if (*bits && k != *bits) {
        dh_index_free(tmp);
        fprintf(stderr, "dh %s: '%s' holds %u-bit codes, expected %u\n", CMD, path, k, *bits);
        return DH_EXIT_FAIL;
    }
    *bits = k;
    *n = dh_index_count(tmp);
    *out = malloc(*n * dh_code_bytes(k) + 1);
    st = *out ? dh_index_export(tmp, DH_CODE_PACKED, 0, *n, *out, NULL) : DH_E_NO_MEMORY;
    dh_index_free(tmp);
    if (st != DH_OK) {
        free(*out);
        return dh_cli_fail(CMD, st);
    }
    return 0;
}

/* Ids from a .npy (int64 or int32, 1-D) or a comma-separated list. */
static int read_ids(const char *spec, int64_t **out, size_t *n)
{
    if (!has_npy_ext(spec)) {
        size_t cap = 1;
        for (const char *p = spec; *p; p++) cap += *p == ',';
        *out = malloc(cap * sizeof **out);
        *n = 0;
        const char *p = spec;
        while (*out && *p) {
            char *end;
            errno = 0;
            long long v = strtoll(p, &end, 10);
            if (end == p || errno || (*end && *end != ',')) {
                free(*out);
                return dh_cli_usage_error(CMD, "--ids: bad id list '%s'", spec);
            }
            (*out)[(*n)++] = v;
            p = *end ? end + 1 : end;
        }
        return *out ? 0 : DH_EXIT_FAIL;
    }
    dh_array *arr = NULL;
    dh_status st = dh_npy_load(spec, &arr);
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    int32_t dt = dh_array_dtype(arr);
    if (dh_array_ndim(arr) != 1 || (dt != DH_DTYPE_INT64 && dt != DH_DTYPE_INT32)) {
        dh_array_free(arr);
        fprintf(stderr, "dh %s: ids file '%s' must be a 1-D int64 or int32 array\n", CMD, spec);
        return DH_EXIT_FAIL;
    }
    *n = dh_array_count(arr);
    *out = malloc(*n * sizeof **out + 1);
    for (size_t i = 0; *out && i < *n; i++)
        (*out)[i] = dt == DH_DTYPE_INT64 ? ((const int64_t *)dh_array_data(arr))[i]
                                         : ((const int32_t *)dh_array_data(arr))[i];
    dh_array_free(arr);
    return *out ? 0 : DH_EXIT_FAIL;
}

/* Append every code file, taking ids from `ids` (consumed in order) when given. */
static int add_files(dh_index *ix, const ix_args *a, int first, const int64_t *ids,
                     size_t n_ids)
{
    size_t used = 0;
    dh_cli_progress p;
    dh_cli_progress_start(&p, CMD, "files", (size_t)(a->n_files - first));
    for (int f = first; f < a->n_files; f++) {
        uint32_t bits = dh_index_n_bits(ix);
        uint8_t *codes = NULL;
        size_t n = 0;
        int rc = read_codes(a->files[f], a->flags, &bits, &codes, &n);
        if (rc) return rc;
        if (ids && used + n > n_ids) {
            free(codes);
            fprintf(stderr, "dh %s: --ids has %zu ids, fewer than the codes\n", CMD, n_ids);
            return DH_EXIT_FAIL;
        }
        dh_status st = ids ? dh_index_add_with_ids(ix, codes, n, ids + used)
                           : dh_index_add(ix, codes, n);
        free(codes);
        if (st != DH_OK) return dh_cli_fail(CMD, st);
        used += ids ? n : 0;
        dh_cli_progress_update(&p, (size_t)(f - first + 1));
    }
    if (p.shown) fprintf(stderr, "\r\033[K"); /* the outcome is printed by the caller */
    if (ids && used != n_ids) {
        fprintf(stderr, "dh %s: --ids has %zu ids for %zu codes\n", CMD, n_ids, used);
        return DH_EXIT_FAIL;
    }
    return 0;
}

/* ---- subcommands ---- */

static int save_or_fail(const dh_index *ix, const char *path)
{
    dh_status st = dh_index_save(ix, path);
    return st == DH_OK ? 0 : dh_cli_fail(CMD, st);
}

static int cmd_build_add(const ix_args *a, int build)
{
    if (build && !a->out) return dh_cli_usage_error(CMD, "build needs -o OUT.dhi");
    if (a->n_files < (build ? 1 : 2))
        return dh_cli_usage_error(CMD, build ? "build needs at least one code file"
                                             : "add needs INDEX.dhi and a code file");
    dh_index *ix = NULL;
    dh_status st;
    if (build) {
        uint32_t bits = a->bits;
        if (!bits && has_npy_ext(a->files[0])) { /* K from the first .npy */
            dh_index *tmp = NULL;
            st = dh_index_import_npy(a->files[0], a->flags, &tmp);
            if (st != DH_OK) return dh_cli_fail(CMD, st);
            bits = dh_index_n_bits(tmp);
            dh_index_free(tmp);
        }
        if (!bits) return dh_cli_usage_error(CMD, "'%s' is a raw code file: give --bits",
                                             a->files[0]);
        dh_index_options o;
        dh_index_options_init(&o);
        o.n_bits = bits;
        st = dh_index_create(&o, &ix);
    } else st = dh_index_load(a->files[0], &ix);
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    int64_t *ids = NULL;
    size_t n_ids = 0;
    int rc = a->ids ? read_ids(a->ids, &ids, &n_ids) : 0;
    if (!rc) rc = add_files(ix, a, build ? 0 : 1, ids, n_ids);
    if (!rc && a->mih) {
        st = dh_index_build_mih(ix, a->mih);
        if (st != DH_OK) rc = dh_cli_fail(CMD, st);
    }
    const char *dst = build ? a->out : (a->out ? a->out : a->files[0]);
    if (!rc) rc = save_or_fail(ix, dst);
    if (!rc)
        fprintf(dh_cli_report(), "%s: %zu codes of %u bits\n", dh_cli_stdout_taken() ? "stdout" : dst,
                dh_index_count(ix), dh_index_n_bits(ix));
    free(ids);
    dh_index_free(ix);
    return rc;
}

static int cmd_remove(const ix_args *a)
{
    if (a->n_files != 1 || !a->ids)
        return dh_cli_usage_error(CMD, "remove needs INDEX.dhi and --ids");
    int64_t *ids = NULL;
    size_t n_ids = 0, removed = 0;
    int rc = read_ids(a->ids, &ids, &n_ids);
    if (rc) return rc;
    dh_index *ix = NULL;
    dh_status st = dh_index_load(a->files[0], &ix);
    if (st == DH_OK) st = dh_index_remove_ids(ix, ids, n_ids, &removed);
    if (st == DH_OK && a->compact) st = dh_index_compact(ix);
    rc = st == DH_OK ? save_or_fail(ix, a->out ? a->out : a->files[0]) : dh_cli_fail(CMD, st);
    if (!rc) fprintf(dh_cli_report(), "removed %zu rows; %zu remain\n", removed, dh_index_count(ix));
    free(ids);
    dh_index_free(ix);
    return rc;
}

static void print_row(const ix_args *a, size_t q, const int64_t *ids, const int32_t *d, size_t n,
                      int last)
{
    if (!a->json) {
        for (size_t j = 0; j < n && ids[j] >= 0; j++)
            printf("%zu %zu %lld %d\n", q, j, (long long)ids[j], d[j]);
        return;
    }
    printf("  {\"query\": %zu, \"ids\": [", q);
    for (size_t j = 0; j < n && ids[j] >= 0; j++)
        printf("%s%lld", j ? ", " : "", (long long)ids[j]);
    printf("], \"distances\": [");
    for (size_t j = 0; j < n && ids[j] >= 0; j++) printf("%s%d", j ? ", " : "", d[j]);
    printf("]}%s\n", last ? "" : ",");
}

/* This rank's shard under mpirun (`shard` non-NULL): one collective call for all queries. */
static dh_status search_shard(const ix_args *a, void *shard, const uint8_t *q, size_t nq)
{
    dh_status st;
    if (a->radius >= 0) {
        dh_range_result *res = NULL;
        st = dh_cli_mpi_range(shard, q, nq, (uint32_t)a->radius, &res);
        const size_t *lims = dh_range_result_lims(res);
        for (size_t i = 0; st == DH_OK && i < nq; i++)
            print_row(a, i, dh_range_result_ids(res) + lims[i],
                      dh_range_result_distances(res) + lims[i], lims[i + 1] - lims[i], i + 1 == nq);
        dh_range_result_free(res);
        return st;
    }
    int32_t *D = malloc(nq * a->k * sizeof *D + 4);
    int64_t *I = malloc(nq * a->k * sizeof *I + 8);
    st = !D || !I ? DH_E_NO_MEMORY : dh_cli_mpi_search(shard, q, nq, a->k, D, I);
    for (size_t i = 0; st == DH_OK && i < nq; i++)
        print_row(a, i, I + i * a->k, D + i * a->k, a->k, i + 1 == nq);
    free(D);
    free(I);
    return st;
}

/* One index: the queries in chunks, printed as they come, with the progress line. */
static dh_status search_chunks(const ix_args *a, const dh_index *ix, const uint8_t *q, size_t nq,
                               dh_cli_progress *p)
{
    const size_t chunk = 4096, cb = dh_code_bytes(dh_index_n_bits(ix));
    const size_t kc = a->radius >= 0 ? 1 : (size_t)a->k * (nq < chunk ? nq : chunk);
    int32_t *D = malloc(kc * sizeof *D + 4);
    int64_t *I = malloc(kc * sizeof *I + 8);
    dh_status st = !D || !I ? DH_E_NO_MEMORY : DH_OK;
    for (size_t at = 0; st == DH_OK && at < nq; at += chunk) {
        size_t c = nq - at < chunk ? nq - at : chunk;
        if (a->radius >= 0) {
            dh_range_result *res = NULL;
            st = dh_index_range_search(ix, q + at * cb, c, (uint32_t)a->radius, &res);
            const size_t *lims = dh_range_result_lims(res);
            for (size_t i = 0; st == DH_OK && i < c; i++)
                print_row(a, at + i, dh_range_result_ids(res) + lims[i],
                          dh_range_result_distances(res) + lims[i], lims[i + 1] - lims[i],
                          at + i + 1 == nq);
            dh_range_result_free(res);
        } else {
            st = dh_index_search(ix, q + at * cb, c, a->k, D, I);
            for (size_t i = 0; st == DH_OK && i < c; i++)
                print_row(a, at + i, I + i * a->k, D + i * a->k, a->k, at + i + 1 == nq);
        }
        dh_cli_progress_update(p, at + c);
    }
    free(D);
    free(I);
    return st;
}

static dh_status run_search(const ix_args *a, const dh_index *ix, void *shard, uint32_t bits,
                            const uint8_t *q, size_t nq)
{
    if (a->json)
        printf("{\"n_bits\": %u, \"%s\": %lld, \"results\": [\n", bits,
               a->radius >= 0 ? "radius" : "k",
               a->radius >= 0 ? (long long)a->radius : (long long)a->k);
    else printf("# query rank id distance\n");
    dh_cli_progress p;
    dh_cli_progress_start(&p, CMD, "queries", nq);
    dh_status st = shard ? search_shard(a, shard, q, nq) : search_chunks(a, ix, q, nq, &p);
    if (a->json && st == DH_OK) printf("]}\n");
    double dt = dh_cli_progress_elapsed(&p);
    if (st == DH_OK && dh_cli_mpi_rank() == 0)
        dh_cli_progress_done(&p, "%zu queries in %.2f s (%.0f queries/s)", nq, dt,
                             dt > 0 ? (double)nq / dt : 0.0);
    return st;
}

static int cmd_search(ix_args *a)
{
    if (a->n_files != 1 || !a->queries)
        return dh_cli_usage_error(CMD, "search needs INDEX.dhi and --queries");
    if (!a->k) a->k = 10;
    dh_index *ix = NULL;
    void *shard = NULL; /* under mpirun: this rank's shard (src/cli_mpi.c) */
    uint32_t bits = 0;
    const int dist = dh_cli_mpi_active();
    dh_status st = dist     ? dh_cli_mpi_open(a->files[0], &shard, &bits)
                   : a->mmap ? dh_index_load_mmap(a->files[0], &ix)
                             : dh_index_load(a->files[0], &ix);
    if (st != DH_OK) return dist ? dh_cli_mpi_fail(CMD, st) : dh_cli_fail(CMD, st);
    if (ix && a->search_mode && (st = dh_index_set_search_mode(ix, a->search_mode)) != DH_OK) {
        dh_index_free(ix);
        return dh_cli_fail(CMD, st);
    }
    if (!dist) bits = dh_index_n_bits(ix);
    uint8_t *q = NULL;
    size_t nq = 0;
    int rc = dh_cli_mpi_agree(read_codes(a->queries, a->flags, &bits, &q, &nq));
    if (!rc) {
        st = run_search(a, ix, shard, bits, q, nq);
        if (st != DH_OK) rc = dist ? dh_cli_mpi_fail(CMD, st) : dh_cli_fail(CMD, st);
    }
    free(q);
    dh_index_free(ix);
    dh_cli_mpi_close(shard);
    return rc;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static int cmd_info(const ix_args *a)
{
    if (a->n_files != 1) return dh_cli_usage_error(CMD, "info needs INDEX.dhi");
    dh_index *ix = NULL;
    dh_status st = dh_index_load_mmap(a->files[0], &ix);
    if (st != DH_OK) return dh_cli_fail(CMD, st);
    uint32_t b = dh_index_n_bits(ix), mih_m = 0;
    size_t mih_rows = 0, mih_bytes = 0;
    dh_index_mih_info(ix, &mih_m, &mih_rows, &mih_bytes);
    if (a->json) {
        printf("{\"path\": ");
        json_str(a->files[0]);
        printf(", \"n_bits\": %u, \"code_bytes\": %u, \"count\": %zu, \"removed\": %zu, "
               "\"mih_tables\": %u, \"mih_rows\": %zu, \"mih_bytes\": %zu}\n", b,
               (unsigned)dh_code_bytes(b), dh_index_count(ix), dh_index_n_removed(ix), mih_m,
               mih_rows, mih_bytes);
    } else {
        printf("%s: libdh index, %u-bit codes (%u bytes), %zu live rows, %zu removed rows "
               "awaiting compaction\n", a->files[0], b, (unsigned)dh_code_bytes(b),
               dh_index_count(ix), dh_index_n_removed(ix));
        if (mih_m)
            printf("multi-index hashing: %u tables over %zu rows, %zu bytes\n", mih_m,
                   mih_rows, mih_bytes);
    }
    dh_index_free(ix);
    return 0;
}

static int cmd_import(const ix_args *a)
{
    if (!a->faiss || a->n_files != 1 || !a->out)
        return dh_cli_usage_error(CMD, "import needs --faiss FAISS.bin and -o OUT.dhi");
    dh_index *ix = NULL;
    dh_status st = dh_index_import_faiss(a->files[0], &ix);
    if (st == DH_OK) st = dh_index_save(ix, a->out);
    if (st == DH_OK)
        fprintf(stderr, "dh index import: %zu codes of %u bits from %s\n", dh_index_count(ix),
                dh_index_n_bits(ix), a->files[0]);
    dh_index_free(ix);
    return st == DH_OK ? 0 : dh_cli_fail(CMD, st);
}

static int cmd_export(const ix_args *a)
{
    if (a->faiss || a->idmap2) {
        if (a->n_files != 1 || !a->out)
            return dh_cli_usage_error(CMD, "export --faiss needs INDEX.dhi and -o OUT.bin");
        dh_index *ix = NULL;
        dh_status st = dh_index_load(a->files[0], &ix);
        if (st == DH_OK) st = dh_index_export_faiss(ix, a->out, a->idmap2 ? DH_FAISS_IDMAP2 : 0);
        dh_index_free(ix);
        return st == DH_OK ? 0 : dh_cli_fail(CMD, st);
    }
    static const char *const names[] = {"packed", "packbits", "float32", "float64", "int8"};
    if (a->n_files != 1 || !a->out)
        return dh_cli_usage_error(CMD, "export needs INDEX.dhi and -o OUT.npy");
    int32_t fmt = -1;
    for (int32_t i = 0; i < 5; i++)
        if (!strcmp(a->format ? a->format : "float32", names[i])) fmt = i;
    if (fmt < 0) return dh_cli_usage_error(CMD, "--format: unknown format '%s'", a->format);
    dh_index *ix = NULL;
    dh_status st = dh_index_load_mmap(a->files[0], &ix);
    if (st == DH_OK) st = dh_index_export_npy(ix, a->out, fmt, a->ids_out);
    dh_index_free(ix);
    return st == DH_OK ? 0 : dh_cli_fail(CMD, st);
}

int dh_cmd_index(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        dh_cli_index_usage(argc < 2 ? stderr : stdout, NULL);
        return argc < 2 ? DH_EXIT_USAGE : DH_EXIT_OK;
    }
    const char *sub = argv[1];
    int known = 0;
    for (size_t i = 0; i < sizeof SUBS / sizeof SUBS[0]; i++) known |= !strcmp(sub, SUBS[i]);
    if (!known) {
        fprintf(stderr, "dh index: unknown subcommand '%s'\n", sub);
        dh_cli_index_usage(stderr, NULL);
        return DH_EXIT_USAGE;
    }
    g_sub = sub;
    ix_args a;
    int rc = parse_args(argc - 1, argv + 1, &a);
    if (rc) return rc == DH_CLI_HELP ? DH_EXIT_OK : rc;
    if (!strcmp(sub, "build")) return cmd_build_add(&a, 1);
    if (!strcmp(sub, "add")) return cmd_build_add(&a, 0);
    if (!strcmp(sub, "remove")) return cmd_remove(&a);
    if (!strcmp(sub, "search")) return cmd_search(&a);
    if (!strcmp(sub, "info")) return cmd_info(&a);
    if (!strcmp(sub, "import")) return cmd_import(&a);
    if (!strcmp(sub, "split")) return dh_cli_index_split(CMD, a.files[0], a.n_files, a.shards,
                                                         a.out);
    return cmd_export(&a);
}
