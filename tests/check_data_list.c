/* tests/check_data_list.c -- image lists: parsing (multi-hot, class ids, comments, bad
 * lines with their line number), PNG/JPEG/BMP decoding and resizing, missing images,
 * the bounded cache, and a loader streaming list images on prefetch threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stb/stb_image_write.h>

#include "data/data.h"
#include "testutil.h"

static char *tpath(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 512, "%s/%s", dh_test_tmpdir(), name);
    return p;
}

static void write_text(const char *path, const char *s)
{
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(s, fp);
    fclose(fp);
}

/* A w x h RGB gradient image: R = x * 255 / (w - 1), G = y * 255 / (h - 1), B = 128. */
static void write_image(const char *name, int w, int h, const char *fmt)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + ((size_t)y * w + x) * 3;
            q[0] = (uint8_t)(x * 255 / (w - 1)), q[1] = (uint8_t)(y * 255 / (h - 1)), q[2] = 128;
        }
    char *path = tpath(name);
    int ok = !strcmp(fmt, "png") ? stbi_write_png(path, w, h, 3, p, w * 3)
             : !strcmp(fmt, "bmp") ? stbi_write_bmp(path, w, h, 3, p)
                                   : stbi_write_jpg(path, w, h, 3, p, 95);
    ck_assert_int_ne(ok, 0);
    free(p);
}

