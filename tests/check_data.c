/* tests/check_data.c -- .npy reader/writer, IDX (raw and gzip), CIFAR batches, datasets
 * from arrays, subsets, concatenation, tags, and the installed Fashion-MNIST. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/data.h"
#include "io/io.h"
#include "testutil.h"

static char *tpath(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 512, "%s/%s", dh_test_tmpdir(), name);
    return p;
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(b, 1, n, fp), n);
    fclose(fp);
}

static void write_gz(const char *path, const void *b, size_t n)
{
    gzFile g = gzopen(path, "wb");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzwrite(g, b, (unsigned)n), (int)n);
    gzclose(g);
}

/* A .npy file image with a given header dict (padded per the spec). */
static size_t npy_image(uint8_t *out, int major, const char *dict, const void *data, size_t n)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = (pre + dl + 1 + 63) / 64 * 64, hl = total - pre;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)major, out[7] = 0;
    if (major == 1) out[8] = (uint8_t)hl, out[9] = (uint8_t)(hl >> 8);
    else dh__put_le32(out + 8, (uint32_t)hl);
    memcpy(out + pre, dict, dl);
    memset(out + pre + dl, ' ', hl - dl - 1);
    out[total - 1] = '\n';
    memcpy(out + total, data, n);
    return total + n;
}

/* ---- npy ---- */

START_TEST(test_data_npy_roundtrip_every_dtype)
{
    const int32_t dts[] = {DH_DTYPE_UINT8, DH_DTYPE_INT8, DH_DTYPE_INT32, DH_DTYPE_INT64,
                           DH_DTYPE_FLOAT32, DH_DTYPE_FLOAT64};
    uint8_t data[6 * 5 * 8];
    dh_test_fill(data, sizeof data, 3);
    for (size_t t = 0; t < 6; t++) {
        int64_t shape[2] = {6, 5};
        char *p = tpath("rt.npy");
        ck_assert_dh_ok(dh_npy_save(p, dts[t], 2, shape, data));
        dh_array *a;
        ck_assert_dh_ok(dh_npy_load(p, &a));
        ck_assert_int_eq(dh_array_dtype(a), dts[t]);
        ck_assert_uint_eq(dh_array_ndim(a), 2);
        ck_assert_int_eq(dh_array_dim(a, 0), 6);
        ck_assert_int_eq(dh_array_dim(a, 1), 5);
        ck_assert_int_eq(dh_array_dim(a, 2), -1);
        ck_assert_uint_eq(dh_array_count(a), 30);
        ck_assert_int_eq(memcmp(dh_array_data(a), data, 30 * dh_dtype_size(dts[t])), 0);
        ck_assert_uint_eq((uintptr_t)dh_array_data(a) % 64, 0);
        dh_array_free(a);
    }
    /* scalar and 1-D shapes, the "(n,)" spelling */
    float v = 2.5f;
    ck_assert_dh_ok(dh_npy_save(tpath("s.npy"), DH_DTYPE_FLOAT32, 0, NULL, &v));
    dh_array *a;
    ck_assert_dh_ok(dh_npy_load(tpath("s.npy"), &a));
    ck_assert_uint_eq(dh_array_ndim(a), 0);
    ck_assert_uint_eq(dh_array_count(a), 1);
    ck_assert_float_eq(*(const float *)dh_array_data(a), 2.5f);
    dh_array_free(a);
    int64_t n7 = 7;
    int32_t ids[7] = {0, 1, 2, 3, 4, 5, -6};
    ck_assert_dh_ok(dh_npy_save(tpath("v.npy"), DH_DTYPE_INT32, 1, &n7, ids));
    ck_assert_dh_ok(dh_npy_load(tpath("v.npy"), &a));
    float f[7];
    ck_assert_dh_ok(dh_array_to_float32(a, f, 7));
    ck_assert_float_eq(f[6], -6.0f);
    ck_assert_dh_fail(dh_array_to_float32(a, f, 6), DH_E_SHAPE);
    dh_array_free(a);
    dh_array_free(NULL);
}
END_TEST

