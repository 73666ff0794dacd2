/* lib/core/alloc.c -- the only place libdh calls malloc/free. */
#include "core.h"

#include <stdlib.h>
#include <string.h>

void *dh__alloc(size_t n)
{
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
    void *p = calloc(n ? n : 1, 1);
    if (!p) dh__set_error(DH_E_NO_MEMORY, "out of memory allocating %zu bytes", n);
    return p;
}

void *dh__realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) dh__set_error(DH_E_NO_MEMORY, "out of memory reallocating to %zu bytes", n);
    return q;
}

void *dh__alloc_aligned(size_t n, size_t align)
{
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    size_t rounded = (n + align - 1) / align * align;
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
