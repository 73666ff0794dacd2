/* tests/check_tags.c -- tag readers (lib/data/tags.c: NUS-WIDE matrices, MIRFlickr
 * per-image files, `path tag ...` lists), word vectors (wordvec.c: GloVe, word2vec
 * text), the fashion-mnist-tags generator and protocol (tags_synth.c): good files,
 * malformed lines, unknown tags, empty rows, vocabularies over the limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

static const char *write_file(const char *name, const char *text, size_t len)
{
    static char path[8][512];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", dh_test_tmpdir(), name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(text, 1, len, f);
    fclose(f);
    return p;
}
#define WRITE(name, text) write_file(name, text, sizeof(text) - 1)

static dh_tags *load(const char *path, int32_t format, const char *vocab, dh_status want)
{
    dh_tags_options o;
    dh_tags_options_init(&o);
    o.format = format;
    o.vocabulary = vocab;
    dh_tags *t = NULL;
    dh_clear_error();
    dh_status st = dh_tags_load(path, &o, &t);
    ck_assert_msg(st == want, "dh_tags_load(%s) = %d (%s), want %d", path, st, dh_last_error(),
                  want);
    if (want != DH_OK) {
        ck_assert_ptr_null(t);
        ck_assert(dh_last_error()[0]);
    }
    return t;
}

static void expect_error(const char *needle)
{
    ck_assert_msg(strstr(dh_last_error(), needle), "error '%s' does not say '%s'", dh_last_error(),
                  needle);
}

START_TEST(test_matrix_good)
{
    const char *voc = WRITE("TagList1k.txt", "sky\nsea\r\nboat\n");
    const char *m = WRITE("AllTags1k.txt", "0 1 0\n1\t1 0 \n0 0 0\n");
    dh_tags *t = load(m, DH_TAGS_MATRIX, voc, DH_OK);
    ck_assert_uint_eq(dh_tags_count(t), 3);
    ck_assert_uint_eq(dh_tags_vocab_size(t), 3);
    ck_assert_str_eq(dh_tags_name(t, 0), "sky");
    ck_assert_str_eq(dh_tags_name(t, 1), "sea");
    ck_assert_ptr_null(dh_tags_name(t, 3));
    float r[9];
    ck_assert_dh_ok(dh_tags_get(t, 0, 3, r));
    const float want[9] = {0, 1, 0, 1, 1, 0, 0, 0, 0}; /* a row of zeros: no tag */
    ck_assert_mem_eq(r, want, sizeof want);
    ck_assert_dh_fail(dh_tags_get(t, 2, 2, r), DH_E_INVALID_ARG);
    /* attach beside labels: the labels stay, the tags come along in subsets */
    float f[6] = {0};
    int32_t cls[3] = {0, 1, 0};
    dh_dataset *ds;
    ck_assert_dh_ok(dh_dataset_from_features(f, 3, 2, cls, NULL, 2, &ds));
    ck_assert_dh_ok(dh_dataset_attach_tags(ds, t));
    ck_assert_uint_eq(dh_dataset_n_tags(ds), 3);
    ck_assert_uint_eq(dh_dataset_n_classes(ds), 2);
    int64_t pick[1] = {1};
    dh_dataset *sub;
    ck_assert_dh_ok(dh_dataset_subset(ds, pick, 1, &sub));
    ck_assert_dh_ok(dh_dataset_get_tags(sub, 0, 1, r));
    ck_assert_mem_eq(r, want + 3, 3 * sizeof(float));
    dh_dataset_free(sub);
    dh_dataset_free(ds);
    ck_assert_dh_ok(dh_dataset_from_features(f, 2, 3, NULL, NULL, 0, &ds));
    ck_assert_dh_fail(dh_dataset_attach_tags(ds, t), DH_E_SHAPE);
    dh_dataset_free(ds);
    dh_tags_free(t);
}
END_TEST