START_TEST(test_data_npy_reads_numpy_spellings_and_versions)
{
    uint8_t buf[512];
    float d[3] = {1, 2, 3};
    const char *dicts[] = {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                           "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<f4\"}",
                           "{'descr':'<f4','fortran_order':False,'shape':(1, 3)}"};
    for (int major = 1; major <= 3; major++)
        for (size_t k = 0; k < 3; k++) {
            size_t n = npy_image(buf, major, dicts[k], d, sizeof d);
            dh_array *a;
            ck_assert_dh_ok(dh_npy_load_buffer(buf, n, &a));
            ck_assert_uint_eq(dh_array_count(a), 3);
            ck_assert_float_eq(((const float *)dh_array_data(a))[2], 3.0f);
            dh_array_free(a);
        }
    uint8_t b[4] = {1, 0, 1, 1};
    size_t n = npy_image(buf, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }", b, 4);
    dh_array *a;
    ck_assert_dh_ok(dh_npy_load_buffer(buf, n, &a));
    ck_assert_int_eq(dh_array_dtype(a), DH_DTYPE_UINT8);
    dh_array_free(a);
    b[1] = 7; /* bool must be 0/1 */
    n = npy_image(buf, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }", b, 4);
    ck_assert_dh_fail(dh_npy_load_buffer(buf, n, &a), DH_E_FORMAT);
    ck_assert_ptr_null(a);
}
END_TEST

START_TEST(test_data_npy_rejects_malformed)
{
    uint8_t buf[512];
    float d[4] = {0};
    dh_array *a;
    struct { const char *dict; dh_status st; } bad[] = {
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (4,), }", DH_E_UNSUPPORTED},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", DH_E_UNSUPPORTED},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }", DH_E_UNSUPPORTED},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", DH_E_UNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", DH_E_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", DH_E_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4), }", DH_E_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", DH_E_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False }", DH_E_FORMAT},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", DH_E_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", DH_E_FORMAT},
        {"{'descr': '<f4', 'fortran_order': Nope, 'shape': (4,), }", DH_E_FORMAT},
        {"{'descr: '<f4', 'fortran_order': False, 'shape': (4,), }", DH_E_FORMAT},
        {"['descr', '<f4']", DH_E_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
         DH_E_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }",
         DH_E_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,4), }",
         DH_E_UNSUPPORTED},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        size_t n = npy_image(buf, 1, bad[k].dict, d, sizeof d);
        dh_clear_error();
        dh_status st = dh_npy_load_buffer(buf, n, &a);
        ck_assert_msg(st == bad[k].st, "case %zu: got %d (%s)", k, st, dh_last_error());
        ck_assert_ptr_null(a);
    }
    /* the message names the offset */
    size_t n = npy_image(buf, 1, "{'descr': '<f4', 'fortran_order': Nope, 'shape': (4,), }", d,
                         sizeof d);
    ck_assert_dh_fail(dh_npy_load_buffer(buf, n, &a), DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "offset 44"));
    /* magic, version, truncation of preamble/header/data */
    n = npy_image(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", d, 16);
    for (size_t cut = 0; cut < n; cut += 7)
        ck_assert_dh_fail(dh_npy_load_buffer(buf, cut, &a), DH_E_FORMAT);
    buf[0] = 'X';
    ck_assert_dh_fail(dh_npy_load_buffer(buf, n, &a), DH_E_FORMAT);
    buf[0] = 0x93, buf[6] = 9;
    ck_assert_dh_fail(dh_npy_load_buffer(buf, n, &a), DH_E_VERSION);
    buf[6] = 1, buf[7] = 1;
    ck_assert_dh_fail(dh_npy_load_buffer(buf, n, &a), DH_E_FORMAT);
    buf[7] = 0;
    write_bytes(tpath("trunc.npy"), buf, n - 1);
    ck_assert_dh_fail(dh_npy_load(tpath("trunc.npy"), &a), DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "trunc.npy"));
    ck_assert_dh_fail(dh_npy_load(tpath("missing.npy"), &a), DH_E_NOT_FOUND);
    ck_assert_dh_fail(dh_npy_load(dh_test_tmpdir(), &a), DH_E_IO);
    ck_assert_dh_fail(dh_npy_load(NULL, &a), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_npy_load("x", NULL), DH_E_INVALID_ARG);
}
END_TEST

