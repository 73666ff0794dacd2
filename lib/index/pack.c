/* lib/index/pack.c -- packing sign rows into bit codes and back, bit-order conversion,
 * and the row <-> uint64-word conversion the index stores.
 *
 * Packed codes: bit j of a code is bit (j % 8) of byte (j / 8) (LSB-first); with
 * DH_CODES_MSB_FIRST it is bit 7 - (j % 8) (numpy.packbits). Sign rows: x >= 0 -> 1. */
#include "index/index.h"

#include <string.h>

#define DH__PACK_MAX_BITS ((uint32_t)DH_MAX_BITS) /* the one code-length rule, dh.h */

static uint8_t reverse8(uint8_t b)
{
    b = (uint8_t)((b & 0xF0u) >> 4 | (b & 0x0Fu) << 4);
    b = (uint8_t)((b & 0xCCu) >> 2 | (b & 0x33u) << 2);
    b = (uint8_t)((b & 0xAAu) >> 1 | (b & 0x55u) << 1);
    return b;
}

static dh_status check_pack_args(const char *fn, const void *in, const void *out, size_t n,
                                 uint32_t n_bits, uint32_t flags)
{
    DH_TRY(dh__check_bits(n_bits, fn));
    if (flags & ~DH_CODES_MSB_FIRST)
        return dh__set_error(DH_E_INVALID_ARG, "%s: unknown flags 0x%x", fn, flags);
    if (n > 0 && (in == NULL || out == NULL))
        return dh__set_error(DH_E_INVALID_ARG, "%s: %s is NULL", fn, in ? "out" : "input");
    size_t total;
    if (!dh__mul_ok(n, n_bits, &total))
        return dh__set_error(DH_E_INVALID_ARG, "%s: n %zu x n_bits %u overflows", fn, n, n_bits);
    return DH_OK;
}

/* One row of sign values -> packed bytes (LSB-first); NaN makes it fail at column j. */
#define DH__PACK_ROW(T, x, n_bits, out, bad_col)                                             \
    do {                                                                                     \
        size_t nb_ = dh_code_bytes(n_bits);                                                  \
        for (size_t b_ = 0; b_ < nb_; b_++) {                                                \
            uint32_t byte_ = 0;                                                              \
            uint32_t lim_ = (uint32_t)((n_bits) - b_ * 8 < 8 ? (n_bits) - b_ * 8 : 8);       \
            for (uint32_t t_ = 0; t_ < lim_; t_++) {                                         \
                T v_ = (x)[b_ * 8 + t_];                                                     \
                if (v_ != v_) (bad_col) = (long long)(b_ * 8 + t_);                          \
                byte_ |= (uint32_t)(v_ >= 0) << t_;                                          \
            }                                                                                \
            (out)[b_] = (uint8_t)byte_;                                                      \
        }                                                                                    \
    } while (0)

static void to_msb(uint8_t *row, size_t nb)
{
    for (size_t b = 0; b < nb; b++) row[b] = reverse8(row[b]);
}

