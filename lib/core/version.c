/* lib/core/version.c -- version queries and build facts. */
#include "core/core.h"

#define DH__STR2(x) #x
#define DH__STR(x) DH__STR2(x)

uint32_t dh_version(void) { return DH_VERSION_NUMBER; }

const char *dh_version_string(void)
{
    return DH__STR(DH_VERSION_MAJOR) "." DH__STR(DH_VERSION_MINOR) "." DH__STR(DH_VERSION_PATCH);
}

size_t dh_code_bytes(uint32_t n_bits) { return ((size_t)n_bits + 7u) / 8u; }

int dh_has_training(void)
{
#ifdef DH_WITH_TRAINING
    return 1;
#else
    return 0;
#endif
}
