/* tests/testutil.h -- helpers shared by the Check suites. */
#ifndef DH_TESTUTIL_H
#define DH_TESTUTIL_H
#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "dh.h"

/** Run one suite; returns the process exit code. */
int dh_test_run(Suite *s);
/** Deterministic xorshift generator for test data. */
uint64_t dh_test_rand(uint64_t *state);
/** Fill with random bytes. */
void dh_test_fill(uint8_t *buf, size_t n, uint64_t seed);
/** A fresh temporary directory for this test (removed by the OS /tmp policy). */
const char *dh_test_tmpdir(void);
/** Assert a call fails with `st` and leaves a non-empty dh_last_error(). */
#define ck_assert_dh_fail(expr, st)                                                    \
    do {                                                                               \
        dh_clear_error();                                                              \
        dh_status st_ = (expr);                                                        \
        ck_assert_msg(st_ == (st), "%s returned %d (%s), want %d", #expr, st_,         \
                      dh_last_error(), (st));                                          \
        ck_assert_msg(dh_last_error()[0] != '\0', "%s left no error message", #expr);  \
    } while (0)
#define ck_assert_dh_ok(expr)                                                          \
    do {                                                                               \
        dh_status st_ = (expr);                                                        \
        ck_assert_msg(st_ == DH_OK, "%s failed: %d %s", #expr, st_, dh_last_error());  \
    } while (0)
/** Forward a failing status from a helper that returns dh_status. */
#define DH_TRY_T(expr)                                                                 \
    do {                                                                               \
        dh_status st_t_ = (expr);                                                      \
        if (st_t_ != DH_OK) return st_t_;                                              \
    } while (0)
#endif
