/* tests/check_data_split.c -- protocols and split builders (sizes, disjointness,
 * determinism), augmentation properties, and the batch loader (order, determinism with
 * and without prefetch threads, resume by seek, options structs). */
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "testutil.h"

/* n feature rows of dim 1 holding their own index; class = i % C. */
static dh_dataset *make_ds(size_t n, uint32_t C)
{
    float *f = malloc(n * sizeof *f);
    int32_t *c = malloc(n * sizeof *c);
    for (size_t i = 0; i < n; i++) f[i] = (float)i, c[i] = (int32_t)(i % C);
    dh_dataset *ds;
    ck_assert_dh_ok(dh_dataset_from_features(f, n, 1, c, NULL, C, &ds));
    free(f), free(c);
    return ds;
}

static int64_t *origins(const dh_dataset *ds)
{
    size_t n = dh_dataset_count(ds);
    int64_t *o = malloc((n + 1) * sizeof *o);
    ck_assert_dh_ok(dh_dataset_get_origin(ds, 0, n, o));
    return o;
}

static void count_classes(const dh_dataset *ds, uint32_t C, int *cnt)
{
    size_t n = dh_dataset_count(ds);
    int32_t *c = malloc((n + 1) * sizeof *c);
    ck_assert_dh_ok(dh_dataset_get_class_ids(ds, 0, n, c));
    memset(cnt, 0, C * sizeof *cnt);
    for (size_t i = 0; i < n; i++) cnt[c[i]]++;
    free(c);
}

START_TEST(test_data_protocol_cifar10_sizes_disjoint_deterministic)
{
    dh_dataset *tr = make_ds(50000, 10), *te = make_ds(10000, 10);
    const char *names[2] = {"cifar10", "cifar10-1"};
    for (int v = 0; v < 2; v++) {
        dh_dataset *t, *q, *d, *t2, *q2, *d2;
        ck_assert_dh_ok(dh_protocol_split(names[v], tr, te, 7, &t, &q, &d));
        ck_assert_uint_eq(dh_dataset_count(q), 1000);
        ck_assert_uint_eq(dh_dataset_count(t), 5000);
        ck_assert_uint_eq(dh_dataset_count(d), v ? 59000 : 54000);
        int cnt[10];
        count_classes(q, 10, cnt);
        for (int c = 0; c < 10; c++) ck_assert_int_eq(cnt[c], 100);
        count_classes(t, 10, cnt);
        for (int c = 0; c < 10; c++) ck_assert_int_eq(cnt[c], 500);
        uint8_t *seen = calloc(60000, 1);
        int64_t *oq = origins(q), *ot = origins(t), *od = origins(d);
        for (int i = 0; i < 1000; i++) seen[oq[i]] |= 1;
        for (int i = 0; i < 5000; i++) ck_assert(!(seen[ot[i]] & 1)), seen[ot[i]] |= 2;
        for (int i = 0; i < (v ? 59000 : 54000); i++) {
            ck_assert(!(seen[od[i]] & 1));
            if (!v) ck_assert(!(seen[od[i]] & 2));
        }
        ck_assert_dh_ok(dh_protocol_split(names[v], tr, te, 7, &t2, &q2, &d2));
        int64_t *oq2 = origins(q2);
        ck_assert_int_eq(memcmp(oq, oq2, 1000 * sizeof *oq), 0);
        free(oq2);
        dh_dataset_free(t2), dh_dataset_free(q2), dh_dataset_free(d2);
        ck_assert_dh_ok(dh_protocol_split(names[v], tr, te, 8, &t2, &q2, &d2));
        oq2 = origins(q2);
        ck_assert_int_ne(memcmp(oq, oq2, 1000 * sizeof *oq), 0);
        free(oq2), free(oq), free(ot), free(od), free(seen);
        dh_dataset_free(t2), dh_dataset_free(q2), dh_dataset_free(d2);
        dh_dataset_free(t), dh_dataset_free(q), dh_dataset_free(d);
    }
    dh_dataset *t, *q, *d;
    ck_assert_dh_ok(dh_protocol_split("cifar10-2", tr, te, 1, &t, &q, &d));
    ck_assert_uint_eq(dh_dataset_count(t), 50000);
    ck_assert_uint_eq(dh_dataset_count(d), 50000);
    ck_assert_uint_eq(dh_dataset_count(q), 10000);
    dh_dataset_free(t), dh_dataset_free(q), dh_dataset_free(d);
    ck_assert_dh_fail(dh_protocol_split("cifar10-2", tr, NULL, 1, &t, &q, &d), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_protocol_split("cifar11", tr, te, 1, &t, &q, &d), DH_E_NOT_FOUND);
    ck_assert_ptr_null(t);
    dh_dataset *small = make_ds(900, 10);
    ck_assert_dh_fail(dh_protocol_split("cifar10", small, NULL, 1, &t, &q, &d), DH_E_SHAPE);
    ck_assert_dh_fail(dh_protocol_split("coco", small, NULL, 1, &t, &q, &d), DH_E_SHAPE);
    dh_dataset_free(small), dh_dataset_free(tr), dh_dataset_free(te);
}
END_TEST

