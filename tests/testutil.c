#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dh_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

uint64_t dh_test_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

void dh_test_fill(uint8_t *buf, size_t n, uint64_t seed)
{
    uint64_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(dh_test_rand(&s) >> 56);
}

const char *dh_test_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/dh_test_XXXXXX");
        if (!mkdtemp(dir)) snprintf(dir, sizeof dir, "/tmp");
    }
    return dir;
}
