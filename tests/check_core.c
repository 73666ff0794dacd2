/* tests/check_core.c -- status codes, last-error, options copying, threads, ISA choice,
 * CRC-32C and atomic file writing. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "io/io.h"
#include "testutil.h"

uint32_t dh__crc32c_sw(uint32_t crc, const void *buf, size_t n);

START_TEST(test_core_version_matches_header)
{
    ck_assert_uint_eq(dh_version(), DH_VERSION_NUMBER);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", DH_VERSION_MAJOR, DH_VERSION_MINOR, DH_VERSION_PATCH);
    ck_assert_str_eq(dh_version_string(), want);
}
END_TEST

START_TEST(test_core_status_str_names_every_code)
{
    for (int c = DH_OK; c >= DH_E_INTERNAL; c--) {
        const char *s = dh_status_str(c);
        ck_assert_ptr_nonnull(s);
        ck_assert_msg(strncmp(s, "DH_", 3) == 0 && strstr(s, "UNKNOWN") == NULL, "code %d", c);
    }
    ck_assert_ptr_nonnull(strstr(dh_status_str(-999), "UNKNOWN"));
    ck_assert_ptr_nonnull(strstr(dh_status_str(5), "UNKNOWN"));
}
END_TEST

START_TEST(test_core_last_error_is_thread_local_and_clearable)
{
    dh_clear_error();
    ck_assert_str_eq(dh_last_error(), "");
    ck_assert_int_eq(dh__set_error(DH_E_FORMAT, "bad byte at offset %d", 17), DH_E_FORMAT);
    ck_assert_str_eq(dh_last_error(), "bad byte at offset 17");
    dh__error_prefix("file '%s'", "x.bin");
    ck_assert_str_eq(dh_last_error(), "file 'x.bin': bad byte at offset 17");
    dh_clear_error();
    ck_assert_str_eq(dh_last_error(), "");
}
END_TEST

/* Options structs never have tail padding (fields are padded explicitly), so an old
 * struct_size always ends where a newer field begins. */
typedef struct v1 { size_t struct_size; int64_t a; } v1;
typedef struct v2 { size_t struct_size; int64_t a; int32_t b; int32_t pad; uint64_t c; } v2;

START_TEST(test_core_options_old_and_oversized_struct)
{
    v2 dst = {sizeof(v2), 1, 7, 0, 9};
    v1 old = {sizeof(v1), 42};
    ck_assert_dh_ok(dh__options_copy(&dst, sizeof dst, &old, "opts"));
    ck_assert_int_eq((int)dst.a, 42);
    ck_assert_int_eq(dst.b, 7); /* default kept for the field the old caller lacks */
    ck_assert_uint_eq(dst.c, 9);
    struct { v2 base; uint64_t future; } big;
    memset(&big, 0, sizeof big);
    big.base.struct_size = sizeof big;
    big.base.a = 5;
    ck_assert_dh_ok(dh__options_copy(&dst, sizeof dst, &big, "opts"));
    ck_assert_int_eq((int)dst.a, 5);
    big.future = 1;
    ck_assert_dh_fail(dh__options_copy(&dst, sizeof dst, &big, "opts"), DH_E_VERSION);
    v1 bad = {2, 0};
    ck_assert_dh_fail(dh__options_copy(&dst, sizeof dst, &bad, "opts"), DH_E_INVALID_ARG);
    ck_assert_dh_ok(dh__options_copy(&dst, sizeof dst, NULL, "opts"));
}
END_TEST

START_TEST(test_core_threads_set_get)
{
    uint32_t def = dh_get_num_threads();
    ck_assert_dh_ok(dh_set_num_threads(3));
    ck_assert_uint_eq(dh_get_num_threads(), 3);
    ck_assert_dh_fail(dh_set_num_threads(100000), DH_E_INVALID_ARG);
    ck_assert_uint_eq(dh_get_num_threads(), 3);
    ck_assert_dh_ok(dh_set_num_threads(0));
    ck_assert_uint_eq(dh_get_num_threads(), def); /* the default is restored */
}
END_TEST