START_TEST(test_data_npy_save_bad_args_keep_old_file)
{
    int64_t shape[1] = {3};
    float v[3] = {1, 2, 3};
    char *p = tpath("keep.npy");
    ck_assert_dh_ok(dh_npy_save(p, DH_DTYPE_FLOAT32, 1, shape, v));
    ck_assert_dh_fail(dh_npy_save(p, 99, 1, shape, v), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_npy_save(p, DH_DTYPE_FLOAT32, 9, shape, v), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_npy_save(p, DH_DTYPE_FLOAT32, 1, NULL, v), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_npy_save(p, DH_DTYPE_FLOAT32, 1, shape, NULL), DH_E_INVALID_ARG);
    int64_t neg = -1, huge[2] = {INT64_MAX / 2, 16};
    ck_assert_dh_fail(dh_npy_save(p, DH_DTYPE_FLOAT32, 1, &neg, v), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_npy_save(p, DH_DTYPE_FLOAT32, 2, huge, v), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_npy_save("/nonexistent-dir/x.npy", DH_DTYPE_FLOAT32, 1, shape, v),
                      DH_E_IO);
    dh_array *a;
    ck_assert_dh_ok(dh_npy_load(p, &a));
    ck_assert_float_eq(((const float *)dh_array_data(a))[1], 2.0f);
    dh_array_free(a);
}
END_TEST

/* ---- IDX ---- */

static size_t idx_images(uint8_t *b, uint32_t n, uint32_t r, uint32_t c)
{
    uint8_t h[16] = {0, 0, 8, 3};
    for (int k = 0; k < 4; k++) h[4 + k] = (uint8_t)(n >> (24 - 8 * k));
    for (int k = 0; k < 4; k++) h[8 + k] = (uint8_t)(r >> (24 - 8 * k));
    for (int k = 0; k < 4; k++) h[12 + k] = (uint8_t)(c >> (24 - 8 * k));
    memcpy(b, h, 16);
    for (size_t i = 0; i < (size_t)n * r * c; i++) b[16 + i] = (uint8_t)(i * 7);
    return 16 + (size_t)n * r * c;
}

static size_t idx_labels(uint8_t *b, uint32_t n)
{
    uint8_t h[8] = {0, 0, 8, 1, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                    (uint8_t)n};
    memcpy(b, h, 8);
    for (uint32_t i = 0; i < n; i++) b[8 + i] = (uint8_t)(i % 10);
    return 8 + n;
}

START_TEST(test_data_idx_raw_and_gzip)
{
    static uint8_t im[16 + 12 * 5 * 4], lb[8 + 12];
    size_t ni = idx_images(im, 12, 5, 4), nl = idx_labels(lb, 12);
    write_bytes(tpath("im.idx"), im, ni);
    write_gz(tpath("lb.idx.gz"), lb, nl);
    dh_dataset *ds;
    ck_assert_dh_ok(dh_dataset_load_idx(tpath("im.idx"), tpath("lb.idx.gz"), &ds));
    ck_assert_uint_eq(dh_dataset_count(ds), 12);
    ck_assert_uint_eq(dh_dataset_height(ds), 5);
    ck_assert_uint_eq(dh_dataset_width(ds), 4);
    ck_assert_uint_eq(dh_dataset_channels(ds), 1);
    ck_assert_uint_eq(dh_dataset_n_classes(ds), 10);
    ck_assert_int_eq(dh_dataset_is_image(ds), 1);
    ck_assert_int_eq(dh_dataset_is_multilabel(ds), 0);
    uint8_t img[20];
    ck_assert_dh_ok(dh_dataset_get_image(ds, 3, img));
    ck_assert_int_eq(memcmp(img, im + 16 + 3 * 20, 20), 0);
    int32_t cls[12];
    ck_assert_dh_ok(dh_dataset_get_class_ids(ds, 0, 12, cls));
    ck_assert_int_eq(cls[11], 1);
    float lab[10];
    ck_assert_dh_ok(dh_dataset_get_labels(ds, 11, 1, lab));
    ck_assert_float_eq(lab[1], 1.0f);
    ck_assert_float_eq(lab[0], 0.0f);
    dh_dataset_free(ds);
}
END_TEST

