/* tests/check_index_io.c -- index files: save/load/mmap round trips, every kind of
 * corrupt or truncated file, failed saves that must keep the old file, and .npy code
 * import/export (DeepHash-pytorch style ±1 rows, packbits uint8, bool). */
#include <sys/stat.h>
#include <unistd.h>

#include "check_index_ref.h"
#include "data/npy.h"
#include "io/io.h"

static char *tmp_path(const char *name)
{
    static char buf[8][1024];
    static int slot;
    char *p = buf[slot++ % 8];
    snprintf(p, 1024, "%s/%s", dh_test_tmpdir(), name);
    return p;
}

/* An index with custom ids and some removed rows. */
static dh_index *sample_index(uint32_t K, size_t n, uint8_t **codes_out)
{
    uint8_t *codes = rand_codes(n, K, K * 31 + n);
    int64_t *ids = malloc(n * sizeof *ids + 8);
    for (size_t i = 0; i < n; i++) ids[i] = (int64_t)(i * 2 + 5);
    dh_index *ix = make_index(K);
    ck_assert_dh_ok(dh_index_add_with_ids(ix, codes, n, ids));
    int64_t rm[2] = {7, 11};
    ck_assert_dh_ok(dh_index_remove_ids(ix, rm, n > 4 ? 2 : 0, NULL));
    free(ids);
    if (codes_out) *codes_out = codes;
    else free(codes);
    return ix;
}

static void assert_same_results(const dh_index *a, const dh_index *b, uint32_t K)
{
    uint8_t *q = rand_codes(5, K, 1234);
    int32_t D1[5 * 30], D2[5 * 30];
    int64_t I1[5 * 30], I2[5 * 30];
    ck_assert_dh_ok(dh_index_search(a, q, 5, 30, D1, I1));
    ck_assert_dh_ok(dh_index_search(b, q, 5, 30, D2, I2));
    ck_assert_mem_eq(D1, D2, sizeof D1);
    ck_assert_mem_eq(I1, I2, sizeof I1);
    ck_assert_uint_eq(dh_index_count(a), dh_index_count(b));
    ck_assert_uint_eq(dh_index_n_removed(a), dh_index_n_removed(b));
    ck_assert_uint_eq(dh_index_n_bits(a), dh_index_n_bits(b));
    free(q);
}

START_TEST(test_index_save_load_roundtrip)
{
    const uint32_t bits[] = {8, 64, 72, 256, 4096};
    const size_t ns[] = {0, 1, 65, 1000};
    for (size_t b = 0; b < 5; b++)
        for (size_t c = 0; c < 4; c++) {
            dh_index *ix = sample_index(bits[b], ns[c], NULL), *ld = NULL, *mm = NULL;
            const char *p = tmp_path("rt.dhi");
            ck_assert_dh_ok(dh_index_save(ix, p));
            ck_assert_dh_ok(dh_index_load(p, &ld));
            ck_assert_dh_ok(dh_index_load_mmap(p, &mm));
            ck_assert_int_eq(dh_index_is_readonly(mm), 1);
            ck_assert_int_eq(dh_index_is_readonly(ld), 0);
            assert_same_results(ix, ld, bits[b]);
            assert_same_results(ix, mm, bits[b]);
            /* sequential ids continue after the largest stored id in every copy */
            uint8_t row[512] = {0};
            int64_t id1, id2;
            ck_assert_dh_ok(dh_index_add(ix, row, 1));
            ck_assert_dh_ok(dh_index_add(ld, row, 1));
            size_t last = dh_index_count(ix) - 1;
            ck_assert_uint_eq(dh_index_count(ld) - 1, last);
            ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, last, 1, NULL, &id1));
            ck_assert_dh_ok(dh_index_export(ld, DH_CODE_PACKED, last, 1, NULL, &id2));
            ck_assert_int_eq(id1, id2);
            dh_index_free(ix), dh_index_free(ld), dh_index_free(mm);
        }
}
END_TEST

