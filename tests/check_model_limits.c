/* tests/check_model_limits.c -- issue 19 for model files: no model file of <= 1 MB
 * makes dh_model_load allocate more than 64 MB or run more than 1 s before it refuses
 * (metadata naming a huge encoder, many __metadata__ keys); bad n_bits / batch_size
 * are DH_E_FORMAT; a negative running_var is refused. Allocation is measured with the
 * allocator's test counters (lib/core/alloc.c), time with a generous bound. */
#include "testutil.h"

#include "core/alloc_budget.h"
#include "io/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SLOW 8.0
#else
#define SLOW 1.0
#endif
#define MAX_BYTES ((size_t)64 << 20)
#define MAX_SECONDS (1.0 * SLOW)

static char g_path[512];

/* Save a small mlp model and return its parsed file (caller frees st and *buf). */
static void small_model_file(dh__safetensors *st, uint8_t **buf)
{
    dh_model_options o;
    dh_model_options_init(&o);
    o.encoder = "mlp:16-8";
    o.n_bits = 16;
    dh_model *m;
    ck_assert_dh_ok(dh_model_create(&o, &m));
    snprintf(g_path, sizeof g_path, "%s/small.dhm", dh_test_tmpdir());
    ck_assert_dh_ok(dh_model_save(m, g_path));
    dh_model_free(m);
    size_t len;
    ck_assert_dh_ok(dh__read_file(g_path, buf, &len));
    ck_assert_dh_ok(dh__safetensors_parse(*buf, len, st));
}

/* Rewrite the file: metadata `key` = `val` (NULL: unchanged), keep tensors or not,
 * and add n_user extra metadata keys. Returns the path. */
static const char *rewrite(const char *name, const char *key, const char *val, int tensors,
                           size_t n_user, const char *scale_var)
{
    dh__safetensors st;
    uint8_t *buf;
    small_model_file(&st, &buf);
    size_t nm = st.n_meta + n_user;
    const char **k = calloc(nm, sizeof *k), **v = calloc(nm, sizeof *v);
    char *names = calloc(n_user ? n_user : 1, 16);
    for (size_t i = 0; i < st.n_meta; i++) {
        k[i] = st.meta_keys[i];
        v[i] = key && !strcmp(k[i], key) ? val : st.meta_vals[i];
    }
    for (size_t i = 0; i < n_user; i++) {
        snprintf(names + 16 * i, 16, "u%zu", i);
        k[st.n_meta + i] = names + 16 * i, v[st.n_meta + i] = "v";
    }
    dh__st_entry *e = calloc(st.n ? st.n : 1, sizeof *e);
    float *copy = NULL;
    for (size_t i = 0; tensors && i < st.n; i++) {
        e[i].name = st.t[i].name;
        e[i].dtype = st.t[i].dtype;
        e[i].ndim = st.t[i].ndim;
        memcpy(e[i].shape, st.t[i].shape, sizeof e[i].shape);
        e[i].data = st.t[i].data;
        e[i].nbytes = st.t[i].nbytes;
        if (scale_var && strstr(st.t[i].name, scale_var)) { /* a negative first variance */
            copy = malloc(st.t[i].nbytes);
            memcpy(copy, st.t[i].data, st.t[i].nbytes);
            copy[0] = -1.0f;
            e[i].data = copy;
        }
    }
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dh_test_tmpdir(), name);
    ck_assert_dh_ok(dh__safetensors_write(path, e, tensors ? st.n : 0, k, v, nm));
    free(copy), free(e), free(names), free(k), free(v);
    dh__safetensors_free(&st);
    dh__free(buf);
    return path;
}

static long file_size(const char *path)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fclose(fp);
    return n;
}

/* load `path`, expecting `want`; returns bytes allocated, *secs the time taken */
static size_t measured_load(const char *path, dh_status want, double *secs)
{
    dh_model *m = NULL;
    double t0 = dh__now_seconds();
    dh__alloc_test_arm(0);
    dh_clear_error();
    dh_status st = dh_model_load(path, &m);
    size_t bytes = dh__alloc_test_bytes();
    dh__alloc_test_arm(-1);
    *secs = dh__now_seconds() - t0;
    ck_assert_msg(st == want, "load %s: %d (%s), want %d", path, st, dh_last_error(), want);
    dh_model_free(m);
    return bytes;
}

