/* bench/fma_limit.c -- the float32 FMA limit of this machine (what bench/encoder_profile.py
 * sets each convolution's GFLOP/s against): every thread runs independent chains of
 * vector FMAs (12 AVX2 or 16 AVX-512 accumulators: enough to cover the FMA latency on
 * two pipes), best of 5 runs. Usage: fma_limit avx2|avx512 [threads]. Prints
 * "gflops=X" (all threads together). Built and run by encoder_profile.py. */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITERS 20000000L

#define R12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define R16(X) R12(X) X(12) X(13) X(14) X(15)

__attribute__((target("avx2,fma"))) static float run_avx2(void)
{
#define D2(i) __m256 a##i = _mm256_set1_ps(1.0f + (i) * 1e-3f);
#define F2(i) a##i = _mm256_fmadd_ps(a##i, b, c);
#define S2(i) s = _mm256_add_ps(s, a##i);
    R12(D2)
    const __m256 b = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
    for (long k = 0; k < ITERS; k++) { R12(F2) }
    __m256 s = _mm256_setzero_ps();
    R12(S2)
    float o[8];
    _mm256_storeu_ps(o, s);
    return o[0];
}

__attribute__((target("avx512f"))) static float run_avx512(void)
{
#define D5(i) __m512 a##i = _mm512_set1_ps(1.0f + (i) * 1e-3f);
#define F5(i) a##i = _mm512_fmadd_ps(a##i, b, c);
#define S5(i) s = _mm512_add_ps(s, a##i);
    R16(D5)
    const __m512 b = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-4f);
    for (long k = 0; k < ITERS; k++) { R16(F5) }
    __m512 s = _mm512_setzero_ps();
    R16(S5)
    return _mm512_reduce_add_ps(s);
}

int main(int argc, char **argv)
{
    int w512 = argc > 1 && strcmp(argv[1], "avx512") == 0;
    if (argc < 2 || (!w512 && strcmp(argv[1], "avx2") != 0)) {
        fprintf(stderr, "usage: fma_limit avx2|avx512 [threads]\n");
        return 2;
    }
    __builtin_cpu_init();
    if (w512 ? !__builtin_cpu_supports("avx512f") : !__builtin_cpu_supports("fma")) {
        fprintf(stderr, "fma_limit: this CPU lacks %s\n", argv[1]);
        return 1;
    }
    int nt = argc > 2 ? atoi(argv[2]) : omp_get_max_threads();
    if (nt < 1) nt = 1;
    double best = 0, sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = omp_get_wtime();
#pragma omp parallel num_threads(nt) reduction(+ : sink)
        sink += w512 ? run_avx512() : run_avx2();
        double t = omp_get_wtime() - t0;
        double flops = (double)ITERS * (w512 ? 16 * 16 : 12 * 8) * 2 * nt;
        if (flops / t > best) best = flops / t;
    }
    printf("isa=%s threads=%d gflops=%.1f (sink %g)\n", argv[1], nt, best / 1e9, sink);
    return 0;
}