START_TEST(test_data_list_parse_formats)
{
    dh__listfile lf;
    const char *multi = "# comment\n\na.jpg 0 1 1\n  b.png 1 0 0  \r\nc.bmp 0 0 0";
    ck_assert_dh_ok(dh__imagelist_parse(multi, strlen(multi), "m.txt", DH_LABELS_AUTO, 0, &lf));
    ck_assert_uint_eq(lf.n, 3);
    ck_assert_uint_eq(lf.n_classes, 3);
    ck_assert_str_eq(lf.paths[1], "b.png");
    ck_assert_float_eq(lf.labels[0 * 3 + 2], 1.0f);
    ck_assert_float_eq(lf.labels[1 * 3 + 0], 1.0f);
    ck_assert_uint_eq(lf.line_no[2], 5);
    dh__listfile_free(&lf);
    const char *ids = "x/1.jpg 4\nx/2.jpg 0\n";
    ck_assert_dh_ok(dh__imagelist_parse(ids, strlen(ids), "c.txt", DH_LABELS_AUTO, 0, &lf));
    ck_assert_uint_eq(lf.n_classes, 5);
    ck_assert_int_eq(lf.class_ids[0], 4);
    dh__listfile_free(&lf);
    ck_assert_dh_ok(dh__imagelist_parse(ids, strlen(ids), "c.txt", DH_LABELS_CLASS_ID, 10, &lf));
    ck_assert_uint_eq(lf.n_classes, 10);
    dh__listfile_free(&lf);
    const char *one = "a.jpg 1\nb.jpg 0\n"; /* forced multi-hot with one column */
    ck_assert_dh_ok(dh__imagelist_parse(one, strlen(one), "o.txt", DH_LABELS_MULTIHOT, 0, &lf));
    ck_assert_uint_eq(lf.n_classes, 1);
    dh__listfile_free(&lf);
    struct { const char *text; int32_t fmt; uint32_t C; const char *msg; } bad[] = {
        {"a.jpg 0 1\nb.jpg 0 1 0\n", DH_LABELS_AUTO, 0, "b.txt:2:"},
        {"a.jpg 0 1\nb.jpg 0 2\n", DH_LABELS_AUTO, 0, "b.txt:2:"},
        {"a.jpg 3\n\n\nb.jpg x\n", DH_LABELS_AUTO, 0, "b.txt:4:"},
        {"a.jpg 3\nb.jpg\n", DH_LABELS_AUTO, 0, "b.txt:2:"},
        {"a.jpg 3\nb.jpg 1\n", DH_LABELS_CLASS_ID, 3, "not below"},
        {"a.jpg 3 4\n", DH_LABELS_CLASS_ID, 0, "b.txt:1:"},
        {"a.jpg 1 0\n", DH_LABELS_MULTIHOT, 3, "b.txt:1:"},
        {"# only a comment\n\n", DH_LABELS_AUTO, 0, "no images"},
        {"a.jpg 99999999999\n", DH_LABELS_AUTO, 0, "b.txt:1:"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        dh_clear_error();
        dh_status st = dh__imagelist_parse(bad[k].text, strlen(bad[k].text), "b.txt", bad[k].fmt,
                                           bad[k].C, &lf);
        ck_assert_msg(st == DH_E_FORMAT, "case %zu: %d", k, st);
        ck_assert_msg(strstr(dh_last_error(), bad[k].msg), "case %zu: '%s'", k, dh_last_error());
    }
    ck_assert_dh_fail(dh__imagelist_parse("a\0b 1\n", 6, "z.txt", 0, 0, &lf), DH_E_FORMAT);
}
END_TEST

START_TEST(test_data_list_decode_resize_and_cache)
{
    mkdir(tpath("img"), 0755);
    write_image("img/a.png", 32, 16, "png");
    write_image("img/b.jpg", 20, 40, "jpg");
    write_image("img/c.bmp", 8, 8, "bmp");
    write_text(tpath("list.txt"), "img/a.png 1 0\nimg/b.jpg 0 1\nimg/c.bmp 1 1\n");
    dh_imagelist_options o;
    dh_imagelist_options_init(&o);
    o.height = 8, o.width = 8;
    dh_dataset *ds;
    ck_assert_dh_ok(dh_dataset_load_imagelist(tpath("list.txt"), &o, &ds));
    ck_assert_uint_eq(dh_dataset_count(ds), 3);
    ck_assert_uint_eq(dh_dataset_n_classes(ds), 2);
    ck_assert_int_eq(dh_dataset_is_multilabel(ds), 1);
    int32_t c[3];
    ck_assert_dh_ok(dh_dataset_get_class_ids(ds, 0, 3, c));
    ck_assert_int_eq(c[0], 0);
    ck_assert_int_eq(c[1], 1);
    ck_assert_int_eq(c[2], -1);
    uint8_t im[8 * 8 * 3], im2[8 * 8 * 3];
    for (int k = 0; k < 3; k++) {
        ck_assert_dh_ok(dh_dataset_get_image(ds, (size_t)k, im));
        /* gradients survive decoding + resizing: left < right (R), top < bottom (G) */
        ck_assert_int_lt(im[(4 * 8 + 0) * 3 + 0], im[(4 * 8 + 7) * 3 + 0]);
        ck_assert_int_lt(im[(0 * 8 + 4) * 3 + 1], im[(7 * 8 + 4) * 3 + 1]);
        ck_assert_int_lt(abs(im[(4 * 8 + 4) * 3 + 2] - 128), 6);
        ck_assert_dh_ok(dh_dataset_get_image(ds, (size_t)k, im2)); /* cached copy is equal */
        ck_assert_int_eq(memcmp(im, im2, sizeof im), 0);
    }
    /* shorter-side crop keeps the centre of the wide image: R spans ~1/4..3/4 */
    ck_assert_dh_ok(dh_dataset_get_image(ds, 0, im));
    ck_assert_int_gt(im[(4 * 8 + 0) * 3 + 0], 40);
    ck_assert_int_lt(im[(4 * 8 + 7) * 3 + 0], 215);
    dh_dataset_free(ds);
    /* stretch, grey, no cache, root option */
    o.resize_mode = DH_RESIZE_STRETCH, o.channels = 1, o.cache_bytes = 0, o.root = tpath("img");
    write_text(tpath("list2.txt"), "a.png 0\nc.bmp 2\n");
    ck_assert_dh_ok(dh_dataset_load_imagelist(tpath("list2.txt"), &o, &ds));
    ck_assert_uint_eq(dh_dataset_n_classes(ds), 3);
    ck_assert_uint_eq(dh_dataset_channels(ds), 1);
    ck_assert_dh_ok(dh_dataset_get_image(ds, 0, im));
    ck_assert_int_lt(im[4 * 8 + 0], im[4 * 8 + 7]);
    dh_dataset_free(ds);
}
END_TEST

START_TEST(test_data_list_missing_and_corrupt_images)
{
    mkdir(tpath("img"), 0755);
    write_image("img/a.png", 8, 8, "png");
    write_text(tpath("img/bad.jpg"), "this is not a jpeg");
    write_text(tpath("l1.txt"), "img/a.png 0\n# c\nimg/gone.png 1\n");
    dh_dataset *ds;
    ck_assert_dh_fail(dh_dataset_load_imagelist(tpath("l1.txt"), NULL, &ds), DH_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "l1.txt:3:"));
    ck_assert_ptr_null(ds);
    dh_imagelist_options o;
    dh_imagelist_options_init(&o);
    o.check_files = 0, o.height = o.width = 8;
    ck_assert_dh_ok(dh_dataset_load_imagelist(tpath("l1.txt"), &o, &ds));
    uint8_t im[8 * 8 * 3];
    ck_assert_dh_fail(dh_dataset_get_image(ds, 1, im), DH_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "gone.png"));
    dh_dataset_free(ds);
    write_text(tpath("l2.txt"), "img/bad.jpg 0\n");
    ck_assert_dh_ok(dh_dataset_load_imagelist(tpath("l2.txt"), &o, &ds));
    ck_assert_dh_fail(dh_dataset_get_image(ds, 0, im), DH_E_FORMAT);
    /* the loader reports a worker's failure on the caller's thread */
    dh_loader *L;
    dh_loader_options lo;
    dh_loader_options_init(&lo);
    lo.batch_size = 1, lo.n_threads = 2;
    ck_assert_dh_ok(dh_loader_create(ds, &lo, &L));
    float x[8 * 8 * 3];
    size_t n;
    ck_assert_dh_fail(dh_loader_next(L, x, NULL, NULL, NULL, NULL, &n), DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "bad.jpg"));
    dh_loader_free(L);
    dh_dataset_free(ds);
    ck_assert_dh_fail(dh_dataset_load_imagelist(tpath("none.txt"), NULL, &ds), DH_E_NOT_FOUND);
    o.channels = 2;
    ck_assert_dh_fail(dh_dataset_load_imagelist(tpath("l2.txt"), &o, &ds), DH_E_INVALID_ARG);
    dh_imagelist_options_init(&o);
    o.path_policy = 7; /* not a DH_PATHS_* value */
    ck_assert_dh_fail(dh_dataset_load_imagelist(tpath("l2.txt"), &o, &ds), DH_E_INVALID_ARG);
    dh_imagelist_options_init(&o);
    o.struct_size = 4;
    ck_assert_dh_fail(dh_dataset_load_imagelist(tpath("l2.txt"), &o, &ds), DH_E_INVALID_ARG);
}
END_TEST