START_TEST(test_data_protocol_fashion_mnist_and_lists)
{
    dh_dataset *tr = make_ds(12000, 10), *te = make_ds(4000, 10), *t, *q, *d;
    ck_assert_dh_ok(dh_protocol_split("fashion-mnist", tr, te, 3, &t, &q, &d));
    ck_assert_uint_eq(dh_dataset_count(t), 10000);
    ck_assert_uint_eq(dh_dataset_count(q), 4000);
    ck_assert_uint_eq(dh_dataset_count(d), 12000);
    int cnt[10];
    count_classes(t, 10, cnt);
    for (int c = 0; c < 10; c++) ck_assert_int_eq(cnt[c], 1000);
    dh_dataset_free(t), dh_dataset_free(q), dh_dataset_free(d);
    ck_assert_dh_ok(dh_protocol_split("coco", tr, te, 3, &t, &q, &d));
    ck_assert_uint_eq(dh_dataset_count(q), 5000);
    ck_assert_uint_eq(dh_dataset_count(t), 10000);
    ck_assert_uint_eq(dh_dataset_count(d), 11000);
    dh_dataset_free(t), dh_dataset_free(q), dh_dataset_free(d);
    int64_t k;
    ck_assert_dh_ok(dh_protocol_topk("coco", &k));
    ck_assert_int_eq(k, 5000);
    ck_assert_dh_ok(dh_protocol_topk("imagenet100", &k));
    ck_assert_int_eq(k, 1000);
    ck_assert_dh_ok(dh_protocol_topk("cifar10", &k));
    ck_assert_int_eq(k, 0);
    ck_assert_dh_fail(dh_protocol_topk("x", &k), DH_E_NOT_FOUND);
    uint32_t n = 0;
    while (dh_protocol_name(n)) n++;
    ck_assert_uint_eq(n, 8); /* with fashion-mnist-tags (tags on train, check_tags.c) */
    dh_dataset_free(tr), dh_dataset_free(te);
}
END_TEST

START_TEST(test_data_protocol_nuswide21_keeps_top_concepts)
{
    /* 30 concepts; concept c is frequent when c >= 9 (21 of them); 2 labels per image */
    size_t n = 24000, C = 30;
    float *lab = calloc(n * C, sizeof *lab), *f = calloc(n, sizeof *f);
    for (size_t i = 0; i < n; i++) {
        lab[i * C + 9 + i % 21] = 1;
        lab[i * C + (i % 7 == 0 ? i % 9 : 9 + (i + 5) % 21)] = 1;
    }
    for (size_t i = 0; i < 50; i++) memset(lab + i * C, 0, C * sizeof *lab), lab[i * C] = 1;
    dh_dataset *ds, *t, *q, *d;
    ck_assert_dh_ok(dh_dataset_from_features(f, n, 1, NULL, lab, (uint32_t)C, &ds));
    ck_assert_dh_ok(dh_protocol_split("nuswide21", ds, NULL, 5, &t, &q, &d));
    ck_assert_uint_eq(dh_dataset_n_classes(q), 21);
    ck_assert_uint_eq(dh_dataset_count(q), 2100);
    ck_assert_uint_eq(dh_dataset_count(t), 10500);
    ck_assert_uint_eq(dh_dataset_count(d), n - 50 - 2100); /* images without a kept concept drop */
    int64_t *od = origins(d);
    for (size_t i = 0; i < dh_dataset_count(d); i++) ck_assert_int_ge(od[i], 50);
    free(od), free(lab), free(f);
    dh_dataset_free(t), dh_dataset_free(q), dh_dataset_free(d), dh_dataset_free(ds);
}
END_TEST