START_TEST(test_data_idx_rejects_malformed)
{
    static uint8_t im[16 + 6 * 4 * 4], lb[8 + 6];
    size_t ni = idx_images(im, 6, 4, 4), nl = idx_labels(lb, 6);
    dh_dataset *ds;
    /* truncated data, bad magic, wrong rank, count mismatch, trailing bytes */
    ck_assert_dh_fail(dh__idx_parse(im, ni - 1, "im", lb, nl, "lb", &ds), DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "truncated"));
    ck_assert_dh_fail(dh__idx_parse(im, 10, "im", lb, nl, "lb", &ds), DH_E_FORMAT);
    ck_assert_dh_fail(dh__idx_parse(lb, nl, "lb", lb, nl, "lb", &ds), DH_E_FORMAT);
    ck_assert_dh_fail(dh__idx_parse(im, ni, "im", lb, nl - 1, "lb", &ds), DH_E_FORMAT);
    static uint8_t big[16 + 6 * 16 + 1];
    memcpy(big, im, ni);
    ck_assert_dh_fail(dh__idx_parse(big, ni + 1, "im", lb, nl, "lb", &ds), DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "trailing"));
    im[3] = 2;
    ck_assert_dh_fail(dh__idx_parse(im, ni, "im", lb, nl, "lb", &ds), DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "offset 0"));
    im[3] = 3, im[11] = 0; /* zero rows */
    ck_assert_dh_fail(dh__idx_parse(im, ni, "im", lb, nl, "lb", &ds), DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "offset 8"));
    /* corrupt gzip, missing file */
    write_bytes(tpath("bad.gz"), "\x1f\x8b\x08\x00garbage", 11);
    ck_assert_dh_fail(dh_dataset_load_idx(tpath("bad.gz"), tpath("bad.gz"), &ds), DH_E_FORMAT);
    ck_assert_ptr_null(ds);
    uint8_t gz[4096];
    write_gz(tpath("ok.gz"), im, 100);
    FILE *fp = fopen(tpath("ok.gz"), "rb");
    size_t g = fread(gz, 1, sizeof gz, fp);
    fclose(fp);
    write_bytes(tpath("cut.gz"), gz, g - 6);
    ck_assert_dh_fail(dh_dataset_load_idx(tpath("cut.gz"), tpath("cut.gz"), &ds), DH_E_FORMAT);
    ck_assert_dh_fail(dh_dataset_load_idx(tpath("nope"), tpath("nope"), &ds), DH_E_NOT_FOUND);
    ck_assert_dh_fail(dh_dataset_load_idx(NULL, tpath("nope"), &ds), DH_E_INVALID_ARG);
}
END_TEST

START_TEST(test_data_fashion_mnist_installed)
{
    char dir[4096];
    if (dh_fashion_mnist_dir(dir, sizeof dir) != DH_OK) return; /* not installed: nothing to do */
    dh_dataset *te;
    ck_assert_dh_ok(dh_dataset_load_fashion_mnist(NULL, DH_SPLIT_TEST, &te));
    ck_assert_uint_eq(dh_dataset_count(te), 10000);
    ck_assert_uint_eq(dh_dataset_height(te), 28);
    ck_assert_uint_eq(dh_dataset_n_classes(te), 10);
    int32_t *cls = malloc(10000 * sizeof *cls);
    ck_assert_dh_ok(dh_dataset_get_class_ids(te, 0, 10000, cls));
    int cnt[10] = {0};
    for (int i = 0; i < 10000; i++) cnt[cls[i]]++;
    for (int c = 0; c < 10; c++) ck_assert_int_eq(cnt[c], 1000);
    ck_assert_int_eq(cls[0], 9); /* the first test image is an ankle boot */
    free(cls);
    dh_dataset_free(te);
    ck_assert_dh_fail(dh_dataset_load_fashion_mnist(NULL, 5, &te), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_dataset_load_fashion_mnist(dh_test_tmpdir(), DH_SPLIT_TEST, &te),
                      DH_E_NOT_FOUND);
    setenv("DH_FASHION_MNIST_DIR", dh_test_tmpdir(), 1);
    ck_assert_dh_fail(dh_fashion_mnist_dir(dir, sizeof dir), DH_E_NOT_FOUND);
    unsetenv("DH_FASHION_MNIST_DIR");
    ck_assert_dh_fail(dh_fashion_mnist_dir(dir, 3), DH_E_INVALID_ARG);
}
END_TEST

