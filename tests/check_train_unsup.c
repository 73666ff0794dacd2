/* tests/check_train_unsup.c -- the unsupervised methods through dh_trainer: every
 * deep method lowers its loss, labels never reach them (true, shuffled and absent
 * labels give bit-identical codes for a seed), the shallow baselines become a head
 * that encodes, saves and loads like any model, bad inputs are clear errors.
 * Synthetic 12 x 12 grey images: class c lights quadrant c, plus noise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

enum { N = 160, H = 12, C = 4, K = 16 };

static uint8_t g_img[N * H * H];
static int32_t g_y[N], g_shuf[N];

static void make_data(void)
{
    static int done;
    if (done) return;
    done = 1;
    uint64_t s = 3;
    for (int i = 0; i < N; i++) {
        g_y[i] = i % C;
        int qy = (g_y[i] / 2) * 6, qx = (g_y[i] % 2) * 6;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < H; x++) {
                int in = y >= qy && y < qy + 6 && x >= qx && x < qx + 6;
                g_img[(i * H + y) * H + x] = (uint8_t)((in ? 170 : 20) + dh_test_rand(&s) % 60);
            }
    }
    for (int i = 0; i < N; i++) g_shuf[i] = g_y[(i * 7 + 3) % N]; /* a permutation of labels */
}

typedef struct run {
    dh_dataset *ds;
    dh_model *m;
    dh_loss *loss;
    dh_trainer *t;
} run;

typedef struct log_t {
    double first, last;
    int epochs;
} log_t;

static int32_t on_epoch(const dh_train_progress *p, void *user)
{
    log_t *l = user;
    if (p->event != DH_TRAIN_EVENT_EPOCH) return 0;
    if (l->epochs++ == 0) l->first = p->loss;
    l->last = p->loss;
    return 0;
}

/* The dataset (labels: 0 true, 1 shuffled, 2 none), loss and model of a run. */
static dh_status setup_objects(run *r, const char *method, int labels)
{
    make_data();
    memset(r, 0, sizeof *r);
    const int32_t *y = labels == 0 ? g_y : labels == 1 ? g_shuf : NULL;
    DH_TRY_T(dh_dataset_from_images(g_img, N, H, H, 1, y, NULL, y ? C : 0, &r->ds));
    dh_loss_options lo;
    dh_loss_options_init(&lo);
    lo.n_bits = K;
    lo.n_classes = !strcmp(method, "kmeans") ? C : 0;
    lo.n_train = N;
    if (!strcmp(method, "ssdh")) lo.margin = 1.0; /* 2 sigma: no similar pair in this data */
    DH_TRY_T(dh_loss_create(method, &lo, &r->loss));
    int32_t act;
    DH_TRY_T(dh_loss_head_hint(r->loss, &act, NULL));
    dh_model_options mo;
    dh_model_options_init(&mo);
    uint32_t fl = dh_loss_method_flags(method);
    mo.encoder = (fl & DH_LOSS_FLAG_SHALLOW) ? "pixels" : "smallcnn";
    mo.n_bits = K;
    mo.head = act;
    mo.in_channels = 1, mo.in_height = H;
    return dh_model_create(&mo, &r->m);
}

static dh_status setup(run *r, const char *method, int labels, uint32_t epochs, log_t *lg)
{
    DH_TRY_T(setup_objects(r, method, labels));
    dh_trainer_options to;
    dh_trainer_options_init(&to);
    to.epochs = epochs;
    to.batch_size = 32;
    to.lr = 1e-3;
    to.seed = 5;
    to.keep_best = 0;
    if (lg) to.callback = on_epoch, to.callback_user = lg;
    return dh_trainer_create(r->m, r->loss, r->ds, &to, &r->t);
}

static void teardown(run *r)
{
    dh_trainer_free(r->t);
    dh_loss_free(r->loss);
    dh_model_free(r->m);
    dh_dataset_free(r->ds);
}

static const char *deep[] = {"cibhash", "bihalf", "ssdh", "kmeans", "sgh"};

