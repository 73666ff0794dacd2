/* lib/core/core.h -- internals shared by every libdh module (not public). */
#ifndef DH_CORE_H
#define DH_CORE_H

/* The library implements dh.h's experimental tier too, so it sees those prototypes
 * (their DH_API visibility exports them). */
#ifndef DH_EXPERIMENTAL
#define DH_EXPERIMENTAL 1
#endif
#include "dh.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define DH__PRINTF(a, b) __attribute__((format(printf, a, b)))
#define DH__LIKELY(x) __builtin_expect(!!(x), 1)
#define DH__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define DH__PRINTF(a, b)
#define DH__LIKELY(x) (x)
#define DH__UNLIKELY(x) (x)
#endif

/* ---- errors ---- */

/** Record a message for dh_last_error() and return `st`. */
dh_status dh__set_error(dh_status st, const char *fmt, ...) DH__PRINTF(2, 3);
dh_status dh__set_errorv(dh_status st, const char *fmt, va_list ap);
/** Prefix the current message with "<prefix>: " (for context from callers). */
void dh__error_prefix(const char *fmt, ...) DH__PRINTF(1, 2);

/** Fail with DH_E_INVALID_ARG naming the condition, from a function returning dh_status. */
#define DH_CHECK_ARG(cond)                                                                   \
    do {                                                                                     \
        if (DH__UNLIKELY(!(cond)))                                                           \
            return dh__set_error(DH_E_INVALID_ARG, "%s: invalid argument: %s", __func__,     \
                                 #cond);                                                     \
    } while (0)

/** Same, with a custom message. */
#define DH_CHECK_ARG_MSG(cond, ...)                                                          \
    do {                                                                                     \
        if (DH__UNLIKELY(!(cond))) return dh__set_error(DH_E_INVALID_ARG, __VA_ARGS__);      \
    } while (0)

/** Forward a failure (the callee has set the message). */
#define DH_TRY(expr)                                                                         \
    do {                                                                                     \
        dh_status dh__st_ = (expr);                                                          \
        if (DH__UNLIKELY(dh__st_ != DH_OK)) return dh__st_;                                  \
    } while (0)

/** Forward a failure to a cleanup label: needs `dh_status st` in scope. */
#define DH_TRY_GOTO(expr, label)                                                             \
    do {                                                                                     \
        st = (expr);                                                                         \
        if (DH__UNLIKELY(st != DH_OK)) goto label;                                           \
    } while (0)

#ifndef NDEBUG
#include <assert.h>
#define DH_ASSERT(x) assert(x) /* internal invariants only, never caller input */
#else
#define DH_ASSERT(x) ((void)0)
#endif

/* ---- allocation (all libdh memory goes through these) ---- */
void *dh__alloc(size_t n);                 /* NULL + DH_E_NO_MEMORY message on failure */
void *dh__calloc(size_t count, size_t size); /* overflow-checked */
void *dh__realloc(void *p, size_t n);
void *dh__alloc_aligned(size_t n, size_t align); /* free with dh__free_aligned */
void dh__free(void *p);
void dh__free_aligned(void *p);
char *dh__strdup(const char *s);
/** a*b without overflow; false if it would overflow. */
static inline bool dh__mul_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* ---- code length: the one rule (codelen.c; dh.h DH_MAX_BITS) ---- */
/** K is a valid code length: 1 <= K <= DH_MAX_BITS. */
static inline bool dh__bits_valid(uint64_t n_bits)
{
    return n_bits >= 1 && n_bits <= DH_MAX_BITS;
}
/** DH_OK for a valid K, else DH_E_INVALID_ARG "<what>: n_bits K is outside 1..4096". */
dh_status dh__check_bits(uint64_t n_bits, const char *what);
/** The bits of a packed code's last byte that belong to the code: 0xFF when K % 8 == 0,
 *  else the low K % 8 bits (LSB-first order; the others are zero padding). */
static inline uint8_t dh__code_last_mask(uint32_t n_bits)
{
    uint8_t m = 0xFF; /* (a ?: of two uint8_t casts is an int to GCC's -Wconversion) */
    if (n_bits % 8) m = (uint8_t)((1u << (n_bits % 8)) - 1u);
    return m;
}
/** First of n packed rows (LSB-first, or MSB-first if msb_first: padding in the low
 *  bits of the last byte) with a nonzero padding bit, or n if none. */
size_t dh__code_find_padding(const uint8_t *codes, size_t n, uint32_t n_bits, int msb_first);

/* ---- options structs ---- */
/** Copy a caller's options struct into `dst` (already holding defaults of size
 *  `known`). Reads min(struct_size, known) bytes; a larger struct must have a
 *  zero tail (else DH_E_VERSION); struct_size < sizeof(size_t) is invalid. */
dh_status dh__options_copy(void *dst, size_t known, const void *src, const char *what);

/* ---- threads ---- */
int dh__num_threads(void); /* >= 1 */

/* ---- CPU ---- */
int32_t dh__isa(void); /* resolved DH_ISA_*, never AUTO */

/* ---- progress / logging (libdh never prints unless asked) ---- */
double dh__now_seconds(void); /* monotonic */

#endif