#define DH__PACK_FN(name, T)                                                                 \
    dh_status name(const T *x, size_t n, uint32_t n_bits, uint32_t flags, uint8_t *out)      \
    {                                                                                        \
        DH_TRY(check_pack_args(#name, x, out, n, n_bits, flags));                            \
        size_t nb = dh_code_bytes(n_bits);                                                   \
        for (size_t i = 0; i < n; i++) {                                                     \
            long long bad = -1;                                                              \
            DH__PACK_ROW(T, x + i * n_bits, n_bits, out + i * nb, bad);                      \
            if (bad >= 0)                                                                    \
                return dh__set_error(DH_E_INVALID_ARG, "%s: row %zu column %lld is NaN",     \
                                     #name, i, bad);                                         \
            if (flags & DH_CODES_MSB_FIRST) to_msb(out + i * nb, nb);                        \
        }                                                                                    \
        return DH_OK;                                                                        \
    }

DH__PACK_FN(dh_codes_pack_float, float)
DH__PACK_FN(dh_codes_pack_double, double)

dh_status dh_codes_pack_int8(const int8_t *x, size_t n, uint32_t n_bits, uint32_t flags,
                             uint8_t *out)
{
    DH_TRY(check_pack_args("dh_codes_pack_int8", x, out, n, n_bits, flags));
    size_t nb = dh_code_bytes(n_bits);
    for (size_t i = 0; i < n; i++) {
        long long bad = -1; /* integers are never NaN; the macro's check folds away */
        DH__PACK_ROW(int8_t, x + i * n_bits, n_bits, out + i * nb, bad);
        (void)bad;
        if (flags & DH_CODES_MSB_FIRST) to_msb(out + i * nb, nb);
    }
    return DH_OK;
}

static inline int get_bit(const uint8_t *row, uint32_t j, int msb)
{
    return msb ? (row[j >> 3] >> (7 - (j & 7))) & 1 : (row[j >> 3] >> (j & 7)) & 1;
}

dh_status dh_codes_unpack_float(const uint8_t *codes, size_t n, uint32_t n_bits, uint32_t flags,
                                float *out)
{
    DH_TRY(check_pack_args("dh_codes_unpack_float", codes, out, n, n_bits, flags));
    size_t nb = dh_code_bytes(n_bits);
    int msb = (flags & DH_CODES_MSB_FIRST) != 0;
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n_bits; j++)
            out[i * n_bits + j] = get_bit(codes + i * nb, j, msb) ? 1.0f : -1.0f;
    return DH_OK;
}

dh_status dh_codes_unpack_int8(const uint8_t *codes, size_t n, uint32_t n_bits, uint32_t flags,
                               int8_t *out)
{
    DH_TRY(check_pack_args("dh_codes_unpack_int8", codes, out, n, n_bits, flags));
    size_t nb = dh_code_bytes(n_bits);
    int msb = (flags & DH_CODES_MSB_FIRST) != 0;
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n_bits; j++)
            out[i * n_bits + j] = (int8_t)(get_bit(codes + i * nb, j, msb) ? 1 : -1);
    return DH_OK;
}

dh_status dh_codes_reverse_bit_order(const uint8_t *in, size_t n, uint32_t n_bits, uint8_t *out)
{
    DH_TRY(check_pack_args("dh_codes_reverse_bit_order", in, out, n, n_bits, 0));
    size_t total = n * dh_code_bytes(n_bits);
    for (size_t b = 0; b < total; b++) out[b] = reverse8(in[b]);
    return DH_OK;
}

/* ---- rows <-> index words ---- */

size_t dh__code_row_bytes(int32_t format, uint32_t n_bits)
{
    switch (format) {
    case DH_CODE_PACKED:
    case DH_CODE_PACKED_MSB: return dh_code_bytes(n_bits);
    case DH_CODE_FLOAT32: return (size_t)n_bits * sizeof(float);
    case DH_CODE_FLOAT64: return (size_t)n_bits * sizeof(double);
    case DH_CODE_INT8: return n_bits;
    default: return 0;
    }
}

/* Little-endian words from bytes already placed in the word buffer (no-op on LE). */
static void fix_word_order(uint64_t *w, size_t n_words)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (size_t i = 0; i < n_words; i++) w[i] = __builtin_bswap64(w[i]);
#else
    (void)w;
    (void)n_words;
#endif
}

/* Zero the bits >= n_bits of one word row. */
static void mask_padding(uint64_t *w, uint32_t n_bits, uint32_t n_words)
{
    uint32_t full = n_bits / 64, rem = n_bits % 64;
    if (rem) w[full] &= (UINT64_C(1) << rem) - 1;
    for (uint32_t i = full + (rem ? 1 : 0); i < n_words; i++) w[i] = 0;
}

static dh_status one_row_to_words(const uint8_t *src, int32_t format, uint32_t n_bits,
                                  uint32_t n_words, uint64_t *w, size_t row, const char *what)
{
    uint8_t *bytes = (uint8_t *)w;
    size_t nb = dh_code_bytes(n_bits);
    long long bad = -1;
    memset(w, 0, (size_t)n_words * 8);
    switch (format) {
    case DH_CODE_PACKED: memcpy(bytes, src, nb); break;
    case DH_CODE_PACKED_MSB:
        for (size_t b = 0; b < nb; b++) bytes[b] = reverse8(src[b]);
        break;
    case DH_CODE_FLOAT32:
        DH__PACK_ROW(float, (const float *)(const void *)src, n_bits, bytes, bad);
        break;
    case DH_CODE_FLOAT64:
        DH__PACK_ROW(double, (const double *)(const void *)src, n_bits, bytes, bad);
        break;
    case DH_CODE_INT8: DH__PACK_ROW(int8_t, (const int8_t *)src, n_bits, bytes, bad); break;
    default: return dh__set_error(DH_E_INVALID_ARG, "%s: unknown code format %d", what, format);
    }
    if (bad >= 0)
        return dh__set_error(DH_E_INVALID_ARG, "%s: row %zu column %lld is NaN", what, row, bad);
    fix_word_order(w, n_words);
    mask_padding(w, n_bits, n_words);
    return DH_OK;
}