START_TEST(test_data_split_builders)
{
    dh_dataset *ds = make_ds(1000, 10), *lt, *p, *r, *inc;
    ck_assert_dh_ok(dh_split_longtail(ds, 100.0, 0, 1, &lt));
    int cnt[10];
    count_classes(lt, 10, cnt);
    ck_assert_int_eq(cnt[0], 100);
    ck_assert_int_eq(cnt[9], 1);
    for (int c = 1; c < 10; c++) ck_assert_int_le(cnt[c], cnt[c - 1]);
    ck_assert_int_eq(cnt[5], 7); /* floor(100 * 100^(-5/9)) = 7 */
    dh_dataset_free(lt);
    ck_assert_dh_ok(dh_split_longtail(ds, 1.0, 50, 1, &lt));
    ck_assert_uint_eq(dh_dataset_count(lt), 500);
    dh_dataset_free(lt);
    ck_assert_dh_fail(dh_split_longtail(ds, 0.5, 0, 1, &lt), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_split_longtail(ds, 10, 101, 1, &lt), DH_E_SHAPE);
    ck_assert_dh_ok(dh_split_per_class(ds, 30, 4, &p, &r));
    ck_assert_uint_eq(dh_dataset_count(p), 300);
    ck_assert_uint_eq(dh_dataset_count(r), 700);
    dh_dataset_free(p), dh_dataset_free(r);
    ck_assert_dh_fail(dh_split_per_class(ds, 101, 4, &p, NULL), DH_E_SHAPE);
    ck_assert_dh_ok(dh_split_classes(ds, 0, 7, &inc));
    ck_assert_uint_eq(dh_dataset_count(inc), 700);
    ck_assert_uint_eq(dh_dataset_n_classes(inc), 10);
    dh_dataset_free(inc);
    ck_assert_dh_ok(dh_split_classes(ds, 7, 3, &inc));
    ck_assert_uint_eq(dh_dataset_count(inc), 300);
    dh_dataset_free(inc);
    ck_assert_dh_fail(dh_split_classes(ds, 7, 4, &inc), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_split_classes(ds, 0, 0, &inc), DH_E_INVALID_ARG);
    float lab[4] = {1, 1, 0, 1};
    dh_dataset *ml;
    ck_assert_dh_ok(dh_dataset_from_features(lab, 2, 1, NULL, lab, 2, &ml));
    ck_assert_dh_fail(dh_split_per_class(ml, 1, 0, &p, NULL), DH_E_INVALID_ARG);
    dh_dataset_free(ml);
    dh_dataset_free(ds);
}
END_TEST

/* ---- augmentation ---- */