START_TEST(test_index_mmap_is_readonly)
{
    dh_index *ix = sample_index(64, 100, NULL), *mm = NULL, *again = NULL;
    const char *p = tmp_path("ro.dhi"), *p2 = tmp_path("ro2.dhi");
    ck_assert_dh_ok(dh_index_save(ix, p));
    ck_assert_dh_ok(dh_index_load_mmap(p, &mm));
    uint8_t row[8] = {0};
    int64_t id = 9;
    ck_assert_dh_fail(dh_index_add(mm, row, 1), DH_E_STATE);
    ck_assert_dh_fail(dh_index_add_with_ids(mm, row, 1, &id), DH_E_STATE);
    ck_assert_dh_fail(dh_index_remove_ids(mm, &id, 1, NULL), DH_E_STATE);
    ck_assert_dh_fail(dh_index_compact(mm), DH_E_STATE);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "read-only"));
    /* saving a mapped index, even over its own file, is safe (atomic rename) */
    ck_assert_dh_ok(dh_index_save(mm, p2));
    ck_assert_dh_ok(dh_index_save(mm, p));
    assert_same_results(ix, mm, 64);
    ck_assert_dh_ok(dh_index_load(p, &again));
    assert_same_results(ix, again, 64);
    dh_index_free(ix), dh_index_free(mm), dh_index_free(again);
}
END_TEST

/* Rewrite the header CRC (bytes 60..63) and the data CRC (trailer) after an edit, so
 * that a test reaches the field checks behind them. */
static void fix_crcs(uint8_t *b, size_t len)
{
    dh__put_le32(b + 60, dh__crc32c(0, b, 60));
    dh__put_le32(b + len - 8, dh__crc32c(0, b, len - 8));
}

static uint8_t *saved_bytes(dh_index *ix, size_t *len)
{
    const char *p = tmp_path("bytes.dhi");
    ck_assert_dh_ok(dh_index_save(ix, p));
    uint8_t *b;
    ck_assert_dh_ok(dh__read_file(p, &b, len));
    return b;
}

static void expect_load_fail(const uint8_t *b, size_t len, dh_status st, const char *needle)
{
    dh_index *ix = (dh_index *)1;
    ck_assert_dh_fail(dh__index_load_buffer(b, len, 0, "buf", &ix), st);
    ck_assert_ptr_null(ix);
    ck_assert_msg(strstr(dh_last_error(), needle) != NULL, "message '%s' lacks '%s'",
                  dh_last_error(), needle);
    /* the file path loaders report the same */
    const char *p = tmp_path("bad.dhi");
    FILE *fp = fopen(p, "wb");
    fwrite(b, 1, len, fp);
    fclose(fp);
    ck_assert_dh_fail(dh_index_load(p, &ix), st);
    ck_assert_dh_fail(dh_index_load_mmap(p, &ix), st);
}

