/* lib/core/parallel.c -- thread count shared by libdh's OpenMP loops and oneDNN. */
#include "core/core.h"

#include <stdatomic.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static atomic_int g_threads; /* 0 = OpenMP default */
static atomic_int g_omp_default; /* OpenMP's team size before our first change */

dh_status dh_set_num_threads(uint32_t n)
{
    DH_CHECK_ARG_MSG(n <= 4096, "dh_set_num_threads: n_threads %u is more than 4096", n);
#ifdef _OPENMP
    int expected = 0;
    atomic_compare_exchange_strong(&g_omp_default, &expected, omp_get_max_threads());
    /* oneDNN and OpenBLAS (OpenMP build) take their team size from OpenMP; 0 restores
     * the size OpenMP had before libdh first changed it (OMP_NUM_THREADS or all cores). */
    omp_set_num_threads(n ? (int)n : atomic_load(&g_omp_default));
#endif
    atomic_store(&g_threads, (int)n);
    return DH_OK;
}

int dh__num_threads(void)
{
    int n = atomic_load(&g_threads);
    if (n > 0) return n;
#ifdef _OPENMP
    n = omp_get_max_threads();
#else
    n = 1;
#endif
    return n > 0 ? n : 1;
}

uint32_t dh_get_num_threads(void) { return (uint32_t)dh__num_threads(); }

double dh__now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