START_TEST(test_data_augment_flip_crop_normalise)
{
    uint8_t img[4 * 5 * 3];
    for (int i = 0; i < 60; i++) img[i] = (uint8_t)(i * 4);
    dh__aug_params p;
    memset(&p, 0, sizeof p);
    p.out_h = 4, p.out_w = 5;
    for (int k = 0; k < 4; k++) p.inv_std[k] = 1;
    dh__aug_scratch sc = {0};
    float a[60], b[60];
    dh__rng r = {1};
    ck_assert_dh_ok(dh__augment(img, 4, 5, 3, &p, &r, &sc, a)); /* identity */
    ck_assert_float_eq_tol(a[1 * 20 + 2 * 5 + 3], (float)img[(2 * 5 + 3) * 3 + 1] / 255, 1e-6);
    p.flags = DH_AUG_FLIP, p.flip_prob = 1;
    ck_assert_dh_ok(dh__augment(img, 4, 5, 3, &p, &r, &sc, b));
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 5; x++)
                ck_assert_float_eq(b[c * 20 + y * 5 + x], a[c * 20 + y * 5 + 4 - x]);
    /* padded random crop: every output pixel is an input pixel shifted, or 0 */
    p.flags = DH_AUG_RANDOM_CROP, p.pad = 2;
    for (uint64_t s = 0; s < 50; s++) {
        dh__rng rr = dh__rng_derive(s, 0, 0, 0);
        ck_assert_dh_ok(dh__augment(img, 4, 5, 3, &p, &rr, &sc, b));
        int found = 0;
        for (int dy = -2; dy <= 2 && !found; dy++)
            for (int dx = -2; dx <= 2 && !found; dx++) {
                int ok = 1;
                for (int y = 0; y < 4 && ok; y++)
                    for (int x = 0; x < 5 && ok; x++) {
                        int sy = y + dy, sx = x + dx;
                        float want = sy >= 0 && sy < 4 && sx >= 0 && sx < 5 ? a[sy * 5 + sx] : 0;
                        ok = b[y * 5 + x] == want;
                    }
                found = ok;
            }
        ck_assert_msg(found, "seed %llu: crop is not a shifted copy", (unsigned long long)s);
    }
    /* mean/std normalisation */
    p.flags = 0;
    p.mean[0] = 0.5f, p.inv_std[0] = 4;
    ck_assert_dh_ok(dh__augment(img, 4, 5, 3, &p, &r, &sc, b));
    ck_assert_float_eq_tol(b[7], (a[7] - 0.5f) * 4, 1e-6);
    ck_assert_float_eq(b[27], a[27]);
    /* centre crop + resized crop stay in range; jitter and grey keep [0, 1] */
    p.mean[0] = 0, p.inv_std[0] = 1;
    p.flags = DH_AUG_RESIZED_CROP | DH_AUG_COLOR_JITTER | DH_AUG_GRAYSCALE;
    p.out_h = 3, p.out_w = 3, p.scale_min = 0.08f, p.scale_max = 1, p.ratio_min = 0.75f;
    p.ratio_max = 1.333f, p.brightness = p.contrast = p.saturation = 0.4f, p.gray_prob = 0.5f;
    for (uint64_t s = 0; s < 50; s++) {
        dh__rng rr = dh__rng_derive(s, 1, 2, 3);
        ck_assert_dh_ok(dh__augment(img, 4, 5, 3, &p, &rr, &sc, b));
        for (int i = 0; i < 27; i++) ck_assert(b[i] >= 0.0f && b[i] <= 1.0f);
    }
    p.flags = DH_AUG_CENTER_CROP, p.resize_ratio = 1.0f, p.out_h = 2, p.out_w = 2;
    uint8_t g[4 * 4];
    for (int i = 0; i < 16; i++) g[i] = (uint8_t)(i * 10);
    ck_assert_dh_ok(dh__augment(g, 4, 4, 1, &p, &r, &sc, b)); /* 4x4 -> 2x2: 2x2 averages */
    ck_assert_float_eq_tol(b[0], (0 + 10 + 40 + 50) / 4.0f / 255, 1e-5);
    dh__aug_scratch_free(&sc);
}
END_TEST

/* ---- loader ---- */

static dh_dataset *make_images(size_t n)
{
    uint8_t *px = malloc(n * 8 * 8 * 3);
    int32_t *c = malloc(n * sizeof *c);
    dh_test_fill(px, n * 192, 11);
    for (size_t i = 0; i < n; i++) c[i] = (int32_t)(i % 4), px[i * 192] = (uint8_t)i;
    dh_dataset *ds;
    ck_assert_dh_ok(dh_dataset_from_images(px, n, 8, 8, 3, c, NULL, 4, &ds));
    free(px), free(c);
    return ds;
}

/* Run `epochs` epochs; returns all x and indices concatenated. */
static void run(dh_loader *L, int epochs, float *xs, int64_t *ids, size_t *total)
{
    size_t B = dh_loader_batch_size(L), sf = dh_loader_sample_floats(L), n, k = 0;
    float *x = malloc(B * sf * sizeof *x), *x2 = malloc(B * sf * sizeof *x2);
    int64_t *idx = malloc(B * sizeof *idx);
    for (int e = 0; e < epochs; e++)
        for (;;) {
            ck_assert_dh_ok(dh_loader_next(L, x, x2, NULL, NULL, idx, &n));
            if (!n) break;
            memcpy(xs + k * sf, x, n * sf * sizeof *x);
            memcpy(ids + k, idx, n * sizeof *idx);
            k += n;
        }
    *total = k;
    free(x), free(x2), free(idx);
}

