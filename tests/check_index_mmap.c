/* tests/check_index_mmap.c -- issue 19: a memory-mapped index (dh_index_load_mmap) whose
 * file is truncated, grown or rewritten in place after it was mapped is refused by the
 * next search, range search, export or save with DH_E_IO naming the file, instead of
 * dying with SIGBUS (Check runs each test in a child: a SIGBUS fails the test). A file
 * whose header claims more rows than it holds is refused at load. dh_index_save's
 * rename-replace does not disturb a mapped index. */
#include "testutil.h"

#include "io/io.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { K = 256, CB = K / 8, ROWS = 2000 };

static char path[600];

/* ROWS random rows saved to a fresh file (about 80 KB: codes span many pages). */
static void make_file(const char *name, uint64_t seed)
{
    snprintf(path, sizeof path, "%s/%s", dh_test_tmpdir(), name);
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = K;
    dh_index *ix;
    ck_assert_dh_ok(dh_index_create(&o, &ix));
    uint8_t *codes = malloc((size_t)ROWS * CB);
    dh_test_fill(codes, (size_t)ROWS * CB, seed);
    ck_assert_dh_ok(dh_index_add(ix, codes, ROWS));
    ck_assert_dh_ok(dh_index_save(ix, path));
    dh_index_free(ix);
    free(codes);
}

static off_t file_size(void)
{
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    return sb.st_size;
}

/* Every reading entry point refuses with DH_E_IO and a message naming `why`. */
static void expect_refused(dh_index *mm, const char *why)
{
    uint8_t q[CB] = {0};
    int32_t d[4];
    int64_t id[4];
    ck_assert_dh_fail(dh_index_search(mm, q, 1, 4, d, id), DH_E_IO);
    ck_assert_msg(strstr(dh_last_error(), why) && strstr(dh_last_error(), path),
                  "message '%s' lacks '%s' or the path", dh_last_error(), why);
    ck_assert_msg(strstr(dh_last_error(), "dh_index_search"), "%s", dh_last_error());
    dh_range_result *r = NULL;
    ck_assert_dh_fail(dh_index_range_search(mm, q, 1, 10, &r), DH_E_IO);
    ck_assert_ptr_null(r);
    uint8_t row[CB];
    ck_assert_dh_fail(dh_index_export(mm, DH_CODE_PACKED, ROWS - 1, 1, row, id), DH_E_IO);
    char other[700];
    snprintf(other, sizeof other, "%s.copy", path);
    ck_assert_dh_fail(dh_index_save(mm, other), DH_E_IO);
    ck_assert_int_ne(access(other, F_OK), 0);
    snprintf(other, sizeof other, "%s.npy", path);
    ck_assert_dh_fail(dh_index_export_npy(mm, other, DH_CODE_PACKED, NULL), DH_E_IO);
    ck_assert_uint_eq(dh_index_count(mm), ROWS); /* header fields stay readable */
}

START_TEST(test_mmap_truncated_after_mapping)
{
    make_file("trunc.dhi", 1);
    dh_index *mm;
    ck_assert_dh_ok(dh_index_load_mmap(path, &mm));
    uint8_t q[CB] = {0};
    int32_t d[4];
    int64_t id[4];
    ck_assert_dh_ok(dh_index_search(mm, q, 1, 4, d, id));
    ck_assert_int_eq(truncate(path, 4096), 0); /* the codes' pages are gone */
    expect_refused(mm, "was truncated");
    dh_index_free(mm); /* unmapping lost pages is fine */
    /* the truncated file itself is refused at load, mapped or copied */
    ck_assert_dh_fail(dh_index_load_mmap(path, &mm), DH_E_FORMAT);
    ck_assert_ptr_null(mm);
    ck_assert_msg(strstr(dh_last_error(), "truncated or corrupt"), "%s", dh_last_error());
    ck_assert_dh_fail(dh_index_load(path, &mm), DH_E_FORMAT);
}
END_TEST

