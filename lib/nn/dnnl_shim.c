/* lib/nn/dnnl_shim.c -- the oneDNN (v2.x C API) boundary: engine, errors, descriptors.
 *
 * Version-specific calls live here and in the files beside it (plan.c, ops_*.c),
 * which include net_impl.h; nothing outside lib/nn/ sees a dnnl type. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl_debug.h>

#include "nn/net_impl.h"

dh_status dh__dnnl_error(dnnl_status_t s, const char *call, const char *func)
{
    /* Keep only the function name of the call text for a readable message. */
    char name[64];
    size_t k = 0;
    while (call[k] && call[k] != '(' && k + 1 < sizeof name) {
        name[k] = call[k];
        k++;
    }
    name[k] = '\0';
    return dh__set_error(DH_E_BACKEND, "%s: oneDNN %s failed: %s", func, name,
                         dnnl_status2str(s));
}

static dnnl_engine_t g_engine;
static dnnl_status_t g_engine_status = dnnl_runtime_error;
static pthread_once_t g_engine_once = PTHREAD_ONCE_INIT;

/* DH_ISA also caps oneDNN's kernels, so that `DH_ISA=avx2` measures the encoders'
 * AVX2 path too (jit:avx2 instead of avx512_core): avx2 -> dnnl_cpu_isa_avx2,
 * scalar -> SSE4.1 (oneDNN's floor). ONEDNN_MAX_CPU_ISA, when set, wins. The cap is
 * read once, at the first primitive; dh_set_isa afterwards changes only the Hamming
 * kernels. */
static void cap_dnnl_isa(void)
{
    const char *e = getenv("DH_ISA");
    if (!e || getenv("ONEDNN_MAX_CPU_ISA") || getenv("DNNL_MAX_CPU_ISA")) return;
    if (strcmp(e, "avx2") == 0) (void)dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx2);
    else if (strcmp(e, "scalar") == 0) (void)dnnl_set_max_cpu_isa(dnnl_cpu_isa_sse41);
}

static void engine_init(void)
{
    cap_dnnl_isa();
    g_engine_status = dnnl_engine_create(&g_engine, dnnl_cpu, 0);
}

dh_status dh__dnnl_engine(dnnl_engine_t *out)
{
    pthread_once(&g_engine_once, engine_init);
    if (g_engine_status != dnnl_success) {
        *out = NULL;
        return dh__dnnl_error(g_engine_status, "dnnl_engine_create", __func__);
    }
    *out = g_engine;
    return DH_OK;
}

static dnnl_format_tag_t plain_tag(int nd)
{
    switch (nd) {
    case 1: return dnnl_a;
    case 2: return dnnl_ab;
    case 3: return dnnl_abc;
    case 4: return dnnl_abcd;
    case 5: return dnnl_abcde;
    default: return dnnl_format_tag_undef;
    }
}

dh_status dh__dnnl_md_plain(dnnl_memory_desc_t *md, int nd, const int64_t *dims)
{
    dnnl_dims_t d;
    for (int i = 0; i < nd; i++) d[i] = dims[i];
    DH_DNNL(dnnl_memory_desc_init_by_tag(md, nd, d, dnnl_f32, plain_tag(nd)));
    return DH_OK;
}

dh_status dh__dnnl_md_any(dnnl_memory_desc_t *md, int nd, const int64_t *dims)
{
    dnnl_dims_t d;
    for (int i = 0; i < nd; i++) d[i] = dims[i];
    DH_DNNL(dnnl_memory_desc_init_by_tag(md, nd, d, dnnl_f32, dnnl_format_tag_any));
    return DH_OK;
}

size_t dh__dnnl_md_bytes(const dnnl_memory_desc_t *md) { return dnnl_memory_desc_get_size(md); }

float *dh__nn_mem_ptr(dnnl_memory_t m)
{
    void *h = NULL;
    if (m) dnnl_memory_get_data_handle(m, &h);
    return (float *)h;
}

const dnnl_memory_desc_t *dh__nn_pd_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what, int idx)
{
    return dnnl_primitive_desc_query_md(pd, what, idx);
}