START_TEST(test_index_load_rejects_corrupt_files)
{
    dh_index *ix = sample_index(72, 100, NULL);
    size_t len;
    uint8_t *good = saved_bytes(ix, &len), *b = malloc(len);
    /* every truncation is a format error */
    for (size_t cut = 0; cut < len; cut += (cut < 80 ? 1 : 97)) {
        dh_index *o = (dh_index *)1;
        ck_assert_dh_fail(dh__index_load_buffer(good, cut, 0, "buf", &o), DH_E_FORMAT);
    }
    memcpy(b, good, len), b[1] = 'X';
    expect_load_fail(b, len, DH_E_FORMAT, "magic");
    /* version 2 (multi-index section, check_index_mih.c) is known; 3 is newer */
    memcpy(b, good, len), dh__put_le32(b + 8, 3), fix_crcs(b, len);
    expect_load_fail(b, len, DH_E_VERSION, "version 3");
    memcpy(b, good, len), dh__put_le32(b + 8, 0), fix_crcs(b, len);
    expect_load_fail(b, len, DH_E_FORMAT, "version 0");
    memcpy(b, good, len), b[20] ^= 1;
    expect_load_fail(b, len, DH_E_FORMAT, "header checksum");
    memcpy(b, good, len), b[200] ^= 0x10;
    expect_load_fail(b, len, DH_E_FORMAT, "data checksum");
    memcpy(b, good, len), dh__put_le32(b + 16, 12), fix_crcs(b, len);
    expect_load_fail(b, len, DH_E_FORMAT, "offset 16");
    memcpy(b, good, len), dh__put_le32(b + 20, 1), fix_crcs(b, len);
    expect_load_fail(b, len, DH_E_FORMAT, "offset 20");
    memcpy(b, good, len), dh__put_le64(b + 24, 101), fix_crcs(b, len);
    expect_load_fail(b, len, DH_E_FORMAT, "offset 24");
    memcpy(b, good, len), dh__put_le64(b + 24, UINT64_MAX / 4), fix_crcs(b, len);
    expect_load_fail(b, len, DH_E_FORMAT, "offset 24");
    memcpy(b, good, len), dh__put_le64(b + 32, 3), fix_crcs(b, len);
    expect_load_fail(b, len, DH_E_FORMAT, "tombstone");
    memcpy(b, good, len), dh__put_le64(b + 32, 500), fix_crcs(b, len);
    expect_load_fail(b, len, DH_E_FORMAT, "offset 32");
    memcpy(b, good, len), dh__put_le64(b + 40, 3), fix_crcs(b, len);
    expect_load_fail(b, len, DH_E_FORMAT, "offset 40");
    memcpy(b, good, len), b[48] = 1, fix_crcs(b, len);
    expect_load_fail(b, len, DH_E_VERSION, "flags");
    memcpy(b, good, len), dh__put_le32(b + 12, 128), fix_crcs(b, len);
    expect_load_fail(b, len, DH_E_FORMAT, "offset 12");
    memcpy(b, good, len), dh__put_le64(b + 64 + 8 * 3, (uint64_t)-4), fix_crcs(b, len);
    expect_load_fail(b, len, DH_E_FORMAT, "negative id");
    /* ids end at 64 + 800 = 864, codes start at 896: padding in between */
    memcpy(b, good, len), b[870] = 1, fix_crcs(b, len);
    expect_load_fail(b, len, DH_E_FORMAT, "padding");
    /* K = 72: the second word of each row may only use its low 8 bits */
    memcpy(b, good, len), b[896 + 8 + 3] |= 1, fix_crcs(b, len);
    expect_load_fail(b, len, DH_E_FORMAT, "beyond K");
    size_t tomb = 896 + 100 * 16;
    memcpy(b, good, len), b[tomb + 15] |= 0x80, fix_crcs(b, len); /* row 127 of 100 */
    expect_load_fail(b, len, DH_E_FORMAT, "past the last row");
    memcpy(b, good, len), b[len - 1] = 'X';
    expect_load_fail(b, len, DH_E_FORMAT, "end mark");
    /* the untouched bytes still load */
    dh_index *ok = NULL;
    ck_assert_dh_ok(dh__index_load_buffer(good, len, 0, "buf", &ok));
    dh_index_free(ok);
    /* a borrowed buffer must be aligned */
    uint8_t *shifted = malloc(len + 1);
    memcpy(shifted + 1, good, len);
    ck_assert_dh_fail(dh__index_load_buffer(shifted + 1, len, 1, "buf", &ok), DH_E_UNSUPPORTED);
    free(shifted), free(good), free(b);
    dh_index_free(ix);
}
END_TEST

