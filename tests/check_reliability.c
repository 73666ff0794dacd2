/* tests/check_reliability.c -- issue 19: bounded resources for tiny hostile inputs
 * (gzip IDX bombs, image lists with huge class ids), FIFOs and other non-regular
 * inputs refused without hanging, and npy integer-parse corners. Allocation is
 * measured with the allocator's test counters (lib/core/alloc.c). */
#include "testutil.h"

#include "core/alloc_budget.h"
#include "data/data.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SLOW 8.0
#else
#define SLOW 1.0
#endif
#define MAX_BYTES ((size_t)64 << 20)
#define MAX_SECONDS (1.0 * SLOW)

static const char *tmp(const char *name)
{
    static char p[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dh_test_tmpdir(), name);
    return p[k];
}

static void write_bytes(const char *path, const void *buf, size_t n)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(buf, 1, n, fp), n);
    fclose(fp);
}

/* gzip `head` then `zeros` zero bytes into path; returns the compressed size */
static size_t write_gzip(const char *path, const uint8_t *head, size_t nhead, size_t zeros)
{
    gzFile g = gzopen(path, "wb9");
    ck_assert_ptr_nonnull(g);
    if (nhead) ck_assert_int_eq(gzwrite(g, head, (unsigned)nhead), (int)nhead);
    static uint8_t z[1 << 20];
    for (size_t left = zeros; left;) {
        size_t k = left < sizeof z ? left : sizeof z;
        ck_assert_int_eq(gzwrite(g, z, (unsigned)k), (int)k);
        left -= k;
    }
    gzclose(g);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    return (size_t)sb.st_size;
}

typedef struct meter {
    double t0;
} meter;
static meter meter_start(void)
{
    dh__alloc_test_arm(0);
    dh_clear_error();
    return (meter){dh__now_seconds()};
}
static void meter_check(meter m, const char *what)
{
    size_t bytes = dh__alloc_test_bytes();
    double secs = dh__now_seconds() - m.t0;
    dh__alloc_test_arm(-1);
    ck_assert_msg(bytes <= MAX_BYTES, "%s: allocated %zu bytes", what, bytes);
    ck_assert_msg(secs <= MAX_SECONDS, "%s: took %.2f s", what, secs);
}

/* ---- gzip IDX ---- */

static void idx_labels(const char *path, uint32_t n)
{
    uint8_t *b = calloc(8 + n, 1);
    b[2] = 8, b[3] = 1;
    b[4] = (uint8_t)(n >> 24), b[5] = (uint8_t)(n >> 16), b[6] = (uint8_t)(n >> 8), b[7] = (uint8_t)n;
    write_bytes(path, b, 8 + n);
    free(b);
}

START_TEST(gzip_zeros_refused_before_inflating)
{
    /* 256 MB of zeros: a ~250 KB gzip file with no IDX magic */
    size_t gz = write_gzip(tmp("zeros.gz"), NULL, 0, (size_t)64 << 20);
    ck_assert_uint_le(gz, 1 << 20);
    idx_labels(tmp("lab"), 4);
    dh_dataset *ds = NULL;
    meter m = meter_start();
    dh_status st = dh_dataset_load_idx(tmp("zeros.gz"), tmp("lab"), &ds);
    meter_check(m, "gzip of zeros");
    ck_assert_int_eq(st, DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "magic"));
    ck_assert_ptr_null(ds);
}
END_TEST

START_TEST(gzip_idx_bounded_by_header_and_ratio)
{
    /* a valid header for 1,000,000 28x28 images (784 MB), then 256 MB of zeros */
    uint8_t h[16] = {0, 0, 8, 3, 0, 0x0f, 0x42, 0x40, 0, 0, 0, 28, 0, 0, 0, 28};
    write_gzip(tmp("bomb.gz"), h, sizeof h, (size_t)64 << 20);
    idx_labels(tmp("lab"), 4);
    dh_dataset *ds = NULL;
    meter m = meter_start();
    dh_status st = dh_dataset_load_idx(tmp("bomb.gz"), tmp("lab"), &ds);
    meter_check(m, "header-valid gzip bomb");
    ck_assert_int_eq(st, DH_E_FORMAT);
    /* a header for 4 images of 28x28 followed by far more data: trailing bytes */
    uint8_t h4[16] = {0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 28, 0, 0, 0, 28};
    write_gzip(tmp("trail.gz"), h4, sizeof h4, (size_t)64 << 20);
    m = meter_start();
    st = dh_dataset_load_idx(tmp("trail.gz"), tmp("lab"), &ds);
    meter_check(m, "trailing gzip data");
    ck_assert_int_eq(st, DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "trailing"));
    /* the same header with exactly its data loads */
    write_gzip(tmp("ok.gz"), h4, sizeof h4, 4 * 28 * 28);
    ck_assert_dh_ok(dh_dataset_load_idx(tmp("ok.gz"), tmp("lab"), &ds));
    ck_assert_uint_eq(dh_dataset_count(ds), 4);
    dh_dataset_free(ds);
}
END_TEST

