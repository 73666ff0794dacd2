/* tests/check_model.c -- dh_model: create/encode shapes, codes = sgn(continuous
 * outputs), uint8 vs float paths, save/load round trip (identical codes, extra
 * tensors, metadata), strict loading of corrupt / truncated / wrong-dtype /
 * shape-mismatched files, atomic save, backbone import by name, the training
 * interface with an optimizer, and bad arguments. Uses a small mlp encoder (fast)
 * and smallcnn for the image path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "testutil.h"

enum { DIN = 12, NB = 24 };

static dh_model *mlp_model(int32_t head)
{
    dh_model_options o;
    dh_model_options_init(&o);
    o.encoder = "mlp:12-16";
    o.n_bits = NB;
    o.head = head;
    o.batch_size = 5; /* several internal batches */
    o.head_init_std = 0.5;
    dh_model *m;
    ck_assert_dh_ok(dh_model_create(&o, &m));
    return m;
}

static void rand_rows(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed + 17;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((double)(dh_test_rand(&s) >> 11) / 9007199254740992.0 * 4 - 2);
}

static char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", dh_test_tmpdir(), name);
    return p;
}

START_TEST(test_model_encode_codes_are_signs_of_outputs)
{
    dh_model *m = mlp_model(DH_HEAD_TANH);
    ck_assert_uint_eq(dh_model_n_bits(m), NB);
    int64_t shape[3];
    ck_assert_int_eq(dh_model_input_shape(m, shape), 1);
    ck_assert_int_eq(shape[0], DIN);
    enum { N = 13 };
    float x[N * DIN], u[N * NB], u2[N * NB];
    uint8_t codes[N * 3], codes2[N * 3];
    rand_rows(x, N * DIN, 1);
    ck_assert_dh_ok(dh_model_encode_float(m, x, N, DIN, codes, u));
    for (int i = 0; i < N; i++)
        for (int j = 0; j < NB; j++) {
            int bit = (codes[i * 3 + j / 8] >> (j % 8)) & 1;
            ck_assert_int_eq(bit, u[i * NB + j] >= 0);
            ck_assert(fabsf(u[i * NB + j]) <= 1.0f);
        }
    /* batching does not change results: one row at a time gives the same outputs */
    for (int i = 0; i < N; i++)
        ck_assert_dh_ok(dh_model_encode_float(m, x + i * DIN, 1, DIN, codes2 + i * 3, u2 + i * NB));
    ck_assert(memcmp(codes, codes2, sizeof codes) == 0);
    for (int i = 0; i < N * NB; i++) ck_assert_float_eq_tol(u[i], u2[i], 1e-5f);
    /* codes only, outputs only */
    ck_assert_dh_ok(dh_model_encode_float(m, x, N, DIN, codes2, NULL));
    ck_assert(memcmp(codes, codes2, sizeof codes) == 0);
    ck_assert_dh_ok(dh_model_encode_float(m, x, N, DIN, NULL, u2));
    ck_assert_dh_ok(dh_model_encode_float(m, x, 0, DIN, codes2, NULL));
    dh_model_free(m);
}
END_TEST

