/* tests/check_finegrained_lists.c -- CUB-200-2011 and FGVC-Aircraft annotation files
 * through dh_finegrained_write_list / dh_dataset_load_finegrained, on generated
 * miniature folders (tiny PPM images under the real file names: stb_image detects
 * the format from the content), including malformed files. */
#include "testutil.h"

#include "core/alloc_budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char root[512];

static void put(const char *rel, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void put_image(const char *rel, unsigned char value)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "P6\n4 4\n255\n");
    for (int i = 0; i < 48; i++) fputc(value, f);
    fclose(f);
}

static void mkdirs(const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    ck_assert_int_eq(mkdir(p, 0755), 0);
}

/* CUB: 5 images, 3 classes; ids 1..5 (class 1, 1, 2, 3, 3), train 1 0 1 1 0. */
static void make_cub(const char *sub)
{
    snprintf(root, sizeof root, "%s/%s", dh_test_tmpdir(), sub);
    ck_assert_int_eq(mkdir(root, 0755), 0);
    mkdirs("images");
    mkdirs("images/001.Albatross");
    mkdirs("images/002.Auklet");
    mkdirs("images/003.Blackbird");
    const char *paths[5] = {"001.Albatross/a_1.jpg", "001.Albatross/a_2.jpg",
                            "002.Auklet/b_1.jpg", "003.Blackbird/c_1.jpg",
                            "003.Blackbird/c_2.jpg"};
    for (int i = 0; i < 5; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "images/%s", paths[i]);
        put_image(rel, (unsigned char)(10 * (i + 1)));
    }
    put("images.txt", "1 001.Albatross/a_1.jpg\n2 001.Albatross/a_2.jpg\n3 002.Auklet/b_1.jpg\n"
                      "4 003.Blackbird/c_1.jpg\r\n5 003.Blackbird/c_2.jpg\n");
    put("image_class_labels.txt", "1 1\n2 1\n3 2\n4 3\n5 3\n");
    put("train_test_split.txt", "1 1\n2 0\n3 1\n4 1\n5 0\n");
}

START_TEST(test_finegrained_lists_cub_load)
{
    make_cub("cub");
    dh_imagelist_options o;
    dh_imagelist_options_init(&o);
    o.height = o.width = 4;
    dh_dataset *tr, *te, *all;
    ck_assert_dh_ok(dh_dataset_load_finegrained(DH_FINEGRAINED_CUB, root, "train", &o, &tr));
    ck_assert_dh_ok(dh_dataset_load_finegrained(DH_FINEGRAINED_CUB, root, "test", &o, &te));
    ck_assert_dh_ok(dh_dataset_load_finegrained(DH_FINEGRAINED_CUB, root, "all", NULL, &all));
    ck_assert_uint_eq(dh_dataset_count(tr), 3);
    ck_assert_uint_eq(dh_dataset_count(te), 2);
    ck_assert_uint_eq(dh_dataset_count(all), 5);
    ck_assert_uint_eq(dh_dataset_n_classes(tr), 3);
    ck_assert_uint_eq(dh_dataset_n_classes(te), 3); /* class 2 has no test image */
    int32_t ids[3];
    ck_assert_dh_ok(dh_dataset_get_class_ids(tr, 0, 3, ids));
    ck_assert_int_eq(ids[0], 0);
    ck_assert_int_eq(ids[1], 1);
    ck_assert_int_eq(ids[2], 2);
    ck_assert_dh_ok(dh_dataset_get_class_ids(te, 0, 2, ids));
    ck_assert_int_eq(ids[0], 0);
    ck_assert_int_eq(ids[1], 2);
    uint8_t px[48];
    ck_assert_dh_ok(dh_dataset_get_image(te, 1, px)); /* image 5: value 50 */
    ck_assert_uint_eq(px[0], 50);
    ck_assert_uint_eq(px[47], 50);
    dh_dataset_free(tr), dh_dataset_free(te), dh_dataset_free(all);

    char out[600];
    snprintf(out, sizeof out, "%s/train.list", root);
    uint32_t nc = 0;
    size_t n = 0;
    ck_assert_dh_ok(dh_finegrained_write_list(DH_FINEGRAINED_CUB, root, "train", out, &nc, &n));
    ck_assert_uint_eq(nc, 3);
    ck_assert_uint_eq(n, 3);
    FILE *f = fopen(out, "rb");
    char text[512] = {0};
    ck_assert_uint_gt(fread(text, 1, sizeof text - 1, f), 0);
    fclose(f);
    ck_assert_str_eq(text, "images/001.Albatross/a_1.jpg 0\nimages/002.Auklet/b_1.jpg 1\n"
                           "images/003.Blackbird/c_1.jpg 2\n");
    /* the written list loads through the ordinary list reader (root = list folder) */
    dh_dataset *ds;
    ck_assert_dh_ok(dh_dataset_load_imagelist(out, NULL, &ds));
    ck_assert_uint_eq(dh_dataset_count(ds), 3);
    dh_dataset_free(ds);
}
END_TEST

