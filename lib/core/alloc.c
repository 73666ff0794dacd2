/* lib/core/alloc.c -- the only place libdh calls malloc/free. */
#include "core/core.h"
#include "core/alloc_budget.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- budgets (per thread) and the test hooks (process-wide) ---- */
static _Thread_local dh__alloc_budget *t_budget;
static atomic_int g_armed;
static atomic_long g_calls, g_fail_at;
static atomic_size_t g_bytes;
static atomic_int g_failed;

void dh__alloc_budget_begin(dh__alloc_budget *b, size_t limit)
{
    b->limit = limit;
    b->used = 0;
    b->hit = 0;
    b->prev = t_budget;
    t_budget = b;
}

void dh__alloc_budget_end(dh__alloc_budget *b)
{
    if (t_budget == b) t_budget = b->prev;
}

void dh__alloc_test_arm(long fail_at)
{
    atomic_store(&g_armed, 0);
    atomic_store(&g_calls, 0);
    atomic_store(&g_bytes, 0);
    atomic_store(&g_failed, 0);
    atomic_store(&g_fail_at, fail_at > 0 ? fail_at : 0);
    atomic_store(&g_armed, fail_at >= 0);
}
long dh__alloc_test_calls(void) { return atomic_load(&g_calls); }
size_t dh__alloc_test_bytes(void) { return atomic_load(&g_bytes); }
int dh__alloc_test_failed(void) { return atomic_load(&g_failed); }

/* 1: go ahead; 0: refuse (message set) */
static int admit(size_t n)
{
    int armed = atomic_load_explicit(&g_armed, memory_order_relaxed);
    if (armed) {
        long c = atomic_fetch_add(&g_calls, 1) + 1;
        if (c == atomic_load(&g_fail_at)) {
            atomic_store(&g_failed, 1);
            dh__set_error(DH_E_NO_MEMORY, "out of memory allocating %zu bytes (injected "
                          "failure of allocation %ld)", n, c);
            return 0;
        }
    }
    dh__alloc_budget *b = t_budget;
    if (b) {
        if (n > b->limit - b->used) {
            b->hit = 1;
            dh__set_error(DH_E_NO_MEMORY, "allocation of %zu bytes exceeds the %zu-byte "
                          "budget", n, b->limit);
            return 0;
        }
        b->used += n;
    }
    if (armed) atomic_fetch_add(&g_bytes, n); /* bytes actually handed out */
    return 1;
}

void *dh__alloc(size_t n)
{
    if (!admit(n)) return NULL;
    void *p = malloc(n ? n : 1);
    if (!p) dh__set_error(DH_E_NO_MEMORY, "out of memory allocating %zu bytes", n);
    return p;
}

void *dh__calloc(size_t count, size_t size)
{
    size_t n;
    if (!dh__mul_ok(count, size, &n)) {
        dh__set_error(DH_E_NO_MEMORY, "allocation of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    if (!admit(n)) return NULL;
    void *p = calloc(n ? n : 1, 1);
    if (!p) dh__set_error(DH_E_NO_MEMORY, "out of memory allocating %zu bytes", n);
    return p;
}

void *dh__realloc(void *p, size_t n)
{
    if (!admit(n)) return NULL;
    void *q = realloc(p, n ? n : 1);
    if (!q) dh__set_error(DH_E_NO_MEMORY, "out of memory reallocating to %zu bytes", n);
    return q;
}

void *dh__alloc_aligned(size_t n, size_t align)
{
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    size_t rounded = (n + align - 1) / align * align;
    if (rounded >= n && !admit(rounded)) return NULL;
    if (rounded < n || posix_memalign(&p, align, rounded ? rounded : align) != 0) {
        dh__set_error(DH_E_NO_MEMORY, "out of memory allocating %zu aligned bytes", n);
        return NULL;
    }
    return p;
}

void dh__free(void *p) { free(p); }
void dh__free_aligned(void *p) { free(p); }

char *dh__strdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = dh__alloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

dh_status dh__options_copy(void *dst, size_t known, const void *src, const char *what)
{
    if (!src) return DH_OK; /* NULL options: defaults */
    size_t given;
    memcpy(&given, src, sizeof given);
    if (given < sizeof(size_t))
        return dh__set_error(DH_E_INVALID_ARG,
                             "%s: struct_size %zu is too small (call %s_init first)", what,
                             given, what);
    if (given > known) {
        const unsigned char *tail = (const unsigned char *)src + known;
        for (size_t i = 0; i < given - known; i++)
            if (tail[i] != 0)
                return dh__set_error(DH_E_VERSION,
                                     "%s: struct_size %zu is larger than this library's %zu "
                                     "and sets fields it does not know (byte %zu)",
                                     what, given, known, known + i);
    }
    size_t n = given < known ? given : known;
    memcpy((char *)dst + sizeof(size_t), (const char *)src + sizeof(size_t), n - sizeof(size_t));
    memcpy(dst, &known, sizeof known);
    return DH_OK;
}