/* ---- CIFAR ---- */

static void cifar_file(const char *path, int variant, size_t n, int base)
{
    size_t rs = variant == DH_CIFAR10 ? 3073 : 3074;
    uint8_t *b = calloc(n, rs);
    for (size_t i = 0; i < n; i++) {
        uint8_t *r = b + i * rs;
        if (variant == DH_CIFAR10) r[0] = (uint8_t)((base + i) % 10);
        else r[0] = (uint8_t)((base + i) % 20), r[1] = (uint8_t)((base + i) % 100);
        uint8_t *p = r + rs - 3072;
        for (size_t k = 0; k < 3072; k++) p[k] = (uint8_t)(k / 1024 * 100 + i);
    }
    write_bytes(path, b, n * rs);
    free(b);
}

START_TEST(test_data_cifar10_and_100)
{
    char name[600];
    for (int k = 1; k <= 5; k++) {
        snprintf(name, sizeof name, "data_batch_%d.bin", k);
        cifar_file(tpath(name), DH_CIFAR10, 3, k * 3);
    }
    cifar_file(tpath("test_batch.bin"), DH_CIFAR10, 2, 0);
    cifar_file(tpath("train.bin"), DH_CIFAR100, 4, 0);
    cifar_file(tpath("test.bin"), DH_CIFAR100, 4, 50);
    dh_dataset *ds;
    ck_assert_dh_ok(dh_dataset_load_cifar(dh_test_tmpdir(), DH_CIFAR10, DH_SPLIT_TRAIN, &ds));
    ck_assert_uint_eq(dh_dataset_count(ds), 15);
    ck_assert_uint_eq(dh_dataset_channels(ds), 3);
    uint8_t img[3072];
    ck_assert_dh_ok(dh_dataset_get_image(ds, 4, img));
    ck_assert_uint_eq(img[0], 1); /* record 1 of file 2: R plane value 0*100 + 1 */
    ck_assert_uint_eq(img[1], 101);
    ck_assert_uint_eq(img[2], 201);
    int32_t c;
    ck_assert_dh_ok(dh_dataset_get_class_ids(ds, 4, 1, &c));
    ck_assert_int_eq(c, 7);
    dh_dataset_free(ds);
    ck_assert_dh_ok(dh_dataset_load_cifar(dh_test_tmpdir(), DH_CIFAR100, DH_SPLIT_TEST, &ds));
    ck_assert_uint_eq(dh_dataset_n_classes(ds), 100);
    ck_assert_dh_ok(dh_dataset_get_class_ids(ds, 1, 1, &c));
    ck_assert_int_eq(c, 51);
    dh_dataset_free(ds);
    ck_assert_dh_ok(dh_dataset_load_cifar(dh_test_tmpdir(), DH_CIFAR100_COARSE, DH_SPLIT_TEST, &ds));
    ck_assert_uint_eq(dh_dataset_n_classes(ds), 20);
    ck_assert_dh_ok(dh_dataset_get_class_ids(ds, 1, 1, &c));
    ck_assert_int_eq(c, 11);
    dh_dataset_free(ds);
    /* truncated file named, bad label, bad variant */
    uint8_t rec[3073 * 2] = {0};
    write_bytes(tpath("data_batch_3.bin"), rec, 3073 + 5);
    ck_assert_dh_fail(dh_dataset_load_cifar(dh_test_tmpdir(), DH_CIFAR10, DH_SPLIT_TRAIN, &ds),
                      DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "data_batch_3.bin"));
    rec[3073] = 10;
    write_bytes(tpath("data_batch_3.bin"), rec, 3073 * 2);
    ck_assert_dh_fail(dh_dataset_load_cifar(dh_test_tmpdir(), DH_CIFAR10, DH_SPLIT_TRAIN, &ds),
                      DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "offset 3073"));
    ck_assert_dh_fail(dh_dataset_load_cifar(dh_test_tmpdir(), 11, DH_SPLIT_TRAIN, &ds),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_dataset_load_cifar("/nonexistent", DH_CIFAR10, DH_SPLIT_TEST, &ds),
                      DH_E_NOT_FOUND);
}
END_TEST

