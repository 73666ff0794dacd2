/* lib/core/cpu.c -- CPUID feature detection and the Hamming kernel choice. */
#include "core/core.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define DH__X86 1
#endif

static int cpu_supports(int32_t isa)
{
    switch (isa) {
    case DH_ISA_SCALAR: return 1;
#if defined(DH__X86) && defined(__GNUC__)
    case DH_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    case DH_ISA_AVX512BW:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    case DH_ISA_AVX512VPOPCNT:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vpopcntdq");
#endif
#if defined(__aarch64__)
    case DH_ISA_NEON: return 1; /* Advanced SIMD is part of the aarch64 base ISA */
#endif
    default: return 0;
    }
}

int dh_cpu_has_isa(int32_t isa) { return isa >= DH_ISA_SCALAR && cpu_supports(isa); }

const char *dh_isa_name(int32_t isa)
{
    switch (isa) {
    case DH_ISA_AUTO: return "auto";
    case DH_ISA_SCALAR: return "scalar";
    case DH_ISA_AVX2: return "avx2";
    case DH_ISA_AVX512BW: return "avx512bw";
    case DH_ISA_AVX512VPOPCNT: return "avx512vpopcnt";
    case DH_ISA_NEON: return "neon";
    default: return "unknown";
    }
}

static int32_t best_isa(void)
{
    for (int32_t i = DH_ISA_NEON; i > DH_ISA_SCALAR; i--)
        if (cpu_supports(i)) return i;
    return DH_ISA_SCALAR;
}

static atomic_int g_isa; /* 0 = not resolved yet */

static int32_t isa_from_env(void)
{
    const char *e = getenv("DH_ISA");
    if (!e || !*e) return DH_ISA_AUTO;
    for (int32_t i = DH_ISA_SCALAR; i <= DH_ISA_NEON; i++)
        if (strcmp(e, dh_isa_name(i)) == 0) return cpu_supports(i) ? i : DH_ISA_AUTO;
    return DH_ISA_AUTO; /* unknown names fall back to automatic choice */
}

int32_t dh__isa(void)
{
    int v = atomic_load(&g_isa);
    if (v) return v;
    int32_t e = isa_from_env();
    v = e != DH_ISA_AUTO ? e : best_isa();
    atomic_store(&g_isa, v);
    return v;
}

int32_t dh_get_isa(void) { return dh__isa(); }

dh_status dh_set_isa(int32_t isa)
{
    if (isa < DH_ISA_AUTO || isa > DH_ISA_NEON)
        return dh__set_error(DH_E_INVALID_ARG, "dh_set_isa: unknown isa %d", isa);
    if (isa == DH_ISA_AUTO) {
        atomic_store(&g_isa, 0);
        return DH_OK;
    }
    if (!cpu_supports(isa))
        return dh__set_error(DH_E_UNSUPPORTED, "dh_set_isa: this CPU does not support %s",
                             dh_isa_name(isa));
    atomic_store(&g_isa, isa);
    return DH_OK;
}