dh_status dh__rows_to_words(const void *rows, int32_t format, size_t n, uint32_t n_bits,
                            uint64_t *out, const char *what)
{
    size_t rb = dh__code_row_bytes(format, n_bits);
    if (rb == 0) return dh__set_error(DH_E_INVALID_ARG, "%s: unknown code format %d", what, format);
    uint32_t n_words = (n_bits + 63) / 64;
    for (size_t i = 0; i < n; i++)
        DH_TRY(one_row_to_words((const uint8_t *)rows + i * rb, format, n_bits, n_words,
                                out + i * n_words, i, what));
    return DH_OK;
}

static void one_words_to_row(const uint64_t *w, uint32_t n_bits, int32_t format, uint8_t *dst)
{
    uint64_t tmp[DH__PACK_MAX_BITS / 64];
    uint32_t n_words = (n_bits + 63) / 64;
    memcpy(tmp, w, (size_t)n_words * 8);
    fix_word_order(tmp, n_words);
    const uint8_t *bytes = (const uint8_t *)tmp;
    size_t nb = dh_code_bytes(n_bits);
    switch (format) {
    case DH_CODE_PACKED: memcpy(dst, bytes, nb); break;
    case DH_CODE_PACKED_MSB:
        for (size_t b = 0; b < nb; b++) dst[b] = reverse8(bytes[b]);
        break;
    case DH_CODE_FLOAT32:
        for (uint32_t j = 0; j < n_bits; j++)
            ((float *)(void *)dst)[j] = get_bit(bytes, j, 0) ? 1.0f : -1.0f;
        break;
    case DH_CODE_FLOAT64:
        for (uint32_t j = 0; j < n_bits; j++)
            ((double *)(void *)dst)[j] = get_bit(bytes, j, 0) ? 1.0 : -1.0;
        break;
    default: /* DH_CODE_INT8; the caller validated the format */
        for (uint32_t j = 0; j < n_bits; j++)
            ((int8_t *)dst)[j] = (int8_t)(get_bit(bytes, j, 0) ? 1 : -1);
        break;
    }
}

dh_status dh__words_to_rows(const uint64_t *words, size_t n, uint32_t n_bits, int32_t format,
                            void *out)
{
    size_t rb = dh__code_row_bytes(format, n_bits);
    if (rb == 0) return dh__set_error(DH_E_INVALID_ARG, "unknown code format %d", format);
    uint32_t n_words = (n_bits + 63) / 64;
    for (size_t i = 0; i < n; i++)
        one_words_to_row(words + i * n_words, n_bits, format, (uint8_t *)out + i * rb);
    return DH_OK;
}

/* ---- all-pairs distances (public helper on the index kernels) ---- */

dh_status dh_hamming_distances(const uint8_t *a, size_t na, const uint8_t *b, size_t nb,
                               uint32_t n_bits, uint32_t flags, int32_t *out)
{
    const char *fn = "dh_hamming_distances";
    DH_TRY(check_pack_args(fn, a, out, na, n_bits, flags));
    DH_TRY(check_pack_args(fn, b, out, nb, n_bits, flags));
    int32_t fmt = (flags & DH_CODES_MSB_FIRST) ? DH_CODE_PACKED_MSB : DH_CODE_PACKED;
    size_t n_words = (n_bits + 63) / 64, cells, bytes_a, bytes_b;
    if (!dh__mul_ok(na, nb, &cells) || !dh__mul_ok(na, n_words * 8, &bytes_a) ||
        !dh__mul_ok(nb, n_words * 8, &bytes_b))
        return dh__set_error(DH_E_INVALID_ARG, "%s: na %zu x nb %zu is too large", fn, na, nb);
    if (cells == 0) return DH_OK;
    uint64_t *wa = dh__alloc_aligned(bytes_a, 64);
    uint64_t *wb = dh__alloc_aligned(bytes_b, 64);
    dh_status st = (wa && wb) ? DH_OK : DH_E_NO_MEMORY;
    if (st == DH_OK) st = dh__rows_to_words(a, fmt, na, n_bits, wa, fn);
    if (st == DH_OK) st = dh__rows_to_words(b, fmt, nb, n_bits, wb, fn);
    if (st == DH_OK) {
        const dh__kernels *k = dh__hamming_kernels_current();
        long long nal = (long long)na;
#pragma omp parallel for schedule(static) num_threads(dh__num_threads()) if (cells > 65536)
        for (long long i = 0; i < nal; i++)
            k->dist(wa + (size_t)i * n_words, wb, (uint32_t)n_words, nb, out + (size_t)i * nb);
    }
    dh__free_aligned(wa);
    dh__free_aligned(wb);
    return st;
}