START_TEST(test_model_encode_uint8_matches_normalised_float)
{
    dh_model_options o;
    dh_model_options_init(&o);
    o.encoder = "smallcnn";
    o.in_channels = 3;
    o.in_height = 28;
    o.n_bits = 16;
    o.batch_size = 3;
    const float mean[3] = {0.4f, 0.5f, 0.6f}, sd[3] = {0.2f, 0.25f, 0.3f};
    for (int c = 0; c < 3; c++) o.mean[c] = mean[c], o.std[c] = sd[c];
    dh_model *m;
    ck_assert_dh_ok(dh_model_create(&o, &m));
    enum { N = 4, HW = 28 * 28, C = 3 };
    uint8_t *img = malloc(N * HW * C);
    float *x = malloc(N * HW * C * sizeof *x), u[N * 16], u2[N * 16];
    dh_test_fill(img, N * HW * C, 5);
    for (int i = 0; i < N; i++)
        for (int p = 0; p < HW; p++)
            for (int c = 0; c < C; c++)
                x[(i * C + c) * HW + p] = ((float)img[(i * HW + p) * C + c] / 255.0f - mean[c]) / sd[c];
    uint8_t codes[N * 2], codes2[N * 2];
    ck_assert_dh_ok(dh_model_encode(m, img, N, 28, 28, 3, codes, u));
    ck_assert_dh_ok(dh_model_encode_float(m, x, N, HW * C, codes2, u2));
    for (int i = 0; i < N * 16; i++) ck_assert_float_eq_tol(u[i], u2[i], 1e-4f);
    ck_assert_dh_fail(dh_model_encode(m, img, N, 32, 32, 3, codes, u), DH_E_SHAPE);
    ck_assert_dh_fail(dh_model_encode(m, img, N, 28, 28, 1, codes, u), DH_E_SHAPE);
    ck_assert_dh_fail(dh_model_encode_float(m, x, N, 100, codes, u), DH_E_SHAPE);
    ck_assert_dh_fail(dh_model_encode(m, img, N, 28, 28, 3, NULL, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_model_encode(m, NULL, N, 28, 28, 3, codes, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_model_encode(NULL, img, N, 28, 28, 3, codes, NULL), DH_E_INVALID_ARG);
    for (int i = 0; i < HW * C; i++) x[HW * C + i] = NAN; /* image 1 */
    ck_assert_dh_fail(dh_model_encode_float(m, x, N, HW * C, codes2, NULL), DH_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "x[1]"));
    free(img);
    free(x);
    dh_model_free(m);
}
END_TEST

static void encode_mlp(dh_model *m, uint8_t *codes, float *u)
{
    float x[9 * DIN];
    rand_rows(x, 9 * DIN, 42);
    ck_assert_dh_ok(dh_model_encode_float(m, x, 9, DIN, codes, u));
}

/* train a couple of steps so BN running statistics and weights move off their init */
static void train_steps(dh_model *m, int steps)
{
    dh_optimizer *opt;
    dh_optimizer_options oo;
    dh_optimizer_options_init(&oo);
    oo.lr = 0.05;
    ck_assert_dh_ok(dh_optimizer_create(&oo, &opt));
    ck_assert_dh_ok(dh_optimizer_add_model(opt, m));
    float x[8 * DIN], u[8 * NB], du[8 * NB];
    for (int s = 0; s < steps; s++) {
        rand_rows(x, 8 * DIN, (uint64_t)s);
        dh__model_zero_grad(m);
        ck_assert_dh_ok(dh__model_forward_train(m, x, 8, u));
        for (int i = 0; i < 8 * NB; i++) du[i] = u[i] - 1.0f; /* pull towards +1 */
        ck_assert_dh_ok(dh__model_backward(m, du));
        ck_assert_dh_ok(dh_optimizer_step(opt));
    }
    dh_optimizer_free(opt);
}

START_TEST(test_model_save_load_roundtrip_identical_codes)
{
    const int32_t heads[] = {DH_HEAD_TANH, DH_HEAD_SCALED_TANH, DH_HEAD_BN, DH_HEAD_SIGN,
                             DH_HEAD_IDENTITY};
    dh_model *m = mlp_model(heads[_i]);
    train_steps(m, 3);
    if (heads[_i] == DH_HEAD_SCALED_TANH) ck_assert_dh_ok(dh_head_set_beta(dh_model_head(m), 3.5));
    float centers[2 * NB];
    rand_rows(centers, 2 * NB, 3);
    int64_t cshape[2] = {2, NB}, counter = 12345678901LL;
    ck_assert_dh_ok(dh_model_set_tensor(m, "loss.centers", DH_DTYPE_FLOAT32, 2, cshape, centers));
    ck_assert_dh_ok(dh_model_set_tensor(m, "loss.step", DH_DTYPE_INT64, 0, NULL, &counter));
    ck_assert_dh_ok(dh_model_set_metadata(m, "loss", "csq"));
    uint8_t c1[9 * 3], c2[9 * 3];
    float u1[9 * NB], u2[9 * NB];
    encode_mlp(m, c1, u1);
    const char *path = tmp_path("roundtrip.safetensors");
    ck_assert_dh_ok(dh_model_save(m, path));
    dh_model *l;
    ck_assert_dh_ok(dh_model_load(path, &l));
    encode_mlp(l, c2, u2);
    ck_assert(memcmp(c1, c2, sizeof c1) == 0);
    ck_assert(memcmp(u1, u2, sizeof u1) == 0);
    ck_assert_double_eq(dh_head_get_beta(dh_model_head(l)), dh_head_get_beta(dh_model_head(m)));
    ck_assert_int_eq(dh_model_get_options(l)->head, heads[_i]);
    ck_assert_str_eq(dh_model_get_options(l)->encoder, "mlp:12-16");
    int32_t dt;
    uint32_t nd;
    int64_t sh[8];
    const void *data;
    ck_assert_dh_ok(dh_model_get_tensor(l, "loss.centers", &dt, &nd, sh, &data));
    ck_assert_int_eq(dt, DH_DTYPE_FLOAT32);
    ck_assert_uint_eq(nd, 2);
    ck_assert_int_eq(sh[1], NB);
    ck_assert(memcmp(data, centers, sizeof centers) == 0);
    ck_assert_dh_ok(dh_model_get_tensor(l, "loss.step", &dt, &nd, NULL, &data));
    ck_assert_int_eq(dt, DH_DTYPE_INT64);
    ck_assert_int_eq(*(const int64_t *)data, counter);
    ck_assert_str_eq(dh_model_get_metadata(l, "loss"), "csq");
    ck_assert_ptr_null(dh_model_get_metadata(l, "absent"));
    ck_assert_dh_fail(dh_model_get_tensor(l, "absent", NULL, NULL, NULL, NULL), DH_E_NOT_FOUND);
    dh_model_free(l);
    dh_model_free(m);
}
END_TEST

static uint8_t *read_all(const char *path, size_t *n)
{
    uint8_t *buf;
    ck_assert_dh_ok(dh__read_file(path, &buf, n));
    return buf;
}

static void write_all(const char *path, const void *buf, size_t n)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(buf, 1, n, fp), n);
    fclose(fp);
}