START_TEST(test_core_isa_force_and_reject)
{
    ck_assert(dh_cpu_has_isa(DH_ISA_SCALAR));
    ck_assert(!dh_cpu_has_isa(DH_ISA_AUTO));
    ck_assert(!dh_cpu_has_isa(99));
    ck_assert_dh_ok(dh_set_isa(DH_ISA_SCALAR));
    ck_assert_int_eq(dh_get_isa(), DH_ISA_SCALAR);
    ck_assert_dh_fail(dh_set_isa(17), DH_E_INVALID_ARG);
    for (int32_t i = DH_ISA_AVX2; i <= DH_ISA_AVX512VPOPCNT; i++)
        if (!dh_cpu_has_isa(i)) ck_assert_dh_fail(dh_set_isa(i), DH_E_UNSUPPORTED);
    ck_assert_dh_ok(dh_set_isa(DH_ISA_AUTO));
    int32_t best = dh_get_isa();
    ck_assert(best >= DH_ISA_SCALAR && dh_cpu_has_isa(best));
    for (int32_t i = best + 1; i <= DH_ISA_AVX512VPOPCNT; i++) ck_assert(!dh_cpu_has_isa(i));
    ck_assert_str_eq(dh_isa_name(DH_ISA_AVX2), "avx2");
    ck_assert_str_eq(dh_isa_name(123), "unknown");
}
END_TEST

START_TEST(test_core_code_bytes)
{
    ck_assert_uint_eq(dh_code_bytes(8), 1);
    ck_assert_uint_eq(dh_code_bytes(64), 8);
    ck_assert_uint_eq(dh_code_bytes(65), 9);
    ck_assert_uint_eq(dh_code_bytes(4096), 512);
}
END_TEST

START_TEST(test_core_crc32c_known_vectors)
{
    /* RFC 3720 B.4 test vectors */
    uint8_t zeros[32] = {0}, ones[32], inc[32];
    memset(ones, 0xFF, sizeof ones);
    for (int i = 0; i < 32; i++) inc[i] = (uint8_t)i;
    ck_assert_uint_eq(dh__crc32c(0, zeros, 32), 0x8A9136AAu);
    ck_assert_uint_eq(dh__crc32c(0, ones, 32), 0x62A8AB43u);
    ck_assert_uint_eq(dh__crc32c(0, inc, 32), 0x46DD794Eu);
    ck_assert_uint_eq(dh__crc32c(0, "123456789", 9), 0xE3069283u);
    /* hardware and table paths agree, also incrementally and on odd lengths */
    uint8_t buf[1031];
    dh_test_fill(buf, sizeof buf, 3);
    for (size_t n = 0; n < sizeof buf; n += 97) {
        uint32_t a = dh__crc32c(0, buf, n), b = dh__crc32c_sw(0, buf, n);
        ck_assert_uint_eq(a, b);
        ck_assert_uint_eq(dh__crc32c(dh__crc32c(0, buf, n / 3), buf + n / 3, n - n / 3), a);
    }
}
END_TEST

START_TEST(test_core_atomic_write_keeps_old_file_on_abort)
{
    char path[512];
    snprintf(path, sizeof path, "%s/atomic.bin", dh_test_tmpdir());
    dh__atomic_file af;
    ck_assert_dh_ok(dh__atomic_open(&af, path));
    ck_assert_dh_ok(dh__atomic_write(&af, "first", 5));
    ck_assert_dh_ok(dh__atomic_commit(&af));
    ck_assert_dh_ok(dh__atomic_open(&af, path));
    ck_assert_dh_ok(dh__atomic_write(&af, "second-longer", 13));
    dh__atomic_abort(&af);
    uint8_t *data;
    size_t n;
    ck_assert_dh_ok(dh__read_file(path, &data, &n));
    ck_assert_uint_eq(n, 5);
    ck_assert(memcmp(data, "first", 5) == 0);
    free(data);
    ck_assert_dh_fail(dh__atomic_open(&af, "/nonexistent-dir/x.bin"), DH_E_IO);
    ck_assert_dh_fail(dh__read_file("/nonexistent-dir/x.bin", &data, &n), DH_E_NOT_FOUND);
    ck_assert_dh_fail(dh__read_file(dh_test_tmpdir(), &data, &n), DH_E_IO);
}
END_TEST

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("Status");
    tcase_add_test(tc, test_core_version_matches_header);
    tcase_add_test(tc, test_core_status_str_names_every_code);
    tcase_add_test(tc, test_core_last_error_is_thread_local_and_clearable);
    tcase_add_test(tc, test_core_options_old_and_oversized_struct);
    suite_add_tcase(s, tc);
    tc = tcase_create("Runtime");
    tcase_add_test(tc, test_core_threads_set_get);
    tcase_add_test(tc, test_core_isa_force_and_reject);
    tcase_add_test(tc, test_core_code_bytes);
    suite_add_tcase(s, tc);
    tc = tcase_create("Files");
    tcase_add_test(tc, test_core_crc32c_known_vectors);
    tcase_add_test(tc, test_core_atomic_write_keeps_old_file_on_abort);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dh_test_run(core_suite()); }