static void expect_cub_error(const char *file, const char *text, dh_status want,
                             const char *needle)
{
    put(file, text);
    dh_dataset *ds = (dh_dataset *)1;
    ck_assert_dh_fail(dh_dataset_load_finegrained(DH_FINEGRAINED_CUB, root, "train", NULL, &ds),
                      want);
    ck_assert_ptr_null(ds);
    ck_assert_msg(strstr(dh_last_error(), needle) != NULL, "message '%s' lacks '%s'",
                  dh_last_error(), needle);
}

START_TEST(test_finegrained_lists_cub_malformed)
{
    make_cub("cub_bad");
    const char *img = "1 001.Albatross/a_1.jpg\n2 001.Albatross/a_2.jpg\n3 002.Auklet/b_1.jpg\n"
                      "4 003.Blackbird/c_1.jpg\n5 003.Blackbird/c_2.jpg\n";
    expect_cub_error("images.txt", "1 a.jpg\nx b.jpg\n", DH_E_FORMAT, "images.txt:2");
    expect_cub_error("images.txt", "1 a.jpg\n1 b.jpg\n", DH_E_FORMAT, "appears twice");
    expect_cub_error("images.txt", "1 a b.jpg\n", DH_E_FORMAT, "images.txt:1");
    expect_cub_error("images.txt", "", DH_E_FORMAT, "no images");
    expect_cub_error("images.txt", "0 a.jpg\n", DH_E_FORMAT, "images.txt:1");
    expect_cub_error("images.txt", "99999999999 a.jpg\n", DH_E_FORMAT, "images.txt:1");
    put("images.txt", img);
    expect_cub_error("image_class_labels.txt", "1 1\n2 1\n3 2\n4 3\n9 3\n", DH_E_FORMAT,
                     "image_class_labels.txt:5");
    expect_cub_error("image_class_labels.txt", "1 1\n2 0\n", DH_E_FORMAT,
                     "image_class_labels.txt:2");
    expect_cub_error("image_class_labels.txt", "1 1\n2 1\n3 2\n4 3\n", DH_E_FORMAT,
                     "image id 5 has no entry");
    put("image_class_labels.txt", "1 1\n2 1\n3 2\n4 3\n5 3\n");
    expect_cub_error("train_test_split.txt", "1 1\n2 2\n", DH_E_FORMAT, "0 or 1");
    expect_cub_error("train_test_split.txt", "1 1\n2 1\n3 1\n4 1\n", DH_E_FORMAT, "no entry");
    expect_cub_error("train_test_split.txt", "1 0\n2 0\n3 0\n4 0\n5 0\n", DH_E_FORMAT,
                     "no images");
    put("train_test_split.txt", "1 1\n2 0\n3 1\n4 1\n5 0\n");
    char p[1024];
    snprintf(p, sizeof p, "%s/images/002.Auklet/b_1.jpg", root);
    ck_assert_int_eq(remove(p), 0);
    expect_cub_error("train_test_split.txt", "1 1\n2 0\n3 1\n4 1\n5 0\n", DH_E_NOT_FOUND,
                     "b_1.jpg");
    snprintf(p, sizeof p, "%s/image_class_labels.txt", root);
    ck_assert_int_eq(remove(p), 0);
    dh_dataset *ds;
    ck_assert_dh_fail(dh_dataset_load_finegrained(DH_FINEGRAINED_CUB, root, "train", NULL, &ds),
                      DH_E_NOT_FOUND);
    /* arguments */
    ck_assert_dh_fail(dh_dataset_load_finegrained(DH_FINEGRAINED_CUB, root, "val", NULL, &ds),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_dataset_load_finegrained(7, root, "train", NULL, &ds), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_dataset_load_finegrained(0, NULL, "train", NULL, &ds), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_dataset_load_finegrained(0, root, NULL, NULL, &ds), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_dataset_load_finegrained(0, root, "train", NULL, NULL),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_finegrained_write_list(0, root, "train", NULL, NULL, NULL),
                      DH_E_INVALID_ARG);
    dh_imagelist_options o;
    dh_imagelist_options_init(&o);
    o.struct_size = sizeof o + 8; /* oversized: the tail read past the struct is not zero */
    struct {
        dh_imagelist_options o;
        uint64_t more;
    } big = {o, 1};
    ck_assert_dh_fail(dh_dataset_load_finegrained(0, root, "train", &big.o, &ds), DH_E_VERSION);
}
END_TEST