START_TEST(test_index_load_missing_and_bad_paths)
{
    dh_index *ix = (dh_index *)1;
    ck_assert_dh_fail(dh_index_load(tmp_path("no-such.dhi"), &ix), DH_E_NOT_FOUND);
    ck_assert_ptr_null(ix);
    ck_assert_dh_fail(dh_index_load_mmap(tmp_path("no-such.dhi"), &ix), DH_E_NOT_FOUND);
    ck_assert_dh_fail(dh_index_load(dh_test_tmpdir(), &ix), DH_E_IO);
    ck_assert_dh_fail(dh_index_load_mmap(dh_test_tmpdir(), &ix), DH_E_IO);
    ck_assert_dh_fail(dh_index_load(NULL, &ix), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_load("x", NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_load_mmap(NULL, &ix), DH_E_INVALID_ARG);
    const char *empty = tmp_path("empty.dhi");
    fclose(fopen(empty, "wb"));
    ck_assert_dh_fail(dh_index_load(empty, &ix), DH_E_FORMAT);
    ck_assert_dh_fail(dh_index_load_mmap(empty, &ix), DH_E_FORMAT);
}
END_TEST

START_TEST(test_index_failed_save_keeps_old_file)
{
    dh_index *ix = sample_index(64, 50, NULL), *big = sample_index(64, 500, NULL), *ld = NULL;
    const char *p = tmp_path("keep.dhi");
    ck_assert_dh_ok(dh_index_save(ix, p));
    /* a directory in the way of the rename, and a directory that does not exist */
    const char *dir = tmp_path("adir");
    mkdir(dir, 0755);
    ck_assert_dh_fail(dh_index_save(big, dir), DH_E_IO);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "adir"));
    ck_assert_dh_fail(dh_index_save(big, tmp_path("missing/dir/x.dhi")), DH_E_IO);
    ck_assert_dh_fail(dh_index_save(big, ""), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_save(NULL, p), DH_E_INVALID_ARG);
    /* an unwritable directory: the temporary cannot be created, the old file stays */
    if (geteuid() != 0) {
        const char *ro = tmp_path("rodir");
        mkdir(ro, 0755);
        char f[1100];
        snprintf(f, sizeof f, "%s/x.dhi", ro);
        ck_assert_dh_ok(dh_index_save(ix, f));
        chmod(ro, 0555);
        ck_assert_dh_fail(dh_index_save(big, f), DH_E_IO);
        chmod(ro, 0755);
        ck_assert_dh_ok(dh_index_load(f, &ld));
        assert_same_results(ix, ld, 64);
        dh_index_free(ld);
    }
    ck_assert_dh_ok(dh_index_load(p, &ld));
    assert_same_results(ix, ld, 64);
    /* no temporaries left behind next to the file */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp > /dev/null", dh_test_tmpdir());
    ck_assert_int_ne(system(cmd), 0);
    dh_index_free(ix), dh_index_free(big), dh_index_free(ld);
}
END_TEST

/* ---- .npy code files ---- */

START_TEST(test_index_npy_import_every_dtype)
{
    const uint32_t K = 48;
    const size_t n = 30;
    float *f = malloc(n * K * sizeof *f);
    double *d = malloc(n * K * sizeof *d);
    int8_t *s = malloc(n * K);
    uint8_t *bools = malloc(n * K), *packed = malloc(n * K / 8), *msb = malloc(n * K / 8);
    uint64_t st = 3;
    for (size_t i = 0; i < n * K; i++) {
        int pos = (int)(dh_test_rand(&st) & 1);
        f[i] = pos ? 0.7f : -0.2f;
        d[i] = pos ? 1.0 : -1.0;
        s[i] = (int8_t)(pos ? 1 : -1);
        bools[i] = (uint8_t)pos;
    }
    ck_assert_dh_ok(dh_codes_pack_float(f, n, K, 0, packed));
    ck_assert_dh_ok(dh_codes_pack_float(f, n, K, DH_CODES_MSB_FIRST, msb));
    int64_t shape[2] = {(int64_t)n, K}, pshape[2] = {(int64_t)n, K / 8};
    ck_assert_dh_ok(dh__npy_write(tmp_path("f.npy"), DH_DTYPE_FLOAT32, 2, shape, f));
    ck_assert_dh_ok(dh__npy_write(tmp_path("d.npy"), DH_DTYPE_FLOAT64, 2, shape, d));
    ck_assert_dh_ok(dh__npy_write(tmp_path("s.npy"), DH_DTYPE_INT8, 2, shape, s));
    ck_assert_dh_ok(dh__npy_write(tmp_path("p.npy"), DH_DTYPE_UINT8, 2, pshape, packed));
    ck_assert_dh_ok(dh__npy_write(tmp_path("m.npy"), DH_DTYPE_UINT8, 2, pshape, msb));
    /* a bool file: the writer has no bool dtype, so patch the descr '|u1' -> '|b1' */
    ck_assert_dh_ok(dh__npy_write(tmp_path("b.npy"), DH_DTYPE_UINT8, 2, shape, bools));
    FILE *fp = fopen(tmp_path("b.npy"), "r+b");
    char hdr[128];
    ck_assert_uint_eq(fread(hdr, 1, sizeof hdr, fp), sizeof hdr);
    char *u1 = strstr(hdr + 10, "|u1");
    ck_assert_ptr_nonnull(u1);
    fseek(fp, (long)(u1 - hdr + 1), SEEK_SET);
    fputc('b', fp);
    fclose(fp);
    const char *files[6] = {"f.npy", "d.npy", "s.npy", "p.npy", "m.npy", "b.npy"};
    const uint32_t flags[6] = {0, 0, 0, 0, DH_CODES_MSB_FIRST, 0};
    uint8_t *back = malloc(n * K / 8);
    for (int i = 0; i < 6; i++) {
        dh_index *ix = NULL;
        ck_assert_dh_ok(dh_index_import_npy(tmp_path(files[i]), flags[i], &ix));
        ck_assert_uint_eq(dh_index_n_bits(ix), K);
        ck_assert_uint_eq(dh_index_count(ix), n);
        ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 0, n, back, NULL));
        ck_assert_msg(memcmp(back, packed, n * K / 8) == 0, "%s decoded differently", files[i]);
        size_t added = 0;
        ck_assert_dh_ok(dh_index_add_npy(ix, tmp_path(files[i]), flags[i], &added));
        ck_assert_uint_eq(added, n);
        ck_assert_uint_eq(dh_index_count(ix), 2 * n);
        dh_index_free(ix);
    }
    free(f), free(d), free(s), free(bools), free(packed), free(msb), free(back);
}
END_TEST