START_TEST(test_matrix_bad)
{
    char voc[512]; /* write_file's paths are a ring of 8 */
    snprintf(voc, sizeof voc, "%s", WRITE("tl.txt", "sky\nsea\nboat\n"));
    load(WRITE("m1.txt", "0 1 0\n0 2 0\n"), DH_TAGS_MATRIX, voc, DH_E_FORMAT);
    expect_error(":2: value 2 is '2'");
    load(WRITE("m2.txt", "0 1 0\n0 1\n"), DH_TAGS_MATRIX, voc, DH_E_FORMAT);
    expect_error(":2: 2 values, the tag list has 3");
    load(WRITE("m3.txt", "0 1 0\n\n0 0 1\n"), DH_TAGS_MATRIX, voc, DH_E_FORMAT);
    expect_error(":2: empty line");
    load(WRITE("m4.txt", "0 1 0 1\n"), DH_TAGS_MATRIX, voc, DH_E_FORMAT);
    load(WRITE("m5.txt", "0 x 0\n"), DH_TAGS_MATRIX, voc, DH_E_FORMAT);
    load(WRITE("m6.txt", ""), DH_TAGS_MATRIX, voc, DH_E_FORMAT);
    load(WRITE("m7.txt", "0 1 0\n"), DH_TAGS_MATRIX, NULL, DH_E_INVALID_ARG);
    load(WRITE("m8.txt", "0 1 0\n"), DH_TAGS_MATRIX, WRITE("tl2.txt", "a\nb\na\n"),
         DH_E_FORMAT);
    expect_error("repeats line 1");
    load(WRITE("m9.txt", "0 1 0\n"), DH_TAGS_MATRIX, WRITE("tl3.txt", "a\n\nb\n"), DH_E_FORMAT);
    load(WRITE("m10.txt", "0 1 0\n"), DH_TAGS_MATRIX, WRITE("tl4.txt", "a\nb\x01z\nc\n"),
         DH_E_FORMAT);
    expect_error("control byte");
    load("/nonexistent/AllTags1k.txt", DH_TAGS_MATRIX, voc, DH_E_NOT_FOUND);
    /* a vocabulary over max_tags is refused before any row is read */
    dh_tags_options o;
    dh_tags_options_init(&o);
    o.format = DH_TAGS_MATRIX;
    o.vocabulary = voc;
    o.max_tags = 2;
    dh_tags *t = NULL;
    ck_assert_dh_fail(dh_tags_load(WRITE("m11.txt", "0 1 0\n"), &o, &t), DH_E_FORMAT);
    expect_error("max_tags");
    o.max_tags = 0;
    o.max_images = 1;
    ck_assert_dh_fail(dh_tags_load(WRITE("m12.txt", "0 1 0\n1 0 0\n"), &o, &t), DH_E_FORMAT);
    expect_error("max_images");
    o.format = 7;
    ck_assert_dh_fail(dh_tags_load(voc, &o, &t), DH_E_INVALID_ARG);
}
END_TEST

START_TEST(test_list)
{
    const char *l = WRITE("list.txt", "a.jpg dog cat\nb.jpg dog dog\nc.jpg\n");
    dh_tags *t = load(l, DH_TAGS_LIST, NULL, DH_OK);
    ck_assert_uint_eq(dh_tags_count(t), 3);
    ck_assert_uint_eq(dh_tags_vocab_size(t), 2);
    ck_assert_str_eq(dh_tags_name(t, 0), "cat"); /* built vocabularies are sorted */
    ck_assert_str_eq(dh_tags_name(t, 1), "dog");
    float r[6];
    ck_assert_dh_ok(dh_tags_get(t, 0, 3, r));
    const float want[6] = {1, 1, 0, 1, 0, 0};
    ck_assert_mem_eq(r, want, sizeof want);
    dh_tags_free(t);
    /* min_count keeps the tags of >= 2 images */
    dh_tags_options o;
    dh_tags_options_init(&o);
    o.format = DH_TAGS_LIST;
    o.min_count = 2;
    ck_assert_dh_ok(dh_tags_load(l, &o, &t));
    ck_assert_uint_eq(dh_tags_vocab_size(t), 1);
    ck_assert_str_eq(dh_tags_name(t, 0), "dog");
    dh_tags_free(t);
    /* a given vocabulary: unknown tags are errors (line named) or skipped */
    const char *voc = WRITE("voc.txt", "dog\n");
    load(l, DH_TAGS_LIST, voc, DH_E_FORMAT);
    expect_error("list.txt:1: tag 'cat' is not in the tag list");
    o.min_count = 1;
    o.vocabulary = voc;
    o.unknown = DH_TAGS_UNKNOWN_SKIP;
    ck_assert_dh_ok(dh_tags_load(l, &o, &t));
    ck_assert_uint_eq(dh_tags_vocab_size(t), 1);
    dh_tags_free(t);
    /* malformed */
    load(WRITE("l2.txt", "a.jpg dog\n\nb.jpg cat\n"), DH_TAGS_LIST, NULL, DH_E_FORMAT);
    expect_error(":2: empty line");
    char big[400];
    memset(big, 'x', sizeof big);
    memcpy(big, "a.jpg ", 6);
    big[sizeof big - 1] = '\n';
    load(write_file("l3.txt", big, sizeof big), DH_TAGS_LIST, NULL, DH_E_FORMAT);
    expect_error("longer than 256 bytes");
    load(WRITE("l4.txt", "a.jpg do\0g\n"), DH_TAGS_LIST, NULL, DH_E_FORMAT);
    load(WRITE("l5.txt", "a.jpg\nb.jpg\n"), DH_TAGS_LIST, NULL, DH_E_FORMAT); /* no tag at all */
    /* a vocabulary larger than max_tags: a clear error, not an allocation */
    o.vocabulary = NULL;
    o.max_tags = 1;
    ck_assert_dh_fail(dh_tags_load(l, &o, &t), DH_E_FORMAT);
    expect_error("more than max_tags 1");
}
END_TEST