/* Aircraft: 3 variants (names with spaces and slashes), train 3 images, val 2, test 1. */
static void make_aircraft(const char *sub)
{
    snprintf(root, sizeof root, "%s/%s", dh_test_tmpdir(), sub);
    ck_assert_int_eq(mkdir(root, 0755), 0);
    mkdirs("images");
    const char *ids[6] = {"0034309", "0034958", "1025794", "0056978", "0062765", "1514522"};
    for (int i = 0; i < 6; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "images/%s.jpg", ids[i]);
        put_image(rel, (unsigned char)(i + 1));
    }
    put("variants.txt", "707-320\nCessna 172\nF/A-18\n");
    put("families.txt", "Boeing 707\nCessna 172\nF/A-18\n");
    put("images_variant_train.txt", "0034309 F/A-18\n0034958 707-320\n1025794 Cessna 172\n");
    put("images_variant_val.txt", "0056978 Cessna 172\r\n0062765 F/A-18\n");
    put("images_variant_test.txt", "1514522 707-320\n");
    put("images_family_train.txt", "0034309 F/A-18\n0034958 Boeing 707\n1025794 Cessna 172\n");
}

START_TEST(test_finegrained_lists_aircraft_load)
{
    make_aircraft("air");
    dh_imagelist_options o;
    dh_imagelist_options_init(&o);
    o.height = o.width = 4;
    o.channels = 1;
    dh_dataset *tv, *te, *fam;
    ck_assert_dh_ok(
        dh_dataset_load_finegrained(DH_FINEGRAINED_AIRCRAFT_VARIANT, root, "trainval", &o, &tv));
    ck_assert_dh_ok(
        dh_dataset_load_finegrained(DH_FINEGRAINED_AIRCRAFT_VARIANT, root, "test", &o, &te));
    ck_assert_dh_ok(
        dh_dataset_load_finegrained(DH_FINEGRAINED_AIRCRAFT_FAMILY, root, "train", &o, &fam));
    ck_assert_uint_eq(dh_dataset_count(tv), 5);
    ck_assert_uint_eq(dh_dataset_count(te), 1);
    ck_assert_uint_eq(dh_dataset_n_classes(te), 3);
    int32_t ids[5];
    ck_assert_dh_ok(dh_dataset_get_class_ids(tv, 0, 5, ids));
    const int32_t want[5] = {2, 0, 1, 1, 2};
    for (int i = 0; i < 5; i++) ck_assert_int_eq(ids[i], want[i]);
    ck_assert_dh_ok(dh_dataset_get_class_ids(fam, 0, 3, ids));
    ck_assert_int_eq(ids[1], 0);
    uint8_t px[16];
    ck_assert_dh_ok(dh_dataset_get_image(tv, 4, px)); /* 0062765: value 5 */
    ck_assert_uint_eq(px[0], 5);
    dh_dataset_free(tv), dh_dataset_free(te), dh_dataset_free(fam);
    char out[600];
    snprintf(out, sizeof out, "%s/test.list", root);
    uint32_t nc;
    size_t n;
    ck_assert_dh_ok(dh_finegrained_write_list(DH_FINEGRAINED_AIRCRAFT_VARIANT, root, "test", out,
                                              &nc, &n));
    ck_assert_uint_eq(nc, 3);
    ck_assert_uint_eq(n, 1);
}
END_TEST

static void expect_air_error(const char *file, const char *text, const char *split,
                             dh_status want, const char *needle)
{
    if (file) put(file, text);
    char out[600];
    snprintf(out, sizeof out, "%s/x.list", root);
    ck_assert_dh_fail(dh_finegrained_write_list(DH_FINEGRAINED_AIRCRAFT_VARIANT, root, split,
                                                out, NULL, NULL),
                      want);
    ck_assert_msg(strstr(dh_last_error(), needle) != NULL, "message '%s' lacks '%s'",
                  dh_last_error(), needle);
    FILE *f = fopen(out, "rb");
    ck_assert_ptr_null(f); /* nothing written on failure */
}