/* ---- datasets from arrays ---- */

START_TEST(test_data_dataset_from_arrays_and_getters)
{
    uint8_t px[4 * 2 * 3 * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 5);
    int32_t cls[4] = {0, 2, 1, 2};
    dh_dataset *ds, *r;
    ck_assert_dh_ok(dh_dataset_from_images(px, 4, 2, 3, 3, cls, NULL, 3, &ds));
    ck_assert_uint_eq(dh_dataset_sample_size(ds), 18);
    float f[18], mean[3] = {0.5f, 0.0f, 0.0f}, sd[3] = {0.5f, 1.0f, 2.0f};
    ck_assert_dh_ok(dh_dataset_get_floats(ds, 1, mean, sd, f));
    /* CHW: channel 0 pixel 0 = px[18] */
    ck_assert_float_eq_tol(f[0], ((float)px[18] / 255.0f - 0.5f) / 0.5f, 1e-6);
    ck_assert_float_eq_tol(f[6 + 1], (float)px[18 + 3 + 1] / 255.0f, 1e-6);
    ck_assert_float_eq_tol(f[12 + 5], (float)px[18 + 15 + 2] / 255.0f / 2.0f, 1e-6);
    sd[1] = 0;
    ck_assert_dh_fail(dh_dataset_get_floats(ds, 1, mean, sd, f), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_dataset_get_image(ds, 4, (uint8_t *)f), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_dataset_get_labels(ds, 3, 2, f), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_dataset_get_tags(ds, 0, 1, f), DH_E_STATE);
    /* _ref borrows */
    ck_assert_dh_ok(dh_dataset_from_images_ref(px, 4, 2, 3, 3, cls, NULL, 3, &r));
    px[18] = 77;
    uint8_t im[18];
    ck_assert_dh_ok(dh_dataset_get_image(r, 1, im));
    ck_assert_uint_eq(im[0], 77);
    ck_assert_dh_ok(dh_dataset_get_image(ds, 1, im));
    ck_assert_uint_eq(im[0], 90);
    dh_dataset_free(r);
    dh_dataset_free(ds);
    /* bad inputs */
    cls[0] = 3;
    ck_assert_dh_fail(dh_dataset_from_images(px, 4, 2, 3, 3, cls, NULL, 3, &ds), DH_E_INVALID_ARG);
    ck_assert_ptr_null(ds);
    ck_assert_dh_fail(dh_dataset_from_images(px, 4, 2, 3, 2, NULL, NULL, 0, &ds), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_dataset_from_images(NULL, 4, 2, 3, 3, NULL, NULL, 0, &ds),
                      DH_E_INVALID_ARG);
    float lab[2 * 3] = {1, 0, 1, 0, 0.5f, 0};
    ck_assert_dh_fail(dh_dataset_from_features(f, 2, 9, NULL, lab, 3, &ds), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_dataset_from_features(f, 2, 0, NULL, NULL, 0, &ds), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_dataset_from_features(f, 2, 9, cls, lab, 3, &ds), DH_E_INVALID_ARG);
    lab[4] = 0;
    ck_assert_dh_ok(dh_dataset_from_features(f, 2, 9, NULL, lab, 3, &ds));
    ck_assert_int_eq(dh_dataset_is_multilabel(ds), 1);
    ck_assert_int_eq(dh_dataset_is_image(ds), 0);
    int32_t c2[2];
    ck_assert_dh_ok(dh_dataset_get_class_ids(ds, 0, 2, c2));
    ck_assert_int_eq(c2[0], -1);
    ck_assert_int_eq(c2[1], -1);
    float row[9];
    ck_assert_dh_ok(dh_dataset_get_floats(ds, 1, NULL, NULL, row));
    ck_assert_float_eq(row[0], f[9]);
    ck_assert_dh_fail(dh_dataset_get_floats(ds, 1, mean, NULL, row), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_dataset_get_image(ds, 0, im), DH_E_INVALID_ARG);
    dh_dataset_free(ds);
    dh_dataset_free(NULL);
    ck_assert_uint_eq(dh_dataset_count(NULL), 0);
}
END_TEST