/* Replace the first occurrence of `from` in the header by `to` (same length). */
static void patch(uint8_t *buf, size_t n, const char *from, const char *to)
{
    size_t k = strlen(from);
    ck_assert_uint_eq(k, strlen(to));
    for (size_t i = 8; i + k <= n; i++)
        if (!memcmp(buf + i, from, k)) {
            memcpy(buf + i, to, k);
            return;
        }
    ck_abort_msg("pattern '%s' not found", from);
}

static void expect_load_fail(const uint8_t *buf, size_t n, dh_status code, const char *needle)
{
    const char *path = tmp_path("bad.safetensors");
    write_all(path, buf, n);
    dh_model *m = (dh_model *)1;
    ck_assert_dh_fail(dh_model_load(path, &m), code);
    ck_assert_ptr_null(m);
    if (needle)
        ck_assert_msg(strstr(dh_last_error(), needle) != NULL, "message '%s' lacks '%s'",
                      dh_last_error(), needle);
}

START_TEST(test_model_load_rejects_corrupt_files)
{
    dh_model *m = mlp_model(DH_HEAD_TANH);
    const char *path = tmp_path("good.safetensors");
    ck_assert_dh_ok(dh_model_save(m, path));
    dh_model_free(m);
    size_t n;
    uint8_t *good = read_all(path, &n), *b = malloc(n + 16);
    size_t hlen = (size_t)dh__le64(good);
    /* truncations: inside the length, inside the header, inside the data */
    expect_load_fail(good, 5, DH_E_FORMAT, "too short");
    expect_load_fail(good, 8 + hlen / 2, DH_E_FORMAT, "offset 0");
    expect_load_fail(good, n - 3, DH_E_FORMAT, "data section");
    /* trailing garbage makes the data section longer than the tensors */
    memcpy(b, good, n);
    memset(b + n, 0, 16);
    expect_load_fail(b, n + 16, DH_E_FORMAT, "cover");
    /* huge header length */
    memcpy(b, good, n);
    dh__put_le64(b, (uint64_t)1 << 40);
    expect_load_fail(b, n, DH_E_FORMAT, "header length");
    /* malformed JSON */
    memcpy(b, good, n);
    b[8 + hlen / 2] = '}';
    expect_load_fail(b, n, DH_E_FORMAT, "safetensors");
    /* wrong dtype for a parameter (F32 -> I32 keeps the size) */
    memcpy(b, good, n);
    patch(b, n, "\"F32\"", "\"I32\"");
    expect_load_fail(b, n, DH_E_FORMAT, "expected F32");
    /* unknown dtype */
    memcpy(b, good, n);
    patch(b, n, "\"F32\"", "\"Q32\"");
    expect_load_fail(b, n, DH_E_FORMAT, "unknown dtype");
    /* shape mismatch with the architecture: head.weight [24, 16] -> [16, 24] */
    memcpy(b, good, n);
    patch(b, n, "[24,16]", "[16,24]");
    expect_load_fail(b, n, DH_E_SHAPE, "head.weight");
    /* shape that does not fit the byte count */
    memcpy(b, good, n);
    patch(b, n, "[24,16]", "[24,17]");
    expect_load_fail(b, n, DH_E_FORMAT, "data bytes");
    /* a missing tensor (renamed) */
    memcpy(b, good, n);
    patch(b, n, "\"head.bias\"", "\"head.bia_\"");
    expect_load_fail(b, n, DH_E_FORMAT, "head.bias");
    /* architecture metadata that is not a libdh model / newer format */
    memcpy(b, good, n);
    patch(b, n, "libdh-model", "libdh-m0del");
    expect_load_fail(b, n, DH_E_FORMAT, "not a libdh model");
    memcpy(b, good, n);
    patch(b, n, "\"format_version\":\"1\"", "\"format_version\":\"9\"");
    expect_load_fail(b, n, DH_E_VERSION, "newer");
    memcpy(b, good, n);
    patch(b, n, "\"n_bits\":\"24\"", "\"n_bits\":\"2x\"");
    expect_load_fail(b, n, DH_E_FORMAT, "n_bits");
    /* missing file, directory */
    dh_model *l;
    ck_assert_dh_fail(dh_model_load(tmp_path("nope.safetensors"), &l), DH_E_NOT_FOUND);
    ck_assert_dh_fail(dh_model_load(NULL, &l), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_model_load(path, NULL), DH_E_INVALID_ARG);
    free(good);
    free(b);
}
END_TEST