/* ---- image lists ---- */

static dh_status load_list(const char *text, uint32_t n_classes, dh_dataset **ds)
{
    write_bytes(tmp("list.txt"), text, strlen(text));
    dh_imagelist_options o;
    dh_imagelist_options_init(&o);
    o.check_files = 0;
    o.n_classes = n_classes;
    o.height = o.width = 8;
    return dh_dataset_load_imagelist(tmp("list.txt"), &o, ds);
}

START_TEST(imagelist_huge_class_id)
{
    dh_dataset *ds = NULL;
    meter m = meter_start();
    dh_status st = load_list("a.png 1073741824\nb.png 0\n", 0, &ds);
    meter_check(m, "class id 2^30");
    ck_assert_int_eq(st, DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "n_classes"));
    /* many lines with a class id of 2^20: also more labels than the list justifies */
    size_t n = 20000;
    char *big = malloc(n * 12 + 1), *q = big;
    for (size_t i = 0; i < n; i++) q += sprintf(q, "a %u\n", i ? 1u : 1u << 20);
    m = meter_start();
    st = load_list(big, 0, &ds);
    meter_check(m, "20k lines, class id 2^20");
    ck_assert_int_eq(st, DH_E_FORMAT);
    free(big);
    /* an explicit class count is the caller's choice */
    ck_assert_dh_ok(load_list("a.png 1000\nb.png 0\n", 1001, &ds));
    ck_assert_uint_eq(dh_dataset_n_classes(ds), 1001);
    dh_dataset_free(ds);
    ck_assert_dh_ok(load_list("a.png 999\nb.png 0\n", 0, &ds));
    ck_assert_uint_eq(dh_dataset_n_classes(ds), 1000);
    dh_dataset_free(ds);
}
END_TEST

START_TEST(imagelist_paths_confined_on_request)
{
    write_bytes(tmp("c.txt"), "ok/a.png 0\n..b/c..png 1\n", 24);
    dh_imagelist_options o;
    dh_imagelist_options_init(&o);
    o.check_files = 0;
    o.height = o.width = 8;
    o.path_policy = DH_PATHS_CONFINED;
    dh_dataset *ds = NULL;
    ck_assert_dh_ok(dh_dataset_load_imagelist(tmp("c.txt"), &o, &ds));
    dh_dataset_free(ds);
    const char *bad[] = {"/etc/passwd 0\n", "../x.png 0\n", "a/../../x.png 0\n", "a/.. 0\n"};
    for (size_t i = 0; i < 4; i++) {
        write_bytes(tmp("c.txt"), bad[i], strlen(bad[i]));
        o.path_policy = DH_PATHS_CONFINED;
        ck_assert_dh_fail(dh_dataset_load_imagelist(tmp("c.txt"), &o, &ds), DH_E_FORMAT);
        ck_assert_ptr_nonnull(strstr(dh_last_error(), "root"));
        o.path_policy = DH_PATHS_ANY; /* the default accepts them */
        ck_assert_dh_ok(dh_dataset_load_imagelist(tmp("c.txt"), &o, &ds));
        dh_dataset_free(ds);
    }
}
END_TEST

START_TEST(imagelist_bare_paths_unlabelled)
{
    dh_dataset *ds = NULL;
    ck_assert_dh_ok(load_list("a.png\nb.png\n# comment\nc.png\n", 0, &ds));
    ck_assert_uint_eq(dh_dataset_count(ds), 3);
    ck_assert_uint_eq(dh_dataset_n_classes(ds), 0);
    dh_dataset_free(ds);
    dh__listfile lf;
    const char *t = "a.png\nb.png\n";
    ck_assert_dh_ok(dh__imagelist_parse(t, strlen(t), "t", DH_LABELS_AUTO, 0, &lf));
    ck_assert_ptr_null(lf.class_ids);
    dh__listfile_free(&lf);
}
END_TEST


/* ---- files: FIFOs, atomic saves ---- */