START_TEST(test_data_dataset_subset_concat_tags_share_storage)
{
    float feat[5 * 2];
    for (int i = 0; i < 10; i++) feat[i] = (float)i;
    int32_t cls[5] = {0, 1, 0, 1, 1};
    dh_dataset *a, *b, *s, *u;
    ck_assert_dh_ok(dh_dataset_from_features(feat, 5, 2, cls, NULL, 2, &a));
    float tags[5 * 3];
    for (int i = 0; i < 15; i++) tags[i] = (float)(100 + i);
    ck_assert_dh_ok(dh_dataset_set_tags(a, tags, 3));
    int64_t idx[3] = {4, 0, 4};
    ck_assert_dh_ok(dh_dataset_subset(a, idx, 3, &s));
    dh_dataset_free(a); /* the subset keeps the storage alive */
    ck_assert_uint_eq(dh_dataset_count(s), 3);
    float row[2], t[3];
    ck_assert_dh_ok(dh_dataset_get_floats(s, 0, NULL, NULL, row));
    ck_assert_float_eq(row[1], 9.0f);
    ck_assert_dh_ok(dh_dataset_get_tags(s, 1, 1, t));
    ck_assert_float_eq(t[2], 102.0f);
    int64_t o[3];
    ck_assert_dh_ok(dh_dataset_get_origin(s, 0, 3, o));
    ck_assert_int_eq(o[0], 4);
    ck_assert_int_eq(o[1], 0);
    idx[1] = 5;
    ck_assert_dh_fail(dh_dataset_subset(s, idx, 3, &b), DH_E_INVALID_ARG);
    idx[1] = -1;
    ck_assert_dh_fail(dh_dataset_subset(s, idx, 3, &b), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh_dataset_from_features(feat, 2, 2, NULL, NULL, 0, &b));
    ck_assert_dh_fail(dh_dataset_concat(s, b, &u), DH_E_SHAPE); /* n_classes, n_tags differ */
    dh_dataset_free(b);
    ck_assert_dh_ok(dh_dataset_concat(s, s, &u));
    ck_assert_uint_eq(dh_dataset_count(u), 6);
    ck_assert_dh_ok(dh_dataset_get_floats(u, 4, NULL, NULL, row));
    ck_assert_float_eq(row[0], 0.0f);
    ck_assert_dh_ok(dh_dataset_get_origin(u, 3, 3, o));
    ck_assert_int_eq(o[0], 3);
    int32_t c[6];
    ck_assert_dh_ok(dh_dataset_get_class_ids(u, 0, 6, c));
    ck_assert_int_eq(c[3], 1);
    ck_assert_int_eq(c[4], 0);
    int64_t pick[2] = {5, 1};
    dh_dataset *v;
    ck_assert_dh_ok(dh_dataset_subset(u, pick, 2, &v));
    ck_assert_dh_ok(dh_dataset_get_floats(v, 0, NULL, NULL, row));
    ck_assert_float_eq(row[0], 8.0f);
    ck_assert_dh_ok(dh_dataset_set_tags(v, NULL, 0));
    ck_assert_uint_eq(dh_dataset_n_tags(v), 0);
    dh_dataset_free(v);
    dh_dataset_free(u);
    dh_dataset_free(s);
}
END_TEST