START_TEST(test_huge_vocabulary)
{
    /* 70,000 distinct tags: over the 65,536 limit, refused in bounded time */
    size_t n = 70000, cap = n * 16 + 16, off = 0;
    char *text = malloc(cap);
    for (size_t i = 0; i < n; i++) off += (size_t)snprintf(text + off, cap - off, "i t%zu\n", i);
    const char *p = write_file("huge.txt", text, off);
    free(text);
    load(p, DH_TAGS_LIST, NULL, DH_E_FORMAT);
    expect_error("more than max_tags 65536");
}
END_TEST

START_TEST(test_mirflickr_files)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/mirflickr_tags", dh_test_tmpdir());
    mkdir(dir, 0700);
    const char *files[3][2] = {{"tags1.txt", "sky\nsea\r\n"}, {"tags2.txt", ""},
                               {"tags3.txt", "sea\n\nsea\n"}};
    for (int i = 0; i < 3; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, files[i][0]);
        FILE *f = fopen(p, "wb");
        fputs(files[i][1], f);
        fclose(f);
    }
    dh_tags *t = load(dir, DH_TAGS_FILES, NULL, DH_OK);
    ck_assert_uint_eq(dh_tags_count(t), 3);
    ck_assert_uint_eq(dh_tags_vocab_size(t), 2);
    ck_assert_str_eq(dh_tags_name(t, 0), "sea");
    float r[6];
    ck_assert_dh_ok(dh_tags_get(t, 0, 3, r));
    const float want[6] = {1, 1, 0, 0, 1, 0};
    ck_assert_mem_eq(r, want, sizeof want);
    dh_tags_free(t);
    char p[600];
    snprintf(p, sizeof p, "%s/tags4.txt", dir);
    FILE *f = fopen(p, "wb");
    fputs("blue sky\n", f);
    fclose(f);
    load(dir, DH_TAGS_FILES, NULL, DH_E_FORMAT);
    expect_error("tags4.txt:1");
    load(dh_test_tmpdir(), DH_TAGS_FILES, NULL, DH_E_NOT_FOUND);
}
END_TEST

START_TEST(test_word_vectors)
{
    const char *l = WRITE("wl.txt", "a.jpg Cat dog\nb.jpg fish\n");
    dh_tags *t = load(l, DH_TAGS_LIST, NULL, DH_OK); /* names: Cat, dog, fish */
    const char *glove = WRITE("glove.txt", "the 9 9\ncat 1 0.5\ndog 0 1\ndog 5 5\n");
    uint32_t dim = 0, found = 0;
    ck_assert_dh_ok(dh_word_vectors_dim(glove, &dim));
    ck_assert_uint_eq(dim, 2);
    float E[6];
    ck_assert_dh_ok(dh_word_vectors_load(glove, t, 2, E, &found));
    ck_assert_uint_eq(found, 2);
    const float want[6] = {1, 0.5f, 0, 1, 0, 0}; /* Cat via lower case; first dog wins */
    ck_assert_mem_eq(E, want, sizeof want);
    const char *w2v = WRITE("w2v.txt", "3 2\ncat 1 0.5\ndog 0 1\nfish -1 -1\n");
    ck_assert_dh_ok(dh_word_vectors_dim(w2v, &dim));
    ck_assert_uint_eq(dim, 2);
    ck_assert_dh_ok(dh_word_vectors_load(w2v, t, 2, E, &found));
    ck_assert_uint_eq(found, 3);
    ck_assert(E[4] == -1.0f && E[5] == -1.0f);
    ck_assert_dh_fail(dh_word_vectors_load(w2v, t, 3, E, &found), DH_E_SHAPE);
    ck_assert_dh_fail(dh_word_vectors_load(WRITE("b1.txt", "cat 1 2\ndog 1\n"), t, 2, E, NULL),
                      DH_E_FORMAT);
    expect_error(":2: 'dog' has 1 values, want 2");
    ck_assert_dh_fail(dh_word_vectors_load(WRITE("b2.txt", "cat 1 2\ndog 1 2 3\n"), t, 2, E,
                                           NULL), DH_E_FORMAT);
    ck_assert_dh_fail(dh_word_vectors_load(WRITE("b3.txt", "cat 1 2\ndog nan 2\n"), t, 2, E,
                                           NULL), DH_E_FORMAT);
    expect_error("not finite");
    ck_assert_dh_fail(dh_word_vectors_load(WRITE("b4.txt", "cat 1 2\ndog \0 2\n"), t, 2, E,
                                           NULL), DH_E_FORMAT);
    expect_error("NUL byte");
    ck_assert_dh_fail(dh_word_vectors_dim(WRITE("b5.txt", "cat\n"), &dim), DH_E_FORMAT);
    ck_assert_dh_fail(dh_word_vectors_dim(WRITE("b6.txt", ""), &dim), DH_E_FORMAT);
    ck_assert_dh_fail(dh_word_vectors_dim(WRITE("b7.txt", "3 0\n"), &dim), DH_E_FORMAT);
    /* a line over 1 MB is refused, not buffered */
    size_t big = (1u << 20) + 100;
    char *text = malloc(big);
    memcpy(text, "cat 1 2\ndog ", 12);
    for (size_t i = 12; i < big - 1; i++) text[i] = i % 2 ? ' ' : '1';
    text[big - 1] = '\n';
    ck_assert_dh_fail(dh_word_vectors_load(write_file("b8.txt", text, big), t, 2, E, NULL),
                      DH_E_FORMAT);
    expect_error("longer than");
    free(text);
    dh_tags_free(t);
}
END_TEST