START_TEST(test_unsup_training_descends)
{
    const char *m = deep[_i];
    dh_set_num_threads(2);
    run r;
    log_t lg = {0, 0, 0};
    ck_assert_dh_ok(setup(&r, m, 2, 6, &lg));
    ck_assert_dh_ok(dh_trainer_run(r.t));
    ck_assert_int_eq(lg.epochs, 6);
    ck_assert_msg(lg.last < lg.first, "%s: epoch loss %g -> %g", m, lg.first, lg.last);
    teardown(&r);
}
END_TEST

/* Codes of the training images after training. */
static uint8_t *train_codes(const char *method, int labels)
{
    run r;
    ck_assert_dh_ok(setup(&r, method, labels, 2, NULL));
    ck_assert_dh_ok(dh_trainer_run(r.t));
    uint8_t *codes = malloc((size_t)N * dh_code_bytes(K));
    ck_assert_dh_ok(dh_model_encode(r.m, g_img, N, H, H, 1, codes, NULL));
    teardown(&r);
    return codes;
}

static const char *all[] = {"cibhash", "bihalf", "ssdh", "kmeans", "sgh", "lsh", "pcah", "itq"};

START_TEST(test_unsup_labels_never_reach_the_method)
{
    const char *m = all[_i];
    dh_set_num_threads(2);
    uint8_t *a = train_codes(m, 0), *b = train_codes(m, 1), *c = train_codes(m, 2);
    size_t n = (size_t)N * dh_code_bytes(K);
    ck_assert_msg(memcmp(a, b, n) == 0, "%s: shuffled labels changed the codes", m);
    ck_assert_msg(memcmp(a, c, n) == 0, "%s: absent labels changed the codes", m);
    free(a), free(b), free(c);
}
END_TEST

START_TEST(test_unsup_shallow_head_is_a_model)
{
    dh_set_num_threads(2);
    run r;
    ck_assert_dh_ok(setup(&r, "itq", 2, 1, NULL));
    ck_assert_dh_ok(dh_trainer_run(r.t));
    size_t cb = dh_code_bytes(K);
    uint8_t *codes = malloc(N * cb), *again = malloc(N * cb);
    ck_assert_dh_ok(dh_model_encode(r.m, g_img, N, H, H, 1, codes, NULL));
    char path[512];
    snprintf(path, sizeof path, "%s/itq.safetensors", dh_test_tmpdir());
    ck_assert_dh_ok(dh_model_save(r.m, path));
    dh_model *m2 = NULL;
    ck_assert_dh_ok(dh_model_load(path, &m2));
    ck_assert_dh_ok(dh_model_encode(m2, g_img, N, H, H, 1, again, NULL));
    ck_assert(memcmp(codes, again, N * cb) == 0);
    /* ITQ codes separate the four quadrant classes: same-class pairs are closer */
    double same = 0, diff = 0;
    size_t ns = 0, nd = 0;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            int d = 0;
            for (size_t b = 0; b < cb; b++) d += __builtin_popcount(codes[i * cb + b] ^ codes[j * cb + b]);
            if (g_y[i] == g_y[j]) same += d, ns++;
            else diff += d, nd++;
        }
    ck_assert_msg(same / ns + 2 < diff / nd, "mean distance same %g, different %g", same / ns,
                  diff / nd);
    dh_model_free(m2);
    free(codes), free(again);
    teardown(&r);
}
END_TEST