START_TEST(test_model_parse_checks_offsets)
{
    /* overlapping and gapped tensors, hand-written */
    const char *hdrs[] = {
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[12,12]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[-3],\"data_offsets\":[0,12]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12],\"x\":1}}",
        "{\"__metadata__\":{\"k\":1},\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}",
        "[1,2,3]",
    };
    const char *needles[] = {"overlaps", "gap", "twice", "shape[0]", "unexpected field",
                             "not a string", "start with"};
    for (size_t k = 0; k < sizeof hdrs / sizeof hdrs[0]; k++) {
        uint8_t buf[512] = {0};
        size_t hl = strlen(hdrs[k]);
        dh__put_le64(buf, hl);
        memcpy(buf + 8, hdrs[k], hl);
        dh__safetensors st;
        dh_clear_error();
        ck_assert_int_eq(dh__safetensors_parse(buf, 8 + hl + 12, &st), DH_E_FORMAT);
        ck_assert_msg(strstr(dh_last_error(), needles[k]) != NULL, "case %zu: '%s'", k,
                      dh_last_error());
    }
    /* a valid one with padding, metadata and a scalar */
    const char *ok = "{\"__metadata__\":{\"k\":\"v\"},\"s\":{\"dtype\":\"I64\",\"shape\":[],"
                     "\"data_offsets\":[0,8]},\"h\":{\"dtype\":\"F16\",\"shape\":[2],"
                     "\"data_offsets\":[8,12]}}    ";
    uint8_t buf[512] = {0};
    size_t hl = strlen(ok);
    dh__put_le64(buf, hl);
    memcpy(buf + 8, ok, hl);
    dh__put_le64(buf + 8 + hl, (uint64_t)-5);
    buf[8 + hl + 8] = 0x00, buf[8 + hl + 9] = 0x3c; /* 1.0 in half */
    buf[8 + hl + 10] = 0x00, buf[8 + hl + 11] = 0xc0; /* -2.0 */
    dh__safetensors st;
    ck_assert_dh_ok(dh__safetensors_parse(buf, 8 + hl + 12, &st));
    ck_assert_uint_eq(st.n, 2);
    ck_assert_str_eq(dh__safetensors_meta(&st, "k"), "v");
    float f[2];
    dh__st_to_float(dh__safetensors_find(&st, "s"), f);
    ck_assert_float_eq(f[0], -5.0f);
    dh__st_to_float(dh__safetensors_find(&st, "h"), f);
    ck_assert_float_eq(f[0], 1.0f);
    ck_assert_float_eq(f[1], -2.0f);
    dh__safetensors_free(&st);
}
END_TEST