#include "io/io.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

static const char *make_fifo(const char *name)
{
    const char *p = tmp(name);
    unlink(p);
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    return p;
}

START_TEST(fifo_inputs_refused_without_hanging)
{
    alarm(20); /* a hang fails the test instead of blocking the suite */
    const char *f = make_fifo("fifo");
    dh_index *ix = NULL;
    ck_assert_dh_fail(dh_index_load(f, &ix), DH_E_IO);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "FIFO"));
    ck_assert_dh_fail(dh_index_load_mmap(f, &ix), DH_E_IO);
    dh_array *a = NULL;
    ck_assert_dh_fail(dh_npy_load(f, &a), DH_E_IO);
    dh_dataset *ds = NULL;
    ck_assert_dh_fail(dh_dataset_load_idx(f, f, &ds), DH_E_IO);
    ck_assert_dh_fail(dh_dataset_load_npy(f, NULL, &ds), DH_E_IO);
    dh_imagelist_options o;
    dh_imagelist_options_init(&o);
    ck_assert_dh_fail(dh_dataset_load_imagelist(f, &o, &ds), DH_E_IO);
    /* a list naming a FIFO as its image, files unchecked: decoding refuses it */
    char line[700];
    snprintf(line, sizeof line, "%s 0\n", f);
    write_bytes(tmp("fifo_list.txt"), line, strlen(line));
    o.check_files = 0;
    o.height = o.width = 8;
    ck_assert_dh_ok(dh_dataset_load_imagelist(tmp("fifo_list.txt"), &o, &ds));
    uint8_t px[8 * 8 * 3];
    ck_assert_dh_fail(dh_dataset_get_image(ds, 0, px), DH_E_IO);
    dh_dataset_free(ds);
    /* the CIFAR loader reads data_batch_1.bin: make that a FIFO */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/cifar_fifo", dh_test_tmpdir());
    mkdir(dir, 0700);
    char b1[700];
    snprintf(b1, sizeof b1, "%s/data_batch_1.bin", dir);
    unlink(b1);
    ck_assert_int_eq(mkfifo(b1, 0600), 0);
    dh_status st = dh_dataset_load_cifar(dir, DH_CIFAR10, DH_SPLIT_TRAIN, &ds);
    ck_assert_msg(st == DH_E_IO || st == DH_E_NOT_FOUND, "cifar: %d %s", st, dh_last_error());
    /* a directory is refused as well */
    ck_assert_dh_fail(dh_index_load(dh_test_tmpdir(), &ix), DH_E_IO);
    alarm(0);
}
END_TEST

static dh_index *small_index(void)
{
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = 64;
    dh_index *ix;
    ck_assert_dh_ok(dh_index_create(&o, &ix));
    uint8_t codes[8 * 4];
    dh_test_fill(codes, sizeof codes, 7);
    ck_assert_dh_ok(dh_index_add(ix, codes, 4));
    return ix;
}

static int count_temps(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, base, strlen(base)) && strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