START_TEST(test_fashion_tags)
{
    enum { N = 400 };
    float *f = calloc(N * 2, sizeof(float));
    int32_t cls[N];
    for (int i = 0; i < N; i++) cls[i] = i % 10;
    dh_dataset *ds;
    ck_assert_dh_ok(dh_dataset_from_features(f, N, 2, cls, NULL, 10, &ds));
    dh_tags *t = NULL, *t2 = NULL;
    ck_assert_dh_ok(dh_tags_synthesize(ds, "fashion-mnist-tags", 1.0, 0.0, 7, &t));
    const uint32_t T = dh_tags_vocab_size(t);
    ck_assert_uint_eq(T, 40);
    float *r = malloc(N * T * sizeof(float));
    ck_assert_dh_ok(dh_tags_get(t, 0, N, r));
    /* keep 1, noise 0: exactly the class's words; footwear on sandal/sneaker/boot only,
     * sleeves on pullover/coat/shirt only, noise words never */
    uint32_t footwear = 99, sleeves = 99, photo = 99;
    for (uint32_t k = 0; k < T; k++) {
        if (!strcmp(dh_tags_name(t, k), "footwear")) footwear = k;
        if (!strcmp(dh_tags_name(t, k), "sleeves")) sleeves = k;
        if (!strcmp(dh_tags_name(t, k), "photo")) photo = k;
    }
    ck_assert(footwear < T && sleeves < T && photo < T);
    for (int i = 0; i < N; i++) {
        int c = i % 10;
        ck_assert_int_eq(r[i * T + footwear] == 1.0f, c == 5 || c == 7 || c == 9);
        ck_assert_int_eq(r[i * T + sleeves] == 1.0f, c == 2 || c == 4 || c == 6);
        ck_assert(r[i * T + photo] == 0.0f);
        ck_assert(r[i * T + (uint32_t)c] == 1.0f); /* the class word */
    }
    dh_tags_free(t);
    /* keep 0.5, noise 0.2: about half the class tags; wrong tags appear; seeded */
    ck_assert_dh_ok(dh_tags_synthesize(ds, "fashion-mnist-tags", 0.5, 0.2, 7, &t));
    ck_assert_dh_ok(dh_tags_synthesize(ds, "fashion-mnist-tags", 0.5, 0.2, 7, &t2));
    float *r2 = malloc(N * T * sizeof(float));
    ck_assert_dh_ok(dh_tags_get(t, 0, N, r));
    ck_assert_dh_ok(dh_tags_get(t2, 0, N, r2));
    ck_assert_mem_eq(r, r2, N * T * sizeof(float));
    double kept = 0, noise = 0;
    for (int i = 0; i < N; i++) {
        kept += r[i * T + (uint32_t)(i % 10)];
        noise += r[i * T + photo];
    }
    ck_assert_msg(kept > 0.4 * N && kept < 0.6 * N, "class word kept %g of %d", kept, N);
    ck_assert(noise > 0);
    dh_tags_free(t2);
    ck_assert_dh_ok(dh_tags_synthesize(ds, "fashion-mnist-tags", 0.5, 0.2, 8, &t2));
    ck_assert_dh_ok(dh_tags_get(t2, 0, N, r2));
    ck_assert(memcmp(r, r2, N * T * sizeof(float)) != 0);
    dh_tags_free(t2);
    /* a subset gets the rows the whole set got (drawn per source sample) */
    int64_t pick[3] = {5, 17, 300};
    dh_dataset *sub;
    ck_assert_dh_ok(dh_dataset_subset(ds, pick, 3, &sub));
    ck_assert_dh_ok(dh_tags_synthesize(sub, "fashion-mnist-tags", 0.5, 0.2, 7, &t2));
    ck_assert_dh_ok(dh_tags_get(t2, 0, 3, r2));
    for (int k = 0; k < 3; k++) ck_assert_mem_eq(r2 + k * T, r + pick[k] * T, T * sizeof(float));
    dh_tags_free(t2);
    dh_dataset_free(sub);
    ck_assert_dh_fail(dh_tags_synthesize(ds, "fashion-mnist-tags", 1.5, 0.2, 7, &t2),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_tags_synthesize(ds, "nus-wide", 0.5, 0.2, 7, &t2), DH_E_NOT_FOUND);
    dh_tags_free(t);
    dh_dataset_free(ds);
    ck_assert_dh_ok(dh_dataset_from_features(f, N, 2, cls, NULL, 11, &ds));
    ck_assert_dh_fail(dh_tags_synthesize(ds, "fashion-mnist-tags", 0.5, 0.2, 7, &t2), DH_E_SHAPE);
    dh_dataset_free(ds);
    free(f), free(r), free(r2);
}
END_TEST