START_TEST(test_index_npy_import_rejects_bad_files)
{
    dh_index *ix = (dh_index *)1;
    int64_t s3[3] = {2, 2, 8}, s12[2] = {1, 4097}, s8[2] = {2, 8};
    float f[48];
    for (int i = 0; i < 48; i++) f[i] = i % 3 ? -1.0f : 1.0f;
    int8_t zo[16] = {0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1};
    int32_t i32[16] = {0};
    ck_assert_dh_ok(dh__npy_write(tmp_path("3d.npy"), DH_DTYPE_FLOAT32, 3, s3, f));
    ck_assert_dh_fail(dh_index_import_npy(tmp_path("3d.npy"), 0, &ix), DH_E_FORMAT);
    ck_assert_ptr_null(ix);
    static float wide[4097]; /* K = 4097 > DH_MAX_BITS columns */
    ck_assert_dh_ok(dh__npy_write(tmp_path("12.npy"), DH_DTYPE_FLOAT32, 2, s12, wide));
    ck_assert_dh_fail(dh_index_import_npy(tmp_path("12.npy"), 0, &ix), DH_E_SHAPE);
    ck_assert_dh_ok(dh__npy_write(tmp_path("01.npy"), DH_DTYPE_INT8, 2, s8, zo));
    ck_assert_dh_fail(dh_index_import_npy(tmp_path("01.npy"), 0, &ix), DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "0 or 1"));
    ck_assert_dh_ok(dh__npy_write(tmp_path("i32.npy"), DH_DTYPE_INT32, 2, s8, i32));
    ck_assert_dh_fail(dh_index_import_npy(tmp_path("i32.npy"), 0, &ix), DH_E_FORMAT);
    f[3] = NAN;
    ck_assert_dh_ok(dh__npy_write(tmp_path("nan.npy"), DH_DTYPE_FLOAT32, 2, s8, f));
    ck_assert_dh_fail(dh_index_import_npy(tmp_path("nan.npy"), 0, &ix), DH_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "nan.npy"));
    FILE *fp = fopen(tmp_path("junk.npy"), "wb");
    fputs("not numpy at all", fp);
    fclose(fp);
    ck_assert_dh_fail(dh_index_import_npy(tmp_path("junk.npy"), 0, &ix), DH_E_FORMAT);
    ck_assert_dh_fail(dh_index_import_npy(tmp_path("none.npy"), 0, &ix), DH_E_NOT_FOUND);
    ck_assert_dh_fail(dh_index_import_npy(tmp_path("f.npy"), 8, &ix), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_import_npy(NULL, 0, &ix), DH_E_INVALID_ARG);
    /* adding codes of another length */
    dh_index *k16 = make_index(16);
    ck_assert_dh_ok(dh__npy_write(tmp_path("k8.npy"), DH_DTYPE_FLOAT32, 2, s8, f + 8));
    ck_assert_dh_fail(dh_index_add_npy(k16, tmp_path("k8.npy"), 0, NULL), DH_E_SHAPE);
    ck_assert_uint_eq(dh_index_count(k16), 0);
    ck_assert_dh_fail(dh_index_add_npy(NULL, tmp_path("k8.npy"), 0, NULL), DH_E_INVALID_ARG);
    dh_index_free(k16);
}
END_TEST