START_TEST(test_data_loader_epoch_order_and_determinism)
{
    dh_dataset *ds = make_images(37);
    dh_loader_options o;
    dh_loader_options_init(&o);
    o.batch_size = 8, o.seed = 5, o.two_views = 1;
    o.augment = DH_AUG_RANDOM_CROP | DH_AUG_FLIP | DH_AUG_COLOR_JITTER;
    size_t sf = 3 * 8 * 8, t1, t2;
    float *xa = malloc(2 * 37 * sf * sizeof(float)), *xb = malloc(2 * 37 * sf * sizeof(float));
    int64_t ia[74], ib[74];
    float *xc = malloc(2 * 37 * sf * sizeof(float));
    int64_t ic[74];
    size_t t3;
    uint32_t threads[3] = {1, 3, 1}, prefetch[3] = {0, 1, 1};
    for (int v = 0; v < 3; v++) {
        o.n_threads = threads[v], o.prefetch = prefetch[v];
        dh_loader *L;
        ck_assert_dh_ok(dh_loader_create(ds, &o, &L));
        ck_assert_uint_eq(dh_loader_batches_per_epoch(L), 5);
        ck_assert_uint_eq(dh_loader_batch_floats(L), 8 * sf);
        run(L, 2, v ? xb : xa, v ? ib : ia, v ? &t2 : &t1);
        dh_loader_free(L);
        if (v) {
            ck_assert_uint_eq(t1, t2);
            ck_assert_int_eq(memcmp(ia, ib, sizeof ia), 0);
            ck_assert_int_eq(memcmp(xa, xb, 74 * sf * sizeof(float)), 0);
        }
    }
    ck_assert_uint_eq(t1, 74);
    /* each epoch is a permutation; the two epochs differ */
    uint8_t seen[37] = {0};
    for (int i = 0; i < 37; i++) seen[ia[i]]++;
    for (int i = 0; i < 37; i++) ck_assert_uint_eq(seen[i], 1);
    ck_assert_int_ne(memcmp(ia, ia + 37, 37 * sizeof *ia), 0);
    /* resume: seek to (1, 2) reproduces the tail */
    dh_loader *L;
    o.n_threads = 2, o.prefetch = 1;
    ck_assert_dh_ok(dh_loader_create(ds, &o, &L));
    ck_assert_dh_ok(dh_loader_seek(L, 1, 2));
    uint64_t e, b;
    dh_loader_position(L, &e, &b);
    ck_assert_uint_eq(e, 1);
    ck_assert_uint_eq(b, 2);
    run(L, 1, xc, ic, &t3);
    ck_assert_uint_eq(t3, 37 - 16);
    ck_assert_int_eq(memcmp(ic, ia + 37 + 16, t3 * sizeof *ic), 0);
    ck_assert_int_eq(memcmp(xc, xa + (37 + 16) * sf, t3 * sf * sizeof(float)), 0);
    ck_assert_dh_fail(dh_loader_seek(L, 0, 6), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh_loader_reset(L));
    dh_loader_free(L);
    free(xa), free(xb), free(xc);
    dh_dataset_free(ds);
}
END_TEST

START_TEST(test_data_loader_outputs_labels_and_drop_last)
{
    dh_dataset *ds = make_images(10);
    dh_loader_options o;
    dh_loader_options_init(&o);
    o.batch_size = 4, o.shuffle = 0, o.drop_last = 1, o.out_height = 6, o.out_width = 6;
    o.augment = DH_AUG_CENTER_CROP, o.resize_ratio = 1.0f;
    dh_loader *L;
    ck_assert_dh_ok(dh_loader_create(ds, &o, &L));
    dh_dataset_free(ds); /* the loader keeps the storage */
    ck_assert_uint_eq(dh_loader_batches_per_epoch(L), 2);
    ck_assert_uint_eq(dh_loader_height(L), 6);
    ck_assert_uint_eq(dh_loader_channels(L), 3);
    float x[4 * 108], lab[16];
    int32_t cls[4];
    int64_t idx[4];
    size_t n;
    ck_assert_dh_ok(dh_loader_next(L, x, NULL, lab, cls, idx, &n));
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(idx[3], 3);
    ck_assert_int_eq(cls[3], 3);
    ck_assert_float_eq(lab[3 * 4 + 3], 1.0f);
    ck_assert_float_eq(lab[3 * 4 + 2], 0.0f);
    ck_assert_dh_ok(dh_loader_next(L, x, NULL, lab, cls, idx, &n));
    ck_assert_int_eq(idx[0], 4);
    ck_assert_dh_ok(dh_loader_next(L, x, NULL, lab, cls, idx, &n));
    ck_assert_uint_eq(n, 0); /* epoch end (the 2 leftover samples dropped) */
    ck_assert_dh_ok(dh_loader_next(L, x, NULL, lab, cls, idx, &n));
    ck_assert_int_eq(idx[0], 0);
    ck_assert_dh_fail(dh_loader_next(L, x, x, lab, cls, idx, &n), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_loader_next(L, NULL, NULL, lab, cls, idx, &n), DH_E_INVALID_ARG);
    dh_loader_free(L);
    dh_loader_free(NULL);
}
END_TEST