START_TEST(test_data_dataset_load_npy)
{
    float feat[4 * 3];
    for (int i = 0; i < 12; i++) feat[i] = (float)i * 0.5f;
    int64_t fs[2] = {4, 3}, ls[1] = {4}, ms[2] = {4, 2}, is[4] = {4, 2, 2, 3};
    int64_t ids[4] = {0, 3, 1, 2};
    uint8_t multi[8] = {1, 0, 1, 1, 0, 1, 0, 0}, img[48];
    dh_test_fill(img, 48, 9);
    ck_assert_dh_ok(dh_npy_save(tpath("f.npy"), DH_DTYPE_FLOAT32, 2, fs, feat));
    ck_assert_dh_ok(dh_npy_save(tpath("l.npy"), DH_DTYPE_INT64, 1, ls, ids));
    ck_assert_dh_ok(dh_npy_save(tpath("m.npy"), DH_DTYPE_UINT8, 2, ms, multi));
    ck_assert_dh_ok(dh_npy_save(tpath("i.npy"), DH_DTYPE_UINT8, 4, is, img));
    dh_dataset *ds;
    ck_assert_dh_ok(dh_dataset_load_npy(tpath("f.npy"), tpath("l.npy"), &ds));
    ck_assert_uint_eq(dh_dataset_n_classes(ds), 4);
    float row[3];
    ck_assert_dh_ok(dh_dataset_get_floats(ds, 3, NULL, NULL, row));
    ck_assert_float_eq(row[2], 5.5f);
    ck_assert_dh_ok(dh_dataset_load_tags_npy(ds, tpath("m.npy")));
    ck_assert_uint_eq(dh_dataset_n_tags(ds), 2);
    ck_assert_dh_fail(dh_dataset_load_tags_npy(ds, tpath("l.npy")), DH_E_SHAPE);
    dh_dataset_free(ds);
    ck_assert_dh_ok(dh_dataset_load_npy(tpath("i.npy"), tpath("m.npy"), &ds));
    ck_assert_int_eq(dh_dataset_is_image(ds), 1);
    ck_assert_int_eq(dh_dataset_is_multilabel(ds), 1);
    uint8_t im[12];
    ck_assert_dh_ok(dh_dataset_get_image(ds, 2, im));
    ck_assert_int_eq(memcmp(im, img + 24, 12), 0);
    dh_dataset_free(ds);
    ck_assert_dh_ok(dh_dataset_load_npy(tpath("f.npy"), NULL, &ds));
    ck_assert_uint_eq(dh_dataset_n_classes(ds), 0);
    dh_dataset_free(ds);
    /* label rows disagree, non-integer class ids, 0/1 violated */
    int64_t three = 3;
    ck_assert_dh_ok(dh_npy_save(tpath("l3.npy"), DH_DTYPE_INT64, 1, &three, ids));
    ck_assert_dh_fail(dh_dataset_load_npy(tpath("f.npy"), tpath("l3.npy"), &ds), DH_E_SHAPE);
    ck_assert_dh_ok(dh_npy_save(tpath("lf.npy"), DH_DTYPE_FLOAT32, 1, ls, feat));
    ck_assert_dh_fail(dh_dataset_load_npy(tpath("f.npy"), tpath("lf.npy"), &ds), DH_E_FORMAT);
    multi[3] = 2;
    ck_assert_dh_ok(dh_npy_save(tpath("m2.npy"), DH_DTYPE_UINT8, 2, ms, multi));
    ck_assert_dh_fail(dh_dataset_load_npy(tpath("f.npy"), tpath("m2.npy"), &ds), DH_E_FORMAT);
    ck_assert_dh_fail(dh_dataset_load_npy(tpath("l.npy"), NULL, &ds), DH_E_SHAPE);
    ck_assert_dh_fail(dh_dataset_load_npy(NULL, NULL, &ds), DH_E_INVALID_ARG);
}
END_TEST

Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *t = tcase_create("Npy");
    tcase_add_test(t, test_data_npy_roundtrip_every_dtype);
    tcase_add_test(t, test_data_npy_reads_numpy_spellings_and_versions);
    tcase_add_test(t, test_data_npy_rejects_malformed);
    tcase_add_test(t, test_data_npy_save_bad_args_keep_old_file);
    suite_add_tcase(s, t);
    t = tcase_create("Formats");
    tcase_add_test(t, test_data_idx_raw_and_gzip);
    tcase_add_test(t, test_data_idx_rejects_malformed);
    tcase_add_test(t, test_data_fashion_mnist_installed);
    tcase_add_test(t, test_data_cifar10_and_100);
    suite_add_tcase(s, t);
    t = tcase_create("Dataset");
    tcase_add_test(t, test_data_dataset_from_arrays_and_getters);
    tcase_add_test(t, test_data_dataset_subset_concat_tags_share_storage);
    tcase_add_test(t, test_data_dataset_load_npy);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(data_suite()); }