START_TEST(test_index_npy_export_roundtrip)
{
    uint8_t *codes;
    dh_index *ix = sample_index(64, 40, &codes); /* 2 of 40 removed */
    const int32_t formats[5] = {DH_CODE_PACKED, DH_CODE_PACKED_MSB, DH_CODE_FLOAT32,
                                DH_CODE_FLOAT64, DH_CODE_INT8};
    uint8_t want[38 * 8], back[38 * 8];
    int64_t ids[38];
    ck_assert_dh_ok(dh_index_export(ix, DH_CODE_PACKED, 0, 38, want, ids));
    for (int i = 0; i < 5; i++) {
        const char *p = tmp_path("out.npy"), *pi = tmp_path("ids.npy");
        ck_assert_dh_ok(dh_index_export_npy(ix, p, formats[i], pi));
        dh__npy a;
        ck_assert_dh_ok(dh__npy_read(p, &a));
        ck_assert_int_eq(a.ndim, 2);
        ck_assert_int_eq(a.shape[0], 38);
        ck_assert_int_eq(a.shape[1], formats[i] <= DH_CODE_PACKED_MSB ? 8 : 64);
        dh__npy_free(&a);
        dh__npy ia;
        ck_assert_dh_ok(dh__npy_read(pi, &ia));
        ck_assert_int_eq(ia.dtype, DH_DTYPE_INT64);
        ck_assert_mem_eq(ia.data, ids, sizeof ids);
        dh__npy_free(&ia);
        dh_index *iy = NULL;
        ck_assert_dh_ok(dh_index_import_npy(p, formats[i] == DH_CODE_PACKED_MSB, &iy));
        ck_assert_dh_ok(dh_index_export(iy, DH_CODE_PACKED, 0, 38, back, NULL));
        ck_assert_mem_eq(back, want, sizeof want);
        dh_index_free(iy);
    }
    ck_assert_dh_fail(dh_index_export_npy(ix, tmp_path("x.npy"), 9, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_index_export_npy(ix, tmp_path("no/dir/x.npy"), DH_CODE_INT8, NULL),
                      DH_E_IO);
    ck_assert_dh_fail(dh_index_export_npy(NULL, tmp_path("x.npy"), DH_CODE_INT8, NULL),
                      DH_E_INVALID_ARG);
    dh_index_free(ix);
    free(codes);
}
END_TEST

static Suite *index_io_suite(void)
{
    Suite *s = suite_create("index_io");
    TCase *t = tcase_create("Files");
    tcase_add_test(t, test_index_save_load_roundtrip);
    tcase_add_test(t, test_index_mmap_is_readonly);
    tcase_add_test(t, test_index_load_rejects_corrupt_files);
    tcase_add_test(t, test_index_load_missing_and_bad_paths);
    tcase_add_test(t, test_index_failed_save_keeps_old_file);
    suite_add_tcase(s, t);
    t = tcase_create("Npy");
    tcase_add_test(t, test_index_npy_import_every_dtype);
    tcase_add_test(t, test_index_npy_import_rejects_bad_files);
    tcase_add_test(t, test_index_npy_export_roundtrip);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(index_io_suite()); }