START_TEST(test_fashion_protocol)
{
    /* fashion-mnist-tags = the fashion-mnist split with tags on train only */
    enum { NA = 12000, NB = 50 };
    float *f = calloc(NA, sizeof(float));
    int32_t *cls = malloc(NA * sizeof(int32_t));
    for (int i = 0; i < NA; i++) cls[i] = i % 10;
    dh_dataset *a, *b, *tr, *q, *db, *tr2, *q2, *db2;
    ck_assert_dh_ok(dh_dataset_from_features(f, NA, 1, cls, NULL, 10, &a));
    ck_assert_dh_ok(dh_dataset_from_features(f, NB, 1, cls, NULL, 10, &b));
    ck_assert_dh_ok(dh_protocol_split("fashion-mnist-tags", a, b, 3, &tr, &q, &db));
    ck_assert_dh_ok(dh_protocol_split("fashion-mnist", a, b, 3, &tr2, &q2, &db2));
    ck_assert_uint_eq(dh_dataset_count(tr), dh_dataset_count(tr2));
    ck_assert_uint_eq(dh_dataset_count(q), NB);
    int64_t *o1 = malloc(NA * sizeof(int64_t)), *o2 = malloc(NA * sizeof(int64_t));
    size_t n = dh_dataset_count(tr);
    ck_assert_dh_ok(dh_dataset_get_origin(tr, 0, n, o1));
    ck_assert_dh_ok(dh_dataset_get_origin(tr2, 0, n, o2));
    ck_assert_mem_eq(o1, o2, n * sizeof(int64_t));
    ck_assert_uint_eq(dh_dataset_n_tags(tr), 40);
    ck_assert_uint_eq(dh_dataset_n_classes(tr), 10); /* labels kept for evaluation */
    ck_assert_uint_eq(dh_dataset_n_tags(q), 0);
    int64_t topk = -1;
    ck_assert_dh_ok(dh_protocol_topk("fashion-mnist-tags", &topk));
    ck_assert_int_eq(topk, 0);
    dh_dataset_free(tr), dh_dataset_free(q), dh_dataset_free(db);
    dh_dataset_free(tr2), dh_dataset_free(q2), dh_dataset_free(db2);
    dh_dataset_free(a), dh_dataset_free(b);
    free(f), free(cls), free(o1), free(o2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tags");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_matrix_good);
    tcase_add_test(tc, test_matrix_bad);
    tcase_add_test(tc, test_list);
    tcase_add_test(tc, test_huge_vocabulary);
    tcase_add_test(tc, test_mirflickr_files);
    tcase_add_test(tc, test_word_vectors);
    tcase_add_test(tc, test_fashion_tags);
    tcase_add_test(tc, test_fashion_protocol);
    suite_add_tcase(s, tc);
    return dh_test_run(s);
}