START_TEST(huge_encoder_in_tiny_file)
{
    /* a few hundred bytes naming a 4 GB mlp, no tensors */
    const char *p = rewrite("huge.dhm", "encoder", "mlp:1048576-1024", 0, 0, NULL);
    ck_assert_int_lt(file_size(p), 4096);
    double secs;
    size_t bytes = measured_load(p, DH_E_FORMAT, &secs);
    ck_assert_msg(bytes <= MAX_BYTES, "allocated %zu bytes", bytes);
    ck_assert_msg(secs <= MAX_SECONDS, "took %.2f s", secs);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "tensors"));
    /* the tensors of the small model with a large head: refused the same way */
    p = rewrite("huge_bits.dhm", "encoder", "mlp:16-1048576", 1, 0, NULL);
    bytes = measured_load(p, DH_E_FORMAT, &secs);
    ck_assert_msg(bytes <= MAX_BYTES, "allocated %zu bytes", bytes);
}
END_TEST

START_TEST(real_models_fit_their_budget)
{
    /* every built-in architecture's own file loads under the budget */
    const char *specs[] = {"mlp:32-64-16", "smallcnn", "alexnet", "resnet18-cifar", "pixels"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        dh_model_options o;
        dh_model_options_init(&o);
        o.encoder = specs[i];
        o.n_bits = 32;
        if (!strcmp(specs[i], "pixels"))
            o.in_channels = 3, o.in_height = 32, o.in_width = 32;
        dh_model *m;
        ck_assert_dh_ok(dh_model_create(&o, &m));
        char path[600];
        snprintf(path, sizeof path, "%s/arch%zu.dhm", dh_test_tmpdir(), i);
        ck_assert_dh_ok(dh_model_save(m, path));
        dh_model_free(m);
        dh_model *back = NULL;
        dh_status st = dh_model_load(path, &back);
        ck_assert_msg(st == DH_OK, "%s: %s", specs[i], dh_last_error());
        dh_model_free(back);
    }
}
END_TEST

START_TEST(many_metadata_keys_linear)
{
    /* 60k user keys: about 1 MB of header; the old per-key lookup took seconds */
    const char *p = rewrite("keys.dhm", NULL, NULL, 1, 60000, NULL);
    ck_assert_int_le(file_size(p), 1 << 20);
    double secs;
    size_t bytes = measured_load(p, DH_OK, &secs);
    ck_assert_msg(secs <= MAX_SECONDS, "60k metadata keys took %.2f s", secs);
    ck_assert_msg(bytes <= MAX_BYTES, "allocated %zu bytes", bytes);
    dh_model *m;
    ck_assert_dh_ok(dh_model_load(p, &m));
    ck_assert_str_eq(dh_model_get_metadata(m, "u59999"), "v");
    dh_model_free(m);
}
END_TEST

START_TEST(bad_options_are_format_errors)
{
    const char *cases[][2] = {{"n_bits", "0"}, {"batch_size", "0"}, {"n_bits", "70000"},
                              {"batch_size", "99999999"}, {"bn_eps", "nan"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = rewrite("bad.dhm", cases[i][0], cases[i][1], 1, 0, NULL);
        dh_model *m = NULL;
        dh_status st = dh_model_load(p, &m);
        ck_assert_msg(st == DH_E_FORMAT || (st == DH_E_SHAPE && !strcmp(cases[i][0], "n_bits")),
                      "%s=%s: %d (%s)", cases[i][0], cases[i][1], st, dh_last_error());
        dh_model_free(m);
    }
}
END_TEST

START_TEST(negative_running_var_refused)
{
    const char *p = rewrite("var.dhm", NULL, NULL, 1, 0, "running_var");
    dh_model *m = NULL;
    ck_assert_dh_fail(dh_model_load(p, &m), DH_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dh_last_error(), "running_var"));
    ck_assert_ptr_null(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model_limits");
    TCase *tc = tcase_create("limits");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, huge_encoder_in_tiny_file);
    tcase_add_test(tc, real_models_fit_their_budget);
    tcase_add_test(tc, many_metadata_keys_linear);
    tcase_add_test(tc, bad_options_are_format_errors);
    tcase_add_test(tc, negative_running_var_refused);
    suite_add_tcase(s, tc);
    return dh_test_run(s);
}