START_TEST(test_data_loader_options_validation)
{
    dh_dataset *ds = make_images(5), *fd;
    float f[5] = {0};
    ck_assert_dh_ok(dh_dataset_from_features(f, 5, 1, NULL, NULL, 0, &fd));
    dh_loader_options o;
    dh_loader *L;
    dh_loader_options_init(&o);
    o.batch_size = 0;
    ck_assert_dh_fail(dh_loader_create(ds, &o, &L), DH_E_INVALID_ARG);
    ck_assert_ptr_null(L);
    dh_loader_options_init(&o);
    o.augment = DH_AUG_RANDOM_CROP, o.crop_padding = 0, o.out_height = 9;
    ck_assert_dh_fail(dh_loader_create(ds, &o, &L), DH_E_INVALID_ARG);
    dh_loader_options_init(&o);
    o.std[1] = 0;
    ck_assert_dh_fail(dh_loader_create(ds, &o, &L), DH_E_INVALID_ARG);
    dh_loader_options_init(&o);
    o.augment = 1u << 20;
    ck_assert_dh_fail(dh_loader_create(ds, &o, &L), DH_E_INVALID_ARG);
    dh_loader_options_init(&o);
    o.augment = DH_AUG_FLIP;
    ck_assert_dh_fail(dh_loader_create(fd, &o, &L), DH_E_INVALID_ARG);
    dh_loader_options_init(&o);
    o.drop_last = 1, o.batch_size = 6;
    ck_assert_dh_fail(dh_loader_create(ds, &o, &L), DH_E_INVALID_ARG);
    /* old struct_size: fields past it keep defaults; oversized with a non-zero tail fails */
    dh_loader_options_init(&o);
    o.struct_size = offsetof(dh_loader_options, seed);
    o.batch_size = 2;
    o.std[0] = 0; /* beyond the old size: ignored */
    ck_assert_dh_ok(dh_loader_create(ds, &o, &L));
    ck_assert_uint_eq(dh_loader_batch_size(L), 2);
    dh_loader_free(L);
    struct { dh_loader_options o; uint64_t extra; } big;
    memset(&big, 0, sizeof big);
    dh_loader_options_init(&big.o);
    big.o.struct_size = sizeof big;
    ck_assert_dh_ok(dh_loader_create(fd, &big.o, &L));
    ck_assert_uint_eq(dh_loader_sample_floats(L), 1);
    ck_assert_uint_eq(dh_loader_channels(L), 0);
    dh_loader_free(L);
    big.extra = 1;
    ck_assert_dh_fail(dh_loader_create(ds, &big.o, &L), DH_E_VERSION);
    ck_assert_dh_fail(dh_loader_create(NULL, NULL, &L), DH_E_INVALID_ARG);
    dh_dataset *empty;
    int64_t none = 0;
    ck_assert_dh_ok(dh_dataset_subset(ds, &none, 0, &empty));
    ck_assert_dh_fail(dh_loader_create(empty, NULL, &L), DH_E_INVALID_ARG);
    dh_dataset_free(empty);
    dh_dataset_free(ds), dh_dataset_free(fd);
}
END_TEST

Suite *data_split_suite(void)
{
    Suite *s = suite_create("data_split");
    TCase *t = tcase_create("Protocols");
    tcase_add_test(t, test_data_protocol_cifar10_sizes_disjoint_deterministic);
    tcase_add_test(t, test_data_protocol_fashion_mnist_and_lists);
    tcase_add_test(t, test_data_protocol_nuswide21_keeps_top_concepts);
    tcase_add_test(t, test_data_split_builders);
    suite_add_tcase(s, t);
    t = tcase_create("Augment");
    tcase_add_test(t, test_data_augment_flip_crop_normalise);
    suite_add_tcase(s, t);
    t = tcase_create("Loader");
    tcase_add_test(t, test_data_loader_epoch_order_and_determinism);
    tcase_add_test(t, test_data_loader_outputs_labels_and_drop_last);
    tcase_add_test(t, test_data_loader_options_validation);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(data_split_suite()); }