START_TEST(test_data_list_loader_streams_with_prefetch)
{
    mkdir(tpath("img"), 0755);
    char list[4096] = "", name[64], line[128];
    for (int i = 0; i < 24; i++) {
        snprintf(name, sizeof name, "img/%02d.%s", i, i % 3 == 0 ? "png" : i % 3 == 1 ? "jpg" : "bmp");
        write_image(name, 24 + i, 20, i % 3 == 0 ? "png" : i % 3 == 1 ? "jpg" : "bmp");
        snprintf(line, sizeof line, "%s %d\n", name, i % 5);
        strcat(list, line);
    }
    write_text(tpath("big.txt"), list);
    dh_imagelist_options o;
    dh_imagelist_options_init(&o);
    o.height = o.width = 16, o.cache_bytes = 16 * 16 * 3 * 5; /* 5 slots for 24 images */
    dh_dataset *ds;
    ck_assert_dh_ok(dh_dataset_load_imagelist(tpath("big.txt"), &o, &ds));
    dh_loader_options lo;
    dh_loader_options_init(&lo);
    lo.batch_size = 5, lo.n_threads = 3, lo.out_height = lo.out_width = 12, lo.two_views = 1;
    lo.augment = DH_AUG_RESIZED_CROP | DH_AUG_FLIP;
    lo.mean[0] = lo.mean[1] = lo.mean[2] = 0.5f;
    lo.std[0] = lo.std[1] = lo.std[2] = 0.25f;
    float *x[2], *x2[2];
    for (int r = 0; r < 2; r++) {
        x[r] = malloc(24 * 432 * sizeof(float)), x2[r] = malloc(24 * 432 * sizeof(float));
        lo.prefetch = (uint32_t)r;
        dh_loader *L;
        ck_assert_dh_ok(dh_loader_create(ds, &lo, &L));
        size_t n, k = 0;
        float bx[5 * 432], bx2[5 * 432];
        while (dh_loader_next(L, bx, bx2, NULL, NULL, NULL, &n) == DH_OK && n) {
            memcpy(x[r] + k * 432, bx, n * 432 * sizeof(float));
            memcpy(x2[r] + k * 432, bx2, n * 432 * sizeof(float));
            k += n;
        }
        ck_assert_uint_eq(k, 24);
        dh_loader_free(L);
    }
    ck_assert_int_eq(memcmp(x[0], x[1], 24 * 432 * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(x2[0], x2[1], 24 * 432 * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(x[0], x2[0], 24 * 432 * sizeof(float)), 0); /* two views differ */
    for (size_t i = 0; i < 24 * 432; i++) ck_assert(x[0][i] >= -2.0f && x[0][i] <= 2.0f);
    for (int r = 0; r < 2; r++) free(x[r]), free(x2[r]);
    dh_dataset_free(ds);
}
END_TEST

Suite *data_list_suite(void)
{
    Suite *s = suite_create("data_list");
    TCase *t = tcase_create("ImageList");
    tcase_add_test(t, test_data_list_parse_formats);
    tcase_add_test(t, test_data_list_decode_resize_and_cache);
    tcase_add_test(t, test_data_list_missing_and_corrupt_images);
    tcase_add_test(t, test_data_list_loader_streams_with_prefetch);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(data_list_suite()); }