START_TEST(test_mmap_grown_or_rewritten)
{
    make_file("grow.dhi", 2);
    dh_index *mm;
    ck_assert_dh_ok(dh_index_load_mmap(path, &mm));
    int fd = open(path, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "12345678", 8), 8);
    close(fd);
    expect_refused(mm, "grew");
    dh_index_free(mm);

    make_file("rewrite.dhi", 3);
    ck_assert_dh_ok(dh_index_load_mmap(path, &mm));
    off_t size = file_size();
    fd = open(path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    uint8_t junk = 0xFF;
    ck_assert_int_eq(pwrite(fd, &junk, 1, size / 2), 1); /* same size, other bytes */
    struct stat sb;
    ck_assert_int_eq(fstat(fd, &sb), 0);
    struct timespec ts[2] = {sb.st_atim, sb.st_mtim};
    ts[1].tv_sec += 2; /* a coarse-clock filesystem could keep the old stamp */
    ck_assert_int_eq(futimens(fd, ts), 0);
    close(fd);
    ck_assert_int_eq(file_size(), size);
    expect_refused(mm, "rewritten in place");
    dh_index_free(mm);
}
END_TEST

START_TEST(test_mmap_replaced_by_save_keeps_working)
{
    make_file("replace.dhi", 4);
    dh_index *mm, *copy;
    ck_assert_dh_ok(dh_index_load_mmap(path, &mm));
    ck_assert_dh_ok(dh_index_load(path, &copy));
    uint8_t q[CB];
    dh_test_fill(q, sizeof q, 99);
    int32_t d1[8], d2[8];
    int64_t i1[8], i2[8];
    ck_assert_dh_ok(dh_index_search(copy, q, 1, 8, d1, i1));
    /* a save renames a new file over the path: the mapping keeps the old inode */
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = K;
    dh_index *other;
    ck_assert_dh_ok(dh_index_create(&o, &other));
    ck_assert_dh_ok(dh_index_add(other, q, 1));
    ck_assert_dh_ok(dh_index_save(other, path));
    dh_index_free(other);
    ck_assert_dh_ok(dh_index_search(mm, q, 1, 8, d2, i2));
    ck_assert_mem_eq(d1, d2, sizeof d1);
    ck_assert_mem_eq(i1, i2, sizeof i1);
    /* saving the mapped index over its own (replaced) path also works */
    ck_assert_dh_ok(dh_index_save(mm, path));
    dh_index_free(mm);
    dh_index_free(copy);
    ck_assert_dh_ok(dh_index_load_mmap(path, &mm));
    ck_assert_uint_eq(dh_index_count(mm), ROWS);
    dh_index_free(mm);
}
END_TEST

/* A header (valid CRC) that claims more rows than the file holds, and a file cut short:
 * refused at load before any row is read. */
START_TEST(test_mmap_header_claims_more_rows)
{
    make_file("claims.dhi", 5);
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    uint8_t h[64];
    ck_assert_uint_eq(fread(h, 1, 64, f), 64);
    dh__put_le64(h + 24, (uint64_t)ROWS * 1000);
    dh__put_le32(h + 60, dh__crc32c(0, h, 60));
    ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
    ck_assert_uint_eq(fwrite(h, 1, 64, f), 64);
    fclose(f);
    dh_index *ix;
    ck_assert_dh_fail(dh_index_load_mmap(path, &ix), DH_E_FORMAT);
    ck_assert_ptr_null(ix);
    ck_assert_msg(strstr(dh_last_error(), "row count 2000000 at offset 24") &&
                      strstr(dh_last_error(), "truncated or corrupt"),
                  "%s", dh_last_error());
    ck_assert_dh_fail(dh_index_load(path, &ix), DH_E_FORMAT);

    make_file("short.dhi", 6);
    ck_assert_int_eq(truncate(path, file_size() - 4096), 0);
    ck_assert_dh_fail(dh_index_load_mmap(path, &ix), DH_E_FORMAT);
    ck_assert_msg(strstr(dh_last_error(), "truncated or corrupt"), "%s", dh_last_error());
}
END_TEST

Suite *index_mmap_suite(void)
{
    Suite *s = suite_create("index_mmap");
    TCase *t = tcase_create("mmap");
    tcase_add_test(t, test_mmap_truncated_after_mapping);
    tcase_add_test(t, test_mmap_grown_or_rewritten);
    tcase_add_test(t, test_mmap_replaced_by_save_keeps_working);
    tcase_add_test(t, test_mmap_header_claims_more_rows);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(index_mmap_suite()); }