START_TEST(save_ignores_planted_symlink_and_keeps_mode)
{
    dh_index *ix = small_index();
    char dir[600];
    snprintf(dir, sizeof dir, "%s/atomic", dh_test_tmpdir());
    mkdir(dir, 0700);
    char path[700], victim[700], link[800];
    snprintf(path, sizeof path, "%s/codes.dhix", dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    write_bytes(victim, "precious", 8);
    /* symlinks at the names the old scheme used (pid, counters 0..63) */
    for (int k = 0; k < 64; k++) {
        snprintf(link, sizeof link, "%s.tmp.%ld.%d", path, (long)getpid(), k);
        ck_assert_int_eq(symlink(victim, link), 0);
    }
    ck_assert_dh_ok(dh_index_save(ix, path));
    struct stat sb;
    ck_assert_int_eq(lstat(path, &sb), 0);
    ck_assert(S_ISREG(sb.st_mode));
    char buf[16] = {0};
    FILE *fp = fopen(victim, "rb");
    ck_assert_uint_eq(fread(buf, 1, sizeof buf, fp), 8);
    fclose(fp);
    ck_assert_str_eq(buf, "precious");
    for (int k = 0; k < 64; k++) {
        snprintf(link, sizeof link, "%s.tmp.%ld.%d", path, (long)getpid(), k);
        unlink(link);
    }
    /* re-saving over a 0600 file keeps 0600; a new file gets 0644 & ~umask */
    ck_assert_int_eq(chmod(path, 0600), 0);
    ck_assert_dh_ok(dh_index_save(ix, path));
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0600);
    mode_t um = umask(022);
    umask(um);
    char fresh[700];
    snprintf(fresh, sizeof fresh, "%s/fresh.dhix", dir);
    ck_assert_dh_ok(dh_index_save(ix, fresh));
    ck_assert_int_eq(stat(fresh, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0644 & ~um);
    ck_assert_int_eq(count_temps(dir, "codes.dhix"), 0);
    dh_index_free(ix);
}
END_TEST

START_TEST(stale_temps_of_dead_processes_cleaned)
{
    char dir[600], path[700], stale[800], live[800];
    snprintf(dir, sizeof dir, "%s/stale", dh_test_tmpdir());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/codes.dhix", dir);
    /* a child that exits: its pid is dead (and not reused this quickly) */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    snprintf(stale, sizeof stale, "%s.tmp.%ld.1f", path, (long)child);
    write_bytes(stale, "half a save", 11);
    snprintf(live, sizeof live, "%s.tmp.%ld.2a", path, (long)getppid()); /* alive */
    write_bytes(live, "in progress", 11);
    dh_index *ix = small_index();
    ck_assert_dh_ok(dh_index_save(ix, path));
    struct stat sb;
    ck_assert_int_ne(stat(stale, &sb), 0);
    ck_assert_int_eq(stat(live, &sb), 0);
    unlink(live);
    dh_index_free(ix);
}
END_TEST

/* ---- parsing corners ---- */

/* a v1 .npy image with header dict `dict` (padded to 128 bytes) and `data` bytes */
static size_t npy_image(uint8_t *out, const char *dict, size_t dict_len, size_t data)
{
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    size_t hl = 128 - 10;
    ck_assert_uint_lt(dict_len, hl);
    out[8] = (uint8_t)hl, out[9] = 0;
    memset(out + 10, ' ', hl);
    memcpy(out + 10, dict, dict_len);
    out[10 + hl - 1] = '\n';
    memset(out + 128, 0, data);
    return 128 + data;
}

START_TEST(npy_shape_overflow_and_nul_dtype)
{
    uint8_t buf[256];
    dh_array *a = NULL;
    /* 2^64 + 4 wrapped to 4 and loaded 4 float32 */
    const char *wrap = "{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551620,), }";
    size_t n = npy_image(buf, wrap, strlen(wrap), 16);
    ck_assert_dh_fail(dh_npy_load_buffer(buf, n, &a), DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "too large"));
    /* 2^62 + 1 is refused as well; 4 still loads */
    const char *big = "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387905,), }";
    n = npy_image(buf, big, strlen(big), 16);
    ck_assert_dh_fail(dh_npy_load_buffer(buf, n, &a), DH_E_FORMAT);
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }";
    n = npy_image(buf, ok, strlen(ok), 16);
    ck_assert_dh_ok(dh_npy_load_buffer(buf, n, &a));
    dh_array_free(a);
    /* a dtype string with an embedded NUL: '<f4\0xx' used to read as '<f4' */
    const char nul[] = "{'descr': '<f4\0xx', 'fortran_order': False, 'shape': (4,), }";
    n = npy_image(buf, nul, sizeof nul - 1, 16);
    a = NULL;
    dh_status st = dh_npy_load_buffer(buf, n, &a);
    ck_assert_msg(st == DH_E_FORMAT, "NUL in dtype: %d %s", st, dh_last_error());
    ck_assert_ptr_null(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reliability");
    TCase *tc = tcase_create("limits");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, gzip_zeros_refused_before_inflating);
    tcase_add_test(tc, gzip_idx_bounded_by_header_and_ratio);
    tcase_add_test(tc, imagelist_huge_class_id);
    tcase_add_test(tc, imagelist_bare_paths_unlabelled);
    tcase_add_test(tc, imagelist_paths_confined_on_request);
    suite_add_tcase(s, tc);
    TCase *tf = tcase_create("files");
    tcase_set_timeout(tf, 60);
    tcase_add_test(tf, fifo_inputs_refused_without_hanging);
    tcase_add_test(tf, save_ignores_planted_symlink_and_keeps_mode);
    tcase_add_test(tf, stale_temps_of_dead_processes_cleaned);
    suite_add_tcase(s, tf);
    TCase *tp = tcase_create("parsing");
    tcase_add_test(tp, npy_shape_overflow_and_nul_dtype);
    suite_add_tcase(s, tp);
    return dh_test_run(s);
}