START_TEST(test_model_failed_save_keeps_old_file)
{
    dh_model *m = mlp_model(DH_HEAD_TANH);
    const char *path = tmp_path("keep.safetensors");
    ck_assert_dh_ok(dh_model_save(m, path));
    size_t n1;
    uint8_t *before = read_all(path, &n1);
    ck_assert_dh_fail(dh_model_save(m, "/nonexistent-dir/x.safetensors"), DH_E_IO);
    ck_assert_dh_fail(dh_model_save(m, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_model_save(NULL, path), DH_E_INVALID_ARG);
    size_t n2;
    uint8_t *after = read_all(path, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert(memcmp(before, after, n1) == 0);
    free(before);
    free(after);
    dh_model_free(m);
}
END_TEST

/* Write a safetensors file from C with the encoder's names, as torch2safetensors.py does. */
START_TEST(test_model_load_backbone_by_name)
{
    dh_model *src = mlp_model(DH_HEAD_TANH), *dst = mlp_model(DH_HEAD_TANH);
    train_steps(src, 2);
    dh__model_param *p;
    size_t np = dh__model_params(src, &p);
    dh__st_entry e[64];
    size_t ne = 0;
    for (size_t i = 0; i < np && p[i].group == DH_PARAM_GROUP_BACKBONE; i++, ne++) {
        memset(&e[ne], 0, sizeof e[ne]);
        e[ne].name = p[i].p.name;
        e[ne].dtype = DH__ST_F32;
        e[ne].ndim = p[i].p.ndim;
        memcpy(e[ne].shape, p[i].p.shape, sizeof p[i].p.shape);
        e[ne].data = p[i].p.data;
        e[ne].nbytes = p[i].p.n * 4;
    }
    float fc[3] = {1, 2, 3};
    e[ne] = (dh__st_entry){"fc.weight", DH__ST_F32, 1, {3}, fc, 12};
    const char *path = tmp_path("backbone.safetensors");
    ck_assert_dh_ok(dh__safetensors_write(path, e, ne + 1, NULL, NULL, 0));
    uint32_t loaded = 0, ignored = 0;
    ck_assert_dh_fail(dh_model_load_backbone(dst, path, DH_BACKBONE_STRICT, NULL, NULL),
                      DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "fc.weight"));
    ck_assert_dh_ok(dh_model_load_backbone(dst, path, 0, &loaded, &ignored));
    ck_assert_uint_eq(loaded, ne);
    ck_assert_uint_eq(ignored, 1);
    dh__model_param *q;
    dh__model_params(dst, &q);
    for (size_t i = 0; i < ne; i++)
        ck_assert(memcmp(p[i].p.data, q[i].p.data, p[i].p.n * 4) == 0);
    /* missing keys: an error naming them, unless allowed */
    ck_assert_dh_ok(dh__safetensors_write(path, e + 1, ne, NULL, NULL, 0));
    ck_assert_dh_fail(dh_model_load_backbone(dst, path, 0, NULL, NULL), DH_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), e[0].name));
    ck_assert_dh_ok(dh_model_load_backbone(dst, path, DH_BACKBONE_ALLOW_MISSING, &loaded, NULL));
    ck_assert_uint_eq(loaded, ne - 1);
    /* shape mismatch: both shapes in the message; nothing changed */
    float before = q[0].p.data[0];
    const dh__st_entry e0 = e[0];
    e[0].shape[0] += 1;
    e[0].nbytes += (size_t)e[0].shape[1] * 4;
    float *big = calloc((size_t)(e[0].shape[0] * e[0].shape[1]), 4);
    e[0].data = big;
    ck_assert_dh_ok(dh__safetensors_write(path, e, ne, NULL, NULL, 0));
    ck_assert_dh_fail(dh_model_load_backbone(dst, path, 0, NULL, NULL), DH_E_SHAPE);
    ck_assert_float_eq(q[0].p.data[0], before);
    free(big);
    ck_assert_dh_fail(dh_model_load_backbone(dst, path, 8, NULL, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_model_load_backbone(dst, tmp_path("none"), 0, NULL, NULL),
                      DH_E_NOT_FOUND);
    /* the same file into a bare encoder (dh_encoder_load_weights): its outputs then
     * equal the source model's encoder's */
    e[0] = e0;
    ck_assert_dh_ok(dh__safetensors_write(path, e, ne + 1, NULL, NULL, 0));
    dh_encoder *enc = NULL;
    ck_assert_dh_ok(dh_encoder_create(dh_encoder_spec(dh_model_encoder(src)), NULL, &enc));
    ck_assert_dh_fail(dh_encoder_load_weights(enc, path, DH_BACKBONE_STRICT, NULL, NULL),
                      DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "dh_encoder_load_weights"));
    loaded = ignored = 0;
    ck_assert_dh_ok(dh_encoder_load_weights(enc, path, 0, &loaded, &ignored));
    ck_assert_uint_eq(loaded, ne);
    ck_assert_uint_eq(ignored, 1);
    size_t D = dh_encoder_feature_dim(enc);
    float x[4 * DIN], *f1 = malloc(4 * D * 4), *f2 = malloc(4 * D * 4);
    rand_rows(x, 4 * DIN, 3);
    ck_assert_dh_ok(dh_encoder_forward(enc, x, 4, 0, f1));
    ck_assert_dh_ok(dh_encoder_forward(dh_model_encoder(src), x, 4, 0, f2));
    for (size_t i = 0; i < 4 * D; i++) ck_assert_float_eq_tol(f1[i], f2[i], 1e-5);
    ck_assert_dh_fail(dh_encoder_load_weights(NULL, path, 0, NULL, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_encoder_load_weights(enc, NULL, 0, NULL, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_encoder_load_weights(enc, path, 8, NULL, NULL), DH_E_INVALID_ARG);
    free(f1), free(f2);
    dh_encoder_free(enc);
    dh_model_free(src);
    dh_model_free(dst);
}
END_TEST

START_TEST(test_model_training_interface_reduces_loss)
{
    dh_model *m = mlp_model(DH_HEAD_TANH);
    dh__model_param *p;
    size_t np = dh__model_params(m, &p);
    int heads = 0;
    for (size_t i = 0; i < np; i++) heads += p[i].group == DH_PARAM_GROUP_HEAD;
    ck_assert_int_eq(heads, 2);
    float x[8 * DIN], u[8 * NB];
    rand_rows(x, 8 * DIN, 0);
    dh__model_set_training(m, 0);
    ck_assert_dh_ok(dh__model_forward_train(m, x, 8, u));
    double before = 0;
    for (int i = 0; i < 8 * NB; i++) before += (u[i] - 1.0) * (u[i] - 1.0);
    ck_assert_dh_fail(dh__model_backward(m, u), DH_E_STATE);
    dh__model_set_training(m, 1);
    train_steps(m, 20);
    dh__model_set_training(m, 0);
    ck_assert_dh_ok(dh__model_forward_train(m, x, 8, u));
    double after = 0;
    for (int i = 0; i < 8 * NB; i++) after += (u[i] - 1.0) * (u[i] - 1.0);
    ck_assert_msg(after < 0.5 * before, "loss %g -> %g", before, after);
    dh_model_free(m);
}
END_TEST

START_TEST(test_model_bad_args)
{
    dh_model *m = (dh_model *)1;
    dh_model_options o;
    dh_model_options_init(&o);
    ck_assert_dh_fail(dh_model_create(&o, NULL), DH_E_INVALID_ARG);
    o.encoder = NULL;
    ck_assert_dh_fail(dh_model_create(&o, &m), DH_E_INVALID_ARG);
    ck_assert_ptr_null(m);
    dh_model_options_init(&o);
    o.encoder = "nosuchnet";
    ck_assert_dh_fail(dh_model_create(&o, &m), DH_E_NOT_FOUND);
    dh_model_options_init(&o);
    o.encoder = "mlp:12-16";
    o.std[1] = 0;
    ck_assert_dh_fail(dh_model_create(&o, &m), DH_E_INVALID_ARG);
    dh_model_options_init(&o);
    o.encoder = "mlp:12-16";
    o.n_bits = 0;
    ck_assert_dh_fail(dh_model_create(&o, &m), DH_E_INVALID_ARG);
    dh_model_options_init(&o);
    o.encoder = "mlp:12-16";
    o.batch_size = 0;
    ck_assert_dh_fail(dh_model_create(&o, &m), DH_E_INVALID_ARG);
    /* old struct size: only struct_size + encoder known; oversized with a tail */
    dh_model_options_init(&o);
    o.encoder = "mlp:12-16";
    o.struct_size = offsetof(dh_model_options, n_bits);
    o.n_bits = 0; /* ignored */
    ck_assert_dh_ok(dh_model_create(&o, &m));
    ck_assert_uint_eq(dh_model_n_bits(m), 64);
    dh_model_free(m);
    struct {
        dh_model_options base;
        uint64_t future;
    } big;
    memset(&big, 0, sizeof big);
    dh_model_options_init(&big.base);
    big.base.encoder = "mlp:12-16";
    big.base.struct_size = sizeof big;
    big.future = 1;
    ck_assert_dh_fail(dh_model_create(&big.base, &m), DH_E_VERSION);
    dh_model_free(NULL);
    ck_assert_uint_eq(dh_model_n_bits(NULL), 0);
    ck_assert_ptr_null(dh_model_head(NULL));
    ck_assert_ptr_null(dh_model_get_options(NULL));
    m = mlp_model(DH_HEAD_TANH);
    float v = 1;
    int64_t sh[1] = {1};
    ck_assert_dh_fail(dh_model_set_tensor(m, "head.weight", DH_DTYPE_FLOAT32, 1, sh, &v),
                      DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_model_set_tensor(m, "__x", DH_DTYPE_FLOAT32, 1, sh, &v), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_model_set_tensor(m, "x", DH_DTYPE_UINT8, 1, sh, &v), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_model_set_tensor(m, "x", DH_DTYPE_FLOAT32, 9, sh, &v), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_model_set_tensor(m, "x", DH_DTYPE_FLOAT32, 1, sh, NULL), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_model_set_metadata(m, "n_bits", "3"), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_model_set_metadata(m, "", "3"), DH_E_INVALID_ARG);
    ck_assert_dh_fail(dh_model_set_metadata(m, "k", NULL), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh_model_set_metadata(m, "k", "a"));
    ck_assert_dh_ok(dh_model_set_metadata(m, "k", "b"));
    ck_assert_str_eq(dh_model_get_metadata(m, "k"), "b");
    ck_assert_dh_fail(dh_optimizer_add_model(NULL, m), DH_E_INVALID_ARG);
    dh_model_free(m);
}
END_TEST

static Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("Encode");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_model_encode_codes_are_signs_of_outputs);
    tcase_add_test(tc, test_model_encode_uint8_matches_normalised_float);
    tcase_add_test(tc, test_model_training_interface_reduces_loss);
    suite_add_tcase(s, tc);
    tc = tcase_create("Files");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_model_save_load_roundtrip_identical_codes, 0, 5);
    tcase_add_test(tc, test_model_load_rejects_corrupt_files);
    tcase_add_test(tc, test_model_parse_checks_offsets);
    tcase_add_test(tc, test_model_failed_save_keeps_old_file);
    tcase_add_test(tc, test_model_load_backbone_by_name);
    suite_add_tcase(s, tc);
    tc = tcase_create("Errors");
    tcase_add_test(tc, test_model_bad_args);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dh_test_run(model_suite()); }