START_TEST(test_finegrained_lists_aircraft_malformed)
{
    make_aircraft("air_bad");
    expect_air_error("images_variant_test.txt", "1514522 Boeing 999\n", "test", DH_E_FORMAT,
                     "images_variant_test.txt:1: class 'Boeing 999'");
    expect_air_error("images_variant_test.txt", "1514522\n", "test", DH_E_FORMAT,
                     "images_variant_test.txt:1");
    expect_air_error("images_variant_test.txt", " 707-320\n", "test", DH_E_FORMAT,
                     "images_variant_test.txt:1");
    expect_air_error("images_variant_test.txt", "../etc 707-320\n", "test", DH_E_FORMAT,
                     "malformed");
    expect_air_error("images_variant_test.txt", "\n\n", "test", DH_E_FORMAT, "no images");
    expect_air_error(NULL, NULL, "bogus", DH_E_INVALID_ARG, "bogus");
    expect_air_error("variants.txt", "707-320\n707-320\n", "train", DH_E_FORMAT, "twice");
    expect_air_error("variants.txt", "\n", "train", DH_E_FORMAT, "no class names");
    char p[1024];
    snprintf(p, sizeof p, "%s/variants.txt", root);
    ck_assert_int_eq(remove(p), 0);
    expect_air_error(NULL, NULL, "train", DH_E_NOT_FOUND, "variants.txt");
    dh_dataset *ds;
    ck_assert_dh_fail(dh_dataset_load_finegrained(DH_FINEGRAINED_AIRCRAFT_MANUFACTURER, root,
                                                  "train", NULL, &ds),
                      DH_E_NOT_FOUND);
}
END_TEST

/* Issue 19's rule for tiny inputs (fuzz_finegrained_lists found both): memory follows
 * the number of lines, not the largest image id (a 16-byte images.txt naming id 2^24
 * used to allocate 208 MB of dense tables), and class names are looked up in
 * n log n (a 1 MB variants.txt plus a split file naming its last class used to cost
 * names x lines string compares). */
START_TEST(test_finegrained_lists_bounded)
{
    snprintf(root, sizeof root, "%s/%s", dh_test_tmpdir(), "bounded");
    ck_assert_int_eq(mkdir(root, 0755), 0);
    char out[1024];
    snprintf(out, sizeof out, "%s/out.list", root);
    put("images.txt", "16777216 a.jpg\n");
    put("image_class_labels.txt", "16777216 1\n");
    uint32_t nc = 0;
    size_t n = 0;
    dh__alloc_test_arm(0);
    dh_status st = dh_finegrained_write_list(DH_FINEGRAINED_CUB, root, "all", out, &nc, &n);
    size_t bytes = dh__alloc_test_bytes();
    dh__alloc_test_arm(-1);
    ck_assert_dh_ok(st);
    ck_assert_uint_eq(n, 1);
    ck_assert_msg(bytes < (1u << 20), "CUB list with id 2^24 allocated %zu bytes", bytes);

    enum { NAMES = 100000 };
    char *names = malloc((size_t)NAMES * 12 + 1), *split = malloc((size_t)NAMES * 20 + 1);
    ck_assert_ptr_nonnull(names);
    ck_assert_ptr_nonnull(split);
    size_t a = 0, b = 0;
    for (int i = 0; i < NAMES; i++) a += (size_t)sprintf(names + a, "v%09d\n", i);
    for (int i = 0; i < NAMES; i++)
        b += (size_t)sprintf(split + b, "%07d v%09d\n", i, NAMES - 1);
    put("variants.txt", names);
    put("images_variant_train.txt", split);
    free(names);
    free(split);
    double t0 = dh__now_seconds();
    ck_assert_dh_ok(dh_finegrained_write_list(DH_FINEGRAINED_AIRCRAFT_VARIANT, root, "train",
                                              out, &nc, &n));
    double secs = dh__now_seconds() - t0;
    ck_assert_uint_eq(nc, NAMES);
    ck_assert_uint_eq(n, NAMES);
    ck_assert_msg(secs < 1.0, "Aircraft lists of %d names and lines took %.2f s", NAMES, secs);
    /* the last class is class id NAMES - 1 */
    FILE *f = fopen(out, "rb");
    ck_assert_ptr_nonnull(f);
    char line[128];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    ck_assert_str_eq(line, "images/0000000.jpg 99999\n");
}
END_TEST

Suite *finegrained_lists_suite(void)
{
    Suite *s = suite_create("finegrained_lists");
    TCase *tc = tcase_create("Lists");
    tcase_add_test(tc, test_finegrained_lists_cub_load);
    tcase_add_test(tc, test_finegrained_lists_cub_malformed);
    tcase_add_test(tc, test_finegrained_lists_aircraft_load);
    tcase_add_test(tc, test_finegrained_lists_aircraft_malformed);
    tcase_add_test(tc, test_finegrained_lists_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dh_test_run(finegrained_lists_suite()); }