START_TEST(test_unsup_bad_inputs)
{
    make_data();
    dh_set_num_threads(2);
    run r;
    /* PCAH/ITQ with K larger than the feature dimension (4 x 4 pixels = 16 < 32 bits) */
    dh_dataset *ds = NULL;
    ck_assert_dh_ok(dh_dataset_from_images(g_img, N, 4, 4, 1, NULL, NULL, 0, &ds));
    dh_loss_options lo;
    dh_loss_options_init(&lo);
    lo.n_bits = 32;
    dh_loss *L = NULL;
    ck_assert_dh_ok(dh_loss_create("pcah", &lo, &L));
    dh_model_options mo;
    dh_model_options_init(&mo);
    mo.encoder = "pixels", mo.n_bits = 32, mo.head = DH_HEAD_IDENTITY;
    mo.in_channels = 1, mo.in_height = 4;
    dh_model *m = NULL;
    ck_assert_dh_ok(dh_model_create(&mo, &m));
    dh_trainer *t = NULL;
    ck_assert_dh_ok(dh_trainer_create(m, L, ds, NULL, &t));
    ck_assert_dh_fail(dh_trainer_run(t), DH_E_INVALID_ARG);
    dh_trainer_free(t);
    dh_loss_free(L);
    dh_model_free(m);
    dh_dataset_free(ds);
    /* a contrastive method with batch size 1 */
    ck_assert_dh_ok(setup(&r, "cibhash", 2, 1, NULL));
    teardown(&r);
    ck_assert_dh_ok(dh_dataset_from_images(g_img, 1, H, H, 1, NULL, NULL, 0, &ds));
    dh_loss_options_init(&lo);
    lo.n_bits = K;
    ck_assert_dh_ok(dh_loss_create("cibhash", &lo, &L));
    mo.encoder = "smallcnn", mo.n_bits = K, mo.in_height = H;
    ck_assert_dh_ok(dh_model_create(&mo, &m));
    ck_assert_dh_fail(dh_trainer_create(m, L, ds, NULL, &t), DH_E_INVALID_ARG);
    dh_dataset_free(ds);
    /* an empty dataset */
    ck_assert_dh_ok(dh_dataset_from_images(g_img, 0, H, H, 1, NULL, NULL, 0, &ds));
    ck_assert_dh_fail(dh_trainer_create(m, L, ds, NULL, &t), DH_E_INVALID_ARG);
    dh_dataset_free(ds);
    dh_loss_free(L);
    dh_model_free(m);
    /* feature rows with a NaN: SSDH's bank refuses them at trainer creation */
    float *F = malloc(N * 8 * sizeof(float));
    for (int i = 0; i < N * 8; i++) F[i] = (float)((i * 37) % 11) / 11.0f;
    F[77] = NAN;
    ck_assert_dh_ok(dh_dataset_from_features(F, N, 8, NULL, NULL, 0, &ds));
    dh_loss_options_init(&lo);
    lo.n_bits = K, lo.n_train = N;
    ck_assert_dh_ok(dh_loss_create("ssdh", &lo, &L));
    mo.encoder = "mlp:8-16", mo.head = DH_HEAD_TANH, mo.in_channels = 0, mo.in_height = 0;
    ck_assert_dh_ok(dh_model_create(&mo, &m));
    ck_assert_dh_fail(dh_trainer_create(m, L, ds, NULL, &t), DH_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "not finite"));
    dh_loss_free(L);
    dh_model_free(m);
    dh_dataset_free(ds);
    free(F);
}
END_TEST

/* CIBHash's view augmentations apply when the caller chose none, with a crop scale of at
 * least 0.5 -- unless the caller set scale_min, which is kept (it once was overwritten). */
START_TEST(test_unsup_two_view_crop_scale)
{
    dh_set_num_threads(1);
    for (int set = 0; set < 2; set++) {
        run r;
        ck_assert_dh_ok(setup_objects(&r, "cibhash", 2));
        dh_trainer_options to;
        dh_trainer_options_init(&to);
        to.epochs = 1, to.batch_size = 32, to.keep_best = 0;
        if (set) to.scale_min = 0.3f;
        ck_assert_dh_ok(dh_trainer_create(r.m, r.loss, r.ds, &to, &r.t));
        dh_trainer_options got;
        dh_trainer_options_init(&got);
        ck_assert_dh_ok(dh_trainer_get_options(r.t, &got));
        ck_assert_uint_eq(got.augment, DH_AUG_RESIZED_CROP | DH_AUG_FLIP | DH_AUG_COLOR_JITTER |
                                           DH_AUG_GRAYSCALE | DH_AUG_BLUR);
        ck_assert_float_eq_tol(got.scale_min, set ? 0.3f : 0.5f, 1e-7f);
        teardown(&r);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("train_unsup");
    TCase *t = tcase_create("unsup");
    tcase_set_timeout(t, 600);
    tcase_add_loop_test(t, test_unsup_training_descends, 0, (int)(sizeof deep / sizeof deep[0]));
    tcase_add_loop_test(t, test_unsup_labels_never_reach_the_method, 0,
                        (int)(sizeof all / sizeof all[0]));
    tcase_add_test(t, test_unsup_shallow_head_is_a_model);
    tcase_add_test(t, test_unsup_bad_inputs);
    tcase_add_test(t, test_unsup_two_view_crop_scale);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(suite()); }
